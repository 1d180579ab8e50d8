"""Shared-convolution prediction equals the per-window model (max |Δ| ≤ 1e-5) in every situation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from factornet_core import dna
from factornet_core.fastpredict import SharedConvPredictor, span_groups, supports
from factornet_core.genome import Genome
from factornet_core.model import ModelConfig, build_model
from factornet_core.modelfile import save_model
from factornet_core.scores import read_predictions
from factornet_core.tracks import TrackSet
from factornet_core.windows import WindowReader
from factornet_tools.cli import main

TOL = 1e-5
# pool 7 and 50 bp steps: 50 mod 7 ≠ 0, so windows fall on all 7 pooling phases
SMALL = dict(seq_len=300, kernel_width=15, kernels=8, pool=7, lstm_units=6, dense_units=16)


def random_model(seed: int, **kw) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = build_model(ModelConfig(**{**SMALL, **kw}))
    # Glorot-initialised biases are zero; random biases make ReLU zeros and padding effects visible
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def random_span(rng, length: int, n_tracks: int, n_run: int = 0) -> np.ndarray:
    codes = rng.integers(0, 5, length).astype(np.uint8)  # 4 = N
    if n_run:  # a run of zero padding, as past a chromosome end
        codes[:n_run] = 4
    tracks = rng.gamma(1.0, 1.0, (length, n_tracks)).astype(np.float32)
    if n_run:
        tracks[:n_run] = 0
    return np.concatenate([dna.one_hot(codes), tracks], axis=1)


def per_window(model, span, offsets, meta=None):
    seq_len = model.inputs[0].shape[1]
    x = span[np.asarray(offsets)[:, None] + np.arange(seq_len)]
    return model.predict(x if meta is None else [x, meta], batch_size=64, verbose=0)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        dict(n_tasks=3),
        dict(n_meta=5, n_tasks=2),
        dict(track_names=("DNASE_fwd", "DNASE_rev", "MAP")),  # strand-swapped track channels
        dict(recurrent_activation="keras1_hard_sigmoid"),  # imported legacy models
        dict(pool=None),  # pool = w // 2 (paper default: 13 phases at w = 26)
    ],
    ids=["single", "multitask", "meta", "stranded_tracks", "legacy", "default_pool"],
)
def test_span_prediction_equals_per_window_model(kw):
    model = random_model(1, **kw)
    fast = SharedConvPredictor(model, batch_size=17)  # batch edges inside the windows
    rng = np.random.default_rng(2)
    n_tracks = len(kw.get("track_names", ("DNASE", "MAPABILITY")))
    span = random_span(rng, 300 + 49 * 50 + 13, n_tracks, n_run=120)
    # the regular grid plus irregular offsets (every pooling phase, unsorted, a duplicate, the last one)
    offsets = np.concatenate([np.arange(50) * 50, rng.integers(0, span.shape[0] - 299, 30), [7, 7, 2463]])
    meta = rng.random((offsets.size, kw["n_meta"])).astype(np.float32) if kw.get("n_meta") else None
    got = fast.predict_span(span, offsets, meta)
    want = per_window(model, span, offsets, meta)
    assert got.shape == want.shape == (offsets.size, kw.get("n_tasks", 1))
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    assert np.ptp(got) > 1e-3  # the windows differ: a constant output would prove nothing


def test_strand_average_is_really_both_strands():
    # a window and its reverse complement are the same window for a Siamese model
    model = random_model(3)
    fast = SharedConvPredictor(model)
    span = random_span(np.random.default_rng(4), 600, 2)
    rc = np.ascontiguousarray(dna.reverse_strand(span[None], ("DNASE", "MAPABILITY"))[0])
    a = fast.predict_span(span, [0, 100, 300])
    b = fast.predict_span(rc, [300, 200, 0])
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


def test_span_groups_split_at_gaps_and_span_limit():
    starts = np.array([500, 0, 100, 5000, 5100, 900, 20000])
    groups = [starts[g].tolist() for g in span_groups(starts, seq_len=1000, max_span=10_000)]
    assert groups == [[0, 100, 500, 900], [5000, 5100], [20000]]
    groups = [starts[g].tolist() for g in span_groups(starts, seq_len=1000, max_span=400)]
    assert groups == [[0, 100], [500, 900], [5000, 5100], [20000]]
    assert list(span_groups(np.zeros(0, np.int64), 1000)) == []


def test_supports_only_factornet_models():
    assert supports(random_model(0))
    x = keras.Input((10, 6))
    assert not supports(keras.Model(x, keras.layers.Dense(1)(x)))


@pytest.fixture
def genome_files(make_fasta, make_bigwig, random_dna, rng):
    sizes = {"chr1": 4_321, "chr2": 950}  # chr2 is shorter than... every window hangs off both ends
    fasta = make_fasta({c: random_dna(n) for c, n in sizes.items()})
    dnase = make_bigwig({c: rng.gamma(1.0, 2.0, n) for c, n in sizes.items()}, name="dnase.bw")
    mapab = make_bigwig({c: np.where(rng.random(n) < 0.1, np.nan, rng.random(n)) for c, n in sizes.items()})
    return fasta, dnase, mapab, sizes


def test_bins_from_files_equal_per_window_including_chromosome_ends(genome_files):
    fasta, dnase, mapab, sizes = genome_files
    model = random_model(5, n_meta=2)
    genome = Genome(fasta)
    reader = WindowReader(genome, TrackSet({"DNASE": dnase, "MAPABILITY": mapab}), 300, 200)
    rng = np.random.default_rng(6)
    for chrom, size in sizes.items():
        grid = np.arange((size - 200) // 50 + 1) * 50
        # the grid, off-grid bins, a far bin (own span), a duplicate, in scrambled order
        starts = np.concatenate([grid, [13, 1001, size - 200, size - 200], rng.integers(0, size - 199, 9)])
        starts = rng.permutation(starts)
        meta = rng.random((starts.size, 2)).astype(np.float32)
        want = model.predict([reader.windows(chrom, starts), meta], verbose=0)
        for max_span in (1 << 17, 333):  # one span, or many spans with chunk edges between them
            fast = SharedConvPredictor(model, batch_size=50, max_span=max_span)
            got = fast.predict_bins(reader, chrom, starts, meta)
            np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    genome.close()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A random (untrained) model with the card ``factornet predict`` needs; metadata from --meta-values."""
    from factornet_core.simulate import simulate_dataset

    root = tmp_path_factory.mktemp("fastpredict")
    sim = simulate_dataset(root / "data", seed=7, n_chroms=2, chrom_length=30_000, n_cells=1)
    model = random_model(8, n_meta=3, n_tasks=2, seq_len=400, kernel_width=26, pool=13)
    card = {
        "kind": "factornet",
        "mode": "multi-task",
        "track_names": ["DNASE", "MAPABILITY"],
        "tfs": ["CTCF", "GABPA"],
        "seq_len": 400,
        "bin_size": 200,
        "bin_stride": 50,
        "features": {"expression": True, "gencode": False},
        "expression_source": "meta_values",
        "metadata_names": ["PC1", "PC2", "PC3"],
        "chrom_naming": "ucsc",
    }
    path = root / "m.keras"
    save_model(model, card, path)
    meta = root / "meta.txt"
    meta.write_text("0.3\n-1.2\n0.7\n")
    return sim, path, meta


