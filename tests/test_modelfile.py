"""The one-file model: save/load round trip, Keras safe mode, card versions, tampered cards, and a
model file written by factornet 0.1.0 (``tests/data``) that must load and predict as it did then."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from factornet_core.card import CARD_VERSION
from factornet_core.errors import FactorNetError
from factornet_core.model import ModelConfig, build_model
from factornet_core.modelfile import CARD_MEMBER, load_model, read_arrays, read_card, save_model
from factornet_tools.cli import main

DATA = Path(__file__).parent / "data"
MODEL_010 = DATA / "model-0.1.0.keras"
EXPECTED_010 = DATA / "model-0.1.0.expected.tsv.gz"
TINY = dict(seq_len=60, kernels=3, kernel_width=6, lstm_units=2, dense_units=4, track_names=("DNASE",))


def tiny_card(cfg: ModelConfig) -> dict:
    return {
        "tfs": ["CTCF"],
        "track_names": list(cfg.track_names),
        "seq_len": cfg.seq_len,
        "config": cfg.to_dict(),
    }


def rewrite_member(path: Path, member: str, text: str) -> None:
    """Replace one member of a zip archive (zipfile cannot overwrite in place)."""
    with zipfile.ZipFile(path) as src:
        items = [(i, src.read(i.filename)) for i in src.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info, data in items:
            dst.writestr(info, text if info.filename == member else data)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    keras.utils.set_random_seed(2)
    cfg = ModelConfig(**TINY)
    model = build_model(cfg)
    path = tmp_path_factory.mktemp("mf") / "m.keras"
    save_model(model, tiny_card(cfg), path, {"basis": np.arange(6.0).reshape(2, 3)})
    return model, cfg, path


def test_round_trip_model_card_and_arrays(saved):
    model, cfg, path = saved
    x = np.random.default_rng(0).random((5, cfg.seq_len, 5)).astype(np.float32)
    loaded = load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.model.predict(x, verbose=0))
    assert loaded.card == read_card(path)
    assert loaded.card.tfs == ("CTCF",) and loaded.card.model_config() == cfg
    np.testing.assert_array_equal(read_arrays(path)["basis"], np.arange(6.0).reshape(2, 3))
    stored = json.loads(zipfile.ZipFile(path).read(CARD_MEMBER))
    assert stored["card_version"] == CARD_VERSION and "format" not in stored


def test_invalid_card_is_never_written(tmp_path):
    cfg = ModelConfig(**TINY)
    with pytest.raises(FactorNetError, match="seq_len"):
        save_model(build_model(cfg), {**tiny_card(cfg), "seq_len": 61}, tmp_path / "m.keras")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: "{not json", "not valid JSON"),
        (lambda c: json.dumps({**c, "backdoor": 1}), "unknown card key backdoor"),
        (lambda c: json.dumps({**c, "seq_len": -5}), "seq_len must be a positive integer"),
        (lambda c: json.dumps({**c, "bin_stride": 0}), "bin_stride must be a positive integer"),
        (lambda c: json.dumps({**c, "track_names": ["DNASE", "ATAC"]}), "config.track_names"),
        (lambda c: json.dumps({**c, "card_version": 99}), "newer factornet"),
        (lambda c: json.dumps({k: v for k, v in c.items() if k != "tfs"}), "lacks tfs"),
    ],
    ids=["json", "unknown-key", "seq_len", "stride", "tracks", "version", "missing"],
)
def test_tampered_card_is_one_clear_error(saved, tmp_path, edit, message):
    _, _, path = saved
    bad = tmp_path / "bad.keras"
    bad.write_bytes(path.read_bytes())
    rewrite_member(bad, CARD_MEMBER, edit(json.loads(zipfile.ZipFile(path).read(CARD_MEMBER))))
    for read in (read_card, load_model):
        with pytest.raises(FactorNetError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
            read(bad)
        assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_safe_mode_refuses_a_lambda_smuggled_into_the_config(saved, tmp_path):
    """A config.json edited to carry a Lambda layer (arbitrary Python) must not be deserialised."""
    marker = tmp_path / "ran"
    # a literal path in the code (not a closure, which Keras cannot serialise); building runs it once
    hook = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")
    hostile = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(hook)])
    _, cfg, _ = saved
    path = tmp_path / "hostile.keras"
    save_model(hostile, tiny_card(cfg), path)
    marker.unlink()
    with pytest.raises(FactorNetError, match="cannot load the Keras model") as err:
        load_model(path)
    assert "lambda" in str(err.value).lower() and not marker.exists()


def test_a_keras_file_without_card_is_refused(tmp_path):
    path = tmp_path / "plain.keras"
    build_model(ModelConfig(**TINY)).save(path)
    with pytest.raises(FactorNetError, match="without a FactorNet card"):
        read_card(path)


# ------------------------------------------------------------------------------- 0.1.0 model files
def write_inputs_010(folder: Path, make_fasta, make_bigwig) -> dict[str, Path]:
    """The inputs the reference predictions were made on: one 3 kb chromosome from a seeded
    generator (independent of ``simulate``), DNASE with one open region, MAPABILITY 1."""
    rng = np.random.default_rng(17)
    seq = "".join(rng.choice(list("ACGT"), 3000))
    dnase = rng.gamma(0.5, 2.0, 3000)
    dnase[1200:1400] += 20.0
    expression = folder / "expression.tsv"
    expression.write_text("gene_id\tvalue\nSIMG00000001.1\t12.3\nSIMG00000002.1\t0.5\nSIMG00000003.1\t7.25\n")
    return {
        "genome": make_fasta({"chr1": seq}),
        "DNASE": make_bigwig({"chr1": dnase}, name="dnase.bw"),
        "MAPABILITY": make_bigwig({"chr1": np.ones(3000)}, name="map.bw"),
        "expression": expression,
    }


def predict_010(files: dict[str, Path], out: Path) -> pd.DataFrame:
    argv = ["predict", "--model", str(MODEL_010), "--genome", str(files["genome"]), "-o", str(out)]
    argv += ["--track", f"DNASE={files['DNASE']}", "--track", f"MAPABILITY={files['MAPABILITY']}"]
    assert main([*argv, "--expression", str(files["expression"]), "--quiet"]) == 0
    return pd.read_csv(out, sep="\t")


def test_010_card_loads_and_is_upgraded():
    raw = json.loads(zipfile.ZipFile(MODEL_010).read(CARD_MEMBER))
    assert raw["format"] == 1 and "card_version" not in raw  # really the old layout
    card = read_card(MODEL_010)
    assert card.card_version == CARD_VERSION and card.factornet_version == "0.1.0"
    assert card.tfs == ("CTCF",) and card.track_names == ("DNASE", "MAPABILITY")
    assert card.features.expression and card.expression_source == "pca" and card.n_expression_pcs == 8
    assert card.training["best_epoch"] == 1 and card.model_config().kernels == 4


def test_010_model_predicts_as_it_did_with_0_1_0(tmp_path, make_fasta, make_bigwig):
    files = write_inputs_010(tmp_path, make_fasta, make_bigwig)
    got = predict_010(files, tmp_path / "p.tsv.gz")
    want = pd.read_csv(EXPECTED_010, sep="\t")
    assert got[["chr", "start", "stop"]].equals(want[["chr", "start", "stop"]]) and len(got) == 57
    np.testing.assert_allclose(got["CTCF"], want["CTCF"], rtol=0, atol=1e-6)
    # the expression PCs really feed the model: another cell type's table gives other scores
    files["expression"].write_text(
        "gene_id\tvalue\nSIMG00000001.1\t0.1\nSIMG00000002.1\t40\nSIMG00000003.1\t0\n"
    )
    other = predict_010(files, tmp_path / "q.tsv.gz")
    assert np.abs(other["CTCF"] - want["CTCF"]).max() > 1e-4
