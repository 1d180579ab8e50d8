"""The one-file model: a Keras 3 ``.keras`` archive that also carries the FactorNet card.

The ``.keras`` file is a zip. Keras writes ``config.json``, ``metadata.json`` and
``model.weights.h5``; we add two members that Keras ignores on load:

* ``factornet_card.json`` — the card (:class:`factornet_core.card.ModelCard`, CONTRACT): track
  names in order, TF names, sequence length, bin size/stride, feature flags, metadata names,
  chromosome naming, training parameters, provenance, package version, card version;
* ``factornet_arrays.npz`` — numeric side data such as the expression PCA basis, saved with
  ``allow_pickle=False``.

Loading uses Keras safe mode; nothing is pickled.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from factornet_core import __version__
from factornet_core.atomic import atomic_output
from factornet_core.card import ModelCard
from factornet_core.errors import FactorNetError

CARD_MEMBER = "factornet_card.json"
ARRAYS_MEMBER = "factornet_arrays.npz"


@dataclass
class LoadedModel:
    model: object  # keras.Model (kept untyped so importing this module does not import Keras)
    card: ModelCard
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def save_model(
    model,
    card: ModelCard | Mapping,
    path: str | os.PathLike,
    arrays: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``model`` + ``card`` (+ ``arrays``) to one ``.keras`` file, atomically.

    ``card`` may be a plain mapping (e.g. in tests); it is validated as a :class:`ModelCard` first,
    so no file with an invalid card is ever written.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise FactorNetError(f"model file name must end in .keras, got {path.name!r}")
    if not isinstance(card, ModelCard):
        card = ModelCard.from_dict({"factornet_version": __version__, **card})
    with atomic_output(path) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(CARD_MEMBER, card.to_json())
            if arrays:
                buffer = io.BytesIO()
                np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
                archive.writestr(ARRAYS_MEMBER, buffer.getvalue())


def read_card(path: str | os.PathLike) -> ModelCard:
    """The card alone, without importing Keras (fast: used by ``factornet inspect`` and checks).

    Cards of every known version load (see :mod:`factornet_core.card`); a missing, damaged or
    tampered card raises :class:`FactorNetError`.
    """
    with _open_archive(path) as archive:
        try:
            text = archive.read(CARD_MEMBER)
        except KeyError:
            raise FactorNetError(
                f"{path}: a Keras file without a FactorNet card — not made by 'factornet train' "
                "(use 'factornet import-legacy' for original FactorNet models)"
            ) from None
    return ModelCard.from_json(text, where=f"{path}: model card")


def read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with _open_archive(path) as archive:
        if ARRAYS_MEMBER not in archive.namelist():
            return {}
        with np.load(io.BytesIO(archive.read(ARRAYS_MEMBER)), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Load model, card and arrays; Keras safe mode, no compile state needed for inference."""
    import keras

    import factornet_core.model  # noqa: F401  (registers the custom layer and activation)

    card = read_card(path)
    arrays = read_arrays(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a damaged or tampered archive
        raise FactorNetError(
            f"{path}: cannot load the Keras model ({type(exc).__name__}: {_first_line(exc)}): refused by Keras "
            "safe mode (only FactorNet and Keras layers load) or damaged; use a model file made by factornet"
        ) from None
    return LoadedModel(model, card, arrays)


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, shortened: Keras appends the whole layer config (5–7
    lines of JSON) to its safe-mode refusals."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open_archive(path: str | os.PathLike) -> zipfile.ZipFile:
    if not os.path.isfile(path):
        raise FactorNetError(f"model file {str(path)!r} does not exist")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise FactorNetError(f"{path}: not a .keras model file (not a zip archive)") from None
