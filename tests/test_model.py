"""The FactorNet network: exact weight count, strand symmetry, saving, seeding, motif initialisation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from factornet_core import FactorNetError, dna
from factornet_core.model import (
    ModelConfig,
    StrandFlip,
    build_model,
    motif_columns,
    motif_kernel,
    set_motif_kernels,
    strand_model,
)
from factornet_core.modelfile import load_model, read_card, save_model

TINY = dict(seq_len=120, kernels=6, kernel_width=10, lstm_units=4, dense_units=8)


def random_inputs(rng, n, cfg, meta=True):
    codes = rng.integers(0, 5, size=(n, cfg.seq_len))  # 4 = N
    x = np.concatenate(
        [
            dna.one_hot(codes.ravel().astype(np.uint8)).reshape(n, cfg.seq_len, 4),
            rng.gamma(1.0, 1.0, size=(n, cfg.seq_len, len(cfg.track_names))).astype(np.float32),
        ],
        axis=2,
    )
    if cfg.n_meta and meta:
        return x, rng.random((n, cfg.n_meta)).astype(np.float32)
    return x


def test_paper_configuration_has_654657_weights():
    # Table S1: L=1000, w=26, k=32, r=32, d=128, 2 tracks, the 6 GENCODE features as metadata.
    cfg = ModelConfig(seq_len=1000, kernel_width=26, kernels=32, lstm_units=32, dense_units=128, n_meta=6)
    assert build_model(cfg).count_params() == 654_657


def test_output_equals_output_of_reverse_complement_exactly():
    keras.utils.set_random_seed(3)
    cfg = ModelConfig(track_names=("DNASE_fwd", "DNASE_rev", "MAP"), n_meta=3, n_tasks=2, **TINY)
    model = build_model(cfg)
    x, m = random_inputs(np.random.default_rng(0), 16, cfg)
    y = model.predict([x, m], verbose=0)
    y_rc = model.predict([np.ascontiguousarray(dna.reverse_strand(x, cfg.track_names)), m], verbose=0)
    np.testing.assert_array_equal(y, y_rc)
    assert y.shape == (16, 2) and np.all((y > 0) & (y < 1))


def test_strand_flip_layer_matches_numpy_reverse_strand():
    names = ("DNASE_fwd", "DNASE_rev", "MAP")
    x = np.random.default_rng(1).random((3, 7, 7)).astype(np.float32)
    layer = StrandFlip(dna.input_strand_permutation(names))
    np.testing.assert_array_equal(np.asarray(layer(x)), dna.reverse_strand(x, names))
    # and the swap really happened: reversed-strand "fwd" channel = forward "rev" channel read backwards
    np.testing.assert_array_equal(dna.reverse_strand(x, names)[:, :, 4], x[:, ::-1, 5])


def test_prediction_independent_of_batch_size():
    keras.utils.set_random_seed(0)
    cfg = ModelConfig(**TINY)
    model = build_model(cfg)
    x = random_inputs(np.random.default_rng(2), 12, cfg)
    whole = model.predict(x, batch_size=12, verbose=0)
    pieces = np.concatenate([model.predict_on_batch(x[i : i + 5]) for i in range(0, 12, 5)])
    np.testing.assert_allclose(whole, pieces, rtol=0, atol=1e-6)


def test_same_seed_same_weights_other_seed_other_weights():
    cfg = ModelConfig(**TINY)
    keras.utils.set_random_seed(7)
    a = build_model(cfg).get_weights()
    keras.utils.set_random_seed(7)
    b = build_model(cfg).get_weights()
    keras.utils.set_random_seed(8)
    c = build_model(cfg).get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c, strict=True))


def test_save_load_gives_identical_predictions_and_card(tmp_path):
    keras.utils.set_random_seed(1)
    cfg = ModelConfig(n_meta=2, **TINY)
    model = build_model(cfg)
    x, m = random_inputs(np.random.default_rng(3), 8, cfg)
    path = tmp_path / "m.keras"
    card = {
        "tfs": ["CTCF"],
        "track_names": list(cfg.track_names),
        "seq_len": cfg.seq_len,
        "features": {"expression": True},
        "metadata_names": ["PC1", "PC2"],
        "config": cfg.to_dict(),
    }
    save_model(model, card, path, {"basis": np.arange(6.0).reshape(2, 3)})
    loaded = load_model(path)
    np.testing.assert_array_equal(model.predict([x, m], verbose=0), loaded.model.predict([x, m], verbose=0))
    assert loaded.card.tfs == ("CTCF",) and read_card(path).config["kernels"] == 6
    np.testing.assert_array_equal(loaded.arrays["basis"], np.arange(6.0).reshape(2, 3))
    assert loaded.card.model_config() == cfg
    assert not list(tmp_path.glob(".*part*")), "temporary files left behind"


def test_config_validation():
    with pytest.raises(FactorNetError, match="unknown model setting"):
        ModelConfig.from_dict({"kernels": 4, "kernal_width": 3})
    with pytest.raises(FactorNetError, match="too short"):
        ModelConfig(seq_len=30, kernel_width=26)  # conv 5 positions < pool 13
    with pytest.raises(FactorNetError, match="dropout"):
        ModelConfig(dropout=1.0)


def test_motif_kernel_scaling():
    pwm = np.array([[0.97, 0.01, 0.01, 0.01], [0.01, 0.01, 0.97, 0.01], [0.25, 0.25, 0.25, 0.25]])
    kernel, bias = motif_kernel(pwm, kernel_width=5, n_channels=6, scale=0.1)
    logodds = np.log((pwm + 0.01) / 0.26)
    smax = logodds.max(axis=1).sum()
    assert bias == pytest.approx(-0.1 * smax / 2)
    np.testing.assert_allclose(kernel[1:4, :4], 0.1 * logodds, rtol=1e-6)  # centred: offset 1
    assert np.all(kernel[:, 4:] == 0) and np.all(kernel[0] == 0) and np.all(kernel[4] == 0)
    site = dna.one_hot("NAGAN")
    assert float((kernel[:, :4] * site).sum() + bias) == pytest.approx(0.1 * smax / 2, rel=1e-5)


def test_a_motif_wider_than_the_kernel_gives_its_central_columns():
    assert motif_columns(19, 26) == (0, 19)  # fits: every column
    assert motif_columns(26, 26) == (0, 26)
    assert motif_columns(30, 26) == (2, 28)  # 2 cut at each end
    assert motif_columns(27, 26) == (0, 26)  # the odd column goes at the end
    assert motif_columns(22, 20) == (1, 21)
    pwm = np.random.default_rng(0).dirichlet(np.ones(4), size=30)
    kernel, bias = motif_kernel(pwm, kernel_width=26, n_channels=5)
    central, central_bias = motif_kernel(pwm[2:28], kernel_width=26, n_channels=5)
    np.testing.assert_array_equal(kernel, central)
    assert bias == central_bias


def test_set_motif_kernels_detects_both_strands():
    keras.utils.set_random_seed(0)
    cfg = ModelConfig(**TINY)
    model = build_model(cfg)
    pwm = np.eye(4)[[0, 0, 2, 3, 1, 2]] * 0.96 + 0.01  # AAGTCG
    set_motif_kernels(model, pwm)
    w, b = strand_model(model).get_layer("conv_motifs").get_weights()
    fwd_site = dna.one_hot("AAGTCG")
    rc_site = dna.one_hot(dna.reverse_complement("AAGTCG"))
    off = (cfg.kernel_width - 6) // 2
    assert (w[off : off + 6, :4, 0] * fwd_site).sum() == pytest.approx(
        (w[off : off + 6, :4, 1] * rc_site).sum()
    )
    assert (w[off : off + 6, :4, 0] * fwd_site).sum() + b[0] > 0
