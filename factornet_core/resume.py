"""The resume folder of ``factornet train`` (``<model>.keras.resume/``): state after every epoch.

Holds ``last.keras`` (the model after the last completed epoch, optimizer state included),
``best.weights.h5`` (the best epoch's weights so far) and ``state.json`` (history, best epoch, epochs
without improvement, and the dropout RNG state). Each file is written under a temporary name and
renamed, so a kill mid-save leaves the previous epoch's state.

Why the RNG state is saved separately: Keras 3 draws dropout masks from ``keras.random.SeedGenerator``
objects whose state is a model variable (``seed_generator_state``), but ``.keras`` saving does not
restore it — a loaded model starts fresh generators. Without restoring it, the resumed epochs see other
dropout masks than the uninterrupted run would. The epoch's sampling plan needs no saving: it is a pure
function of ``(seed, epoch)`` (:mod:`factornet_core.sampling`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

SEED_STATE = "seed_generator_state"


def seed_states(net) -> list[list[int]]:
    """The state of every dropout/seed generator of ``net``, in layer order (JSON-ready)."""
    return [np.asarray(v).tolist() for v in net.variables if v.path.endswith(SEED_STATE)]


def set_seed_states(net, states: list[list[int]]) -> None:
    """Restore :func:`seed_states` into a model of the same architecture."""
    variables = [v for v in net.variables if v.path.endswith(SEED_STATE)]
    if len(variables) != len(states):
        raise ValueError(f"model has {len(variables)} seed generators, the saved state {len(states)}")
    for var, value in zip(variables, states):
        var.assign(np.asarray(value, dtype=var.dtype))


def save_state(folder: Path, net, best_weights: list[np.ndarray] | None, state: dict) -> None:
    """Write the folder after an epoch (``state``: history, best, wait; the RNG state is added here)."""
    folder.mkdir(exist_ok=True)
    net.save(folder / "last.keras.part.keras")
    os.replace(folder / "last.keras.part.keras", folder / "last.keras")
    if best_weights is not None:
        current = net.get_weights()
        net.set_weights(best_weights)
        net.save_weights(folder / "best.part.weights.h5")
        net.set_weights(current)
        os.replace(folder / "best.part.weights.h5", folder / "best.weights.h5")
    (folder / "state.json.part").write_text(json.dumps({**state, "seed_states": seed_states(net)}))
    os.replace(folder / "state.json.part", folder / "state.json")


def load_state(folder: Path) -> dict | None:
    """The saved ``state.json`` (None when the folder holds no complete state)."""
    if not (folder / "state.json").is_file() or not (folder / "last.keras").is_file():
        return None
    return json.loads((folder / "state.json").read_text())


def load_last_model(folder: Path, state: dict):
    """The last epoch's model (compiled, optimizer state restored) with its dropout RNG state."""
    import keras

    net = keras.saving.load_model(folder / "last.keras", safe_mode=True)
    if "seed_states" in state:  # absent in folders written by 0.1.0
        set_seed_states(net, state["seed_states"])
    return net


def read_weights(net, path: Path) -> list[np.ndarray] | None:
    """Weights saved by :func:`save_state` as ``best.weights.h5``, read without changing ``net``."""
    if not path.is_file():
        return None
    current = net.get_weights()
    net.load_weights(path)
    best = [w.copy() for w in net.get_weights()]
    net.set_weights(current)
    return best
