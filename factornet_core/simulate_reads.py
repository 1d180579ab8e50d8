"""Simulated alignments: a coordinate-sorted, indexed BAM whose reads' 5′ ends are given cut counts.

Used by ``factornet simulate --reads`` (so ``prepare`` can be tested against the simulator's own cut
track) and by the prepare benchmark. Every cut becomes one read passing ``prepare``'s default filters
(MAPQ ≥ 30, primary, not a duplicate) with its 5′ end on the cut (SAM spec: a forward read's 5′ end is
POS, a reverse read's is the last aligned base); some reads carry a 5′ soft clip, which must not move the
cut. Noise that the filters must remove is added on top: flagged duplicates of kept reads, low-MAPQ
reads and secondary alignments at random positions. ``paired=True`` pairs neighbouring cuts as mates
(forward mate at the left cut, reverse mate at the right one; proper pair when the fragment is
< 1 kb). Bytes are deterministic for a given generator state (no ``@PG`` line).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

READ_LENGTHS = (36, 76)  # inclusive range of aligned read lengths
FRACTION_DUPLICATE, FRACTION_LOW_MAPQ, FRACTION_SECONDARY = 0.05, 0.03, 0.02
FRACTION_CLIPPED = 0.1
MAX_PROPER_FRAGMENT = 1_000


def _chrom_reads(
    chrom: str, length: int, counts: np.ndarray, rng: np.random.Generator, paired: bool
) -> pd.DataFrame:
    """SAM columns for one chromosome: every cut as a read, plus the noise reads."""
    pos = np.repeat(np.flatnonzero(counts), np.asarray(counts[counts > 0], dtype=np.int64))
    n = pos.size
    lo, hi = READ_LENGTHS
    span = rng.integers(lo, hi + 1, n)
    reverse = rng.random(n) < 0.5
    reverse[pos + span > length] = True  # a forward read must fit before the chromosome end
    reverse[pos - span + 1 < 0] = False  # a reverse read must start at ≥ 0
    span = np.minimum(span, np.where(reverse, pos + 1, length - pos))
    flag = np.where(reverse, 0x10, 0)
    mate_pos = np.full(n, -1)
    tlen = np.zeros(n, dtype=np.int64)
    names = np.arange(n)
    if paired and n >= 2:
        # neighbouring cuts (sorted) become mates: left one forward, right one reverse, if they fit
        a, b = np.arange(0, n - 1, 2), np.arange(1, n, 2)
        fits = (pos[a] + span[a] <= length) & (pos[b] - span[b] + 1 >= 0)
        a, b = a[fits], b[fits]
        reverse[a], reverse[b] = False, True
        frag = pos[b] - pos[a] + 1
        proper = np.where(frag < MAX_PROPER_FRAGMENT, 0x2, 0)
        flag[a] = 0x1 | 0x20 | 0x40 | proper
        flag[b] = 0x1 | 0x10 | 0x80 | proper
        mate_pos[a], mate_pos[b] = pos[b] - span[b] + 1, pos[a]
        tlen[a], tlen[b] = frag, -frag
        names[b] = names[a]
        single = np.ones(n, dtype=bool)
        single[a] = single[b] = False
        flag[single] = np.where(reverse[single], 0x10, 0) | 0x1 | 0x8  # paired, mate unmapped
    start = np.where(reverse, pos - span + 1, pos)
    clip = np.where(rng.random(n) < FRACTION_CLIPPED, rng.integers(2, 6, n), 0)
    mapq = rng.integers(30, 61, n)
    # noise: duplicates of kept reads (same place, flagged), low-MAPQ and secondary reads anywhere
    n_dup = int(n * FRACTION_DUPLICATE)
    dup = rng.choice(n, n_dup, replace=False) if n_dup else np.zeros(0, dtype=np.int64)
    n_low, n_sec = int(n * FRACTION_LOW_MAPQ), int(n * FRACTION_SECONDARY)
    rand_start = rng.integers(0, max(length - hi, 1), n_low + n_sec)
    base = 0x1 | 0x8 if paired else 0
    parts = {
        "name": [names, n + np.arange(n_dup), n + n_dup + np.arange(n_low + n_sec)],
        "flag": [flag, flag[dup] | 0x400, np.r_[np.full(n_low, base), np.full(n_sec, base | 0x100)]],
        "start": [start, start[dup], rand_start],
        "mapq": [mapq, mapq[dup], np.r_[rng.integers(0, 30, n_low), np.full(n_sec, 60)]],
        "span": [span, span[dup], np.full(n_low + n_sec, lo)],
        "clip": [clip, clip[dup], np.zeros(n_low + n_sec, dtype=np.int64)],
        "mate": [mate_pos, mate_pos[dup], np.full(n_low + n_sec, -1)],
        "tlen": [tlen, tlen[dup], np.zeros(n_low + n_sec, dtype=np.int64)],
    }
    df = pd.DataFrame({k: np.concatenate(v).astype(np.int64) for k, v in parts.items()})
    df = df.sort_values(["start", "name", "flag"], kind="stable")
    is_rev = (df["flag"].to_numpy() & 0x10) != 0
    clip_s = df["clip"].astype(str).to_numpy().astype(object)
    span_s = df["span"].astype(str).to_numpy().astype(object)
    has_clip = df["clip"].to_numpy() > 0
    cigar = span_s + "M"
    # the soft clip sits at the read's 5′ end: left for forward reads, right for reverse reads
    cigar = np.where(has_clip & ~is_rev, clip_s + "S" + cigar, cigar)
    cigar = np.where(has_clip & is_rev, cigar + clip_s + "S", cigar)
    mate = df["mate"].to_numpy()
    return pd.DataFrame(
        {
            "qname": "r" + df["name"].astype(str),
            "flag": df["flag"].to_numpy(),
            "rname": chrom,
            "pos": df["start"].to_numpy() + 1,
            "mapq": df["mapq"].to_numpy(),
            "cigar": cigar,
            "rnext": np.where(mate >= 0, "=", "*"),
            "pnext": np.where(mate >= 0, mate + 1, 0),
            "tlen": df["tlen"].to_numpy(),
            "seq": "*",
            "qual": "*",
        }
    )


def write_cut_bam(
    path: str | os.PathLike,
    chrom_sizes: Mapping[str, int],
    cuts: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    paired: bool = False,
) -> Path:
    """Write a sorted, indexed BAM (``path`` + ``.bai``) whose filtered reads' 5′ ends are ``cuts``.

    Parameters
    ----------
    chrom_sizes : chromosome → length (bp), in header order.
    cuts : chromosome → ``(length,)`` non-negative integer-valued cut counts per base.
    rng : the generator for strands, read lengths, soft clips and noise.
    paired : write paired-end mates (see the module docstring) instead of single-end reads.
    """
    path = Path(path)
    sam = path.with_name(path.name + ".sam.tmp")
    header = "@HD\tVN:1.6\tSO:coordinate\n" + "".join(
        f"@SQ\tSN:{c}\tLN:{n}\n" for c, n in chrom_sizes.items()
    )
    try:
        with open(sam, "w") as handle:
            handle.write(header)
            for chrom, length in chrom_sizes.items():
                counts = np.rint(np.asarray(cuts.get(chrom, np.zeros(0)))).astype(np.int64)
                df = _chrom_reads(chrom, int(length), counts, rng, paired)
                df.to_csv(handle, sep="\t", header=False, index=False, lineterminator="\n")
        pysam.view("--no-PG", "-b", "-o", str(path), str(sam), catch_stdout=False)
        pysam.index(str(path))
    finally:
        sam.unlink(missing_ok=True)
    return path
