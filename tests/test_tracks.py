"""factornet_core.tracks: bigWig reads (NaN and outside → 0) and chromosome checks."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pytest

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
        "bigWig ensembl.bw (track 'DNASE') lacks chromosome 'chr1' (2 missing in all); it has '1': "
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


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FactorNetError, match="bigWig for track 'T': .* does not exist"):
        TrackSet({"T": tmp_path / "nope.bw"})
    junk = tmp_path / "junk.bw"
    junk.write_text("not a bigwig\n")
    with pytest.raises(FactorNetError, match="is not a readable bigWig file"):
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
