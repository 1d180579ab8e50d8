"""factornet_core.atomic: outputs appear all together on success and not at all on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from factornet_core.atomic import OutputSet, atomic_folder, atomic_output, output_problem, user_path
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
    with pytest.raises(FactorNetError) as info, atomic_output(tmp_path / "nope" / "x.txt"):
        pass
    assert str(info.value) == (
        f"output '{tmp_path}/nope/x.txt' cannot be written: folder '{tmp_path}/nope' does not exist; create it first"
    )


def test_output_problems_name_the_users_path_never_the_temporary_one(tmp_path):
    sheet = tmp_path / "samplesheet.tsv"
    sheet.write_text("x\n")
    folder = tmp_path / "outdir.bw"
    folder.mkdir()
    expected = {
        folder: "is a folder, expected a file: give the path of the file to write",
        sheet / "p.tsv.gz": f"cannot be written: '{sheet}' is a file, not a folder; give a path in a folder",
        sheet
        / "a"
        / "p.tsv.gz": f"cannot be written: '{sheet}' is a file, not a folder; give a path in a folder",
    }
    for final, problem in expected.items():
        assert output_problem(final) == problem
        with pytest.raises(FactorNetError) as info, atomic_output(final):
            pass
        assert str(info.value) == f"output '{final}' {problem}"
    assert output_problem(folder, "folder") is None and output_problem(folder, "prefix") is None
    assert output_problem(tmp_path / "fine.tsv") is None
    assert output_problem("/proc/p.tsv.gz").startswith("cannot be written in folder '/proc' (")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outdir.bw", "samplesheet.tsv"]  # no probe left


def test_commit_onto_a_folder_made_meanwhile_names_the_output(tmp_path):
    final = tmp_path / "p.tsv"
    with pytest.raises(FactorNetError) as info, OutputSet() as outs:
        outs.path(final).write_text("x")
        final.mkdir()  # appears while the run goes on
    assert (
        str(info.value)
        == f"output '{final}' is a folder, expected a file: give the path of the file to write"
    )


def test_user_path_reverses_the_temporary_names():
    assert user_path("/proc/.p.tsv.gz.x1q_lit7.part.tsv.gz") == "/proc/p.tsv.gz"
    assert user_path("/t/.outdir.bw.nmobobqj.part.bw") == "/t/outdir.bw"
    assert user_path("/t/.sim.ab_cd123.part") == "/t/sim"  # atomic_folder's folder
    assert user_path("/t/.hidden.tsv") == "/t/.hidden.tsv" and user_path("p.part.tsv") == "p.part.tsv"


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


def test_a_device_or_pipe_is_refused_as_an_output_and_left_alone(tmp_path):
    """Outputs are renamed onto their path when done: as root, ``-o /dev/null`` would replace the device."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (Path(os.devnull), fifo):
        reason = output_problem(target)
        assert reason == (
            "is not a regular file (a device, pipe or socket): outputs replace their path when done; give a file path"
        )
        with pytest.raises(FactorNetError, match="is not a regular file"), OutputSet() as outs:
            outs.path(target)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert output_problem(tmp_path / "new.tsv") is None
