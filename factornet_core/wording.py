"""Words in messages: the one place that makes a count agree with its noun ("1 column", "2 columns").

Messages and figure titles use :func:`plural` for every counted noun instead of "column(s)".
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sized

#: Nouns whose plural is not ``singular + "s"``.
IRREGULAR = {"was": "were", "is": "are", "has": "have", "does": "do"}


def noun(n: int | Sized, singular: str, plural: str | None = None) -> str:
    """``singular`` when ``n`` (a count — any integer type, NumPy's included — or a collection's length) is 1,
    else the plural form.

    >>> noun(["chr1"], "chromosome"), noun(3, "chromosome"), noun(2, "is")
    ('chromosome', 'chromosomes', 'are')
    """
    count = _count(n)
    if count == 1:
        return singular
    return plural or IRREGULAR.get(singular, singular + "s")


def plural(n: int | Sized, singular: str, plural: str | None = None) -> str:
    """The count and its noun: ``plural(1, "column") == "1 column"``, ``plural(0, "bin") == "0 bins"``."""
    count = _count(n)
    return f"{count} {noun(count, singular, plural)}"


def _count(n) -> int:
    """A collection's length, or ``n`` itself as a Python int (``numpy.int64`` counts from pandas/NumPy too)."""
    return len(n) if isinstance(n, Sized) else operator.index(n)


def some(names: Iterable[str], limit: int = 5) -> str:
    """The first ``limit`` names, comma-separated, and ``, ...`` when there are more (for "it has ..." hints).

    >>> some(["chr1", "chr2"]), some(["a", "b", "c"], limit=2)
    ('chr1, chr2', 'a, b, ...')
    """
    names = list(names)
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
