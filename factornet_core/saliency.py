"""Saliency maps (the seed's Fig. 3D): gradient × input of a TF's score over a model-input window.

For a region, the window is the model's ``seq_len`` bp centred on the region's centre. The score is the
Siamese model's output for the TF, which averages the forward and the reverse-strand branch; its
gradient with respect to the forward input therefore already carries the reverse branch mapped back
onto forward coordinates::

    ∂f/∂x = ½ (∇s(x) + R(∇s(R x)))        R = dna.reverse_strand (an involution)

(``tests/test_saliency.py`` checks this identity). Per base, gradient × input summed over the one-hot
channels is the gradient at the observed base (0 at N). ``positive_only`` zeroes negative values.
Track channels keep their raw gradient (written to the per-region TSV).

Gradients use ``tf.GradientTape``: the Keras backend must be TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import intervals
from factornet_core.atomic import atomic_folder
from factornet_core.errors import FactorNetError
from factornet_core.motifs import Regions, open_inputs, read_regions, safe_name


# ------------------------------------------------------------------------------------ array functions
def input_gradients(
    model, x: np.ndarray, task: int = 0, meta: np.ndarray | None = None, batch_size: int = 32
) -> np.ndarray:
    """Gradient of output ``task`` with respect to the input.

    Parameters
    ----------
    model : a Keras model taking ``x`` (and ``meta`` when given), output ``(batch, n_tasks)``.
    x : (n, L, channels) float32 inputs.
    meta : (n, n_meta) float32 metadata, for models with a metadata input.

    Returns
    -------
    (n, L, channels) float32 — ∂ output[task] / ∂ x, inference mode (dropout off).
    """
    import tensorflow as tf

    out = np.empty(x.shape, dtype=np.float32)
    for lo in range(0, x.shape[0], batch_size):
        hi = min(lo + batch_size, x.shape[0])
        xb = tf.convert_to_tensor(x[lo:hi], dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(xb)
            inputs = [xb, tf.convert_to_tensor(meta[lo:hi], dtype=tf.float32)] if meta is not None else xb
            # samples do not interact at inference, so the gradient of the sum is each sample's own
            score = tf.reduce_sum(model(inputs, training=False)[:, task])
        out[lo:hi] = tape.gradient(score, xb).numpy()
    return out


def gradient_times_input(grad: np.ndarray, x: np.ndarray, positive_only: bool = False) -> np.ndarray:
    """Per-base saliency ``(..., L)``: Σ over A/C/G/T of gradient × one-hot (the observed base's gradient)."""
    sal = np.einsum("...c,...c->...", grad[..., :4], x[..., :4])
    return np.maximum(sal, 0.0) if positive_only else sal


# ------------------------------------------------------------------------------------------ entry point
@dataclass
class SaliencySummary:
    out_dir: Path
    tf: str
    regions: (
        pd.DataFrame
    )  # name, chrom, start, end, window_start, window_end, score, peak_position, peak_saliency


def _region_names(table: pd.DataFrame) -> list[str]:
    """File-safe, unique names: the BED name column when present, else ``chrom_start_end``."""
    names = []
    for row in table.itertuples(index=False):
        given = str(row.name) if str(row.name) not in (".", "", "nan") else ""
        names.append(safe_name(given or f"{row.chrom}_{row.start}_{row.end}"))
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if names.count(name) == 1 else f"{name}_{seen[name]}")
    return out


def _metadata(card: dict, loaded, table: pd.DataFrame, expression_table, annotations) -> np.ndarray | None:
    """Metadata rows (expression PCs, then bin annotation features) for the bin centred on each region."""
    features = card.get("features", {})
    parts = []
    if features.get("expression"):
        if expression_table is None:
            raise FactorNetError(
                "the model uses expression PCs (-m): give the cell type's expression table (--expression "
                "or a samplesheet with one)"
            )
        from factornet_core.expression import ExpressionPCA, read_expression

        prefix = "expression_"
        pca = ExpressionPCA.from_arrays(
            {k[len(prefix) :]: v for k, v in loaded.arrays.items() if k.startswith(prefix)}
        )
        vector = pca.transform(read_expression(expression_table))
        parts.append(np.broadcast_to(vector, (len(table), vector.size)))
    if features.get("gencode"):
        if annotations is None:
            raise FactorNetError(
                "the model uses annotation features (-g): give --gtf and --cpg, or --annotation-beds"
            )
        from factornet_core.annotations import BinAnnotator

        size = int(card.get("bin_size", intervals.BIN_SIZE))
        starts = table["centre"].to_numpy(np.int64) - size // 2
        parts.append(
            BinAnnotator(annotations).annotate_arrays(table["chrom"].to_numpy(), starts, starts + size)
        )
    return np.concatenate(parts, axis=1).astype(np.float32) if parts else None


