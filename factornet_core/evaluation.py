"""The ``factornet evaluate`` workflow: score predictions against DREAM labels or peaks.

Labels come either from DREAM label TSVs (one per TF, one column per cell type) or are made from
peaks over the prediction bins with the bin labelling rule (:func:`factornet_core.intervals.label_bins`).
Every predicted bin must have a label (bins are joined on chrom/start/end); labelled bins that were
not predicted are counted and reported, not scored. Ambiguous (A) bins are excluded from all metrics.

Outputs (all or nothing): ``PREFIX.metrics.json``, ``PREFIX.metrics.tsv`` (one row per (TF, cell)),
``PREFIX.pr.png`` and ``PREFIX.roc.png``. The JSON's ``calibration`` block holds, per (TF, cell), the
lowest score reaching each FDR level on a 0.001 grid (:func:`factornet_core.calling.fdr_grid`), which
``factornet call --fdr`` turns into a threshold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from factornet_core import __version__
from factornet_core.atomic import OutputSet
from factornet_core.calling import CALIBRATION_STEP, fdr_grid
from factornet_core.errors import FactorNetError
from factornet_core.intervals import label_bins, naming_hint, read_bed, read_labels
from factornet_core.metrics import FDR_CUTOFFS, evaluate_scores, fdr_key, pr_curve_davis_goadrich, roc_curve
from factornet_core.scores import read_predictions

METRIC_COLUMNS = [
    "auroc",
    "auprc",
    "average_precision",
    *[fdr_key(f) for f in FDR_CUTOFFS],
    "n_bound",
    "n_unbound",
    "n_ambiguous",
]
MAX_PLOT_POINTS = 5000


@dataclass
class EvaluationResult:
    """Metrics rows (``model, tf, cell, <METRIC_COLUMNS>, labelled_not_predicted``) and output paths."""

    table: pd.DataFrame
    outputs: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- labels
def align_labels(
    pred_bins: pd.DataFrame, label_bins_: pd.DataFrame, codes: np.ndarray, source: str | os.PathLike
) -> tuple[np.ndarray, int]:
    """Label codes for each predicted bin (joined on chrom/start/end) and the count of labelled bins
    that were not predicted. Raises if any predicted bin has no label."""
    same = len(pred_bins) == len(label_bins_) and all(
        np.array_equal(pred_bins[c].to_numpy(), label_bins_[c].to_numpy()) for c in ("chrom", "start", "end")
    )
    if same:
        return np.asarray(codes), 0
    keys = ["chrom", "start", "end"]
    labelled = label_bins_[keys].assign(_code=np.asarray(codes))
    if labelled.duplicated(keys).any():
        raise FactorNetError(f"{source}: a bin is labelled more than once")
    joined = pred_bins[keys].merge(labelled, on=keys, how="left", sort=False)
    missing = joined["_code"].isna().to_numpy()
    if missing.any():
        row = pred_bins.iloc[int(np.flatnonzero(missing)[0])]
        hint = ""
        if not set(pred_bins["chrom"]) & set(label_bins_["chrom"]):
            found = naming_hint(pred_bins["chrom"].unique(), label_bins_["chrom"].unique(), "the labels")
            hint = f" — no chromosome in common{': ' + found if found else ''}"
        raise FactorNetError(
            f"{source}: {int(missing.sum())} predicted bins have no label (first {row.chrom}:{row.start}-"
            f"{row.end}): predictions and labels must use the same bins{hint}"
        )
    return joined["_code"].to_numpy(dtype=np.int8), len(label_bins_) - len(pred_bins)


def _select_tfs(names: list[str], tf: str | None, what: str) -> str:
    if tf is not None:
        if tf not in names:
            raise FactorNetError(f"TF {tf!r} is not in the predictions (they have: {', '.join(names)})")
        return tf
    if len(names) > 1:
        raise FactorNetError(
            f"the predictions hold several TFs ({', '.join(names)}): choose one with --tf, or give "
            f"--labels TF=PATH once per TF ({what})"
        )
    return names[0]


# --------------------------------------------------------------------------------------------- plots
def _thin(x: np.ndarray, y: np.ndarray, max_points: int = MAX_PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points, evenly spaced along the curve's index, ends kept."""
    if x.size <= max_points:
        return x, y
    idx = np.unique(np.linspace(0, x.size - 1, max_points).round().astype(np.int64))
    return x[idx], y[idx]


def _plot(curves: list[tuple[str, np.ndarray, np.ndarray]], kind: str, path: Path, title: str) -> None:
    fig = Figure(figsize=(5.5, 5), dpi=100)
    ax = fig.add_subplot()
    for label, x, y in curves:
        x, y = _thin(x, y)
        ax.plot(x, y, lw=1.5, label=label)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
        ax.set(xlabel="False positive rate", ylabel="True positive rate")
    else:
        ax.set(xlabel="Recall", ylabel="Precision")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.legend(loc="lower right" if kind == "roc" else "upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")


