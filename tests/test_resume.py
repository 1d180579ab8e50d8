"""factornet_core.resume: the dropout RNG state that .keras loading loses is saved and restored."""

from __future__ import annotations

import numpy as np
import pytest

from factornet_core import resume


def _net(seed):
    import keras

    from factornet_core.model import ModelConfig, build_model

    keras.utils.set_random_seed(seed)
    net = build_model(ModelConfig(seq_len=100, kernels=4, kernel_width=10, lstm_units=4, dense_units=8))
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return net


def test_state_round_trip_restores_seed_generators_and_best_weights(tmp_path):
    net = _net(1)
    x = np.random.default_rng(0).random((4, 100, 6)).astype("float32")
    net.fit(x, np.ones((4, 1), "float32"), epochs=1, verbose=0)
    states = resume.seed_states(net)
    assert states and any(s[1] != 0 for s in states)  # dropout drew: counters advanced
    best = [w + 1 for w in net.get_weights()]
    resume.save_state(tmp_path, net, best, {"history": [{"epoch": 1}], "best": {"epoch": 1}, "wait": 0})
    state = resume.load_state(tmp_path)
    assert state["history"] == [{"epoch": 1}] and state["seed_states"] == states
    loaded = resume.load_last_model(tmp_path, state)
    assert resume.seed_states(loaded) == states  # a plain load_model would start fresh generators
    read = resume.read_weights(loaded, tmp_path / "best.weights.h5")
    n_trainable = len(net.trainable_weights)
    for got, want in zip(read[:n_trainable], best[:n_trainable]):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="seed generators"):
        resume.set_seed_states(loaded, states[:1])
    assert resume.load_state(tmp_path / "nothing") is None
