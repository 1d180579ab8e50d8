"""Model selection at the natural class balance: the validation set early stopping and best weights follow.

A validation set sampled like the training epochs (every peak plus ``-n`` negatives per peak) has about
one unbound bin per bound bin, where a chromosome has hundreds: its auPR saturates (0.999 from the
third epoch on) and cannot tell a model that ranks a chromosome well from one that does not. What
``factornet evaluate`` scores is every bin of a held-out chromosome, so training selects on that too:

* every 200/50 bp bin of the validation chromosomes is labelled per cell type as ``factornet bin``
  labels it (:func:`factornet_core.intervals.label_bins`: B, A or U); bins touching the blacklist are
  left out (``predict`` does not run the model there, it writes 0; ``bin --out-bins`` omits them);
* every bound bin is kept; of the unbound ones, all when there are at most ``n_negatives`` (all cell
  types together), else a uniform seeded sample of ``n_negatives`` shared as evenly as the cell types
  allow (:func:`share`), each of a cell type's ``n`` of ``N`` standing for ``N / n`` unbound bins, so the
  weighted prevalence is the chromosome's and the auPR estimates the whole chromosome's
  (:func:`factornet_core.metrics.ranked_counts` ``neg_weights``);
* the score is the Davis–Goadrich auPR of :mod:`factornet_core.metrics`, ambiguous bins left out, one
  per (task, cell type), averaged: ``factornet evaluate``'s per-row auPR.

Multi-task: a bin bound for any task is kept; the sample is drawn from bins bound for none, and each
task leaves out its own ambiguous bins (``y`` is NaN there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from factornet_core import intervals
from factornet_core.metrics import auprc_davis_goadrich, ranked_counts
from factornet_core.sampling import Plan

#: Unbound bins sampled per cell type when the validation chromosomes have more (issue #14: ≥ 20 000).
VALID_NEGATIVES = 20_000


@dataclass
class NaturalPlan:
    """Validation bins at the natural class balance.

    plan : the bins; ``plan.y`` ``(n, n_tasks)`` is 1 bound, 0 unbound, NaN ambiguous (not scored).
    weight : ``(n,)`` float64 unbound bins each sample stands for (1 for bound bins and when all are kept).
    every_bin : True when no unbound bin was left out (the plan covers the chromosomes' scored bins).
    n_bound, n_unbound : per (cell, task) ``(n_cells, n_tasks)``: bound and unbound bins on the chromosomes.
    """

    plan: Plan
    weight: np.ndarray
    every_bin: bool
    n_bound: np.ndarray
    n_unbound: np.ndarray

    def __len__(self) -> int:
        return len(self.plan)

    def prevalence(self) -> np.ndarray:
        """``(n_cells, n_tasks)`` bound / (bound + unbound) bins on the validation chromosomes."""
        return self.n_bound / np.maximum(self.n_bound + self.n_unbound, 1)


def natural_plan(
    chrom: np.ndarray,
    start: np.ndarray,
    codes: Sequence[np.ndarray],
    n_negatives: int,
    seed: int,
    usable: np.ndarray | None = None,
    cell_offset: int = 0,
) -> NaturalPlan:
    """Every bound bin and ``min(n_negatives, all)`` unbound bins of all cell types (module docstring).

    Parameters
    ----------
    chrom, start : ``(n_bins,)`` the validation chromosomes' bins.
    codes : per cell type, ``(n_bins, n_tasks)`` int8 label codes U/B/A.
    n_negatives : unbound bins kept (all cell types together) when there are more.
    seed : the sample's seed (the same bins in every epoch and on resume).
    usable : ``(n_bins,)`` bool, False for bins never scored (touching the blacklist).
    cell_offset : added to the cell index (cross-cell validation follows the training cell types).
    """
    chrom = np.asarray(chrom, dtype=object)
    start = np.asarray(start, dtype=np.int64)
    usable = np.ones(start.size, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    rng = np.random.default_rng(seed)
    parts, weights, every = [], [], True
    n_bound, n_unbound = [], []
    codes = [np.asarray(c).reshape(start.size, -1) for c in codes]
    bounds = [(c == intervals.B).any(axis=1) & usable for c in codes]
    pools = [np.flatnonzero(~b & (c == intervals.U).any(axis=1) & usable) for c, b in zip(codes, bounds)]
    quotas = share([p.size for p in pools], n_negatives)
    for ci, (c, bound, pool, quota) in enumerate(zip(codes, bounds, pools, quotas)):
        take = pool
        if pool.size > quota:
            take = np.sort(rng.choice(pool, quota, replace=False))
            every = False
        idx = np.concatenate([np.flatnonzero(bound), take])
        order = np.argsort(idx, kind="stable")
        idx = idx[order]
        w = np.concatenate([np.ones(bound.sum()), np.full(take.size, pool.size / max(take.size, 1))])[order]
        y = np.where(c[idx] == intervals.B, 1.0, np.where(c[idx] == intervals.U, 0.0, np.nan))
        parts.append(Plan(np.full(idx.size, ci + cell_offset), chrom[idx], start[idx], y.astype(np.float32)))
        weights.append(w)
        n_bound.append(((c == intervals.B) & usable[:, None]).sum(axis=0))
        n_unbound.append(((c == intervals.U) & usable[:, None]).sum(axis=0))
    return NaturalPlan(
        Plan.concat(parts), np.concatenate(weights), every, np.array(n_bound), np.array(n_unbound)
    )


def share(sizes: Sequence[int], total: int) -> list[int]:
    """How many to take from pools of ``sizes``: ``min(total, sum(sizes))`` in all, as evenly as they allow
    (a pool smaller than its even share gives all it has, the others share the rest)."""
    take, left = [0] * len(sizes), int(total)
    for k, i in enumerate(sorted(range(len(sizes)), key=lambda i: sizes[i])):
        take[i] = min(int(sizes[i]), -(-left // (len(sizes) - k)))
        left -= take[i]
    return take


def natural_auprc(nat: NaturalPlan, scores: np.ndarray) -> float:
    """Mean Davis–Goadrich auPR over (task, cell type) of ``scores`` ``(n, n_tasks)`` on ``nat``,
    unbound samples weighted to the natural balance; NaN when no (task, cell) has bound and unbound bins."""
    y = nat.plan.y
    scores = np.asarray(scores, dtype=np.float64).reshape(y.shape)
    values = []
    for cell in np.unique(nat.plan.cell):
        rows = nat.plan.cell == cell
        for t in range(y.shape[1]):
            keep = rows & ~np.isnan(y[:, t])
            labels = y[keep, t]
            if 0 < labels.sum() < labels.size:
                rc = ranked_counts(labels, scores[keep, t], np.where(labels == 1, 1.0, nat.weight[keep]))
                values.append(auprc_davis_goadrich(rc))
    return float(np.mean(values)) if values else float("nan")


def validation_plan(
    peaks,
    cells: Sequence[str],
    chrom_sizes: Mapping[str, int],
    chroms: Sequence[str],
    n_negatives: int = VALID_NEGATIVES,
    seed: int = 0,
    cell_offset: int = 0,
) -> NaturalPlan:
    """The natural-balance validation bins of ``cells`` on ``chroms`` for the selection's TF(s).

    ``peaks`` is a :class:`~factornet_core.sampling.PeakSource` (its peaks and blacklist are read once).
    """
    bins = intervals.tile_bins(chrom_sizes, chroms)
    usable = ~intervals.overlap_mask(bins, peaks.blacklist)
    tfs = peaks.selection.tfs
    codes = [
        np.stack(
            [
                intervals.label_bins(bins, peaks.get(cell, tf), peaks.get(cell, tf, relaxed=True))
                for tf in tfs
            ],
            axis=1,
        )
        for cell in cells
    ]
    chrom = np.asarray(bins["chrom"].astype(str).to_numpy(), dtype=object)
    return natural_plan(chrom, bins["start"].to_numpy(), codes, n_negatives, seed, usable, cell_offset)


class NaturalScorer:
    """A model's auPR on natural-balance validation bins, once per epoch.

    Bins close together (every bin, or a dense sample: at least 16 windows per span on average) go
    through the shared-convolution predictor, the scores ``factornet predict`` writes (~2.5x faster on
    the grid); scattered bins (one span each), or any model when ``shared_conv`` is False (a model
    under a distribution strategy), through ``net.predict`` window by window.

    Parameters
    ----------
    net : the Keras model being trained (its layers are used as they are, weights current).
    readers : one :class:`~factornet_core.windows.WindowReader` per cell type (``plan.cell`` indexes them).
    meta : :class:`~factornet_core.dataset.MetaBuilder` or None.
    """

    def __init__(self, net, readers, meta, workers: int = 1, shared_conv: bool = True):
        from factornet_core import fastpredict

        self.net, self.readers, self.meta, self.workers = net, list(readers), meta, workers
        self.fast = None
        if shared_conv and fastpredict.supports(net):
            self.fast = fastpredict.SharedConvPredictor(net)

    def predict(self, nat: NaturalPlan) -> np.ndarray:
        """``(n, n_tasks)`` scores for the bins of ``nat``."""
        from factornet_core import dataset

        plan = nat.plan
        if self.fast is None or not _dense(plan, self.fast.seq_len):
            ds = dataset.PlanDataset(plan, self.readers, self.meta, 500, self.workers, with_targets=False)
            return np.asarray(self.net.predict(ds, verbose=0), dtype=np.float64).reshape(plan.y.shape)
        out = np.empty(plan.y.shape, dtype=np.float64)
        for cell, chrom, idx in _groups(plan):
            part = plan.take(idx)
            m = self.meta.build(part.cell, part.chrom, part.start) if self.meta and self.meta.size else None
            out[idx] = self.fast.predict_bins(self.readers[cell], chrom, part.start, m)
        return out

    def auprc(self, nat: NaturalPlan) -> float:
        """:func:`natural_auprc` of the model's current weights on ``nat``."""
        return natural_auprc(nat, self.predict(nat))


def _groups(plan: Plan):
    """``(cell, chrom, indices)`` of the plan's samples per cell type and chromosome."""
    for cell in np.unique(plan.cell):
        for chrom in np.unique(plan.chrom[plan.cell == cell]):
            yield int(cell), chrom, np.flatnonzero((plan.cell == cell) & (plan.chrom == chrom))


def _dense(plan: Plan, seq_len: int) -> bool:
    """At least 16 windows per shared-convolution span on average (:func:`fastpredict.span_groups`)."""
    from factornet_core.fastpredict import span_groups

    n_spans = sum(sum(1 for _ in span_groups(plan.start[idx], seq_len)) for _, _, idx in _groups(plan))
    return len(plan) >= 16 * n_spans
