"""Import an original FactorNet model (Keras 1.1, Theano backend) as a one-file Keras 3 model.

An original model folder holds ``model.json`` (Keras 1 architecture), ``best_model.hdf5`` or
``final_model.hdf5`` (weights from ``save_weights``), ``bigwig.txt`` (track names in input order),
``chip.txt`` (TF names), ``feature.txt`` (``bigwig``, ``meta``, ``gencode`` flags) and, for ``meta``
models, ``meta.txt`` (metadata names, one a line; a data folder's ``value name`` lines work too).

What the legacy graph is, and how it maps onto :func:`factornet_core.model.build_model`:

* Two sequence inputs ``input_1`` (forward) and ``input_2`` (the reverse complement, made outside the
  network: sequence ``x[:, ::-1, ::-1]``, tracks reversed with ``*_fwd``/``*_rev`` swapped — exactly our
  :class:`~factornet_core.model.StrandFlip`), one shared layer stack applied to both, and a
  ``Merge(mode='ave')`` of the two sigmoid outputs. Metadata models add ``input_3`` (n_meta,), one
  ``Merge(mode='concat')`` per strand of the strand's dense output with it, a shared ``Dense(relu)``
  (our ``dense_meta``) and the sigmoid.
* HDF5: one group per layer with attribute ``weight_names``; datasets named ``<layer>_W`` / ``<layer>_b``.
* ``Convolution1D`` W is ``(w, 1, C, k)``. Theano's ``conv2d`` flips the filter (true convolution), so
  our cross-correlating ``Conv1D`` gets ``W[::-1, 0]`` — the flipped kernels are the ones that match
  known motifs.
* ``TimeDistributed(Dense)``, ``Dense``: W ``(in, out)``, b ``(out,)`` — as Keras 3. ``Flatten`` is row-major
  over ``(time, features)`` in Theano and TensorFlow alike.
* ``Bidirectional(LSTM)`` stores ``forward_lstm_1_{W,U,b}_{i,c,f,o}`` then ``backward_lstm_1_...``
  (gate order i, c, f, o; W ``(in, r)``, U ``(r, r)``, b ``(r,)``); Keras 3 concatenates gates as
  i, f, c, o. Keras 1 re-reversed the backward output before ``concat``, as Keras 3 does. The gates used
  ``inner_activation='hard_sigmoid'`` = clip(0.2·x + 0.5, 0, 1), so the imported model uses
  ``recurrent_activation="keras1_hard_sigmoid"`` (which also rules out the fused cuDNN LSTM kernel).
* Dropout layers (and the LSTM's ``dropout_W``/``dropout_U``) do nothing at prediction time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factornet_core import __version__
from factornet_core.card import Features, ModelCard, make_card
from factornet_core.errors import FactorNetError
from factornet_core.legacy_arch import (  # noqa: F401  (re-exported: legacy.parse_architecture)
    KNOWN_LAYERS,
    LegacyArchitecture,
    parse_architecture,
)
from factornet_core.wording import noun

PROVENANCE = "imported from FactorNet Keras-1"
WEIGHT_FILES = ("best_model.hdf5", "final_model.hdf5")
KERAS1_GATES = ("i", "c", "f", "o")  # order in the HDF5 file
KERAS3_GATES = ("i", "f", "c", "o")  # order of the concatenated Keras 3 LSTM weights


# ------------------------------------------------------------------------------ pure array functions
def conv_kernel_from_theano(w: np.ndarray) -> np.ndarray:
    """Keras 1/Theano ``Convolution1D`` W ``(w, 1, C, k)`` → Keras 3 ``Conv1D`` kernel ``(w, C, k)``.

    Theano convolved (flipped the filter along positions); Keras 3 cross-correlates, so flip it back.
    """
    w = np.asarray(w)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(f"expected a (width, 1, channels, kernels) array, got shape {w.shape}")
    return np.ascontiguousarray(w[::-1, 0, :, :])


def lstm_from_keras1(gates: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Per-gate Keras 1 LSTM weights ``{"W_i": (in, r), "U_i": (r, r), "b_i": (r,), ...}`` →
    Keras 3 ``[kernel (in, 4r), recurrent_kernel (r, 4r), bias (4r,)]`` with gates in i, f, c, o order."""
    return [np.concatenate([gates[f"{p}_{g}"] for g in KERAS3_GATES], axis=-1) for p in ("W", "U", "b")]


