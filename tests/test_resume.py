"""factornet_core.resume: checkpoints restore what .keras loading loses, are published as one folder,
are locked against a second training, and refuse other settings or damage with one line."""

from __future__ import annotations

import random

import numpy as np
import pytest

from factornet_core import FactorNetError, resume
from factornet_core.resume import ResumeFolder

SETTINGS = {"kernels": 4, "seed": 1, "valid_chroms": ["chr2"]}


def _net(seed):
    import keras

    from factornet_core.model import ModelConfig, build_model

    keras.utils.set_random_seed(seed)
    net = build_model(ModelConfig(seq_len=100, kernels=4, kernel_width=10, lstm_units=4, dense_units=8))
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return net


@pytest.fixture(scope="module")
def trained():
    net = _net(1)
    x = np.random.default_rng(0).random((4, 100, 6)).astype("float32")
    net.fit(x, np.ones((4, 1), "float32"), epochs=1, verbose=0)
    return net


def _state():
    return {"history": [{"epoch": 1}], "best": {"epoch": 1, "val_loss": 0.5}, "wait": 0}


def test_checkpoint_restores_weights_optimizer_and_every_rng_state(tmp_path, trained):
    net = trained
    seeds = resume.seed_states(net)
    assert seeds and any(s[1] != 0 for s in seeds)  # dropout drew: counters advanced
    best = [w + 1 for w in net.get_weights()]
    random.seed(7)
    np.random.seed(8)
    with ResumeFolder(tmp_path / "m.resume", SETTINGS) as folder:
        folder.save(1, net, best, _state())
        want_py, want_np = random.random(), np.random.random()  # the next draws after the save
        random.seed(0)  # what set_random_seed at the start of a resumed train() does
        np.random.seed(0)
        ck = folder.load()
    assert (random.random(), np.random.random()) == (want_py, want_np)
    assert resume.seed_states(ck.net) == seeds  # a plain load_model would start fresh generators
    assert ck.history == [{"epoch": 1}] and ck.best["epoch"] == 1 and ck.wait == 0
    for got, saved in zip(ck.net.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_array_equal(got, saved)
    # Adam's iteration counter and moments, in the order of the trainable variables (a loaded model
    # names them by layer path, a built one by variable name, so names differ)
    for got, saved in zip(ck.net.optimizer.variables, net.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(saved))
    n_trainable = len(net.trainable_weights)
    for got, want in zip(ck.best_weights[:n_trainable], best[:n_trainable]):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="seed generators"):
        resume.set_seed_states(ck.net, seeds[:1])


def test_published_as_one_folder_the_newest_wins_and_leftovers_are_ignored(tmp_path, trained):
    root = tmp_path / "m.resume"
    with ResumeFolder(root, SETTINGS) as folder:
        assert folder.load() is None
        folder.save(1, trained, None, _state())
        folder.save(2, trained, None, {**_state(), "wait": 2})
        assert sorted(p.name for p in root.iterdir()) == ["epoch-0002", "lock"]  # epoch 1 dropped
        assert sorted(p.name for p in (root / "epoch-0002").iterdir()) == ["last.keras", "state.json"]
        # a kill while epoch 3 was being written leaves its temporary folder: never read
        (root / ".epoch-0003.abcd.part").mkdir()
        (root / ".epoch-0003.abcd.part" / "state.json").write_text("{")
        assert folder.latest() == root / "epoch-0002"
        assert folder.load().wait == 2
        folder.clear()
        assert folder.latest() is None and sorted(p.name for p in root.iterdir()) == ["lock"]
    assert not root.exists()  # no checkpoint left: the folder goes too


def test_a_second_training_on_the_same_folder_is_refused(tmp_path):
    with ResumeFolder(tmp_path / "m.resume", SETTINGS):
        with pytest.raises(FactorNetError, match="another training is writing the same model") as err:
            with ResumeFolder(tmp_path / "m.resume", SETTINGS):
                pass
        assert "\n" not in str(err.value)
    with ResumeFolder(tmp_path / "m.resume", SETTINGS):  # released when the first one ended
        pass


def test_other_settings_and_damaged_checkpoints_are_one_line_errors(tmp_path, trained):
    root = tmp_path / "m.resume"
    with ResumeFolder(root, SETTINGS) as folder:
        folder.save(1, trained, None, _state())
    with ResumeFolder(root, {**SETTINGS, "kernels": 8}) as folder:
        with pytest.raises(FactorNetError, match=r"trained with kernels=4, this run asks kernels=8") as err:
            folder.load()
        assert "\n" not in str(err.value)
    last = root / "epoch-0001" / "last.keras"
    last.write_bytes(last.read_bytes()[:1000])  # truncated
    with ResumeFolder(root, SETTINGS) as folder:
        with pytest.raises(FactorNetError, match="epoch-0001' is damaged") as err:
            folder.load()
        assert "\n" not in str(err.value)
    (root / "epoch-0001" / "state.json").write_text('{"history": [')
    with ResumeFolder(root, SETTINGS) as folder, pytest.raises(FactorNetError, match="is damaged"):
        folder.load()
