"""`factornet --help` / `--version` start fast: they import no subcommand module, and every subcommand
listed in the top-level help really exists with that name and summary."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from factornet_tools import cli

HEAVY = ("pandas", "tensorflow", "keras", "matplotlib", "scipy", "pyBigWig", "pybedtools")


@pytest.mark.parametrize("args", [["--help"], ["--version"], []])
def test_top_level_imports_nothing_heavy(args):
    code = (
        "import sys\n"
        "from factornet_tools import cli\n"
        "try:\n"
        f"    cli.main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_every_listed_subcommand_registers_under_its_name():
    full = _subparsers(cli.build_parser())
    assert list(full.choices) == list(cli.SUBCOMMANDS)
    summaries = {a.dest: a.help for a in full._choices_actions}
    assert summaries == cli.SUBCOMMANDS


def test_only_the_chosen_subcommand_gets_its_full_parser():
    sub = _subparsers(cli.build_parser(["bag", "--help"]))
    option_strings = {
        name: {s for a in p._actions for s in a.option_strings} for name, p in sub.choices.items()
    }
    assert "--method" in option_strings["bag"]
    assert option_strings["train"] == set()  # a stub: listed, nothing imported


def test_help_shows_no_empty_or_doubled_defaults():
    for name in cli.SUBCOMMANDS:
        if name == "interpret":
            continue
        parser = _subparsers(cli.build_parser([name])).choices[name]
        text = parser.format_help()
        for bad in ("(default: None)", "(default: [])", "(default: )", "%%", "(default: False)"):
            assert bad not in text, (name, bad)
        formatter = parser._get_formatter()
        for action in parser._actions:
            shown = formatter._get_help_string(action) if action.help else ""
            if "(default: %(default)s)" in shown:  # added by the formatter: the text must not state one too
                assert "default" not in shown.replace("(default: %(default)s)", ""), (name, shown)
