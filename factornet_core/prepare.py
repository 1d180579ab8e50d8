"""From alignments to the model's input: 5′ cut-site counts of DNase-seq/ATAC-seq as a normalised bigWig.

The recipe is the paper's (Methods, "Features and data pre-processing"): reads of all replicates trimmed
to their 5′ nucleotide, pooled, and normalised to 1× coverage. Definitions:

* **cut** — one per read that passes the filters, at its 5′ end: a forward-strand read at its first
  aligned base (``reference_start``), a reverse-strand read at its last aligned base
  (``reference_end - 1``); soft clips are not aligned bases, so they never move a cut. Each mate of a
  pair is a read and gives its own cut. ``--assay atac`` adds the Tn5 shift (+4 forward, −5 reverse).
* **filters** (SAM spec §1.4 flags), checked in this order and counted under the first that applies:
  unmapped (0x4), secondary (0x100), supplementary (0x800), QC fail (0x200), duplicate (0x400),
  MAPQ below the minimum, not a proper pair (0x2, with ``proper_pairs``), a second read with the same
  5′ position and strand (``dedup``), a cut off the chromosome after the shift, a cut in the blacklist.
* **fragment files** (10x / ArchR ``chrom start end barcode [count]``, Tn5-corrected already): a cut at
  ``start`` and one at ``end - 1`` per fragment (the count column — PCR duplicates — is ignored).

Work streams per chromosome: pass 1 counts cuts into sparse ``(position, count)`` arrays spilled to a
temporary folder, the normalisation (:mod:`factornet_core.normalize`) is computed from all chromosomes,
pass 2 writes the scaled bigWig. Memory is bounded by one chromosome's reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pysam

from factornet_core import __version__, intervals, normalize, sidecars
from factornet_core.atomic import OutputSet
from factornet_core.errors import FactorNetError

ASSAY_SHIFTS = {"dnase": (0, 0), "atac": (4, -5)}
# SAM flag bits (SAM spec §1.4)
PAIRED, PROPER_PAIR, UNMAPPED, REVERSE = 0x1, 0x2, 0x4, 0x10
SECONDARY, QC_FAIL, DUPLICATE, SUPPLEMENTARY = 0x100, 0x200, 0x400, 0x800
# drop reasons, in the order they are tested
FLAG_REASONS = (
    ("unmapped", UNMAPPED),
    ("secondary", SECONDARY),
    ("supplementary", SUPPLEMENTARY),
    ("qc_fail", QC_FAIL),
    ("duplicate", DUPLICATE),
)
REASON_HINTS = {
    "unmapped": "the reads are unmapped",
    "secondary": "they are secondary alignments",
    "supplementary": "they are supplementary alignments",
    "qc_fail": "they are flagged QC-fail (0x200)",
    "duplicate": "they are flagged duplicates (0x400)",
    "low_mapq": "lower --min-mapq",
    "not_proper_pair": "drop --proper-pairs",
    "dedup": "drop --dedup",
    "blacklist": "check --blacklist",
    "off_chromosome": "check --shift",
    "other_chromosome": "check --chroms and the chromosome names",
    "barcode": "check --barcodes against the fragment file's barcodes",
}
PAIRED_CHECK_READS = 10_000
FRAGMENT_CHUNK = 2_000_000


@dataclass(frozen=True)
class ReadFilters:
    """Which reads make cuts (see the module docstring for the order of the filters)."""

    min_mapq: int = 30
    dedup: bool = False
    proper_pairs: bool = False


@dataclass
class PrepareReport:
    """What :func:`prepare_track` did; written as ``OUT.qc.json``.

    For BAM/CRAM input a read is a cut, so ``reads_kept == cuts_written``. For fragment files the
    unit is the cut (two per fragment): ``reads_seen`` counts cuts, ``fragments_seen`` fragments.
    """

    output: str
    source: str
    inputs: list[str]
    assay: str | None
    shift: tuple[int, int] | None
    filters: dict | None
    chromosomes: list[str]
    reads_seen: int = 0
    reads_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    cuts_written: int = 0
    fragments_seen: int | None = None
    normalization: dict = field(default_factory=dict)
    effective_genome_size_source: str | None = None
    peaks: str | None = None
    frip: float | None = None
    signal_in_peaks: float | None = None
    version: str = __version__

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, indent=2) + "\n"


class Progress:
    """Hooks for a progress display over chromosomes (the library never prints)."""

    def start(self, chroms: Sequence[str]) -> None: ...

    def advance(self, chrom: str) -> None: ...

    def finish(self) -> None: ...


# --------------------------------------------------------------------------------------------- entry point
def prepare_track(
    out: str | os.PathLike,
    *,
    bams: Sequence[str | os.PathLike] = (),
    fragments: str | os.PathLike | None = None,
    bigwig: str | os.PathLike | None = None,
    genome: str | os.PathLike | None = None,
    chrom_sizes: Mapping[str, int] | None = None,
    chroms: Sequence[str] | None = None,
    assay: str = "dnase",
    shift: tuple[int, int] | None = None,
    filters: ReadFilters = ReadFilters(),
    barcodes: str | os.PathLike | None = None,
    blacklist: str | os.PathLike | None = None,
    peaks: str | os.PathLike | None = None,
    rule: str = "1x",
    effective_genome_size: int | None = None,
    percentile: float = normalize.DEFAULT_PERCENTILE,
    progress: Progress | None = None,
) -> PrepareReport:
    """Write a single-base bigWig of normalised 5′ cut counts (and ``OUT.qc.json`` beside it).

    Exactly one source: ``bams`` (pooled replicates, BAM or CRAM, coordinate-sorted; an index is made
    in a temporary folder when missing), ``fragments`` (10x/ArchR fragment file) or ``bigwig`` (an
    existing track to re-normalise). Chromosome names and lengths come from ``genome`` (FASTA, also the
    CRAM reference and the source of the default effective genome size: its non-N bases) or
    ``chrom_sizes``; ``chroms`` restricts them (genome order is kept).

    Returns the :class:`PrepareReport`. Raises :class:`FactorNetError` on bad input, before any output
    exists; on failure nothing is left behind.
    """
    progress = progress or Progress()
    rule = normalize.check_rule(rule)
    n_sources = bool(bams) + (fragments is not None) + (bigwig is not None)
    if n_sources != 1:
        raise FactorNetError("give exactly one input: --bam (one or more), --fragments or --bigwig")
    if assay not in ASSAY_SHIFTS:
        raise FactorNetError(f"--assay must be one of {', '.join(ASSAY_SHIFTS)}, got {assay!r}")
    if barcodes is not None and fragments is None:
        raise FactorNetError("--barcodes applies to --fragments only")
    if bigwig is not None and blacklist is not None:
        raise FactorNetError("--blacklist drops cuts of reads: it does not apply to --bigwig")
    if fragments is not None and shift is not None:
        raise FactorNetError(
            "fragment files are Tn5-corrected already: --shift does not apply to --fragments"
        )
    if filters.min_mapq < 0:
        raise FactorNetError(f"--min-mapq must be ≥ 0, got {filters.min_mapq}")
    sizes = _chrom_sizes(genome, chrom_sizes)
    selected = _select(sizes, chroms)
    if bams:
        source, shift = "bam", shift if shift is not None else ASSAY_SHIFTS[assay]
    elif fragments is not None:
        source, shift = "fragments", (0, 0)
    else:
        source, shift = "bigwig", None
    report = PrepareReport(
        output=str(out), source=source, inputs=[str(p) for p in (bams or [fragments or bigwig])],
        assay=assay if source == "bam" else None, shift=shift,
        filters=asdict(filters) if source == "bam" else None, chromosomes=list(selected),
    )  # fmt: skip
    black = intervals.coverages(_read_regions(blacklist, sizes, "blacklist")) if blacklist else {}
    peak_cov = intervals.coverages(_read_regions(peaks, sizes, "peaks")) if peaks else None
    report.peaks = str(peaks) if peaks else None
    if rule == "1x" and effective_genome_size is None:
        effective_genome_size, report.effective_genome_size_source = _default_egs(genome, selected)
    elif rule == "1x":
        report.effective_genome_size_source = "--effective-genome-size"

    with tempfile.TemporaryDirectory(prefix="factornet-prepare-") as tmp:
        spill = _Spill(Path(tmp))
        try:
            if source == "bam":
                _count_bams(
                    bams, genome, sizes, selected, shift, filters, black, spill, report, progress, tmp
                )
            elif source == "fragments":
                _check_fragment_columns(fragments)
                progress.start(list(selected))
                _count_fragments(fragments, barcodes, selected, black, spill, report, progress)
            else:
                progress.start(list(selected))
                _read_bigwig(bigwig, sizes, selected, spill, report, progress)
        finally:
            progress.finish()
        if source != "bigwig" and report.reads_kept == 0:
            raise FactorNetError(_nothing_left(report))
        values, weights = spill.distribution()
        norm = normalize.scale_factor(rule, values, weights, effective_genome_size, percentile)
        report.normalization = norm.as_dict()
        _check_float32_range(values, norm, rule)
        if peak_cov is not None:
            inside = sum(spill.in_regions(c, peak_cov.get(c)) for c in selected)
            report.signal_in_peaks = float(inside)
            report.frip = float(inside / norm.total_signal) if norm.total_signal > 0 else 0.0
        with OutputSet() as outs:
            tmp_bw = outs.path(out)
            tmp_qc = outs.path(f"{out}.qc.json")
            _write_bigwig(tmp_bw, selected, spill, norm)
            tmp_qc.write_text(report.to_json())
    return report


# --------------------------------------------------------------------------------------------- chromosomes
def _chrom_sizes(genome, chrom_sizes) -> dict[str, int]:
    if (genome is None) == (chrom_sizes is None):
        raise FactorNetError("give the chromosome names and lengths: --genome FASTA or --chrom-sizes FILE")
    if genome is not None:
        from factornet_core.genome import Genome

        with Genome(genome) as g:
            return dict(g.chrom_sizes)
    return dict(chrom_sizes)


def _select(sizes: Mapping[str, int], chroms: Sequence[str] | None) -> dict[str, int]:
    if chroms is None:
        return dict(sizes)
    unknown = [c for c in chroms if c not in sizes]
    if unknown:
        raise FactorNetError(
            f"--chroms: {unknown[0]!r} is not in the genome{naming_hint(unknown[0], sizes)} "
            f"(it has {', '.join(list(sizes)[:5])}{', ...' if len(sizes) > 5 else ''})"
        )
    wanted = set(chroms)
    return {c: n for c, n in sizes.items() if c in wanted}


def naming_hint(chrom: str, known: Mapping[str, int] | Sequence[str]) -> str:
    """Explain the chr1-vs-1 trap when that is what happened ('' otherwise)."""
    alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
    if alt in known:
        return f"; the genome has {alt!r}: the files use different chromosome naming (UCSC 'chr1' vs Ensembl '1')"
    return ""


def check_header(path: str, refs: Mapping[str, int], sizes: Mapping[str, int], what: str = "BAM") -> None:
    """Refuse an alignment/track header that does not match the genome (naming or assembly)."""
    common = [c for c in refs if c in sizes]
    if not common:
        first = next(iter(refs), None)
        if first is None:
            raise FactorNetError(f"{what} {path}: its header lists no reference sequences")
        raise FactorNetError(
            f"{what} {path}: none of its chromosomes is in the genome (first: {first!r}){naming_hint(first, sizes)}"
        )
    for chrom in common:
        if refs[chrom] != sizes[chrom]:
            raise FactorNetError(
                f"{what} {path}: {chrom} has length {refs[chrom]}, the genome says {sizes[chrom]}: "
                "aligned to another assembly? Use the genome the reads were aligned to"
            )


def _default_egs(genome, selected: Mapping[str, int]) -> tuple[int, str]:
    """Effective genome size: non-N bases of the chromosomes written (their length without a FASTA)."""
    if genome is None:
        return int(sum(selected.values())), "length of the chromosomes written (no FASTA given)"
    from factornet_core.genome import N_CODE, Genome

    total = 0
    step = 10_000_000
    with Genome(genome) as g:
        for chrom, size in selected.items():
            for lo in range(0, size, step):
                total += int(np.count_nonzero(g.codes(chrom, lo, min(lo + step, size)) != N_CODE))
    if total == 0:
        raise FactorNetError("the chromosomes written contain only N: give --effective-genome-size")
    return total, "non-N bases of the chromosomes written"


def _read_regions(path, sizes: Mapping[str, int], what: str) -> pd.DataFrame:
    df = intervals.read_bed(path, what=what)
    return intervals.check_in_genome(df, sizes, path, what=what)


# --------------------------------------------------------------------------------------------- BAM / CRAM
@contextlib.contextmanager
def quiet_htslib() -> Iterator[None]:
    """Silence htslib's own log lines (``[E::hts_idx_push] ...``): errors reach the user as one line."""
    old = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(old)


