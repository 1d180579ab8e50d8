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


def _all_parsers(parser: argparse.ArgumentParser, path: str = "factornet"):
    """Every parser under ``parser`` (nested ones too: ``interpret motifs``, ``models fetch``)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _all_parsers(child, f"{path} {name}")


def _option_texts(parser: argparse.ArgumentParser) -> list[str]:
    """The help line of every option as printed (whitespace collapsed), without the usage line."""
    formatter = parser._get_formatter()
    texts = []
    for action in parser._actions:
        if not action.help or action.help == argparse.SUPPRESS:
            continue
        texts.append(" ".join(formatter._expand_help(action).split()))
    return texts


def test_help_shows_no_empty_or_doubled_defaults():
    parsers = list(_all_parsers(cli.build_parser()))
    assert {"factornet interpret motifs", "factornet models fetch", "factornet train"} <= {
        p for p, _ in parsers
    }
    for path, parser in parsers:
        text = parser.format_help()
        for bad in (
            "(default: None)",
            "(default: [])",
            "(default: )",
            "%%",
            "(default: False)",
            "(default: '",
        ):
            assert bad not in text, (path, bad)
        for line in _option_texts(parser):
            assert line.count("(default:") <= 1, (path, line)
            assert ") (" not in line, (
                path,
                line,
            )  # "(bp) (default: 26)": one parenthetical, "(bp; default: 26)"
            assert "recipe's" not in line, (path, line)  # a default the reader cannot see


def test_numeric_zero_defaults_are_shown_and_merged_into_one_parenthetical():
    parser = _subparsers(cli.build_parser(["train"])).choices["train"]
    lines = {a.dest: line for a, line in zip([a for a in parser._actions if a.help], _option_texts(parser))}
    assert lines["seed"].endswith("(deterministic on CPU; default: 0)")
    assert lines["kernel_width"] == "first-layer kernel width (bp; default: 26)"
    assert "(default: 0.0)" in lines["open_negatives"]


def test_demo_help_states_the_readme_time_and_a_real_epochs_default():
    import re
    from pathlib import Path

    from factornet_core.recipe import RecipeSettings

    parser = _subparsers(cli.build_parser(["demo"])).choices["demo"]
    said = re.search(r"About (\d+–\d+) minutes", " ".join(parser.description.split())).group(1)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"the demo itself about {said} minutes" in " ".join(readme.split())
    epochs = next(a for a in parser._actions if a.dest == "epochs")
    assert epochs.default == RecipeSettings.epochs
