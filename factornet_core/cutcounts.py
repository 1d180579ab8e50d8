"""5′ cut sites from alignments and fragment files: read filters, BAM/CRAM and fragment reading, counting.

The definitions of a cut, the filters and their order, and the fragment-file rule are those of
:mod:`factornet_core.prepare` (its module docstring), which normalises and writes the counts made here.
Reads stream per chromosome; the pure counting functions at the bottom are array in, array out.
"""

from __future__ import annotations

import contextlib
import errno
import os
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pysam

from factornet_core import intervals, sidecars, textio
from factornet_core.errors import FactorNetError
from factornet_core.intervals import naming_hint
from factornet_core.wording import plural

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


# --------------------------------------------------------------------------------------------- headers
def check_header(path: str, refs: Mapping[str, int], sizes: Mapping[str, int], what: str = "BAM") -> None:
    """Refuse an alignment/track header that does not match the genome (naming or assembly)."""
    common = [c for c in refs if c in sizes]
    if not common:
        first = next(iter(refs), None)
        if first is None:
            raise FactorNetError(f"{what} {path}: its header lists no reference sequences")
        raise FactorNetError(
            f"{what} {path}: none of its chromosomes is in the genome (first: {first!r})"
            f"{': ' + hint if (hint := naming_hint(first, sizes, 'the genome')) else ''}"
        )
    for chrom in common:
        if refs[chrom] != sizes[chrom]:
            raise FactorNetError(
                f"{what} {path}: {chrom} has length {refs[chrom]}, the genome says {sizes[chrom]}: "
                "aligned to another assembly? Use the genome the reads were aligned to"
            )


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
            # ENOEXEC ("Exec format error") is htslib's way of saying it found no BAM/CRAM header
            what = "not a BAM or CRAM file" if exc.errno == errno.ENOEXEC else str(exc)
            raise FactorNetError(f"cannot read {path} as BAM/CRAM ({what})") from None
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
    indexed: list[dict[str, int]] = []  # per file: records per reference, as its index counts them
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
            indexed.append(stats)
            other = sum(n for c, n in stats.items() if c not in selected)
            dropped["other_chromosome"] += other
            dropped["unmapped"] += unplaced
            report.reads_seen += other + unplaced
        progress.start(list(selected))  # every input checked: from here on only counting
        for chrom, length in selected.items():
            parts = []
            for path, bam, stats in zip(bams, handles, indexed):
                if chrom not in bam.references:
                    continue
                flag, mapq, start, end = _read_arrays(bam, str(path), chrom)
                _check_index_count(str(path), bam, chrom, flag.size, stats.get(chrom, 0))
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
            try:
                bam.close()
            except OSError:  # htslib reports a read error again on close; the first error is the one to show
                pass
    report.cuts_written = report.reads_kept
    report.dropped = {k: int(v) for k, v in dropped.items() if v}


def _check_index_count(path: str, bam: pysam.AlignmentFile, chrom: str, n_read: int, n_indexed: int) -> None:
    """Refuse an index that does not describe the file: the records read on ``chrom`` must be the ones its
    index counts (mapped + placed unmapped). A stale index newer than its BAM (``cp -p``/``rsync -a`` of a
    new BAM beside an old index), or another file's index, otherwise yields a silently wrong track. A CRAM
    index (.crai) keeps no read counts: not checked."""
    if n_read == n_indexed or bam.is_cram:
        return
    name = os.path.basename(path)
    raise FactorNetError(
        f"{path}: its index {bam.index_filename or name + '.bai'!r} does not describe it ({chrom}: the index "
        f"counts {plural(n_indexed, 'read')}, the file holds {n_read}): a stale index or another file's; rebuild it with "
        f"'samtools index {name}'"
    )


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
                if line.startswith("BAM\x01"):  # BGZF opens like gzip: a BAM reads as text starting so
                    raise FactorNetError(
                        f"{path} is a BAM file (alignments), not a fragment file: give it with --bam"
                    )
                if "\x00" in line:
                    raise FactorNetError(f"fragment file {path} is binary, not tab-separated text")
                if line.strip() and not line.startswith("#"):
                    n = len(line.rstrip("\n").split("\t"))
                    if n < 4:
                        raise FactorNetError(
                            f"fragment file {path}: {plural(n, 'column')}, expected at least 4 "
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
            compression="gzip" if textio.is_gzip(path) else None, low_memory=False,
        )  # fmt: skip
        for chunk in reader:
            if chunk.shape[1] < 4:
                raise FactorNetError(
                    f"fragment file {path}: {plural(chunk.shape[1], 'column')}, expected at least 4 "
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
    except (*textio.GZIP_ERRORS, OSError) as exc:
        raise FactorNetError(f"fragment file {path}: damaged or truncated ({exc})") from None


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
