"""Natural-balance validation: which bins, their weights, and the auPR that selects the model."""

from __future__ import annotations

import numpy as np
import pytest

from factornet_core.intervals import A, B, U
from factornet_core.metrics import evaluate_scores
from factornet_core.validation import natural_auprc, natural_plan, share


def _chrom(n: int):
    return np.full(n, "chr2", dtype=object), np.arange(n, dtype=np.int64) * 50


def test_small_chromosome_keeps_every_scored_bin():
    chrom, start = _chrom(10)
    codes = np.array([U, U, B, B, A, U, U, U, U, U], dtype=np.int8)[:, None]
    usable = np.ones(10, bool)
    usable[9] = False  # touches the blacklist: never predicted, never scored
    nat = natural_plan(chrom, start, [codes], n_negatives=100, seed=0, usable=usable)
    assert nat.every_bin and list(nat.plan.start) == [0, 50, 100, 150, 250, 300, 350, 400]
    assert list(nat.plan.y[:, 0]) == [0, 0, 1, 1, 0, 0, 0, 0] and np.all(nat.weight == 1)
    assert nat.prevalence()[0, 0] == pytest.approx(2 / 8)


def test_sample_holds_every_positive_and_the_chromosomes_prevalence():
    rng = np.random.default_rng(0)
    n = 50_000
    chrom, start = _chrom(n)
    codes = np.where(rng.random(n) < 0.01, B, np.where(rng.random(n) < 0.02, A, U)).astype(np.int8)[:, None]
    nat = natural_plan(chrom, start, [codes], n_negatives=2000, seed=3)
    y = nat.plan.y[:, 0]
    n_bound, n_unbound = int((codes == B).sum()), int((codes == U).sum())
    assert not nat.every_bin
    assert set(nat.plan.start[y == 1]) == set(start[codes[:, 0] == B])  # every positive
    assert (y == 0).sum() == 2000 and not np.isnan(y).any()  # the sample, no ambiguous bin
    assert np.all(nat.weight[y == 0] == n_unbound / 2000) and np.all(nat.weight[y == 1] == 1)
    weighted = n_bound / (n_bound + nat.weight[y == 0].sum())
    assert weighted == pytest.approx(n_bound / (n_bound + n_unbound), rel=1e-12)
    assert nat.prevalence()[0, 0] == pytest.approx(n_bound / (n_bound + n_unbound))
    again = natural_plan(chrom, start, [codes], n_negatives=2000, seed=3)
    other = natural_plan(chrom, start, [codes], n_negatives=2000, seed=4)
    np.testing.assert_array_equal(again.plan.start, nat.plan.start)  # same bins every epoch and on resume
    assert not np.array_equal(other.plan.start, nat.plan.start)


def test_auprc_equals_evaluate_on_every_bin_and_estimates_it_from_a_sample():
    rng = np.random.default_rng(1)
    n = 40_000
    chrom, start = _chrom(n)
    codes = np.where(rng.random(n) < 0.02, B, np.where(rng.random(n) < 0.02, A, U)).astype(np.int8)
    scores = rng.random(n) + 0.5 * (codes == B)  # a fair model: auPR well below 1 at 2 % prevalence
    truth = evaluate_scores(codes, scores)["auprc"]
    full = natural_plan(chrom, start, [codes[:, None]], n_negatives=n, seed=0)
    by_start = dict(zip(start.tolist(), scores.tolist()))
    assert natural_auprc(full, [by_start[s] for s in full.plan.start]) == pytest.approx(truth, rel=1e-12)
    sampled = natural_plan(chrom, start, [codes[:, None]], n_negatives=8000, seed=0)
    estimate = natural_auprc(sampled, [by_start[s] for s in sampled.plan.start])
    assert 0.2 < truth < 0.8 and estimate == pytest.approx(truth, abs=0.01)
    # the balanced set's auPR (1:1) is far above what evaluate reports: why it cannot select models
    pos = np.flatnonzero(codes == B)
    neg = rng.choice(np.flatnonzero(codes == U), pos.size, replace=False)
    keep = np.concatenate([pos, neg])
    assert evaluate_scores(codes[keep], scores[keep])["auprc"] > truth + 0.15


