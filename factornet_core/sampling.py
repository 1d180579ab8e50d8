"""Training samples: which bins a training epoch sees, and the batches built from them.

:func:`training_samples` sets up ``factornet train``'s samplers from a samplesheet selection.

Two schemes, as in original FactorNet:

* **single-task** (one TF, one or many cell types, bins i.i.d. across cells): every conservative peak
  on the training chromosomes gives one positive bin centred on the peak midpoint, seen once per
  epoch with a random shift that keeps the bin centre on the peak; negatives are drawn *without
  replacement* (within an epoch) from bins that overlap no relaxed/conservative peak and no
  blacklisted region, ``negatives_ratio`` per positive. Ambiguous bins are never used.
* **multi-task** (several TFs, one cell type): a bin is positive if it is bound (B) for at least
  one TF; its target vector is B → 1, A/U → 0 (ambiguous counts as negative). Negatives (bound for
  no TF) are drawn *with replacement*; all bins get a small random shift.

An epoch's plan is a pure function of ``(seed, epoch)``, so training is reproducible whatever the
number of loader threads. Negatives are found by rejection sampling against peak coverage, so memory
does not grow with genome size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from factornet_core import intervals
from factornet_core.errors import FactorNetError


@dataclass
class Plan:
    """The samples of one epoch (or of a validation set), in batch order.

    cell : (n,) int index into the list of cell types
    chrom : (n,) str chromosome
    start : (n,) int64 bin start (the window is centred on the bin)
    y : (n, n_tasks) float32 targets
    """

    cell: np.ndarray
    chrom: np.ndarray
    start: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.start.size)

    def take(self, index: np.ndarray) -> Plan:
        return Plan(self.cell[index], self.chrom[index], self.start[index], self.y[index])

    @staticmethod
    def concat(plans: Sequence[Plan]) -> Plan:
        return Plan(
            np.concatenate([p.cell for p in plans]),
            np.concatenate([p.chrom for p in plans]),
            np.concatenate([p.start for p in plans]),
            np.concatenate([p.y for p in plans]),
        )


class BinSpace:
    """All bins of some chromosomes, addressable by one integer index (for uniform random draws)."""

    def __init__(self, chrom_sizes: Mapping[str, int], chroms: Sequence[str], bin_size: int, stride: int):
        self.chroms = list(chroms)
        self.bin_size, self.stride = bin_size, stride
        counts = [max(0, (chrom_sizes[c] - bin_size) // stride + 1) for c in self.chroms]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    def locate(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bin index → (chromosome name, bin start)."""
        k = np.searchsorted(self.offsets, index, side="right") - 1
        return np.asarray(self.chroms, dtype=object)[k], (index - self.offsets[k]) * self.stride


class Excluder:
    """Is a bin touching any of some regions (relaxed/conservative peaks, blacklist)? Vectorised."""

    def __init__(self, regions: Sequence[pd.DataFrame | None]):
        frames = [r for r in regions if r is not None and not r.empty]
        self.cov = intervals.coverages(pd.concat(frames, ignore_index=True) if frames else None)

    def hits(self, chrom: np.ndarray, start: np.ndarray, bin_size: int) -> np.ndarray:
        out = np.zeros(start.size, dtype=bool)
        for c in np.unique(chrom):
            if c in self.cov:
                idx = np.flatnonzero(chrom == c)
                out[idx] = self.cov[c].overlap(start[idx], start[idx] + bin_size) > 0
        return out


