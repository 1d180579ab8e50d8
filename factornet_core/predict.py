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

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import fastpredict, intervals
from factornet_core.atomic import OutputSet
from factornet_core.errors import FactorNetError
from factornet_core.genome import Genome
from factornet_core.tracks import TrackSet
from factornet_core.windows import WindowReader

WRITE_ROWS = 200_000  # rows formatted per write call (bounds the writer's memory)


@dataclass
class PredictResult:
    n_bins: int
    n_blacklisted: int
    seconds: float
    tfs: list[str]


class Progress:
    """Hooks for a progress display (the library never prints)."""

    def start(self, total_bins: int) -> None: ...

    def advance(self, n_bins: int) -> None: ...

    def finish(self) -> None: ...


def check_inputs(card: dict, track_names: Sequence[str], has_expression: bool, has_annotations: bool) -> None:
    """Refuse inputs that do not match the model card (before any work)."""
    want = list(card["track_names"])
    if sorted(want) != sorted(track_names):
        raise FactorNetError(
            f"the model was trained on tracks {want}, the inputs give {list(track_names)}: "
            "provide tracks with exactly these names"
        )
    features = card.get("features", {})
    if features.get("expression") and not has_expression:
        if card.get("expression_source") == "meta_values":
            raise FactorNetError(
                "this imported model needs the cell type's expression PCs as published with it: give --meta-values"
            )
        raise FactorNetError("the model uses expression PCs (-m): give the cell type's expression table")
    if features.get("gencode") and not has_annotations:
        raise FactorNetError(
            "the model uses annotation features (-g): give --gtf and --cpg, or --annotation-beds"
        )


def check_chrom_naming(card: dict, chrom_sizes: Mapping[str, int]) -> None:
    naming = card.get("chrom_naming")
    ucsc = all(c.startswith("chr") for c in chrom_sizes)
    if naming == "ucsc" and not any(c.startswith("chr") for c in chrom_sizes):
        raise FactorNetError(
            "the model was trained with UCSC chromosome names (chr1), the genome uses '1'-style names"
        )
    if naming == "plain" and ucsc:
        raise FactorNetError(
            "the model was trained with '1'-style chromosome names, the genome uses UCSC names (chr1)"
        )


