"""Every Galaxy wrapper lints clean and its <tests> pass in a real Galaxy server (tests/galaxy/run_galaxy_tests.py).

Needs the cached Galaxy venv from tests/galaxy/install_galaxy.sh and the `factornet` executable;
skips with the reason when either is missing. Takes ~1 min to start Galaxy plus ~30 s per test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WRAPPERS = REPO / "galaxy_wrappers"
CACHE = Path(os.environ.get("FACTORNET_CACHE", Path.home() / ".cache" / "factornet"))
GALAXY_VENV = CACHE / "galaxy-venv"
PLANEMO = CACHE / "planemo-venv" / "bin" / "planemo"

pytestmark = pytest.mark.galaxy


def _factornet_bin() -> Path | None:
    """The folder holding `factornet`: $FACTORNET_BIN, next to this Python, or on PATH."""
    candidates = [os.environ.get("FACTORNET_BIN"), str(Path(sys.executable).parent)]
    found = shutil.which("factornet")
    if found:
        candidates.append(str(Path(found).parent))
    for c in candidates:
        if c and (Path(c) / "factornet").exists():
            return Path(c)
    return None


def _expected_tests() -> int:
    """Number of <test> elements over all tool XMLs in galaxy_wrappers/."""
    total = 0
    for path in WRAPPERS.glob("*.xml"):
        root = ET.parse(path).getroot()
        if root.tag == "tool":
            total += len(root.findall("./tests/test"))
    return total


def test_wrappers_pass_in_real_galaxy(tmp_path):
    if not (GALAXY_VENV / "bin" / "galaxy-tool-test").exists():
        pytest.skip(f"no Galaxy venv at {GALAXY_VENV}; run tests/galaxy/install_galaxy.sh")
    project_bin = _factornet_bin()
    if project_bin is None:
        pytest.skip("no `factornet` executable; pip install -e . in the project venv")
    expected = _expected_tests()
    assert expected > 0, "no <test> in galaxy_wrappers/*.xml"

    summary_path = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "run_galaxy_tests.py"),
            "--galaxy-venv",
            str(GALAXY_VENV),
            "--project-bin",
            str(project_bin),
            "--summary-json",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        timeout=None,  # the runner bounds itself (start + a limit scaled by the number of tests)
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    summary = json.loads(summary_path.read_text())
    assert summary["tests_run"] == expected, report
    assert summary["passed"] == expected and summary["failed"] == 0, report


def test_wrappers_lint_clean():
    """`planemo lint` (XSD, tests, help RST, citations, ...) reports no warning or error."""
    if not PLANEMO.exists():
        pytest.skip(f"no planemo at {PLANEMO}; run tests/galaxy/install_galaxy.sh")
    proc = subprocess.run(
        [str(PLANEMO), "lint", "--fail_level", "warn", str(WRAPPERS)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    linted = proc.stdout.count("Linting tool ")
    n_tools = sum(1 for p in WRAPPERS.glob("*.xml") if ET.parse(p).getroot().tag == "tool")
    assert linted == n_tools, proc.stdout
