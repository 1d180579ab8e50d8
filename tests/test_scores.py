"""Prediction-file I/O: exact float32 round trip, printf-identical text, clear errors, merging."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from factornet_core.errors import FactorNetError
from factornet_core.scores import merge_shards, read_chrom_order, read_predictions, write_predictions
from factornet_tools.cli import main


def make_bins(chroms=("chr1", "chr2"), n=5):
    parts = [pd.DataFrame({"chrom": c, "start": np.arange(n) * 50}) for c in chroms]
    bins = pd.concat(parts, ignore_index=True)
    bins["end"] = bins["start"] + 200
    return bins


EDGE = np.array(
    [0, 1, 1e-45, 3e-12, 9.9999e-5, 1e-4, 0.0001001, 0.1, 0.5, 0.99999994, 0.123456789, 1e-5, 7.5e-10],
    dtype=np.float32,
)


def test_text_is_printf_9g_and_round_trips_every_float32(tmp_path):
    rng = np.random.default_rng(0)
    randbits = rng.integers(0, 0x3F800001, 20000, dtype=np.uint32).view(
        np.float32
    )  # uniform over bit patterns
    scores = np.concatenate([EDGE, randbits, rng.random(20000).astype(np.float32)])
    bins = pd.DataFrame({"chrom": "chr1", "start": np.arange(scores.size) * 50})
    bins["end"] = bins["start"] + 200
    path = tmp_path / "p.tsv.gz"
    write_predictions(path, bins, {"CTCF": scores})
    lines = gzip.open(path, "rt").read().splitlines()
    assert lines[0] == "chr\tstart\tstop\tCTCF"
    assert lines[1:] == [f"chr1\t{s}\t{s + 200}\t{float(v):.9g}" for s, v in zip(bins["start"], scores)]
    back_bins, back = read_predictions(path)
    assert back["CTCF"].dtype == np.float32
    assert np.array_equal(back["CTCF"].to_numpy().view(np.uint32), scores.view(np.uint32))
    pd.testing.assert_frame_equal(back_bins, bins)


def test_multi_tf_array_input_and_deterministic_bytes(tmp_path):
    bins = make_bins()
    scores = np.linspace(0, 1, 20, dtype=np.float32).reshape(10, 2)
    a, b = tmp_path / "a.tsv.gz", tmp_path / "b.tsv.gz"
    write_predictions(a, bins, scores, tf_names=["CTCF", "MAX"])
    write_predictions(b, bins, {"CTCF": scores[:, 0], "MAX": scores[:, 1]})
    assert a.read_bytes() == b.read_bytes()
    _, back = read_predictions(a)
    assert list(back.columns) == ["CTCF", "MAX"]
    np.testing.assert_array_equal(back.to_numpy(), scores)


def test_dream_layout(tmp_path):
    bins = make_bins(n=3)
    path = tmp_path / "F.CTCF.K562.tab.gz"
    write_predictions(path, bins, {"CTCF": np.full(6, 0.25, np.float32)}, dream=True)
    assert gzip.open(path, "rt").readline() == "chr1\t0\t200\t0.25\n"
    _, back = read_predictions(path)
    assert list(back.columns) == ["score"]
    _, back = read_predictions(path, dream_tf="CTCF")
    assert list(back.columns) == ["CTCF"]
    with pytest.raises(FactorNetError, match="DREAM layout holds one TF"):
        write_predictions(tmp_path / "x.gz", bins, {"A": np.zeros(6), "B": np.zeros(6)}, dream=True)
    assert not (tmp_path / "x.gz").exists()


def test_write_refuses_out_of_range(tmp_path):
    with pytest.raises(FactorNetError, match=r"MAX at chr1:50 is nan, outside \[0, 1\]"):
        write_predictions(tmp_path / "p.tsv.gz", make_bins(n=2), {"MAX": [0.1, np.nan, 0.2, 0.3]})
    assert list(tmp_path.iterdir()) == []


def _write_text(path: Path, text: str, gz=True) -> Path:
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


HEAD = "chr\tstart\tstop\tCTCF\n"


@pytest.mark.parametrize(
    "body, message",
    [
        ("chr1\t0\t200\t0.1\nchr1\t50\t250\tnan\n", r"p.tsv.gz:3: score for CTCF is missing or NaN"),
        ("chr1\t0\t200\t0.1\nchr1\t50\t250\t\n", r"p.tsv.gz:3: score for CTCF is missing or NaN"),
        ("chr1\t0\t200\t0.1\nchr1\t50\t250\thigh\n", r"p.tsv.gz:3: score for CTCF is not a number: 'high'"),
        ("chr1\t0\t200\t1.5\n", r"p.tsv.gz:2: score for CTCF is 1.5, outside \[0, 1\]"),
        ("chr1\tx\t200\t0.5\n", r"p.tsv.gz:2: start must be an integer, got 'x'"),
        ("chr1\t300\t200\t0.5\n", r"p.tsv.gz:2: bin needs 0 <= start <= stop"),
        ("chr1\t0\t200\t0.5\nchr1\t50\t250\t0.5\t0.1\n", r"malformed line, expected 4 tab-separated columns"),
    ],
)
def test_read_errors_name_file_and_line(tmp_path, body, message):
    path = _write_text(tmp_path / "p.tsv.gz", HEAD + body)
    with pytest.raises(FactorNetError, match=message):
        read_predictions(path)


def test_read_truncated_gzip(tmp_path):
    path = tmp_path / "p.tsv.gz"
    rng = np.random.default_rng(1)
    write_predictions(path, make_bins(n=2000), {"CTCF": rng.random(4000).astype(np.float32)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FactorNetError, match="damaged or truncated gzip"):
        read_predictions(path)


def test_read_not_a_prediction_file(tmp_path):
    path = _write_text(tmp_path / "p.tsv", "a\tb\n1\t2\n", gz=False)
    with pytest.raises(FactorNetError, match="p.tsv:1: not a prediction file"):
        read_predictions(path)


# --------------------------------------------------------------------------------------------- merging
def _whole_and_shards(tmp_path):
    bins = make_bins(("chr1", "chr2", "chrX"), n=4)
    rng = np.random.default_rng(2)
    scores = rng.random((len(bins), 2)).astype(np.float32)
    whole = tmp_path / "whole.tsv.gz"
    write_predictions(whole, bins, scores, tf_names=["CTCF", "MAX"])
    shards = []
    for chrom in ("chrX", "chr1", "chr2"):  # shards arrive in any order
        mask = (bins["chrom"] == chrom).to_numpy()
        shard = tmp_path / f"{chrom}.tsv.gz"
        write_predictions(shard, bins[mask], scores[mask], tf_names=["CTCF", "MAX"])
        shards.append(shard)
    return whole, shards, bins


def test_merge_cli_sharded_equals_whole(tmp_path):
    whole, shards, _ = _whole_and_shards(tmp_path)
    out = tmp_path / "merged.tsv.gz"
    assert main(["merge", *map(str, shards), "--out", str(out), "--chrom-order", "chr1,chr2,chrX"]) == 0
    assert out.read_bytes() == whole.read_bytes()
    sizes = tmp_path / "genome.sizes"
    sizes.write_text("chr1\t1000\nchr2\t900\nchrX\t800\nchrY\t10\n")
    out2 = tmp_path / "merged2.tsv.gz"
    assert main(["merge", *map(str, shards), "--out", str(out2), "--chrom-order", str(sizes)]) == 0
    assert out2.read_bytes() == whole.read_bytes()


def test_merge_default_order_is_input_order(tmp_path):
    _, shards, _ = _whole_and_shards(tmp_path)
    bins, _ = merge_shards(shards)
    assert list(dict.fromkeys(bins["chrom"])) == ["chrX", "chr1", "chr2"]


def test_merge_split_chromosome_and_tf_column_order(tmp_path):
    bins = make_bins(("chr1",), n=10)
    s = np.linspace(0, 1, 20, dtype=np.float32).reshape(10, 2)
    a, b = tmp_path / "a.tsv.gz", tmp_path / "b.tsv.gz"
    write_predictions(b, bins.iloc[5:], s[5:], tf_names=["CTCF", "MAX"])
    write_predictions(a, bins.iloc[:5], s[:5, ::-1], tf_names=["MAX", "CTCF"])
    merged_bins, merged = merge_shards([b, a])
    pd.testing.assert_frame_equal(merged_bins, bins)
    np.testing.assert_array_equal(merged[["CTCF", "MAX"]].to_numpy(), s)


def test_merge_refuses(tmp_path, capsys):
    whole, shards, _ = _whole_and_shards(tmp_path)
    out = tmp_path / "out.tsv.gz"
    assert main(["merge", str(whole), str(shards[0]), "--out", str(out)]) == 2
    assert "overlap on chrX" in capsys.readouterr().err
    assert main(["merge", *map(str, shards), "--out", str(out), "--chrom-order", "chr1,chr2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("factornet merge: error: chromosome 'chrX'") and err.count("\n") == 1
    other = tmp_path / "other.tsv.gz"
    write_predictions(other, make_bins(("chr9",), n=2), {"JUND": np.zeros(2)})
    assert main(["merge", str(shards[0]), str(other), "--out", str(out)]) == 2
    assert "TF columns ['JUND'] differ" in capsys.readouterr().err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries left


def test_read_chrom_order_errors(tmp_path):
    assert read_chrom_order("chr1, chr2 chr3") == ["chr1", "chr2", "chr3"]
    with pytest.raises(FactorNetError, match="twice"):
        read_chrom_order("chr1,chr1")


HEADER_ONLY = "chr\tstart\tstop\tCTCF\n"
NO_BINS = "no bins in the predictions file (only the header): nothing to use; give the output of a"


@pytest.mark.parametrize(
    "argv",
    [
        ["call", "{h}", "--threshold", "0.5", "-o", "{out}"],
        ["bag", "{h}", "{p}", "--out", "{out}"],
        ["evaluate", "--predictions", "{h}", "--labels", "{labels}", "--out-prefix", "{out}"],
    ],
    ids=["call", "bag", "evaluate"],
)
def test_header_only_predictions_are_an_error(tmp_path, capsys, argv):
    """call once wrote an empty narrowPeak with 'CTCF: 0 calls at score >= inf' and exit 0."""
    files = {
        "h": _write_text(tmp_path / "h.tsv", HEADER_ONLY, gz=False),
        "p": _write_text(tmp_path / "p.tsv", HEADER_ONLY + "chr1\t0\t200\t0.5\n", gz=False),
        "labels": _write_text(tmp_path / "l.tsv", "chr\tstart\tstop\tCellC\nchr1\t0\t200\tB\n", gz=False),
        "out": tmp_path / "out",
    }
    assert main([a.format(**files) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"factornet {argv[0]}: error: {files['h']}: {NO_BINS}")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out")] == []


def test_merge_header_only_shards(tmp_path, capsys):
    """A header-only shard (a contig shorter than a bin) merges with the others; only headers is an error."""
    h = _write_text(tmp_path / "h.tsv", HEADER_ONLY, gz=False)
    p = _write_text(tmp_path / "p.tsv", HEADER_ONLY + "chr1\t0\t200\t0.5\n", gz=False)
    bins, scores = merge_shards([h, p])
    assert bins.values.tolist() == [["chr1", 0, 200]] and scores["CTCF"].tolist() == [0.5]
    with pytest.raises(FactorNetError) as err:
        merge_shards([h, h])
    assert str(err.value).startswith("no bins in any of the 2 shards (only headers): nothing to merge")
    assert main(["merge", str(h), "--out", str(tmp_path / "m.tsv")]) == 2
    assert "error: no bins in the shard (only its header): nothing to merge" in capsys.readouterr().err
    assert not (tmp_path / "m.tsv").exists()
