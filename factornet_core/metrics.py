"""Binding-prediction metrics as scored by the ENCODE-DREAM challenge.

Pure array functions: ``labels`` are 0/1 (bound = 1), ``scores`` are floats, higher = more likely
bound. Everything is computed from one descending sort (:func:`ranked_counts`), so a genome-scale
evaluation sorts once.

* :func:`auroc` — area under the ROC curve, trapezoidal with ties (equals ``sklearn.metrics.roc_auc_score``).
* :func:`auprc_davis_goadrich` — R PRROC's ``pr.curve(...)$auc.davis.goadrich``, the DREAM auPR.
* :func:`average_precision` — step-wise AP (equals ``sklearn.metrics.average_precision_score``).
* :func:`recall_at_fdr` — the DREAM scoring script's recall at a false-discovery-rate cutoff.
* :func:`evaluate_scores` — all of the above from U/B/A label codes, ambiguous bins excluded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factornet_core.errors import FactorNetError
from factornet_core.intervals import A, B

FDR_CUTOFFS = (0.05, 0.10, 0.25, 0.50)


@dataclass(frozen=True)
class RankedCounts:
    """Cumulative counts at each distinct score, highest score first.

    ``tp[k]``/``fp[k]``: positives/negatives with score ≥ ``thresholds[k]`` (all ``(m,)``, m = number
    of distinct scores); ``n_pos``/``n_neg``: totals. ``fp``/``n_neg`` are floats when negatives are
    weighted (:func:`ranked_counts`).
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_pos: int
    n_neg: int | float


def ranked_counts(
    labels: np.ndarray, scores: np.ndarray, neg_weights: np.ndarray | None = None
) -> RankedCounts:
    """Sort once: cumulative true/false positives at every distinct score, descending.

    ``neg_weights`` ``(n,)``: how many unbound bins each sample stands for (e.g. ``N / n`` for a uniform
    sample of ``n`` of ``N`` unbound bins), so that ``fp`` and ``n_neg`` count the unbound bins of the
    whole set, as if every one had been scored. Bound samples must weigh 1 (each is one bound bin):
    that keeps the Davis–Goadrich unit TP steps. With integer weights the result equals scoring each
    unbound sample that many times.
    """
    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    if np.isnan(scores).any():
        raise FactorNetError("scores contain NaN")
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    positive = labels[order] == 1
    tp_all = np.cumsum(positive, dtype=np.int64)
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True)) if s.size else np.zeros(0, np.int64)
    tp = tp_all[last]
    n_pos = int(tp_all[-1]) if s.size else 0
    if neg_weights is None:
        fp = last + 1 - tp
        return RankedCounts(s[last], tp, fp, n_pos, int(s.size - n_pos))
    w = np.asarray(neg_weights, dtype=np.float64).reshape(-1)
    if w.shape != scores.shape:
        raise ValueError(f"neg_weights {w.shape} and scores {scores.shape} differ in shape")
    if np.any(w[labels == 1] != 1):
        raise ValueError("bound samples must weigh 1 (only unbound bins may be subsampled)")
    fp_all = np.cumsum(np.where(positive, 0.0, w[order]))
    return RankedCounts(s[last], tp, fp_all[last], n_pos, float(fp_all[-1]) if s.size else 0.0)


def _counts(labels_or_counts, scores=None) -> RankedCounts:
    if isinstance(labels_or_counts, RankedCounts):
        return labels_or_counts
    return ranked_counts(labels_or_counts, scores)


def _need_both(rc: RankedCounts, what: str) -> None:
    if rc.n_pos == 0 or rc.n_neg == 0:
        raise FactorNetError(
            f"{what} needs both bound and unbound bins (got {rc.n_pos} bound, {rc.n_neg} unbound)"
        )


