"""Metrics: exact hand-worked values, sklearn equivalence, and an independent PRROC transcription."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from factornet_core.errors import FactorNetError
from factornet_core.intervals import A, B, U
from factornet_core.metrics import (
    auprc_davis_goadrich,
    auroc,
    average_precision,
    evaluate_scores,
    pr_curve_davis_goadrich,
    ranked_counts,
    recall_at_fdr,
    roc_curve,
)


def prroc_dg_bruteforce(labels, scores) -> float:
    """Line-by-line, exact-fraction transcription of PRROC's compute.pr() D&G branch (hard labels).

    Walks the items one by one in descending score order, closing a point after each tie group,
    then applies PRROC's per-segment rule with Python loops and Fractions.
    """
    items = sorted(zip(map(float, scores), map(int, labels)), key=lambda t: -t[0])
    P = sum(1 for _, y in items if y == 1)
    points = []  # (tp, fp) after each distinct score
    tp = fp = 0
    for i, (s, y) in enumerate(items):
        tp += 1 if y == 1 else 0
        fp += 0 if y == 1 else 1
        if i == len(items) - 1 or items[i + 1][0] != s:
            points.append((tp, fp))
    total = Fraction(0)
    prev = (0, 0)
    for k, (tp, fp) in enumerate(points):
        tpp, fpp = prev
        prec = Fraction(tp, tp + fp)
        prec_prev = None if k == 0 else Fraction(tpp, tpp + fpp)
        if k == 0:
            total += Fraction(tp - tpp, P) * prec
        elif tp - tpp > 1 and prec != prec_prev:
            h = Fraction(fp - fpp, tp - tpp)
            ps = [Fraction(tpp + x) / (tpp + x + fpp + h * x) for x in range(tp - tpp + 1)]
            for a, b in zip(ps, ps[1:]):
                total += Fraction(1, P) * (a + b) / 2
        else:
            total += Fraction(tp - tpp, P) * (prec_prev + prec) / 2
        prev = (tp, fp)
    return float(total)


# --------------------------------------------------------------------------------------------- auPR (D&G)
def test_dg_hand_worked_no_ties():
    # points (1,0) (1,1) (2,1) (2,2), P = 2: rectangle 1/2·1, then trapezoid 1/2·(1/2 + 2/3)/2
    labels = [1, 0, 1, 0]
    scores = [0.9, 0.8, 0.7, 0.6]
    assert auprc_davis_goadrich(labels, scores) == pytest.approx(19 / 24, abs=1e-15)


def test_dg_hand_worked_interpolated_tie_group():
    # points (1,0) (3,2) (3,3), P = 3. Segment (1,0)→(3,2) is interpolated with h = 1:
    # precisions 1, 2/3, 3/5 at x = 0, 1, 2 → (1 + 2/3)/6 + (2/3 + 3/5)/6 = 22/45; plus 1/3 first.
    labels = [1, 1, 1, 0, 0, 0]
    scores = [0.9, 0.5, 0.5, 0.5, 0.5, 0.1]
    assert auprc_davis_goadrich(labels, scores) == pytest.approx(37 / 45, abs=1e-15)


def test_dg_perfect_ranking_is_one():
    labels = [1, 1, 1, 0, 0]
    assert auprc_davis_goadrich(labels, [5, 4, 3, 2, 1]) == pytest.approx(1.0, abs=1e-15)


def test_dg_all_ties_is_positive_rate():
    labels = [1, 0, 0, 1, 0]
    assert auprc_davis_goadrich(labels, [0.3] * 5) == pytest.approx(2 / 5, abs=1e-15)


@pytest.mark.parametrize("seed", range(25))
def test_dg_matches_bruteforce_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]
    scores = rng.integers(0, int(rng.integers(2, 8)), n) / 10  # heavy ties
    assert auprc_davis_goadrich(labels, scores) == pytest.approx(
        prroc_dg_bruteforce(labels, scores), abs=1e-12
    )


def test_dg_matches_bruteforce_large_tie_groups():
    rng = np.random.default_rng(7)
    labels = (rng.random(3000) < 0.2).astype(int)
    scores = np.round(rng.random(3000) * 0.5 + labels * 0.3, 1)  # few distinct values, big groups
    assert auprc_davis_goadrich(labels, scores) == pytest.approx(
        prroc_dg_bruteforce(labels, scores), abs=1e-12
    )


def test_dg_interpolated_curve_ends_on_points():
    labels = [1, 1, 1, 0, 0, 0]
    scores = [0.9, 0.5, 0.5, 0.5, 0.5, 0.1]
    recall, precision = pr_curve_davis_goadrich(labels, scores)
    assert recall[0] == 0 and precision[0] == 1
    assert recall[-1] == 1 and precision[-1] == pytest.approx(0.5)
    assert np.all(np.diff(recall) >= 0)
    assert np.any(np.isclose(precision, 2 / 3))  # the interpolated x = 1 step


# --------------------------------------------------------------------------------------------- sklearn
@pytest.mark.parametrize("ties", [False, True])
def test_auroc_and_ap_equal_sklearn(ties):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 2000)
    scores = rng.random(2000) + 0.3 * labels
    if ties:
        scores = np.round(scores, 1)
    assert auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(labels, scores) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )


def test_roc_curve_starts_at_origin_and_ends_at_one():
    fpr, tpr, _ = roc_curve([0, 1, 0, 1], [0.1, 0.9, 0.5, 0.5])
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)


# --------------------------------------------------------------------------------------------- recall at FDR
def dream_recall_at_fdr(y_true, y_score, fdr_cutoff):
    """The ENCODE-DREAM scoring script's function, verbatim in logic."""
    precision, recall, thresholds = precision_recall_curve(y_true, y_score)
    fdr = 1 - precision
    cutoff_index = next(i for i, x in enumerate(fdr) if x <= fdr_cutoff)
    return recall[cutoff_index]


