"""``factornet call``: per-bin binding scores → binding-site calls (narrowPeak), one set per TF.

A call is a maximal run of *called* bins — bins scoring at least the threshold and not overlapping the
blacklist — in which each bin overlaps or touches the next (on the 200/50 bp grid: consecutive called
bins, or two called bins up to 150 bp apart). Its narrowPeak fields (ENCODE narrowPeak, BED6+4;
genome.ucsc.edu/FAQ/FAQformat.html#format12):

* ``chrom start end``: the union of its bins (0-based, half-open);
* ``name``: the TF;
* ``score``: ``round(1000 × best bin score)`` — the 0–1000 display score, from the best score;
* ``strand`` ``.``; ``signalValue``: the best bin score (a probability in [0, 1], 9 significant digits);
  ``pValue`` and ``qValue`` ``-1`` (not computed);
* ``peak``: the summit, offset from ``start`` of the centre of the best bin (the first one on ties).

Thresholds: a score (``threshold``); a false-discovery rate calibrated on labelled data
(:func:`threshold_at_fdr` on the ``calibration`` block that ``factornet evaluate`` writes into its
``metrics.json``: the lowest score at which that evaluation still had precision ≥ 1 − F — the
ENCODE-DREAM recall-at-FDR operating point); or ``top`` (the score of the N-th best bin, ties kept,
so at most N calls). Blacklisted bins are never called.

Why "overlaps or touches": the paper predicts 200 bp bins every 50 bp, so a bound site makes several
neighbouring bins score high; reporting them as one region with one summit is what a biologist needs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import intervals
from factornet_core.atomic import OutputSet, check_not_inputs
from factornet_core.errors import FactorNetError

NARROWPEAK_COLUMNS = intervals.NARROWPEAK_COLUMNS
CALIBRATION_STEP = 0.001  # FDR grid of the calibration block written by `factornet evaluate`


# ------------------------------------------------------------------------------ pure array functions
def merge_called_bins(
    starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, called: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group called bins of one chromosome into regions.

    Parameters
    ----------
    starts, ends : ``(n,) int`` bin coordinates sorted by start (bp, 0-based, half-open).
    scores : ``(n,) float`` bin scores.
    called : ``(n,) bool`` which bins are called.

    Returns
    -------
    region_start, region_end : ``(m,) int64``.
    best : ``(m,) int64`` index (into the input) of each region's best bin, the first on ties.
    """
    idx = np.flatnonzero(called)
    if idx.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    s = np.asarray(starts, np.int64)[idx]
    e = np.asarray(ends, np.int64)[idx]
    reach = np.maximum.accumulate(e)  # furthest end so far: a long bin can bridge later ones
    new = np.ones(idx.size, dtype=bool)
    new[1:] = s[1:] > reach[:-1]
    group = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    region_end = np.maximum.reduceat(e, first)
    sc = np.asarray(scores, np.float64)[idx]
    # best bin per group: highest score, then lowest position (stable lexsort)
    order = np.lexsort((np.arange(idx.size), -sc, group))
    best_pos = order[np.searchsorted(group[order], np.arange(first.size))]
    return s[first], region_end, idx[best_pos]