def predict(
    model_path: str | os.PathLike,
    genome_path: str | os.PathLike,
    tracks: Mapping[str, str | os.PathLike],
    out_path: str | os.PathLike,
    *,
    bins_bed: str | os.PathLike | None = None,
    chroms: Sequence[str] | None = None,
    expression_table: str | os.PathLike | None = None,
    meta_values: str | os.PathLike | None = None,
    annotations: dict | None = None,
    blacklist: str | os.PathLike | None = None,
    dream: bool = False,
    tf: str | None = None,
    bigwig_prefix: str | None = None,
    batch_size: int = 500,
    chunk_bins: int = 2000,
    naive: bool = False,
    progress: Progress | None = None,
) -> PredictResult:
    """Predict binding scores; write a prediction TSV(.gz) (and optionally one bigWig per TF).

    By default windows share their convolution (:mod:`factornet_core.fastpredict`, same scores up to
    float32 rounding); ``naive=True`` runs the whole model on every window.
    """
    from factornet_core.modelfile import load_model, read_card
    from factornet_core.scores import PredictionWriter

    progress = progress or Progress()
    card = read_card(model_path)
    check_inputs(
        card, list(tracks), expression_table is not None or meta_values is not None, annotations is not None
    )
    tfs = list(card["tfs"])
    if tf is not None and tf not in tfs:
        raise FactorNetError(f"the model predicts {', '.join(tfs)}, not {tf!r}")
    if dream and len(tfs) > 1 and tf is None:
        raise FactorNetError(
            f"--dream writes one TF; the model has {len(tfs)} ({', '.join(tfs)}): choose one with --tf"
        )
    genome = Genome(genome_path)
    sizes = genome.chrom_sizes
    check_chrom_naming(card, sizes)
    ordered = {name: tracks[name] for name in card["track_names"]}
    trackset = TrackSet(ordered)

    if bins_bed is not None:
        bins = intervals.read_bed(bins_bed, what="bins BED")
        bins = bins[["chrom", "start", "end"]]
        intervals.check_in_genome(bins, sizes, bins_bed, what="bin")
        unknown = sorted(set(bins["chrom"]) - set(sizes))
        if unknown:
            raise FactorNetError(f"{bins_bed}: chromosome {unknown[0]!r} is not in the genome")
        if chroms:
            bins = bins[bins["chrom"].isin(chroms)]
        size = card["bin_size"]
        if not ((bins["end"] - bins["start"]) == size).all():
            raise FactorNetError(f"{bins_bed}: every bin must be {size} bp, as the model was trained")
        groups = list(bins.groupby("chrom", sort=False).indices.items())
    else:
        use = list(chroms) if chroms else list(sizes)
        for c in use:
            if c not in sizes:
                raise FactorNetError(f"chromosome {c!r} is not in the genome")
        bins = None
        groups = [(c, None) for c in use]
    trackset.check_chroms({c: sizes[c] for c, _ in groups})

    black = None
    if blacklist is not None:
        black = intervals.read_bed(blacklist, what="blacklist BED", allow_empty=True)
        black = intervals.check_in_genome(black, sizes, blacklist, what="blacklist")

    loaded = load_model(model_path)
    net = loaded.model
    cell_vector = None
    if card.get("features", {}).get("expression") and meta_values is not None:
        n_pcs = len(card["metadata_names"]) - (6 if card["features"].get("gencode") else 0)
        cell_vector = read_meta_values(meta_values, n_pcs)
    elif card.get("features", {}).get("expression"):
        from factornet_core.expression import ExpressionPCA, read_expression

        if card.get("expression_source") == "meta_values":
            raise FactorNetError(
                "this imported model needs the cell type's expression PCs as published with it: give --meta-values"
            )

        pca = ExpressionPCA.from_arrays(
            {k[len("expression_") :]: v for k, v in loaded.arrays.items() if k.startswith("expression_")}
        )
        cell_vector = pca.transform(read_expression(expression_table))
    annotator = None
    if card.get("features", {}).get("gencode"):
        from factornet_core.annotations import BinAnnotator

        annotator = BinAnnotator(annotations)
    reader = WindowReader(genome, trackset, card["seq_len"], card["bin_size"])
    fast = None
    if not naive and fastpredict.supports(net):
        fast = fastpredict.SharedConvPredictor(net, batch_size=batch_size)
    columns = [tfs.index(tf)] if tf is not None else list(range(len(tfs)))
    out_tfs = [tfs[i] for i in columns]

    def group_bins(chrom, idx) -> pd.DataFrame:
        if idx is None:
            return intervals.tile_bins(sizes, [chrom], card["bin_size"], card["bin_stride"])
        return bins.iloc[idx]

    total = sum(len(idx) if idx is not None else _grid_count(sizes[c], card) for c, idx in groups)
    t0 = time.perf_counter()
    n_black = 0
    progress.start(total)
    with OutputSet() as outs:
        writer = PredictionWriter(outs.path(out_path), out_tfs, dream=dream)
        bw_writers = None
        if bigwig_prefix is not None:
            bw_writers = _BigWigWriters(outs, bigwig_prefix, out_tfs, {c: sizes[c] for c, _ in groups}, card)
        with writer:
            for chrom, idx in groups:
                chunk_df = group_bins(chrom, idx)
                starts = chunk_df["start"].to_numpy()
                skip = (
                    intervals.overlap_mask(chunk_df, black)
                    if black is not None
                    else np.zeros(len(starts), bool)
                )
                n_black += int(skip.sum())
                scores = np.zeros((len(starts), len(tfs)), dtype=np.float32)
                for lo in range(0, len(starts), chunk_bins):
                    hi = min(lo + chunk_bins, len(starts))
                    run = np.flatnonzero(~skip[lo:hi]) + lo
                    if run.size:
                        meta = None
                        if cell_vector is not None or annotator is not None:
                            parts = []
                            if cell_vector is not None:
                                parts.append(np.broadcast_to(cell_vector, (run.size, cell_vector.size)))
                            if annotator is not None:
                                parts.append(
                                    annotator.annotate_arrays(
                                        np.full(run.size, chrom, dtype=object),
                                        starts[run],
                                        starts[run] + card["bin_size"],
                                    )
                                )
                            meta = np.concatenate(parts, axis=1).astype(np.float32)
                        if fast is not None:
                            scores[run] = fast.predict_bins(reader, chrom, starts[run], meta)
                        else:
                            x = reader.windows(chrom, starts[run])
                            scores[run] = _apply(net, x if meta is None else (x, meta), batch_size)
                    progress.advance(hi - lo)
                # in slices: text formatting needs ~1 kB per row, so a whole chromosome at once would not
                # keep memory flat in chromosome length
                for lo in range(0, len(starts), WRITE_ROWS):
                    hi = min(lo + WRITE_ROWS, len(starts))
                    writer.write(chunk_df.iloc[lo:hi][["chrom", "start", "end"]], scores[lo:hi, columns])
                if bw_writers is not None:
                    bw_writers.add(chrom, starts, scores[:, columns])
        if bw_writers is not None:
            bw_writers.close()
    progress.finish()
    trackset.close()
    genome.close()
    return PredictResult(total, n_black, time.perf_counter() - t0, out_tfs)


