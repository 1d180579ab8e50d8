"""Rank / mean bagging: hand-worked values, invariance, and the `factornet bag` command."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from factornet_core.bagging import mean_average, rank_average, scaled_ranks
from factornet_core.scores import read_predictions, write_predictions
from factornet_tools.cli import main


def test_scaled_ranks_with_ties():
    # ranks of [0.2, 0.9, 0.2, 0.5] are [1.5, 4, 1.5, 3] → (rank − 1) / 3
    np.testing.assert_allclose(scaled_ranks([0.2, 0.9, 0.2, 0.5]), [1 / 6, 1, 1 / 6, 2 / 3])


def test_rank_average_hand_worked():
    a = np.array([0.1, 0.4, 0.4, 0.9])  # ranks 1, 2.5, 2.5, 4 → 0, 1/2, 1/2, 1
    b = np.array([0.8, 0.7, 0.0, 0.6])  # ranks 4, 3, 1, 2   → 1, 2/3, 0, 1/3
    np.testing.assert_allclose(rank_average([a, b]), [0.5, 7 / 12, 1 / 4, 2 / 3])
    np.testing.assert_allclose(mean_average([a, b]), [0.45, 0.55, 0.2, 0.75])


def test_rank_average_invariant_to_monotone_transform():
    rng = np.random.default_rng(0)
    a, b = rng.random((100, 3)), np.round(rng.random((100, 3)), 1)
    expected = rank_average([a, b])
    np.testing.assert_array_equal(rank_average([a**3 * 0.01, b]), expected)
    np.testing.assert_array_equal(rank_average([np.exp(a), b]), expected)


def test_rank_average_columns_ranked_independently():
    m = np.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]])
    np.testing.assert_allclose(rank_average([m, m]), [[0, 1], [0.5, 0.5], [1, 0]])


def test_shapes_must_match():
    with pytest.raises(ValueError):
        rank_average([np.zeros(3), np.zeros(4)])


def _bins(n=4, chrom="chr1"):
    bins = pd.DataFrame({"chrom": chrom, "start": np.arange(n) * 50})
    bins["end"] = bins["start"] + 200
    return bins


def test_bag_cli_rank_and_mean(tmp_path):
    p1, p2 = tmp_path / "m1.tsv.gz", tmp_path / "m2.tsv.gz"
    write_predictions(p1, _bins(), {"CTCF": [0.1, 0.4, 0.4, 0.9], "MAX": [0.1, 0.2, 0.3, 0.4]})
    # same TFs in another column order
    write_predictions(p2, _bins(), {"MAX": [0.4, 0.3, 0.2, 0.1], "CTCF": [0.8, 0.7, 0.0, 0.6]})
    out = tmp_path / "bag.tsv.gz"
    assert main(["bag", str(p1), str(p2), "--out", str(out)]) == 0
    bins, scores = read_predictions(out)
    assert list(scores.columns) == ["CTCF", "MAX"]
    np.testing.assert_allclose(scores["CTCF"], np.float32([0.5, 7 / 12, 1 / 4, 2 / 3]))
    np.testing.assert_allclose(scores["MAX"], [0.5] * 4)
    out_mean = tmp_path / "mean.tsv.gz"
    assert main(["bag", str(p1), str(p2), "--out", str(out_mean), "--method", "mean"]) == 0
    np.testing.assert_allclose(read_predictions(out_mean)[1]["CTCF"], np.float32([0.45, 0.55, 0.2, 0.75]))


def test_bag_cli_refuses_mismatch(tmp_path, capsys):
    p1, p2, p3 = (tmp_path / f"m{i}.tsv.gz" for i in (1, 2, 3))
    write_predictions(p1, _bins(), {"CTCF": [0.1, 0.2, 0.3, 0.4]})
    shifted = _bins()
    shifted.loc[2, ["start", "end"]] = [125, 325]
    write_predictions(p2, shifted, {"CTCF": [0.1, 0.2, 0.3, 0.4]})
    write_predictions(p3, _bins(), {"JUND": [0.1, 0.2, 0.3, 0.4]})
    out = tmp_path / "bag.tsv.gz"
    assert main(["bag", str(p1), str(p2), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"factornet bag: error: {p2}: bins differ from {p1} at row 3: chr1:125-325 vs chr1:100-300 "
        f"in {p1}: bag only predictions over the same bins\n"
    )
    assert main(["bag", str(p1), str(p3), "--out", str(out)]) == 2
    assert "TF columns ['JUND'] differ from the first file's ['CTCF']" in capsys.readouterr().err
    assert main(["bag", str(p1), "--out", str(out)]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["bag", str(p1), str(tmp_path / "nope.tsv.gz"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    with gzip.open(p2, "wt") as handle:
        handle.write("chr\tstart\tstop\tCTCF\nchr1\t0\t200\tNaN\n")
    assert main(["bag", str(p1), str(p2), "--out", str(out)]) == 2
    assert f"{p2}:2: score for CTCF is missing or NaN" in capsys.readouterr().err
    assert not out.exists()
