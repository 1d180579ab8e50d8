"""Guards every subcommand shares, in one place (tools/cli.py, tools/common.py): an output that would
destroy an input is refused before work; OS-level faults and non-UTF-8 files give one line and exit 2;
SIGTERM leaves no partial output."""

from __future__ import annotations

import argparse
import gzip
import os
import re
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
    assert "is the same file as input PRED (a.tsv.gz)" in err  # positional: named as in the usage line
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
    """evaluate --out-prefix ev writes ev.metrics.tsv: labels named so would be replaced."""
    pred = _pred(tmp_path / "p.tsv.gz")
    labels = tmp_path / "ev.metrics.tsv"
    labels.write_text("chr\tstart\tstop\tCellC\nchr1\t0\t200\tU\nchr1\t50\t250\tB\n")
    before = labels.read_bytes()
    rc, err = _run(capsys, "evaluate", "--predictions", pred, "--labels", labels, "--cell", "CellC",
                   "--out-prefix", tmp_path / "ev")  # fmt: skip
    assert rc == 2 and err.count("\n") == 1
    assert f"output '{tmp_path}/ev.metrics.tsv' of --out-prefix is input --labels" in err
    assert labels.read_bytes() == before and not (tmp_path / "ev.metrics.json").exists()


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
            err.startswith("factornet bag: error: the PRED inputs are given the same file twice")
            and "\n" not in err
        )
        assert not out.exists()
    assert cli.main(["merge", str(a), str(copy), "--out", str(tmp_path / "m.tsv")]) == 2
    assert "factornet merge: error: the SHARD inputs are given the same file twice" in capsys.readouterr().err
    b = tmp_path / "b.tsv"
    b.write_text("chr\tstart\tstop\tCTCF\nchr1\t0\t200\t0.7\n")  # same size as a, other bytes: not a copy
    assert cli.main(["bag", str(a), str(b), "--out", str(tmp_path / "ok.tsv")]) == 0


# ----------------------------------------------------------- a single-value option given twice
@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["train", "--exclude-chroms", "chr3", "--exclude-chroms", "chr1"],
            "argument --exclude-chroms: given twice (chr3, then chr1): give it once; lists are comma-separated",
        ),
        (
            ["train", "-v", "chr2", "--valid-chroms", "chr3"],
            "argument -v/--valid-chroms: given twice (chr2, then chr3): give it once; lists are comma-separated",
        ),
        (["predict", "--model", "a.keras", "--model", "b.keras"], "argument --model: given twice (a.keras, then b.keras): give it once"),
        (
            ["evaluate", "--predictions", "a", "b", "--predictions", "c"],
            "argument --predictions: given twice (a b, then c): give all its values after one --predictions",
        ),
        (
            ["interpret", "motifs", "--threshold", "0.5", "--threshold", "0.7"],
            "argument --threshold: given twice (0.5, then 0.7): give it once",
        ),
        (["models", "list", "--model-cache", "a", "--dest", "b"], "argument --dest: given twice (a, then b): give it once"),
    ],
)  # fmt: skip
def test_single_value_option_given_twice_is_refused(capsys, argv, line):
    """argparse's ``store`` keeps the last value silently (``--exclude-chroms chr3 --exclude-chroms chr1``
    held out chr1 only, with exit 0): every subcommand's parser refuses the second one instead."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert (
        err.strip().splitlines()[-1]
        == f"factornet {' '.join(argv[:2] if argv[0] in ('interpret', 'models') else argv[:1])}: error: {line}"
    )


def test_repeatable_options_still_repeat():
    """``action="append"`` options (--track, --cell, --bam, ...) collect every value; the record of given
    options does not leak into the parsed arguments."""
    args = cli.build_parser().parse_args(
        ["predict", "--model", "m.keras", "--genome", "g.fa", "--out", "o.tsv", "--track", "A=a.bw", "--track", "B=b.bw"]
    )  # fmt: skip
    assert args.track == ["A=a.bw", "B=b.bw"]
    assert not any(name.startswith("_factornet") for name in vars(args))


# ------------------------------------------ Galaxy and Nextflow never give a single-value option twice
REPO = Path(__file__).resolve().parents[1]
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _subparser(words: list[str]):
    """The parser of ``factornet <words...>`` (``["interpret", "motifs"]``)."""
    parser = cli.build_parser()
    for word in words:
        choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        parser = choices[word]
    return parser


def _cheetah_flags(command: str) -> list[tuple[str, tuple, bool]]:
    """Each ``--flag`` of a Cheetah command template with its branch path (``(if-block, branch)`` pairs)
    and whether it sits inside a ``#for`` loop."""
    stack: list[list] = []
    found, blocks = [], 0
    for line in command.splitlines():
        word = line.strip()
        if word.startswith("#if"):
            blocks += 1
            stack.append(["if", blocks, 0])
        elif word.startswith(("#elif", "#else")):
            stack[-1][2] += 1
        elif word.startswith("#for"):
            stack.append(["for"])
        elif word.startswith("#end"):
            stack.pop()
        elif not word.startswith("#"):
            path = tuple((f[1], f[2]) for f in stack if f[0] == "if")
            looped = any(f[0] == "for" for f in stack)
            found += [(flag, path, looped) for flag in _FLAG.findall(re.sub(r"'[^']*'", "", word))]
    return found


