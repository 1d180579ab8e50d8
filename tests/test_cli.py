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
    assert "factornet: error: unrecognized arguments: --no-such-flag" in capsys.readouterr().err
