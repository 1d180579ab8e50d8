"""factornet_core.tracks: bigWig reads (NaN and outside → 0) and chromosome checks."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pyBigWig
import pytest
from testdata import write_bigwig

from factornet_core import tracks
from factornet_core.errors import FactorNetError
from factornet_core.tracks import TrackSet


def test_read_values_gaps_and_outside_are_zero(make_bigwig, rng):
    a = rng.random(300).astype(np.float32)
    a[50:80] = np.nan  # no data
    b = np.arange(300, dtype=np.float32)
    with TrackSet({"A": make_bigwig({"chr1": a}, "a.bw"), "B": make_bigwig({"chr1": b}, "b.bw")}) as ts:
        assert ts.names == ["A", "B"] and len(ts) == 2
        x = ts.read("chr1", -10, 310)
        assert x.shape == (320, 2) and x.dtype == np.float32
        np.testing.assert_array_equal(x[10:310, 0], np.nan_to_num(a, nan=0.0))
        np.testing.assert_array_equal(x[10:310, 1], b)
        assert not x[:10].any() and not x[310:].any()
        np.testing.assert_array_equal(ts.read("chr1", 40, 45)[:, 1], [40, 41, 42, 43, 44])
        assert not ts.read("chr1", 400, 420).any()


def test_explicit_nan_and_inf_values_read_as_zero(tmp_path):
    path = tmp_path / "nan.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("c", 10)])
    bw.addEntries("c", [0, 1, 2, 3], values=[1.5, float("nan"), float("inf"), 2.0], span=1)
    bw.close()
    with TrackSet({"T": path}) as ts:
        np.testing.assert_array_equal(ts.read("c", 0, 6)[:, 0], [1.5, 0, 0, 2.0, 0, 0])


def test_check_chroms_missing_chromosome_names_the_file_and_the_naming_trap(make_bigwig):
    path = make_bigwig({"1": np.ones(100), "2": np.ones(50)}, "ensembl.bw")
    with TrackSet({"DNASE": path}) as ts:
        ts.check_chroms({"1": 100})  # fine
        with pytest.raises(FactorNetError) as err:
            ts.check_chroms({"chr1": 100, "chr2": 50})
    assert str(err.value) == (
        "bigWig ensembl.bw (track 'DNASE') lacks chromosome 'chr1' (2 missing in all); in the bigWig it is '1': "
        "the files use different chromosome naming (chr1 vs 1)"
    )


def test_check_chroms_missing_without_hint_and_size_mismatch(make_bigwig):
    path = make_bigwig({"chr1": np.ones(100)}, "t.bw")
    with TrackSet({"T": path}) as ts:
        with pytest.raises(FactorNetError) as err:
            ts.check_chroms({"chr1": 100, "chrX": 10})
        assert str(err.value) == "bigWig t.bw (track 'T') lacks chromosome 'chrX'"
        with pytest.raises(FactorNetError, match="gives chr1 length 100, the genome says 120"):
            ts.check_chroms({"chr1": 120})
        with pytest.raises(FactorNetError, match="lacks chromosome 'chr2'"):
            ts.read("chr2", 0, 10)
        with pytest.raises(FactorNetError) as err:
            ts.read("1", 0, 10)
        assert str(err.value) == (
            "bigWig t.bw lacks chromosome '1'; in the bigWig it is 'chr1': the files use different "
            "chromosome naming (chr1 vs 1)"
        )


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FactorNetError, match="bigWig for track 'T': .* does not exist"):
        TrackSet({"T": tmp_path / "nope.bw"})
    junk = tmp_path / "junk.bw"
    junk.write_text("not a bigwig\n")
    with pytest.raises(FactorNetError, match=r"junk.bw' is text, not a bigWig \(a bedGraph or wig\?\)"):
        TrackSet({"T": junk})


def test_bigwig_writer_round_trip_through_trackset(tmp_path):
    sizes = {"chr1": 20, "chr2": 8}
    signal = np.array([0, 0, 1.5, 1.5, 1.5, 0, 2, 2] + [0] * 12, dtype=np.float32)
    path = tmp_path / "w.bw"
    with tracks.BigWigWriter(path, sizes, chunk=2) as writer:  # chunk=2: several addEntries calls
        writer.add_signal("chr1", signal, skip_zeros=True)
        writer.add_intervals("chr2", np.array([1, 5]), np.array([3, 8]), np.array([0.25, 4.0]))
    with TrackSet({"X": path}) as ts:
        np.testing.assert_array_equal(ts.read("chr1", 0, 20)[:, 0], signal)
        np.testing.assert_array_equal(ts.read("chr2", 0, 8)[:, 0], [0, 0.25, 0.25, 0, 0, 4, 4, 4])
    bw = pyBigWig.open(str(path))
    assert bw.chroms() == sizes
    assert len(bw.intervals("chr1")) == 2  # zero runs left out, equal values merged into runs
    bw.close()


def test_run_lengths():
    starts, ends, values = tracks.run_lengths(np.array([3, 3, 1, 1, 1, 3]))
    assert (starts.tolist(), ends.tolist(), values.tolist()) == ([0, 2, 5], [2, 5, 6], [3, 1, 3])
    assert [a.size for a in tracks.run_lengths(np.array([]))] == [0, 0, 0]


def test_tile_means_count_missing_bases_as_zero(make_bigwig):
    """One stray read of 50 in an otherwise empty tile must rank below a tile open end to end at 5:
    the model reads missing bases as 0, so the tile mean is over all 200 bases (zoom-level means over
    covered bases would give 50 vs 5)."""
    signal = np.full(1000, np.nan)
    signal[17] = 50.0  # tile 0: one covered base
    signal[200:400] = 5.0  # tile 1: open end to end
    signal[450:500] = 2.0  # tile 2: a quarter covered
    bw = make_bigwig({"chr1": signal})
    means = tracks.tile_means(bw, ["chr1"], {"chr1": 1000}, 200)["chr1"]
    np.testing.assert_allclose(means, [50 / 200, 5.0, 2.0 * 50 / 200, 0.0, 0.0])
    assert np.argmax(means) == 1
    # the same numbers as the reader the model uses
    with TrackSet({"T": bw}) as ts:
        direct = ts.read("chr1", 0, 1000)[:, 0].reshape(5, 200).mean(axis=1)
    np.testing.assert_allclose(means, direct, rtol=1e-6)


@pytest.mark.parametrize("block", [400, 4_000_000])  # blocks of two tiles, and one block per chromosome
def test_tile_means_interval_straddling_tiles_and_chromosome_without_data(tmp_path, monkeypatch, block):
    monkeypatch.setattr(tracks, "TILE_BLOCK_BP", block)
    path = tmp_path / "spans.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chr1", 1000), ("chr2", 500)])
    bw.addEntries(["chr1"], [150], ends=[650], values=[4.0])  # 50 bp in tile 0, 200 in 1 and 2, 50 in 3
    bw.close()
    means = tracks.tile_means(path, ["chr1", "chr2"], {"chr1": 1000, "chr2": 500}, 200)
    np.testing.assert_allclose(means["chr1"], [1.0, 4.0, 4.0, 1.0, 0.0])
    np.testing.assert_array_equal(means["chr2"], [0.0, 0.0])


@pytest.mark.parametrize(
    "value, words",
    [(-2.5, ("negative", "-2.5")), (np.inf, ("non-finite", "inf")), (220000.0, ("220000", "65504"))],
)
def test_check_range_refuses_before_reading(make_bigwig, value, words):
    signal = np.ones(300)
    signal[7] = value
    with TrackSet({"DNASE": make_bigwig({"chr1": signal})}) as ts:
        with pytest.raises(FactorNetError) as info:
            ts.check_range(limit=65504.0)
    assert "track 'DNASE'" in str(info.value)
    assert all(w in str(info.value) for w in words)
    with TrackSet({"DNASE": make_bigwig({"chr1": np.full(300, 65504.0)}, name="ok.bw")}) as ok:
        ok.check_range(limit=65504.0)  # exactly the largest float16 is fine


def test_damaged_bigwig_is_one_error_and_no_library_chatter(tmp_path, capfd, make_bigwig):
    good = make_bigwig({"chr1": np.arange(5000.0)})
    cases = {
        "empty.bw": "is an empty file, not a bigWig",
        "garbage.bw": "is not a bigWig file (it does not start with the bigWig signature)",
        "cut.bw": "is not a complete bigWig (truncated?): its index would end at byte",
    }
    data = {"empty.bw": b"", "garbage.bw": bytes(range(256)) * 8, "cut.bw": good.read_bytes()[:1500]}
    for name, words in cases.items():
        (tmp_path / name).write_bytes(data[name])
        with pytest.raises(FactorNetError) as info:
            TrackSet({"T": tmp_path / name})
        assert str(info.value).startswith(f"track 'T': {str(tmp_path / name)!r} {words}")
        assert "bw" not in str(info.value).replace(".bw", "")  # no libBigWig '[bwOpen] bwg->...'
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def _bigwig_bytes(tmp_path) -> bytes:
    """A pyBigWig-written file with data, several zoom levels and two chromosomes."""
    signal = np.repeat(np.arange(400.0), 50)  # 20 000 bases, 400 runs
    return write_bigwig(tmp_path / "full.bw", {"chr1": signal, "chr2": signal[:7000]}).read_bytes()


# Run in a fresh interpreter: per length, a forked child opens the cut file and reads it, exiting 2
# with the error on fd 2 on a FactorNetError; the parent reports the child's fate as JSON lines.
_CUT_SWEEP = """
import json, os, sys
from factornet_core.errors import FactorNetError
from factornet_core.tracks import TrackSet
data = open(sys.argv[1], "rb").read()
for n in map(int, sys.argv[3:]):
    open(sys.argv[2], "wb").write(data[:n])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 2)
        try:
            with TrackSet({"DNASE": sys.argv[2]}) as ts:
                ts.read("chr1", 0, 10)
            os._exit(0)
        except FactorNetError as e:
            os.write(2, (str(e) + "\\n").encode())
            os._exit(2)
    os.close(w)
    text = os.read(r, 100000).decode()
    _, status = os.waitpid(pid, 0)
    fate = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    print(json.dumps([n, fate, text]))
