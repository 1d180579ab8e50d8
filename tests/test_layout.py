"""The house's layout rules, checked on the source itself (STYLE.md items 1 and 5; the architecture issue).

- no library or CLI function longer than ``MAX_FUNCTION_LINES`` lines of code (its docstring not counted);
- no library module longer than ``MAX_MODULE_LINES`` lines;
- the library never prints, parses argv or exits: that is the CLI's job;
- the peers that apply a model to a cell type (predict, motifs, saliency) do not import each other: they share
  ``factornet_core.inputs``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARY = sorted((REPO / "factornet_core").glob("*.py"))
CLI = sorted((REPO / "tools").glob("*.py"))
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the function's last line, less its docstring's lines."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_code_lines_counts_code_not_the_docstring():
    tree = ast.parse('def f():\n    """one\n    two\n    """\n    a = 1\n    return a\n')
    assert _code_lines(tree.body[0]) == 3


@pytest.mark.parametrize("path", LIBRARY + CLI, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_long_function(path):
    long = {f.name: _code_lines(f) for f in _functions(path) if _code_lines(f) > MAX_FUNCTION_LINES}
    assert not long, f"split these functions of {path.name} (lines of code): {long}"


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
def test_no_long_module(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_MODULE_LINES, f"{path.name} has {n} lines: split it by concept"


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
def test_library_neither_prints_nor_parses_argv_nor_exits(path):
    tree = ast.parse(path.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "argparse" not in imported
    calls = {
        ast.unparse(n.func)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name | ast.Attribute)
    }
    assert not calls & {"print", "exit", "sys.exit", "quit"}, calls & {"print", "exit", "sys.exit", "quit"}
    assert not any(isinstance(n, ast.Attribute) and ast.unparse(n) == "sys.argv" for n in ast.walk(tree))


@pytest.mark.parametrize("module", ["predict", "motifs", "saliency"])
def test_interpretation_and_prediction_are_peers(module):
    tree = ast.parse((REPO / "factornet_core" / f"{module}.py").read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    peers = {f"factornet_core.{p}" for p in ("predict", "motifs", "saliency")} - {f"factornet_core.{module}"}
    assert not names & peers, f"{module} imports {names & peers}: share factornet_core.inputs instead"
    assert "factornet_core.inputs" in names
