"""factornet_core.legacy / ``factornet import-legacy``: original FactorNet (Keras 1.1, Theano) models.

The reference is an independent NumPy forward pass of the *legacy* graph on the *stored* weights:
true convolution with the unflipped Theano kernel, per-gate LSTM with Keras 1's hard sigmoid, the backward
LSTM's output re-reversed, concat, flatten, dense, metadata concat, sigmoid, and the average with the
reverse-complement strand computed as the original DataIterator did.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from factornet_core import legacy
from factornet_core.errors import FactorNetError
from factornet_core.modelfile import load_model, read_card
from factornet_tools.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LEGACY_MODELS = SHARED / "legacy-models"
FOXA1 = LEGACY_MODELS / "FOXA1__onePeak_DGF"
GABPA = LEGACY_MODELS / "GABPA__metaGENCODE_RNAseq_Unique35_DGF"
GATES = ("i", "c", "f", "o")  # Keras 1 storage order


# ------------------------------------------------------------------------ a Keras-1 model folder
def _node(*refs):
    return [[r, n, 0] for r, n in refs]


def _shared(cls, name, config, prev):
    """A layer shared by both strands: node 0 on the forward chain, node 1 on the reverse chain."""
    return {
        "class_name": cls,
        "name": name,
        "config": {"name": name, **config},
        "inbound_nodes": [_node((prev, 0)), _node((prev, 1))],
    }


def _dense_cfg(units, activation):
    return {"output_dim": units, "activation": activation, "bias": True, "init": "glorot_uniform"}


def make_model_json(L, C, k, w, pool, r, d, n_tasks, n_meta, meta_first=False):
    """Keras 1.1 ``model.to_json()`` of FactorNet's make_model / make_meta_model (as the released files)."""
    inp = {"batch_input_shape": [None, L, C], "input_dtype": "float32", "sparse": False}
    layers = [
        {
            "class_name": "InputLayer",
            "name": "input_1",
            "config": {"name": "input_1", **inp},
            "inbound_nodes": [],
        },
        {
            "class_name": "InputLayer",
            "name": "input_2",
            "config": {"name": "input_2", **inp},
            "inbound_nodes": [],
        },
    ]
    conv = {
        "nb_filter": k,
        "filter_length": w,
        "border_mode": "valid",
        "activation": "relu",
        "subsample_length": 1,
        "bias": True,
        "input_dim": C,
        "batch_input_shape": [None, None, C],
    }
    layers.append(
        {
            "class_name": "Convolution1D",
            "name": "convolution1d_1",
            "config": {"name": "convolution1d_1", **conv},
            "inbound_nodes": [_node(("input_1", 0)), _node(("input_2", 0))],
        }
    )
    lstm = {
        "class_name": "LSTM",
        "config": {
            "name": "forward_lstm_1",
            "output_dim": r,
            "activation": "tanh",
            "inner_activation": "hard_sigmoid",
            "return_sequences": True,
            "go_backwards": False,
            "consume_less": "cpu",
            "dropout_W": 0.1,
            "dropout_U": 0.1,
            "input_dim": k,
        },
    }
    td = {"layer": {"class_name": "Dense", "config": {"name": "dense_1", **_dense_cfg(k, "relu")}}}
    chain = [
        ("Dropout", "dropout_1", {"p": 0.1}),
        ("TimeDistributed", "timedistributed_1", td),
        ("MaxPooling1D", "maxpooling1d_1", {"pool_length": pool, "stride": pool, "border_mode": "valid"}),
        ("Bidirectional", "bidirectional_1", {"merge_mode": "concat", "layer": lstm}),
        ("Dropout", "dropout_2", {"p": 0.2}),
        ("Flatten", "flatten_1", {}),
        ("Dense", "dense_2", _dense_cfg(d, "relu")),
    ]
    prev = "convolution1d_1"
    for cls, name, config in chain:
        layers.append(_shared(cls, name, config, prev))
        prev = name
    if n_meta:
        layers.append(
            {
                "class_name": "InputLayer",
                "name": "input_3",
                "inbound_nodes": [],
                "config": {"name": "input_3", "batch_input_shape": [None, n_meta], "input_dtype": "float32"},
            }
        )
        for i, strand in ((1, 0), (2, 1)):
            refs = (
                [("input_3", 0), ("dense_2", strand)] if meta_first else [("dense_2", strand), ("input_3", 0)]
            )
            layers.append(
                {
                    "class_name": "Merge",
                    "name": f"merge_{i}",
                    "config": {"name": f"merge_{i}", "mode": "concat", "concat_axis": -1},
                    "inbound_nodes": [_node(*refs)],
                }
            )
        layers.append(
            {
                "class_name": "Dense",
                "name": "dense_3",
                "config": {"name": "dense_3", **_dense_cfg(d, "relu")},
                "inbound_nodes": [_node(("merge_1", 0)), _node(("merge_2", 0))],
            }
        )
        prev, out_name, merge_name = "dense_3", "dense_4", "merge_3"
        inputs = [["input_1", 0, 0], ["input_2", 0, 0], ["input_3", 0, 0]]
    else:
        out_name, merge_name = "dense_3", "merge_1"
        inputs = [["input_1", 0, 0], ["input_2", 0, 0]]
    layers.append(_shared("Dense", out_name, _dense_cfg(n_tasks, "sigmoid"), prev))
    layers.append(
        {
            "class_name": "Merge",
            "name": merge_name,
            "config": {"name": merge_name, "mode": "ave", "concat_axis": -1},
            "inbound_nodes": [_node((out_name, 0), (out_name, 1))],
        }
    )
    return {
        "class_name": "Model",
        "keras_version": "1.1.1",
        "config": {
            "name": "model_1",
            "layers": layers,
            "input_layers": inputs,
            "output_layers": [[merge_name, 0, 0]],
        },
    }