def _exclusive(a: tuple, b: tuple) -> bool:
    """Whether two branch paths lie in different branches of one ``#if`` block."""
    branch_a = dict(a)
    return any(block in branch_a and branch_a[block] != branch for block, branch in b)


def _galaxy_commands() -> list[tuple[str, str]]:
    macros = (REPO / "galaxy_wrappers" / "macros.xml").read_text()
    tokens = dict(re.findall(r'<token name="(@\w+@)"><!\[CDATA\[(.*?)\]\]></token>', macros, re.S))
    out = []
    for path in sorted((REPO / "galaxy_wrappers").glob("factornet_*.xml")):
        command = re.search(r"<command[^>]*>\s*<!\[CDATA\[(.*?)\]\]>", path.read_text(), re.S).group(1)
        for name, text in tokens.items():
            command = command.replace(name, text)
        out.append((path.name, command))
    return out


@pytest.mark.parametrize("name, command", _galaxy_commands(), ids=lambda x: x if x.endswith(".xml") else "")
def test_galaxy_commands_give_each_single_value_option_once(name, command):
    """A Galaxy command template passes a non-repeatable option at most once on any path through its
    ``#if`` branches, and never inside a ``#for`` loop (the CLI now refuses it; before, the last one won)."""
    words = re.search(r"^factornet ([a-z-]+(?: (?:motifs|saliency|list|fetch))?)(?=\s)", command, re.M)
    parser = _subparser(words.group(1).split())
    actions = parser._option_string_actions
    seen: dict[str, list[tuple]] = {}
    for flag, path, looped in _cheetah_flags(command[words.end() :]):
        assert flag in actions, f"{name}: {flag} is not an option of factornet {words.group(1)}"
        action = actions[flag]
        if isinstance(action, (argparse._AppendAction, argparse._StoreTrueAction)):
            continue
        assert not looped, f"{name}: single-value {flag} inside a #for loop"
        for other in seen.get(action.dest, []):
            assert _exclusive(path, other), f"{name}: {flag} can be given twice"
        seen.setdefault(action.dest, []).append(path)
    assert seen, f"{name}: no option found (parser of the template broken?)"


def test_cheetah_branch_paths_tell_exclusive_from_repeated():
    """The template reader of the test above, on a hand-made template."""
    flags = _cheetah_flags(
        "#if $a:\n  --x '1'\n#else:\n  --x '2'\n#end if\n--x 3\n#for $t in $ts:\n  --y '$t'\n#end for"
    )
    assert flags == [
        ("--x", ((1, 0),), False),
        ("--x", ((1, 1),), False),
        ("--x", (), False),
        ("--y", (), True),
    ]
    assert _exclusive(flags[0][1], flags[1][1]) and not _exclusive(flags[0][1], flags[2][1])


