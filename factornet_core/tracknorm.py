"""Per-cell-type track normalisation: every cell type reaches the model on the training cells' scale.

A model trained with ``train --track-norm DNASE=1x`` records ``{"DNASE": "1x"}`` in its card
(:attr:`factornet_core.card.ModelCard.track_norms`). Whoever reads windows for that model — training
for each training cell type, ``predict``/``impute``/``interpret`` for the cell type at hand — computes
the rule's scale factor from *that cell type's own* bigWig (:func:`cell_normalization`, the one call
path), and :class:`factornet_core.tracks.TrackSet` multiplies (and, for ``minmax``, clips) every value
it reads. The rules and factors are exactly those of :mod:`factornet_core.normalize` (the ones
``prepare`` writes), computed on the bigWig's per-base value distribution.

The statistic covers **every chromosome the genome FASTA and the bigWig share** (:func:`shared_chroms`;
:data:`SCOPE`), never the chromosomes a run selects (``--chroms``, validation or held-out chromosomes,
a Nextflow shard): a prediction run per chromosome, merged, equals one run over all of them, and a
training cell type is scaled as it would be at prediction time with the same files.

``1x``
    ``G / sum(x)`` with ``G`` the non-N bases of those chromosomes (``prepare``'s default effective
    genome size) and ``sum(x)`` from libBigWig's exact per-chromosome sums: the track has mean 1 per
    non-N base.
``minmax:P``
    ``1 / q`` with ``q`` the ``P``-th percentile of the non-zero per-base values (one pass over the
    bigWig's runs, 10 Mb at a time, as a histogram of distinct values); values are clipped to 1 after
    scaling.
``none``
    raw values (the default, and every model trained before card version 3).

A factor is computed once per (bigWig file, rule, :data:`SCOPE`, chromosome set) and kept in memory
for the run, keyed by the file's resolved path, size and modification time, so a rewritten file is
never scaled with a stale factor, nor with one computed under another definition; ``G`` likewise per
(FASTA file, chromosome set).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from factornet_core import normalize
from factornet_core.errors import FactorNetError
from factornet_core.wording import some

#: What a scale factor's statistic covers; part of the cache key, so a factor computed under another
#: definition (e.g. the chromosomes one run selected, before this one) is never reused.
SCOPE = "chromosomes shared by genome and bigWig"

# (resolved path, size, mtime_ns, rule, SCOPE, chromosome-set digest) → Normalization; likewise for G.
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


def shared_chroms(
    genome_sizes: Mapping[str, int], bigwig_sizes: Mapping[str, int], path: str | os.PathLike, track: str = ""
) -> dict[str, int]:
    """The chromosomes a scale factor covers: every genome chromosome the bigWig also has, genome order.

    Parameters
    ----------
    genome_sizes, bigwig_sizes : chromosome name → length (bp) of the genome FASTA and of the bigWig.
    path, track : the bigWig and its track name, for messages.

    Raises
    ------
    FactorNetError
        A shared chromosome whose lengths differ (another assembly), or no shared chromosome.
    """
    shared = {c: n for c, n in genome_sizes.items() if c in bigwig_sizes}
    where = f"bigWig {Path(path).name} (track {track!r})" if track else f"bigWig {Path(path).name}"
    for chrom, size in shared.items():
        if bigwig_sizes[chrom] != size:
            raise FactorNetError(
                f"{where} gives {chrom} length {bigwig_sizes[chrom]}, the genome says {size}: "
                "built for another assembly? Rebuild it against this genome (factornet prepare)"
            )
    if not shared:
        raise FactorNetError(
            f"{where} shares no chromosome with the genome (it has {some(bigwig_sizes, 4)}): "
            "give the bigWig built against this genome"
        )
    return shared


def _runs(handle, chrom: str, size: int, step: int = 10_000_000):
    """``(values, lengths)`` float64 of the bigWig's runs on ``chrom``, ``step`` bp at a time (a
    genome's worth of runs never sits in memory as Python tuples); runs are clipped to each step."""
    for lo in range(0, size, step):
        hi = min(lo + step, size)
        runs = handle.intervals(chrom, lo, hi)
        if not runs:
            continue
        # fromiter over the flattened tuples: half the time of np.asarray on a tuple of tuples
        flat = itertools.chain.from_iterable(runs)
        arr = np.fromiter(flat, dtype=np.float64, count=3 * len(runs)).reshape(-1, 3)
        lengths = np.minimum(arr[:, 1], hi) - np.maximum(arr[:, 0], lo)
        yield np.nan_to_num(arr[:, 2], nan=0.0, posinf=0.0, neginf=0.0), lengths


