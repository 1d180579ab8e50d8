"""factornet_core.calling / ``factornet call``: exact regions on hand-made score tracks, FDR calibration."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from factornet_core import calling
from factornet_core.errors import FactorNetError
from factornet_core.evaluation import evaluate
from factornet_core.intervals import write_labels
from factornet_core.metrics import FDR_CUTOFFS, recall_at_fdr
from factornet_core.scores import write_predictions
from factornet_tools.cli import main


def _grid(chrom: str, n: int) -> pd.DataFrame:
    starts = np.arange(n) * 50
    return pd.DataFrame({"chrom": chrom, "start": starts, "end": starts + 200})


def _track() -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """chr1: 20 grid bins (0..950) at 0.25 except bins 2-4 (0.5, 0.875, 0.5), bin 10 (0.5),
    bin 13 (0.625), bin 18 (0.75); chr2: 6 bins, bin 1 at 1.0. MAX = 0.25 everywhere but chr2 bin 5."""
    bins = pd.concat([_grid("chr1", 20), _grid("chr2", 6)], ignore_index=True)
    ctcf = np.full(26, 0.25, np.float32)
    ctcf[[2, 3, 4, 10, 13, 18]] = [0.5, 0.875, 0.5, 0.5, 0.625, 0.75]
    ctcf[21] = 1.0
    mx = np.full(26, 0.25, np.float32)
    mx[25] = 0.5
    return bins, {"CTCF": ctcf, "MAX": mx}


@pytest.fixture
def predictions(tmp_path):
    bins, scores = _track()
    path = tmp_path / "pred.tsv.gz"
    write_predictions(path, bins, scores)
    return path


def _rows(path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


# ------------------------------------------------------------------------------ pure functions
def test_merge_called_bins_overlapping_and_touching():
    starts = np.array([0, 50, 100, 400, 600, 800])
    ends = starts + 200
    scores = np.array([0.6, 0.9, 0.9, 0.7, 0.8, 0.5])
    called = np.array([True, True, True, True, True, False])
    rs, re_, best = calling.merge_called_bins(starts, ends, scores, called)
    # 0-200, 50-250, 100-300 overlap; 400-600 touches 600-800; 800 not called
    assert rs.tolist() == [0, 400] and re_.tolist() == [300, 800]
    assert best.tolist() == [1, 4]  # tie 0.9 at bins 1 and 2: the first wins
    score, summit = calling.narrowpeak_fields(rs, re_, starts[best], ends[best], scores[best])
    assert score.tolist() == [900, 800] and summit.tolist() == [150 - 0, 700 - 400]
    empty = calling.merge_called_bins(starts, ends, scores, np.zeros(6, bool))
    assert all(a.size == 0 for a in empty)


def test_top_threshold_keeps_ties():
    s = np.array([0.1, 0.9, 0.5, 0.9, 0.7])
    assert calling.top_threshold(s, np.ones(5, bool), 2) == 0.9
    assert calling.top_threshold(s, np.ones(5, bool), 3) == 0.7
    assert calling.top_threshold(s, np.array([1, 0, 1, 0, 1], bool), 1) == 0.7  # ineligible bins skipped
    assert calling.top_threshold(s, np.ones(5, bool), 99) == 0.1


def test_fdr_grid_matches_dream_recall_at_fdr(rng):
    labels = (rng.random(3000) < 0.1).astype(np.int8)
    scores = np.round(rng.random(3000) + labels * 0.4, 3)  # rounding makes ties
    levels, mins = calling.fdr_grid(labels, scores)
    cal = {"tf": "X", "fdr": levels, "min_score": mins}
    for fdr in FDR_CUTOFFS:
        t = calling.threshold_at_fdr(cal, fdr)
        called = scores >= t
        assert called[labels == 1].mean() == pytest.approx(recall_at_fdr(labels, scores, fdr))
        assert 1 - labels[called].mean() <= fdr


def test_fdr_hand_worked_and_never_reached():
    # scores 0.9 U, 0.8 B, 0.7 B → FDR 1, 1/2, 1/3 at thresholds 0.9, 0.8, 0.7
    levels, mins = calling.fdr_grid(np.array([0, 1, 1]), np.array([0.9, 0.8, 0.7]))
    cal = {"tf": "CTCF", "fdr": levels, "min_score": mins}
    assert calling.threshold_at_fdr(cal, 0.5) == pytest.approx(0.7)
    assert calling.threshold_at_fdr(cal, 0.34) == pytest.approx(0.7)
    with pytest.raises(FactorNetError, match=r"never reached FDR 0.3 \(precision 0.7\) for CTCF"):
        calling.threshold_at_fdr(cal, 0.3)


# ------------------------------------------------------------------------------ the workflow
def test_call_threshold_exact_regions_per_tf(predictions, tmp_path, capsys):
    prefix = tmp_path / "calls"
    assert main(["call", str(predictions), "--threshold", "0.5", "--out-prefix", str(prefix)]) == 0
    assert _rows(tmp_path / "calls.CTCF.narrowPeak") == [
        ["chr1", "100", "400", "CTCF", "875", ".", "0.875", "-1", "-1", "150"],
        ["chr1", "500", "850", "CTCF", "625", ".", "0.625", "-1", "-1", "250"],  # bins 10 and 13 overlap
        ["chr1", "900", "1100", "CTCF", "750", ".", "0.75", "-1", "-1", "100"],
        ["chr2", "50", "250", "CTCF", "1000", ".", "1", "-1", "-1", "100"],
    ]
    assert _rows(tmp_path / "calls.MAX.narrowPeak") == [
        ["chr2", "250", "450", "MAX", "500", ".", "0.5", "-1", "-1", "100"]
    ]


def test_call_one_file_blacklist_and_top(predictions, tmp_path, make_bed):
    black = make_bed([("chr1", 160, 170)], name="black.bed")  # bins 0, 50, 100, 150 overlap it
    out = tmp_path / "all.narrowPeak"
    calling.call(predictions, out=out, threshold=0.5, blacklist=black)
    assert _rows(out) == [
        ["chr1", "200", "400", "CTCF", "500", ".", "0.5", "-1", "-1", "100"],
        ["chr1", "500", "850", "CTCF", "625", ".", "0.625", "-1", "-1", "250"],
        ["chr1", "900", "1100", "CTCF", "750", ".", "0.75", "-1", "-1", "100"],
        ["chr2", "50", "250", "CTCF", "1000", ".", "1", "-1", "-1", "100"],
        ["chr2", "250", "450", "MAX", "500", ".", "0.5", "-1", "-1", "100"],
    ]
    # top 2 CTCF bins: chr2 bin 1 (1.0) and bin 3 (0.875); with the blacklist bin 3 is out → 0.75 (bin 18)
    result = calling.call(predictions, out=out, top=2, tfs=["CTCF"], blacklist=black)
    assert result.thresholds == {"CTCF": 0.75} and result.n_calls == {"CTCF": 2}
    assert [r[:3] for r in _rows(out)] == [["chr1", "900", "1100"], ["chr2", "50", "250"]]


def test_call_one_file_with_a_tf_without_calls_keeps_integer_coordinates(predictions, tmp_path):
    """MAX has no bin at 0.75: its empty table must not turn CTCF's coordinates into 900.0 (not BED)."""
    out = tmp_path / "all.narrowPeak"
    result = calling.call(predictions, out=out, threshold=0.75)
    assert result.n_calls == {"CTCF": 3, "MAX": 0}
    assert _rows(out) == [
        ["chr1", "150", "350", "CTCF", "875", ".", "0.875", "-1", "-1", "100"],
        ["chr1", "900", "1100", "CTCF", "750", ".", "0.75", "-1", "-1", "100"],
        ["chr2", "50", "250", "CTCF", "1000", ".", "1", "-1", "-1", "100"],
    ]


