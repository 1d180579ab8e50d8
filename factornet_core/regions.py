"""Regions to interpret: BED intervals or narrowPeak peaks, each with a centre.

``interpret motifs`` and ``interpret saliency`` both look at model-input windows centred on regions:
the region's midpoint for BED, the summit for narrowPeak (column 10, when given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from factornet_core import intervals
from factornet_core.errors import FactorNetError


@dataclass
class Regions:
    """Regions to interpret: ``chrom, start, end, name, centre`` (centre = summit for narrowPeak)."""

    table: pd.DataFrame
    path: str


def read_regions(path: str | os.PathLike, peaks: bool = False) -> Regions:
    """BED regions (centre = midpoint) or narrowPeak peaks (centre = start + summit when given).

    narrowPeak rows are ordered by ``signalValue`` (column 7), strongest first, so ``--max-regions``
    keeps the strongest peaks; BED rows keep file order. A region given twice is refused.
    """
    what = "narrowPeak" if peaks else "regions BED"
    read = intervals.read_narrowpeak if peaks else intervals.read_bed
    df = read(path, what=what, allow_empty=True)
    if df.empty:
        raise FactorNetError(f"{path}: no regions in the {what} file: give at least one interval")
    # a repeated region would add its sites to the motif counts twice / write its saliency twice
    intervals.refuse_duplicate_bins(df, path, "region")
    centre = ((df["start"] + df["end"]) // 2).to_numpy()
    if not peaks:
        return Regions(df.assign(centre=centre), str(path))
    summit = df["summit"].to_numpy()
    ok = np.isfinite(summit) & (summit >= 0)  # -1 or absent: no summit, use the midpoint
    centre = np.where(ok, df["start"].to_numpy() + np.where(ok, summit, 0).astype(np.int64), centre)
    df = df.assign(centre=centre, _signal=np.nan_to_num(df["signal"].to_numpy(), nan=-np.inf))
    df = df.sort_values("_signal", ascending=False, kind="stable")
    return Regions(df.drop(columns=["_signal", "signal", "summit"]).reset_index(drop=True), str(path))


def centred_windows(regions: pd.DataFrame, seq_len: int) -> pd.DataFrame:
    """``seq_len`` windows centred on each region's ``centre`` (``chrom, start, end``; may pass the ends)."""
    start = regions["centre"].to_numpy(np.int64) - seq_len // 2
    return pd.DataFrame({"chrom": regions["chrom"].to_numpy(), "start": start, "end": start + seq_len})