def read_meta_values(path: str | os.PathLike, n: int) -> np.ndarray:
    """The cell-level metadata vector from a text file: one value a line, or ``value name`` /
    ``name value`` lines (the original FactorNet ``meta.txt``)."""
    values = []
    for lineno, line in enumerate(intervals.read_text_lines(path), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        numbers = [w for w in words if _is_float(w)]
        if len(numbers) != 1:
            raise FactorNetError(f"{path}:{lineno}: expected one number per line, got {line.strip()[:60]!r}")
        values.append(float(numbers[0]))
    if len(values) != n:
        raise FactorNetError(f"{path}: {len(values)} metadata values, the model expects {n}")
    return np.asarray(values, dtype=np.float32)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _grid_count(length: int, card: dict) -> int:
    size, stride = card["bin_size"], card["bin_stride"]
    return (length - size) // stride + 1 if length >= size else 0


def _apply(net, inputs, batch_size: int) -> np.ndarray:
    """Model outputs ``(n, n_tasks) float32`` in batches (no tf.data pipeline per call)."""
    x = inputs[0] if isinstance(inputs, tuple) else inputs
    out = []
    for lo in range(0, x.shape[0], batch_size):
        hi = min(lo + batch_size, x.shape[0])
        batch = (inputs[0][lo:hi], inputs[1][lo:hi]) if isinstance(inputs, tuple) else x[lo:hi]
        out.append(np.asarray(net.predict_on_batch(batch), dtype=np.float32))
    return np.concatenate(out, axis=0)


class _BigWigWriters:
    """One bigWig per TF; a bin's score covers its central ``stride`` bp so grid bins tile the genome."""

    def __init__(self, outs: OutputSet, prefix: str, tfs: list[str], sizes: dict[str, int], card: dict):
        import pyBigWig

        self.offset = (card["bin_size"] - card["bin_stride"]) // 2
        self.span = card["bin_stride"]
        self.handles = []
        for tf in tfs:
            handle = pyBigWig.open(str(outs.path(Path(f"{prefix}.{tf}.bw"))), "w")
            handle.addHeader(list(sizes.items()))
            self.handles.append(handle)

    def add(self, chrom: str, starts: np.ndarray, scores: np.ndarray) -> None:
        order = np.argsort(starts, kind="stable")
        s = starts[order] + self.offset
        keep = np.ones(s.size, dtype=bool)
        keep[1:] = s[1:] >= s[:-1] + self.span  # drop entries that would overlap the previous one
        s = s[keep]
        for j, handle in enumerate(self.handles):
            values = scores[order, j][keep].astype(np.float64)
            for lo in range(0, s.size, WRITE_ROWS):  # sorted slices: Python lists stay small
                part = s[lo : lo + WRITE_ROWS]
                handle.addEntries(
                    [chrom] * part.size,
                    part.tolist(),
                    ends=(part + self.span).tolist(),
                    values=values[lo : lo + WRITE_ROWS].tolist(),
                )

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