def test_call_refuses_a_blacklist_in_the_other_chromosome_naming(predictions, tmp_path, make_bed):
    """A blacklist named '1'/'2' against 'chr1'/'chr2' predictions would match nothing, silently."""
    black = make_bed([("1", 160, 170)], name="black_ensembl.bed")
    with pytest.raises(FactorNetError, match=r"different chromosome naming \(chr1 vs 1\)"):
        calling.call(predictions, out=tmp_path / "x.narrowPeak", threshold=0.5, blacklist=black)
    assert not (tmp_path / "x.narrowPeak").exists()
    other = make_bed([("chrX", 160, 170)], name="black_other.bed")  # other chromosomes: nothing to hide
    calling.call(predictions, out=tmp_path / "y.narrowPeak", threshold=0.5, blacklist=other)


def test_call_fdr_from_an_evaluate_calibration(predictions, tmp_path):
    bins, scores = _track()
    labels = np.zeros(26, np.int8)
    labels[[3, 18, 21]] = 1  # bound; bins 2, 4, 13 unbound but scoring high
    write_labels(tmp_path / "CTCF.labels.tsv.gz", bins, {"HepG2": labels})
    evaluate(predictions, tmp_path / "ev", labels=tmp_path / "CTCF.labels.tsv.gz", tf="CTCF")
    metrics = tmp_path / "ev.metrics.json"
    block = json.loads(metrics.read_text())["calibration"][0]
    assert (block["tf"], block["cell"]) == ("CTCF", "HepG2")
    # ranked: 1.0 B, 0.875 B, 0.75 B, 0.625 U, 0.5 U U U → FDR 0 down to 0.75, then 1/4, then 4/7
    res = calling.call(predictions, out=tmp_path / "c.np", fdr=0.1, calibration=metrics, tfs=["CTCF"])
    assert res.thresholds == {"CTCF": 0.75} and res.n_calls == {"CTCF": 3}  # bins 3, 18, 21 apart
    res = calling.call(predictions, out=tmp_path / "c.np", fdr=0.25, calibration=metrics, tfs=["CTCF"])
    assert res.thresholds == {"CTCF": 0.625}