# ------------------------------------------------------------------------------------ the folder
@dataclass
class LegacyFolder:
    """The text files of an original model folder, parsed."""

    folder: Path
    model_json: dict
    weights: Path
    track_names: list[str]
    tfs: list[str]
    features: list[str]
    meta_names: list[str]


def _words(path: Path) -> list[str]:
    return [line.split()[-1] for line in path.read_text().splitlines() if line.split()]


def read_folder(folder: str | os.PathLike, weights: str | os.PathLike | None = None) -> LegacyFolder:
    """Check and read an original FactorNet model folder (missing files are named in one error)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FactorNetError(f"legacy model folder {str(folder)!r} does not exist or is not a folder")
    missing = [n for n in ("model.json", "chip.txt", "feature.txt") if not (folder / n).is_file()]
    if weights is not None:
        weights = Path(weights)
        if not weights.is_file():
            missing.append(str(weights))
    else:
        found = [folder / n for n in WEIGHT_FILES if (folder / n).is_file()]
        if found:
            weights = found[0]  # best_model.hdf5 first: what the original predict.py loaded
        else:
            missing.append(" or ".join(WEIGHT_FILES))
    features = _words(folder / "feature.txt") if (folder / "feature.txt").is_file() else []
    if "bigwig" in features and not (folder / "bigwig.txt").is_file():
        missing.append("bigwig.txt")
    if "meta" in features and not (folder / "meta.txt").is_file():
        missing.append("meta.txt")
    if missing:
        raise FactorNetError(
            f"legacy model folder {folder} lacks {', '.join(missing)} "
            "(an original FactorNet model folder has model.json, best_model.hdf5 or final_model.hdf5, "
            "chip.txt, feature.txt, and bigwig.txt / meta.txt where used)"
        )
    unknown = sorted(set(features) - {"bigwig", "meta", "gencode"})
    if unknown:
        raise FactorNetError(
            f"{folder / 'feature.txt'}: unknown feature {noun(unknown, 'flag')} {', '.join(unknown)} (known: bigwig, meta, gencode)"
        )
    try:
        model_json = json.loads((folder / "model.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FactorNetError(f"{folder / 'model.json'}: not valid JSON ({exc})") from None
    tracks = _words(folder / "bigwig.txt") if "bigwig" in features else []
    tfs = _words(folder / "chip.txt")
    if not tfs:
        raise FactorNetError(f"{folder / 'chip.txt'}: no TF name")
    meta_names = _words(folder / "meta.txt") if "meta" in features else []
    for what, names in (("bigwig.txt", tracks), ("chip.txt", tfs), ("meta.txt", meta_names)):
        if len(set(names)) != len(names):
            raise FactorNetError(f"{folder / what}: repeated names")
    return LegacyFolder(folder, model_json, weights, tracks, tfs, features, meta_names)


# ----------------------------------------------------------------------------------- the weights
def read_weights(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """Keras 1 ``save_weights`` HDF5 → ``{layer: {weight name: array}}`` (layers without weights left out)."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise FactorNetError(f"{path}: not a readable HDF5 weights file ({exc})") from None
    with handle:
        root = handle["model_weights"] if "model_weights" in handle else handle  # model.save() layout too
        if "layer_names" not in root.attrs:
            raise FactorNetError(f"{path}: no 'layer_names' attribute — not a Keras 1 weights file")
        out = {}
        for raw in root.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            if name not in root:
                raise FactorNetError(f"{path}: layer {name} is listed but has no group")
            group = root[name]
            names = [
                w.decode() if isinstance(w, bytes) else str(w) for w in group.attrs.get("weight_names", [])
            ]
            if names:
                try:
                    out[name] = {w: np.asarray(group[w], dtype=np.float32) for w in names}
                except KeyError as exc:
                    raise FactorNetError(f"{path}: layer {name} lacks weight {exc}") from None
    return out


