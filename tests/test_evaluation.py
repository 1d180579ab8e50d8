"""`factornet evaluate`: exact metrics from labels and from peaks, outputs, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from factornet_core.evaluation import evaluate
from factornet_core.intervals import write_labels
from factornet_core.scores import write_predictions
from factornet_tools.cli import main

OUTPUTS = (".metrics.json", ".metrics.tsv", ".pr.png", ".roc.png")


def _bins(n=12):
    bins = pd.DataFrame({"chrom": "chr1", "start": np.arange(n) * 50})
    bins["end"] = bins["start"] + 200
    return bins


@pytest.fixture
def data(tmp_path):
    bins = _bins()
    # bins 0-11; codes per cell (0 U, 1 B, 2 A)
    k562 = np.array([1, 1, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0], dtype=np.int8)
    hepg2 = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0], dtype=np.int8)
    labels = tmp_path / "CTCF.train.labels.tsv.gz"
    write_labels(labels, bins, {"K562": k562, "HepG2": hepg2})
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.95, 0.3, 0.2, 0.1, 0.05, 0.0], dtype=np.float32)
    pred = tmp_path / "pred.tsv.gz"
    write_predictions(pred, bins, {"CTCF": scores, "MAX": scores[::-1].copy()})
    return tmp_path, bins, labels, pred, k562, scores


def test_evaluate_labels_exact(data):
    tmp, _, labels, pred, k562, scores = data
    prefix = tmp / "out" / "ev"
    prefix.parent.mkdir()
    code = main(
        ["evaluate", "--predictions", str(pred), "--labels", str(labels), "--cell", "K562", "--tf", "CTCF",
         "--out-prefix", str(prefix), "--name", "m1"]
    )  # fmt: skip
    assert code == 0
    report = json.loads((tmp / "out" / "ev.metrics.json").read_text())
    (row,) = report["results"]
    # ranked labels without the ambiguous bin: 1 1 0 1 0 0 0 0 0 0 0 → the hand-worked recall example
    assert (row["tf"], row["cell"], row["model"]) == ("CTCF", "K562", "m1")
    assert (row["n_bound"], row["n_unbound"], row["n_ambiguous"]) == (3, 8, 1)
    keep = k562 != 2
    assert row["auroc"] == pytest.approx(roc_auc_score(k562[keep] == 1, scores[keep]))
    assert row["auprc"] == pytest.approx(1 / 3 + 1 / 3 + (1 / 3) * (2 / 3 + 3 / 4) / 2)
    assert row["recall_at_5pct_fdr"] == pytest.approx(2 / 3)
    assert row["recall_at_25pct_fdr"] == pytest.approx(1.0)
    tsv = pd.read_csv(tmp / "out" / "ev.metrics.tsv", sep="\t")
    assert list(tsv.columns[:4]) == ["model", "tf", "cell", "auroc"]
    assert tsv.loc[0, "auprc"] == pytest.approx(row["auprc"], abs=1e-6)
    for suffix in (".pr.png", ".roc.png"):
        assert (tmp / "out" / f"ev{suffix}").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_several_tfs_with_tf_equals_path(data):
    tmp, _, labels, pred, _, _ = data
    result = evaluate(pred, tmp / "multi", labels={"CTCF": labels, "MAX": labels}, cell="HepG2")
    assert list(result.table["tf"]) == ["CTCF", "MAX"]
    # HepG2 bound bins 8, 9 score 0.2, 0.1 for CTCF (each above 2 of 10 unbound bins) and 0.6, 0.7
    # for MAX (the reversed scores: each above 7 of 10)
    assert result.table["auroc"].tolist() == pytest.approx([0.2, 0.7])


def test_evaluate_from_peaks_matches_labels(tmp_path):
    bins = _bins(40)
    peaks = tmp_path / "cons.narrowPeak"
    peaks.write_text("chr1\t100\t400\tp1\t0\t.\t5\t5\t5\t100\n")
    relaxed = tmp_path / "rel.narrowPeak"
    relaxed.write_text("chr1\t1200\t1300\n")
    rng = np.random.default_rng(0)
    pred = tmp_path / "pred.tsv.gz"
    write_predictions(pred, bins, {"CTCF": rng.random(40).astype(np.float32)})
    result = evaluate(pred, tmp_path / "pk", peaks=peaks, relaxed=relaxed)
    row = result.table.iloc[0]
    # B: > 100 bp inside [100, 400): starts 0<s... bins [s, s+200) with overlap ≥ 101 → s = 50..250 (5 bins)
    assert row["n_bound"] == 5
    # A: any overlap but not B: starts 0 (100 bp, exactly half), 300, 350 (cons), and 1050..1250 (relaxed)
    assert row["n_ambiguous"] == 3 + 5
    assert row["cell"] == "."


def test_labelled_not_predicted_counted(data):
    tmp, bins, labels, _, _, scores = data
    pred = tmp / "part.tsv.gz"
    write_predictions(
        pred, bins.iloc[::-1].iloc[:10], {"CTCF": scores[::-1][:10].copy()}
    )  # other order, subset
    result = evaluate(pred, tmp / "part", labels=labels, cell="K562")
    assert result.table.loc[0, "labelled_not_predicted"] == 2


def _fails(argv, capsys, prefix):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("factornet evaluate: error: "), err
    assert not any((prefix.parent / (prefix.name + s)).exists() for s in OUTPUTS)
    return err


def test_evaluate_errors(data, capsys):
    tmp, bins, labels, pred, _, scores = data
    prefix = tmp / "bad"
    base = ["evaluate", "--out-prefix", str(prefix)]
    err = _fails(
        [*base, "--predictions", str(pred), "--labels", str(labels), "--cell", "K562"], capsys, prefix
    )
    assert "several TFs (CTCF, MAX): choose one with --tf" in err
    err = _fails([*base, "--predictions", str(pred), "--labels", str(labels), "--tf", "CTCF"], capsys, prefix)
    assert "several cell types (K562, HepG2): choose one with --cell" in err
    err = _fails(
        [*base, "--predictions", str(pred), "--labels", str(labels), "--tf", "CTCF", "--cell", "GM12878"],
        capsys,
        prefix,
    )
    assert "cell type 'GM12878' is not in the labels" in err

    # predicted bins without labels
    extra = tmp / "extra.tsv.gz"
    more = pd.concat([bins, pd.DataFrame({"chrom": ["chr2"], "start": [0], "end": [200]})], ignore_index=True)
    write_predictions(extra, more, {"CTCF": np.append(scores, 0.5)})
    err = _fails(
        [*base, "--predictions", str(extra), "--labels", str(labels), "--cell", "K562"], capsys, prefix
    )
    assert "1 predicted bins have no label (first chr2:0-200)" in err

    # labels without any bound bin
    none_bound = tmp / "none.labels.tsv.gz"
    write_labels(none_bound, bins, {"K562": np.zeros(len(bins), np.int8)})
    one = tmp / "one.tsv.gz"
    write_predictions(one, bins, {"CTCF": scores})
    err = _fails([*base, "--predictions", str(one), "--labels", str(none_bound)], capsys, prefix)
    assert "CTCF in K562: the labels have no bound (B) bin" in err

    # NaN in predictions
    nan = tmp / "nan.tsv.gz"
    nan.write_bytes(__import__("gzip").compress(b"chr\tstart\tstop\tCTCF\nchr1\t0\t200\tnan\n"))
    err = _fails([*base, "--predictions", str(nan), "--labels", str(none_bound)], capsys, prefix)
    assert f"{nan}:2: score for CTCF is missing or NaN" in err

    # peaks with other chromosome naming
    peaks = tmp / "p.bed"
    peaks.write_text("1\t100\t400\n")
    err = _fails([*base, "--predictions", str(one), "--peaks", str(peaks)], capsys, prefix)
    assert "chr1 vs 1" in err


def test_evaluate_dream_layout_named_by_tf(data):
    tmp, bins, labels, _, _, scores = data
    dream = tmp / "F.CTCF.K562.tab.gz"
    write_predictions(dream, bins, {"CTCF": scores}, dream=True)
    result = evaluate(dream, tmp / "dream", labels=labels, cell="K562", tf="CTCF")
    assert result.table.loc[0, "tf"] == "CTCF"


# --------------------------------------------------------------------------------------------- side by side
def test_several_files_side_by_side(data):
    tmp, bins, labels, pred, k562, scores = data
    other = tmp / "other.tsv.gz"
    write_predictions(other, bins, {"CTCF": scores[::-1].copy(), "MAX": scores})
    prefix = tmp / "side"
    code = main(
        ["evaluate", "--predictions", str(pred), str(other), "--name", "model", "pwm", "--labels",
         str(labels), "--cell", "K562", "--tf", "CTCF", "--out-prefix", str(prefix)]
    )  # fmt: skip
    assert code == 0
    report = json.loads((tmp / "side.metrics.json").read_text())
    rows = report["results"]
    assert [(r["model"], r["tf"], r["cell"]) for r in rows] == [
        ("model", "CTCF", "K562"),
        ("pwm", "CTCF", "K562"),
    ]
    keep = k562 != 2
    assert rows[0]["auprc"] == pytest.approx(1 / 3 + 1 / 3 + (1 / 3) * (2 / 3 + 3 / 4) / 2)
    assert rows[1]["auroc"] == pytest.approx(roc_auc_score(k562[keep] == 1, scores[::-1][keep]))
    tsv = pd.read_csv(tmp / "side.metrics.tsv", sep="\t")
    assert list(tsv["model"]) == ["model", "pwm"]
    assert (tmp / "side.aupr.png").read_bytes()[:4] == b"\x89PNG"


def test_side_by_side_figures(data):
    tmp, bins, labels, pred, k562, scores = data
    other = tmp / "b.tsv.gz"
    write_predictions(other, bins, {"CTCF": scores[::-1].copy(), "MAX": scores})
    result = evaluate([pred, other], tmp / "fig", labels=labels, cell="K562", tf="CTCF", name=["m", "pwm"])
    pr = result.figures[".pr.png"].axes[0]
    # two curves + the prevalence line at 3 bound / 11 scored bins
    assert len(pr.lines) == 3
    assert pr.lines[2].get_ydata()[0] == pytest.approx(3 / 11)
    assert pr.get_xlabel().startswith("Recall") and pr.get_ylabel().startswith("Precision")
    assert "CTCF in K562" in pr.get_title() and "2 predictions" in pr.get_title()
    assert pr.get_title().endswith(", " + ", ".join(pd.unique(bins["chrom"])))  # the chromosome(s) scored
    legend = [t.get_text().split(" (")[0] for t in pr.get_legend().get_texts()]
    assert legend == ["m", "pwm", "random ranking"]
    assert "fraction bound 0.273" in pr.get_legend().get_texts()[2].get_text()
    roc = result.figures[".roc.png"].axes[0]
    assert len(roc.lines) == 3 and list(roc.lines[2].get_xdata()) == [0, 1] == list(roc.lines[2].get_ydata())
    assert roc.get_xlabel().startswith("False positive rate")
    bars = result.figures[".aupr.png"].axes[0]
    heights = sorted(p.get_width() for p in bars.patches)
    assert heights == pytest.approx(sorted(result.table["auprc"]))
    ticks = dict(zip(bars.get_yticks(), (t.get_text() for t in bars.get_yticklabels())))
    assert ticks[max(ticks)] == "m" and ticks[min(ticks)] == "pwm"  # first file on top
    assert bars.get_xlabel().startswith("auPR")


def test_files_over_different_bins_are_one_error(data, capsys):
    tmp, bins, labels, pred, _, scores = data
    shifted = bins.copy()
    shifted.loc[5, ["start", "end"]] = [1000, 1200]
    other = tmp / "shifted.tsv.gz"
    write_predictions(other, shifted, {"CTCF": scores, "MAX": scores})
    prefix = tmp / "diff"
    err = _fails(
        ["evaluate", "--predictions", str(pred), str(other), "--labels", str(labels), "--cell", "K562",
         "--tf", "CTCF", "--out-prefix", str(prefix)], capsys, prefix
    )  # fmt: skip
    assert (
        f"{other} covers other bins than {pred} (row 6: chr1:250-450 in the first, chr1:1000-1200 in the other)"
        in err
    )
    reordered = tmp / "reordered.tsv.gz"  # the same bins, the first two swapped
    order = [1, 0, *range(2, len(bins))]
    write_predictions(
        reordered, bins.iloc[order].reset_index(drop=True), {"CTCF": scores[order], "MAX": scores[order]}
    )
    err = _fails(
        ["evaluate", "--predictions", str(pred), str(reordered), "--labels", str(labels), "--cell", "K562",
         "--tf", "CTCF", "--out-prefix", str(prefix)], capsys, prefix
    )  # fmt: skip
    assert f"{reordered} holds the same bins as {pred} in another order (row 1: " in err
    assert not (tmp / "diff.aupr.png").exists()
    shorter = tmp / "short.tsv.gz"
    write_predictions(shorter, bins.iloc[:10], {"CTCF": scores[:10], "MAX": scores[:10]})
    err = _fails(
        ["evaluate", "--predictions", str(pred), str(shorter), "--labels", str(labels), "--cell", "K562",
         "--tf", "CTCF", "--out-prefix", str(prefix)], capsys, prefix
    )  # fmt: skip
    assert "(12 vs 10 bins)" in err
