"""Model inputs from files: DNA one-hot + signal tracks for windows centred on bins.

A window of ``seq_len`` bp is centred on its bin: for a bin ``[s, s + bin_size)`` the window starts at
``s + bin_size // 2 - seq_len // 2``. Positions past a chromosome end are N (zero one-hot) with zero
signal. Reads are grouped: nearby windows share one genome/bigWig read of the span that covers them,
so dense prediction and sparse training batches both avoid one file call per window.
"""

from __future__ import annotations

import numpy as np

from factornet_core import dna
from factornet_core.genome import Genome
from factornet_core.tracks import TrackSet

# Windows whose starts lie within this many bp of each other are fetched with one read.
MAX_GAP = 20_000


def window_starts(bin_starts: np.ndarray, bin_size: int, seq_len: int) -> np.ndarray:
    """Window start for each bin start (``int64``)."""
    return np.asarray(bin_starts, dtype=np.int64) + bin_size // 2 - seq_len // 2


class WindowReader:
    """Reads ``(n, seq_len, 4 + n_tracks) float32`` inputs for one cell type's genome and tracks."""

    def __init__(self, genome: Genome, tracks: TrackSet, seq_len: int, bin_size: int = 200):
        self.genome = genome
        self.tracks = tracks
        self.seq_len = seq_len
        self.bin_size = bin_size

    @property
    def n_channels(self) -> int:
        return 4 + len(self.tracks)

    def region(self, chrom: str, start: int, end: int) -> np.ndarray:
        """``(end - start, 4 + n_tracks) float32`` one-hot + signal for one span."""
        out = np.empty((end - start, self.n_channels), dtype=np.float32)
        out[:, :4] = dna.one_hot(self.genome.codes(chrom, start, end))
        out[:, 4:] = self.tracks.read(chrom, start, end)
        return out

    def windows(self, chrom: str, bin_starts: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Inputs for bins on one chromosome, in the order given."""
        starts = window_starts(bin_starts, self.bin_size, self.seq_len)
        n, length = starts.size, self.seq_len
        if out is None:
            out = np.empty((n, length, self.n_channels), dtype=np.float32)
        if n == 0:
            return out
        order = np.argsort(starts, kind="stable")
        sorted_starts = starts[order]
        breaks = np.flatnonzero(np.diff(sorted_starts) > MAX_GAP) + 1
        for group in np.split(np.arange(n), breaks):
            lo, hi = sorted_starts[group[0]], sorted_starts[group[-1]] + length
            span = self.region(chrom, int(lo), int(hi))
            offsets = sorted_starts[group] - lo
            # (g, length) index into the span, gathered in one fancy-indexing call
            out[order[group]] = span[offsets[:, None] + np.arange(length)[None, :]]
        return out

    def batch(self, chroms: np.ndarray, bin_starts: np.ndarray) -> np.ndarray:
        """Inputs for bins on any chromosomes, in the order given."""
        chroms = np.asarray(chroms)
        out = np.empty((chroms.size, self.seq_len, self.n_channels), dtype=np.float32)
        for chrom in dict.fromkeys(chroms.tolist()):
            idx = np.flatnonzero(chroms == chrom)
            out[idx] = self.windows(chrom, np.asarray(bin_starts)[idx])
        return out