def interpret_saliency(
    model_path: str | os.PathLike,
    genome_path: str | os.PathLike,
    tracks: Mapping[str, str | os.PathLike],
    regions_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    tf: str | None = None,
    positive_only: bool = False,
    expression_table: str | os.PathLike | None = None,
    annotations: dict | None = None,
    max_regions: int = 100,
    force: bool = False,
) -> SaliencySummary:
    """``factornet interpret saliency``: per-region bedGraph, PNG and TSV of gradient × input.

    Writes into ``out_dir`` (all or nothing), per region ``<name>``: ``saliency.<name>.bedGraph``
    (per-base gradient × input), ``saliency.<name>.png`` (letters scaled by it, above the tracks),
    ``saliency.<name>.tsv`` (per base: base, saliency, raw gradient and value of every track); and
    ``regions.tsv`` (one row per region: window, model score, saliency peak).
    """
    from factornet_core import logos
    from factornet_core.modelfile import read_card

    card = read_card(model_path)
    tfs = list(card["tfs"])
    if tf is None:
        if len(tfs) > 1:
            raise FactorNetError(
                f"the model predicts {len(tfs)} TFs ({', '.join(tfs)}): choose one with --tf"
            )
        tf = tfs[0]
    if tf not in tfs:
        raise FactorNetError(
            f"the model predicts {', '.join(tfs)}, not {tf!r}: choose one of these with --tf"
        )
    regions: Regions = read_regions(regions_path)
    if len(regions.table) > max_regions:
        raise FactorNetError(
            f"{regions_path}: {len(regions.table)} regions; saliency writes 3 files per region, "
            f"at most {max_regions} allowed (raise --max-regions or give fewer regions)"
        )
    inputs, table = open_inputs(model_path, genome_path, tracks, regions)
    try:
        seq_len = int(card["seq_len"])
        meta = _metadata(card, inputs.loaded, table, expression_table, annotations)
        win_start = table["centre"].to_numpy(np.int64) - seq_len // 2
        x = np.stack(
            [inputs.reader.region(c, int(s), int(s) + seq_len) for c, s in zip(table["chrom"], win_start)]
        )
        model = inputs.loaded.model
        task = tfs.index(tf)
        grad = input_gradients(model, x, task, meta)
        scores = np.asarray(model.predict_on_batch([x, meta] if meta is not None else x))[:, task]
        sizes = inputs.genome.chrom_sizes
    finally:
        inputs.close()
    sal = gradient_times_input(grad, x, positive_only)
    track_names = list(card["track_names"])
    names = _region_names(table)
    rows = []
    with atomic_folder(out_dir, force, what="--out-dir") as tmp:
        for i, name in enumerate(names):
            chrom, start = table["chrom"].iloc[i], int(win_start[i])
            pos = np.arange(start, start + seq_len)
            inside = (pos >= 0) & (pos < sizes[chrom])
            _write_bedgraph(tmp / f"saliency.{name}.bedGraph", chrom, pos[inside], sal[i][inside], name, tf)
            per_base = pd.DataFrame(
                {
                    "chrom": chrom,
                    "start": pos,
                    "end": pos + 1,
                    "base": _bases(x[i]),
                    "saliency": sal[i],
                    **{f"grad_{t}": grad[i, :, 4 + j] for j, t in enumerate(track_names)},
                    **{t: x[i, :, 4 + j] for j, t in enumerate(track_names)},
                }
            )[inside]
            per_base.to_csv(tmp / f"saliency.{name}.tsv", sep="\t", index=False, float_format="%.6g")
            logos.save_saliency_plot(
                tmp / f"saliency.{name}.png",
                x[i, :, :4] * sal[i][:, None],
                x[i, :, 4:],
                track_names,
                start,
                f"{tf} saliency (gradient × input{', positive only' if positive_only else ''}) "
                f"{chrom}:{start}-{start + seq_len}  score {scores[i]:.3f}",
            )
            peak = int(np.argmax(sal[i]))
            rows.append(
                {
                    "name": name,
                    "chrom": chrom,
                    "start": int(table["start"].iloc[i]),
                    "end": int(table["end"].iloc[i]),
                    "window_start": start,
                    "window_end": start + seq_len,
                    "score": float(scores[i]),
                    "peak_position": start + peak,
                    "peak_saliency": float(sal[i, peak]),
                }
            )
        summary = pd.DataFrame(rows)
        summary.to_csv(tmp / "regions.tsv", sep="\t", index=False, float_format="%.6g")
    return SaliencySummary(Path(out_dir), tf, summary)


def _bases(x: np.ndarray) -> np.ndarray:
    letters = np.array(list("ACGTN"))
    return letters[np.where(x[:, :4].sum(axis=1) > 0, x[:, :4].argmax(axis=1), 4)]


def _write_bedgraph(path: Path, chrom: str, pos: np.ndarray, values: np.ndarray, name: str, tf: str) -> None:
    """Per-base bedGraph with a UCSC/IGV track line."""
    with open(path, "w") as out:
        out.write(
            f'track type=bedGraph name="saliency {name}" description="{tf} gradient x input" '
            "visibility=full autoScale=on\n"
        )
        for p, v in zip(pos.tolist(), values.tolist()):
            out.write(f"{chrom}\t{p}\t{p + 1}\t{v:.6g}\n")
