"""Saliency: the Siamese gradient identity, gradient × input, a planted site lights up, files and CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_motifs import PWM, SEQ_LEN, planted_genome, save_small_model, small_model

from factornet_core import dna
from factornet_core.inputs import CellType
from factornet_core.saliency import gradient_times_input, input_gradients, interpret_saliency, saliency_title


def _random_inputs(n, length, n_tracks, seed=0):
    rng = np.random.default_rng(seed)
    x = dna.one_hot(rng.integers(0, 5, (n, length)).astype(np.uint8))
    return np.concatenate([x, rng.random((n, length, n_tracks))], axis=2).astype(np.float32)


def test_siamese_gradient_is_mean_of_strand_gradients():
    """∂f/∂x = ½ (∇s(x) + R ∇s(R x)): the reverse branch's gradient maps back through reverse_strand."""
    import keras

    from factornet_core.model import ModelConfig, build_model, strand_model

    keras.utils.set_random_seed(3)
    tracks = ("DNASE_fwd", "DNASE_rev", "MAPABILITY")  # stranded tracks swap on the other strand
    cfg = ModelConfig(
        seq_len=60, kernels=4, kernel_width=8, lstm_units=4, dense_units=8, track_names=tracks, n_meta=2
    )
    net = build_model(cfg)
    x = _random_inputs(3, 60, 3)
    meta = np.random.default_rng(1).random((3, 2)).astype(np.float32)
    strand = strand_model(net)
    g = input_gradients(net, x, 0, meta)
    g_fwd = input_gradients(strand, x, 0, meta)
    g_rev = input_gradients(strand, dna.reverse_strand(x, tracks), 0, meta)
    expected = (g_fwd + dna.reverse_strand(g_rev, tracks)) / 2
    assert np.abs(g).max() > 1e-4  # not trivially zero
    np.testing.assert_allclose(g, expected, rtol=1e-4, atol=1e-7)
    # batch-size independence
    np.testing.assert_allclose(input_gradients(net, x, 0, meta, batch_size=1), g, rtol=1e-5, atol=1e-8)


def test_gradient_times_input_hand_values():
    x = np.zeros((1, 3, 5), np.float32)
    x[0, 0, 2] = 1  # G
    x[0, 1, 0] = 1  # A;  position 2 is N
    x[0, :, 4] = 7.0  # a track: never part of the per-base saliency
    grad = np.arange(15, dtype=np.float32).reshape(1, 3, 5) - 6
    np.testing.assert_array_equal(gradient_times_input(grad, x), [[-4.0, -1.0, 0.0]])
    np.testing.assert_array_equal(gradient_times_input(grad, x, positive_only=True), [[0.0, 0.0, 0.0]])


def motif_head_model(track_names=("DNASE",)):
    """Kernel 0/1 detect :data:`PWM` on either strand; the rest of the network is set by hand so the output
    rises with their activations (an LSTM with open gates sums tanh of them) and ignores everything else.
    Deterministic, no training."""
    from factornet_core.model import strand_model

    net, cfg = small_model(track_names)
    s = strand_model(net)
    conv = s.get_layer("conv_motifs")
    w, b = conv.get_weights()
    w[:, :, 2:], b[2:] = 0.0, -1.0  # kernels 2, 3 never fire
    conv.set_weights([w, b])
    k = cfg.kernels
    td = np.zeros((k, k), np.float32)
    td[0, 0] = td[1, 0] = 1.0
    s.get_layer("dense_td").set_weights([td, np.zeros(k, np.float32)])
    u = cfg.lstm_units
    weights = []
    for _ in range(2):  # forward and backward LSTM: gates i, f, c, o
        kernel = np.zeros((k, 4 * u), np.float32)
        kernel[0, 2 * u : 3 * u] = 3.0
        bias = np.zeros(4 * u, np.float32)
        bias[: 2 * u] = bias[3 * u :] = 10.0
        weights += [kernel, np.zeros((u, 4 * u), np.float32), bias]
    s.get_layer("bilstm").set_weights(weights)
    dense_in = cfg.pooled_length * 2 * u
    s.get_layer("dense").set_weights(
        [np.full((dense_in, cfg.dense_units), 0.01, np.float32), np.zeros(cfg.dense_units, np.float32)]
    )
    s.get_layer("output").set_weights(
        [np.full((cfg.dense_units, 1), 0.1, np.float32), np.full(1, -1.0, np.float32)]
    )
    return net, cfg


