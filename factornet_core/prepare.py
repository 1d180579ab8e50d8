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

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig

from factornet_core import __version__, intervals, normalize
from factornet_core.atomic import OutputSet
from factornet_core.cutcounts import (  # noqa: F401  (re-exported: the counting API stays importable from prepare)
    ASSAY_SHIFTS,
    FLAG_REASONS,
    REASON_HINTS,
    ReadFilters,
    _check_fragment_columns,
    _count_bams,
    _count_fragments,
    check_header,
    count_positions,
    drop_in_regions,
    fragment_cuts,
    merge_counts,
    naming_hint,
    open_alignments,
    quiet_htslib,
    read_barcodes,
    read_cuts,
    value_distribution,
)
from factornet_core.errors import FactorNetError
from factornet_core.wording import some

#: Why a fragment file's cuts get no shift, whatever --assay says (10x/ArchR fragments are Tn5-corrected).
FRAGMENT_SHIFT_NOTE = "fragment ends are taken as Tn5-corrected already: no shift applied"


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
    shift_note: str | None
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
    filters: ReadFilters = ReadFilters(),  # noqa: B008  (frozen dataclass: immutable)
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
    _check_options(bams, fragments, bigwig, assay, shift, filters, barcodes, blacklist)
    sizes = _chrom_sizes(genome, chrom_sizes)
    selected = _select(sizes, chroms)
    source, shift = _source_and_shift(bams, fragments, assay, shift)
    report = PrepareReport(
        output=str(out), source=source, inputs=[str(p) for p in (bams or [fragments or bigwig])],
        assay=assay if source != "bigwig" else None, shift=shift,
        shift_note=FRAGMENT_SHIFT_NOTE if source == "fragments" else None,
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
        norm = _normalise(spill, rule, effective_genome_size, percentile, report)
        if peak_cov is not None:
            _signal_in_peaks(spill, selected, peak_cov, norm, report)
        _write_outputs(out, selected, spill, norm, report)
    return report


def _check_options(bams, fragments, bigwig, assay, shift, filters, barcodes, blacklist) -> None:
    """Exactly one source, and only the options that apply to it."""
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


def _source_and_shift(bams, fragments, assay: str, shift) -> tuple[str, tuple[int, int] | None]:
    """``("bam" | "fragments" | "bigwig", the cut shift)``: the assay's shift unless one is given for BAMs;
    fragments are shifted already (:data:`FRAGMENT_SHIFT_NOTE`); a bigWig has no cuts."""
    if bams:
        return "bam", shift if shift is not None else ASSAY_SHIFTS[assay]
    if fragments is not None:
        return "fragments", (0, 0)
    return "bigwig", None


def _normalise(
    spill: _Spill, rule: str, effective_genome_size: int | None, percentile: float, report: PrepareReport
) -> normalize.Normalization:
    """The normalisation over every chromosome's values (recorded in ``report``), checked to fit float32."""
    values, weights = spill.distribution()
    norm = normalize.scale_factor(rule, values, weights, effective_genome_size, percentile)
    report.normalization = norm.as_dict()
    _check_float32_range(values, norm, rule)
    return norm


def _signal_in_peaks(
    spill: _Spill,
    selected: Mapping[str, int],
    peak_cov: dict,
    norm: normalize.Normalization,
    report: PrepareReport,
) -> None:
    """Record the raw signal inside the peaks and its fraction of the total (FRiP) in ``report``."""
    inside = sum(spill.in_regions(c, peak_cov.get(c)) for c in selected)
    report.signal_in_peaks = float(inside)
    report.frip = float(inside / norm.total_signal) if norm.total_signal > 0 else 0.0


def _write_outputs(
    out, selected: Mapping[str, int], spill: _Spill, norm: normalize.Normalization, report: PrepareReport
) -> None:
    """The scaled bigWig and ``OUT.qc.json``, both or neither."""
    with OutputSet() as outs:
        tmp_bw = outs.path(out)
        tmp_qc = outs.path(f"{out}.qc.json")
        _write_bigwig(tmp_bw, selected, spill, norm)
        tmp_qc.write_text(report.to_json())


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
            f"--chroms: {unknown[0]!r} is not in the genome"
            f"{': ' + hint if (hint := naming_hint(unknown[0], sizes, 'the genome')) else ''} "
            f"(it has {some(sizes)})"
        )
    wanted = set(chroms)
    return {c: n for c, n in sizes.items() if c in wanted}


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


def _nothing_left(report: PrepareReport) -> str:
    if not report.dropped:
        return f"no read in {', '.join(report.inputs)} lies on the chromosomes written ({report.reads_seen} seen)"
    reason, n = max(report.dropped.items(), key=lambda kv: kv[1])
    return (
        f"no read left after filtering: {report.reads_seen} seen, {n} removed as {reason} "
        f"({REASON_HINTS.get(reason, '')}); all drops: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report.dropped.items(), key=lambda kv: -kv[1]))
    )


# --------------------------------------------------------------------------------------------- bigWig in
def _read_bigwig(path, sizes, selected, spill, report, progress) -> None:
    from factornet_core.tracks import open_bigwig

    bw = open_bigwig(path, "--bigwig")
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
