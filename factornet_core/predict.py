"""``factornet predict``: stream a model over a cell type's genome, chromosome by chromosome.

What is predicted: the bins of a BED file, or the 200/50 bp grid over chosen chromosomes (default:
all). Bins are processed per chromosome in chunks of ``chunk_bins`` (one genome/bigWig read per chunk,
see :mod:`factornet_core.windows`); scores are written as each chromosome completes, so memory
depends on the chunk size and the longest chromosome's score vector, not on the genome.

Windows are scored by the shared-convolution predictor (:mod:`factornet_core.fastpredict`): one
convolution per chunk span and strand, then the BiLSTM head per window; ``naive=True`` runs the whole
model on each window instead (the reference; same scores up to float32 rounding).

Blacklisted bins (``blacklist``) are not run through the model and get score 0, as in the original
FactorNet. Output order: chromosomes in the order they first appear (BED) or in the genome's order
(grid); bins within a chromosome in input order. Predicting chromosome shards separately and
merging them (``factornet merge``) gives exactly the unsharded file.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import fastpredict, intervals
from factornet_core.atomic import OutputSet, check_not_inputs
from factornet_core.card import ModelCard
from factornet_core.errors import FactorNetError
from factornet_core.inputs import CellInputs, CellType, PathLike
from factornet_core.scores import PredictionWriter
from factornet_core.tracks import BigWigWriter

WRITE_ROWS = 200_000  # rows formatted per write call (bounds the writer's memory)


@dataclass
class PredictResult:
    """What :func:`predict` did: bins scored (incl. blacklisted), bins blacklisted, wall time (s),
    TFs written (columns of the output, in order)."""

    n_bins: int
    n_blacklisted: int
    seconds: float
    tfs: list[str]


@dataclass(frozen=True)
class PredictOptions:
    """What to predict and how (all optional).

    Attributes
    ----------
    bins_bed : BED of bins to score (each ``bin_size`` bp, as the model was trained); default: the
        ``bin_size``/``bin_stride`` grid over ``chroms``.
    chroms : chromosomes to score (default: all of the genome, or of ``bins_bed``).
    blacklist : BED of regions; bins overlapping it are not run and get score 0 (original FactorNet).
    tf : write only this TF's column (required with ``dream`` for multi-task models).
    dream : headerless single-TF ENCODE-DREAM layout.
    bigwig_prefix : also write ``<prefix>.<TF>.bw``, each bin's score over its central ``bin_stride`` bp.
    batch_size : windows per model call.
    chunk_bins : bins read from genome and bigWigs at once (bounds memory).
    naive : run the whole model on every window instead of sharing the convolution.
    """

    bins_bed: PathLike | None = None
    chroms: Sequence[str] | None = None
    blacklist: PathLike | None = None
    tf: str | None = None
    dream: bool = False
    bigwig_prefix: str | None = None
    batch_size: int = 500
    chunk_bins: int = 2000
    naive: bool = False


class Progress:
    """Hooks for a progress display (the library never prints)."""

    def start(self, total_bins: int) -> None: ...

    def advance(self, n_bins: int) -> None: ...

    def finish(self) -> None: ...


def predict(
    model_path: PathLike,
    cell: CellType,
    out_path: PathLike,
    options: PredictOptions | None = None,
    progress: Progress | None = None,
) -> PredictResult:
    """Score every bin of a cell type with a model; write a prediction TSV(.gz) (and bigWigs).

    Implements prediction on a new cell type as in Quang & Xie (2019), Methods "Prediction": each
    200 bp bin (stepping 50 bp) is scored from the ``seq_len`` bp window centred on it, forward and
    reverse strand averaged by the Siamese model; blacklisted bins get 0.

    Parameters
    ----------
    model_path : ``.keras`` model with a FactorNet card.
    cell : the cell type's genome, tracks (named as in the card) and, as the card requires,
        expression table / metadata values / annotation features.
    out_path : prediction file, header ``chr start stop <TF>...``, scores in [0, 1]; ``.gz`` compresses.
    options : which bins and TFs, output layout, batch sizes (:class:`PredictOptions`).
    progress : display hooks, called with numbers of bins.

    Returns
    -------
    PredictResult

    Raises
    ------
    FactorNetError
        Before any work: inputs that do not match the card (tracks, metadata, chromosome naming), an
        unknown TF, ``dream`` with several TFs, chromosomes or bins outside the genome or the tracks,
        bins of the wrong size. Nothing is written on error.
    """
    options = options or PredictOptions()
    progress = progress or Progress()
    with CellInputs.open(model_path, cell) as inputs:
        card = inputs.card
        tfs = list(card.tfs)
        columns = _tf_columns(tfs, options)
        groups, bins = bin_groups(options, card, inputs.chrom_sizes)
        inputs.data.check_chroms([c for c, _ in groups])
        black = None
        if options.blacklist is not None:
            black = intervals.read_bed(options.blacklist, what="blacklist BED", allow_empty=True)
            black = intervals.check_in_genome(black, inputs.chrom_sizes, options.blacklist, what="blacklist")
        scorer = _Scorer(inputs, options)

        def group_bins(chrom, idx) -> pd.DataFrame:
            if idx is None:
                return intervals.tile_bins(inputs.chrom_sizes, [chrom], card.bin_size, card.bin_stride)
            return bins.iloc[idx]

        sizes = {c: inputs.chrom_sizes[c] for c, _ in groups}
        total = sum(len(idx) if idx is not None else grid_count(sizes[c], card) for c, idx in groups)
        out_tfs = [tfs[i] for i in columns]
        check_bigwig_names(options, out_tfs, [model_path], cell)
        t0 = time.perf_counter()
        n_black = 0
        progress.start(total)
        with OutputSet() as outs:
            writer = PredictionWriter(outs.path(out_path), out_tfs, dream=options.dream)
            bw_writers = None
            if options.bigwig_prefix is not None:
                bw_writers = ScoreBigWigs(outs, options.bigwig_prefix, out_tfs, sizes, card)
            with writer:
                for chrom, idx in groups:
                    chunk_df = group_bins(chrom, idx)
                    skip = (
                        intervals.overlap_mask(chunk_df, black)
                        if black is not None
                        else np.zeros(len(chunk_df), bool)
                    )
                    n_black += int(skip.sum())
                    scores = scorer.score(chrom, chunk_df["start"].to_numpy(), skip, progress)[:, columns]
                    write_chrom(writer, bw_writers, chrom, chunk_df, scores)
            if bw_writers is not None:
                bw_writers.close()
        progress.finish()
    return PredictResult(total, n_black, time.perf_counter() - t0, out_tfs)


def _tf_columns(tfs: list[str], options: PredictOptions) -> list[int]:
    """Output columns to write; refuses an unknown TF and ``--dream`` with several TFs."""
    if options.tf is not None and options.tf not in tfs:
        raise FactorNetError(f"the model predicts {', '.join(tfs)}, not {options.tf!r}")
    if options.dream and len(tfs) > 1 and options.tf is None:
        raise FactorNetError(
            f"--dream writes one TF; the model has {len(tfs)} ({', '.join(tfs)}): choose one with --tf"
        )
    return [tfs.index(options.tf)] if options.tf is not None else list(range(len(tfs)))


def bin_groups(
    options: PredictOptions, card: ModelCard, sizes: Mapping[str, int]
) -> tuple[list[tuple[str, np.ndarray | None]], pd.DataFrame | None]:
    """Chromosomes to score, each with the row indices of its bins in the bins BED (None: the grid)."""
    chroms, bins_bed = options.chroms, options.bins_bed
    if bins_bed is None:
        use = list(chroms) if chroms else list(sizes)
        for c in use:
            if c not in sizes:
                raise intervals.unknown_chromosome(c, sizes)
        return [(c, None) for c in use], None
    bins = intervals.read_bed(bins_bed, what="bins BED")[["chrom", "start", "end"]]
    intervals.refuse_duplicate_bins(bins, bins_bed, "bin")  # it would be predicted and written twice
    intervals.check_in_genome(bins, sizes, bins_bed, what="bin")
    unknown = sorted(set(bins["chrom"]) - set(sizes))
    if unknown:
        raise intervals.unknown_chromosome(unknown[0], sizes, f"{bins_bed}: chromosome")
    if chroms:
        bins = bins[bins["chrom"].isin(chroms)]
    if not ((bins["end"] - bins["start"]) == card.bin_size).all():
        raise FactorNetError(f"{bins_bed}: every bin must be {card.bin_size} bp, as the model was trained")
    return list(bins.groupby("chrom", sort=False).indices.items()), bins


class _Scorer:
    """Scores the bins of one chromosome in chunks: shared convolution, or the whole model per window."""

    def __init__(self, inputs: CellInputs, options: PredictOptions):
        self.inputs, self.options = inputs, options
        net = inputs.model
        self.fast = None
        if not options.naive and fastpredict.supports(net):
            self.fast = fastpredict.SharedConvPredictor(net, batch_size=options.batch_size)

    def score(self, chrom: str, starts: np.ndarray, skip: np.ndarray, progress: Progress) -> np.ndarray:
        """``(n_bins, n_tfs) float32`` scores of bins starting at ``starts``; 0 where ``skip``."""
        inputs, step = self.inputs, self.options.chunk_bins
        scores = np.zeros((len(starts), len(inputs.card.tfs)), dtype=np.float32)
        for lo in range(0, len(starts), step):
            hi = min(lo + step, len(starts))
            run = np.flatnonzero(~skip[lo:hi]) + lo
            if run.size:
                meta = inputs.meta(chrom, starts[run])
                if self.fast is not None:
                    scores[run] = self.fast.predict_bins(inputs.reader, chrom, starts[run], meta)
                else:
                    x = inputs.reader.windows(chrom, starts[run])
                    scores[run] = apply_model(
                        inputs.model, x if meta is None else (x, meta), self.options.batch_size
                    )
            progress.advance(hi - lo)
        return scores


def write_chrom(writer, bw_writers, chrom: str, chunk_df: pd.DataFrame, scores: np.ndarray) -> None:
    """Write one chromosome's bins ``chunk_df`` and ``scores (n_bins, n_tfs)`` to the prediction file
    and, when given, the per-TF bigWigs."""
    # in slices: text formatting needs ~1 kB per row, so a whole chromosome at once would not keep
    # memory flat in chromosome length
    for lo in range(0, len(chunk_df), WRITE_ROWS):
        hi = min(lo + WRITE_ROWS, len(chunk_df))
        writer.write(chunk_df.iloc[lo:hi][["chrom", "start", "end"]], scores[lo:hi])
    if bw_writers is not None:
        bw_writers.add(chrom, chunk_df["start"].to_numpy(), scores)


def grid_count(length: int, card: ModelCard) -> int:
    """Number of grid bins (``card.bin_size`` wide, every ``card.bin_stride`` bp) on a chromosome."""
    size, stride = card.bin_size, card.bin_stride
    return (length - size) // stride + 1 if length >= size else 0


def apply_model(net, inputs, batch_size: int) -> np.ndarray:
    """Model outputs ``(n, n_tasks) float32`` in batches of ``batch_size`` windows.

    ``inputs`` : ``(n, seq_len, channels) float32`` windows, or a tuple of those and
    ``(n, n_meta) float32`` metadata rows. Every batch, the short last one included, goes through one
    graph per model traced once for any batch size (:func:`compiled_call`), so the last batch of a
    chunk or a new model never retraces.
    """
    call = compiled_call(net)
    x = inputs[0] if isinstance(inputs, tuple) else inputs
    out = []
    for lo in range(0, x.shape[0], batch_size):
        hi = min(lo + batch_size, x.shape[0])
        parts = inputs if isinstance(inputs, tuple) else (x,)
        batch = [np.ascontiguousarray(a[lo:hi], dtype=np.float32) for a in parts]
        out.append(np.asarray(call(*batch), dtype=np.float32))
    return np.concatenate(out, axis=0)


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiled_call(net):
    """``net(inputs, training=False)`` as one TensorFlow graph per model, for any batch size.

    The graph is traced here, once, with the batch dimension left open, through
    ``get_concrete_function``: calling a fresh ``tf.function`` per model would be counted by
    TensorFlow as retracing of one function (they share their code) and log "triggered tf.function
    retracing" warnings after a few models. Cached per model object (weakly).
    """
    if net in _COMPILED:
        return _COMPILED[net]
    import tensorflow as tf

    specs = [tf.TensorSpec([None, *t.shape[1:]], tf.float32) for t in net.inputs]

    def forward(*xs):
        return net(list(xs) if len(xs) > 1 else xs[0], training=False)

    call = tf.function(forward, input_signature=specs).get_concrete_function()
    _COMPILED[net] = call
    return call


def bigwig_names(prefix: str, columns: Sequence[str]) -> list[Path]:
    """The score bigWigs of ``--bigwig-out PREFIX``: ``PREFIX.<column>.bw``, one per column."""
    return [Path(f"{prefix}.{column}.bw") for column in columns]


def check_bigwig_names(options: PredictOptions, columns: Sequence[str], models, cell) -> None:
    """Refuse, before any work, a ``--bigwig-out`` bigWig that is one of the inputs (models, genome,
    tracks, bins, blacklist, expression, metadata); raises FactorNetError naming both."""
    if options.bigwig_prefix is None:
        return
    inputs = {
        "--model": models,
        "--genome": cell.genome,
        "--track": list(cell.tracks.values()),
        "--bins": options.bins_bed,
        "--blacklist": options.blacklist,
        "--expression": cell.expression,
        "--meta-values": cell.meta_values,
    }
    check_not_inputs(bigwig_names(options.bigwig_prefix, columns), inputs, "--bigwig-out")


class ScoreBigWigs:
    """One bigWig per TF (:class:`~factornet_core.tracks.BigWigWriter`); a bin's score covers its
    central ``stride`` bp so grid bins tile the genome."""

    def __init__(self, outs: OutputSet, prefix: str, tfs: list[str], sizes: dict[str, int], card: ModelCard):
        self.offset = (card.bin_size - card.bin_stride) // 2
        self.span = card.bin_stride
        self.writers: list[BigWigWriter] = []
        for path in bigwig_names(prefix, tfs):
            self.writers.append(BigWigWriter(outs.path(path), sizes, chunk=WRITE_ROWS))

    def add(self, chrom: str, starts: np.ndarray, scores: np.ndarray) -> None:
        order = np.argsort(starts, kind="stable")
        s = starts[order] + self.offset
        keep = np.ones(s.size, dtype=bool)
        keep[1:] = s[1:] >= s[:-1] + self.span  # drop entries that would overlap the previous one
        s = s[keep]
        for j, writer in enumerate(self.writers):
            writer.add_intervals(chrom, s, s + self.span, scores[order, j][keep])

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