def test_nextflow_train_and_baseline_args_do_not_repeat_the_script_options():
    """ext.args (conf/modules.config) are appended to a module's own options: none may give an option the
    module's script already gives (the CLI would refuse the run)."""
    config = (REPO / "nextflow" / "conf" / "modules.config").read_text()
    for block in re.finditer(r"withName: 'FACTORNET_(\w+)' \{(.*?)\n    \}", config, re.S):
        module = REPO / "nextflow" / "modules" / "local" / "factornet" / block.group(1).lower() / "main.nf"
        script = module.read_text().split("script:", 1)[1].split("stub:", 1)[0]
        ext = set(_FLAG.findall(block.group(2))) - {"-g"}
        own = set(_FLAG.findall(script))
        assert not ext & own, f"{block.group(1)}: ext.args repeat {sorted(ext & own)}"
        assert all(len(re.findall(rf"\"{f} ", block.group(2))) <= 1 for f in ext), block.group(1)


# ------------------------------------------------------------------ one cell type's tracks, given once
def _cell_argv(sub: str, tmp_path: Path) -> list[str]:
    """Arguments every command taking a cell type's tracks needs, with files that exist (content unread:
    the track options are refused first)."""
    files = {n: tmp_path / n for n in ("m.keras", "g.fa", "r.bed")}
    for path in files.values():
        path.write_text("x\n")
    common = ["--genome", files["g.fa"]]
    return [str(a) for a in {
        "predict": ["predict", "--model", files["m.keras"], *common, "--out", tmp_path / "o.tsv"],
        "impute": ["impute", "--models", files["m.keras"], *common, "--out", tmp_path / "o.tsv"],
        "motifs": ["interpret", "motifs", "--model", files["m.keras"], *common, "--regions", files["r.bed"], "--out-dir", tmp_path / "o"],
        "saliency": ["interpret", "saliency", "--model", files["m.keras"], *common, "--regions", files["r.bed"], "--out-dir", tmp_path / "o"],
        "baseline": ["baseline", "--method", "accessibility", "--tf", "CTCF", *common, "--out", tmp_path / "o.tsv"],
    }[sub]]  # fmt: skip


@pytest.mark.parametrize("sub", ["predict", "impute", "motifs", "saliency", "baseline"])
def test_a_track_name_given_twice_is_refused(tmp_path, capsys, sub):
    """``--track DNASE=a --track MAPABILITY=m --track DNASE=b`` ran on b with exit 0; now refused, naming it."""
    a, m, b = (tmp_path / n for n in ("a.bw", "m.bw", "b.bw"))
    for path in (a, m, b):
        path.write_bytes(b"bw")
    argv = _cell_argv(sub, tmp_path) + [
        "--track",
        f"DNASE={a}",
        "--track",
        f"MAPABILITY={m}",
        "--track",
        f"DNASE={b}",
    ]
    rc, err = _run(capsys, *argv)
    assert rc == 2 and err.count("\n") == 1
    assert f"error: --track DNASE is given twice ({str(a)!r}, then {str(b)!r}): " in err
    assert not (tmp_path / "o.tsv").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("sub", ["predict", "impute", "motifs", "saliency", "baseline"])
def test_tracks_from_a_samplesheet_and_from_track_are_refused_together(tmp_path, capsys, sub):
    """``--samplesheet S --cell CellC --track DNASE=CellB.bw`` silently replaced CellC's DNASE by CellB's."""
    c, b = tmp_path / "CellC.bw", tmp_path / "CellB.bw"
    c.write_bytes(b"bw")
    b.write_bytes(b"bw")
    sheet = tmp_path / "s.tsv"
    sheet.write_text(f"cell_type\tkind\tname\tpath\nCellC\ttrack\tDNASE\t{c}\n")
    argv = _cell_argv(sub, tmp_path) + ["--samplesheet", sheet, "--cell", "CellC", "--track", f"DNASE={b}"]
    rc, err = _run(capsys, *argv)
    assert rc == 2 and err.count("\n") == 1
    assert "error: --track DNASE and --samplesheet/--cell CellC both give the cell type's tracks: " in err
    assert "or all by --track NAME=BIGWIG, not both" in err


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
