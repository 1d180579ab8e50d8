"""Signal-track normalisation rules: one set of pure functions for ``prepare`` and (later) ``--track-norm``.

Rules (a track of per-base values ``x``; only the *distribution* of values matters, so every function
accepts either per-base arrays or a weighted form ``values, weights`` where ``weights[i]`` is the number
of bases holding ``values[i]`` — the form a sparse count track or a bigWig's runs give for free):

``none``
    raw values, scale factor 1.
``1x``
    the paper's recipe (Methods, "Features and data pre-processing": 5′ cut counts normalised to 1×
    coverage, as deepTools ``--normalizeUsing RPGC`` with one base per read): ``x * G / sum(x)``, so the
    track sums to the effective genome size ``G`` (mean 1 per base over ``G`` bases).
``cpm``
    counts per million: ``x * 1e6 / sum(x)``.
``minmax``
    maxATAC's rule: ``min(x / q, 1)`` with ``q`` the ``percentile``-th percentile (default 99) of the
    non-zero per-base values (percentile by the inverted empirical CDF, so the per-base and weighted
    forms agree exactly).

:func:`scale_factor` returns the multiplier; :func:`apply` applies it (and the clip for ``minmax``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factornet_core.errors import FactorNetError

RULES = ("1x", "minmax", "cpm", "none")
DEFAULT_PERCENTILE = 99.0


@dataclass(frozen=True)
class Normalization:
    """A rule with its parameters and the scale factor computed for one track.

    ``clip`` is the upper bound after scaling (1 for ``minmax``, None otherwise).
    """

    rule: str
    scale: float
    clip: float | None = None
    effective_genome_size: int | None = None
    percentile: float | None = None
    total_signal: float = 0.0
    percentile_value: float | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


def check_rule(rule: str) -> str:
    if rule not in RULES:
        raise FactorNetError(f"unknown normalisation {rule!r}: choose one of {', '.join(RULES)}")
    return rule


def _weighted(values: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64).ravel()
    if weights is None:
        weights = np.ones(values.size, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64).ravel()
    if weights.shape != values.shape:
        raise ValueError(f"values {values.shape} and weights {weights.shape} differ in shape")
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return values, weights


def total_signal(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """``sum(values * weights)`` (NaN counts as 0): the track's total, e.g. the number of cuts."""
    v, w = _weighted(values, weights)
    return float(np.dot(v, w))


def nonzero_percentile(
    values: np.ndarray, weights: np.ndarray | None = None, percentile: float = 99.0
) -> float:
    """The ``percentile``-th percentile of the non-zero per-base values (inverted empirical CDF).

    Returns the smallest value ``v`` such that at least ``percentile`` % of the non-zero bases hold a
    value ``<= v`` (numpy ``method="inverted_cdf"`` on the expanded per-base array). 0 when every
    value is zero.
    """
    if not 0 < percentile <= 100:
        raise FactorNetError(f"--percentile must be in (0, 100], got {percentile}")
    v, w = _weighted(values, weights)
    keep = (v != 0) & (w > 0)
    v, w = v[keep], w[keep]
    if v.size == 0:
        return 0.0
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w)
    target = percentile / 100.0 * cum[-1]
    # first value whose cumulative weight reaches the target (tolerance for float weights)
    k = int(np.searchsorted(cum, target - 1e-9 * cum[-1], side="left"))
    return float(v[min(k, v.size - 1)])


def scale_factor(
    rule: str,
    values: np.ndarray,
    weights: np.ndarray | None = None,
    effective_genome_size: int | None = None,
    percentile: float = DEFAULT_PERCENTILE,
) -> Normalization:
    """The scale factor of ``rule`` for a track with per-base ``values`` (optionally weighted).

    Parameters
    ----------
    rule : one of :data:`RULES`.
    values, weights : ``(n,)`` values and the number of bases holding each (None: one base each).
    effective_genome_size : ``G`` for ``1x`` (bases), required for that rule.
    percentile : for ``minmax``.

    Raises
    ------
    FactorNetError
        An all-zero track under ``1x``/``cpm``/``minmax`` (nothing to scale), or ``1x`` without ``G``.
    """
    check_rule(rule)
    total = total_signal(values, weights)
    if rule == "none":
        return Normalization("none", 1.0, total_signal=total)
    if total <= 0:
        raise FactorNetError(f"the track has no signal: cannot normalise to {rule!r} (use --normalize none)")
    if rule == "1x":
        if effective_genome_size is None or effective_genome_size <= 0:
            raise FactorNetError("1x normalisation needs a positive effective genome size")
        return Normalization(
            "1x",
            effective_genome_size / total,
            effective_genome_size=int(effective_genome_size),
            total_signal=total,
        )
    if rule == "cpm":
        return Normalization("cpm", 1e6 / total, total_signal=total)
    q = nonzero_percentile(values, weights, percentile)
    return Normalization(
        "minmax", 1.0 / q, clip=1.0, percentile=float(percentile), total_signal=total, percentile_value=q
    )


def apply(values: np.ndarray, norm: Normalization) -> np.ndarray:
    """Scaled values ``float32`` (same shape): ``values * scale``, clipped at ``norm.clip`` if set."""
    out = np.asarray(values, dtype=np.float64) * norm.scale
    if norm.clip is not None:
        out = np.minimum(out, norm.clip)
    return out.astype(np.float32)


# ------------------------------------------------------------------------ rules a model card applies
# ``train --track-norm NAME=RULE``: the rules that can be applied per cell type inside the data path.
# ``cpm`` is left out on purpose: per base it is 1x times a constant, so it adds nothing a model can use.
TRACK_RULES = ("none", "1x", "minmax")


def parse_rule(text: str) -> tuple[str, float | None]:
    """``"none"``, ``"1x"``, ``"minmax"`` or ``"minmax:P"`` → ``(rule, percentile)``.

    ``percentile`` is None except for ``minmax`` (default :data:`DEFAULT_PERCENTILE`).

    Raises
    ------
    FactorNetError
        An unknown rule, a percentile on another rule, or a percentile outside (0, 100].
    """
    if not isinstance(text, str):
        raise FactorNetError(f"a normalisation rule must be text, got {text!r}")
    rule, sep, param = text.strip().partition(":")
    if rule not in TRACK_RULES:
        raise FactorNetError(
            f"unknown track normalisation {text!r}: choose one of none, 1x, minmax, minmax:PERCENTILE"
        )
    if rule != "minmax":
        if sep:
            raise FactorNetError(f"track normalisation {text!r}: only minmax takes a percentile (minmax:99)")
        return rule, None
    if not sep:
        return rule, DEFAULT_PERCENTILE
    try:
        percentile = float(param)
    except ValueError:
        raise FactorNetError(
            f"track normalisation {text!r}: the percentile must be a number, e.g. minmax:99"
        ) from None
    if not 0 < percentile <= 100:
        raise FactorNetError(f"track normalisation {text!r}: the percentile must be in (0, 100]")
    return rule, percentile


def format_rule(rule: str, percentile: float | None = None) -> str:
    """The canonical text of a rule: ``"1x"``, ``"none"``, ``"minmax:99"`` (``"minmax:99.5"``)."""
    if rule == "minmax":
        return f"minmax:{(DEFAULT_PERCENTILE if percentile is None else percentile):g}"
    return rule


def canonical_rule(text: str) -> str:
    """``parse_rule`` then ``format_rule``: ``"minmax"`` → ``"minmax:99"`` (raises as :func:`parse_rule`)."""
    return format_rule(*parse_rule(text))
