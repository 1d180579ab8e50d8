"""``factornet train``: learning for real on simulated data, determinism, resume, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from factornet_core import FactorNetError
from factornet_core.modelfile import load_model, read_card
from factornet_core.simulate import simulate_dataset
from factornet_core.training import Progress, TrainSettings, train
from factornet_tools.cli import main

SMALL = dict(seq_len=400, kernel_width=20, kernels=16, lstm_units=8, dense_units=32, valid_chroms=["chr2"])


def train_argv(sim, out) -> list[str]:
    return ["train", "--samplesheet", str(sim.samplesheet), "--genome", str(sim.genome), "-o", str(out)]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return simulate_dataset(tmp_path_factory.mktemp("sim") / "data", seed=3, n_chroms=2, chrom_length=400_000)


@pytest.mark.slow
def test_learns_planted_binding(sim, tmp_path):
    # CTCF sites are bound where open: sequence + DNase together predict binding. val_auPR is scored on
    # every bin of chr2 at its natural balance (a few % bound), the auPR `evaluate` reports, and it picks
    # the best epoch; val_loss is the balanced (1:1) set's loss.
    from factornet_core import binning, predict
    from factornet_core.inputs import CellType
    from factornet_core.intervals import A
    from factornet_core.metrics import evaluate_scores
    from factornet_core.samplesheet import read_samplesheet
    from factornet_core.scores import read_predictions

    out = tmp_path / "m.keras"
    # every unbound bin of the three cell types (~23 000, more than the default sample of 20 000)
    settings = TrainSettings(tf="CTCF", epochs=6, patience=6, seed=1, valid_negatives=10**6, **SMALL)
    result = train(sim.samplesheet, sim.genome, out, settings, blacklist=sim.blacklist)
    best = result.history[result.best_epoch - 1]
    assert best["val_auPR"] == max(h["val_auPR"] for h in result.history)
    # the saved (best) weights, predicted and scored as `predict` + `evaluate` do, give that val_auPR
    cells = read_samplesheet(sim.samplesheet).cells
    card = read_card(out).to_dict()
    peaks = {c: binning.PeakFiles(cells[c].conservative["CTCF"], cells[c].relaxed.get("CTCF")) for c in cells}
    bins, labels, black = binning.label_chromosomes(sim.chrom_sizes, peaks, ["chr2"], sim.blacklist)
    auprs = []
    for cell in card["training"]["cells"]:
        pred = tmp_path / f"{cell}.tsv.gz"
        predict.predict(
            out, CellType(sim.genome, cells[cell].tracks), pred, predict.PredictOptions(chroms=["chr2"])
        )
        pred_bins, pred_scores = read_predictions(pred)
        np.testing.assert_array_equal(pred_bins["start"], bins["start"])
        scores = pred_scores["CTCF"].to_numpy()
        auprs.append(evaluate_scores(labels[cell][~black], scores[~black])["auprc"])
    assert best["val_auPR"] == pytest.approx(np.mean(auprs), abs=1e-4)
    # a model that learned nothing scores the prevalence (~2 %); this budget learns accessibility at least
    # (measured 0.22: the motif comes later, see factornet_core.recipe)
    used = [labels[c][~black] for c in card["training"]["cells"]]
    prevalence = np.mean([(c == 1).sum() / (c != A).sum() for c in used])
    assert prevalence < 0.05 and best["val_auPR"] > 4 * prevalence, (prevalence, result.history)
    assert result.n_valid_natural == len(card["training"]["cells"]) * (~black).sum() - sum(
        (labels[c][~black] == A).sum() for c in card["training"]["cells"]
    )  # every bin but the ambiguous ones
    card = read_card(out).to_dict()
    assert card["tfs"] == ["CTCF"] and card["track_names"] == ["DNASE", "MAPABILITY"]
    assert card["training"]["valid_chroms"] == ["chr2"] and card["training"]["train_chroms"] == ["chr1"]
    assert card["training"]["best_epoch"] == result.best_epoch
    assert (tmp_path / "m.history.json").is_file() and (tmp_path / "m.history.png").stat().st_size > 10_000
    assert not (tmp_path / "m.keras.resume").exists()


@pytest.mark.slow
def test_same_seed_same_model(sim, tmp_path):
    settings = TrainSettings(tf="CTCF", epochs=1, seed=5, workers=2, **SMALL)
    train(sim.samplesheet, sim.genome, tmp_path / "a.keras", settings)
    train(sim.samplesheet, sim.genome, tmp_path / "b.keras", settings)
    a, b = load_model(tmp_path / "a.keras").model, load_model(tmp_path / "b.keras").model
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.slow
def test_multitask_with_metadata_and_cross_cell_validation(sim, tmp_path):
    from factornet_core import annotations

    feats = annotations.features_from_gtf(sim.gtf, sim.cpg, sim.chrom_sizes)
    settings = TrainSettings(
        cells=["CellA"], valid_cell="CellB", epochs=1, expression=True, gencode=True, **SMALL
    )
    result = train(sim.samplesheet, sim.genome, tmp_path / "mt.keras", settings, annotations=feats)
    card = read_card(tmp_path / "mt.keras").to_dict()
    assert card["mode"] == "multi-task" and card["tfs"] == ["CTCF", "GABPA"]
    assert card["metadata_names"] == [f"PC{i}" for i in range(1, 9)] + list(annotations.FEATURES)
    assert {"cross_val_loss", "cross_val_auPR"} <= set(result.history[0])
    assert card["training"]["motif_init"] is False  # multi-task starts at random (Table S2)
    loaded = load_model(tmp_path / "mt.keras")
    assert loaded.arrays["expression_components"].shape[0] == 8
    assert loaded.model.output_shape == (None, 2)


class _Kill(Progress):
    def epoch_end(self, record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_resume_after_a_kill_ends_with_the_uninterrupted_weights(sim, tmp_path):
    out = tmp_path / "r.keras"
    settings = TrainSettings(tf="CTCF", epochs=3, patience=5, seed=2, **SMALL)
    with pytest.raises(KeyboardInterrupt):
        train(sim.samplesheet, sim.genome, out, settings, progress=_Kill())
    folder = tmp_path / "r.keras.resume"
    assert not out.exists() and sorted(p.name for p in folder.iterdir()) == ["epoch-0002", "lock"]
    settings.resume = True
    resumed = train(sim.samplesheet, sim.genome, out, settings)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3] and not folder.exists()
    settings.resume = False
    full = train(sim.samplesheet, sim.genome, tmp_path / "full.keras", settings)
    # Exact: model weights, Adam's moments/iteration, the dropout generators and the global Python/NumPy
    # generators (Keras shuffles the batch order with `random`) are all restored, so the resumed epoch 3
    # is the same computation as the uninterrupted one (before the Python RNG state was saved: val_loss
    # 0.335 vs 0.321, weights off by up to 2e-3).
    assert [h["val_loss"] for h in resumed.history] == pytest.approx(
        [h["val_loss"] for h in full.history], rel=1e-6
    )
    a, b = load_model(out).model.get_weights(), load_model(tmp_path / "full.keras").model.get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_resume_refuses_other_settings_and_damaged_checkpoints(sim, tmp_path, capsys):
    out = tmp_path / "k.keras"
    small = {**SMALL, "kernels": 4, "lstm_units": 4, "dense_units": 8}
    with pytest.raises(KeyboardInterrupt):
        train(sim.samplesheet, sim.genome, out, TrainSettings(tf="CTCF", epochs=3, **small), progress=_Kill())
    argv = [*train_argv(sim, out), "-f", "CTCF", "-e", "3", "-r", "4", "-d", "8", "-L", "400", "-w", "20"]
    rc = main([*argv, "-v", "chr2", "-k", "8", "--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "trained with kernels=4, this run asks kernels=8" in err[0], err
    assert (tmp_path / "k.keras.resume" / "epoch-0002" / "last.keras").is_file()  # refused: kept as it was
    last = tmp_path / "k.keras.resume" / "epoch-0002" / "last.keras"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    rc = main([*argv, "-v", "chr2", "-k", "4", "--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "epoch-0002' is damaged" in err[0], err
    assert not out.exists()


class _Notes(Progress):
    """Collects the notices training gives."""

    def __init__(self):
        self.notices = []

    def notice(self, message):
        self.notices.append(message)


@pytest.mark.slow
def test_motif_initialisation_sets_first_kernels(sim, tmp_path, capsys):
    from factornet_core.meme import find_motif, read_meme
    from factornet_core.model import motif_kernel, strand_model
    from factornet_core.simulate import packaged_motifs_path

    notes = _Notes()

    def kernels(name, **extra):
        # learning rate 0: the saved kernels are exactly the initial ones
        settings = TrainSettings(tf="CTCF", epochs=1, learning_rate=0.0, **extra, **SMALL)
        train(sim.samplesheet, sim.genome, tmp_path / name, settings, progress=notes)
        conv = strand_model(load_model(tmp_path / name).model).get_layer("conv_motifs")
        return [np.asarray(w) for w in conv.get_weights()]

    (w, b) = kernels("mo.keras", motif="CTCF_f2", motif_file=str(sim.motifs))
    card = read_card(tmp_path / "mo.keras")
    pwm = find_motif(read_meme(sim.motifs), "CTCF_f2").pwm
    assert card.training["motif"] == "CTCF_f2" and card.training["motif_file"] == sim.motifs.name
    assert card.training["motif_source"] == {
        "source": "file", "file": sim.motifs.name, "name": "CTCF_f2", "width": 19,
        "sha256": find_motif(read_meme(sim.motifs), "CTCF_f2").sha256,
    }  # fmt: skip
    assert str(sim.motifs.parent) not in card.to_json()  # no path of this machine
    fwd, bias = motif_kernel(pwm, w.shape[0], w.shape[1])
    rc, _ = motif_kernel(np.asarray(pwm)[::-1, ::-1], w.shape[0], w.shape[1])
    np.testing.assert_allclose(w[:, :, 0], fwd, rtol=1e-6)
    np.testing.assert_allclose(w[:, :, 1], rc, rtol=1e-6)
    assert b[0] == pytest.approx(bias) and b[1] == pytest.approx(bias)
    (w0, _) = kernels("plain.keras", motif_init=False)  # same seed, no motif: kernel 0 random, others same
    assert not np.allclose(w0[:, :, 0], fwd)
    np.testing.assert_array_equal(w0[:, :, 2:], w[:, :, 2:])
    assert read_card(tmp_path / "plain.keras").training["motif_init"] is False
    # -mo by TF name without a motif file: JASPAR's profile, recorded in the card
    from factornet_core.jaspar import fetch

    (wj, _) = kernels("jaspar.keras", motif="CTCF")
    source = read_card(tmp_path / "jaspar.keras").training["motif_source"]
    found = fetch("CTCF")
    assert source == found.card() and source["matrix_id"].startswith("MA0139.")
    fwd_j, _ = motif_kernel(found.motif.pwm, w.shape[0], w.shape[1])
    np.testing.assert_allclose(wj[:, :, 0], fwd_j, rtol=1e-6)
    # the paper's default (Table S1): single-task starts from the TF's own motif without -mo
    (wd, _) = kernels("default.keras")
    np.testing.assert_array_equal(wd, wj)
    card = read_card(tmp_path / "default.keras").training
    assert card["motif_init"] is True and card["motif"] is None and card["motif_source"] == found.card()
    assert main(["inspect", str(tmp_path / "default.keras")]) == 0
    assert (
        f"motif init     kernels 0/1 from JASPAR {found.card()['matrix_id']} CTCF ("
        in capsys.readouterr().out
    )
    assert notes.notices == []  # every motif so far fits the 20-bp kernels
    # a packaged motif wider than the kernels (REST_f1, 22 bp; -w 20): its central 20 columns, said and recorded
    (wr, _) = kernels("rest.keras", motif="REST_f1")
    assert notes.notices == [
        "motif REST_f1 is 22 bp wide, kernels are 20 bp (-w): its central 20 columns (2–21) initialise kernels 0/1"
    ]
    rest = read_meme(packaged_motifs_path())["REST_f1"]
    np.testing.assert_allclose(wr[:, :, 0], motif_kernel(rest.pwm[1:21], 20, w.shape[1])[0], rtol=1e-6)
    card = read_card(tmp_path / "rest.keras")
    assert card.training["motif_source"] == {
        "source": "packaged", "name": "REST_f1", "width": 22, "sha256": rest.sha256, "columns_used": [2, 21],
    }  # fmt: skip
    assert str(packaged_motifs_path().parent) not in card.to_json()  # not the package's folder
    assert main(["inspect", str(tmp_path / "rest.keras")]) == 0
    assert (
        "motif init     kernels 0/1 from REST_f1 (shipped with factornet "
        f"{card.factornet_version}); its central columns 2–21 (1-based) of 22 (wider than the kernels)\n"
    ) in capsys.readouterr().out


def _sheet_with_tf(sim, tmp_path, tf: str):
    """The simulation's samplesheet with CTCF's peaks under another TF name (absolute paths)."""
    from factornet_core.samplesheet import read_samplesheet, write_samplesheet

    rows = []
    for cell in read_samplesheet(sim.samplesheet).cells.values():
        rows += [(cell.name, "track", name, str(path)) for name, path in cell.tracks.items()]
        rows += [
            (cell.name, kind, tf, str(getattr(cell, kind)["CTCF"])) for kind in ("conservative", "relaxed")
        ]
    write_samplesheet(tmp_path / "renamed.tsv", rows)
    return tmp_path / "renamed.tsv"


@pytest.mark.slow
def test_a_tf_without_a_motif_is_a_notice_and_random_kernels(sim, tmp_path, capsys):
    """Without --motif-file the TF's own motif is looked up by default, and a TF that has none (here CTCF's peaks
    renamed NOTATF1) trains from random kernels, as the paper does; the notice says so, the card records what was
    looked for (no advice text)."""
    from factornet_core.jaspar import latest_release
    from factornet_core.model import strand_model

    sheet = _sheet_with_tf(sim, tmp_path, "NOTATF1")
    notes = _Notes()

    def kernel(name, **extra):
        settings = TrainSettings(tf="NOTATF1", epochs=1, learning_rate=0.0, **extra, **SMALL)
        train(sheet, sim.genome, tmp_path / name, settings, progress=notes)
        return strand_model(load_model(tmp_path / name).model).get_layer("conv_motifs").get_weights()[0]

    w = kernel("none.keras")
    assert len(notes.notices) == 1 and notes.notices[0].startswith("no motif found for 'NOTATF1'")
    assert "training continues with random kernels" in notes.notices[0]
    np.testing.assert_array_equal(w, kernel("off.keras", motif_init=False))
    assert len(notes.notices) == 1  # --no-motif-init: nothing to say
    card = read_card(tmp_path / "none.keras").training
    assert card["motif_init"] is False and "motif_source" not in card and "motif_init_note" not in card
    assert card["motif_not_found"] == {"name": "NOTATF1", "jaspar_release": latest_release()}
    assert main(["inspect", str(tmp_path / "none.keras")]) == 0
    assert (
        "motif init     none, random kernels (no motif for 'NOTATF1' among the packaged motifs or in "
        f"{latest_release()})\n"
    ) in capsys.readouterr().out


def test_a_motif_file_without_the_motif_stops_before_any_work(sim, tmp_path, capsys):
    """--motif-file was given on purpose: a file without the TF's motif is an error before anything is read or
    written (the samplesheet is not even opened), naming the file, its motifs and the fixes."""
    from factornet_core.meme import find_motif, read_meme, write_meme

    only_gabpa = tmp_path / "gabpa.meme"
    write_meme(only_gabpa, [find_motif(read_meme(sim.motifs), "GABPA")])
    out = tmp_path / "m.keras"
    rc = main([*train_argv(sim, out), "-f", "CTCF", "-v", "chr2", "-e", "1", "--motif-file", str(only_gabpa)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == [
        f"factornet train: error: --motif-file {str(only_gabpa)!r} has no motif for TF 'CTCF' (it has 1 motif: "
        "GABPA_f1): name one of its motifs with -mo NAME (e.g. -mo GABPA_f1), or start from random kernels with "
        "--no-motif-init"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gabpa.meme"]  # no model, history or resume folder
    broken = tmp_path / "broken.tsv"
    broken.write_text("not a samplesheet\n")  # read first, it would be the error
    settings = TrainSettings(tf="CTCF", motif_file=str(only_gabpa), **SMALL)
    with pytest.raises(FactorNetError, match="has no motif for TF 'CTCF'"):
        train(broken, sim.genome, out, settings)
    settings = TrainSettings(tf="CTCF", motif="CTCF", motif_file=str(only_gabpa), **SMALL)
    with pytest.raises(FactorNetError, match="has no motif 'CTCF' .* or drop --motif-file"):
        train(broken, sim.genome, out, settings)  # -mo named: an error as before, now with the file's motifs
    with pytest.raises(FactorNetError, match="contradict"):
        train(broken, sim.genome, out, TrainSettings(tf="CTCF", motif="CTCF", motif_init=False, **SMALL))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.tsv", "gabpa.meme"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["-f", "NOPE"], "TF 'NOPE' has no conservative peaks"),
        (["-f", "CTCF", "-v", "chr9"], "validation chromosome 'chr9' is not in the genome"),
        (["-f", "CTCF", "-L", "20"], "too short"),
        (["-f", "CTCF", "--cell", "CellZ"], "cell type 'CellZ' is not in samplesheet"),
        (["-f", "CTCF", "--train-chroms", "chr2", "-v", "chr2"], "chr2 is both a validation chromosome (-v"),
        (  # trained on the held-out chromosome with exit 0
            ["-f", "CTCF", "-v", "chr2", "--exclude-chroms", "chr1", "--train-chroms", "chr1"],
            "chr1 is both held out (--exclude-chroms) and a training chromosome (--train-chroms)",
        ),
        (
            ["-f", "CTCF", "-mo", "NOT_A_MOTIF"],
            "motif for 'NOT_A_MOTIF': check the TF name, or give the motif yourself with --motif-file",
        ),
        (["-f", "CTCF", "-mo", "CTCF", "--no-motif-init"], "-mo/--motif and --no-motif-init contradict"),
        ([], "multi-task training (no -f/--tf) uses one cell type"),
    ],
)
def test_bad_input_one_line_exit_2_no_model(sim, tmp_path, capsys, extra, message):
    out = tmp_path / "bad.keras"
    rc = main(
        [
            *train_argv(sim, out),
            "-e",
            "1",
            "-k",
            "4",
            "-r",
            "4",
            "-d",
            "8",
            *(["-v", "chr2"] if "-v" not in extra else []),
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("factornet train: error:") and message in err[0], err
    assert not out.exists()


def test_unwritable_output_and_no_positives(sim, tmp_path, capsys):
    rc = main(
        [
            *train_argv(sim, tmp_path / "missing" / "m.keras"),
            "-f",
            "CTCF",
            "-v",
            "chr2",
        ]
    )
    assert rc == 2 and "does not exist" in capsys.readouterr().err
    with pytest.raises(FactorNetError, match="no conservative peaks on chromosome"):
        # all peaks lie on chr1/chr2; training only on chr2 with chr1 validation leaves positives only in valid
        empty = TrainSettings(
            tf="CTCF", epochs=1, train_chroms=["chr2"], **{**SMALL, "valid_chroms": ["chr1"]}
        )
        _drop_peaks_on(sim, "chr2", tmp_path)
        train(tmp_path / "sheet.tsv", sim.genome, tmp_path / "x.keras", empty)


def _drop_peaks_on(sim, chrom: str, tmp_path) -> None:
    """A samplesheet whose CTCF peaks on ``chrom`` are removed."""
    import gzip

    from factornet_core.samplesheet import read_samplesheet

    sheet = read_samplesheet(sim.samplesheet)
    rows = ["cell_type\tkind\tname\tpath"]
    for cell in sheet.cells.values():
        for name, path in cell.tracks.items():
            rows.append(f"{cell.name}\ttrack\t{name}\t{path}")
        for kind in ("conservative", "relaxed"):
            src = getattr(cell, kind)["CTCF"]
            dst = tmp_path / f"{cell.name}.{kind}.bed"
            with gzip.open(src, "rt") as fh:
                dst.write_text("".join(line for line in fh if not line.startswith(chrom + "\t")))
            rows.append(f"{cell.name}\t{kind}\tCTCF\t{dst}")
    (tmp_path / "sheet.tsv").write_text("\n".join(rows) + "\n")


def test_learning_curve_caption_states_the_natural_balance():
    from types import SimpleNamespace

    from factornet_core.training import _history_captions
    from factornet_core.validation import natural_plan

    codes = np.zeros((40, 1), np.int8)
    codes[:2] = 1  # 2 of 40 bins bound
    nat = natural_plan(np.full(40, "chr2", dtype=object), np.arange(40) * 50, [codes], 100, seed=0)
    selection = SimpleNamespace(tfs=["CTCF"], cells=["CellA"], valid_cell="CellB")
    run = SimpleNamespace(
        selection=selection, valid_chroms=["chr2"], samples=SimpleNamespace(valid_natural=nat)
    )
    title, design = _history_captions(TrainSettings(tf="CTCF", seed=3), run, "m.keras")
    assert title == "Learning curves: m.keras, CTCF in CellA, seed 3"
    assert "auPR (every bin) per cell type at the natural balance (5% bound)" in design
    assert "picks the best epoch" in design and "held-out cell type CellB" in design
    sampled = natural_plan(np.full(40, "chr2", dtype=object), np.arange(40) * 50, [codes], 10, seed=0)
    run.samples.valid_natural = sampled
    _, design = _history_captions(TrainSettings(tf="CTCF", valid_negatives=10), run, "m.keras")
    assert "auPR (every bound bin, 10 unbound ones weighted) per cell type" in design


@pytest.mark.slow
def test_natural_balance_auprc_picks_the_best_epoch_and_stops_early(sim, tmp_path, monkeypatch):
    # the natural-balance auPR is scripted: best at epoch 2, no better for 2 epochs → stop after epoch 4,
    # whatever the balanced val_loss does (it falls while the model learns, lr 2e-3)
    from factornet_core import validation

    scripted = iter([0.5, 0.9, 0.7, 0.6, 0.95, 0.99])
    monkeypatch.setattr(validation, "natural_auprc", lambda nat, scores: next(scripted))
    settings = TrainSettings(tf="CTCF", epochs=6, patience=2, learning_rate=2e-3, seed=1, **SMALL)
    result = train(sim.samplesheet, sim.genome, tmp_path / "es.keras", settings)
    assert [h["val_auPR"] for h in result.history] == [0.5, 0.9, 0.7, 0.6]
    assert (
        result.best_epoch == 2
        and result.stopped_early
        and [h["best_epoch"] for h in result.history] == [1, 2, 2, 2]
    )
    assert read_card(tmp_path / "es.keras").training["best_epoch"] == 2
