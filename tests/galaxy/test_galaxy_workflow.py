"""The Galaxy workflows in galaxy_wrappers/workflows/ follow IWC's layout and pass `planemo test` in a real Galaxy.

`planemo test --engine external_galaxy` runs each workflow's ``<name>-tests.yml`` against the session's Galaxy
(conftest.py): it uploads the test data, invokes the workflow, waits and checks the outputs' assertions.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / "galaxy_wrappers" / "workflows").glob("*/*.yml"))
WORKFLOWS = [p for p in WORKFLOWS if not p.stem.endswith("-tests") and not p.name.startswith(".")]
PLANEMO = (
    Path(os.environ.get("FACTORNET_CACHE", Path.home() / ".cache" / "factornet")) / "planemo-venv/bin/planemo"
)

pytestmark = pytest.mark.galaxy


def _planemo() -> str:
    if not PLANEMO.exists():
        pytest.skip(f"no planemo at {PLANEMO}; run tests/galaxy/install_galaxy.sh")
    return str(PLANEMO)


def test_there_is_a_workflow():
    assert [p.parent.name for p in WORKFLOWS] == ["factornet-impute", "factornet-predict"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.parent.name)
def test_workflow_follows_iwc_conventions(workflow):
    """`planemo workflow_lint --iwc`: README, CHANGELOG, tests, creator, licence, release, tool ids."""
    text = workflow.read_text()
    for key in ("creator:", "license: MIT", "release:"):
        assert key in text, f"{workflow.name} lacks {key}"
    release = text.split("release:")[1].split()[0].strip("'\"")
    assert f"## [{release}]" in (workflow.parent / "CHANGELOG.md").read_text(), (
        "CHANGELOG has no entry for release"
    )
    proc = subprocess.run(
        [_planemo(), "workflow_lint", "--iwc", "--fail_level", "warn", str(workflow.parent)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Tests appear structurally correct" in proc.stdout, proc.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.parent.name)
def test_workflow_passes_planemo_test(workflow, galaxy, tmp_path):
    tests_file = workflow.with_name(f"{workflow.stem}-tests.yml")
    n_cases = tests_file.read_text().count("\n- doc:") + tests_file.read_text().startswith("- doc:")
    out_json = tmp_path / "planemo.json"
    env = dict(os.environ, TMPDIR=str(tmp_path), HOME=str(tmp_path))  # planemo writes ~/.planemo
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        [
            _planemo(),
            "test",
            "--engine",
            "external_galaxy",
            "--galaxy_url",
            galaxy.url,
            "--galaxy_admin_key",
            galaxy.admin_key,
            "--no_shed_install",
            "--test_timeout",
            "1500",
            "--test_output",
            str(tmp_path / "planemo.html"),
            "--test_output_json",
            str(out_json),
            str(workflow),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=1800,
    )
    report = f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    assert out_json.exists(), report
    summary = json.loads(out_json.read_text())["summary"]
    assert summary["num_tests"] == n_cases >= 1, report
    assert summary["num_errors"] == 0 and summary["num_failures"] == 0, report
    assert proc.returncode == 0, report
