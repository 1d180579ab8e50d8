"""factornet_core.windows: grouped window reads equal direct pyfaidx + pyBigWig slices."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pyfaidx
import pytest

from factornet_core import dna, windows
from factornet_core.genome import Genome
from factornet_core.tracks import TrackSet
from factornet_core.windows import WindowReader

SIZES = {"chr1": 61_000, "chr2": 4_321}


@pytest.fixture
def files(make_fasta, make_bigwig, random_dna, rng):
    seqs = {c: random_dna(n) for c, n in SIZES.items()}
    fasta = make_fasta(seqs)
    signals_a, signals_b = {}, {}
    for c, n in SIZES.items():
        a = rng.random(n) * 10
        a[rng.random(n) < 0.2] = np.nan  # no data → 0
        b = np.round(rng.normal(0, 1, n), 3)
        b[1000:1500] = np.nan
        signals_a[c], signals_b[c] = a, b
    return fasta, make_bigwig(signals_a, "a.bw"), make_bigwig(signals_b, "b.bw")


def _direct(fasta, bigwigs, chrom: str, start: int, length: int) -> np.ndarray:
    """The reference: one window sliced straight from pyfaidx and pyBigWig, padded by hand."""
    size = SIZES[chrom]
    lo, hi = max(start, 0), min(start + length, size)
    seq = (
        "N" * (lo - start)
        + (str(fasta[chrom][lo:hi]) if hi > lo else "")
        + "N" * (start + length - max(hi, lo))
    )
    seq = seq[:length]
    tracks = []
    for bw in bigwigs:
        values = np.zeros(length, np.float32)
        if hi > lo:
            v = np.array(bw.values(chrom, lo, hi), dtype=np.float32)
            values[lo - start : hi - start] = np.where(np.isnan(v), 0.0, v)
        tracks.append(values)
    return np.concatenate([dna.one_hot(seq), np.stack(tracks, axis=1)], axis=1)


def test_window_starts_centre_the_bin():
    assert windows.window_starts(np.array([0, 50, 1000]), 200, 1000).tolist() == [-400, -350, 600]
    assert windows.window_starts(np.array([0]), 200, 1002).tolist() == [-401]


@pytest.mark.parametrize("max_gap", [windows.MAX_GAP, 0, 10**9])  # default grouping, one read each, one read
@pytest.mark.parametrize("seq_len", [1000, 1002, 201])
def test_windows_equal_direct_slices_incl_chromosome_ends(files, rng, monkeypatch, seq_len, max_gap):
    monkeypatch.setattr(windows, "MAX_GAP", max_gap)
    fasta_path, a_path, b_path = files
    fasta = pyfaidx.Fasta(str(fasta_path), as_raw=True)
    bws = [pyBigWig.open(str(a_path)), pyBigWig.open(str(b_path))]
    with Genome(fasta_path) as genome, TrackSet({"A": a_path, "B": b_path}) as ts:
        reader = WindowReader(genome, ts, seq_len)
        assert reader.n_channels == 6
        for chrom, size in SIZES.items():
            starts = rng.integers(-600, size + 400, 40)
            starts = np.concatenate([starts, [0, size - 200, size - 1, starts[0]]])  # ends, a duplicate
            x = reader.windows(chrom, starts)
            assert x.shape == (starts.size, seq_len, 6) and x.dtype == np.float32
            wstarts = starts + 100 - seq_len // 2
            for i, ws in enumerate(wstarts):
                np.testing.assert_array_equal(x[i], _direct(fasta, bws, chrom, int(ws), seq_len))
    for bw in bws:
        bw.close()


def test_window_hanging_over_the_end_has_zero_rows(files):
    fasta_path, a_path, b_path = files
    with Genome(fasta_path) as genome, TrackSet({"A": a_path, "B": b_path}) as ts:
        x = WindowReader(genome, ts, 1000).windows("chr2", np.array([0, SIZES["chr2"] - 200]))
    assert not x[0, :400].any()  # window [-400, 600): 400 positions before the start
    tail = SIZES["chr2"] - (SIZES["chr2"] - 200 + 100 - 500)
    assert not x[1, tail:].any()
    assert x[1, :tail, :4].sum(axis=1).max() == 1.0


def test_batch_across_chromosomes_keeps_the_order(files, rng):
    fasta_path, a_path, b_path = files
    with Genome(fasta_path) as genome, TrackSet({"A": a_path, "B": b_path}) as ts:
        reader = WindowReader(genome, ts, 500)
        chroms = rng.choice(list(SIZES), 40)
        starts = np.array([rng.integers(0, SIZES[c] - 200) for c in chroms])
        x = reader.batch(chroms, starts)
        for i, (c, s) in enumerate(zip(chroms, starts)):
            np.testing.assert_array_equal(x[i], reader.region(str(c), int(s) + 100 - 250, int(s) + 100 + 250))
        assert reader.windows("chr1", np.zeros(0, np.int64)).shape == (0, 500, 6)
