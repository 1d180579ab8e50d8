"""Counted nouns agree with their count, in the helper and in the messages that were wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from factornet_core import FactorNetError, intervals
from factornet_core.wording import noun, plural, some


def test_plural_agrees_with_counts_and_collections():
    assert plural(1, "column") == "1 column"
    assert plural(0, "column") == "0 columns"
    assert plural(["a", "b"], "TF") == "2 TFs"
    assert noun(["chr1"], "chromosome") == "chromosome"
    assert noun(3, "cell type") == "cell types"
    assert noun(2, "lacks", "lack") == "lack"
    assert noun(2, "has") == "have"


def test_some_lists_the_first_names_and_says_when_there_are_more():
    assert some(["chr1", "chr2"]) == "chr1, chr2"
    assert some(["a", "b", "c", "d", "e"]) == "a, b, c, d, e"
    assert some(["a", "b", "c", "d", "e", "f"]) == "a, b, c, d, e, ..."
    assert some({"chr1": 10, "chr2": 20, "chr3": 30}, limit=2) == "chr1, chr2, ..."  # a dict: its keys
    assert some([]) == ""


def test_plural_takes_numpy_and_pandas_counts():
    """Counts often come from arrays and frames (``(mask).sum()``, ``len(df)`` of a group): NumPy integers."""
    import numpy as np

    assert plural(np.int64(23), "site") == "23 sites"
    assert plural(np.int32(1), "site") == "1 site"
    assert plural(np.array([1, 2, 3]), "bin") == "3 bins"
    with pytest.raises(TypeError):
        plural(1.5, "site")  # a float is not a count


def test_one_column_row_says_one_column(tmp_path):
    from factornet_core.scores import read_predictions

    path = tmp_path / "p.tsv"
    path.write_text("chr1\n")
    with pytest.raises(FactorNetError) as err:
        read_predictions(path)
    assert "got 1 column" in str(err.value) and "1 columns" not in str(err.value)


def test_naming_hint_needs_no_verb_agreement():
    hint = intervals.naming_hint(["1"], ["chr1"], "the predictions")
    assert hint.startswith("in the predictions it is 'chr1'")
    assert intervals.naming_hint("10", ["chr10"], "the genome").endswith(
        "(chr1 vs 1)"
    )  # one name, not its letters


def test_no_message_counts_with_a_bare_plural_or_parenthesised_s():
    """Source check: an f-string count followed by a plural noun, or 'noun(s)', in a message."""
    root = Path(__file__).parents[1]
    bad = []
    count_then_plural = re.compile(r"\{(len\([^{}]*\)|n|n_[a-z_]+|[a-z_]+\.n_[a-z_]+)\} [a-z]+s\b")
    for path in [*root.glob("factornet_core/*.py"), *root.glob("tools/*.py")]:
        if path.name in ("training.py", "sampling.py"):  # being rewritten on another branch
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if "# plural-ok" in line or not re.search(r'f"|f\'|help=', code):
                continue
            if count_then_plural.search(code) or re.search(r"[a-z]\(s\)", code.replace("http(s)", "")):
                bad.append(f"{path.name}:{lineno}: {line.strip()}")
    assert not bad, "\n".join(bad)