def make_weights(rng, C, k, w, r, d, n_tasks, n_meta, n_flat, meta_first=False):
    """Random weights ``{layer: {weight name: array}}`` in the Keras 1 HDF5 layout and shapes."""

    def normal(*shape, scale=0.3):
        return (rng.normal(size=shape) * scale).astype(np.float32)

    weights = {
        "convolution1d_1": {
            "convolution1d_1_W": normal(w, 1, C, k),
            "convolution1d_1_b": normal(k, scale=0.1),
        },
        "timedistributed_1": {"dense_1_W": normal(k, k, scale=0.5), "dense_1_b": normal(k, scale=0.1)},
        "dense_2": {
            "dense_2_W": normal(n_flat, d, scale=1 / np.sqrt(n_flat) * 2),
            "dense_2_b": normal(d, scale=0.1),
        },
    }
    lstm = {}
    for direction in ("forward", "backward"):
        for g in GATES:
            lstm[f"{direction}_lstm_1_W_{g}"] = normal(k, r, scale=0.5)
            lstm[f"{direction}_lstm_1_U_{g}"] = normal(r, r, scale=0.5)
            lstm[f"{direction}_lstm_1_b_{g}"] = normal(r, scale=0.3)
    weights["bidirectional_1"] = lstm
    if n_meta:
        weights["dense_3"] = {
            "dense_3_W": normal(d + n_meta, d, scale=0.5),
            "dense_3_b": normal(d, scale=0.1),
        }
        weights["dense_4"] = {
            "dense_4_W": normal(d, n_tasks, scale=0.5),
            "dense_4_b": normal(n_tasks, scale=0.1),
        }
    else:
        weights["dense_3"] = {
            "dense_3_W": normal(d, n_tasks, scale=0.5),
            "dense_3_b": normal(n_tasks, scale=0.1),
        }
    return weights


