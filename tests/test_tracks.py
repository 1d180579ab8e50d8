"""factornet_core.tracks: bigWig reads (NaN and outside → 0) and chromosome checks."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pytest

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
        "the files use different chromosome naming (UCSC 'chr1' vs Ensembl '1')"
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