def _err(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_call_bad_input_one_line_exit_2_no_output(predictions, tmp_path, capsys):
    out = tmp_path / "x.narrowPeak"
    rc = main(["call", str(predictions), "--threshold", "0.5", "--tf", "REST", "-o", str(out)])
    err = _err(capsys)
    assert rc == 2 and len(err) == 1 and "no column for REST (the file has CTCF, MAX)" in err[0]
    assert not out.exists()
    # a calibration of another TF
    bins, scores = _track()
    labels = np.zeros(26, np.int8)
    labels[[3, 21]] = 1
    write_labels(tmp_path / "l.tsv.gz", bins, {"HepG2": labels})
    evaluate(predictions, tmp_path / "ev", labels=tmp_path / "l.tsv.gz", tf="CTCF")
    rc = main(["call", str(predictions), "--fdr", "0.1", "--calibration", str(tmp_path / "ev.metrics.json"),
               "--tf", "MAX", "-o", str(out)])  # fmt: skip
    err = _err(capsys)
    assert rc == 2 and len(err) == 1 and "a calibration for CTCF, not for MAX" in err[0]
    rc = main(["call", str(predictions), "--fdr", "0.1", "-o", str(out)])
    assert rc == 2 and "--fdr needs --calibration" in _err(capsys)[0]
    assert list(p.name for p in tmp_path.glob("x.narrowPeak*")) == []


def _readme_commands(*names: str) -> list[list[str]]:
    """The README's ``factornet evaluate|call`` commands (continuation lines joined) that use one of
    ``names``, as argument lists without the leading ``factornet``."""
    import re
    import shlex
    from pathlib import Path

    text = (Path(__file__).parents[1] / "README.md").read_text().replace("\\\n", " ")
    commands = [
        shlex.split(line) for line in text.splitlines() if re.match(r"\s*factornet (evaluate|call) ", line)
    ]
    return [c[1:] for c in commands if any(n in arg for arg in c for n in names)]


def test_readme_impute_call_commands_run_as_written(tmp_path, monkeypatch, capsys, make_bed):
    """README's impute step 4 and 'Choosing the threshold': --out-prefix mycell with the input
    mycell.impute.tsv.gz writes mycell.<TF>.narrowPeak, which touches no input (it was refused once)."""
    bins, scores = _track()
    scores = {"FOXA1": scores["CTCF"], "HNF4A": scores["MAX"]}
    write_predictions(tmp_path / "mycell.impute.tsv.gz", bins, scores)
    write_predictions(tmp_path / "other_cell.impute.tsv.gz", bins, scores)
    make_bed([("chr1", 160, 170)], name="wgEncodeDacMapabilityConsensusExcludable.bed.gz")
    peaks = [("chr1", 150, 350), ("chr1", 900, 1100), ("chr2", 50, 250)]  # bound: bins 3, 18, 21
    make_bed(peaks, name="other_cell.FOXA1.narrowPeak")
    commands = _readme_commands("mycell", "other_cell")
    assert [c[0] for c in commands] == ["call", "evaluate", "call"]
    monkeypatch.chdir(tmp_path)
    before = (tmp_path / "mycell.impute.tsv.gz").read_bytes()
    rc = main(commands[0])
    assert rc == 0, capsys.readouterr().err
    assert [r[:3] for r in _rows(tmp_path / "mycell.FOXA1.narrowPeak")] == [
        ["chr1", "200", "400"],  # bin 150-350 (0.875) is blacklisted (chr1:160-170)
        ["chr1", "500", "850"],
        ["chr1", "900", "1100"],
        ["chr2", "50", "250"],
    ]
    assert [r[:3] for r in _rows(tmp_path / "mycell.HNF4A.narrowPeak")] == [["chr2", "250", "450"]]
    for command in commands[1:]:
        rc = main(command)
        assert rc == 0, capsys.readouterr().err
    # ranked: 1.0 B, 0.875 B, 0.75 B, 0.625 U (bins 2 and 4 are ambiguous) → FDR 0.1 at 0.75
    assert "FOXA1: 3 calls at score >= 0.75" in capsys.readouterr().err
    assert [r[:3] for r in _rows(tmp_path / "mycell.FOXA1.narrowPeak")] == [
        ["chr1", "150", "350"],
        ["chr1", "900", "1100"],
        ["chr2", "50", "250"],
    ]
    assert (tmp_path / "mycell.impute.tsv.gz").read_bytes() == before


def test_call_out_prefix_naming_an_input_is_refused(predictions, tmp_path, capsys, make_bed):
    """A real collision: --out-prefix x writes x.CTCF.narrowPeak, which is the --blacklist."""
    black = make_bed([("chr1", 160, 170)], name="x.CTCF.narrowPeak")
    before = black.read_bytes()
    rc = main(["call", str(predictions), "--threshold", "0.5", "--blacklist", str(black),
               "--out-prefix", str(tmp_path / "x")])  # fmt: skip
    err = _err(capsys)
    assert rc == 2 and len(err) == 1
    assert err[0].startswith(
        f"factornet call: error: output '{tmp_path}/x.CTCF.narrowPeak' of --out-prefix is input --blacklist"
    )
    assert err[0].endswith("writing it would destroy the input; choose another --out-prefix")
    assert black.read_bytes() == before and not (tmp_path / "x.MAX.narrowPeak").exists()
    # the prefix spelled like the input: pred.tsv.gz.CTCF.narrowPeak, nothing of the input is touched
    assert main(["call", str(predictions), "--threshold", "0.5", "--out-prefix", str(predictions)]) == 0
    assert (tmp_path / "pred.tsv.gz.CTCF.narrowPeak").is_file()
