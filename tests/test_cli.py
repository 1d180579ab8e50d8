"""factornet_tools.cli: exit codes, one-line errors without tracebacks, --version."""

from __future__ import annotations

import pytest

from factornet_core import __version__
from factornet_tools.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"factornet {__version__}"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["bin", "--chrom-sizes", "{tmp}/missing.sizes"],
            "chromosome sizes file '{tmp}/missing.sizes' does not exist",
        ),
        (
            [
                "evaluate",
                "--predictions",
                "{tmp}/p.tsv",
                "--labels",
                "{tmp}/l.tsv",
                "--out-prefix",
                "{tmp}/e",
            ],
            "does not exist",
        ),
        (["bag", "{tmp}/a.tsv", "{tmp}/b.tsv", "--out", "{tmp}/c.tsv"], "does not exist"),
        (["inspect", "{tmp}/m.keras"], "does not exist"),
        (
            [
                "predict",
                "--model",
                "{tmp}/m.keras",
                "--genome",
                "{tmp}/g.fa",
                "-o",
                "{tmp}/o.tsv",
                "--cell",
                "A",
            ],
            "model file '{tmp}/m.keras' does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1, err  # one line, no traceback
    assert err[0].startswith(f"factornet {argv[0]}: error: ")
    assert message.format(tmp=tmp_path) in err[0]


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["inspect", "m.keras", "--no-such-flag"])
    assert exc.value.code == 2
    assert "factornet inspect: error: unrecognized arguments: --no-such-flag" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--samplesheet", "{tmp}/s.tsv", "--genome", "{tmp}/g.fa", "-o", "{tmp}/m.keras"],
        ["import-legacy", "{tmp}/legacy", "-o", "{tmp}/m.keras"],
    ],
)
def test_an_existing_model_is_not_replaced_without_force(tmp_path, capsys, argv):
    """A model costs hours to make: -o refuses an existing file (as folders refuse without --force)."""
    model = tmp_path / "m.keras"
    model.write_bytes(b"a model trained yesterday")
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"factornet {argv[0]}: error: -o/--out {str(model)!r} exists: use --force to replace it, or choose "
        "another path"
    ]
    assert model.read_bytes() == b"a model trained yesterday"
    # with --force the check passes and the run goes on to its next (here: missing input) error
    assert main([*argv, "--force"]) == 2
    assert "exists: use --force" not in capsys.readouterr().err
    assert model.read_bytes() == b"a model trained yesterday"  # nothing replaced by a failed run


def test_resuming_an_interrupted_retraining_needs_no_force(tmp_path, capsys):
    (tmp_path / "m.keras").write_bytes(b"old model")
    argv = ["train", "--samplesheet", f"{tmp_path}/s.tsv", "--genome", f"{tmp_path}/g.fa", "-o"]
    assert main([*argv, str(tmp_path / "m.keras"), "--resume"]) == 2  # no checkpoint folder: refused
    assert "exists: use --force" in capsys.readouterr().err
    (tmp_path / "m.keras.resume").mkdir()
    assert main([*argv, str(tmp_path / "m.keras"), "--resume"]) == 2  # next error: the missing samplesheet
    assert "samplesheet file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["evaluate", "--predictions", "a", "--peaks", "b", "--out-prefix", "x", "--bogus"],
                                  ["bag", "a", "b", "--out", "c", "--zzz"]])  # fmt: skip
def test_unknown_option_is_reported_by_the_subcommand(argv, capsys):
    """An option the subcommand lacks is its usage error ("factornet evaluate: error: ..."), not the top
    level's ("factornet: error: ...", with the top-level usage that does not show the subcommand's options)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.strip().splitlines()[-1] == f"factornet {argv[0]}: error: unrecognized arguments: {argv[-1]}"
    assert err.startswith(f"usage: factornet {argv[0]} ")
