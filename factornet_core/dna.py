"""Pure array functions on DNA: one-hot encoding, reverse complement, strand flips of model inputs.

Channel order is A, C, G, T, so the complement of a one-hot column is the column reversed
(A<->T, C<->G): reverse-complementing a one-hot matrix is ``x[::-1, ::-1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHABET = "ACGT"

# byte value -> channel index (0..3) or 4 for "no base" (N, IUPAC codes, padding)
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(ALPHABET):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
# 5 x 4 table: rows 0..3 are the unit vectors, row 4 (N) is all zeros
_TABLE = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def encode(seq: str | bytes) -> np.ndarray:
    """Sequence → channel codes.

    Returns ``(len,) uint8``: 0..3 for A, C, G, T (either case), 4 for anything else (N).
    """
    raw = seq.encode("ascii") if isinstance(seq, str) else bytes(seq)
    return _CODE[np.frombuffer(raw, dtype=np.uint8)]


def one_hot(seq: str | bytes | np.ndarray) -> np.ndarray:
    """Sequence (or codes from :func:`encode`) → ``(len, 4) float32`` one-hot, N → zero row."""
    codes = seq if isinstance(seq, np.ndarray) else encode(seq)
    return _TABLE[codes]


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA string (N stays N; other letters are kept as they are)."""
    return seq.translate(_COMPLEMENT)[::-1]


def reverse_complement_onehot(x: np.ndarray) -> np.ndarray:
    """Reverse complement of one-hot DNA ``(..., length, 4)`` (works on batches)."""
    return x[..., ::-1, ::-1]


def track_strand_permutation(track_names: Sequence[str]) -> list[int]:
    """Track order on the reverse strand: pairs named ``X_fwd``/``X_rev`` swap places, others stay.

    Stranded signal (e.g. DNase cuts counted per strand) read on the reverse strand belongs to the
    opposite strand's track. Returns a permutation ``p`` so that reversed-strand track ``i`` is forward
    track ``p[i]`` (read backwards along the sequence).
    """
    index = {name: i for i, name in enumerate(track_names)}
    perm = list(range(len(track_names)))
    for name, i in index.items():
        for a, b in (("_fwd", "_rev"), ("_rev", "_fwd")):
            if name.endswith(a) and name[: -len(a)] + b in index:
                perm[i] = index[name[: -len(a)] + b]
    return perm


def input_strand_permutation(track_names: Sequence[str]) -> list[int]:
    """Channel permutation of a full model input ``(length, 4 + n_tracks)`` for the other strand."""
    return [3, 2, 1, 0] + [4 + p for p in track_strand_permutation(track_names)]


def reverse_strand(x: np.ndarray, track_names: Sequence[str]) -> np.ndarray:
    """Model input ``(..., length, 4 + n_tracks)`` seen from the other strand.

    Sequence reversed and complemented; tracks reversed along the sequence, ``_fwd``/``_rev`` swapped.
    Applying it twice gives back ``x``.
    """
    perm = input_strand_permutation(track_names)
    return x[..., ::-1, :][..., perm]
