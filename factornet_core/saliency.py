"""Saliency maps (original FactorNet paper, Fig. 3D): gradient × input of a TF's score over a model-input window.

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

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core.atomic import atomic_folder
from factornet_core.errors import FactorNetError
from factornet_core.inputs import CellInputs, CellType, PathLike, model_on_cell
from factornet_core.regions import Regions, read_regions
from factornet_core.wording import plural


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


def best_motif_hit(onehot: np.ndarray, motifs) -> tuple[int, int, str, str, float] | None:
    """The best-scoring site of any known motif in a sequence, either strand.

    ``onehot`` ``(L, 4)``; ``motifs`` :class:`~factornet_core.meme.Motif` objects. The score is the
    log2-odds sum against a uniform background (pseudocount 0.01 per base). Returns ``(offset, width,
    motif name, strand, score)``, offsets 0-based in the sequence, or ``None`` when no motif fits.
    """
    best = None
    x = np.asarray(onehot, dtype=np.float64)
    for m in motifs:
        pwm = (np.asarray(m.pwm, dtype=np.float64) + 0.01) / (1 + 0.04)
        w = pwm.shape[0]
        if w > x.shape[0]:
            continue
        lod = np.log2(pwm / 0.25)
        windows = np.lib.stride_tricks.sliding_window_view(x, w, axis=0)  # (L - w + 1, 4, w)
        for strand, mat in (("+", lod), ("-", lod[::-1, ::-1])):
            scores = np.einsum("nbw,wb->n", windows, mat)
            i = int(np.argmax(scores))
            if best is None or scores[i] > best[4]:
                best = (i, w, m.name, strand, float(scores[i]))
    return best


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


def safe_name(text: str) -> str:
    """A file-name-safe version of a region name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "region"


def _given_name(value) -> str:
    """A BED name column's value; ``""`` for none (``.``, empty, or no name column)."""
    text = str(value)
    return "" if text in (".", "", "nan") else text


def _region_names(table: pd.DataFrame) -> list[str]:
    """File-safe, unique names: the BED name column when present, else ``chrom_start_end``."""
    names = []
    for row in table.itertuples(index=False):
        names.append(safe_name(_given_name(row.name) or f"{row.chrom}_{row.start}_{row.end}"))
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if names.count(name) == 1 else f"{name}_{seen[name]}")
    return out


def saliency_title(
    subject: str,
    tf: str | None,
    positive_only: bool,
    name: str,
    chrom: str,
    start: int,
    end: int,
    score: float,
) -> str:
    """The title of a region's saliency figure, each thing said once: ``"<subject>: saliency, gradient ×
    input (negatives drawn as 0): peak1 chr1:100-300, model score 0.912"``.

    ``subject`` is :func:`~factornet_core.inputs.model_on_cell`, which names the model's TFs; ``tf`` the
    TF explained when the model predicts several (``"... in HepG2: CTCF saliency, ..."``), None for a
    one-TF model, whose TF the subject already says; ``name`` the BED name of the region
    (``""`` for none: an unnamed region is named by its coordinates alone, not by its file name, which
    repeats them; so is a region whose name is its coordinates, ``chr1:100-300`` or ``chr1_100_300``);
    ``start``/``end`` the region's 0-based half-open coordinates (bp); ``score`` the model's score of
    the window, in [0, 1].
    """
    clipped = "negatives drawn as 0" + (", as computed" if positive_only else "")
    region = f"{chrom}:{start}-{end}"
    if name in (region, f"{chrom}_{start}_{end}"):
        name = ""
    return (
        f"{subject}: {f'{tf} ' if tf else ''}saliency, gradient × input ({clipped}): "
        f"{f'{name} {region}' if name else region}, model score {score:.3f}"
    )