def test_default_equals_naive_with_chunk_edges_blacklist_and_metadata(saved_model, tmp_path):
    from factornet_core.inputs import CellType
    from factornet_core.predict import PredictOptions, predict
    from factornet_core.samplesheet import read_samplesheet

    sim, model, meta = saved_model
    tracks = read_samplesheet(sim.samplesheet).cell("CellA").tracks
    black = tmp_path / "black.bed"
    black.write_text("chr1\t10000\t10400\nchr2\t0\t300\n")
    for naive in (False, True):  # chunks of 97 bins: many chunk edges along each chromosome
        options = PredictOptions(blacklist=black, chunk_bins=97, naive=naive)
        predict(model, CellType(sim.genome, tracks, meta_values=meta), tmp_path / f"{naive}.tsv.gz", options)
    bins_f, fast = read_predictions(tmp_path / "False.tsv.gz")
    bins_n, naive = read_predictions(tmp_path / "True.tsv.gz")
    assert bins_f.equals(bins_n) and len(bins_f) == 2 * ((30_000 - 200) // 50 + 1)
    np.testing.assert_allclose(fast.to_numpy(), naive.to_numpy(), rtol=0, atol=TOL)
    hit = ((bins_f["chrom"] == "chr1") & (bins_f["start"] > 9800) & (bins_f["start"] < 10400)) | (
        (bins_f["chrom"] == "chr2") & (bins_f["start"] < 300)
    )
    assert (fast.to_numpy()[hit.to_numpy()] == 0).all() and (fast.to_numpy()[~hit.to_numpy()] > 0).all()


def test_bed_bins_default_equals_naive(saved_model, tmp_path):
    sim, model, meta = saved_model
    bed = tmp_path / "bins.bed"
    bed.write_text("chr2\t29800\t30000\nchr1\t0\t200\nchr1\t5013\t5213\nchr1\t5000\t5200\nchr1\t17\t217\n")
    argv = ["predict", "--model", str(model), "--genome", str(sim.genome), "--samplesheet",
            str(sim.samplesheet), "--cell", "CellA", "--meta-values", str(meta), "--bins", str(bed),
            "--quiet"]  # fmt: skip
    assert main([*argv, "-o", str(tmp_path / "f.tsv")]) == 0
    assert main([*argv, "-o", str(tmp_path / "n.tsv"), "--naive"]) == 0
    bins, fast = read_predictions(tmp_path / "f.tsv")
    assert bins["start"].tolist() == [29800, 0, 5013, 5000, 17]
    np.testing.assert_allclose(fast.to_numpy(), read_predictions(tmp_path / "n.tsv")[1].to_numpy(), atol=TOL)