# --------------------------------------------------------------------------------------------- curves
def roc_curve(labels, scores=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points ``(fpr, tpr, thresholds)`` from (0, 0) through every distinct score (``thresholds[0] = inf``)."""
    rc = _counts(labels, scores)
    _need_both(rc, "a ROC curve")
    fpr = np.concatenate([[0.0], rc.fp / rc.n_neg])
    tpr = np.concatenate([[0.0], rc.tp / rc.n_pos])
    return fpr, tpr, np.concatenate([[np.inf], rc.thresholds])


def pr_curve(labels, scores=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PR points ``(recall, precision, thresholds)`` at every distinct score, highest score first."""
    rc = _counts(labels, scores)
    _need_both(rc, "a PR curve")
    return rc.tp / rc.n_pos, rc.tp / (rc.tp + rc.fp), rc.thresholds


def pr_curve_davis_goadrich(labels, scores=None, max_steps: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The Davis–Goadrich interpolated PR curve ``(recall, precision)`` for plotting.

    Between consecutive points TP rises in (up to ``max_steps``) equal steps with FP rising
    proportionally; the curve starts at recall 0 with the first point's precision.
    """
    rc = _counts(labels, scores)
    _need_both(rc, "a PR curve")
    tp_prev = np.concatenate([[0], rc.tp[:-1]]).astype(np.float64)
    fp_prev = np.concatenate([[0], rc.fp[:-1]]).astype(np.float64)
    d_tp = rc.tp - tp_prev
    steps = np.clip(d_tp, 1, max_steps).astype(np.int64)
    steps[0] = 1
    seg = np.repeat(np.arange(rc.tp.size), steps)
    frac = (np.arange(seg.size) - np.repeat(np.cumsum(steps) - steps, steps) + 1) / steps[seg]
    tp = tp_prev[seg] + frac * d_tp[seg]
    fp = fp_prev[seg] + frac * (rc.fp - fp_prev)[seg]
    recall = np.concatenate([[0.0], tp / rc.n_pos])
    precision = tp / (tp + fp)
    return recall, np.concatenate([[precision[0]], precision])


# --------------------------------------------------------------------------------------------- metrics
def auroc(labels, scores=None) -> float:
    """Area under the ROC curve; tied scores form one diagonal step (= sklearn ``roc_auc_score``)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def auprc_davis_goadrich(labels, scores=None) -> float:
    """Area under the PR curve as R PRROC's ``pr.curve(...)$auc.davis.goadrich`` computes it.

    PRROC (Grau, Grosse & Keilwagen 2015; Davis & Goadrich 2006): points at each distinct score,
    highest first, with cumulative ``TP, FP``; segment k goes from ``(TPa, FPa)`` to ``(TPb, FPb)``:

    * first segment (from TP = FP = 0): a rectangle ``(TPb / P) · TPb / (TPb + FPb)``;
    * if ``TPb − TPa > 1`` and the precision changes: TP rises by ``x = 0, 1, …, TPb − TPa``, FP by
      ``h·x`` with ``h = (FPb − FPa) / (TPb − TPa)``; precision ``(TPa + x) / (TPa + x + FPa + h·x)``
      and each unit step adds a trapezoid ``(1/P) · (prec(x) + prec(x+1)) / 2``;
    * otherwise one trapezoid ``(TPb − TPa)/P · (precA + precB) / 2`` (exact when the precision
      is constant; a single TP step).
    """
    rc = _counts(labels, scores)
    _need_both(rc, "auPR")
    P = float(rc.n_pos)
    tp = rc.tp.astype(np.float64)
    fp = rc.fp.astype(np.float64)
    tp_prev = np.concatenate([[0.0], tp[:-1]])
    fp_prev = np.concatenate([[0.0], fp[:-1]])
    prec = tp / (tp + fp)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec_prev = tp_prev / (tp_prev + fp_prev)  # NaN for the first segment
    d = tp - tp_prev
    interp = (d > 1) & (prec != prec_prev)
    interp[0] = False  # PRROC: NaN != x is NA, which `which()` drops

    plain = ~interp
    plain[0] = False
    total = d[0] / P * prec[0]
    total += np.sum(d[plain] / P * (prec_prev[plain] + prec[plain]) / 2)

    idx = np.flatnonzero(interp)
    if idx.size:
        # unit TP steps x = 0..d for every interpolated segment, as one flat vector
        dk = d[idx].astype(np.int64)
        seg = np.repeat(np.arange(idx.size), dk + 1)
        x = np.arange(seg.size) - np.repeat(np.cumsum(dk + 1) - (dk + 1), dk + 1)
        ta, fa = tp_prev[idx][seg], fp_prev[idx][seg]
        h = ((fp - fp_prev)[idx] / d[idx])[seg]
        p = (ta + x) / (ta + x + fa + h * x)
        # trapezoids between consecutive steps of the same segment
        same = seg[1:] == seg[:-1]
        total += np.sum((p[1:] + p[:-1])[same]) / 2 / P
    return float(total)


def average_precision(labels, scores=None) -> float:
    """Σ (R_k − R_{k−1}) · P_k over distinct scores (= sklearn ``average_precision_score``)."""
    rc = _counts(labels, scores)
    _need_both(rc, "average precision")
    recall = rc.tp / rc.n_pos
    precision = rc.tp / (rc.tp + rc.fp)
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def recall_at_fdr(labels, scores=None, fdr: float = 0.05) -> float:
    """Recall at a false-discovery-rate cutoff, the ENCODE-DREAM scoring script's way.

    The script did ``precision, recall, _ = sklearn.metrics.precision_recall_curve(y, s)``,
    ``fdr = 1 - precision`` and returned ``recall`` at the first index with ``fdr <= cutoff``.
    sklearn orders the points from the lowest threshold (highest recall) and ends with
    (recall 0, precision 1), so this is the recall of the lowest-threshold point whose FDR is within
    the cutoff, or 0 if there is none.
    """
    rc = _counts(labels, scores)
    _need_both(rc, "recall at FDR")
    precision = rc.tp / (rc.tp + rc.fp)
    ok = np.flatnonzero((1 - precision) <= fdr)
    return float(rc.tp[ok[-1]] / rc.n_pos) if ok.size else 0.0


def fdr_key(fdr: float) -> str:
    """Metric name for a cutoff: 0.05 → ``recall_at_5pct_fdr``."""
    return f"recall_at_{round(fdr * 100):d}pct_fdr"


def evaluate_scores(codes: np.ndarray, scores: np.ndarray) -> dict[str, float | int]:
    """All DREAM metrics for label codes U/B/A (0/1/2); ambiguous bins are left out of everything.

    Returns ``auroc, auprc, average_precision, recall_at_{5,10,25,50}pct_fdr, n_bound, n_unbound,
    n_ambiguous``.
    """
    codes = np.asarray(codes).reshape(-1)
    scores = np.asarray(scores).reshape(-1)
    if codes.shape != scores.shape:
        raise ValueError(f"labels {codes.shape} and scores {scores.shape} differ in shape")
    keep = codes != A
    rc = ranked_counts((codes[keep] == B).astype(np.int8), scores[keep])
    if rc.n_pos == 0:
        raise FactorNetError("the labels have no bound (B) bin: auROC and auPR are undefined")
    if rc.n_neg == 0:
        raise FactorNetError("the labels have no unbound (U) bin: auROC and auPR are undefined")
    out: dict[str, float | int] = {
        "auroc": auroc(rc),
        "auprc": auprc_davis_goadrich(rc),
        "average_precision": average_precision(rc),
    }
    for fdr in FDR_CUTOFFS:
        out[fdr_key(fdr)] = recall_at_fdr(rc, fdr=fdr)
    out["n_bound"] = rc.n_pos
    out["n_unbound"] = rc.n_neg
    out["n_ambiguous"] = int((~keep).sum())
    return out