def interpret_saliency(
    model_path: PathLike,
    cell: CellType,
    regions_path: PathLike,
    out_dir: PathLike,
    *,
    tf: str | None = None,
    positive_only: bool = False,
    max_regions: int = 100,
    known: PathLike | None = None,
    force: bool = False,
    cell_name: str | None = None,
) -> SaliencySummary:
    """``factornet interpret saliency``: per-region bedGraph, PNG and TSV of gradient × input.

    Implements the saliency maps of Quang & Xie (2019), Fig. 3D (gradient × input, after Simonyan et
    al. 2013 / DeepLIFT's "grad × input"), as described in the module docstring.

    Parameters
    ----------
    model_path : ``.keras`` model with a FactorNet card.
    cell : genome, tracks and, as the card requires, expression table / metadata values / annotation
        features (the metadata row is the one of the bin centred on each region).
    regions_path : BED of regions; each window is the model's ``seq_len`` bp centred on the region's
        midpoint; the name column names the files.
    out_dir : folder to write (all or nothing), per region ``<name>``: ``saliency.<name>.bedGraph``
        (per-base gradient × input), ``saliency.<name>.png`` (letters scaled by it, above the tracks),
        ``saliency.<name>.tsv`` (per base: base, saliency, raw gradient and value of every track);
        and ``regions.tsv`` (one row per region: window, model score, saliency peak).
    tf : the TF whose score to explain (required for multi-task models).
    positive_only : zero negative gradient × input values.
    max_regions : refuse more regions than this (3 files per region).
    known : MEME file of known motifs; the best-scoring site of any of them (log-odds, either strand)
        is boxed in each PNG and reported in ``regions.tsv``.
    force : replace an existing non-empty ``out_dir``.
    cell_name : the cell type whose tracks these are, for the figure titles (default: the track files).

    Returns
    -------
    SaliencySummary

    Raises
    ------
    FactorNetError
        Before any work: an unknown TF (or none chosen for a multi-task model), too many regions,
        inputs that do not match the card, regions outside the genome or tracks; an existing
        ``out_dir`` without ``force``.
    """
    from factornet_core.meme import read_meme
    from factornet_core.modelfile import read_card

    known_motifs = list(read_meme(known).values()) if known is not None else []
    tfs = list(read_card(model_path).tfs)
    tf = _choose_tf(tfs, tf)
    regions: Regions = read_regions(regions_path)
    if len(regions.table) > max_regions:
        raise FactorNetError(
            f"{regions_path}: {plural(len(regions.table), 'region')}; saliency writes 3 files per region, "
            f"at most {max_regions} allowed (raise --max-regions or give fewer regions)"
        )
    table = regions.table
    with CellInputs.open(model_path, cell) as inputs:
        inputs.data.check_regions(table, regions.path)
        card, sizes = inputs.card, inputs.chrom_sizes
        centre = table["centre"].to_numpy(np.int64)
        meta = inputs.meta(table["chrom"].to_numpy(), centre - card.bin_size // 2)
        win_start = centre - card.seq_len // 2
        x = np.stack(
            [
                inputs.reader.region(c, int(s), int(s) + card.seq_len)
                for c, s in zip(table["chrom"], win_start)
            ]
        )
        task = tfs.index(tf)
        grad = input_gradients(inputs.model, x, task, meta)
        scores = np.asarray(inputs.model.predict_on_batch([x, meta] if meta is not None else x))[:, task]
    sal = gradient_times_input(grad, x, positive_only)
    windows = _Windows(table, win_start, x, grad, sal, scores, sizes)
    subject = model_on_cell(card, model_path, cell, cell_name)
    with atomic_folder(out_dir, force, what="--out-dir") as tmp:
        rows = [
            _write_region(tmp, name, i, windows, card, tf, positive_only, known_motifs, subject)
            for i, name in enumerate(_region_names(table))
        ]
        summary = pd.DataFrame(rows)
        summary.to_csv(tmp / "regions.tsv", sep="\t", index=False, float_format="%.6g")
    return SaliencySummary(Path(out_dir), tf, summary)


def _choose_tf(tfs: list[str], tf: str | None) -> str:
    if tf is None:
        if len(tfs) > 1:
            raise FactorNetError(
                f"the model predicts {plural(len(tfs), 'TF')} ({', '.join(tfs)}): choose one with --tf"
            )
        return tfs[0]
    if tf not in tfs:
        raise FactorNetError(
            f"the model predicts {', '.join(tfs)}, not {tf!r}: choose one of these with --tf"
        )
    return tf


@dataclass
class _Windows:
    """The scanned windows: regions, window starts (bp), inputs ``(n, L, C)``, gradients ``(n, L, C)``,
    saliency ``(n, L)``, model scores ``(n,)``, chromosome sizes."""

    table: pd.DataFrame
    start: np.ndarray
    x: np.ndarray
    grad: np.ndarray
    sal: np.ndarray
    scores: np.ndarray
    sizes: dict


def _write_region(
    tmp: Path,
    name: str,
    i: int,
    w: _Windows,
    card,
    tf: str,
    positive_only: bool,
    known_motifs: list,
    subject: str,
) -> dict:
    """Write one region's bedGraph, TSV and PNG; return its ``regions.tsv`` row."""
    from factornet_core import logos
    from factornet_core.figures import save_png

    seq_len, track_names = card.seq_len, list(card.track_names)
    chrom, start = w.table["chrom"].iloc[i], int(w.start[i])
    x, grad, sal = w.x[i], w.grad[i], w.sal[i]
    pos = np.arange(start, start + seq_len)
    inside = (pos >= 0) & (pos < w.sizes[chrom])
    _write_bedgraph(tmp / f"saliency.{name}.bedGraph", chrom, pos[inside], sal[inside], name, tf)
    per_base = pd.DataFrame(
        {
            "chrom": chrom,
            "start": pos,
            "end": pos + 1,
            "base": _bases(x),
            "saliency": sal,
            **{f"grad_{t}": grad[:, 4 + j] for j, t in enumerate(track_names)},
            **{t: x[:, 4 + j] for j, t in enumerate(track_names)},
        }
    )[inside]
    per_base.to_csv(tmp / f"saliency.{name}.tsv", sep="\t", index=False, float_format="%.6g")
    region = (int(w.table["start"].iloc[i]), int(w.table["end"].iloc[i]))
    found = best_motif_hit(x[:, :4], known_motifs) if known_motifs else None
    hit = (start + found[0], start + found[0] + found[1], found[2], found[3]) if found else None
    fig = logos.saliency_figure(
        x[:, :4],
        sal,
        x[:, 4:],
        track_names,
        start,
        saliency_title(
            subject,
            tf if len(card.tfs) > 1 else None,
            positive_only,
            _given_name(w.table["name"].iloc[i]),
            chrom,
            *region,
            w.scores[i],
        ),
        region,
        hit,
    )
    save_png(fig, tmp / f"saliency.{name}.png")
    peak = int(np.argmax(sal))
    return {
        "name": name,
        "chrom": chrom,
        "start": int(w.table["start"].iloc[i]),
        "end": int(w.table["end"].iloc[i]),
        "window_start": start,
        "window_end": start + seq_len,
        "score": float(w.scores[i]),
        "peak_position": start + peak,
        "peak_saliency": float(sal[peak]),
        "best_motif": found[2] if found else ".",
        "best_motif_start": start + found[0] if found else -1,
        "best_motif_strand": found[3] if found else ".",
        "best_motif_log2_odds": round(found[4], 3) if found else float("nan"),
    }


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
