"""The ``factornet evaluate`` workflow: score predictions against DREAM labels or peaks.

Labels come either from DREAM label TSVs (one per TF, one column per cell type) or are made from
peaks over the prediction bins with the bin labelling rule (:func:`factornet_core.intervals.label_bins`).
Every predicted bin must have a label (bins are joined on chrom/start/end); labelled bins that were
not predicted are counted and reported, not scored. Ambiguous (A) bins are excluded from all metrics.

Several prediction files (models and baselines) are scored side by side on the same labels: they must
cover the same bins (checked before any scoring). Outputs (all or nothing): ``PREFIX.metrics.json``,
``PREFIX.metrics.tsv`` (one row per (file, TF, cell)), ``PREFIX.pr.png`` (every curve, with the
prevalence line), ``PREFIX.roc.png`` (every curve, with the diagonal) and ``PREFIX.aupr.png`` (auPR
bars). The JSON's ``calibration`` block holds, per (TF, cell) of the **first** file, the lowest score
reaching each FDR level on a 0.001 grid (:func:`factornet_core.calling.fdr_grid`), which
``factornet call --fdr`` turns into a threshold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import __version__
from factornet_core.atomic import OutputSet, check_not_inputs
from factornet_core.calling import CALIBRATION_STEP, fdr_grid
from factornet_core.errors import FactorNetError
from factornet_core.figures import aupr_bars_figure, chromosome_label, curves_figure, save_png
from factornet_core.intervals import label_bins, naming_hint, read_bed, read_labels
from factornet_core.metrics import FDR_CUTOFFS, evaluate_scores, fdr_key, pr_curve_davis_goadrich, roc_curve
from factornet_core.scores import read_predictions
from factornet_core.wording import plural

METRIC_COLUMNS = [
    "auroc",
    "auprc",
    "average_precision",
    *[fdr_key(f) for f in FDR_CUTOFFS],
    "n_bound",
    "n_unbound",
    "n_ambiguous",
]


@dataclass
class EvaluationResult:
    """Metrics rows (``model, tf, cell, <METRIC_COLUMNS>, labelled_not_predicted``) and output paths."""

    table: pd.DataFrame
    outputs: list[Path] = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # output suffix → the matplotlib Figure written


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
def check_same_bins(first: pd.DataFrame, other: pd.DataFrame, first_path, other_path) -> None:
    """Side-by-side scoring needs one set of bins: raise naming both files and the first difference."""
    keys = ("chrom", "start", "end")
    if len(first) == len(other) and all(
        np.array_equal(first[c].to_numpy(), other[c].to_numpy()) for c in keys
    ):
        return
    if len(first) != len(other):
        what = f"{len(first)} vs {len(other)} bins"  # plural-ok: "12 vs 1 bins" reads as a comparison
    else:
        row = int(
            np.flatnonzero(np.any([first[c].to_numpy() != other[c].to_numpy() for c in keys], axis=0))[0]
        )
        a, b = first.iloc[row], other.iloc[row]
        what = f"row {row + 1}: {a.chrom}:{a.start}-{a.end} in the first, {b.chrom}:{b.start}-{b.end} in the other"
        same = first[list(keys)].sort_values(list(keys)).to_numpy()
        if np.array_equal(same, other[list(keys)].sort_values(list(keys)).to_numpy()):
            raise FactorNetError(
                f"{other_path} holds the same bins as {first_path} in another order ({what}): "
                "sort both by chromosome and start the same way, or write them with the same tool"
            )
    raise FactorNetError(
        f"{other_path} covers other bins than {first_path} ({what}): score files made over the same bins "
        "(same --chroms/--bins and blacklist) side by side"
    )


# --------------------------------------------------------------------------------------------- workflow
def _model_names(paths: list, name: str | Sequence[str] | None) -> list[str]:
    """One distinct report name per prediction file: ``name``, else the file names, else the paths."""
    names = [name] if isinstance(name, str) else (list(name) if name is not None else [])
    if names and len(names) != len(paths):
        raise FactorNetError(
            f"give one name per prediction file: {plural(len(names), 'name')} for {plural(len(paths), 'file')}"
        )
    models = names or [Path(p).name for p in paths]
    if len(set(models)) != len(models):
        models = [str(p) for p in paths] if not names else models
        if len(set(models)) != len(models):
            raise FactorNetError(f"model names must differ, got {', '.join(models)}")
    return models


def _load_predictions(paths: list, tf: str | None) -> tuple[list, pd.DataFrame, list[str]]:
    """Read every prediction file → (``[(bins, scores)]``, the shared bins, the shared score columns)."""
    loaded = [read_predictions(p, dream_tf=tf) for p in paths]
    bins = loaded[0][0]
    for path, (other, _) in zip(paths[1:], loaded[1:]):
        check_same_bins(bins, other, paths[0], path)
    columns = list(loaded[0][1].columns)
    for path, (_, sc) in zip(paths[1:], loaded[1:]):
        if list(sc.columns) != columns:
            raise FactorNetError(
                f"{path} predicts {', '.join(sc.columns)} but {paths[0]} predicts {', '.join(columns)}"
            )
    return loaded, bins, columns


def _peak_target(bins: pd.DataFrame, columns: list[str], peaks, relaxed, tf: str | None, cell: str | None):
    """The one ``(tf, cell, codes, 0, peaks)`` target labelled from conservative (+ relaxed) peaks."""
    tf_name = _select_tfs(columns, tf, "--peaks covers one TF")
    conservative = read_bed(peaks, what="peaks")
    relaxed_df = read_bed(relaxed, what="relaxed peaks", allow_empty=True) if relaxed else None
    if not set(conservative["chrom"]) & set(bins["chrom"]):
        found = naming_hint(conservative["chrom"].unique(), bins["chrom"].unique(), "the predictions")
        raise FactorNetError(
            f"{peaks}: no peak lies on a predicted chromosome{': ' + found if found else ''}"
        )
    return (tf_name, cell or ".", label_bins(bins, conservative, relaxed_df), 0, peaks)


def _labels_plan(columns: list[str], labels, tf: str | None) -> dict:
    """``{TF: labels path}`` to score, checked against the predicted TFs."""
    if isinstance(labels, Mapping):
        plan = dict(labels)
        for tf_name in plan:
            _select_tfs(columns, tf_name, "")
        if tf is not None:
            plan = {tf: plan[tf]} if tf in plan else {}
            if not plan:
                raise FactorNetError(f"--tf {tf} has no --labels {tf}=PATH")
        return plan
    return {_select_tfs(columns, tf, "one labels file is one TF"): labels}


def _pick_cell(path, by_cell: dict, cell: str | None) -> str:
    """The labels column to score: ``cell``, or the only one there is."""
    if cell is None:
        if len(by_cell) > 1:
            raise FactorNetError(
                f"{path}: the labels hold several cell types ({', '.join(by_cell)}): choose one with --cell"
            )
        return next(iter(by_cell))
    if cell not in by_cell:
        raise FactorNetError(
            f"{path}: cell type {cell!r} is not in the labels (they have: {', '.join(by_cell)})"
        )
    return cell


def _label_targets(bins: pd.DataFrame, columns: list[str], labels, tf: str | None, cell: str | None) -> list:
    """One ``(tf, cell, codes, labelled-not-predicted, path)`` target per DREAM labels file."""
    targets = []
    for tf_name, path in _labels_plan(columns, labels, tf).items():
        label_bins_df, by_cell = read_labels(path)
        cell_name = _pick_cell(path, by_cell, cell)
        codes, extra = align_labels(bins, label_bins_df, by_cell[cell_name], path)
        targets.append((tf_name, cell_name, codes, extra, path))
    return targets


@dataclass
class _Scored:
    """Everything the scoring loop collects for the table, the figures and the JSON report."""

    rows: list[dict] = field(default_factory=list)
    pr_curves: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    roc_curves: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    prevalence: list[tuple[str, float]] = field(default_factory=list)
    scored_chroms: list[str] = field(default_factory=list)
    calibration: list[dict] = field(default_factory=list)


def _score_targets(targets: list, models: list[str], loaded: list, bins: pd.DataFrame) -> _Scored:
    """Metrics, PR/ROC curves and (first model only) FDR calibration for every (target, model)."""
    out = _Scored()
    for tf_name, cell_name, codes, extra, source in targets:
        keep = codes != 2
        y = (codes[keep] == 1).astype(np.int8)
        what = f"{tf_name} {cell_name}" if cell_name != "." else tf_name
        out.prevalence.append((what if len(targets) > 1 else "", float(y.mean()) if y.size else 0.0))
        out.scored_chroms.extend(bins["chrom"].to_numpy()[keep])
        for model, (_, scores) in zip(models, loaded):
            s = scores[tf_name].to_numpy()
            try:
                metrics = evaluate_scores(codes, s)
            except FactorNetError as exc:
                raise FactorNetError(f"{source}: {tf_name} in {cell_name}: {exc}") from None
            out.rows.append(
                {"model": model, "tf": tf_name, "cell": cell_name, **metrics, "labelled_not_predicted": extra}
            )
            label = model if len(targets) == 1 else f"{model}: {what}"
            recall, precision = pr_curve_davis_goadrich(y, s[keep])
            out.pr_curves.append((f"{label} (auPR {metrics['auprc']:.3f})", recall, precision))
            fpr, tpr, _ = roc_curve(y, s[keep])
            out.roc_curves.append((f"{label} (auROC {metrics['auroc']:.3f})", fpr, tpr))
            if model == models[0]:
                levels, min_scores = fdr_grid(y, s[keep])
                out.calibration.append(
                    {
                        "tf": tf_name,
                        "cell": cell_name,
                        "model": model,
                        "step": CALIBRATION_STEP,
                        "fdr": levels,
                        "min_score": min_scores,
                    }
                )
    return out


#: the files ``evaluate`` writes, ``PREFIX<suffix>``
OUTPUT_SUFFIXES = (".metrics.json", ".metrics.tsv", ".pr.png", ".roc.png", ".aupr.png")


def _write_outputs(prefix: str, report: dict, table: pd.DataFrame, figures: dict) -> list[Path]:
    """Write the JSON report, the TSV table and the figures, all or nothing."""
    paths_out = [Path(prefix + s) for s in (".metrics.json", ".metrics.tsv", *figures)]
    with OutputSet() as outs:
        tmp = [outs.path(p) for p in paths_out]
        tmp[0].write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
        table.to_csv(tmp[1], sep="\t", index=False, float_format="%.6f")
        for path, fig in zip(tmp[2:], figures.values()):
            save_png(fig, path)
    return paths_out


def evaluate(
    predictions: str | os.PathLike | Sequence[str | os.PathLike],
    out_prefix: str | os.PathLike,
    labels: str | os.PathLike | Mapping[str, str | os.PathLike] | None = None,
    cell: str | None = None,
    peaks: str | os.PathLike | None = None,
    relaxed: str | os.PathLike | None = None,
    tf: str | None = None,
    name: str | Sequence[str] | None = None,
) -> EvaluationResult:
    """Evaluate one or several prediction files on the same labels; write metrics and plots.

    Parameters
    ----------
    predictions : one prediction file, or several over the same bins (models and baselines).
    labels : a DREAM label TSV for one TF (the TF in the predictions, or ``tf``), or ``{TF: path}``.
    cell : the label column (cell type) to use; may be omitted when the labels have one cell type.
        With ``peaks`` it only names the row (default ``'.'``).
    peaks, relaxed : conservative (and relaxed) peaks of one TF, labelled over the prediction bins.
    tf : the TF to evaluate (required for multi-TF predictions with a single labels path or peaks);
        also names the score column of a DREAM-layout prediction file.
    name : the model name for the report, one per file (default: each file's name).

    Raises
    ------
    FactorNetError
        Files over different bins, names not one per file, predicted bins without labels, a TF or
        cell type missing, labels without bound or unbound bins.
    """
    if (labels is None) == (peaks is None):
        raise FactorNetError("give either --labels or --peaks (not both)")
    if relaxed is not None and peaks is None:
        raise FactorNetError("--relaxed needs --peaks")
    paths = [predictions] if isinstance(predictions, (str, os.PathLike)) else list(predictions)
    if not paths:
        raise FactorNetError("no prediction files to evaluate")
    labels_given = labels.values() if isinstance(labels, Mapping) else labels
    check_not_inputs(
        [f"{out_prefix}{s}" for s in OUTPUT_SUFFIXES],
        {"--predictions": paths, "--labels": labels_given, "--peaks": peaks, "--relaxed": relaxed},
        "--out-prefix",
    )
    models = _model_names(paths, name)
    loaded, bins, columns = _load_predictions(paths, tf)
    # (tf, cell, codes, labelled-not-predicted, source) for each scored column
    if peaks is not None:
        targets = [_peak_target(bins, columns, peaks, relaxed, tf, cell)]
    else:
        targets = _label_targets(bins, columns, labels, tf, cell)
    scored = _score_targets(targets, models, loaded, bins)

    table = pd.DataFrame(
        scored.rows, columns=["model", "tf", "cell", *METRIC_COLUMNS, "labelled_not_predicted"]
    )
    where = ", ".join(dict.fromkeys(f"{t} in {c}" if c != "." else t for t, c, *_ in targets))
    where += f", {chromosome_label(pd.unique(np.asarray(scored.scored_chroms)))}"
    subject = models[0] if len(models) == 1 else f"{plural(len(models), 'prediction')}"
    report = {
        "factornet_version": __version__,
        "predictions": [str(p) for p in paths] if len(paths) > 1 else str(paths[0]),
        "model": models if len(models) > 1 else models[0],
        "auprc_method": "Davis-Goadrich interpolation as R PRROC pr.curve()$auc.davis.goadrich",
        "recall_at_fdr_method": "ENCODE-DREAM scoring script (sklearn precision_recall_curve)",
        "results": table.to_dict(orient="records"),
        # for `factornet call --fdr F`: the first file's lowest score with FDR <= level, per reached level
        "calibration": scored.calibration,
    }
    figures = {
        ".pr.png": curves_figure(
            scored.pr_curves,
            "pr",
            f"Precision-recall: {subject}, {where}",
            scored.prevalence,
        ),
        ".roc.png": curves_figure(scored.roc_curves, "roc", f"ROC: {subject}, {where}"),
        ".aupr.png": aupr_bars_figure(table, f"auPR: {where}"),
    }
    paths_out = _write_outputs(str(out_prefix), report, table, figures)
    return EvaluationResult(table, paths_out, figures)


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def format_table(table: pd.DataFrame) -> str:
    """A readable fixed-width rendering of the metrics table (for the terminal); the model column is
    shown when the table holds several models."""
    shown = table.drop(columns=["model"]).copy() if table["model"].nunique() <= 1 else table.copy()
    for col in shown.columns:
        if shown[col].dtype.kind == "f":
            shown[col] = shown[col].map(lambda v: f"{v:.4f}")
    return shown.to_string(index=False)