def _pick(weights: dict[str, np.ndarray], suffix: str, layer: str, path) -> np.ndarray:
    hits = [v for k, v in weights.items() if k.endswith(suffix)]
    if len(hits) != 1:
        raise FactorNetError(
            f"{path}: layer {layer} has weights {', '.join(weights)}; expected one ending in {suffix!r}"
        )
    return hits[0]


def _lstm_direction(weights: dict[str, np.ndarray], direction: str, layer: str, path) -> list[np.ndarray]:
    mine = {k: v for k, v in weights.items() if k.startswith(direction)}
    per_gate = {}
    for p in ("W", "U", "b"):
        for g in KERAS1_GATES:
            hits = [v for k, v in mine.items() if k.endswith(f"_{p}_{g}")]
            if len(hits) == 1:
                per_gate[f"{p}_{g}"] = hits[0]
    if len(per_gate) == 12:
        return lstm_from_keras1(per_gate)
    # consume_less='gpu' layout: W, U, b already fused with gates in i, f, c, o order
    fused = [[v for k, v in mine.items() if k.endswith(f"_{p}")] for p in ("W", "U", "b")]
    if all(len(f) == 1 for f in fused):
        return [f[0] for f in fused]
    raise FactorNetError(
        f"{path}: layer {layer} lacks the {direction} LSTM weights "
        f"({direction}_*_W_i … _b_o per gate, or fused _W/_U/_b); it has {', '.join(weights) or 'none'}"
    )


def convert_weights(
    arch: LegacyArchitecture, weights: dict[str, dict[str, np.ndarray]], path="weights"
) -> dict:
    """Legacy weights → ``{our layer: [arrays]}`` (for ``bilstm``: ``{"forward": [...], "backward": [...]}``)."""
    used = set(arch.layer_map.values())
    missing = [f"{ours} ({legacy})" for ours, legacy in arch.layer_map.items() if legacy not in weights]
    if missing:
        raise FactorNetError(
            f"{path}: no weights for {noun(missing, 'layer')} {', '.join(missing)} — weights from another model.json?"
        )
    extra = sorted(set(weights) - used)
    if extra:
        raise FactorNetError(
            f"{path}: weights for {noun(extra, 'layer')} {', '.join(extra)} that model.json does not use"
        )
    out = {}
    for ours, legacy in arch.layer_map.items():
        w = weights[legacy]
        if ours == "bilstm":
            out[ours] = {d: _lstm_direction(w, d, legacy, path) for d in ("forward", "backward")}
            continue
        kernel, bias = _pick(w, "_W", legacy, path), _pick(w, "_b", legacy, path)
        if ours == "conv_motifs":
            if kernel.ndim != 4 or kernel.shape[1] != 1:
                raise FactorNetError(
                    f"{path}: {legacy} W has shape {kernel.shape}; expected (width, 1, channels, kernels)"
                )
            kernel = conv_kernel_from_theano(kernel)
        if ours == "dense_meta" and arch.meta_first:
            n_meta = arch.config.n_meta
            kernel = np.concatenate([kernel[n_meta:], kernel[:n_meta]], axis=0)
        out[ours] = [kernel, bias]
    return out


def _set_weights(model, arch: LegacyArchitecture, converted: dict, path) -> None:
    from factornet_core.model import strand_model

    strand = strand_model(model)
    for ours, arrays in converted.items():
        layer = strand.get_layer(ours)
        targets = (
            [(layer.forward_layer, arrays["forward"]), (layer.backward_layer, arrays["backward"])]
            if ours == "bilstm"
            else [(layer, arrays)]
        )
        for target, values in targets:
            want = [tuple(v.shape) for v in target.get_weights()]
            got = [tuple(np.shape(v)) for v in values]
            if want != got:
                raise FactorNetError(
                    f"{path}: weights of {arch.layer_map[ours]} have shapes {got} but model.json implies "
                    f"{want} — the weights do not fit the architecture"
                )
            target.set_weights(values)