"""


def test_every_truncation_is_one_line_exit_2_never_a_crash(tmp_path):
    """libBigWig follows header offsets without bounds checks: a file cut at 100 bytes crashed the
    process (SIGSEGV, exit 139). Each cut is opened in its own process so a crash shows as a signal."""
    full = tmp_path / "full.bw"
    full.write_bytes(data := _bigwig_bytes(tmp_path))
    lengths = sorted({*np.linspace(0, len(data) - 1, 28).astype(int).tolist(), 100, 160, len(data) - 1})
    assert len(lengths) >= 30
    cut = tmp_path / "cut.bw"
    argv = [sys.executable, "-c", _CUT_SWEEP, str(full), str(cut), *map(str, [*lengths, len(data)])]
    run = subprocess.run(argv, capture_output=True, text=True, check=True)
    fates = [json.loads(line) for line in run.stdout.splitlines()]
    assert [n for n, _, _ in fates] == [*lengths, len(data)]
    assert fates[-1] == [len(data), 0, ""]  # the whole file reads
    for n, fate, text in fates[:-1]:
        assert fate == 2, (n, fate, text)  # never a signal (-11), never a traceback (1)
        expected = "is an empty file, not a bigWig" if n == 0 else "is not a complete bigWig (truncated?): "
        assert text.count("\n") == 1 and text.startswith(f"track 'DNASE': {str(cut)!r} {expected}"), (n, text)


def test_truncation_messages_name_the_missing_part(tmp_path):
    data = _bigwig_bytes(tmp_path)
    cut = tmp_path / "cut.bw"
    base = f"signal: {str(cut)!r} is not a complete bigWig (truncated?): "
    expected = {
        50: "its 64-byte header would end at byte 64, but the file has 50 bytes; copy or write it again",
        100: "its 2 zoom headers would end at byte 112, but the file has 100 bytes; copy or write it again",
        len(data) - 1: f"it lacks the end marker every bigWig ends with ({len(data) - 1:,} bytes); "
        "copy or write it again",
    }
    for n, words in expected.items():
        cut.write_bytes(data[:n])
        with pytest.raises(FactorNetError) as info:
            tracks.open_bigwig(cut)
        assert str(info.value) == base + words


@pytest.mark.parametrize(
    "head, words",
    [
        (
            bytes.fromhex("ebf28987"),
            "is a bigBed (intervals), not a bigWig (signal): give the signal track as bigWig",
        ),
        (
            bytes.fromhex("888ffc26"),
            "is a big-endian bigWig, which pyBigWig cannot read: convert it to bedGraph",
        ),
        (gzip.compress(b"chr1\t0\t10\t1\n"), "is gzip-compressed, not a bigWig: give the bigWig itself"),
        (
            b"chr1\t0\t10\t1.5\n" * 8,
            "is text, not a bigWig (a bedGraph or wig?): convert it with bedGraphToBigWig",
        ),
    ],
)
def test_other_formats_are_named(tmp_path, head, words):
    path = tmp_path / "x.bw"
    path.write_bytes(head + b"\0" * 100 if len(head) == 4 else head)
    with pytest.raises(FactorNetError) as info:
        tracks.open_bigwig(path, "track 'T'")
    assert str(info.value).startswith(f"track 'T': {str(path)!r} {words}")


def test_folder_and_bigwig_without_data(tmp_path):
    with pytest.raises(FactorNetError) as info:
        tracks.open_bigwig(tmp_path)
    assert str(info.value) == f"bigWig for signal: {str(tmp_path)!r} is a folder, not a bigWig file"
    path = tmp_path / "nodata.bw"  # a valid bigWig with no intervals: index offset 0, reads as zeros
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chr1", 100)])
    bw.close()
    with TrackSet({"T": path}) as ts:
        assert not ts.read("chr1", 0, 100).any()


@pytest.mark.parametrize("field", [3, 5])  # chromosomeTreeOffset, fullIndexOffset
def test_damaged_index_is_named_without_libbigwig_text(tmp_path, capfd, field):
    """A complete file whose chromosome tree or index has a wrong magic number: libBigWig's
    '[bwOpen] bwg->idx is NULL ...' stays out; the message says the file is damaged."""
    data = bytearray(_bigwig_bytes(tmp_path))
    offset = struct.unpack("<IHHQQQHHQQIQ", data[:64])[field]
    data[offset : offset + 4] = b"\0\0\0\0"
    path = tmp_path / "damaged.bw"
    path.write_bytes(bytes(data))
    with pytest.raises(FactorNetError) as info:
        TrackSet({"T": path})
    assert str(info.value) == (
        f"track 'T': {str(path)!r} is a damaged bigWig: its header is complete but its chromosome list or "
        "index cannot be read; write the file again"
    )
    assert capfd.readouterr() == ("", "")
