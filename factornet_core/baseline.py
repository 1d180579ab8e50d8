"""``factornet baseline``: reference predictors written as ordinary prediction files.

Same bins and layout as ``factornet predict`` (every 200/50 bp bin of the chosen chromosomes, or the
bins of a BED; blacklisted bins score 0), so ``factornet evaluate`` scores them next to a model:

* ``pwm`` — best log-odds score of the TF's motif in the bin (hits lying wholly inside the bin, both
  strands);
* ``accessibility`` — mean of one named track (DNase/ATAC) over the bin;
* ``pwm_x_accessibility`` — the product of the two scores' scaled ranks (a rank product);
* ``gbm`` — gradient boosting (scikit-learn ``HistGradientBoostingClassifier``) on engineered
  features (:data:`FEATURES`), trained on the training cell types and chromosomes named, with the
  labels ``factornet train`` uses (B = 1, U = 0, ambiguous and blacklisted bins left out); the style
  of the ENCODE-DREAM winners (e.g. J-Team, Li & Guan; Keilwagen et al. 2019, Genome Biol. 20:9).

Scores are written in [0, 1]: ``pwm`` and ``accessibility`` as scaled ranks over the written bins
(ranks keep the order, so every metric equals the raw score's), the rank product as itself, ``gbm`` as
the classifier's probability. The raw scores of all written bins are held in memory (8 bytes a bin).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from factornet_core import intervals
from factornet_core.chromsplit import split_chromosomes
from factornet_core.errors import FactorNetError
from factornet_core.predict import Progress

METHODS = ("pwm", "accessibility", "pwm_x_accessibility", "gbm")
NEEDS_MOTIF = ("pwm", "pwm_x_accessibility", "gbm")
FOOTPRINT_FLANK = 40  # bp each side of the best motif hit
CONTEXT_HALF = (500, 2500)  # ± bp around the bin centre for the context means
PSEUDOCOUNT = 0.01  # added to each probability before the log-odds
CHUNK_BP = 1_000_000  # bins are featurised in spans of this many bp of start positions
GBM_PARAMS = {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31, "early_stopping": False}


@dataclass
class BaselineSettings:
    """What ``factornet baseline`` can be told. Chromosome choice for ``gbm`` follows ``train``
    (:func:`factornet_core.chromsplit.split_chromosomes`): ``train_chroms`` (default: every genome
    chromosome not in ``valid_chroms`` or ``exclude_chroms``); a chromosome in two roles is refused."""

    method: str
    tf: str
    track: str | None = None  # accessibility track (default: the first track)
    train_cells: list[str] | None = None  # gbm only
    train_chroms: list[str] | None = None
    valid_chroms: list[str] = field(default_factory=list)
    exclude_chroms: list[str] = field(default_factory=list)
    max_negatives: int = 500_000  # unbound training bins kept (uniform sample) for gbm
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise FactorNetError(f"unknown baseline method {self.method!r}: choose from {', '.join(METHODS)}")
        if self.max_negatives < 1:
            raise FactorNetError(f"--max-negatives must be ≥ 1, got {self.max_negatives}")


@dataclass
class BaselineResult:
    method: str
    n_bins: int
    n_blacklisted: int
    features: list[str]
    n_train_bound: int = 0
    n_train_unbound: int = 0


def feature_names(track_names: Sequence[str], track: str) -> list[str]:
    """Column names of :func:`bin_features` (``track`` is the accessibility track)."""
    names = ["pwm_best", "pwm_top2", f"{track}_bin"]
    names += [f"{track}_pm{h}" for h in CONTEXT_HALF]
    names.append(f"{track}_footprint")
    names += [f"{t}_bin" for t in track_names if t != track]  # e.g. mapability
    return names


# --------------------------------------------------------------------------------------------- workflow
def run_baseline(
    settings: BaselineSettings,
    genome_path: str | os.PathLike,
    tracks: Mapping[str, str | os.PathLike],
    out_path: str | os.PathLike,
    motif_pwm: np.ndarray | None = None,
    *,
    samplesheet: str | os.PathLike | None = None,
    chroms: Sequence[str] | None = None,
    bins_bed: str | os.PathLike | None = None,
    blacklist: str | os.PathLike | None = None,
    dream: bool = False,
    also: Mapping[str, str | os.PathLike] | None = None,
    progress: Progress | None = None,
) -> BaselineResult:
    """Score the bins of one cell type (``tracks``: name → bigWig) and write ``out_path`` atomically.

    ``also`` (method → path) writes other methods' files from the same features: one pass over the
    target's sequence and tracks for several baselines.

    Parameters
    ----------
    motif_pwm : ``(width, 4)`` letter probabilities (A, C, G, T); needed by ``pwm``,
        ``pwm_x_accessibility`` and ``gbm``.
    samplesheet : needed by ``gbm`` (the training cell types' tracks and peaks).
    chroms, bins_bed, blacklist, dream : as in ``factornet predict``.
    progress : hooks told the number of target bins to score (not blacklisted), then each chunk scored.

    Raises
    ------
    FactorNetError
        Unknown track or chromosome, no motif where one is needed, ``gbm`` without training cell types
        or without bound/unbound training bins, training tracks differing from ``tracks``.
    """
    from factornet_core.genome import Genome
    from factornet_core.scores import write_predictions
    from factornet_core.tracks import TrackSet

    s = settings
    outputs = {s.method: out_path, **(also or {})}
    for method in outputs:
        if method not in METHODS:
            raise FactorNetError(f"unknown baseline method {method!r}: choose from {', '.join(METHODS)}")
        if method in NEEDS_MOTIF and motif_pwm is None:
            raise FactorNetError(f"baseline {method} needs the TF's motif: give --motif NAME or --motif-file")
    if "gbm" in outputs and not s.train_cells:
        raise FactorNetError(
            "baseline gbm is trained: name the training cell types with --train-cells (and --samplesheet)"
        )
    if "gbm" in outputs and samplesheet is None:
        raise FactorNetError("baseline gbm needs --samplesheet (the training cell types' tracks and peaks)")
    track_names = list(tracks)
    track = s.track or track_names[0]
    if track not in tracks:
        raise FactorNetError(f"track {track!r} is not among the tracks given ({', '.join(track_names)})")
    lo = log_odds(motif_pwm) if motif_pwm is not None else None

    genome = Genome(genome_path)
    sizes = genome.chrom_sizes
    bins = _target_bins(sizes, chroms, bins_bed)
    black = _read_blacklist(blacklist, sizes)
    blacklisted = intervals.overlap_mask(bins, black)
    names = feature_names(track_names, track)
    result = BaselineResult(s.method, len(bins), int(blacklisted.sum()), names)
    model = None
    if "gbm" in outputs:
        model = _fit_gbm(s, genome, track_names, track, lo, samplesheet, black, result)
    progress = progress or Progress()
    with TrackSet(tracks) as target:
        target.check_chroms({c: sizes[c] for c in bins["chrom"].unique()})
        keep = ~blacklisted
        progress.start(int(keep.sum()))
        x = features_for_bins(genome, target, track_names.index(track), bins.loc[keep], lo, progress)
        progress.finish()
    genome.close()
    for method, path in outputs.items():
        raw = np.zeros(len(bins), dtype=np.float64)
        if keep.any():
            raw[keep] = _score(method, x, model)
        write_predictions(path, bins[["chrom", "start", "end"]], {s.tf: raw}, dream=dream)
    return result


def _score(method: str, x: np.ndarray, model) -> np.ndarray:
    from factornet_core.bagging import scaled_ranks

    if method == "pwm":
        return scaled_ranks(x[:, 0])
    if method == "accessibility":
        return scaled_ranks(x[:, 2])
    if method == "pwm_x_accessibility":
        return rank_product(x[:, 0], x[:, 2])
    with _one_thread():
        return model.predict_proba(x)[:, 1]


def _target_bins(
    sizes: Mapping[str, int], chroms: Sequence[str] | None, bins_bed: str | os.PathLike | None
) -> pd.DataFrame:
    if bins_bed is not None:
        bins = intervals.read_bed(bins_bed, what="bins BED")[["chrom", "start", "end"]]
        bins = intervals.check_in_genome(bins, sizes, bins_bed, what="bin")
        if chroms:
            bins = bins[bins["chrom"].isin(chroms)].reset_index(drop=True)
        if not ((bins["end"] - bins["start"]) == intervals.BIN_SIZE).all():
            raise FactorNetError(f"{bins_bed}: every bin must be {intervals.BIN_SIZE} bp")
        return bins
    return intervals.tile_bins(sizes, chroms)


def _read_blacklist(blacklist, sizes) -> pd.DataFrame | None:
    if blacklist is None:
        return None
    black = intervals.read_bed(blacklist, what="blacklist BED", allow_empty=True)
    return intervals.check_in_genome(black, sizes, blacklist, what="blacklist")


def _fit_gbm(s: BaselineSettings, genome, track_names, track, lo, samplesheet, black, result):
    """Fit the classifier on the training cells' B/U bins (labelling of :mod:`factornet_core.binning`)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from factornet_core import binning
    from factornet_core.samplesheet import naming_rows, read_samplesheet
    from factornet_core.tracks import TrackSet

    sheet = read_samplesheet(samplesheet)
    sizes = genome.chrom_sizes
    chroms, _ = split_chromosomes(sizes, s.valid_chroms, s.exclude_chroms, s.train_chroms)
    for cell in s.train_cells:
        entry = sheet.cell(cell)
        if s.tf not in entry.conservative:
            raise FactorNetError(f"training cell type {cell!r} has no conservative peaks for {s.tf}")
        if list(entry.tracks) != list(track_names):
            raise FactorNetError(
                f"training cell type {cell!r} has tracks {list(entry.tracks)}, the target has "
                f"{list(track_names)}: they must match"
            )
    peaks = {
        c: binning.PeakFiles(sheet.cells[c].conservative[s.tf], sheet.cells[c].relaxed.get(s.tf))
        for c in s.train_cells
    }
    with naming_rows(sheet):  # an empty or malformed peak file is told by its samplesheet row
        bins, labels, _ = binning.label_chromosomes(sizes, peaks, chroms)
    blacklisted = intervals.overlap_mask(bins, black)
    rng = np.random.default_rng(s.seed)
    xs, ys = [], []
    for cell in s.train_cells:
        codes = labels[cell]
        pos = np.flatnonzero((codes == intervals.B) & ~blacklisted)
        neg = np.flatnonzero((codes == intervals.U) & ~blacklisted)
        if neg.size > s.max_negatives:
            neg = np.sort(rng.choice(neg, s.max_negatives, replace=False))
        rows = np.sort(np.concatenate([pos, neg]))
        with TrackSet(sheet.cells[cell].tracks) as ts:
            ts.check_chroms({c: sizes[c] for c in chroms})
            xs.append(features_for_bins(genome, ts, track_names.index(track), bins.iloc[rows], lo))
        ys.append((codes[rows] == intervals.B).astype(np.int8))
    x, y = np.concatenate(xs), np.concatenate(ys)
    result.n_train_bound, result.n_train_unbound = int(y.sum()), int(y.size - y.sum())
    if result.n_train_bound == 0 or result.n_train_unbound == 0:
        raise FactorNetError(
            f"gbm: the training cell types have {result.n_train_bound} bound and {result.n_train_unbound} "
            f"unbound bins on {', '.join(chroms)}: both are needed"
        )
    model = HistGradientBoostingClassifier(random_state=s.seed, **GBM_PARAMS)
    with _one_thread():
        model.fit(x, y)
    return model


def _one_thread():
    """OpenMP limited to one thread for the boosting: its spin-waiting threads slow a fit ~50-fold on a
    shared, oversubscribed machine (measured: the demo's baselines took 970 s at load 27), and a 1e5-row
    fit takes seconds on one core."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


# --------------------------------------------------------------------------------------------- features
def features_for_bins(
    genome,
    trackset,
    track_index: int,
    bins: pd.DataFrame,
    lo: np.ndarray | None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Features ``(n_bins, n_features) float64`` (columns as :func:`feature_names`) for ``bins``
    (``chrom, start, end``, 200 bp), in the given row order. Without a motif (``lo`` None) the motif
    columns are 0 and the footprint is taken at the bin centre. ``progress.advance(n)`` after each chunk
    of ``n`` bins."""
    n_tracks = len(trackset)
    n_feat = 6 + n_tracks - 1
    out = np.zeros((len(bins), n_feat), dtype=np.float64)
    if not len(bins):
        return out
    width = lo.shape[0] if lo is not None else 0
    others = [k for k in range(n_tracks) if k != track_index]
    margin = max(CONTEXT_HALF) + intervals.BIN_SIZE + FOOTPRINT_FLANK
    for chrom, idx in bins.groupby("chrom", sort=False, observed=True).indices.items():
        starts = bins["start"].to_numpy()[idx]
        for part in _chunks(starts):
            rows, s = idx[part], starts[part]
            span_lo, span_hi = int(s.min()) - margin, int(s.max()) + intervals.BIN_SIZE + margin
            signal = trackset.read(chrom, span_lo, span_hi).astype(np.float64)
            rel = s - span_lo
            cums = [np.concatenate([[0.0], np.cumsum(signal[:, k])]) for k in range(n_tracks)]
            acc = cums[track_index]
            centre = rel + intervals.BIN_SIZE // 2
            out[rows, 2] = window_mean(acc, rel, rel + intervals.BIN_SIZE)
            for j, half in enumerate(CONTEXT_HALF):
                out[rows, 3 + j] = window_mean(acc, centre - half, centre + half)
            if lo is not None:
                onehot = genome.one_hot(chrom, span_lo, span_hi)
                pos_scores = np.maximum(log_odds_scan(onehot, lo), log_odds_scan(onehot, lo[::-1, ::-1]))
                best, where, top2 = best_per_bin(pos_scores, rel, intervals.BIN_SIZE - width + 1)
                out[rows, 0], out[rows, 1] = best, top2
                hit = where
            else:
                hit, width = centre, 0
            out[rows, 5] = footprint_depth(acc, hit, width, FOOTPRINT_FLANK)
            for j, k in enumerate(others):
                out[rows, 6 + j] = window_mean(cums[k], rel, rel + intervals.BIN_SIZE)
            if progress is not None:
                progress.advance(len(rows))
    return out


def _chunks(starts: np.ndarray) -> Iterator[np.ndarray]:
    """Indices of ``starts`` grouped by ``CHUNK_BP`` blocks of position (bounded reads for any layout)."""
    block = starts // CHUNK_BP
    for b in np.unique(block):
        yield np.flatnonzero(block == b)


# --------------------------------------------------------------------------------------------- pure arrays
def log_odds(
    pwm: np.ndarray, background: np.ndarray | None = None, pseudocount: float = PSEUDOCOUNT
) -> np.ndarray:
    """Letter probabilities ``(width, 4)`` → log2 odds ``(width, 4)`` against ``background`` (uniform
    by default): ``log2((p + c) / (1 + 4c) / b)``."""
    pwm = np.asarray(pwm, dtype=np.float64)
    bg = np.full(4, 0.25) if background is None else np.asarray(background, dtype=np.float64)
    return np.log2((pwm + pseudocount) / (1 + 4 * pseudocount) / bg[None, :])


def log_odds_scan(onehot: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Score of every placement of ``lo`` ``(width, 4)`` on ``onehot`` ``(length, 4)``, one strand.

    Returns ``(length - width + 1,) float64``: ``out[i] = Σ_j onehot[i + j] · lo[j]`` (an N, a zero
    row, adds 0). The reverse strand is the scan with ``lo[::-1, ::-1]``.
    """
    x = np.asarray(onehot, dtype=np.float64)
    width = lo.shape[0]
    n = x.shape[0] - width + 1
    if n <= 0:
        return np.zeros(0)
    out = np.zeros(n)
    for j in range(width):
        out += x[j : j + n] @ lo[j]
    return out


def best_per_bin(
    values: np.ndarray, starts: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Max pooling of ``values`` over ``[start, start + window)`` for each start.

    Returns ``(best, argbest, top2)``: the maximum ``(n,)``, the position of its first occurrence
    (index into ``values``) and the sum of the two largest values in the window.
    """
    starts = np.asarray(starts, dtype=np.int64)
    if window < 1 or (starts.size and (starts.min() < 0 or starts.max() + window > values.size)):
        raise ValueError("windows must lie inside values")
    view = np.lib.stride_tricks.sliding_window_view(values, window)[starts]
    arg = view.argmax(axis=1)
    best = view[np.arange(starts.size), arg]
    if window >= 2:
        top2 = -np.partition(-view, 1, axis=1)[:, :2].sum(axis=1)
    else:
        top2 = best.copy()
    return best, starts + arg, top2


def window_mean(cumsum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of the signal over ``[lo, hi)`` from its prefix sums (``cumsum[0] == 0``), ``(n,)``."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    return (cumsum[hi] - cumsum[lo]) / np.maximum(hi - lo, 1)


def footprint_depth(cumsum: np.ndarray, hit: np.ndarray, width: int, flank: int) -> np.ndarray:
    """Mean signal of the two ``flank``-bp flanks minus the mean inside ``[hit, hit + width)``: a
    protected site (a dip between raised flanks) scores high. ``width`` 0 compares flanks to nothing."""
    hit = np.asarray(hit, dtype=np.int64)
    flanks = (cumsum[hit] - cumsum[hit - flank] + cumsum[hit + width + flank] - cumsum[hit + width]) / (
        2 * flank
    )
    inside = window_mean(cumsum, hit, hit + width) if width else 0.0
    return flanks - inside


def rank_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product of the scaled ranks (:func:`factornet_core.bagging.scaled_ranks`) of two scores, in [0, 1]."""
    from factornet_core.bagging import scaled_ranks

    return scaled_ranks(a) * scaled_ranks(b)
