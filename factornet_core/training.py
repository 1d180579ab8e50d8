"""``factornet train``: fit a FactorNet model and write the one-file model with its card.

Training follows original FactorNet: Adam (learning rate 1e-3), minibatches of 100, mean binary cross-entropy
over tasks, dropout, two kernels of single-task models initialised from the TF's motif (Table S1; see
:mod:`factornet_core.motifinit`), validation chromosomes held out, early stopping with ``patience``
epochs, and the best epoch's weights kept. Unlike original FactorNet, which stopped on the loss of a validation set
sampled like the training epochs (about 1:1, whose auPR saturates near 1), the best epoch is the one
with the highest auPR on the validation chromosomes' bins at their natural class balance, the auPR
``factornet evaluate`` reports (:mod:`factornet_core.validation`); the balanced loss stays in the
history as ``val_loss``. Each epoch streams a fresh sample
(:mod:`factornet_core.sampling`) through loader threads (:mod:`factornet_core.dataset`).

After every epoch the resume folder ``<model>.keras.resume/`` gets a checkpoint, published as one
folder: the last model (with optimizer state), the best weights, the history, the settings and every
RNG state a resumed run needs (:mod:`factornet_core.resume`), so ``resume=True`` continues after a
kill from the last completed epoch and ends with the uninterrupted run's weights (CPU). The folder is
locked while a training uses it and removed when training finishes.

Where the parts live: cell type/TF selection in :mod:`factornet_core.samplesheet`, the motif of kernels
0/1 in :mod:`factornet_core.motifinit`, sampler set-up in :mod:`factornet_core.sampling`, the
learning-curve figure in :mod:`factornet_core.figures`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from factornet_core import __version__, intervals, resume, tracknorm
from factornet_core.card import Features, ModelCard, make_card
from factornet_core.chromsplit import split_chromosomes
from factornet_core.errors import FactorNetError
from factornet_core.genome import Genome
from factornet_core.motifinit import choose_motif
from factornet_core.samplesheet import (
    Samplesheet,
    Selection,
    naming_rows,
    read_samplesheet,
    select_multi_task,
    select_tf,
)
from factornet_core.sampling import TrainingSamples, training_samples
from factornet_core.tracks import TrackSet
from factornet_core.validation import NaturalScorer
from factornet_core.windows import WindowReader


@dataclass
class TrainSettings:
    """Everything ``factornet train`` can be told (original FactorNet's flag in brackets)."""

    tf: str | None = None  # [-f] single-task TF; None → multi-task over the cell type's TFs
    cells: list[str] | None = None  # training cell types (default: all with the TF)
    valid_chroms: list[str] = field(default_factory=lambda: ["chr11"])  # [-v]
    exclude_chroms: list[str] = field(default_factory=list)  # never used (e.g. test chromosomes)
    train_chroms: list[str] | None = None  # default: all others
    valid_cell: str | None = None  # [-vi] cross-cell validation
    epochs: int = 100  # [-e]
    patience: int = 20  # [-ep]
    learning_rate: float = 1e-3  # [-lr]
    negatives: float = 1.0  # [-n]
    open_negatives: float = (
        0.0  # fraction of negatives drawn from accessible unbound bins (0 = original FactorNet's)
    )
    open_track: str | None = None  # track defining accessibility (default: the first)
    batch_size: int = 100
    seq_len: int = 1000  # [-L]
    kernel_width: int = 26  # [-w]
    kernels: int = 32  # [-k]
    lstm_units: int = 32  # [-r]
    dense_units: int = 128  # [-d]
    dropout: float = 0.5  # [-p]
    expression: bool = False  # [-m] cell-level expression PCs
    gencode: bool = False  # [-g] bin-level annotation flags
    motif: str | None = None  # [-mo] motif name or JASPAR ID (default: the TF's own, see motif_init)
    motif_file: str | None = None
    motif_init: bool = True  # single-task: kernels 0/1 from the TF's motif when one is found (Table S1)
    seed: int = 0  # [-s]
    workers: int = 2
    valid_max: int = 20000  # cap on the balanced validation set (its loss is the history's val_loss)
    valid_negatives: int = 20000  # unbound bins (all cell types) in the natural-balance validation set
    mixed_precision: bool = False
    distribute: bool = False  # force MirroredStrategy (automatic with > 1 GPU)
    resume: bool = False
    track_norms: dict[str, str] = field(default_factory=dict)  # track → rule per cell type (tracknorm)


@dataclass
class TrainResult:
    history: list[dict]
    best_epoch: int
    stopped_early: bool
    n_train: int
    n_valid: int  # balanced validation samples
    n_valid_natural: int = 0  # natural-balance validation bins scored per epoch


class Progress:
    """Hooks the caller may implement to show progress (the library itself never prints)."""

    def epoch_start(self, epoch: int, epochs: int, n_batches: int) -> None: ...

    def batch_end(self, batch: int, loss: float) -> None: ...

    def epoch_end(self, record: dict) -> None: ...

    def timing(self, what: str, seconds: float) -> None:
        """Wall time of a per-epoch fixed cost: ``"validation"`` (scoring) or ``"resume_state"`` (saving)."""

    def notice(self, message: str) -> None:
        """Something the user should know that does not stop training (e.g. no motif for the TF)."""


@dataclass
class _Run:
    """What ``train`` opened: the selection, genome, one window reader per cell type, the samples."""

    selection: Selection
    genome: Genome
    tracksets: list[TrackSet]
    readers: list[WindowReader]
    train_chroms: list[str]
    valid_chroms: list[str]
    samples: TrainingSamples

    def close(self) -> None:
        for ts in self.tracksets:
            ts.close()
        self.genome.close()


def train(
    samplesheet: str | os.PathLike,
    genome_path: str | os.PathLike,
    out_path: str | os.PathLike,
    settings: TrainSettings,
    annotations: dict | None = None,
    blacklist: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a FactorNet model (Quang & Xie 2019, Methods "Training") and write it as one ``.keras`` file.

    Parameters
    ----------
    samplesheet : samplesheet TSV or original FactorNet data folder (:mod:`factornet_core.samplesheet`);
        cell types, TF(s) and validation cell type are chosen by :class:`~factornet_core.samplesheet.Selection`.
    genome_path : FASTA (plain or bgzip) whose chromosome names match the tracks and peaks.
    out_path : model file to write; must end in ``.keras``. Beside it: ``<stem>.history.json`` (one
        record per epoch) and ``<stem>.history.png`` (learning curves, :mod:`factornet_core.figures`).
    settings : hyperparameters and run options (:class:`TrainSettings`); ``seq_len`` in bp.
    annotations : the six bin features (:mod:`factornet_core.annotations`), needed with ``settings.gencode``.
    blacklist : BED of regions no negative may touch.
    progress : hooks for progress display (:class:`Progress`).

    Returns
    -------
    TrainResult : per-epoch history (``loss``; ``val_loss``, the BCE on a validation set sampled like the
        training epochs; ``val_auPR``, the auPR on the validation chromosomes at their natural class
        balance (:mod:`factornet_core.validation`), which picks the best epoch and drives early stopping;
        ``cross_val_*`` the same in the held-out cell type), the best epoch (1-based; its weights are the
        ones saved), whether early stopping fired, sample counts.

    Raises
    ------
    FactorNetError : bad output path, unknown cell type/TF/chromosome, no peaks or positives on the
        training/validation chromosomes, tracks not matching the genome, missing expression/annotations,
        a motif named with ``-mo`` or a ``--motif-file`` without the motif (checked first, before any
        input is opened; :mod:`factornet_core.motifinit`). Inputs are all checked before the first epoch.

    Deterministic on CPU for a given ``settings.seed``; with ``settings.resume`` a killed run continues
    from ``<model>.keras.resume/`` and ends with the weights of the uninterrupted run (:mod:`factornet_core.resume`).
    """
    progress = progress or Progress()
    out_path = _check_out_path(out_path)
    s = settings
    if s.gencode and annotations is None:
        raise FactorNetError("-g/--gencode needs annotations: give --gtf and --cpg, or --annotation-beds")
    motif = choose_motif(s.tf, s.motif, s.motif_file, s.motif_init, s.kernel_width)  # before any work
    with resume.ResumeFolder(_resume_dir(out_path), _resume_settings(s)) as checkpoints:
        run = _open_run(samplesheet, genome_path, s, blacklist)
        try:
            with naming_rows(run.selection.sheet):
                meta, meta_names, pca = _metadata(run.selection, s, annotations)
            cfg = _model_config(s, run.selection, len(meta_names))
            if motif.notice:  # once the inputs are known good: no note before an input error
                progress.notice(motif.notice)
            net, history, best, stopped, n_train = _fit(cfg, motif.pwm, run, meta, s, checkpoints, progress)
            card = _build_card(
                s, cfg, run, meta_names, history, best, stopped, samplesheet, genome_path, motif.card
            )
            arrays = {f"expression_{k}": v for k, v in pca.to_arrays().items()} if pca else None
            stem = out_path.with_suffix("")
            from factornet_core.modelfile import save_model

            save_model(net, card, out_path, arrays)
            title, design = _history_captions(s, run, out_path.name)
            _write_history(history, Path(f"{stem}.history.json"), Path(f"{stem}.history.png"), title, design)
            checkpoints.clear()  # the folder goes with its last checkpoint
        finally:
            run.close()
    samples = run.samples
    return TrainResult(
        history, best["epoch"], stopped, n_train, len(samples.valid), len(samples.valid_natural)
    )


def _check_out_path(out_path: str | os.PathLike) -> Path:
    out_path = Path(out_path)
    if out_path.suffix != ".keras":
        raise FactorNetError(f"model file name must end in .keras, got {out_path.name!r}")
    folder = out_path.resolve().parent
    if not folder.is_dir():
        raise FactorNetError(f"cannot write the model: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise FactorNetError(f"cannot write the model: folder {str(folder)!r} is not writable")
    return out_path


def _resume_dir(out_path: Path) -> Path:
    return out_path.with_name(out_path.name + ".resume")


def _resume_settings(s: TrainSettings) -> dict:
    """The settings a checkpoint must have been written with to be resumed: all that change the
    computation (``epochs`` may grow; ``workers`` changes no batch, see :mod:`factornet_core.dataset`)."""
    return {k: v for k, v in asdict(s).items() if k not in ("resume", "workers", "epochs")}


def _select(sheet: Samplesheet, s: TrainSettings) -> Selection:
    if s.tf is not None:
        return select_tf(sheet, s.tf, s.cells, s.valid_cell)
    return select_multi_task(sheet, s.cells, s.valid_cell)


def _open_run(samplesheet, genome_path, s: TrainSettings, blacklist) -> _Run:
    """Open and check every input (selection, chromosomes, tracks, blacklist) and build the samples."""
    sheet = read_samplesheet(samplesheet)
    genome = Genome(genome_path)
    run = _Run(None, genome, [], [], [], [], None)
    try:
        with naming_rows(sheet):  # a listed file's fault is told by its samplesheet row
            _fill_run(run, sheet, genome, s, blacklist)
    except BaseException:
        run.close()
        raise
    return run


def _fill_run(run: _Run, sheet: Samplesheet, genome: Genome, s: TrainSettings, blacklist) -> None:
    """Select the cell types, open and check their tracks, read the blacklist, draw the samples."""
    sizes = genome.chrom_sizes
    run.selection = _select(sheet, s)
    run.train_chroms, run.valid_chroms = split_chromosomes(
        sizes, s.valid_chroms, s.exclude_chroms, s.train_chroms
    )
    used = {c: sizes[c] for c in [*run.train_chroms, *run.valid_chroms]}
    rules = tracknorm.resolve(s.track_norms, run.selection.sheet.track_names)
    for name in run.selection.all_cells:
        run.tracksets.append(TrackSet(run.selection.tracks(name), rules))
        run.tracksets[-1].check_chroms(used)
        run.tracksets[-1].check_range(*_value_limit(s))
        # each cell type scaled from its own bigWigs over every chromosome they share with the
        # genome: the definition predict applies, whatever chromosomes are trained on
        run.tracksets[-1].fix_scales(genome)
        run.readers.append(WindowReader(genome, run.tracksets[-1], s.seq_len))
    black = None
    if blacklist is not None:
        black = intervals.read_bed(blacklist, what="blacklist BED", allow_empty=True)
        black = intervals.check_in_genome(black, sizes, blacklist, "blacklist")
    run.samples = training_samples(
        run.selection,
        sizes,
        run.train_chroms,
        run.valid_chroms,
        black,
        negatives=s.negatives,
        seed=s.seed,
        valid_max=s.valid_max,
        open_negatives=s.open_negatives,
        open_track=s.open_track,
        valid_negatives=s.valid_negatives,
    )


FLOAT16_MAX = 65504.0


def _value_limit(s: TrainSettings) -> tuple[float | None, str]:
    """The largest track value the compute dtype holds: float16's under ``--mixed-precision``."""
    if s.mixed_precision:
        return FLOAT16_MAX, "(the largest float16, which --mixed-precision computes in)"
    return None, ""


def _metadata(selection: Selection, s: TrainSettings, annotations: dict | None):
    """(metadata builder or None, metadata names, expression PCA or None) for ``-m``/``-g``."""
    from factornet_core import dataset

    pca = cell_vectors = annotator = None
    if s.expression:
        from factornet_core import expression

        missing = [c for c in selection.all_cells if selection.expression(c) is None]
        if missing:
            raise FactorNetError(
                f"-m/--expression: cell type {missing[0]!r} has no expression table in the samplesheet"
            )
        tables = {c: expression.read_expression(selection.expression(c)) for c in selection.cells}
        pca = expression.ExpressionPCA.fit(tables)
        cell_vectors = [
            pca.transform(expression.read_expression(selection.expression(c))) for c in selection.all_cells
        ]
    if s.gencode:
        from factornet_core.annotations import BinAnnotator

        annotator = BinAnnotator(annotations)
    meta = dataset.MetaBuilder(cell_vectors, annotator) if (cell_vectors is not None or annotator) else None
    names = ([f"PC{i + 1}" for i in range(pca.n_components)] if pca else []) + (
        list(_feature_names()) if annotator else []
    )
    return meta, names, pca


def _model_config(s: TrainSettings, selection: Selection, n_meta: int):
    from factornet_core import model as fmodel

    return fmodel.ModelConfig(
        seq_len=s.seq_len,
        track_names=tuple(selection.sheet.track_names),
        n_tasks=len(selection.tfs),
        n_meta=n_meta,
        kernels=s.kernels,
        kernel_width=s.kernel_width,
        lstm_units=s.lstm_units,
        dense_units=s.dense_units,
        dropout=s.dropout,
        task_names=tuple(selection.tfs),
    )


def _new_model(cfg, pwm, s: TrainSettings):
    import keras

    from factornet_core import model as fmodel

    net = fmodel.build_model(cfg)
    if pwm is not None:
        fmodel.set_motif_kernels(net, pwm)
    net.compile(optimizer=keras.optimizers.Adam(s.learning_rate), loss="binary_crossentropy")
    return net


def _start(cfg, pwm, s: TrainSettings, checkpoints: resume.ResumeFolder) -> resume.Checkpoint:
    """A new model, or with ``s.resume`` the newest checkpoint (RNG states restored)."""
    import keras

    keras.utils.set_random_seed(s.seed)  # the model is deterministic from --seed
    _enable_determinism()
    found = checkpoints.load() if s.resume else None
    if found is not None:
        return found
    checkpoints.clear()
    return resume.Checkpoint(_new_model(cfg, pwm, s), [], {"epoch": -1, "val_auPR": -float("inf")}, 0, None)


def _fit(cfg, pwm, run: _Run, meta, s: TrainSettings, checkpoints: resume.ResumeFolder, progress: Progress):
    """The epoch loop with early stopping and a checkpoint per epoch → (net with the best weights,
    history, best, stopped early, samples per epoch)."""
    import keras

    from factornet_core import dataset

    policy = keras.mixed_precision.global_policy()
    if s.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with _strategy_scope(s.distribute):
            ck = _start(cfg, pwm, s, checkpoints)
        net, history, best, wait, best_weights = ck.net, ck.history, ck.best, ck.wait, ck.best_weights
        samples, readers = run.samples, run.readers
        valid_ds = dataset.PlanDataset(samples.valid, readers, meta, 500, s.workers, with_targets=False)
        cross_ds = None
        if samples.cross:
            cross_ds = dataset.PlanDataset(samples.cross, readers, meta, 500, s.workers, with_targets=False)
        natural = NaturalScorer(net, readers, meta, s.workers, shared_conv=not _mirrored(s.distribute))
        stopped, n_train = wait >= s.patience, 0  # a resumed run may have stopped already
        for epoch in range(len(history), s.epochs if not stopped else 0):
            plan = samples.train.epoch(epoch)
            n_train = len(plan)
            train_ds = dataset.PlanDataset(plan, readers, meta, s.batch_size, s.workers)
            progress.epoch_start(epoch, s.epochs, len(train_ds))
            fit = net.fit(train_ds, epochs=1, verbose=0, callbacks=[_BatchHook(progress)])
            record = {"epoch": epoch + 1, "loss": float(fit.history["loss"][-1])}
            t0 = time.perf_counter()
            record["val_loss"] = _balanced_loss(net, valid_ds, samples.valid.y)
            record["val_auPR"] = natural.auprc(samples.valid_natural)
            if cross_ds is not None:
                record["cross_val_loss"] = _balanced_loss(net, cross_ds, samples.cross.y)
                record["cross_val_auPR"] = natural.auprc(samples.cross_natural)
            progress.timing("validation", time.perf_counter() - t0)
            history.append(record)
            if record["val_auPR"] > best["val_auPR"]:  # NaN never is: a NaN epoch is never the best
                best = {"epoch": epoch + 1, "val_auPR": record["val_auPR"]}
                best_weights = [w.copy() for w in net.get_weights()]
                wait = 0
            else:
                wait += 1
            record["best_epoch"] = best["epoch"]
            t0 = time.perf_counter()
            checkpoints.save(epoch + 1, net, best_weights, {"history": history, "best": best, "wait": wait})
            progress.timing("resume_state", time.perf_counter() - t0)
            progress.epoch_end(record)
            if wait >= s.patience:
                stopped = True
                break
        if best_weights is not None:
            net.set_weights(best_weights)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return net, history, best, stopped, n_train


def _build_card(
    s: TrainSettings,
    cfg,
    run: _Run,
    meta_names,
    history,
    best,
    stopped,
    samplesheet,
    genome_path,
    motif: dict,
) -> ModelCard:
    """The model card (CONTRACT "model") of a trained model, through :func:`card.make_card`.

    ``motif`` is :attr:`MotifInit.card <factornet_core.motifinit.MotifInit>`. The card holds no local
    path: input files by base name (the motif file's too). The chromosome naming is that of the
    chromosomes trained and validated on, not of every contig in the FASTA: one ``KI270302.1``-style contig in a UCSC genome must not mark a chr1-trained model as
    '1'-style named.
    """
    used = list(run.train_chroms) + list(run.valid_chroms)
    return make_card(
        cfg.to_dict(),
        list(run.selection.tfs),
        mode="single-task" if s.tf else "multi-task",
        features=Features(expression=bool(s.expression), gencode=bool(s.gencode)),
        metadata_names=meta_names,
        chrom_naming="ucsc" if all(c.startswith("chr") for c in used) else "plain",
        track_norms=tracknorm.resolve(s.track_norms, cfg.track_names),
        training={
            **{k: v for k, v in asdict(s).items() if k not in ("resume", "workers")},
            "motif_file": Path(s.motif_file).name if s.motif_file else None,
            "train_chroms": list(run.train_chroms),
            "valid_chroms": list(run.valid_chroms),
            "cells": list(run.selection.cells),
            # what each cell type's track-norm statistic covered (tracknorm.SCOPE)
            "track_norm_scope": tracknorm.SCOPE,
            "best_epoch": best["epoch"],
            "epochs_run": len(history),
            "stopped_early": stopped,
            **motif,  # what happened: motif_init, and motif_source or motif_not_found
        },
        provenance={
            "samplesheet": str(Path(samplesheet).name),
            "genome": str(Path(genome_path).name),
            "created_by": f"factornet {__version__} train",
        },
    )


# ------------------------------------------------------------------------------------------- helpers
def _feature_names() -> tuple[str, ...]:
    from factornet_core.annotations import FEATURES

    return FEATURES


def _balanced_loss(net, ds, y: np.ndarray) -> float:
    """Mean binary cross-entropy over tasks on a balanced validation plan (the history's ``val_loss``)."""
    p = np.asarray(net.predict(ds, verbose=0), dtype=np.float64).reshape(y.shape)
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _enable_determinism() -> None:
    """Deterministic kernels on the TensorFlow backend (CPU runs repeat exactly with a seed)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with contextlib.suppress(Exception):
            tf.config.experimental.enable_op_determinism()


def _mirrored(force: bool) -> bool:
    """Train under MirroredStrategy: more than one GPU is visible, or forced (e.g. in CPU tests)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return force or len(tf.config.list_logical_devices("GPU")) > 1


def _strategy_scope(force: bool):
    """MirroredStrategy's scope when :func:`_mirrored`, else nothing."""
    if not _mirrored(force):
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.distribute.MirroredStrategy().scope()


class _BatchHook:
    """Keras callback forwarding batch ends to :class:`Progress` (built lazily to keep imports light)."""

    def __new__(cls, progress: Progress):
        import keras

        class Hook(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                progress.batch_end(batch, float((logs or {}).get("loss", float("nan"))))

        return Hook()


def _history_captions(s: TrainSettings, run: _Run, model_name: str) -> tuple[str, str]:
    """The learning curves' title (model, TF(s), cell types, seed) and the validation design they state."""
    from factornet_core.figures import chromosome_label

    sel = run.selection
    tfs = ", ".join(sel.tfs) if len(sel.tfs) <= 4 else f"{len(sel.tfs)} TFs (multi-task)"
    title = f"Learning curves: {model_name}, {tfs} in {', '.join(sel.cells)}, seed {s.seed}"
    nat = run.samples.valid_natural
    prevalence = nat.n_bound.sum() / max(int(nat.n_bound.sum() + nat.n_unbound.sum()), 1)
    kept = "every bin" if nat.every_bin else f"every bound bin, {s.valid_negatives} unbound ones weighted"
    ratio = f"{s.negatives:g}"
    design = (
        f"Validation on {chromosome_label(run.valid_chroms)} (never trained on). auPR ({kept}) per cell type at "
        f"the natural balance ({100 * prevalence:.2g}% bound), scored as factornet evaluate does; it picks the "
        f"best epoch. Validation loss: the training sampling ({ratio} unbound per bound bin, at most "
        f"{s.valid_max} samples)"
    )
    if sel.valid_cell:
        design += f"; held-out cell type {sel.valid_cell}, the same way"
    return title, design + "."


def _write_history(history: list[dict], json_path: Path, png_path: Path, title: str, design: str) -> None:
    """History JSON and the learning-curve PNG, written together (both or neither)."""
    from factornet_core.atomic import OutputSet
    from factornet_core.figures import write_learning_curves

    with OutputSet() as outs:
        outs.path(json_path).write_text(json.dumps(history, indent=1))
        write_learning_curves(history, outs.path(png_path), title, design)