def test_saliency_peaks_on_planted_site():
    net, _ = motif_head_model()
    rng = np.random.default_rng(11)
    x = _random_inputs(6, SEQ_LEN, 1, seed=11)
    sites = rng.integers(20, SEQ_LEN - 40, size=6)
    consensus = PWM.argmax(axis=1)
    for i, at in enumerate(sites):
        site = consensus if i % 2 == 0 else (3 - consensus)[::-1]  # both strands
        x[i, at : at + PWM.shape[0], :4] = dna.one_hot(site.astype(np.uint8))
    sal = gradient_times_input(input_gradients(net, x), x)
    for i, at in enumerate(sites):
        inside = np.zeros(SEQ_LEN, bool)
        inside[at : at + PWM.shape[0]] = True
        assert inside[np.argmax(sal[i])], (i, at, np.argmax(sal[i]))
        assert (sal[i, inside] > 0).all()  # consensus bases all push the score up
        assert np.abs(sal[i, inside]).sum() > 10 * np.abs(sal[i, ~inside]).sum()


@pytest.fixture
def drawn_titles(monkeypatch) -> list[str]:
    """The title of every saliency figure drawn during the test, in order."""
    from factornet_core import logos

    titles: list[str] = []
    draw = logos.saliency_figure
    monkeypatch.setattr(logos, "saliency_figure", lambda *a, **k: titles.append(a[5]) or draw(*a, **k))
    return titles


def test_interpret_saliency_files(tmp_path, drawn_titles):
    titles = drawn_titles
    net, cfg = motif_head_model()
    model = save_small_model(net, cfg, tmp_path / "m.keras")
    fasta, bw, _, starts, _ = planted_genome(tmp_path, n_sites=4, length=4000, exact=True)
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"chr1\t{s - 5}\t{s + 15}\tsite {i}\n" for i, s in enumerate(starts)))
    out = tmp_path / "sal"
    from factornet_core.meme import Motif, write_meme

    known = tmp_path / "known.meme"
    rng = np.random.default_rng(2)
    write_meme(known, [Motif("DECOY", "", rng.dirichlet(np.ones(4), size=8)), Motif("PLANTED", "", PWM)])
    res = interpret_saliency(
        model, CellType(fasta, {"DNASE": bw}), bed, out, positive_only=True, known=known, cell_name="HepG2"
    )
    assert res.tf == "CTCF"
    assert res.regions["name"].tolist() == ["site_0", "site_1", "site_2", "site_3"]
    # the BED name as given, the region's coordinates once, the window's score
    expected = [
        "CTCF model m.keras in HepG2: saliency, gradient × input (negatives drawn as 0, as computed): "
        f"site {i} chr1:{s - 5}-{s + 15}, model score {row.score:.3f}"
        for i, (s, row) in enumerate(zip(starts, res.regions.itertuples()))
    ]
    assert titles == expected
    from PIL import Image

    with Image.open(out / "saliency.site_2.png") as png:
        assert png.text["Title"] == expected[2]  # what Galaxy's test reads
    for row, s in zip(res.regions.itertuples(), starts):
        centre = (s - 5 + s + 15) // 2
        assert row.window_start == centre - SEQ_LEN // 2
        assert s <= row.peak_position < s + PWM.shape[0]  # the planted site carries the saliency peak
        assert (row.best_motif, row.best_motif_start) == ("PLANTED", s)  # the boxed known-motif hit
        lines = (out / f"saliency.{row.name}.bedGraph").read_text().splitlines()
        assert lines[0].startswith("track type=bedGraph")
        body = pd.DataFrame([ln.split("\t") for ln in lines[1:]], columns=["c", "s", "e", "v"])
        assert len(body) == SEQ_LEN and (body["c"] == "chr1").all()
        assert body["s"].astype(int).tolist() == list(range(row.window_start, row.window_end))
        values = body["v"].astype(float).to_numpy()
        assert (values >= 0).all() and body["s"].astype(int).iloc[np.argmax(values)] == row.peak_position
        per_base = pd.read_csv(out / f"saliency.{row.name}.tsv", sep="\t")
        assert list(per_base.columns) == ["chrom", "start", "end", "base", "saliency", "grad_DNASE", "DNASE"]
        np.testing.assert_allclose(per_base["saliency"], values, rtol=1e-5)
        assert per_base["DNASE"].iloc[s - row.window_start] == 5.0  # the planted DNase bump
        assert (out / f"saliency.{row.name}.png").stat().st_size > 1000


