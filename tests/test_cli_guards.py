"""Guards every subcommand shares, in one place (tools/cli.py, tools/common.py): an output that would
destroy an input is refused before work; OS-level faults and non-UTF-8 files give one line and exit 2;
SIGTERM leaves no partial output."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factornet_tools import cli

PRED = "chr\tstart\tstop\tCTCF\nchr1\t0\t200\t0.1\nchr1\t50\t250\t0.9\n"


def _pred(path: Path, text: str = PRED) -> Path:
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return path


def _run(capsys, *argv: str) -> tuple[int, str]:
    rc = cli.main([str(a) for a in argv])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("link", [False, True])
def test_output_that_is_an_input_is_refused_and_input_kept(tmp_path, capsys, link):
    a, b = _pred(tmp_path / "a.tsv.gz"), _pred(tmp_path / "b.tsv.gz")
    before = a.read_bytes()
    out = a
    if link:
        out = tmp_path / "alias.tsv.gz"
        out.symlink_to(a)
    rc, err = _run(capsys, "bag", a, b, "--out", out)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("factornet bag: error: output --out")
    assert "is the same file as input --predictions" in err
    assert a.read_bytes() == before


def test_output_folder_holding_an_input_is_refused(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    motifs = folder / "motifs.meme"
    motifs.write_text("MEME version 4\n")
    rc, err = _run(capsys, "simulate", "--out", folder, "--motifs", motifs, "--force")
    assert rc == 2 and "is inside input --motifs" in err
    assert motifs.read_text() == "MEME version 4\n"


def test_distinct_output_passes_the_guard(tmp_path, capsys):
    a, b = _pred(tmp_path / "a.tsv.gz"), _pred(tmp_path / "b.tsv.gz")
    rc, _ = _run(capsys, "bag", a, b, "--out", tmp_path / "bagged.tsv.gz")
    assert rc == 0 and (tmp_path / "bagged.tsv.gz").exists()


def test_prefix_output_that_would_write_over_an_input_is_refused(tmp_path, capsys):
    """--bigwig-out trk writes trk.<TF>.bw: an input track named trk.CTCF.bw would be replaced."""
    track = tmp_path / "trk.CTCF.bw"
    track.write_bytes(b"a bigWig, as far as the guard cares")
    model = tmp_path / "m.keras"
    model.write_bytes(b"model")
    rc, err = _run(capsys, "predict", "--model", model, "--genome", model, "--track", f"DNASE={track}",
                   "-o", tmp_path / "p.tsv.gz", "--bigwig-out", tmp_path / "trk")  # fmt: skip
    assert rc == 2 and err.count("\n") == 1
    assert "output --bigwig-out" in err and "is a prefix of input --track (trk.CTCF.bw)" in err
    assert track.read_bytes() == b"a bigWig, as far as the guard cares"


def test_prefix_output_spelled_like_an_input_is_allowed(tmp_path, capsys):
    """evaluate --out-prefix p.tsv.gz writes p.tsv.gz.metrics.json etc.: nothing of the input is touched."""
    pred = _pred(tmp_path / "p.tsv.gz")
    labels = tmp_path / "labels.tsv"
    labels.write_text("chr\tstart\tstop\tCellC\nchr1\t0\t200\tU\nchr1\t50\t250\tB\n")
    rc, err = _run(capsys, "evaluate", "--predictions", pred, "--labels", labels, "--cell", "CellC",
                   "--out-prefix", pred)  # fmt: skip
    assert "destroy the input" not in err
    assert rc == 0, err
    assert (tmp_path / "p.tsv.gz.metrics.json").is_file() and gzip.open(pred, "rt").read() == PRED


def test_two_outputs_on_one_path_are_refused(tmp_path, capsys):
    sizes = tmp_path / "chrom.sizes"
    sizes.write_text("chr1\t1000\n")
    peaks = tmp_path / "peaks.bed"
    peaks.write_text("chr1\t100\t300\n")
    out = tmp_path / "a.tsv"
    rc, err = _run(capsys, "bin", "--chrom-sizes", sizes, "--conservative", peaks, "--cell", "X",
                   "--out-labels", out, "--out-bins", out)  # fmt: skip
    assert rc == 2 and "outputs --out-labels and --out-bins are the same path" in err
    assert not out.exists()


def test_non_utf8_input_is_one_line(tmp_path, capsys):
    a = tmp_path / "a.tsv.gz"
    with gzip.open(a, "wb") as handle:  # a Latin-1 header
        handle.write(PRED.replace("CTCF", "CTCF\xe9").encode("latin-1"))
    b = _pred(tmp_path / "b.tsv.gz")
    rc, err = _run(capsys, "bag", a, b, "--out", tmp_path / "o.tsv.gz")
    assert rc == 2 and err.count("\n") == 1 and err.startswith("factornet bag: error:")
    assert not (tmp_path / "o.tsv.gz").exists()


def test_output_path_that_is_a_folder_is_one_line(tmp_path, capsys):
    a, b = _pred(tmp_path / "a.tsv.gz"), _pred(tmp_path / "b.tsv.gz")
    (tmp_path / "outdir").mkdir()
    rc, err = _run(capsys, "bag", a, b, "--out", tmp_path / "outdir")
    assert rc == 2 and err.count("\n") == 1 and err.startswith("factornet bag: error:")


def test_sigterm_leaves_no_partial_output(tmp_path):
    out = tmp_path / "sim"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "factornet_tools.cli",
            "simulate",
            "--out",
            str(out),
            "--chrom-length",
            "3000000",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".sim.") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_output_in_a_missing_folder_is_refused_before_any_work(tmp_path, capsys):
    a, b = _pred(tmp_path / "a.tsv.gz"), _pred(tmp_path / "b.tsv.gz")
    rc, err = _run(capsys, "bag", a, b, "--out", tmp_path / "nodir" / "o.tsv.gz")
    assert rc == 2 and err.count("\n") == 1
    assert "output --out" in err and "nodir' does not exist; create it first" in err


def test_one_file_given_twice_to_a_pooling_option_is_refused(tmp_path, capsys):
    """`prepare --bam a --bam a` (or a link, or a copy) pooled the replicate twice; `bag a a` weighted it twice."""
    a = tmp_path / "a.tsv"
    a.write_text("chr\tstart\tstop\tCTCF\nchr1\t0\t200\t0.5\n")
    copy, link = tmp_path / "copy.tsv", tmp_path / "link.tsv"
    copy.write_bytes(a.read_bytes())
    link.symlink_to(a)
    for other in (a, copy, link):
        out = tmp_path / "bag.tsv"
        assert cli.main(["bag", str(a), str(other), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert (
            err.startswith("factornet bag: error: --predictions is given the same file twice")
            and "\n" not in err
        )
        assert not out.exists()
    b = tmp_path / "b.tsv"
    b.write_text("chr\tstart\tstop\tCTCF\nchr1\t0\t200\t0.7\n")  # same size as a, other bytes: not a copy
    assert cli.main(["bag", str(a), str(b), "--out", str(tmp_path / "ok.tsv")]) == 0


def _unwritable_output_argv(sub: str, tmp: Path, out: Path) -> list:
    """``sub``'s command line with real-looking inputs (the output check comes before they are read)."""
    pred = _pred(tmp / "pred.tsv.gz")
    labels = tmp / "labels.tsv"
    labels.write_text("chr\tstart\tstop\tK562\nchr1\t0\t200\tB\n")
    return {
        "predict": ["predict", "--model", tmp / "m.keras", "--genome", tmp / "g.fa", "-o", out],
        "prepare": ["prepare", "--bigwig", tmp / "in.bw", "--chrom-sizes", tmp / "g.sizes", "-o", out],
        "call": ["call", pred, "--top", "5", "-o", out],
        "evaluate": ["evaluate", "--predictions", pred, "--labels", labels, "--out-prefix", out],
    }[sub]