def test_multi_task_and_several_cell_types():
    chrom, start = _chrom(6)
    cell_a = np.array([[B, U], [U, B], [U, U], [A, U], [U, A], [U, U]], dtype=np.int8)
    cell_b = np.array([[U, U], [U, U], [B, B], [U, U], [U, U], [A, A]], dtype=np.int8)
    nat = natural_plan(chrom, start, [cell_a, cell_b], n_negatives=10, seed=0, cell_offset=2)
    a, b = nat.plan.cell == 2, nat.plan.cell == 3
    assert list(nat.plan.start[a]) == [0, 50, 100, 150, 200, 250] and list(nat.plan.start[b]) == [
        0,
        50,
        100,
        150,
        200,
    ]
    np.testing.assert_array_equal(nat.plan.y[a][3], [np.nan, 0])  # ambiguous for task 0 only: NaN there
    np.testing.assert_array_equal(nat.n_bound, [[1, 1], [1, 1]])
    np.testing.assert_array_equal(nat.n_unbound, [[4, 4], [4, 4]])
    # mean over (task, cell) of evaluate's auPR, each with its own ambiguous bins left out
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.7, 0.3], [0.1, 0.6], [0.0, 0.0]])
    s = np.concatenate([scores[:6], scores[:5]])
    expected = np.mean(
        [
            evaluate_scores(cell_a[:, 0], scores[:, 0])["auprc"],
            evaluate_scores(cell_a[:, 1], scores[:, 1])["auprc"],
            evaluate_scores(cell_b[:5, 0], scores[:5, 0])["auprc"],
            evaluate_scores(cell_b[:5, 1], scores[:5, 1])["auprc"],
        ]
    )
    assert natural_auprc(nat, s) == pytest.approx(expected, rel=1e-12)


def test_negatives_are_shared_across_cell_types():
    assert share([5, 100, 100], 20) == [5, 8, 7]  # the small pool gives all it has, the others share the rest
    assert share([3, 4], 100) == [3, 4] and share([50, 50], 21) == [11, 10]
    rng = np.random.default_rng(2)
    n = 20_000
    chrom, start = _chrom(n)
    cells = [np.where(rng.random(n) < p, B, U).astype(np.int8)[:, None] for p in (0.01, 0.03)]
    nat = natural_plan(chrom, start, cells, n_negatives=5000, seed=0)
    y = nat.plan.y[:, 0]
    assert (y == 0).sum() == 5000 and not nat.every_bin  # ≥ the asked number in all, not per cell type
    for ci, c in enumerate(cells):
        mine = nat.plan.cell == ci
        assert set(nat.plan.start[mine & (y == 1)]) == set(start[c[:, 0] == B])
        n_bound, n_unbound = (c == B).sum(), (c == U).sum()
        weighted = n_bound / (n_bound + nat.weight[mine & (y == 0)].sum())
        assert weighted == pytest.approx(n_bound / (n_bound + n_unbound), rel=1e-12)


def test_scorer_shared_convolution_equals_window_by_window(make_fasta, make_bigwig, random_dna, rng):
    import keras

    from factornet_core.genome import Genome
    from factornet_core.model import ModelConfig, build_model
    from factornet_core.tracks import TrackSet
    from factornet_core.validation import NaturalScorer, _dense
    from factornet_core.windows import WindowReader

    size = 12_000
    fasta = make_fasta({"chr1": random_dna(size)})
    dnase = make_bigwig({"chr1": rng.gamma(1.0, 2.0, size)}, name="dnase.bw")
    mapab = make_bigwig({"chr1": rng.random(size)})
    genome = Genome(fasta)
    reader = WindowReader(genome, TrackSet({"DNASE": dnase, "MAPABILITY": mapab}), 300, 200)
    keras.utils.set_random_seed(2)
    net = build_model(
        ModelConfig(seq_len=300, kernel_width=15, kernels=8, pool=7, lstm_units=6, dense_units=16)
    )
    chrom, start = (
        np.full((size - 200) // 50 + 1, "chr1", dtype=object),
        np.arange((size - 200) // 50 + 1) * 50,
    )
    codes = np.where(rng.random(start.size) < 0.1, B, U).astype(np.int8)[:, None]
    every = natural_plan(chrom, start, [codes], n_negatives=10**6, seed=0)
    scattered = natural_plan(chrom[::20], start[::20], [codes[::20]], n_negatives=10**6, seed=0)
    assert _dense(every.plan, 300) and not _dense(scattered.plan, 300)  # 1 kb apart: one span per window
    fast, slow = NaturalScorer(net, [reader], None), NaturalScorer(net, [reader], None, shared_conv=False)
    assert fast.fast is not None and slow.fast is None
    np.testing.assert_allclose(fast.predict(every), slow.predict(every), rtol=0, atol=1e-5)
    assert fast.auprc(every) == pytest.approx(slow.auprc(every), abs=1e-4)
    genome.close()
