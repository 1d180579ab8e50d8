"""Which chromosomes train, validate and stay held out: the one set of rules ``train`` and ``baseline`` share.

A chromosome has at most one role. Held-out (``--exclude-chroms``, e.g. the test chromosomes) and validation
chromosomes (``-v``) must never be trained on, so a chromosome named in two roles is refused rather than
resolved by a silent precedence (``--exclude-chroms chr3 --train-chroms chr3`` trained on chr3 with exit 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from factornet_core import intervals
from factornet_core.errors import FactorNetError

#: Each role: its option, its chromosomes' name, and "<chrom> is ..." in an error.
_ROLES = {
    "train": ("--train-chroms", "training chromosome", "a training chromosome"),
    "valid": ("-v/--valid-chroms", "validation chromosome", "a validation chromosome"),
    "exclude": ("--exclude-chroms", "held-out chromosome", "held out"),
}


def split_chromosomes(
    sizes: Mapping[str, int],
    valid: Sequence[str] = (),
    exclude: Sequence[str] = (),
    train: Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """The training and validation chromosomes of a run.

    Parameters
    ----------
    sizes : chromosome name → length (bp), in genome order.
    valid : validation chromosomes (``-v``); may be empty (``baseline``).
    exclude : chromosomes never used (``--exclude-chroms``).
    train : training chromosomes (``--train-chroms``); ``None`` or empty: every genome chromosome neither
        validation nor excluded, in genome order.

    Returns
    -------
    (train, valid) : lists of chromosome names, each in the order given.

    Raises
    ------
    FactorNetError
        a chromosome the genome lacks (with the chr1-vs-1 hint); a chromosome named twice in one list or in
        two roles (e.g. "chr3 is both held out (--exclude-chroms) and a training chromosome
        (--train-chroms)"); no training chromosome left.
    """
    given = {"train": list(train or []), "valid": list(valid), "exclude": list(exclude)}
    role_of: dict[str, str] = {}
    for role, chroms in given.items():
        option, what, _ = _ROLES[role]
        for c in chroms:
            if c not in sizes:
                raise FactorNetError(f"{intervals.unknown_chromosome(c, sizes, what)}: set {option}")
            if c in role_of:
                raise _twice(c, role_of[c], role)
            role_of[c] = role
    chosen = given["train"] or [c for c in sizes if c not in role_of]
    if not chosen:
        raise FactorNetError(
            "no training chromosomes left after removing validation (-v) and held-out (--exclude-chroms) ones: "
            "leave at least one chromosome for training"
        )
    return chosen, given["valid"]


def _twice(chrom: str, first: str, second: str) -> FactorNetError:
    """The error for ``chrom`` named in role ``first`` and again in role ``second`` (possibly the same)."""
    if first == second:
        option = _ROLES[first][0]
        return FactorNetError(f"{chrom} is given twice in {option}: give each chromosome once")
    a, b = sorted((first, second), key=list(_ROLES).index, reverse=True)  # held out, validation, training
    (option_a, _, noun_a), (option_b, _, noun_b) = _ROLES[a], _ROLES[b]
    return FactorNetError(
        f"{chrom} is both {noun_a} ({option_a}) and {noun_b} ({option_b}): a chromosome has one role; "
        f"remove it from {option_a} or {option_b}"
    )