def test_saliency_title_names_the_region_and_the_tf_once():
    subject = "CTCF model m.keras in HepG2"
    named = saliency_title(subject, None, False, "peak1", "chr1", 19120, 19320, 0.91234)
    assert named == (
        "CTCF model m.keras in HepG2: saliency, gradient × input (negatives drawn as 0): "
        "peak1 chr1:19120-19320, model score 0.912"
    )
    # unnamed: its file name chr1_19120_19320 is not repeated before the coordinates
    unnamed = saliency_title(subject, None, True, "", "chr1", 19120, 19320, 0.5)
    assert unnamed == (
        "CTCF model m.keras in HepG2: saliency, gradient × input (negatives drawn as 0, as computed): "
        "chr1:19120-19320, model score 0.500"
    )
    # a BED whose names are the coordinates: said once too
    for name in ("chr1:19120-19320", "chr1_19120_19320"):
        assert saliency_title(subject, None, True, name, "chr1", 19120, 19320, 0.5) == unnamed
    # a multi-TF model: the title says which of its TFs is explained
    assert saliency_title("CTCF, MAX model m.keras in HepG2", "MAX", False, "", "chr1", 0, 200, 0.5) == (
        "CTCF, MAX model m.keras in HepG2: MAX saliency, gradient × input (negatives drawn as 0): "
        "chr1:0-200, model score 0.500"
    )


def test_unnamed_regions_are_titled_by_their_coordinates_alone(tmp_path, drawn_titles):
    titles = drawn_titles
    net, cfg = motif_head_model()
    model = save_small_model(net, cfg, tmp_path / "m.keras")
    fasta, bw, _, _, _ = planted_genome(tmp_path, n_sites=2, length=3000)
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t1000\t1100\nchr1\t2000\t2100\t.\n")  # no name column; name "."
    res = interpret_saliency(model, CellType(fasta, {"DNASE": bw}), bed, tmp_path / "out")
    assert res.regions["name"].tolist() == ["chr1_1000_1100", "chr1_2000_2100"]  # file names
    assert [t.split(": ")[-1] for t in titles] == [
        f"chr1:1000-1100, model score {res.regions['score'][0]:.3f}",
        f"chr1:2000-2100, model score {res.regions['score'][1]:.3f}",
    ]
    assert not any("chr1_1000_1100" in t or "chr1_2000_2100" in t for t in titles)


def _cli(argv, capsys):
    from factornet_tools.cli import main

    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    "case, message",
    [("tf", "not 'GATA1'"), ("outside", "ends past the chromosome end"), ("tracks", "trained on tracks")],
)
def test_cli_saliency_errors(tmp_path, capsys, case, message):
    net, cfg = small_model()
    model = save_small_model(net, cfg, tmp_path / "m.keras")
    fasta, bw, _, _, _ = planted_genome(tmp_path, n_sites=2, length=3000)
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t2900\t3100\n" if case == "outside" else "chr1\t1000\t1100\n")
    out = tmp_path / "out"
    argv = ["interpret", "saliency", "--model", str(model), "--genome", str(fasta), "--regions", str(bed)]
    argv += ["--track", f"{'ATAC' if case == 'tracks' else 'DNASE'}={bw}", "--out-dir", str(out)]
    argv += ["--tf", "GATA1"] if case == "tf" else []
    code, err = _cli(argv, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("factornet interpret saliency: error: "), err
    assert message in err[0]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