def _is_cram(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"CRAM"


def open_alignments(path: str, genome: str | None, index_dir: str) -> pysam.AlignmentFile:
    """Open a BAM/CRAM for region queries: truncated, unsorted or reference-less files become errors.

    A missing index, or one older than the file, is built into ``index_dir`` (never beside the input,
    which may be read-only; the user's stale index is left alone and unused).
    """
    if not os.path.isfile(path):
        raise FactorNetError(f"alignment file {path!r} does not exist")
    cram = _is_cram(path)
    if cram and genome is None:
        raise FactorNetError(
            f"{path} is CRAM: give its reference with --genome FASTA (--chrom-sizes is not enough to decode it)"
        )
    kwargs = {"reference_filename": str(genome)} if cram else {}
    with quiet_htslib():
        try:
            bam = pysam.AlignmentFile(path, "rc" if cram else "rb", **kwargs)
        except OSError as exc:
            if "EOF" in str(exc) or "truncated" in str(exc):
                raise FactorNetError(
                    f"{path} is truncated (no BGZF end-of-file marker): the copy is incomplete; download or write it again"
                ) from None
            raise FactorNetError(f"cannot read {path} as BAM/CRAM: {exc}") from None
        except ValueError as exc:
            raise FactorNetError(f"cannot read {path} as BAM/CRAM: {exc}") from None
        order = bam.header.to_dict().get("HD", {}).get("SO")
        if order in ("unsorted", "queryname"):
            bam.close()
            raise FactorNetError(f"{path} is not coordinate-sorted (header SO:{order}): {_sort_hint(path)}")
        if bam.has_index() and sidecars.stale_alignment_index(path) is None:
            return bam
        bam.close()  # no index, or one older than the file (htslib would read the new file at old offsets)
        index = os.path.join(index_dir, f"{len(os.listdir(index_dir))}.{'crai' if cram else 'bai'}")
        try:
            pysam.index(path, index)
        except pysam.SamtoolsError:
            raise FactorNetError(
                f"{path} has no index and cannot be indexed (it is not coordinate-sorted?): {_sort_hint(path)}"
            ) from None
        return pysam.AlignmentFile(path, "rc" if cram else "rb", index_filename=index, **kwargs)


def _sort_hint(path: str) -> str:
    name = os.path.basename(path)
    return f"run 'samtools sort -o sorted.bam {name} && samtools index sorted.bam'"


def _count_bams(bams, genome, sizes, selected, shift, filters, black, spill, report, progress, tmp) -> None:
    index_dir = os.path.join(tmp, "index")
    os.mkdir(index_dir)
    handles: list[pysam.AlignmentFile] = []
    dropped: Counter[str] = Counter()
    try:
        handles += [open_alignments(str(p), genome, index_dir) for p in bams]
        for path, bam in zip(bams, handles):
            refs = dict(zip(bam.references, bam.lengths))
            check_header(str(path), refs, sizes, what="CRAM" if bam.is_cram else "BAM")
            if filters.proper_pairs and not _has_paired_reads(bam):
                raise FactorNetError(
                    f"--proper-pairs needs paired-end reads, but {path} is single-end (no read of the first "
                    f"{PAIRED_CHECK_READS} has the paired flag 0x1): drop --proper-pairs"
                )
            # reads the per-chromosome pass never sees: other references and unplaced unmapped reads
            with quiet_htslib():
                stats = {s.contig: s.total for s in bam.get_index_statistics()}
                unplaced = bam.nocoordinate
            other = sum(n for c, n in stats.items() if c not in selected)
            dropped["other_chromosome"] += other
            dropped["unmapped"] += unplaced
            report.reads_seen += other + unplaced
        progress.start(list(selected))  # every input checked: from here on only counting
        for chrom, length in selected.items():
            parts = []
            for path, bam in zip(bams, handles):
                if chrom not in bam.references:
                    continue
                flag, mapq, start, end = _read_arrays(bam, str(path), chrom)
                report.reads_seen += flag.size
                pos, why = read_cuts(flag, mapq, start, end, length, shift, filters)
                pos, n_black = drop_in_regions(pos, black.get(chrom))
                for reason, n in why.items():
                    dropped[reason] += n
                dropped["blacklist"] += n_black
                parts.append(pos)
            positions, counts = count_positions(np.concatenate(parts) if parts else np.zeros(0, np.int64))
            spill.put(chrom, positions, positions + 1, counts)
            report.reads_kept += int(counts.sum())
            progress.advance(chrom)
    finally:
        for bam in handles:
            bam.close()
    report.cuts_written = report.reads_kept
    report.dropped = {k: int(v) for k, v in dropped.items() if v}


def _has_paired_reads(bam: pysam.AlignmentFile) -> bool:
    with quiet_htslib():
        return any(read.flag & PAIRED for read in bam.head(PAIRED_CHECK_READS))


def _read_arrays(bam: pysam.AlignmentFile, path: str, chrom: str) -> tuple[np.ndarray, ...]:
    """``(flag, mapq, start, end)`` of every record on ``chrom`` (end −1 where undefined)."""
    flags, mapqs, starts, ends = array("l"), array("l"), array("q"), array("q")
    fa, ma, sa, ea = flags.append, mapqs.append, starts.append, ends.append
    try:
        with quiet_htslib():
            for read in bam.fetch(chrom):
                fa(read.flag)
                ma(read.mapping_quality)
                sa(read.reference_start)
                e = read.reference_end
                ea(-1 if e is None else e)
    except OSError as exc:
        raise FactorNetError(f"{path}: cannot read {chrom}: {exc} (a damaged or truncated file?)") from None
    start = np.frombuffer(starts, dtype=np.int64)
    if start.size > 1 and (np.diff(start) < 0).any():
        k = int(np.flatnonzero(np.diff(start) < 0)[0])
        raise FactorNetError(
            f"{path} is not coordinate-sorted ({chrom}:{start[k] + 1} is followed by {chrom}:{start[k + 1] + 1}): "
            f"{_sort_hint(path)}"
        )
    as_int = np.dtype(f"i{flags.itemsize}")
    return (
        np.frombuffer(flags, dtype=as_int).astype(np.int64),
        np.frombuffer(mapqs, dtype=as_int).astype(np.int64),
        start,
        np.frombuffer(ends, dtype=np.int64),
    )


def _nothing_left(report: PrepareReport) -> str:
    if not report.dropped:
        return f"no read in {', '.join(report.inputs)} lies on the chromosomes written ({report.reads_seen} seen)"
    reason, n = max(report.dropped.items(), key=lambda kv: kv[1])
    return (
        f"no read left after filtering: {report.reads_seen} seen, {n} removed as {reason} "
        f"({REASON_HINTS.get(reason, '')}); all drops: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report.dropped.items(), key=lambda kv: -kv[1]))
    )


# --------------------------------------------------------------------------------------------- fragments
def read_barcodes(path) -> set[str]:
    """Barcodes to keep, one a line (first column; 10x ``barcodes.tsv(.gz)`` works)."""
    codes = {ln.split()[0] for ln in intervals.read_text_lines(path) if ln.strip() and not ln.startswith("#")}
    if not codes:
        raise FactorNetError(f"--barcodes {path}: no barcodes in the file")
    return codes


def _count_fragments(path, barcodes, selected, black, spill, report, progress) -> None:
    keep = read_barcodes(barcodes) if barcodes is not None else None
    acc: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {c: [] for c in selected}
    dropped: Counter[str] = Counter()
    n_fragments = 0
    for chunk in _fragment_chunks(path):
        n_fragments += len(chunk)
        report.reads_seen += 2 * len(chunk)
        if keep is not None:
            ok = chunk["barcode"].isin(keep).to_numpy()
            dropped["barcode"] += 2 * int((~ok).sum())
            chunk = chunk[ok]
        on = chunk["chrom"].isin(selected).to_numpy()
        dropped["other_chromosome"] += 2 * int((~on).sum())
        for chrom, g in chunk[on].groupby("chrom", sort=False):
            pos, n_off = fragment_cuts(g["start"].to_numpy(), g["end"].to_numpy(), selected[chrom])
            dropped["off_chromosome"] += n_off
            pos, n_black = drop_in_regions(pos, black.get(chrom))
            dropped["blacklist"] += n_black
            acc[chrom].append(count_positions(pos))
    report.fragments_seen = n_fragments
    for chrom in selected:
        parts = acc.pop(chrom)
        if parts:
            positions, counts = merge_counts([p for p, _ in parts], [c for _, c in parts])
        else:
            positions, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
        spill.put(chrom, positions, positions + 1, counts)
        report.reads_kept += int(counts.sum())
        progress.advance(chrom)
    report.cuts_written = report.reads_kept
    report.dropped = {k: int(v) for k, v in dropped.items() if v}


def _check_fragment_columns(path) -> None:
    """Refuse a fragment file whose first record has fewer than 4 columns (before any work)."""
    if not os.path.isfile(path):
        raise FactorNetError(f"fragment file {str(path)!r} does not exist")
    try:
        with intervals.open_text(path) as handle:
            for line in handle:
                if line.strip() and not line.startswith("#"):
                    n = len(line.rstrip("\n").split("\t"))
                    if n < 4:
                        raise FactorNetError(
                            f"fragment file {path}: {n} column(s), expected at least 4 "
                            "(chrom, start, end, barcode[, count]) tab-separated"
                        )
                    return
    except (EOFError, OSError) as exc:
        raise FactorNetError(f"fragment file {path}: damaged or truncated ({exc})") from None
    raise FactorNetError(f"fragment file {path} is empty")


def _fragment_chunks(path) -> Iterator[pd.DataFrame]:
    """The fragment file in chunks of ``chrom, start, end, barcode`` (``#`` lines skipped)."""
    if not os.path.isfile(path):
        raise FactorNetError(f"fragment file {str(path)!r} does not exist")
    try:
        reader = pd.read_csv(
            path, sep="\t", header=None, comment="#", dtype={0: str, 3: str}, chunksize=FRAGMENT_CHUNK,
            compression="infer", low_memory=False,
        )  # fmt: skip
        for chunk in reader:
            if chunk.shape[1] < 4:
                raise FactorNetError(
                    f"fragment file {path}: {chunk.shape[1]} column(s), expected at least 4 "
                    "(chrom, start, end, barcode[, count]) tab-separated"
                )
            chunk = chunk.iloc[:, :4]
            chunk.columns = ["chrom", "start", "end", "barcode"]
            if not (
                pd.api.types.is_integer_dtype(chunk["start"]) and pd.api.types.is_integer_dtype(chunk["end"])
            ):
                raise FactorNetError(f"fragment file {path}: start/end (columns 2-3) must be integers")
            if ((chunk["end"] <= chunk["start"]) | (chunk["start"] < 0)).any():
                raise FactorNetError(f"fragment file {path}: a fragment has end ≤ start or start < 0")
            yield chunk
    except pd.errors.EmptyDataError:
        raise FactorNetError(f"fragment file {path} is empty") from None
    except pd.errors.ParserError as exc:
        raise FactorNetError(f"fragment file {path}: cannot parse ({str(exc).strip()[:120]})") from None
    except (EOFError, OSError) as exc:
        raise FactorNetError(f"fragment file {path}: damaged or truncated ({exc})") from None


# --------------------------------------------------------------------------------------------- bigWig in
def _read_bigwig(path, sizes, selected, spill, report, progress) -> None:
    from factornet_core.tracks import open_bigwig

    bw = open_bigwig(path)
    try:
        refs = bw.chroms()
        check_header(str(path), refs, sizes, what="bigWig")
        for chrom in selected:
            runs = bw.intervals(chrom) if chrom in refs else None
            if runs:
                arr = np.asarray(runs, dtype=np.float64)
                s, e, v = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]
                v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
                keep = v != 0
                spill.put(chrom, s[keep], e[keep], v[keep])
            else:
                spill.put(chrom, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
            progress.advance(chrom)
    finally:
        bw.close()


# --------------------------------------------------------------------------------------------- spill + write
class _Spill:
    """Per-chromosome sparse runs ``(starts, ends, values)`` on disk, plus the global value distribution."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._index: dict[str, int] = {}
        self._values = np.zeros(0)
        self._weights = np.zeros(0)

    def put(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        idx = self._index[chrom] = len(self._index)
        np.savez(self.folder / f"{idx}.npz", starts=starts, ends=ends, values=values)
        v, w = value_distribution(values, ends - starts)
        self._values, self._weights = merge_counts([self._values, v], [self._weights, w], dtype=np.float64)

    def get(self, chrom: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.load(self.folder / f"{self._index[chrom]}.npz") as data:
            return data["starts"], data["ends"], data["values"]

    def distribution(self) -> tuple[np.ndarray, np.ndarray]:
        return self._values, self._weights

    def in_regions(self, chrom: str, cov: intervals.Coverage | None) -> float:
        if cov is None:
            return 0.0
        s, e, v = self.get(chrom)
        return float(np.dot(v.astype(np.float64), cov.overlap(s, e)))


#: bigWig stores float32, which holds every integer only up to 2**24.
FLOAT32_EXACT_INT = 2**24


def _check_float32_range(values: np.ndarray, norm: normalize.Normalization, rule: str) -> None:
    """Refuse, before writing, a track whose largest value float32 (bigWig's value type) cannot hold
    exactly: counts beyond 2**24 would be rounded silently (16 777 217 → 16 777 216)."""
    if values.size == 0:
        return
    top = float(np.max(np.asarray(values, dtype=np.float64)) * norm.scale)
    if norm.clip is not None:
        top = min(top, norm.clip)
    if top > FLOAT32_EXACT_INT:
        raise FactorNetError(
            f"the largest value of the track after --normalize {rule} is {top:.0f}, above {FLOAT32_EXACT_INT} "
            "(the largest integer a bigWig's float32 holds exactly): use --normalize 1x"
        )


def _write_bigwig(
    path: Path, selected: Mapping[str, int], spill: _Spill, norm: normalize.Normalization
) -> None:
    bw = pyBigWig.open(str(path), "w")
    try:
        bw.addHeader([(c, int(n)) for c, n in selected.items()], maxZooms=10)
        for chrom in selected:
            s, e, v = spill.get(chrom)
            if s.size:
                bw.addEntries(
                    [chrom] * s.size, s.tolist(), ends=e.tolist(), values=normalize.apply(v, norm).tolist()
                )
    finally:
        bw.close()


# --------------------------------------------------------------------------------------------- pure counting
def read_cuts(
    flag: np.ndarray,
    mapq: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    length: int,
    shift: tuple[int, int] = (0, 0),
    filters: ReadFilters = ReadFilters(),
) -> tuple[np.ndarray, dict[str, int]]:
    """Filter reads of one chromosome and return their 5′ cut positions.

    Parameters
    ----------
    flag, mapq, start, end : ``(n,) int64`` SAM flag, MAPQ, 0-based first aligned base and exclusive
        end of the aligned part (soft clips excluded, as pysam's ``reference_start``/``reference_end``).
    length : the chromosome length (bp); cuts shifted outside ``[0, length)`` are dropped.
    shift : ``(plus, minus)`` bp added to forward / reverse cuts (ATAC: ``(4, -5)``).

    Returns
    -------
    positions : ``(k,) int64`` 0-based cut positions, in read order.
    dropped : reason → number of reads (reasons as in :data:`REASON_HINTS`).
    """
    flag = np.asarray(flag, dtype=np.int64)
    keep = np.ones(flag.size, dtype=bool)
    dropped: dict[str, int] = {}

    def drop(reason: str, mask: np.ndarray) -> None:
        hit = keep & mask
        dropped[reason] = int(hit.sum())
        keep[hit] = False

    for reason, bit in FLAG_REASONS:
        drop(reason, (flag & bit) != 0)
    drop("low_mapq", np.asarray(mapq) < filters.min_mapq)
    if filters.proper_pairs:
        drop("not_proper_pair", (flag & PROPER_PAIR) == 0)
    reverse = (flag & REVERSE) != 0
    five = np.where(reverse, np.asarray(end) - 1, np.asarray(start)).astype(np.int64)
    if filters.dedup:
        dup = np.zeros(flag.size, dtype=bool)
        idx = np.flatnonzero(keep)
        key = five[idx] * 2 + reverse[idx]
        _, first = np.unique(key, return_index=True)
        dup[idx] = True
        dup[idx[first]] = False
        drop("dedup", dup)
    cuts = five + np.where(reverse, shift[1], shift[0])
    drop("off_chromosome", (cuts < 0) | (cuts >= length))
    return cuts[keep], {k: v for k, v in dropped.items() if v}


def fragment_cuts(start: np.ndarray, end: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """Cuts of fragments ``[start, end)``: ``start`` and ``end - 1`` each; returns ``(positions, n_off)``
    where ``n_off`` cuts fell outside ``[0, length)`` and were dropped."""
    pos = np.concatenate([np.asarray(start, np.int64), np.asarray(end, np.int64) - 1])
    ok = (pos >= 0) & (pos < length)
    return pos[ok], int((~ok).sum())


def drop_in_regions(positions: np.ndarray, cov: intervals.Coverage | None) -> tuple[np.ndarray, int]:
    """Remove positions inside the regions of ``cov``; returns ``(kept positions, n dropped)``."""
    if cov is None or positions.size == 0:
        return positions, 0
    inside = cov.overlap(positions, positions + 1) > 0
    return positions[~inside], int(inside.sum())


def count_positions(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut positions → sorted unique positions ``(k,) int64`` and their counts ``(k,) int64``."""
    pos, counts = np.unique(np.asarray(positions, dtype=np.int64), return_counts=True)
    return pos, counts.astype(np.int64)


def merge_counts(
    positions: Sequence[np.ndarray], counts: Sequence[np.ndarray], dtype=np.int64
) -> tuple[np.ndarray, np.ndarray]:
    """Sum sparse ``(position, count)`` arrays: sorted unique keys and their summed counts."""
    pos = np.concatenate([np.asarray(p) for p in positions]) if positions else np.zeros(0)
    cnt = np.concatenate([np.asarray(c, dtype=dtype) for c in counts]) if counts else np.zeros(0, dtype)
    keys, inv = np.unique(pos, return_inverse=True)
    return keys, np.bincount(inv.ravel(), weights=cnt, minlength=keys.size).astype(dtype)


def value_distribution(values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of ``values`` with ``lengths`` bp → distinct values and the bases holding each (float64)."""
    v, inv = np.unique(np.asarray(values, dtype=np.float64), return_inverse=True)
    return v, np.bincount(inv.ravel(), weights=np.asarray(lengths, np.float64), minlength=v.size)