# --------------------------------------------------------------------------------------------- workflow
def evaluate(
    predictions: str | os.PathLike,
    out_prefix: str | os.PathLike,
    labels: str | os.PathLike | Mapping[str, str | os.PathLike] | None = None,
    cell: str | None = None,
    peaks: str | os.PathLike | None = None,
    relaxed: str | os.PathLike | None = None,
    tf: str | None = None,
    name: str | None = None,
) -> EvaluationResult:
    """Evaluate a prediction file and write the metrics JSON/TSV and PR/ROC plots.

    Parameters
    ----------
    labels : a DREAM label TSV for one TF (the TF in the predictions, or ``tf``), or ``{TF: path}``.
    cell : the label column (cell type) to use; may be omitted when the labels have one cell type.
        With ``peaks`` it only names the row (default ``'.'``).
    peaks, relaxed : conservative (and relaxed) peaks of one TF, labelled over the prediction bins.
    tf : the TF to evaluate (required for multi-TF predictions with a single labels path or peaks);
        also names the score column of a DREAM-layout prediction file.
    name : model name for the report (default: the prediction file's name).
    """
    if (labels is None) == (peaks is None):
        raise FactorNetError("give either --labels or --peaks (not both)")
    if relaxed is not None and peaks is None:
        raise FactorNetError("--relaxed needs --peaks")
    bins, scores = read_predictions(predictions, dream_tf=tf)
    names = list(scores.columns)
    model = name or Path(predictions).name
    rows: list[dict] = []
    pr_curves: list[tuple[str, np.ndarray, np.ndarray]] = []
    roc_curves: list[tuple[str, np.ndarray, np.ndarray]] = []
    calibration: list[dict] = []

    def score(tf_name: str, cell_name: str, codes: np.ndarray, extra: int, source) -> None:
        try:
            metrics = evaluate_scores(codes, scores[tf_name].to_numpy())
        except FactorNetError as exc:
            raise FactorNetError(f"{source}: {tf_name} in {cell_name}: {exc}") from None
        rows.append(
            {"model": model, "tf": tf_name, "cell": cell_name, **metrics, "labelled_not_predicted": extra}
        )
        keep = codes != 2
        y = (codes[keep] == 1).astype(np.int8)
        s = scores[tf_name].to_numpy()[keep]
        label = f"{tf_name} {cell_name}" if cell_name != "." else tf_name
        recall, precision = pr_curve_davis_goadrich(y, s)
        pr_curves.append((f"{label} (auPR {metrics['auprc']:.3f})", recall, precision))
        fpr, tpr, _ = roc_curve(y, s)
        roc_curves.append((f"{label} (auROC {metrics['auroc']:.3f})", fpr, tpr))
        levels, min_scores = fdr_grid(y, s)
        calibration.append(
            {
                "tf": tf_name,
                "cell": cell_name,
                "step": CALIBRATION_STEP,
                "fdr": levels,
                "min_score": min_scores,
            }
        )

    if peaks is not None:
        tf_name = _select_tfs(names, tf, "--peaks covers one TF")
        conservative = read_bed(peaks, what="peaks")
        relaxed_df = read_bed(relaxed, what="relaxed peaks", allow_empty=True) if relaxed else None
        if not set(conservative["chrom"]) & set(bins["chrom"]):
            found = naming_hint(conservative["chrom"].unique(), bins["chrom"].unique(), "the predictions")
            raise FactorNetError(
                f"{peaks}: no peak lies on a predicted chromosome{': ' + found if found else ''}"
            )
        score(tf_name, cell or ".", label_bins(bins, conservative, relaxed_df), 0, peaks)
    else:
        if isinstance(labels, Mapping):
            plan = dict(labels)
            for tf_name in plan:
                _select_tfs(names, tf_name, "")
            if tf is not None:
                plan = {tf: plan[tf]} if tf in plan else {}
                if not plan:
                    raise FactorNetError(f"--tf {tf} has no --labels {tf}=PATH")
        else:
            plan = {_select_tfs(names, tf, "one labels file is one TF"): labels}
        for tf_name, path in plan.items():
            label_bins_df, by_cell = read_labels(path)
            if cell is None:
                if len(by_cell) > 1:
                    raise FactorNetError(
                        f"{path}: the labels hold several cell types ({', '.join(by_cell)}): choose one with --cell"
                    )
                cell_name = next(iter(by_cell))
            elif cell not in by_cell:
                raise FactorNetError(
                    f"{path}: cell type {cell!r} is not in the labels (they have: {', '.join(by_cell)})"
                )
            else:
                cell_name = cell
            codes, extra = align_labels(bins, label_bins_df, by_cell[cell_name], path)
            score(tf_name, cell_name, codes, extra, path)

    table = pd.DataFrame(rows, columns=["model", "tf", "cell", *METRIC_COLUMNS, "labelled_not_predicted"])
    prefix = str(out_prefix)
    report = {
        "factornet_version": __version__,
        "predictions": str(predictions),
        "model": model,
        "auprc_method": "Davis-Goadrich interpolation as R PRROC pr.curve()$auc.davis.goadrich",
        "recall_at_fdr_method": "ENCODE-DREAM scoring script (sklearn precision_recall_curve)",
        "results": table.to_dict(orient="records"),
        # for `factornet call --fdr F`: the lowest score with FDR <= level, per reached level
        "calibration": calibration,
    }
    paths = [Path(prefix + s) for s in (".metrics.json", ".metrics.tsv", ".pr.png", ".roc.png")]
    with OutputSet() as outs:
        tmp = [outs.path(p) for p in paths]
        tmp[0].write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
        table.to_csv(tmp[1], sep="\t", index=False, float_format="%.6f")
        _plot(pr_curves, "pr", tmp[2], f"Precision-recall: {model}")
        _plot(roc_curves, "roc", tmp[3], f"ROC: {model}")
    return EvaluationResult(table, paths)


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def format_table(table: pd.DataFrame) -> str:
    """A readable fixed-width rendering of the metrics table (for the terminal)."""
    shown = table.drop(columns=["model"]).copy()
    for col in shown.columns:
        if shown[col].dtype.kind == "f":
            shown[col] = shown[col].map(lambda v: f"{v:.4f}")
    return shown.to_string(index=False)
