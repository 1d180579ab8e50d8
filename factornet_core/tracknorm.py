"""Per-cell-type track normalisation: every cell type reaches the model on the training cells' scale.

A model trained with ``train --track-norm DNASE=1x`` records ``{"DNASE": "1x"}`` in its card
(:attr:`factornet_core.card.ModelCard.track_norms`). Whoever reads windows for that model — training
for each training cell type, ``predict``/``impute``/``interpret`` for the cell type at hand — computes
the rule's scale factor from *that cell type's own* bigWig over the chromosomes in use, and
:class:`factornet_core.tracks.TrackSet` multiplies (and, for ``minmax``, clips) every value it reads.
The rules and factors are exactly those of :mod:`factornet_core.normalize` (the ones ``prepare``
writes), computed on the bigWig's per-base value distribution:

``1x``
    ``G / sum(x)`` with ``G`` the non-N bases of the chromosomes in use (``prepare``'s default
    effective genome size): the track has mean 1 per base.
``minmax:P``
    ``1 / q`` with ``q`` the ``P``-th percentile of the non-zero per-base values; values are clipped
    to 1 after scaling.
``none``
    raw values (the default, and every model trained before card version 3).

A factor is computed once per (bigWig file, rule, chromosome set) and kept in memory for the run,
keyed by the file's resolved path, size and modification time, so a rewritten file is never scaled
with a stale factor.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from factornet_core import normalize
from factornet_core.errors import FactorNetError
from factornet_core.wording import some

# (resolved path, size, mtime_ns, rule, chromosome-set digest) → Normalization; likewise for G.
_SCALES: dict[tuple, normalize.Normalization] = {}
_LENGTHS: dict[tuple, int] = {}


# ------------------------------------------------------------------------------------------ parsing
def parse_track_norm(text: str) -> tuple[str, str]:
    """``"NAME=RULE"`` → ``(name, canonical rule)`` (e.g. ``"DNASE=minmax"`` → ``("DNASE", "minmax:99")``).

    Raises
    ------
    FactorNetError
        No ``=``, an empty name, or a rule :func:`factornet_core.normalize.parse_rule` refuses.
    """
    name, sep, rule = str(text).partition("=")
    name = name.strip()
    if not sep or not name:
        raise FactorNetError(f"--track-norm expects NAME=RULE (e.g. DNASE=1x), got {text!r}")
    return name, normalize.canonical_rule(rule)


def parse_track_norms(items: Iterable[str] | None) -> dict[str, str]:
    """Several ``NAME=RULE`` texts → ``{name: canonical rule}``; a name given twice is refused."""
    out: dict[str, str] = {}
    for item in items or ():
        name, rule = parse_track_norm(item)
        if name in out:
            raise FactorNetError(f"--track-norm: track {name!r} is given twice ({out[name]} and {rule})")
        out[name] = rule
    return out


def resolve(track_norms: Mapping[str, str] | None, track_names: Sequence[str]) -> dict[str, str]:
    """One canonical rule per track, in ``track_names`` order (``none`` where none is given).

    Raises
    ------
    FactorNetError
        A rule for a track that is not among ``track_names``, or a rule that does not parse.
    """
    track_norms = dict(track_norms or {})
    unknown = [t for t in track_norms if t not in track_names]
    if unknown:
        raise FactorNetError(
            f"--track-norm names track {unknown[0]!r}, but the tracks are {', '.join(track_names)}"
        )
    return {t: normalize.canonical_rule(track_norms.get(t, "none")) for t in track_names}


# ----------------------------------------------------------------------------------- scale factors
def _digest(chroms: Mapping[str, int]) -> str:
    text = "\n".join(f"{c}\t{n}" for c, n in chroms.items())
    return hashlib.sha1(text.encode()).hexdigest()


def _file_key(path: str | os.PathLike) -> tuple:
    resolved = Path(path).resolve()
    st = resolved.stat()
    return (str(resolved), st.st_size, st.st_mtime_ns)


def bigwig_distribution(path: str | os.PathLike, chroms: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """A bigWig's per-base value distribution over ``chroms``: distinct non-zero values and the number
    of bases holding each (``float64``; NaN counts as 0; bases with no data are 0 and left out)."""
    from factornet_core.prepare import merge_counts, value_distribution
    from factornet_core.tracks import open_bigwig

    handle = open_bigwig(path)
    try:
        values, weights = np.zeros(0), np.zeros(0)
        have = handle.chroms()
        for chrom in chroms:
            runs = handle.intervals(chrom) if chrom in have else None
            if not runs:
                continue
            arr = np.asarray(runs, dtype=np.float64)
            v = np.nan_to_num(arr[:, 2], nan=0.0, posinf=0.0, neginf=0.0)
            keep = v != 0
            dv, dw = value_distribution(v[keep], (arr[keep, 1] - arr[keep, 0]))
            values, weights = merge_counts([values, dv], [weights, dw], dtype=np.float64)
        return values, weights
    finally:
        handle.close()


def effective_length(genome, chroms: Sequence[str]) -> int:
    """Non-N bases of ``chroms`` in ``genome`` (a :class:`factornet_core.genome.Genome`), cached per
    (FASTA file, chromosome set): the ``G`` of the ``1x`` rule, as ``prepare``'s default."""
    from factornet_core.genome import N_CODE

    sizes = {c: genome.chrom_sizes[c] for c in dict.fromkeys(chroms)}
    key = (*_file_key(genome.path), _digest(sizes))
    if key not in _LENGTHS:
        total, step = 0, 10_000_000
        for chrom, size in sizes.items():
            for lo in range(0, size, step):
                total += int(np.count_nonzero(genome.codes(chrom, lo, min(lo + step, size)) != N_CODE))
        if total == 0:
            raise FactorNetError(
                f"1x track normalisation: chromosomes {', '.join(sizes)} contain only N bases"
            )
        _LENGTHS[key] = total
    return _LENGTHS[key]


def bigwig_normalization(
    path: str | os.PathLike,
    rule: str,
    chroms: Mapping[str, int],
    effective_size: Callable[[], int] | int | None = None,
    track: str = "",
) -> normalize.Normalization:
    """The :class:`~factornet_core.normalize.Normalization` of ``rule`` for one bigWig over ``chroms``.

    Parameters
    ----------
    path : the bigWig.
    rule : ``none``, ``1x`` or ``minmax[:P]``.
    chroms : chromosome name → length (bp): the chromosomes in use.
    effective_size : ``G`` for ``1x`` (bases), or a function giving it (called only for ``1x``).
    track : the track name, for messages.

    Raises
    ------
    FactorNetError
        The bigWig has no signal on ``chroms`` (nothing to scale).
    """
    name, percentile = normalize.parse_rule(rule)
    if name == "none":
        return normalize.Normalization("none", 1.0)
    key = (*_file_key(path), normalize.format_rule(name, percentile), _digest(chroms))
    if key not in _SCALES:
        values, weights = bigwig_distribution(path, chroms)
        if not values.size:
            raise FactorNetError(
                f"track {track or Path(path).name!r}: {Path(path).name} has no signal on "
                f"{some(chroms, 4)}: cannot apply "
                f"the model's {rule} normalisation"
            )
        g = effective_size() if callable(effective_size) else effective_size
        _SCALES[key] = normalize.scale_factor(
            name, values, weights, g, percentile if percentile is not None else normalize.DEFAULT_PERCENTILE
        )
    return _SCALES[key]


def clear_cache() -> None:
    """Forget every cached factor and length (tests; long-lived processes)."""
    _SCALES.clear()
    _LENGTHS.clear()
