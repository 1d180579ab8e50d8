"""One real Galaxy per pytest session for every `galaxy`-marked test that asks for it.

Starting Galaxy costs 1-2 minutes (more on a busy CI machine), so the wrappers' tool tests, the workflow test and the
browser test share one server: the session-scoped ``galaxy`` fixture starts it on first use (tests/galaxy/
run_galaxy_tests.py's ``galaxy_server``) and stops it when the session ends. Tests that do not ask for it (lint, XML
checks) never start it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_galaxy_tests as rgt  # noqa: E402  (a script folder, not a package)

CACHE = Path(os.environ.get("FACTORNET_CACHE", Path.home() / ".cache" / "factornet"))
GALAXY_VENV = CACHE / "galaxy-venv"
PLANEMO = CACHE / "planemo-venv" / "bin" / "planemo"


def factornet_bin() -> Path | None:
    """The folder holding `factornet`: $FACTORNET_BIN, next to this Python, or on PATH."""
    beside = Path(sys.executable).parent
    return rgt.find_project_bin(beside if (beside / "factornet").exists() else None)


@pytest.fixture(scope="session")
def galaxy(tmp_path_factory) -> rgt.GalaxyServer:
    # Development: FACTORNET_GALAXY_URL + FACTORNET_GALAXY_KEY reuse a server already started with galaxy_server().
    if os.environ.get("FACTORNET_GALAXY_URL"):
        yield rgt.GalaxyServer(
            url=os.environ["FACTORNET_GALAXY_URL"],
            admin_key=os.environ["FACTORNET_GALAXY_KEY"],
            work=tmp_path_factory.mktemp("galaxy"),
            env=dict(os.environ),
            galaxy_bin=GALAXY_VENV / "bin",
            tools=rgt.discover_wrappers(rgt.REPO / "galaxy_wrappers"),
            start_s=0.0,
        )
        return
    if not (GALAXY_VENV / "bin" / "galaxy-web").exists():
        pytest.skip(f"no Galaxy venv at {GALAXY_VENV}; run tests/galaxy/install_galaxy.sh")
    project_bin = factornet_bin()
    if project_bin is None:
        pytest.skip("no `factornet` executable; pip install -e . in the project venv")
    work = tmp_path_factory.mktemp("galaxy")
    try:
        with rgt.galaxy_server(galaxy_venv=GALAXY_VENV, project_bin=project_bin, work=work) as server:
            yield server
    except rgt.GalaxyError as exc:
        pytest.fail(f"Galaxy did not start: {exc}")