def draw_negatives(
    rng: np.random.Generator,
    space: BinSpace,
    excluder: Excluder,
    n: int,
    replace: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` bins touching no excluded region: (chroms, starts); without replacement if asked."""
    chosen_chrom: list[np.ndarray] = []
    chosen_start: list[np.ndarray] = []
    seen: set[int] = set()
    total = 0
    for _ in range(50):
        want = max(int((n - total) * 1.3) + 16, 16)
        if replace:
            idx = rng.integers(0, space.size, want)
        else:
            idx = rng.choice(space.size, size=min(want, space.size), replace=False)
            idx = np.asarray([i for i in idx.tolist() if i not in seen], dtype=np.int64)
        if idx.size == 0:
            break
        chrom, start = space.locate(idx)
        keep = ~excluder.hits(chrom, start, space.bin_size)
        idx, chrom, start = idx[keep], chrom[keep], start[keep]
        take = min(n - total, idx.size)
        chosen_chrom.append(chrom[:take])
        chosen_start.append(start[:take])
        if not replace:
            seen.update(idx[:take].tolist())
        total += take
        if total >= n:
            break
    if total < n:
        raise FactorNetError(
            f"could only find {total} of {n} negative bins outside peaks and the blacklist on the "
            "training chromosomes: lower the negatives ratio (-n) or add chromosomes"
        )
    return np.concatenate(chosen_chrom), np.concatenate(chosen_start).astype(np.int64)


@dataclass
class PeakSet:
    """Conservative peaks of one (cell type, TF) on the sampled chromosomes, plus what negatives avoid.

    ``open_chrom``/``open_start``: optional pool of accessible, unbound bins (see :func:`open_bins`) from
    which a fraction of the negatives is drawn.
    """

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    excluder: Excluder
    open_chrom: np.ndarray | None = None
    open_start: np.ndarray | None = None


def open_bins(
    signal_means: dict[str, np.ndarray], excluder: Excluder, bin_size: int, quantile: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Accessible bins that no peak touches: tiles of ``bin_size`` whose mean signal is in the top
    ``1 - quantile`` (e.g. DNase), minus those the ``excluder`` rejects.

    ``signal_means[chrom]`` is the mean signal of consecutive ``bin_size`` tiles from position 0.
    """
    values = np.concatenate([v for v in signal_means.values()]) if signal_means else np.zeros(0)
    if values.size == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    cut = np.quantile(values, quantile)
    chroms, starts = [], []
    for chrom, means in signal_means.items():
        idx = np.flatnonzero(means > cut)
        chroms.append(np.full(idx.size, chrom, dtype=object))
        starts.append(idx.astype(np.int64) * bin_size)
    chrom, start = np.concatenate(chroms), np.concatenate(starts)
    keep = ~excluder.hits(chrom, start, bin_size)
    return chrom[keep], start[keep]


class SingleTaskSampler:
    """Single-task epochs over one or many cell types (module docstring)."""

    def __init__(
        self,
        peaks: Sequence[PeakSet],
        space: BinSpace,
        negatives_ratio: float = 1.0,
        seed: int = 0,
        max_shift: int | None = None,
        open_fraction: float = 0.0,
    ):
        self.peaks, self.space = list(peaks), space
        self.ratio, self.seed = negatives_ratio, seed
        self.open_fraction = open_fraction
        self.max_shift = space.bin_size // 2 if max_shift is None else max_shift
        if sum(p.start.size for p in self.peaks) == 0:
            raise FactorNetError(
                f"no conservative peaks on chromosome(s) {', '.join(space.chroms)}: nothing to learn from"
            )

    def epoch(self, epoch: int, shift: bool = True) -> Plan:
        rng = np.random.default_rng([self.seed, epoch])
        parts = []
        half = self.space.bin_size // 2
        for ci, ps in enumerate(self.peaks):
            n_pos = ps.start.size
            if n_pos == 0:
                continue
            mid = (ps.start + ps.end) // 2
            if shift and self.max_shift > 0:
                lo = np.maximum(ps.start - mid, -self.max_shift)
                hi = np.minimum(ps.end - 1 - mid, self.max_shift)
                offset = lo + np.floor(rng.random(n_pos) * (hi - lo + 1)).astype(np.int64)
            else:
                offset = np.zeros(n_pos, dtype=np.int64)
            pos = Plan(np.full(n_pos, ci), ps.chrom, mid + offset - half, np.ones((n_pos, 1), np.float32))
            n_neg = int(round(n_pos * self.ratio))
            pool = 0 if ps.open_start is None else ps.open_start.size
            n_open = min(int(round(n_neg * self.open_fraction)), pool)
            pick = rng.choice(pool, n_open, replace=False) if n_open else np.zeros(0, dtype=np.int64)
            nc, ns = draw_negatives(rng, self.space, ps.excluder, n_neg - n_open, replace=False)
            if n_open:
                nc, ns = np.concatenate([ps.open_chrom[pick], nc]), np.concatenate([ps.open_start[pick], ns])
            neg = Plan(np.full(n_neg, ci), nc, ns, np.zeros((n_neg, 1), np.float32))
            parts += [pos, neg]
        plan = Plan.concat(parts)
        return plan.take(rng.permutation(len(plan)))


class MultiTaskSampler:
    """Multi-task epochs in one cell type (module docstring)."""

    def __init__(
        self,
        bound_chrom: np.ndarray,
        bound_start: np.ndarray,
        bound_y: np.ndarray,
        excluder: Excluder,
        space: BinSpace,
        negatives_ratio: float = 1.0,
        seed: int = 0,
        max_shift: int | None = None,
    ):
        if bound_start.size == 0:
            raise FactorNetError(
                f"no bound bins on chromosome(s) {', '.join(space.chroms)}: nothing to learn from"
            )
        self.chrom, self.start, self.y = bound_chrom, bound_start, bound_y
        self.excluder, self.space = excluder, space
        self.ratio, self.seed = negatives_ratio, seed
        self.max_shift = space.stride // 2 if max_shift is None else max_shift

    def epoch(self, epoch: int, shift: bool = True) -> Plan:
        rng = np.random.default_rng([self.seed, epoch])
        n_pos = self.start.size
        n_neg = int(round(n_pos * self.ratio))
        nc, ns = draw_negatives(rng, self.space, self.excluder, n_neg, replace=True)
        plan = Plan.concat(
            [
                Plan(np.zeros(n_pos, int), self.chrom, self.start, self.y),
                Plan(np.zeros(n_neg, int), nc, ns, np.zeros((n_neg, self.y.shape[1]), np.float32)),
            ]
        )
        if shift and self.max_shift > 0:
            plan.start = plan.start + rng.integers(-self.max_shift, self.max_shift + 1, len(plan))
        return plan.take(rng.permutation(len(plan)))


def bound_bins(bins: pd.DataFrame, labels: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins bound for at least one task: (chroms, starts, targets (n, n_tasks) with B → 1, A/U → 0)."""
    y = np.stack([np.asarray(codes) == intervals.B for codes in labels], axis=1)
    keep = y.any(axis=1)
    return (
        np.asarray(bins["chrom"].astype(str).to_numpy(), dtype=object)[keep],
        bins["start"].to_numpy()[keep],
        y[keep].astype(np.float32),
    )


# --------------------------------------------------------------------------------------------- set-up
class BoundExcluder(Excluder):
    """Multi-task negatives: rejects bins bound (B) for any TF or touching the blacklist; ambiguous pass."""

    def __init__(self, conservative: Sequence[pd.DataFrame], blacklist: pd.DataFrame | None):
        self.per_tf = [intervals.coverages(c) for c in conservative]
        self.black = intervals.coverages(blacklist)

    def hits(self, chrom: np.ndarray, start: np.ndarray, bin_size: int) -> np.ndarray:
        out = np.zeros(start.size, dtype=bool)
        for c in np.unique(chrom):
            idx = np.flatnonzero(chrom == c)
            lo, hi = start[idx], start[idx] + bin_size
            hit = np.zeros(idx.size, dtype=bool)
            for cov in self.per_tf:
                if c in cov:
                    hit |= 2 * cov[c].overlap(lo, hi) > bin_size
            if c in self.black:
                hit |= self.black[c].overlap(lo, hi) > 0
            out[idx] = hit
        return out


def cap_plan(plan: Plan, limit: int, seed: int) -> Plan:
    """At most ``limit`` samples of ``plan`` (a seeded random subset, order kept): caps validation sets."""
    if len(plan) <= limit:
        return plan
    keep = np.sort(np.random.default_rng(seed).choice(len(plan), limit, replace=False))
    return plan.take(keep)


class PeakSource:
    """Peaks of a :class:`~factornet_core.samplesheet.Selection`, read once and checked against the genome."""

    def __init__(self, selection, chrom_sizes: Mapping[str, int], blacklist: pd.DataFrame | None = None):
        self.selection, self.sizes, self.blacklist = selection, chrom_sizes, blacklist
        self._cache: dict[tuple[str, str, int], pd.DataFrame | None] = {}

    def get(self, cell: str, tf: str, relaxed: bool = False) -> pd.DataFrame | None:
        """Conservative (or relaxed; None when absent) peaks of ``cell`` for ``tf``."""
        key = (cell, tf, int(relaxed))
        if key not in self._cache:
            path = self.selection.peaks(cell, tf)[int(relaxed)]
            df = None
            if path is not None:
                df = intervals.read_bed(path, what="narrowPeak", allow_empty=relaxed)
                df = intervals.check_in_genome(df, self.sizes, path, what="peak")
            self._cache[key] = df
        return self._cache[key]


def single_task_sampler(
    peaks: PeakSource,
    cells: Sequence[str],
    space: BinSpace,
    negatives: float,
    seed: int,
    open_negatives: float = 0.0,
    open_track: str | None = None,
) -> SingleTaskSampler:
    """The single-task sampler of ``factornet train`` for the selection's TF in ``cells``.

    With ``open_negatives > 0``, that fraction of the negatives comes from accessible unbound bins: the
    top 5 % of 200 bp tiles by mean ``open_track`` signal (default: the first track), see :func:`open_bins`.
    """
    from factornet_core.tracks import tile_means

    tf = peaks.selection.tfs[0]
    sets = []
    for cell in cells:
        cons, rel = peaks.get(cell, tf), peaks.get(cell, tf, relaxed=True)
        on = cons[cons["chrom"].isin(space.chroms)]
        excluder = Excluder([cons, rel, peaks.blacklist])
        open_chrom = open_start = None
        if open_negatives > 0:
            tracks = peaks.selection.tracks(cell)
            track = open_track or next(iter(tracks))
            if track not in tracks:
                raise FactorNetError(f"--open-track {track!r} is not a track of the samplesheet")
            means = tile_means(tracks[track], space.chroms, peaks.sizes, space.bin_size)
            open_chrom, open_start = open_bins(means, excluder, space.bin_size)
        chrom = on["chrom"].to_numpy(dtype=object)
        sets.append(
            PeakSet(chrom, on["start"].to_numpy(), on["end"].to_numpy(), excluder, open_chrom, open_start)
        )
    return SingleTaskSampler(sets, space, negatives, seed, open_fraction=open_negatives)


def multi_task_sampler(
    peaks: PeakSource, cell: str, space: BinSpace, negatives: float, seed: int
) -> MultiTaskSampler:
    """The multi-task sampler of ``factornet train``: bins bound for any of the selection's TFs in ``cell``;
    negatives bound for none (ambiguous allowed) and off the blacklist."""
    tfs = peaks.selection.tfs
    cons = {tf: peaks.get(cell, tf) for tf in tfs}
    on = pd.concat([d[d["chrom"].isin(space.chroms)] for d in cons.values()], ignore_index=True)
    sizes = peaks.sizes
    candidates = intervals.bins_touching(on, sizes) if len(on) else intervals.tile_bins(sizes, [])
    labels = [intervals.label_bins(candidates, cons[tf]) for tf in tfs]
    chrom, start, y = bound_bins(candidates, labels)
    excluder = BoundExcluder(list(cons.values()), peaks.blacklist)
    return MultiTaskSampler(chrom, start, y, excluder, space, negatives, seed)


@dataclass
class TrainingSamples:
    """What ``factornet train`` samples: a sampler for the training epochs and fixed validation plans.

    ``valid``/``cross`` are sampled like the training epochs (balanced: their loss is the history's
    ``val_loss``); ``valid_natural``/``cross_natural`` hold the validation chromosomes' bins at their
    natural balance (:mod:`factornet_core.validation`; their auPR selects the model). ``cross*``
    (cross-cell validation) index their cell type after the training cell types.
    """

    train: SingleTaskSampler | MultiTaskSampler
    valid: Plan
    cross: Plan | None
    valid_natural: object = None  # validation.NaturalPlan
    cross_natural: object = None


def training_samples(
    selection,
    chrom_sizes: Mapping[str, int],
    train_chroms: Sequence[str],
    valid_chroms: Sequence[str],
    blacklist: pd.DataFrame | None = None,
    *,
    negatives: float = 1.0,
    seed: int = 0,
    valid_max: int = 20000,
    open_negatives: float = 0.0,
    open_track: str | None = None,
    valid_negatives: int = 20000,
) -> TrainingSamples:
    """Samplers and validation plans for a :class:`~factornet_core.samplesheet.Selection`.

    Training uses seed ``seed``, within-cell validation ``seed + 1`` and cross-cell validation ``seed + 2``
    (balanced validation plans unshifted, capped at ``valid_max`` samples; natural-balance ones with
    every bound bin and up to ``valid_negatives`` unbound bins of all cell types together, see
    :mod:`factornet_core.validation`). Raises :class:`FactorNetError` when the validation chromosomes
    hold no positive.
    """
    from factornet_core.validation import validation_plan

    peaks = PeakSource(selection, chrom_sizes, blacklist)
    bins = (intervals.BIN_SIZE, intervals.BIN_STRIDE)
    space_train = BinSpace(chrom_sizes, train_chroms, *bins)
    space_valid = BinSpace(chrom_sizes, valid_chroms, *bins)
    cells, cross_cell = list(selection.cells), selection.valid_cell
    if not selection.multi_task:
        train = single_task_sampler(peaks, cells, space_train, negatives, seed, open_negatives, open_track)
        valid = single_task_sampler(peaks, cells, space_valid, negatives, seed + 1)
        cross = (
            single_task_sampler(peaks, [cross_cell], space_valid, negatives, seed + 2) if cross_cell else None
        )
    else:
        train = multi_task_sampler(peaks, cells[0], space_train, negatives, seed)
        valid = multi_task_sampler(peaks, cells[0], space_valid, negatives, seed + 1)
        cross = (
            multi_task_sampler(peaks, cross_cell, space_valid, negatives, seed + 2) if cross_cell else None
        )
    valid_plan = cap_plan(valid.epoch(0, shift=False), valid_max, seed)
    cross_plan = None
    if cross is not None:
        cross_plan = cap_plan(cross.epoch(0, shift=False), valid_max, seed)
        cross_plan.cell = cross_plan.cell + len(cells)
    if valid_plan.y.sum() == 0:
        raise FactorNetError(f"no positives on the validation chromosome(s) {', '.join(valid_chroms)}")
    natural = validation_plan(peaks, cells, chrom_sizes, valid_chroms, valid_negatives, seed + 1)
    cross_natural = None
    if cross_cell:
        cross_natural = validation_plan(
            peaks, [cross_cell], chrom_sizes, valid_chroms, valid_negatives, seed + 2, cell_offset=len(cells)
        )
    return TrainingSamples(train, valid_plan, cross_plan, natural, cross_natural)
