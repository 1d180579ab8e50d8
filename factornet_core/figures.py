"""Figures of training and evaluation: learning curves, precision-recall and ROC curves (PNG).

Drawn on :class:`matplotlib.figure.Figure` with the Agg canvas directly (as :mod:`factornet_core.logos`
does for interpretation figures), so importing or calling this module never changes matplotlib's global
backend (no ``matplotlib.use``) and works without a display.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_PLOT_POINTS = 5000  # a PR/ROC curve of millions of bins is thinned to this many points


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def thin(x: np.ndarray, y: np.ndarray, max_points: int = MAX_PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points, evenly spaced along the curve's index, ends kept."""
    if x.size <= max_points:
        return x, y
    idx = np.unique(np.linspace(0, x.size - 1, max_points).round().astype(np.int64))
    return x[idx], y[idx]


def curves_figure(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
    kind: str,
    title: str,
    prevalence: float | None = None,
) -> Figure:
    """Every curve on one figure: PR (``kind="pr"``: recall → precision, a dotted line at ``prevalence``,
    the precision of a random ranking) or ROC (``kind="roc"``: FPR → TPR, with the diagonal).

    ``curves`` are ``(legend label, x, y)``, one line each, x and y in [0, 1].
    """
    fig = _figure(6, 5.5)
    ax = fig.add_subplot()
    for label, x, y in curves:
        x, y = thin(x, y)
        ax.plot(x, y, lw=1.5, label=label)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label="random (diagonal)")
        ax.set(xlabel="False positive rate (unbound bins called bound)", ylabel="True positive rate (recall)")
    else:
        if prevalence is not None:
            ax.axhline(prevalence, ls=":", c="grey", lw=0.8, label=f"random (prevalence {prevalence:.3f})")
        ax.set(xlabel="Recall (fraction of bound bins found)", ylabel="Precision (fraction of calls bound)")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.legend(loc="lower right" if kind == "roc" else "upper right", fontsize=7)
    fig.tight_layout()
    return fig


def write_curves(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
    kind: str,
    path: str | os.PathLike,
    title: str,
    prevalence: float | None = None,
) -> None:
    """:func:`curves_figure` written as a PNG."""
    curves_figure(curves, kind, title, prevalence).savefig(path, format="png")


def aupr_bars_figure(table, title: str) -> Figure:
    """Horizontal auPR bars, one per row of an evaluation table (``model, tf, cell, auprc``), the first
    row on top; rows are labelled by model, plus TF and cell type when the table holds several."""
    several = table[["tf", "cell"]].drop_duplicates().shape[0] > 1
    labels = [f"{r.model} {r.tf} {r.cell}" if several else str(r.model) for r in table.itertuples()]
    values = table["auprc"].to_numpy()
    fig = _figure(6, 0.45 * len(table) + 1.4)
    ax = fig.add_subplot()
    y = np.arange(len(table))[::-1]
    ax.barh(y, values, color="tab:blue")
    for yi, v in zip(y, values):
        ax.text(min(v + 0.01, 0.9), yi, f"{v:.3f}", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set(xlim=(0, 1), xlabel="auPR (Davis-Goadrich, ambiguous bins excluded)", title=title)
    fig.tight_layout()
    return fig


def write_learning_curves(history: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """Learning-curve PNG: loss (binary cross-entropy) and validation auPR per epoch, best epoch marked.

    ``history`` is :func:`factornet_core.training.train`'s per-epoch records (``epoch``, ``loss``,
    ``val_loss``, ``val_auPR``, optional ``cross_val_*`` and ``best_epoch``).
    """
    fig = _figure(10, 4)
    ax1, ax2 = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    ax1.plot(epochs, [h["loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation (within cell)")
    if history and "cross_val_loss" in history[0]:
        ax1.plot(epochs, [h["cross_val_loss"] for h in history], "o-", label="validation (other cell)")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("binary cross-entropy")
    ax2.plot(epochs, [h["val_auPR"] for h in history], "o-", label="within cell")
    if history and "cross_val_auPR" in history[0]:
        ax2.plot(epochs, [h["cross_val_auPR"] for h in history], "o-", label="other cell")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation auPR")
    ax2.set_ylim(0, 1)
    best = history[-1].get("best_epoch", -1) if history else -1
    for ax in (ax1, ax2):
        if best > 0:
            ax.axvline(best, ls="--", c="grey", lw=0.8, label=f"best epoch ({best})")
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png")