def narrowpeak_fields(
    region_start: np.ndarray,
    region_end: np.ndarray,
    best_start: np.ndarray,
    best_end: np.ndarray,
    best_score: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(score 0–1000 int64, summit offset int64)`` of regions: ``round(1000 × best)``, centre of best bin."""
    score = np.clip(np.rint(np.asarray(best_score, np.float64) * 1000), 0, 1000).astype(np.int64)
    summit = (np.asarray(best_start) + np.asarray(best_end)) // 2 - np.asarray(region_start)
    return score, summit.astype(np.int64)


def top_threshold(scores: np.ndarray, eligible: np.ndarray, n: int) -> float:
    """The score of the ``n``-th best eligible bin (every bin scoring at least this is called)."""
    values = np.asarray(scores, np.float64)[np.asarray(eligible, bool)]
    if n < 1:
        raise FactorNetError("--top needs N ≥ 1")
    if values.size == 0:
        return math.inf
    if n >= values.size:
        return float(values.min())
    return float(np.partition(values, values.size - n)[values.size - n])


def fdr_grid(labels: np.ndarray, scores: np.ndarray, step: float = CALIBRATION_STEP) -> tuple[list, list]:
    """For FDR levels ``0, step, 2·step, …, 1``: the lowest score whose called set (score ≥ it) has
    precision ≥ 1 − level, i.e. FDR ≤ level (the ENCODE-DREAM recall-at-FDR operating point).

    ``labels`` 0/1, ``scores`` float of the same shape. Returns ``(levels, min_scores)`` for the levels
    that were reached (lists, JSON-ready; levels rounded to the grid).
    """
    from factornet_core.metrics import ranked_counts

    rc = ranked_counts(labels, scores)
    if rc.tp.size == 0:
        return [], []
    fdr = 1 - rc.tp / (rc.tp + rc.fp)  # per distinct threshold, highest score first
    best_fdr = np.minimum.accumulate(fdr[::-1])[::-1]  # min FDR at this threshold or any lower one
    n = int(round(1 / step))
    levels = np.arange(n + 1) / n
    # last index k with fdr[k] <= level: the largest k with best_fdr[k] <= level (best_fdr non-decreasing)
    k = np.searchsorted(best_fdr, levels + 1e-12, side="right") - 1
    ok = k >= 0
    return [round(float(v), 6) for v in levels[ok]], [float(v) for v in rc.thresholds[k[ok]]]


def threshold_at_fdr(calibration: dict, fdr: float) -> float:
    """The score at which a calibration block reached FDR ≤ ``fdr`` (its grid point at or below ``fdr``).

    Raises :class:`FactorNetError` when the evaluation never reached that precision.
    """
    if not 0 <= fdr < 1:
        raise FactorNetError(f"--fdr must be in [0, 1), got {fdr}")
    step = float(calibration.get("step", CALIBRATION_STEP))
    level = math.floor(fdr / step + 1e-9) * step  # never looser than asked
    for lv, score in zip(calibration["fdr"], calibration["min_score"]):
        if abs(lv - level) < step / 2:
            return float(score)
    reached = min(calibration["fdr"]) if calibration["fdr"] else None
    raise FactorNetError(
        f"the calibration never reached FDR {fdr:g} (precision {1 - fdr:g}) for {calibration['tf']}"
        + (f"; its lowest FDR was {reached:g}" if reached is not None else "")
        + ": choose a larger --fdr or use --threshold"
    )


def read_calibration(path: str | os.PathLike, tf: str) -> dict:
    """The calibration block for ``tf`` in an ``evaluate`` metrics JSON (one cell type)."""
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FactorNetError(f"{path}: not a metrics JSON from 'factornet evaluate' ({exc})") from None
    blocks = report.get("calibration") if isinstance(report, dict) else None
    if blocks is None:
        raise FactorNetError(
            f"{path}: no 'calibration' block: evaluate the predictions with this version of 'factornet evaluate'"
        )
    mine = [b for b in blocks if b.get("tf") == tf]
    if not mine:
        have = sorted({b.get("tf") for b in blocks})
        raise FactorNetError(
            f"{path}: a calibration for {', '.join(have) or 'no TF'}, not for {tf}: "
            f"evaluate {tf}'s predictions and pass that metrics JSON"
        )
    if len(mine) > 1:
        raise FactorNetError(
            f"{path}: {tf} was evaluated in several cell types ({', '.join(b['cell'] for b in mine)}): "
            "pass the metrics of one evaluation"
        )
    return mine[0]


# ------------------------------------------------------------------------------ the workflow
@dataclass
class CallResult:
    """Per TF: threshold used and number of calls; the files written."""

    thresholds: dict[str, float]
    n_calls: dict[str, int]
    outputs: list[Path]


def call_tf(
    bins: pd.DataFrame, scores: np.ndarray, threshold: float, blacklisted: np.ndarray, tf: str
) -> pd.DataFrame:
    """narrowPeak rows (:data:`NARROWPEAK_COLUMNS`) for one TF; ``bins`` ``chrom, start, end`` in any
    order, ``scores`` ``(n,)``, ``blacklisted`` ``(n,) bool``. Rows in chromosome (first appearance)
    then start order."""
    scores = np.asarray(scores, np.float64)
    parts = []
    for chrom, idx in bins.groupby("chrom", sort=False).indices.items():
        starts = bins["start"].to_numpy()[idx]
        order = idx[np.argsort(starts, kind="stable")]
        s = bins["start"].to_numpy(np.int64)[order]
        e = bins["end"].to_numpy(np.int64)[order]
        sc = scores[order]
        called = (sc >= threshold) & ~blacklisted[order]
        rs, re_, best = merge_called_bins(s, e, sc, called)
        if rs.size == 0:
            continue
        score, summit = narrowpeak_fields(rs, re_, s[best], e[best], sc[best])
        parts.append(
            pd.DataFrame(
                {
                    "chrom": chrom,
                    "start": rs,
                    "end": re_,
                    "name": tf,
                    "score": score,
                    "strand": ".",
                    "signalValue": sc[best],
                    "pValue": -1,
                    "qValue": -1,
                    "peak": summit,
                }
            )
        )
    if not parts:
        return _no_calls()
    return pd.concat(parts, ignore_index=True)


def _no_calls() -> pd.DataFrame:
    """An empty call table with the dtypes of a full one: concatenated with another TF's calls it keeps
    their integer coordinates integer (untyped empty columns would turn 43400 into 43400.0)."""
    floats, texts = {"signalValue"}, {"chrom", "name", "strand"}
    return pd.DataFrame(
        {
            c: pd.Series([], dtype=np.float64 if c in floats else object if c in texts else np.int64)
            for c in NARROWPEAK_COLUMNS
        }
    )


def call(
    predictions: str | os.PathLike,
    *,
    out_prefix: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    tfs: Sequence[str] | None = None,
    threshold: float | None = None,
    fdr: float | None = None,
    calibration: str | os.PathLike | Mapping[str, str | os.PathLike] | None = None,
    top: int | None = None,
    blacklist: str | os.PathLike | None = None,
) -> CallResult:
    """Call binding sites in a prediction file; write narrowPeak files, all or nothing.

    Parameters
    ----------
    predictions : TSV(.gz) ``chr start stop <TF>...`` (:func:`factornet_core.scores.read_predictions`).
    out_prefix : write ``PREFIX.<TF>.narrowPeak`` (plain text) per TF. Exactly one of ``out_prefix``
        and ``out``.
    out : one narrowPeak file for all TFs (name column = TF; ``.gz`` compresses).
    tfs : TFs to call (default: every column). A TF not in the file raises.
    threshold / fdr + calibration / top : exactly one way to choose the score threshold.
        ``calibration``: an evaluate metrics JSON (or ``{TF: path}``), refused if it is for another TF.
    blacklist : BED; bins overlapping it are never called.
    """
    from factornet_core.scores import read_predictions

    if (out_prefix is None) == (out is None):
        raise FactorNetError("give either --out-prefix (one file per TF) or --out (one file)")
    modes = sum(x is not None for x in (threshold, fdr, top))
    if modes != 1:
        raise FactorNetError("choose the threshold with exactly one of --threshold, --fdr, --top")
    if fdr is not None and calibration is None:
        raise FactorNetError("--fdr needs --calibration METRICS.json from 'factornet evaluate'")
    if threshold is not None and not 0 <= threshold <= 1:
        raise FactorNetError(f"--threshold must be in [0, 1], got {threshold}")
    bins, scores = read_predictions(predictions)
    names = list(scores.columns)
    chosen = list(tfs) if tfs else names
    missing = [t for t in chosen if t not in names]
    if missing:
        raise FactorNetError(
            f"{predictions}: no column for {', '.join(missing)} (the file has {', '.join(names)})"
        )
    finals = {tf: Path(f"{out_prefix}.{tf}.narrowPeak") for tf in chosen} if out is None else {}
    calibrations = calibration.values() if isinstance(calibration, Mapping) else calibration
    given = {"PREDICTIONS": predictions, "--blacklist": blacklist, "--calibration": calibrations}
    check_not_inputs(finals.values(), given, "--out-prefix")
    black = np.zeros(len(bins), dtype=bool)
    if blacklist is not None:
        regions = intervals.read_bed(blacklist, what="blacklist BED", allow_empty=True)
        predicted = set(bins["chrom"].unique())
        if len(regions) and not predicted & set(regions["chrom"].unique()):
            hint = intervals.naming_hint(regions["chrom"].unique(), predicted, "the predictions file")
            if hint:  # a blacklist that silently matched nothing would let blacklisted bins be called
                raise FactorNetError(f"{blacklist}: no region lies on a predicted chromosome; {hint}")
        black = intervals.overlap_mask(bins, regions)

    thresholds: dict[str, float] = {}
    for tf in chosen:
        if threshold is not None:
            thresholds[tf] = float(threshold)
        elif top is not None:
            thresholds[tf] = top_threshold(scores[tf].to_numpy(), ~black, top)
        else:
            path = calibration[tf] if isinstance(calibration, Mapping) else calibration
            thresholds[tf] = threshold_at_fdr(read_calibration(path, tf), fdr)

    tables = {tf: call_tf(bins, scores[tf].to_numpy(), thresholds[tf], black, tf) for tf in chosen}
    outputs: list[Path] = []
    with OutputSet() as outs:
        if out is not None:
            chrom_rank = {c: i for i, c in enumerate(pd.unique(bins["chrom"]))}
            table = pd.concat(list(tables.values()), ignore_index=True)
            table = table.assign(_c=table["chrom"].map(chrom_rank), _t=table["name"].map(chosen.index))
            table = table.sort_values(["_c", "start", "_t"], kind="stable").drop(columns=["_c", "_t"])
            intervals.write_narrowpeak(outs.path(out), table)
            outputs.append(Path(out))
        else:
            for tf, table in tables.items():
                intervals.write_narrowpeak(outs.path(finals[tf]), table)
                outputs.append(finals[tf])
    return CallResult(thresholds, {tf: len(t) for tf, t in tables.items()}, outputs)
