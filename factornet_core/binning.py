"""``factornet bin``: tile chromosomes into 200/50 bp bins and label them from ChIP-seq peaks.

Outputs: a DREAM label TSV (all bins of the chosen chromosomes, one B/A/U column per cell type, see
:mod:`factornet_core.intervals` for the rule) and a bins BED for prediction (blacklisted bins left out).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import intervals
from factornet_core.atomic import OutputSet
from factornet_core.errors import FactorNetError


@dataclass
class PeakFiles:
    """Peaks of one (cell type, TF)."""

    conservative: Path
    relaxed: Path | None = None


@dataclass
class BinResult:
    n_bins: int
    n_blacklisted: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # cell → {"B": n, "A": n, "U": n}


def label_chromosomes(
    chrom_sizes: Mapping[str, int],
    peaks: Mapping[str, PeakFiles],
    chroms: Sequence[str] | None = None,
    blacklist: str | os.PathLike | None = None,
    bin_size: int = intervals.BIN_SIZE,
    stride: int = intervals.BIN_STRIDE,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """Bins of ``chroms`` with labels per cell type and the blacklist mask.

    Returns ``(bins, {cell: int8 codes}, blacklisted (n_bins,) bool)``. Every peak file is checked
    against ``chrom_sizes`` first (naming, ends past the chromosome).
    """
    if chroms is not None:
        missing = [c for c in chroms if c not in chrom_sizes]
        if missing:
            raise intervals.unknown_chromosome(missing[0], chrom_sizes)
    loaded = {}
    for cell, files in peaks.items():
        cons = intervals.read_bed(files.conservative, what="narrowPeak")
        cons = intervals.check_in_genome(cons, chrom_sizes, files.conservative, what="peak")
        rel = None
        if files.relaxed is not None:
            rel = intervals.read_bed(files.relaxed, what="narrowPeak")
            rel = intervals.check_in_genome(rel, chrom_sizes, files.relaxed, what="peak")
        loaded[cell] = (cons, rel)
    black = None
    if blacklist is not None:
        black = intervals.read_bed(blacklist, what="blacklist BED", allow_empty=True)
        black = intervals.check_in_genome(black, chrom_sizes, blacklist, what="blacklist")
    bins = intervals.tile_bins(chrom_sizes, chroms, bin_size, stride)
    if bins.empty:
        raise FactorNetError("no bins: the chosen chromosomes are shorter than one bin")
    labels = {cell: intervals.label_bins(bins, cons, rel) for cell, (cons, rel) in loaded.items()}
    blacklisted = intervals.overlap_mask(bins, black)
    return bins, labels, blacklisted


def run_bin(
    chrom_sizes: Mapping[str, int],
    peaks: Mapping[str, PeakFiles],
    out_labels: str | os.PathLike | None,
    out_bins: str | os.PathLike | None,
    chroms: Sequence[str] | None = None,
    blacklist: str | os.PathLike | None = None,
    bin_size: int = intervals.BIN_SIZE,
    stride: int = intervals.BIN_STRIDE,
) -> BinResult:
    """Label bins and write the label TSV and/or the prediction bins BED (all or nothing)."""
    if out_labels is None and out_bins is None:
        raise FactorNetError("nothing to write: give --out-labels and/or --out-bins")
    if out_labels is not None and not peaks:
        raise FactorNetError(
            "labels need peaks: give a samplesheet with conservative peaks or --conservative"
        )
    bins, labels, blacklisted = label_chromosomes(chrom_sizes, peaks, chroms, blacklist, bin_size, stride)
    with OutputSet() as outs:
        if out_labels is not None:
            intervals.write_labels(outs.path(out_labels), bins, labels)
        if out_bins is not None:
            intervals.write_bed(outs.path(out_bins), bins.loc[~blacklisted])
    counts = {
        cell: {ch: int(np.sum(codes == code)) for code, ch in enumerate(intervals.LABEL_CHARS)}
        for cell, codes in labels.items()
    }
    return BinResult(len(bins), int(blacklisted.sum()), counts)