@pytest.mark.parametrize("sub", ["predict", "prepare", "call", "evaluate"])
def test_unwritable_output_names_the_option_and_the_user_path(tmp_path, capsys, sub):
    """No internal temporary name ('.p.tsv.gz.x1q_lit7.part.tsv.gz') and no 'folder does not exist' for
    a file in the way: the option, the path as given, and the real cause, before any work."""
    flag = "--out-prefix" if sub == "evaluate" else "--out"
    sheet = tmp_path / "samplesheet.tsv"
    sheet.write_text("cell_type\tkind\tname\tpath\n")
    rc, err = _run(capsys, *_unwritable_output_argv(sub, tmp_path, sheet / "p.tsv.gz"))
    assert rc == 2 and err == (
        f"factornet {sub}: error: output {flag} '{sheet}/p.tsv.gz' cannot be written: '{sheet}' is a file, "
        "not a folder; give a path in a folder\n"
    )
    rc, err = _run(capsys, *_unwritable_output_argv(sub, tmp_path, Path("/proc/p.tsv.gz")))
    assert rc == 2 and err.startswith(
        f"factornet {sub}: error: output {flag} '/proc/p.tsv.gz' cannot be written in folder '/proc' ("
    )
    assert err.endswith("): choose another output folder\n") and ".part" not in err
    if sub != "evaluate":  # a prefix may name a folder: its files are written beside it
        folder = tmp_path / "outdir.bw"
        folder.mkdir()
        rc, err = _run(capsys, *_unwritable_output_argv(sub, tmp_path, folder))
        assert rc == 2 and err == (
            f"factornet {sub}: error: output --out '{folder}' is a folder, expected a file: "
            "give the path of the file to write\n"
        )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no probe left


def test_os_error_under_a_temporary_name_names_the_users_path(tmp_path):
    """A write that fails under the atomic temporary name (disk full, ...) names the output as given."""
    temp = tmp_path / ".p.tsv.gz.x1q_lit7.part.tsv.gz"
    exc = OSError(28, "No space left on device", str(temp))
    assert cli._describe_os_error(exc) == (
        f"no space left on the device while writing '{tmp_path}/p.tsv.gz': free space or choose another output folder"
    )
    exc = IsADirectoryError(21, "Is a directory", str(tmp_path / ".outdir.bw.nmobobqj.part.bw"))
    assert cli._describe_os_error(exc) == f"'{tmp_path}/outdir.bw' is a folder, expected a file"
