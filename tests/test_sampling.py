"""factornet_core.sampling: epoch plans (positives once per epoch, clean negatives, reproducibility)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factornet_core import intervals
from factornet_core.errors import FactorNetError
from factornet_core.sampling import (
    BinSpace,
    Excluder,
    MultiTaskSampler,
    PeakSet,
    SingleTaskSampler,
    bound_bins,
    open_bins,
)

SIZES = {"chr1": 120_000, "chr2": 60_000, "chr3": 150}  # chr3: shorter than a bin, no bins at all
CHROMS = list(SIZES)


def _random_peaks(rng, n_per_chrom: int, min_w: int, max_w: int, chroms=("chr1", "chr2")) -> pd.DataFrame:
    """Non-overlapping peaks (one per slot of the chromosome), widths in [min_w, max_w]."""
    rows = []
    for chrom in chroms:
        slot = SIZES[chrom] // n_per_chrom
        for k in range(n_per_chrom):
            w = int(rng.integers(min_w, max_w + 1))
            s = k * slot + int(rng.integers(0, slot - w))
            rows.append((chrom, s, s + w))
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def _masks(*frames: pd.DataFrame) -> dict[str, np.ndarray]:
    """Brute force: per-chromosome boolean array of positions covered by any frame."""
    out = {c: np.zeros(n, dtype=bool) for c, n in SIZES.items()}
    for df in frames:
        for c, s, e in df[["chrom", "start", "end"]].itertuples(index=False):
            out[c][s:e] = True
    return out


@pytest.fixture
def world(rng):
    cons = _random_peaks(rng, 30, 20, 600)
    relaxed = pd.concat([cons, _random_peaks(rng, 20, 100, 400)], ignore_index=True)
    black = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [5_000, 40_000], "end": [9_000, 41_000]})
    peakset = PeakSet(
        cons["chrom"].to_numpy(dtype=object), cons["start"].to_numpy(), cons["end"].to_numpy(),
        Excluder([cons, relaxed, black]),
    )  # fmt: skip
    return cons, relaxed, black, peakset


def test_bin_space_indexes_all_bins():
    space = BinSpace(SIZES, CHROMS, 200, 50)
    bins = intervals.tile_bins(SIZES)
    assert space.size == len(bins) == (120_000 - 200) // 50 + 1 + (60_000 - 200) // 50 + 1
    chrom, start = space.locate(np.arange(space.size))
    assert chrom.tolist() == bins["chrom"].astype(str).tolist()
    assert start.tolist() == bins["start"].tolist()


def test_single_task_plan(world):
    cons, relaxed, black, peakset = world
    space = BinSpace(SIZES, CHROMS, 200, 50)
    sampler = SingleTaskSampler([peakset], space, negatives_ratio=2.5, seed=11)
    plan = sampler.epoch(0)
    n_pos = len(cons)
    assert len(plan) == n_pos + int(round(2.5 * n_pos))
    assert plan.y.shape == (len(plan), 1) and set(plan.cell.tolist()) == {0}
    pos, neg = plan.y[:, 0] == 1, plan.y[:, 0] == 0
    assert pos.sum() == n_pos and neg.sum() == int(round(2.5 * n_pos))

    # each conservative peak exactly once, with the bin centre inside the peak and within ±100 bp of its middle
    centres = plan.start[pos] + 100
    hits = []
    for c, x in zip(plan.chrom[pos], centres):
        inside = np.flatnonzero((cons["chrom"] == c) & (cons["start"] <= x) & (x < cons["end"]))
        assert inside.size == 1, (c, x)
        hits.append(int(inside[0]))
    assert sorted(hits) == list(range(n_pos))
    mids = ((cons["start"] + cons["end"]) // 2).to_numpy()[hits]
    assert np.abs(centres - mids).max() <= 100

    # negatives: on the 50 bp grid, inside the chromosome, touching no peak or blacklisted base, unique
    covered = _masks(cons, relaxed, black)
    nc, ns = plan.chrom[neg], plan.start[neg]
    assert np.all(ns % 50 == 0) and np.all(ns >= 0)
    for c, s in zip(nc, ns):
        assert s + 200 <= SIZES[c]
        assert not covered[c][s : s + 200].any(), (c, s)
    assert len(set(zip(nc.tolist(), ns.tolist()))) == neg.sum()


def test_single_task_without_shift_centres_on_peak_middles(world):
    cons, _, _, peakset = world
    plan = SingleTaskSampler([peakset], BinSpace(SIZES, CHROMS, 200, 50), 1.0, seed=1).epoch(0, shift=False)
    pos = plan.y[:, 0] == 1
    got = sorted(zip(plan.chrom[pos].tolist(), (plan.start[pos] + 100).tolist()))
    expected = sorted(zip(cons["chrom"], (cons["start"] + cons["end"]) // 2))
    assert got == expected


def test_single_task_is_a_pure_function_of_seed_and_epoch(world):
    *_, peakset = world
    space = BinSpace(SIZES, CHROMS, 200, 50)
    a = SingleTaskSampler([peakset], space, 1.0, seed=5).epoch(3)
    b = SingleTaskSampler([peakset], space, 1.0, seed=5).epoch(3)
    for field in ("cell", "chrom", "start", "y"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = SingleTaskSampler([peakset], space, 1.0, seed=5).epoch(4)
    d = SingleTaskSampler([peakset], space, 1.0, seed=6).epoch(3)
    assert not np.array_equal(a.start, c.start)
    assert not np.array_equal(a.start, d.start)


def test_single_task_several_cell_types(world, rng):
    cons, relaxed, black, peakset = world
    other = _random_peaks(rng, 10, 100, 300, chroms=("chr2",))
    second = PeakSet(
        other["chrom"].to_numpy(dtype=object), other["start"].to_numpy(), other["end"].to_numpy(),
        Excluder([other, black]),
    )  # fmt: skip
    plan = SingleTaskSampler([peakset, second], BinSpace(SIZES, CHROMS, 200, 50), 1.0, seed=2).epoch(0)
    for ci, (n, frames) in enumerate([(len(cons), (cons, relaxed, black)), (len(other), (other, black))]):
        mine = plan.cell == ci
        assert (plan.y[mine, 0] == 1).sum() == n and (plan.y[mine, 0] == 0).sum() == n
        covered = _masks(*frames)
        for c, s in zip(plan.chrom[mine & (plan.y[:, 0] == 0)], plan.start[mine & (plan.y[:, 0] == 0)]):
            assert not covered[c][s : s + 200].any()


def test_single_task_errors():
    space = BinSpace({"c": 1000}, ["c"], 200, 50)  # 17 bins
    empty = PeakSet(np.zeros(0, object), np.zeros(0, np.int64), np.zeros(0, np.int64), Excluder([]))
    with pytest.raises(FactorNetError, match="no conservative peaks on chromosome\\(s\\) c"):
        SingleTaskSampler([empty], space)
    peaks = pd.DataFrame({"chrom": ["c"], "start": [400], "end": [500]})
    ps = PeakSet(np.array(["c"], object), np.array([400]), np.array([500]), Excluder([peaks]))
    # bins clear of [400, 500): starts 0..200 and 500..800 → 5 + 7 = 12; ask for 20 without replacement
    with pytest.raises(FactorNetError, match="could only find 12 of 20 negative bins"):
        SingleTaskSampler([ps], space, negatives_ratio=20).epoch(0)


class _BoundForAny(Excluder):
    """Rejects bins bound (B: > half covered) for any TF; ambiguous bins pass."""

    def __init__(self, conservative: list[pd.DataFrame]):
        self.per_tf = [intervals.coverages(c) for c in conservative]

    def hits(self, chrom, start, bin_size):
        out = np.zeros(start.size, dtype=bool)
        for cov in self.per_tf:
            for c in np.unique(chrom):
                if c in cov:
                    idx = np.flatnonzero(chrom == c)
                    out[idx] |= 2 * cov[c].overlap(start[idx], start[idx] + bin_size) > bin_size
        return out


def test_multi_task_plan(rng):
    cons = [_random_peaks(rng, 25, 150, 500), _random_peaks(rng, 15, 150, 500)]
    candidates = intervals.bins_touching(pd.concat(cons, ignore_index=True), SIZES)
    labels = [intervals.label_bins(candidates, c) for c in cons]
    chrom, start, y = bound_bins(candidates, labels)
    assert y.shape[1] == 2 and np.all(y.max(axis=1) == 1)
    keep = (labels[0] == intervals.B) | (labels[1] == intervals.B)
    np.testing.assert_array_equal(y, np.stack([lab[keep] == intervals.B for lab in labels], axis=1))
    np.testing.assert_array_equal(start, candidates["start"].to_numpy()[keep])
    space = BinSpace(SIZES, CHROMS, 200, 50)
    sampler = MultiTaskSampler(chrom, start, y, _BoundForAny(cons), space, 1.5, seed=4, max_shift=20)
    plan = sampler.epoch(0)
    n_pos = start.size
    assert len(plan) == n_pos + int(round(1.5 * n_pos))
    is_pos = plan.y.any(axis=1)
    assert is_pos.sum() == n_pos
    # positives: each bound bin once, its targets kept, shifted at most 20 bp
    grid = np.round(plan.start / 50).astype(np.int64) * 50
    assert np.abs(plan.start - grid).max() <= 20
    got = sorted(zip(plan.chrom[is_pos].tolist(), grid[is_pos].tolist(), map(tuple, plan.y[is_pos].tolist())))
    assert got == sorted(zip(chrom.tolist(), start.tolist(), map(tuple, y.tolist())))
    # negatives: bound for no TF
    neg = pd.DataFrame({"chrom": plan.chrom[~is_pos], "start": grid[~is_pos], "end": grid[~is_pos] + 200})
    for c in cons:
        assert not (intervals.label_bins(neg, c) == intervals.B).any()
    # reproducible per (seed, epoch)
    again = MultiTaskSampler(chrom, start, y, _BoundForAny(cons), space, 1.5, seed=4, max_shift=20).epoch(0)
    np.testing.assert_array_equal(plan.start, again.start)
    assert not np.array_equal(plan.start, sampler.epoch(1).start)


def test_multi_task_negatives_with_replacement():
    sizes = {"c": 1000}  # 17 bins, 5 of them bound
    cons = pd.DataFrame({"chrom": ["c"], "start": [400], "end": [700]})
    candidates = intervals.bins_touching(cons, sizes)
    chrom, start, y = bound_bins(candidates, [intervals.label_bins(candidates, cons)])
    assert start.tolist() == [350, 400, 450, 500, 550]  # > 100 bp of [400, 700)
    space = BinSpace(sizes, ["c"], 200, 50)
    plan = MultiTaskSampler(chrom, start, y, _BoundForAny([cons]), space, 20.0, seed=0).epoch(0, shift=False)
    neg = plan.y[:, 0] == 0
    assert neg.sum() == 100  # more than the 12 free bins: drawn with replacement
    pairs = list(zip(plan.chrom[neg].tolist(), plan.start[neg].tolist()))
    assert len(set(pairs)) < len(pairs)
    bound = set(start.tolist())
    assert not bound & {s for _, s in pairs}
    with pytest.raises(FactorNetError, match="no bound bins"):
        MultiTaskSampler(chrom[:0], start[:0], y[:0], _BoundForAny([cons]), space)


def test_open_negatives_come_from_accessible_unbound_tiles(world, rng):
    cons, relaxed, black, peakset = world
    # signal: tile i of chr1 has mean i (so the top 5 % are the last tiles), chr2 all zero
    means = {"chr1": np.arange(SIZES["chr1"] // 200, dtype=float), "chr2": np.zeros(SIZES["chr2"] // 200)}
    chrom, start = open_bins(means, peakset.excluder, 200, quantile=0.95)
    values = np.concatenate(list(means.values()))
    cut = np.quantile(values, 0.95)
    expect = np.flatnonzero(means["chr1"] > cut) * 200
    expect = expect[~peakset.excluder.hits(np.full(expect.size, "chr1", dtype=object), expect, 200)]
    assert set(chrom) == {"chr1"} and np.array_equal(start, expect) and start.size > 5
    peakset.open_chrom, peakset.open_start = chrom, start
    space = BinSpace(SIZES, ["chr1", "chr2"], 200, 50)
    plan = SingleTaskSampler([peakset], space, negatives_ratio=1.0, seed=3, open_fraction=0.2).epoch(0)
    neg = plan.y[:, 0] == 0
    n_open = int(round(neg.sum() * 0.2))
    from_pool = np.isin(plan.start[neg], start) & (plan.chrom[neg] == "chr1")
    assert from_pool.sum() >= n_open  # exactly n_open drawn from the pool (uniform draws may hit it too)
    assert not peakset.excluder.hits(plan.chrom[neg], plan.start[neg], 200).any()