# --------------------------------------------------------------------------------------- import
@dataclass
class ImportResult:
    card: ModelCard
    n_weights: int
    weights_file: Path


def build_card(
    legacy: LegacyFolder, arch: LegacyArchitecture, extra_provenance: dict | None = None
) -> ModelCard:
    """The card of an imported model, through :func:`factornet_core.card.make_card` as training does.

    Original FactorNet stored no PCA basis for its expression PCs, so a model with ``meta`` gets
    ``expression_source="meta_values"``: a cell type's values must be given (the original
    ``data/<CELL>/meta.txt``, ``value name`` lines). Original models use UCSC chromosome names (hg19).
    """
    from factornet_core.annotations import FEATURES

    cfg = arch.config
    gencode = "gencode" in legacy.features
    meta = "meta" in legacy.features
    return make_card(
        cfg.to_dict(),
        legacy.tfs,
        mode="single-task" if cfg.n_tasks == 1 else "multi-task",
        features=Features(expression=meta, gencode=gencode),
        metadata_names=list(legacy.meta_names) + (list(FEATURES) if gencode else []),
        chrom_naming="ucsc",
        expression_source="meta_values" if meta else None,
        provenance={
            "created_by": PROVENANCE,
            "imported_by": f"factornet {__version__} import-legacy",
            "source_folder": legacy.folder.name,
            "weights_file": legacy.weights.name,
            "keras_version": arch.keras_version,
            "genome": "hg19",
            "license": "FactorNet (Quang & Xie), MIT licence, github.com/uci-cbcl/FactorNet",
            **(extra_provenance or {}),
        },
    )


def import_legacy(
    folder: str | os.PathLike,
    out_path: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    provenance: dict | None = None,
) -> ImportResult:
    """Convert an original FactorNet model folder into one ``.keras`` file with a complete card.

    Implements the weight conversion described in the module docstring: Keras 1 / Theano layouts
    (flipped ``(width, 1, channels, kernels)`` convolution kernels, per-gate LSTM weights, the
    metadata-first concatenation of some models) are mapped onto :func:`factornet_core.model.build_model`.

    Parameters
    ----------
    folder : an original FactorNet model folder: ``model.json`` (Keras 1 architecture), weights
        (``best_model.hdf5``/``final_model.hdf5``), ``bigwig.txt``, ``chip.txt``, ``feature.txt``,
        ``meta.txt`` as the original repository publishes them.
    out_path : the ``.keras`` file to write (atomically).
    weights : a weights HDF5 file to use instead of the folder's.
    provenance : extra keys for the card's ``provenance`` (the model catalogue records its name and the
        weights' sha256 there, which makes a second ``models fetch`` a no-op).

    Returns
    -------
    ImportResult
        The written card, the number of weights, the weights file used.

    Raises
    ------
    FactorNetError
        A missing file, an unknown layer, weights that do not fit ``model.json``, tracks or metadata
        that disagree with the architecture, or an output name not ending in ``.keras``.
    """
    from factornet_core.model import build_model
    from factornet_core.modelfile import save_model

    out_path = Path(out_path)
    if out_path.suffix != ".keras":
        raise FactorNetError(f"model file name must end in .keras, got {out_path.name!r}")
    legacy = read_folder(folder, weights)
    arch = parse_architecture(legacy)
    converted = convert_weights(arch, read_weights(legacy.weights), legacy.weights)
    model = build_model(arch.config)
    _set_weights(model, arch, converted, legacy.weights)
    card = build_card(legacy, arch, provenance)
    save_model(model, card, out_path)
    return ImportResult(card, int(model.count_params()), legacy.weights)
