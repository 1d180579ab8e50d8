"""``factornet train``: fit a FactorNet model and write the one-file model with its card.

Training follows the seed: Adam (learning rate 1e-3), minibatches of 100, mean binary cross-entropy
over tasks, dropout, validation chromosomes held out, early stopping on the within-cell validation
loss with ``patience`` epochs, and the best epoch's weights kept. Each epoch streams a fresh sample
(:mod:`factornet_core.sampling`) through loader threads (:mod:`factornet_core.dataset`).

After every epoch a resume folder ``<model>.resume/`` holds the last model (with optimizer state),
the best weights and the history, so ``resume=True`` continues after a kill from the last completed
epoch. It is removed when training finishes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import __version__, intervals
from factornet_core.card import Features, make_card
from factornet_core.errors import FactorNetError
from factornet_core.genome import Genome
from factornet_core.samplesheet import Samplesheet, read_samplesheet
from factornet_core.sampling import (
    BinSpace,
    Excluder,
    MultiTaskSampler,
    PeakSet,
    Plan,
    SingleTaskSampler,
    bound_bins,
    open_bins,
)
from factornet_core.tracks import TrackSet
from factornet_core.windows import WindowReader


@dataclass
class TrainSettings:
    """Everything ``factornet train`` can be told (the seed's flag in brackets)."""

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
    open_negatives: float = 0.0  # fraction of negatives drawn from accessible unbound bins (0 = the seed's)
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
    motif: str | None = None  # [-mo] motif name in motif_file
    motif_file: str | None = None
    seed: int = 0  # [-s]
    workers: int = 2
    valid_max: int = 20000
    mixed_precision: bool = False
    distribute: bool = False  # force MirroredStrategy (automatic with > 1 GPU)
    resume: bool = False


@dataclass
class TrainResult:
    history: list[dict]
    best_epoch: int
    stopped_early: bool
    n_train: int
    n_valid: int


class Progress:
    """Hooks the caller may implement to show progress (the library itself never prints)."""

    def epoch_start(self, epoch: int, epochs: int, n_batches: int) -> None: ...

    def batch_end(self, batch: int, loss: float) -> None: ...

    def epoch_end(self, record: dict) -> None: ...


@dataclass
class _Inputs:
    """Files opened for training: per training cell a reader, plus the metadata builder."""

    sheet: Samplesheet
    genome: Genome
    cells: list[str]
    readers: list[WindowReader]
    tracks: list[TrackSet]
    tfs: list[str]


def train(
    samplesheet: str | os.PathLike,
    genome_path: str | os.PathLike,
    out_path: str | os.PathLike,
    settings: TrainSettings,
    annotations: dict | None = None,
    blacklist: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a model and write ``out_path`` (.keras) + ``<stem>.history.json`` + ``<stem>.history.png``.

    ``annotations`` is the features dict of :mod:`factornet_core.annotations` (needed with
    ``settings.gencode``).
    """
    import keras

    from factornet_core import dataset
    from factornet_core import model as fmodel
    from factornet_core.modelfile import save_model

    progress = progress or Progress()
    out_path = Path(out_path)
    if out_path.suffix != ".keras":
        raise FactorNetError(f"model file name must end in .keras, got {out_path.name!r}")
    folder = out_path.resolve().parent
    if not folder.is_dir():
        raise FactorNetError(f"cannot write the model: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise FactorNetError(f"cannot write the model: folder {str(folder)!r} is not writable")
    s = settings
    if s.gencode and annotations is None:
        raise FactorNetError("-g/--gencode needs annotations: give --gtf and --cpg, or --annotation-beds")
    sheet = read_samplesheet(samplesheet)
    genome = Genome(genome_path)
    sizes = genome.chrom_sizes
    cells, tfs = _choose_cells_and_tfs(sheet, s)
    valid_chroms, train_chroms = _choose_chroms(sizes, s)
    used = {c: sizes[c] for c in [*train_chroms, *valid_chroms]}
    all_cells = cells + ([s.valid_cell] if s.valid_cell else [])
    readers, tracksets = [], []
    for name in all_cells:
        ts = TrackSet(sheet.cells[name].tracks)
        ts.check_chroms(used)
        tracksets.append(ts)
        readers.append(WindowReader(genome, ts, s.seq_len))
    black = None
    if blacklist is not None:
        black = intervals.check_in_genome(
            intervals.read_bed(blacklist, what="blacklist BED", allow_empty=True),
            sizes,
            blacklist,
            "blacklist",
        )

    # ---- samplers
    def peaks_of(cell: str, tf: str, kind: str) -> pd.DataFrame | None:
        path = getattr(sheet.cells[cell], kind).get(tf)
        if path is None:
            return None
        df = intervals.read_bed(path, what="narrowPeak", allow_empty=kind == "relaxed")
        return intervals.check_in_genome(df, sizes, path, what="peak")

    space_train = BinSpace(sizes, train_chroms, intervals.BIN_SIZE, intervals.BIN_STRIDE)
    space_valid = BinSpace(sizes, valid_chroms, intervals.BIN_SIZE, intervals.BIN_STRIDE)

    def single_sampler(
        cell_names: Sequence[str], space: BinSpace, seed: int, hard: bool
    ) -> SingleTaskSampler:
        sets = []
        for cell in cell_names:
            cons, rel = peaks_of(cell, s.tf, "conservative"), peaks_of(cell, s.tf, "relaxed")
            on = cons[cons["chrom"].isin(space.chroms)]
            excluder = Excluder([cons, rel, black])
            open_chrom = open_start = None
            if hard and s.open_negatives > 0:
                track = s.open_track or sheet.track_names[0]
                if track not in sheet.cells[cell].tracks:
                    raise FactorNetError(f"--open-track {track!r} is not a track of the samplesheet")
                means = tile_means(sheet.cells[cell].tracks[track], space.chroms, sizes, intervals.BIN_SIZE)
                open_chrom, open_start = open_bins(means, excluder, intervals.BIN_SIZE)
            sets.append(
                PeakSet(
                    on["chrom"].to_numpy(dtype=object),
                    on["start"].to_numpy(),
                    on["end"].to_numpy(),
                    excluder,
                    open_chrom,
                    open_start,
                )
            )
        return SingleTaskSampler(
            sets, space, s.negatives, seed, open_fraction=s.open_negatives if hard else 0.0
        )

    def multi_sampler(cell: str, space: BinSpace, seed: int) -> MultiTaskSampler:
        cons = {tf: peaks_of(cell, tf, "conservative") for tf in tfs}
        on = pd.concat([d[d["chrom"].isin(space.chroms)] for d in cons.values()], ignore_index=True)
        candidates = intervals.bins_touching(on, sizes) if len(on) else intervals.tile_bins(sizes, [])
        labels = [intervals.label_bins(candidates, cons[tf]) for tf in tfs]
        chrom, start, y = bound_bins(candidates, labels)
        # negatives: bound for no TF (ambiguous allowed), not blacklisted
        excluder = _BoundExcluder(list(cons.values()), black)
        return MultiTaskSampler(chrom, start, y, excluder, space, s.negatives, seed)

    if s.tf is not None:
        train_sampler = single_sampler(cells, space_train, s.seed, hard=True)
        valid_plan = _cap(
            single_sampler(cells, space_valid, s.seed + 1, hard=False).epoch(0, shift=False),
            s.valid_max,
            s.seed,
        )
        cross_plan = None
        if s.valid_cell:
            cross = single_sampler([s.valid_cell], space_valid, s.seed + 2, hard=False).epoch(0, shift=False)
            cross_plan = _cap(cross, s.valid_max, s.seed)
            cross_plan.cell = cross_plan.cell + len(cells)
    else:
        train_sampler = multi_sampler(cells[0], space_train, s.seed)
        valid_plan = _cap(
            multi_sampler(cells[0], space_valid, s.seed + 1).epoch(0, shift=False), s.valid_max, s.seed
        )
        cross_plan = None
        if s.valid_cell:
            cross_plan = _cap(
                multi_sampler(s.valid_cell, space_valid, s.seed + 2).epoch(0, shift=False),
                s.valid_max,
                s.seed,
            )
            cross_plan.cell = cross_plan.cell + len(cells)
    if valid_plan.y.sum() == 0:
        raise FactorNetError(f"no positives on the validation chromosome(s) {', '.join(valid_chroms)}")

    # ---- metadata
    pca = None
    cell_vectors = None
    if s.expression:
        from factornet_core import expression

        missing = [c for c in all_cells if sheet.cells[c].expression is None]
        if missing:
            raise FactorNetError(
                f"-m/--expression: cell type {missing[0]!r} has no expression table in the samplesheet"
            )
        tables = {c: expression.read_expression(sheet.cells[c].expression) for c in cells}
        pca = expression.ExpressionPCA.fit(tables)
        cell_vectors = [
            pca.transform(expression.read_expression(sheet.cells[c].expression)) for c in all_cells
        ]
    annotator = None
    if s.gencode:
        from factornet_core.annotations import BinAnnotator

        annotator = BinAnnotator(annotations)
    meta = dataset.MetaBuilder(cell_vectors, annotator) if (cell_vectors is not None or annotator) else None
    meta_names = ([f"PC{i + 1}" for i in range(pca.n_components)] if pca else []) + (
        list(_feature_names()) if annotator else []
    )

    cfg = fmodel.ModelConfig(
        seq_len=s.seq_len,
        track_names=tuple(sheet.track_names),
        n_tasks=len(tfs),
        n_meta=len(meta_names),
        kernels=s.kernels,
        kernel_width=s.kernel_width,
        lstm_units=s.lstm_units,
        dense_units=s.dense_units,
        dropout=s.dropout,
        task_names=tuple(tfs),
    )
    if s.motif and not s.motif_file:
        raise FactorNetError("-mo/--motif needs --motif-file (a MEME file) with that motif")
    pwm = None
    if s.motif:
        from factornet_core.meme import find_motif, read_meme

        pwm = find_motif(read_meme(s.motif_file), s.motif).pwm

    # ---- model (deterministic from the seed)
    keras.utils.set_random_seed(s.seed)
    _enable_determinism()
    resume_dir = out_path.with_name(out_path.name + ".resume")
    state = _load_state(resume_dir) if s.resume else None
    policy = keras.mixed_precision.global_policy()
    if s.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with _strategy_scope(s.distribute):
            if state is not None:
                net = keras.saving.load_model(resume_dir / "last.keras", safe_mode=True)
            else:
                net = fmodel.build_model(cfg)
                if pwm is not None:
                    fmodel.set_motif_kernels(net, pwm)
                net.compile(optimizer=keras.optimizers.Adam(s.learning_rate), loss="binary_crossentropy")
        history = state["history"] if state else []
        best = state["best"] if state else {"epoch": -1, "val_loss": float("inf")}
        wait = state["wait"] if state else 0
        best_weights = (
            _read_weights(net, resume_dir / "best.weights.h5") if state and best["epoch"] >= 0 else None
        )
        stopped = False
        valid_ds = dataset.PlanDataset(valid_plan, readers, meta, 500, s.workers, with_targets=False)
        cross_ds = (
            dataset.PlanDataset(cross_plan, readers, meta, 500, s.workers, with_targets=False)
            if cross_plan
            else None
        )
        n_train = 0
        for epoch in range(len(history), s.epochs):
            plan = train_sampler.epoch(epoch)
            n_train = len(plan)
            train_ds = dataset.PlanDataset(plan, readers, meta, s.batch_size, s.workers)
            progress.epoch_start(epoch, s.epochs, len(train_ds))
            fit = net.fit(train_ds, epochs=1, verbose=0, callbacks=[_BatchHook(progress)])
            record = {"epoch": epoch + 1, "loss": float(fit.history["loss"][-1])}
            record.update(_score(net, valid_ds, valid_plan.y, "val"))
            if cross_ds is not None:
                record.update(_score(net, cross_ds, cross_plan.y, "cross_val"))
            history.append(record)
            if record["val_loss"] < best["val_loss"]:
                best = {"epoch": epoch + 1, "val_loss": record["val_loss"]}
                best_weights = [w.copy() for w in net.get_weights()]
                wait = 0
            else:
                wait += 1
            record["best_epoch"] = best["epoch"]
            _save_state(resume_dir, net, best_weights, {"history": history, "best": best, "wait": wait})
            progress.epoch_end(record)
            if wait >= s.patience:
                stopped = True
                break
        if best_weights is not None:
            net.set_weights(best_weights)
    finally:
        keras.mixed_precision.set_global_policy(policy)

    card = make_card(
        cfg.to_dict(),
        tfs,
        mode="single-task" if s.tf else "multi-task",
        features=Features(expression=bool(s.expression), gencode=bool(s.gencode)),
        metadata_names=meta_names,
        chrom_naming="ucsc" if all(c.startswith("chr") for c in sizes) else "plain",
        training={
            **{k: v for k, v in asdict(s).items() if k not in ("resume", "workers")},
            "train_chroms": train_chroms,
            "valid_chroms": valid_chroms,
            "cells": cells,
            "best_epoch": best["epoch"],
            "epochs_run": len(history),
            "stopped_early": stopped,
        },
        provenance={
            "samplesheet": str(Path(samplesheet).name),
            "genome": str(Path(genome_path).name),
            "created_by": f"factornet {__version__} train",
        },
    )
    arrays = {f"expression_{k}": v for k, v in pca.to_arrays().items()} if pca else None
    stem = out_path.with_suffix("")
    save_model(net, card, out_path, arrays)
    _write_history(history, Path(f"{stem}.history.json"), Path(f"{stem}.history.png"))
    shutil.rmtree(resume_dir, ignore_errors=True)
    for ts in tracksets:
        ts.close()
    genome.close()
    return TrainResult(history, best["epoch"], stopped, n_train, len(valid_plan))


# ------------------------------------------------------------------------------------------- helpers
def _feature_names() -> tuple[str, ...]:
    from factornet_core.annotations import FEATURES

    return FEATURES


def _choose_cells_and_tfs(sheet: Samplesheet, s: TrainSettings) -> tuple[list[str], list[str]]:
    if s.tf is not None:
        with_tf = sheet.cells_with_tf(s.tf)
        if not with_tf:
            raise FactorNetError(
                f"TF {s.tf!r} has no conservative peaks in the samplesheet (TFs there: {', '.join(sheet.tfs) or 'none'})"
            )
        cells = s.cells or with_tf
        for c in cells:
            sheet.cell(c)
            if s.tf not in sheet.cells[c].conservative:
                raise FactorNetError(f"cell type {c!r} has no conservative peaks for {s.tf}")
        if s.valid_cell:
            sheet.cell(s.valid_cell)
            if s.tf not in sheet.cells[s.valid_cell].conservative:
                raise FactorNetError(
                    f"validation cell type {s.valid_cell!r} has no conservative peaks for {s.tf}"
                )
        return list(cells), [s.tf]
    cells = s.cells or list(sheet.cells)
    if len(cells) != 1:
        raise FactorNetError(
            f"multi-task training (no -f/--tf) uses one cell type; the samplesheet has {len(cells)}: "
            "choose one with --cell, or give -f TF for single-task training"
        )
    cell = sheet.cell(cells[0])
    tfs = list(cell.conservative)
    if not tfs:
        raise FactorNetError(f"cell type {cell.name!r} has no conservative peaks")
    if s.valid_cell:
        vc = sheet.cell(s.valid_cell)
        lacking = [tf for tf in tfs if tf not in vc.conservative]
        if lacking:
            raise FactorNetError(f"validation cell type {vc.name!r} lacks peaks for {', '.join(lacking)}")
    return cells, tfs


def _choose_chroms(sizes: dict[str, int], s: TrainSettings) -> tuple[list[str], list[str]]:
    for c in s.valid_chroms:
        if c not in sizes:
            raise FactorNetError(
                f"validation chromosome {c!r} is not in the genome (it has {', '.join(list(sizes)[:6])}...): set -v"
            )
    if s.train_chroms:
        for c in s.train_chroms:
            if c not in sizes:
                raise FactorNetError(f"training chromosome {c!r} is not in the genome")
        train = [c for c in s.train_chroms if c not in s.valid_chroms]
    else:
        train = [c for c in sizes if c not in s.valid_chroms and c not in s.exclude_chroms]
    if not train:
        raise FactorNetError("no training chromosomes left after removing validation/excluded ones")
    return list(s.valid_chroms), train


def tile_means(bigwig: str | os.PathLike, chroms: Sequence[str], sizes: dict[str, int], tile: int) -> dict:
    """Mean signal of consecutive ``tile``-bp tiles per chromosome, from the bigWig's zoom levels (fast)."""
    import pyBigWig

    handle = pyBigWig.open(str(bigwig))
    try:
        out = {}
        for chrom in chroms:
            n = sizes[chrom] // tile
            if n == 0:
                continue
            values = handle.stats(chrom, 0, n * tile, type="mean", nBins=n)
            out[chrom] = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
        return out
    finally:
        handle.close()


def _cap(plan: Plan, limit: int, seed: int) -> Plan:
    if len(plan) <= limit:
        return plan
    keep = np.sort(np.random.default_rng(seed).choice(len(plan), limit, replace=False))
    return plan.take(keep)


class _BoundExcluder(Excluder):
    """Rejects bins that are bound (B) for any TF, or touch the blacklist; ambiguous bins pass."""

    def __init__(self, conservative: list[pd.DataFrame], blacklist: pd.DataFrame | None):
        self.per_tf = [intervals.coverages(c) for c in conservative]
        self.black = intervals.coverages(blacklist)

    def hits(self, chrom: np.ndarray, start: np.ndarray, bin_size: int) -> np.ndarray:
        out = np.zeros(start.size, dtype=bool)
        for c in np.unique(chrom):
            idx = np.flatnonzero(chrom == c)
            lo, hi = start[idx], start[idx] + bin_size
            hit = np.zeros(idx.size, dtype=bool)
            for cov in self.per_tf:
                if c in cov:
                    hit |= 2 * cov[c].overlap(lo, hi) > bin_size
            if c in self.black:
                hit |= self.black[c].overlap(lo, hi) > 0
            out[idx] = hit
        return out


def _score(net, ds, y: np.ndarray, prefix: str) -> dict:
    """Validation loss (mean BCE over tasks) and mean auPR over tasks with positives."""
    from factornet_core.metrics import auprc_davis_goadrich

    p = np.asarray(net.predict(ds, verbose=0), dtype=np.float64).reshape(y.shape)
    q = np.clip(p, 1e-7, 1 - 1e-7)
    loss = float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    auprs = [auprc_davis_goadrich(y[:, t], p[:, t]) for t in range(y.shape[1]) if 0 < y[:, t].sum() < len(y)]
    return {f"{prefix}_loss": loss, f"{prefix}_auPR": float(np.mean(auprs)) if auprs else float("nan")}


def _enable_determinism() -> None:
    """Deterministic kernels on the TensorFlow backend (CPU runs repeat exactly with a seed)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with contextlib.suppress(Exception):
            tf.config.experimental.enable_op_determinism()


def _strategy_scope(force: bool):
    """MirroredStrategy when more than one GPU is visible (or when forced, e.g. in CPU tests)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return contextlib.nullcontext()
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1 or force:
        return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()


class _BatchHook:
    """Keras callback forwarding batch ends to :class:`Progress` (built lazily to keep imports light)."""

    def __new__(cls, progress: Progress):
        import keras

        class Hook(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                progress.batch_end(batch, float((logs or {}).get("loss", float("nan"))))

        return Hook()


def _save_state(folder: Path, net, best_weights, state: dict) -> None:
    folder.mkdir(exist_ok=True)
    net.save(folder / "last.keras.part.keras")
    os.replace(folder / "last.keras.part.keras", folder / "last.keras")
    if best_weights is not None:
        current = net.get_weights()
        net.set_weights(best_weights)
        net.save_weights(folder / "best.part.weights.h5")
        net.set_weights(current)
        os.replace(folder / "best.part.weights.h5", folder / "best.weights.h5")
    (folder / "state.json.part").write_text(json.dumps(state))
    os.replace(folder / "state.json.part", folder / "state.json")


def _load_state(folder: Path) -> dict | None:
    if not (folder / "state.json").is_file() or not (folder / "last.keras").is_file():
        return None
    return json.loads((folder / "state.json").read_text())


def _read_weights(net, path: Path) -> list[np.ndarray] | None:
    if not path.is_file():
        return None
    current = net.get_weights()
    net.load_weights(path)
    best = [w.copy() for w in net.get_weights()]
    net.set_weights(current)
    return best


def _write_history(history: list[dict], json_path: Path, png_path: Path) -> None:
    """History JSON and a learning-curve PNG (loss and validation auPR per epoch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from factornet_core.atomic import OutputSet

    with OutputSet() as outs:
        outs.path(json_path).write_text(json.dumps(history, indent=1))
        epochs = [h["epoch"] for h in history]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
        ax1.plot(epochs, [h["loss"] for h in history], "o-", label="train")
        ax1.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation (within cell)")
        if history and "cross_val_loss" in history[0]:
            ax1.plot(epochs, [h["cross_val_loss"] for h in history], "o-", label="validation (other cell)")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("binary cross-entropy")
        ax1.legend()
        ax2.plot(epochs, [h["val_auPR"] for h in history], "o-", label="within cell")
        if history and "cross_val_auPR" in history[0]:
            ax2.plot(epochs, [h["cross_val_auPR"] for h in history], "o-", label="other cell")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("validation auPR")
        ax2.set_ylim(0, 1)
        ax2.legend()
        fig.tight_layout()
        fig.savefig(outs.path(png_path))
        plt.close(fig)
