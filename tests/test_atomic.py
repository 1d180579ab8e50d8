"""factornet_core.atomic: outputs appear all together on success and not at all on failure."""

from __future__ import annotations

import os

import pytest

from factornet_core.atomic import OutputSet, atomic_folder, atomic_output
from factornet_core.errors import FactorNetError


def test_output_set_commits_all_or_nothing(tmp_path):
    with OutputSet() as outs:
        a, b = outs.path(tmp_path / "a.tsv.gz"), outs.path(tmp_path / "b.png")
        assert a.name.endswith(".part.tsv.gz") and b.name.endswith(".part.png")  # writers see the suffix
        a.write_text("A")
        b.write_text("B")
        assert not (tmp_path / "a.tsv.gz").exists()
    assert (tmp_path / "a.tsv.gz").read_text() == "A" and (tmp_path / "b.png").read_text() == "B"
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.tsv.gz").stat().st_mode & 0o777 == 0o666 & ~mask

    with pytest.raises(RuntimeError), OutputSet() as outs:
        outs.path(tmp_path / "c.txt").write_text("C")
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tsv.gz", "b.png"]  # no c, no .part


def test_atomic_output_missing_folder_is_a_clear_error(tmp_path):
    with (
        pytest.raises(FactorNetError, match="output directory .* does not exist"),
        atomic_output(tmp_path / "nope" / "x.txt"),
    ):
        pass


def test_atomic_folder_replaces_only_with_force(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        (tmp / "f").write_text("1")
    assert (out / "f").read_text() == "1"
    with pytest.raises(FactorNetError, match="exists and is not empty: use --force"), atomic_folder(out):
        pass
    with pytest.raises(ValueError), atomic_folder(out, force=True) as tmp:
        (tmp / "g").write_text("2")
        raise ValueError
    assert sorted(p.name for p in out.iterdir()) == ["f"]  # failed replacement left the old folder
    with atomic_folder(out, force=True) as tmp:
        (tmp / "g").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["g"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folders left
