"""Figures of training and evaluation: learning curves, precision-recall and ROC curves (PNG).

Drawn on :class:`matplotlib.figure.Figure` with the Agg canvas directly (as :mod:`factornet_core.logos`
does for interpretation figures), so importing or calling this module never changes matplotlib's global
backend (no ``matplotlib.use``) and works without a display.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from factornet_core.wording import plural

MAX_PLOT_POINTS = 5000  # a PR/ROC curve of millions of bins is thinned to this many points


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


#: Between the lines of a title in the one-line form (PNG ``Title`` chunk): a reader of the metadata
#: still sees where the subject ends and what the figure shows begins.
TITLE_JOIN = "; "


def figure_title(fig: Figure) -> str:
    """What ``fig`` says it shows, on one line: its suptitle, else the title of its only panel; ``""`` when
    it has neither. A title set by :func:`suptitle` keeps its parts; otherwise each line of the title is
    one part. Parts are joined with :data:`TITLE_JOIN`, runs of white space inside a part become one
    space."""
    parts = getattr(fig, "_factornet_title_parts", None)
    if parts is None:
        sup = getattr(fig, "_suptitle", None)  # Figure.get_suptitle() needs matplotlib >= 3.8
        text = sup.get_text() if sup is not None else ""
        if not text and len(fig.axes) == 1:
            text = fig.axes[0].get_title()
        parts = text.splitlines()
    return TITLE_JOIN.join(p for p in (" ".join(p.split()) for p in parts) if p)


def suptitle(fig: Figure, parts: Sequence[str], wrap_chars: int | None = None, **kwargs) -> None:
    """Set ``fig``'s title: one line per part (e.g. the model and data, then what is shown), each
    wrapped to ``wrap_chars`` characters when given; :func:`figure_title` gives the parts joined with
    :data:`TITLE_JOIN`, not the wrapping's line breaks. ``kwargs`` go to ``Figure.suptitle``."""
    parts = [p for p in parts if p]
    lines = [textwrap.fill(p, wrap_chars) if wrap_chars else p for p in parts]
    fig.suptitle("\n".join(lines), **kwargs)
    fig._factornet_title_parts = parts


def save_png(fig: Figure, path: str | os.PathLike) -> None:
    """Write ``fig`` as a PNG whose ``Title`` text chunk holds :func:`figure_title` (none when the figure
    has no title), so image viewers, Galaxy's output checks and scripts read what a figure shows
    without looking at its pixels."""
    title = figure_title(fig)
    fig.savefig(path, format="png", metadata={"Title": title} if title else None)


