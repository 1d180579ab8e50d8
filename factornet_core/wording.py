"""Words in messages: the one place that makes a count agree with its noun ("1 column", "2 columns").

Messages and figure titles use :func:`plural` for every counted noun instead of "column(s)".
"""

from __future__ import annotations

from collections.abc import Sized

#: Nouns whose plural is not ``singular + "s"``.
IRREGULAR = {"was": "were", "is": "are", "has": "have", "does": "do"}


def noun(n: int | Sized, singular: str, plural: str | None = None) -> str:
    """``singular`` when ``n`` (a count, or a collection's length) is 1, else the plural form.

    >>> noun(["chr1"], "chromosome"), noun(3, "chromosome"), noun(2, "is")
    ('chromosome', 'chromosomes', 'are')
    """
    count = n if isinstance(n, int) else len(n)
    if count == 1:
        return singular
    return plural or IRREGULAR.get(singular, singular + "s")


def plural(n: int | Sized, singular: str, plural: str | None = None) -> str:
    """The count and its noun: ``plural(1, "column") == "1 column"``, ``plural(0, "bin") == "0 bins"``."""
    count = n if isinstance(n, int) else len(n)
    return f"{count} {noun(count, singular, plural)}"