def test_recall_at_fdr_hand_worked():
    # ranked labels 1 1 0 1 0 0 → points (tp, fp): (1,0) (2,0) (2,1) (3,1) (3,2) (3,3), P = 3
    labels = [1, 1, 0, 1, 0, 0]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    assert recall_at_fdr(labels, scores, 0.05) == pytest.approx(2 / 3)  # precision 1 up to (2,0)
    assert recall_at_fdr(labels, scores, 0.10) == pytest.approx(2 / 3)
    assert recall_at_fdr(labels, scores, 0.25) == pytest.approx(1.0)  # (3,1): precision 3/4
    assert recall_at_fdr(labels, scores, 0.50) == pytest.approx(1.0)


def test_recall_at_fdr_zero_when_top_is_negative():
    assert recall_at_fdr([0, 1, 1], [0.9, 0.5, 0.4], 0.05) == 0.0


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("fdr", [0.05, 0.1, 0.25, 0.5])
def test_recall_at_fdr_equals_dream_script(seed, fdr):
    rng = np.random.default_rng(seed)
    labels = (rng.random(500) < 0.15).astype(int)
    scores = np.round(rng.random(500) + 0.8 * labels, 2)
    assert recall_at_fdr(labels, scores, fdr) == pytest.approx(dream_recall_at_fdr(labels, scores, fdr))


# --------------------------------------------------------------------------------------------- evaluate_scores
def test_evaluate_scores_excludes_ambiguous():
    codes = np.array([B, U, A, B, U, A, U], dtype=np.int8)
    scores = np.array([0.9, 0.1, 0.99, 0.8, 0.2, 0.0, 0.3])
    out = evaluate_scores(codes, scores)
    keep = codes != A
    y = (codes[keep] == B).astype(int)
    assert out["auroc"] == pytest.approx(roc_auc_score(y, scores[keep]))
    assert out["auroc"] == 1.0 and out["auprc"] == pytest.approx(1.0)
    assert (out["n_bound"], out["n_unbound"], out["n_ambiguous"]) == (2, 3, 2)
    assert out["recall_at_5pct_fdr"] == 1.0
    assert set(out) >= {
        "recall_at_10pct_fdr",
        "recall_at_25pct_fdr",
        "recall_at_50pct_fdr",
        "average_precision",
    }


def test_evaluate_scores_needs_bound_and_unbound():
    with pytest.raises(FactorNetError, match="no bound"):
        evaluate_scores(np.array([U, U, A]), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(FactorNetError, match="no unbound"):
        evaluate_scores(np.array([B, B, A]), np.array([0.1, 0.2, 0.3]))


def test_weighted_negatives_equal_repeated_negatives():
    # an unbound sample of weight k counts as k unbound bins with its score: the auPR of the set with
    # every weighted negative written out k times (ties included, interpolated segments included)
    rng = np.random.default_rng(5)
    labels = (rng.random(300) < 0.2).astype(int)
    scores = np.round(rng.random(300), 2)  # ties
    k = np.where(labels == 1, 1, rng.integers(1, 6, 300))
    repeated = np.repeat(np.arange(300), k)
    expected = auprc_davis_goadrich(labels[repeated], scores[repeated])
    rc = ranked_counts(labels, scores, k.astype(float))
    assert rc.n_neg == k[labels == 0].sum() and rc.n_pos == labels.sum()
    assert auprc_davis_goadrich(rc) == pytest.approx(expected, rel=1e-12)
    assert auroc(rc) == pytest.approx(auroc(labels[repeated], scores[repeated]), rel=1e-12)
    # weight 1 everywhere is the unweighted count; a weight on a bound bin is refused
    assert auprc_davis_goadrich(ranked_counts(labels, scores, np.ones(300))) == auprc_davis_goadrich(
        labels, scores
    )
    with pytest.raises(ValueError, match="bound samples must weigh 1"):
        ranked_counts(labels, scores, np.full(300, 2.0))
