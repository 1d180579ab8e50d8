"""factornet_core.tabular: vectorised text formatting, checked against Python's own formatting."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from factornet_core import tabular, textio


def _text(field: np.ndarray) -> list[str]:
    return [bytes(row[row != 0]).decode() for row in field]


def test_int_field_equals_str_on_random_data_including_zero(rng):
    for high in (10, 1000, 10**9, 3 * 10**12):
        values = np.concatenate([[0, 1, 9, 10, high - 1], rng.integers(0, high, 1000)])
        field = tabular.int_field(values)
        assert field.dtype == np.uint8
        assert field.shape == (values.size, len(str(values.max())))
        assert _text(field) == [str(v) for v in values]


def test_int_field_edges():
    assert _text(tabular.int_field(np.array([0, 0]))) == ["0", "0"]
    assert tabular.int_field(np.array([0])).tolist() == [[48]]
    assert tabular.int_field(np.array([7, 120])).tolist() == [[0, 0, 55], [49, 50, 48]]
    assert tabular.int_field(np.zeros(0, np.int64)).shape == (0, 1)
    with pytest.raises(ValueError, match="non-negative"):
        tabular.int_field(np.array([3, -1]))


def test_str_field_and_const_field(rng):
    names = ["chr1", "chr10", "c", "chrUn_gl000220"] + [f"chr{i}" for i in rng.integers(0, 100, 50)]
    field = tabular.str_field(names)
    assert field.shape == (len(names), 14)
    assert _text(field) == names
    assert tabular.str_field([]).shape == (0, 1)
    const = tabular.const_field("NA", 3)
    assert const.shape == (3, 2) and _text(const) == ["NA"] * 3


def test_rows_bytes_equals_python_join(rng):
    n = 500
    chroms = [f"chr{i}" for i in rng.integers(1, 23, n)]
    starts = rng.integers(0, 10**8, n)
    starts[:3] = 0
    ends = starts + rng.integers(0, 500, n)
    letters = rng.choice(np.frombuffer(b"UBA", np.uint8), (n, 1))
    got = tabular.rows_bytes(
        [tabular.str_field(chroms), tabular.int_field(starts), tabular.int_field(ends), letters]
    )
    expected = "".join(
        f"{c}\t{s}\t{e}\t{chr(x)}\n" for c, s, e, x in zip(chroms, starts, ends, letters[:, 0])
    )
    assert got == expected.encode()


@pytest.mark.parametrize("name", ["t.tsv", "t.tsv.gz"])
def test_write_table_in_chunks_equals_python_formatting(tmp_path, rng, monkeypatch, name):
    monkeypatch.setattr(tabular, "CHUNK_ROWS", 7)  # several chunks, the last one partial
    n = 45
    chroms = pd.Categorical(np.repeat(["chr2", "chr10", "chrX"], [20, 20, 5]))
    starts = rng.integers(0, 10**6, n)
    starts[0] = 0
    ends = starts + 200
    extra = [np.full((n, 1), ord("B"), np.uint8)]
    path = tmp_path / name
    with textio.open_output(path) as handle:
        tabular.write_table(handle, chroms, starts, ends, extra)
    data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    assert data.decode() == "".join(f"{c}\t{s}\t{e}\tB\n" for c, s, e in zip(chroms, starts, ends))


def test_write_table_plain_string_chroms(tmp_path):
    path = tmp_path / "t.bed"
    with textio.open_output(path) as handle:
        tabular.write_table(handle, np.array(["b", "a", "b"]), np.array([5, 0, 10]), np.array([6, 1, 11]))
    assert path.read_text() == "b\t5\t6\na\t0\t1\nb\t10\t11\n"