def write_weights(path: Path, layer_names: list[str], weights: dict) -> None:
    """Keras 1 ``save_weights`` layout: root attr layer_names; per layer a group with attr weight_names."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layer_names])
        for name in layer_names:
            group = f.create_group(name)
            ws = weights.get(name, {})
            if (
                name == "bidirectional_1"
            ):  # the stored order: forward then backward, gates W, U, b per i, c, f, o
                order = [f"{d}_lstm_1_{p}_{g}" for d in ("forward", "backward") for g in GATES for p in "WUb"]
            else:
                order = list(ws)
            group.attrs["weight_names"] = np.array([n.encode() for n in order])
            for n in order:
                group.create_dataset(n, data=ws[n])


def write_legacy_folder(
    folder: Path,
    rng,
    *,
    L=64,
    tracks=("DGF_fwd", "DGF_rev", "Unique35"),
    k=6,
    w=7,
    pool=4,
    r=5,
    d=8,
    tfs=("GABPA",),
    meta_names=(),
    gencode=False,
    meta_first=False,
    weights_name="best_model.hdf5",
):
    folder.mkdir(parents=True, exist_ok=True)
    C = 4 + len(tracks)
    n_meta = len(meta_names) + (6 if gencode else 0)
    model_json = make_model_json(L, C, k, w, pool, r, d, len(tfs), n_meta, meta_first)
    (folder / "model.json").write_text(json.dumps(model_json))
    n_flat = ((L - w + 1) // pool) * 2 * r
    weights = make_weights(rng, C, k, w, r, d, len(tfs), n_meta, n_flat, meta_first)
    write_weights(folder / weights_name, [layer["name"] for layer in model_json["config"]["layers"]], weights)
    (folder / "bigwig.txt").write_text("".join(t + "\n" for t in tracks))
    (folder / "chip.txt").write_text("".join(t + "\n" for t in tfs))
    flags = ["bigwig"] + (["meta"] if meta_names else []) + (["gencode"] if gencode else [])
    (folder / "feature.txt").write_text("".join(f + "\n" for f in flags))
    if meta_names:
        (folder / "meta.txt").write_text("".join(m + "\n" for m in meta_names))
    return weights


# --------------------------------------------------------------------- independent NumPy reference
def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def relu(x):
    return np.maximum(x, 0.0)


def original_rc(x, track_names):
    """The original DataIterator: ``seq[:, ::-1, ::-1]``; tracks ``[:, ::-1, get_bigwig_rc_order(names)]``."""
    names = list(track_names)
    rc_order = np.arange(len(names))
    for ind, name in enumerate(names):
        if name[-4:] == "_fwd":
            rc_order[names.index(name[:-4] + "_rev")] = ind
        if name[-4:] == "_rev":
            rc_order[names.index(name[:-4] + "_fwd")] = ind
    return np.concatenate([x[:, ::-1, :4][:, :, ::-1], x[:, ::-1, 4:][:, :, rc_order]], axis=-1)


def np_lstm(xs, p, prefix):
    """Keras 1 LSTM over ``xs (T, in)``; returns outputs in processing order."""
    g = {n: p[f"{prefix}_{n}"].astype(np.float64) for n in (f"{a}_{b}" for a in "WUb" for b in GATES)}
    h = np.zeros(g["b_i"].shape)
    c = np.zeros_like(h)
    out = []
    for x in xs:
        i = hard_sigmoid(x @ g["W_i"] + g["b_i"] + h @ g["U_i"])
        f = hard_sigmoid(x @ g["W_f"] + g["b_f"] + h @ g["U_f"])
        c = f * c + i * np.tanh(x @ g["W_c"] + g["b_c"] + h @ g["U_c"])
        o = hard_sigmoid(x @ g["W_o"] + g["b_o"] + h @ g["U_o"])
        h = o * np.tanh(c)
        out.append(h)
    return np.array(out)


def np_strand(x, meta, W, pool, meta_first=False, flip=True):
    """One strand of the legacy network for one example ``x (L, C)``."""
    conv_w = W["convolution1d_1"]["convolution1d_1_W"].astype(np.float64)[:, 0]  # (w, C, k), as stored
    if not flip:  # the mistake the importer must avoid: treating Theano's kernel as a cross-correlation
        conv_w = conv_w[::-1]
    width = conv_w.shape[0]
    n_out = x.shape[0] - width + 1
    # Theano conv2d (filter_flip=True): y[t] = sum_u x[t + width - 1 - u] @ W[u]  (a true convolution)
    y = np.zeros((n_out, conv_w.shape[2]))
    for u in range(width):
        y += x[width - 1 - u : width - 1 - u + n_out] @ conv_w[u]
    y = relu(y + W["convolution1d_1"]["convolution1d_1_b"])
    td = W["timedistributed_1"]
    y = relu(y @ td["dense_1_W"] + td["dense_1_b"])
    n_pool = n_out // pool
    y = y[: n_pool * pool].reshape(n_pool, pool, -1).max(axis=1)
    p = W["bidirectional_1"]
    fwd = np_lstm(y, p, "forward_lstm_1")
    bwd = np_lstm(y[::-1], p, "backward_lstm_1")[::-1]  # go_backwards, then Bidirectional re-reverses
    y = np.concatenate([fwd, bwd], axis=1).reshape(-1)  # Flatten: row-major over (time, features)
    y = relu(y @ W["dense_2"]["dense_2_W"] + W["dense_2"]["dense_2_b"])
    if meta is not None:
        y = np.concatenate([meta, y] if meta_first else [y, meta])
        y = relu(y @ W["dense_3"]["dense_3_W"] + W["dense_3"]["dense_3_b"])
        out = W["dense_4"]
        z = y @ out["dense_4_W"] + out["dense_4_b"]
    else:
        z = y @ W["dense_3"]["dense_3_W"] + W["dense_3"]["dense_3_b"]
    return 1.0 / (1.0 + np.exp(-z))


def np_forward(x, meta, W, track_names, pool, meta_first=False, flip=True):
    x = x.astype(np.float64)
    x_rc = original_rc(x, track_names)
    out = []
    for i in range(x.shape[0]):
        m = None if meta is None else meta[i].astype(np.float64)
        out.append(
            (np_strand(x[i], m, W, pool, meta_first, flip) + np_strand(x_rc[i], m, W, pool, meta_first, flip))
            / 2
        )
    return np.array(out)


def random_inputs(rng, n, L, n_tracks, n_meta):
    codes = rng.integers(0, 5, size=(n, L))  # 4 = N → all-zero row
    seq = np.zeros((n, L, 4), np.float32)
    for b in range(4):
        seq[..., b] = codes == b
    signal = rng.gamma(1.0, 1.0, size=(n, L, n_tracks)).astype(np.float32)
    x = np.concatenate([seq, signal], axis=-1)
    meta = rng.normal(size=(n, n_meta)).astype(np.float32) if n_meta else None
    return x, meta


def ours(model, x, meta):
    return np.asarray(model.predict_on_batch(x if meta is None else (x, meta)), dtype=np.float64)


# ------------------------------------------------------------------------------- 1. exact agreement
@pytest.mark.parametrize(
    "spec",
    [
        {"tfs": ("FOXA1",)},
        {"tfs": ("GABPA", "CTCF"), "meta_names": ("GEPC1", "GEPC2"), "gencode": True},
        {"tfs": ("GABPA",), "meta_names": ("GEPC1",), "gencode": False, "meta_first": True},
    ],
    ids=["plain", "meta-gencode-multitask", "meta-first"],
)
def test_imported_model_equals_numpy_legacy_forward_pass(tmp_path, rng, spec):
    tracks = ("DGF_fwd", "DGF_rev", "Unique35")
    W = write_legacy_folder(tmp_path / "legacy", rng, tracks=tracks, **spec)
    out = tmp_path / "imported.keras"
    result = legacy.import_legacy(tmp_path / "legacy", out)
    assert result.weights_file.name == "best_model.hdf5"
    loaded = load_model(out)  # through the saved file: safe mode, registered activation
    cfg = loaded.card.config
    assert cfg["recurrent_activation"] == "keras1_hard_sigmoid"
    n_meta = cfg["n_meta"]
    x, meta = random_inputs(rng, 6, 64, len(tracks), n_meta)
    got = ours(loaded.model, x, meta)
    want = np_forward(x, meta, W, tracks, pool=4, meta_first=spec.get("meta_first", False))
    assert got.shape == want.shape == (6, len(spec["tfs"]))
    assert want.std() > 0.01  # not saturated: the comparison means something
    assert np.max(np.abs(got - want)) <= 1e-5
    # the reference is sensitive to the kernel flip (so agreement is not an accident)
    unflipped = np_forward(x, meta, W, tracks, pool=4, meta_first=spec.get("meta_first", False), flip=False)
    assert np.max(np.abs(unflipped - want)) > 1e-3


def test_card_has_training_keys_and_legacy_names(tmp_path, rng):
    write_legacy_folder(
        tmp_path / "legacy",
        rng,
        tfs=("GABPA",),
        meta_names=("GEPC1", "GEPC2"),
        gencode=True,
        weights_name="final_model.hdf5",
    )
    out = tmp_path / "m.keras"
    assert main(["import-legacy", str(tmp_path / "legacy"), "--out", str(out)]) == 0
    card = read_card(out).to_dict()
    for key in (
        "kind",
        "mode",
        "config",
        "track_names",
        "tfs",
        "seq_len",
        "bin_size",
        "bin_stride",
        "features",
        "metadata_names",
        "chrom_naming",
        "training",
        "provenance",
    ):
        assert key in card
    assert card["track_names"] == ["DGF_fwd", "DGF_rev", "Unique35"]
    assert card["tfs"] == ["GABPA"] and card["mode"] == "single-task"
    assert (card["seq_len"], card["bin_size"], card["bin_stride"], card["chrom_naming"]) == (
        64,
        200,
        50,
        "ucsc",
    )
    assert card["features"] == {"expression": True, "gencode": True}
    assert card["metadata_names"] == ["GEPC1", "GEPC2", "cpg", "cds", "intron", "promoter", "utr5", "utr3"]
    assert card["provenance"]["created_by"] == legacy.PROVENANCE == "imported from FactorNet Keras-1"
    assert card["provenance"]["weights_file"] == "final_model.hdf5"


def test_lstm_gate_reordering_hand_made():
    gates = {
        f"{p}_{g}": np.full((1, 1) if p != "b" else (1,), float(i), np.float32)
        for i, g in enumerate("icfo")
        for p in "WUb"
    }
    kernel, recurrent, bias = legacy.lstm_from_keras1(gates)
    assert kernel.tolist() == [[0.0, 2.0, 1.0, 3.0]]  # i, f, c, o
    assert recurrent.tolist() == [[0.0, 2.0, 1.0, 3.0]] and bias.tolist() == [0.0, 2.0, 1.0, 3.0]
    w = np.arange(3 * 1 * 2 * 1, dtype=np.float32).reshape(3, 1, 2, 1)
    assert legacy.conv_kernel_from_theano(w)[:, :, 0].tolist() == [[4, 5], [2, 3], [0, 1]]


# ------------------------------------------------------------------------------- 2. the real models
def _column_pcc(kernel_pwm, motif):
    """Best ungapped alignment, mean column-wise Pearson r of motif vs kernel PWM, either strand."""
    best = -1.0
    for cand in (motif, motif[::-1, ::-1]):
        m = cand.shape[0]
        for off in range(kernel_pwm.shape[0] - m + 1):
            a = kernel_pwm[off : off + m] - kernel_pwm[off : off + m].mean(1, keepdims=True)
            b = cand - cand.mean(1, keepdims=True)
            r = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-12)
            best = max(best, float(r.mean()))
    return best


def _best_kernel_pcc(kernels, motif):
    """``kernels (w, 4, k)`` weights → per-position softmax PWM → best correlation over kernels."""
    e = np.exp(kernels - kernels.max(axis=1, keepdims=True))
    pwms = e / e.sum(axis=1, keepdims=True)
    return max(_column_pcc(pwms[:, :, j], motif) for j in range(pwms.shape[2]))


@pytest.mark.shared
@pytest.mark.skipif(not LEGACY_MODELS.is_dir(), reason="../shared/data not present")
@pytest.mark.parametrize("folder,motif", [(FOXA1, "FOXA1_f1"), (GABPA, "GABPA_f1")], ids=["FOXA1", "GABPA"])
def test_real_models_import_predict_and_carry_the_motif(tmp_path, rng, folder, motif):
    from factornet_core.meme import read_meme
    from factornet_core.model import strand_model

    out = tmp_path / "m.keras"
    legacy.import_legacy(folder, out)
    loaded = load_model(out)
    card = loaded.card.to_dict()
    assert card["seq_len"] == 1002 and card["tfs"] == [motif.split("_")[0]]
    assert card["track_names"] == (["DGF"] if folder == FOXA1 else ["Unique35", "DGF"])
    assert card["config"]["kernel_width"] == 34 and card["config"]["pool"] == 17
    n_meta = card["config"]["n_meta"]
    assert n_meta == (0 if folder == FOXA1 else 14)
    x, meta = random_inputs(rng, 3, 1002, len(card["track_names"]), n_meta)
    if meta is not None:
        meta[:, 8:] = meta[:, 8:] > 0  # the GENCODE flags are 0/1
    got = ours(loaded.model, x, meta)
    assert np.all((got > 0) & (got < 1))
    # the real weights through the independent legacy forward pass
    stored = legacy.read_weights(folder / "final_model.hdf5")
    want = np_forward(x, meta, stored, card["track_names"], pool=17)
    assert np.max(np.abs(got - want)) <= 1e-5

    # Flipped first-layer kernels contain the TF's HOCOMOCO motif. Measured (mean column Pearson r of
    # the softmax PWM, best kernel/offset/strand): FOXA1 0.926, GABPA 0.952 flipped; 0.681 / 0.499 unflipped;
    # 32 kernels with their weights shuffled reach at most 0.71 (50 shuffles each). Bound 0.85 sits
    # between the null's maximum and the measured values.
    pwm = read_meme(SHARED / "motifs" / "HOCOMOCOv9.meme")[motif].pwm
    kernels = strand_model(loaded.model).get_layer("conv_motifs").get_weights()[0][:, :4, :]
    flipped = _best_kernel_pcc(kernels.astype(np.float64), pwm)
    unflipped = _best_kernel_pcc(kernels[::-1].astype(np.float64), pwm)
    assert flipped >= 0.85
    assert flipped > unflipped + 0.15


# ------------------------------------------------------------------------ 3. factornet predict
@pytest.mark.shared
@pytest.mark.skipif(not LEGACY_MODELS.is_dir(), reason="../shared/data not present")
def test_predict_cli_on_imported_foxa1(tmp_path, rng, make_fasta, make_bigwig, capsys):
    import gzip

    model = tmp_path / "foxa1.keras"
    assert main(["import-legacy", str(FOXA1), "--out", str(model)]) == 0
    n = 20_000
    genome = make_fasta({"chr1": "".join(rng.choice(list("ACGT"), n))})
    dgf = make_bigwig({"chr1": rng.gamma(0.5, 2.0, n)}, name="HepG2.DGF.bigWig")
    out = tmp_path / "pred.tsv.gz"
    rc = main(
        [
            "predict",
            "--model",
            str(model),
            "--genome",
            str(genome),
            "--track",
            f"DGF={dgf}",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    with gzip.open(out, "rt") as handle:
        header = handle.readline().split()
        rows = [line.split() for line in handle]
    assert header == ["chr", "start", "stop", "FOXA1"]
    assert len(rows) == (n - 200) // 50 + 1
    scores = np.array([float(r[3]) for r in rows])
    assert np.all((scores > 0) & (scores < 1)) and scores.std() > 0


@pytest.mark.shared
@pytest.mark.skipif(not LEGACY_MODELS.is_dir(), reason="../shared/data not present")
def test_predict_cli_on_imported_gabpa_needs_expression_values(
    tmp_path, rng, make_fasta, make_bigwig, capsys
):
    """The 8 expression PCs of the original cannot be recomputed (no PCA basis was released):
    ``factornet predict`` refuses cleanly until it accepts per-cell values (the original meta.txt)."""
    model = tmp_path / "gabpa.keras"
    assert main(["import-legacy", str(GABPA), "--out", str(model)]) == 0
    assert read_card(model).expression_source == "meta_values"
    genome = make_fasta({"chr1": "".join(rng.choice(list("ACGT"), 5000))})
    tracks = [f"{t}={make_bigwig({'chr1': rng.random(5000)}, name=f'{t}.bw')}" for t in ("Unique35", "DGF")]
    capsys.readouterr()
    rc = main(
        [
            "predict",
            "--model",
            str(model),
            "--genome",
            str(genome),
            "--track",
            tracks[0],
            "--track",
            tracks[1],
            "--out",
            str(tmp_path / "p.tsv"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--meta-values" in err[0]
    # With the published per-cell PCs (the original meta.txt layout) and the six annotation BEDs it runs.
    meta = tmp_path / "HepG2.meta.txt"
    meta.write_text("".join(f"{v} GEPC{i + 1}\n" for i, v in enumerate(rng.normal(size=8))))
    beds = tmp_path / "beds"
    beds.mkdir()
    for i, name in enumerate(("cpg", "cds", "intron", "promoter", "utr5", "utr3")):
        (beds / f"{name}.bed").write_text(f"chr1\t{500 * i}\t{500 * i + 700}\n")
    out = tmp_path / "p.tsv"
    argv = [
        "predict",
        "--model",
        str(model),
        "--genome",
        str(genome),
        "--track",
        tracks[0],
        "--track",
        tracks[1],
    ]
    argv += ["--meta-values", str(meta), "--annotation-beds", str(beds), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["chr", "start", "stop", "GABPA"] and len(table) == (5000 - 200) // 50 + 1
    assert ((table["GABPA"] > 0) & (table["GABPA"] < 1)).all() and table["GABPA"].nunique() > 10


# ------------------------------------------------------------------------------- 4. bad input
def _run_error(capsys, argv):
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("factornet import-legacy: error: ")
    return err[0]


def test_missing_files_are_named(tmp_path, rng, capsys):
    folder = tmp_path / "legacy"
    write_legacy_folder(folder, rng, meta_names=("GEPC1",))
    (folder / "best_model.hdf5").unlink()
    (folder / "meta.txt").unlink()
    msg = _run_error(capsys, ["import-legacy", str(folder), "--out", str(tmp_path / "m.keras")])
    assert "best_model.hdf5 or final_model.hdf5" in msg and "meta.txt" in msg
    assert not (tmp_path / "m.keras").exists()
    msg = _run_error(capsys, ["import-legacy", str(tmp_path / "nope"), "--out", str(tmp_path / "m.keras")])
    assert "nope" in msg


def test_unknown_layers_are_named(tmp_path, rng, capsys):
    folder = tmp_path / "legacy"
    write_legacy_folder(folder, rng)
    spec = json.loads((folder / "model.json").read_text())
    for layer in spec["config"]["layers"]:
        if layer["name"] == "maxpooling1d_1":
            layer["class_name"] = "GlobalMaxPooling1D"
        if layer["name"] == "flatten_1":
            layer["class_name"] = "Highway"
    (folder / "model.json").write_text(json.dumps(spec))
    msg = _run_error(capsys, ["import-legacy", str(folder), "--out", str(tmp_path / "m.keras")])
    assert "maxpooling1d_1 (GlobalMaxPooling1D)" in msg and "flatten_1 (Highway)" in msg


def test_weights_that_do_not_fit_the_architecture(tmp_path, rng, capsys):
    folder = tmp_path / "legacy"
    write_legacy_folder(folder, rng)
    with h5py.File(folder / "best_model.hdf5", "a") as f:  # a conv kernel 1 bp wider than model.json says
        del f["convolution1d_1/convolution1d_1_W"]
        f["convolution1d_1"].create_dataset("convolution1d_1_W", data=np.zeros((8, 1, 7, 6), np.float32))
    msg = _run_error(capsys, ["import-legacy", str(folder), "--out", str(tmp_path / "m.keras")])
    assert "convolution1d_1" in msg and "do not fit" in msg
    assert not (tmp_path / "m.keras").exists()


def test_tracks_and_metadata_must_match_model_json(tmp_path, rng):
    folder = tmp_path / "legacy"
    write_legacy_folder(folder, rng, meta_names=("GEPC1",), gencode=True)
    (folder / "bigwig.txt").write_text("DGF\n")
    with pytest.raises(FactorNetError, match="4 \\+ tracks"):
        legacy.import_legacy(folder, tmp_path / "m.keras")
    (folder / "bigwig.txt").write_text("DGF_fwd\nDGF_rev\nUnique35\n")
    (folder / "feature.txt").write_text("bigwig\nmeta\n")
    with pytest.raises(FactorNetError, match="metadata inputs"):
        legacy.import_legacy(folder, tmp_path / "m.keras")