def thin(x: np.ndarray, y: np.ndarray, max_points: int = MAX_PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points, evenly spaced along the curve's index, ends kept."""
    if x.size <= max_points:
        return x, y
    idx = np.unique(np.linspace(0, x.size - 1, max_points).round().astype(np.int64))
    return x[idx], y[idx]


def chromosome_label(chroms: Sequence[str], most: int = 4) -> str:
    """``"chr11"``, ``"chr8, chr21"`` or ``"23 chromosomes"`` (beyond ``most``), in the order given."""
    chroms = list(dict.fromkeys(str(c) for c in chroms))
    if len(chroms) > most:
        return plural(chroms, "chromosome")
    return ", ".join(chroms)


def curves_figure(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
    kind: str,
    title: str,
    prevalence: float | Sequence[tuple[str, float]] | None = None,
) -> Figure:
    """Every curve on one figure: PR (``kind="pr"``: recall → precision, a dotted line at ``prevalence``,
    the precision of a random ranking) or ROC (``kind="roc"``: FPR → TPR, with the diagonal).

    ``curves`` are ``(legend label, x, y)``, one line each, x and y in [0, 1]. ``prevalence`` is one
    fraction of positives, or ``(label, fraction)`` pairs when the curves score several label sets
    (one dotted line each). The legend sits below the axes so it never hides a curve.
    """
    n_prev = 0 if prevalence is None else 1 if isinstance(prevalence, (int, float)) else len(prevalence)
    fig = _figure(6.4, 5.2 + 0.2 * (len(curves) + max(n_prev, 1)))
    ax = fig.add_subplot()
    for label, x, y in curves:
        x, y = thin(x, y)
        ax.plot(x, y, lw=1.5, label=label)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label="random ranking (diagonal)")
        ax.set(xlabel="False positive rate (unbound bins called bound)", ylabel="True positive rate (recall)")
    else:
        if isinstance(prevalence, (int, float)):
            prevalence = [("", float(prevalence))]
        for what, value in prevalence or []:
            label = f"random ranking{' ' + what if what else ''} (prevalence = fraction bound {value:.3f})"
            ax.axhline(value, ls=":", c="grey", lw=1.0, label=label)
        ax.set(xlabel="Recall (fraction of bound bins found)", ylabel="Precision (fraction of calls bound)")
    ax.set(xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(title, fontsize=10, wrap=True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def write_curves(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
    kind: str,
    path: str | os.PathLike,
    title: str,
    prevalence: float | Sequence[tuple[str, float]] | None = None,
) -> None:
    """:func:`curves_figure` written as a PNG."""
    save_png(curves_figure(curves, kind, title, prevalence), path)


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


#: one colour per series, the same in both learning-curve panels
SERIES_COLOURS = {"train": "tab:blue", "val": "tab:orange", "cross_val": "tab:green"}


def learning_curves_figure(history: Sequence[dict], title: str = "", design: str = "") -> Figure:
    """Learning curves: loss (binary cross-entropy) and validation auPR per epoch, the best epoch marked
    (dashed line in both panels, a star on its validation auPR, the auPR that chose it).

    ``history`` is :func:`factornet_core.training.train`'s per-epoch records (``epoch``, ``loss``,
    ``val_loss``, ``val_auPR``, optional ``cross_val_*`` and ``best_epoch``). Each series (train,
    validation within cell, validation in another cell) keeps its colour in both panels; one legend for
    both sits under the panels, above ``design`` (how the validation set was drawn), so neither covers data.
    """
    fig = _figure(10, 4.8 if design else 4.4)
    ax1, ax2 = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    names = {"train": "train (epoch mean)", "val": "validation, training cell type(s)",
             "cross_val": "validation, held-out cell type"}  # fmt: skip
    ax1.plot(epochs, [h["loss"] for h in history], "o-", c=SERIES_COLOURS["train"], label=names["train"])
    for key in ("val", "cross_val"):
        if history and f"{key}_loss" in history[0]:
            c = SERIES_COLOURS[key]
            ax1.plot(epochs, [h[f"{key}_loss"] for h in history], "o-", c=c, label=names[key])
            ax2.plot(epochs, [h[f"{key}_auPR"] for h in history], "o-", c=c, label=names[key])
    ax1.set(
        xlabel="epoch",
        ylabel="loss (binary cross-entropy)",
        title="Loss (validation: sampled as in training)",
    )
    ax2.set(xlabel="epoch", ylabel="auPR at the natural class balance", ylim=(0, 1.02),
            title="Validation auPR (picks the best epoch)")  # fmt: skip
    best = history[-1].get("best_epoch", -1) if history else -1
    if best > 0:
        for ax in (ax1, ax2):
            ax.axvline(best, ls="--", c="black", lw=0.9, label=f"best epoch ({best}, weights kept)")
        at = [h for h in history if h["epoch"] == best]
        if at and "val_auPR" in at[0]:
            ax2.plot([best], [at[0]["val_auPR"]], "*", ms=14, c=SERIES_COLOURS["val"], mec="black", zorder=5)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if epochs:
            ax.set_xticks(epochs if len(epochs) <= 20 else ax.get_xticks())
    handles, labels = ax1.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.06 if design else 0.0))  # fmt: skip
    if design:
        fig.text(0.5, 0.01, design, ha="center", va="bottom", fontsize=8, style="italic", wrap=True)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.16 if design else 0.1, 1, 1))
    return fig


def write_learning_curves(
    history: Sequence[dict], path: str | os.PathLike, title: str = "", design: str = ""
) -> None:
    """:func:`learning_curves_figure` written as a PNG."""
    save_png(learning_curves_figure(history, title, design), path)