def bigwig_distribution(path: str | os.PathLike, chroms: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """A bigWig's per-base value distribution over ``chroms`` (name → length, bp), in one pass:
    distinct non-zero values and the number of bases holding each (``float64``; NaN counts as 0;
    bases with no data are 0 and left out). Chromosomes the bigWig lacks contribute nothing."""
    from factornet_core.cutcounts import merge_counts, value_distribution
    from factornet_core.tracks import open_bigwig

    handle = open_bigwig(path)
    try:
        values, weights = np.zeros(0), np.zeros(0)
        have = handle.chroms()
        for chrom in chroms:
            if chrom not in have:
                continue
            for v, n in _runs(handle, chrom, int(have[chrom])):
                keep = (v != 0) & (n > 0)
                dv, dw = value_distribution(v[keep], n[keep])
                values, weights = merge_counts([values, dv], [weights, dw], dtype=np.float64)
        return values, weights
    finally:
        handle.close()


def bigwig_total(path: str | os.PathLike, chroms: Mapping[str, int]) -> float:
    """``sum(x)`` of a bigWig's per-base values over ``chroms`` (NaN counts as 0): the ``1x`` statistic.

    Each chromosome's sum comes from libBigWig's exact summary (C, no Python objects per run); a
    chromosome holding NaN (which poisons that sum) or no data is summed from its runs instead.
    """
    from factornet_core.tracks import open_bigwig

    handle = open_bigwig(path)
    try:
        total, have = 0.0, handle.chroms()
        for chrom in chroms:
            if chrom not in have:
                continue
            size = int(have[chrom])
            got = handle.stats(chrom, 0, size, type="sum", exact=True)[0]
            if got is None or not np.isfinite(got):
                got = sum(float(np.dot(v, n)) for v, n in _runs(handle, chrom, size))
            total += float(got)
        return total
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
            raise FactorNetError(f"1x track normalisation: chromosomes {some(sizes, 4)} contain only N bases")
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

    Callers applying a model's rule pass :func:`shared_chroms` (through :func:`cell_normalization`),
    never the chromosomes a run selects.

    Parameters
    ----------
    path : the bigWig.
    rule : ``none``, ``1x`` or ``minmax[:P]``.
    chroms : chromosome name → length (bp) the statistic covers.
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
    key = (*_file_key(path), normalize.format_rule(name, percentile), SCOPE, _digest(chroms))
    if key not in _SCALES:
        if name == "1x":
            values = np.array([bigwig_total(path, chroms)])
            weights = np.ones(1)
        else:
            values, weights = bigwig_distribution(path, chroms)
        if not values.size or not np.dot(values, weights) > 0:
            raise FactorNetError(
                f"track {track or Path(path).name!r}: {Path(path).name} has no signal on "
                f"{some(chroms, 4)}: cannot apply the model's {rule} normalisation"
            )
        g = effective_size() if callable(effective_size) else effective_size
        _SCALES[key] = normalize.scale_factor(
            name, values, weights, g, percentile if percentile is not None else normalize.DEFAULT_PERCENTILE
        )
    return _SCALES[key]


def cell_normalization(
    path: str | os.PathLike, rule: str, genome, bigwig_sizes: Mapping[str, int], track: str = ""
) -> normalize.Normalization:
    """The one call path for a model's rule on one cell type's bigWig (train, predict, impute, interpret).

    The statistic covers :func:`shared_chroms` of ``genome`` (a :class:`factornet_core.genome.Genome`)
    and the bigWig (``bigwig_sizes``: its chromosome name → length), whatever chromosomes the run
    reads, so a run per chromosome scales exactly as one run over all of them.

    Raises
    ------
    FactorNetError
        As :func:`shared_chroms` and :func:`bigwig_normalization`.
    """
    if normalize.parse_rule(rule)[0] == "none":
        return normalize.Normalization("none", 1.0)
    shared = shared_chroms(genome.chrom_sizes, bigwig_sizes, path, track)
    return bigwig_normalization(path, rule, shared, lambda: effective_length(genome, list(shared)), track)


def clear_cache() -> None:
    """Forget every cached factor and length (tests; long-lived processes)."""
    _SCALES.clear()
    _LENGTHS.clear()
