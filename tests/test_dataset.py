"""factornet_core.dataset: Keras batches over a sampling plan equal direct window reads, in plan order."""

from __future__ import annotations

import numpy as np
import pytest

from factornet_core.dataset import MetaBuilder, PlanDataset, plan_inputs
from factornet_core.genome import Genome
from factornet_core.sampling import Plan
from factornet_core.tracks import TrackSet
from factornet_core.windows import WindowReader

SIZES = {"chr1": 20_000, "chr2": 9_000}
SEQ_LEN = 400


class _Annotator:
    """Stands in for BinAnnotator: six flags that encode the bin start, so rows can be traced."""

    def annotate_arrays(self, chrom, start, end):
        return np.stack([start % (k + 2) for k in range(6)], axis=1).astype(np.float32)


@pytest.fixture
def readers(make_fasta, make_bigwig, random_dna, rng):
    fasta = make_fasta({c: random_dna(n, "ACGT") for c, n in SIZES.items()})
    tracks = [
        make_bigwig({c: rng.random(n) * (i + 1) for c, n in SIZES.items()}, f"cell{i}.bw") for i in range(2)
    ]
    genome = Genome(fasta)
    sets = [TrackSet({"DNASE": path}) for path in tracks]
    yield [WindowReader(genome, ts, SEQ_LEN) for ts in sets]
    for ts in sets:
        ts.close()
    genome.close()


def _plan(rng, n: int) -> Plan:
    chrom = rng.choice(list(SIZES), n)
    start = np.array([rng.integers(0, SIZES[c] - 200) for c in chrom], dtype=np.int64)
    y = rng.integers(0, 2, (n, 2)).astype(np.float32)
    return Plan(rng.integers(0, 2, n), chrom, start, y)


def _direct(readers, plan: Plan, i: int) -> np.ndarray:
    """Sample ``i``'s window read on its own, from its cell type's reader."""
    s = int(plan.start[i]) + 100 - SEQ_LEN // 2
    return readers[plan.cell[i]].region(str(plan.chrom[i]), s, s + SEQ_LEN)


def test_batches_are_direct_window_reads_in_plan_order_with_a_short_last_batch(readers, rng):
    plan = _plan(rng, 23)
    ds = PlanDataset(plan, readers, None, batch_size=10)
    assert len(ds) == 3
    seen = 0
    for b in range(len(ds)):
        x, y = ds[b]
        assert x.shape == ((10 if b < 2 else 3), SEQ_LEN, 5) and x.dtype == np.float32
        for k in range(x.shape[0]):
            np.testing.assert_array_equal(x[k], _direct(readers, plan, seen + k))
        np.testing.assert_array_equal(y, plan.y[seen : seen + x.shape[0]])
        seen += x.shape[0]
    assert seen == len(plan)
    # the two cell types' tracks differ (×1 vs ×2 signal): the cell index picks the reader
    both = np.flatnonzero(plan.cell == 1)[0]
    assert not np.array_equal(
        ds[both // 10][0][both % 10], readers[0].batch(plan.chrom[[both]], plan.start[[both]])[0]
    )


def test_metadata_rows_follow_their_samples_and_no_targets_for_prediction(readers, rng):
    plan = _plan(rng, 12)
    cell_vectors = [np.array([1.0, 2.0]), np.array([-1.0, -2.0])]
    meta = MetaBuilder(cell_vectors, _Annotator())
    assert meta.size == 8
    ds = PlanDataset(plan, readers, meta, batch_size=5, with_targets=False)
    (batch,) = ds[1]
    x, m = batch
    assert m.shape == (5, 8) and m.dtype == np.float32
    for k, i in enumerate(range(5, 10)):
        np.testing.assert_array_equal(m[k, :2], cell_vectors[plan.cell[i]])
        np.testing.assert_array_equal(m[k, 2:], [plan.start[i] % (j + 2) for j in range(6)])
        np.testing.assert_array_equal(x[k], _direct(readers, plan, i))
    x_all, m_all = plan_inputs(plan, readers, meta)
    np.testing.assert_array_equal(x_all[5:10], x)
    np.testing.assert_array_equal(m_all[5:10], m)


def _epoch_batches(ds: PlanDataset) -> list:
    """Batches in the order Keras' data adapter delivers them (threads when ``workers > 1``)."""
    from keras.src.trainers.data_adapters import get_data_adapter

    adapter = get_data_adapter(ds, shuffle=False)
    try:
        return list(adapter.get_numpy_iterator())
    finally:
        adapter.on_epoch_end()


def test_several_loader_threads_deliver_the_same_batches_as_one(readers, rng):
    plan = _plan(rng, 57)
    one = _epoch_batches(PlanDataset(plan, readers, None, batch_size=8, workers=1))
    four = _epoch_batches(PlanDataset(plan, readers, None, batch_size=8, workers=4))
    assert len(one) == len(four) == 8
    for (x1, y1), (x4, y4) in zip(one, four, strict=True):
        np.testing.assert_array_equal(x1, x4)
        np.testing.assert_array_equal(y1, y4)
    np.testing.assert_array_equal(np.concatenate([y for _, y in four]), plan.y)
