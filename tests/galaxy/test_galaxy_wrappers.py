"""Every Galaxy wrapper lints clean and its <tests> pass in a real Galaxy server (tests/galaxy/run_galaxy_tests.py).

Needs the cached Galaxy venv from tests/galaxy/install_galaxy.sh and the `factornet` executable;
skips with the reason when either is missing. The server is the session's (conftest.py): ~1 min to start, shared
with the workflow and browser tests, plus ~30 s per tool test.
"""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import run_galaxy_tests as rgt  # tests/galaxy is on sys.path (conftest.py)

REPO = Path(__file__).resolve().parents[2]
WRAPPERS = REPO / "galaxy_wrappers"
PLANEMO = (
    Path(os.environ.get("FACTORNET_CACHE", Path.home() / ".cache" / "factornet")) / "planemo-venv/bin/planemo"
)

pytestmark = pytest.mark.galaxy


def _tools() -> list[ET.Element]:
    return [r for r in (ET.parse(p).getroot() for p in sorted(WRAPPERS.glob("*.xml"))) if r.tag == "tool"]


def test_wrappers_pass_in_real_galaxy(galaxy):
    """Every wrapper's <tests> in the session's Galaxy (the same server as the workflow and browser tests)."""
    expected = sum(len(t.findall("./tests/test")) for t in _tools())
    assert expected > 0, "no <test> in galaxy_wrappers/*.xml"
    assert {t["id"] for t in galaxy.tools} >= {t.get("id") for t in _tools()}, "a wrapper is not served"
    summary = rgt.run_tool_tests(galaxy, parallel_tests=2)
    report = rgt.report(summary)
    assert summary["tests_run"] == expected, report
    assert summary["passed"] == expected and summary["failed"] == 0, report
    assert summary["ok"], report


def test_every_genome_input_offers_built_in_genomes():
    """A wrapper that passes --genome takes it from the reference_genome macro (built-in or history FASTA)."""
    for path in sorted(WRAPPERS.glob("factornet_*.xml")):
        text = path.read_text()
        if "--genome" not in text:
            continue
        assert '<expand macro="reference_genome"' in text, f"{path.name}: use the reference_genome macro"
        assert "@LINK_REFERENCE@" in text, f"{path.name}: link the genome with @LINK_REFERENCE@"
        assert "@LINK_GENOME@" not in text and 'macro="genome_input"' not in text, path.name
        # every output with genome coordinates gets the genome's dbkey
        assert 'macro="dbkey_from_reference"' in text or path.stem in {
            "factornet_train",
            "factornet_interpret_motifs",
            "factornet_interpret_saliency",
        }, f"{path.name}: outputs lack dbkey_from_reference"


def test_environment_variables_are_constants():
    """Galaxy reads an <environment_variable>'s value back with `cat`, so `$` in it reaches the tool unexpanded
    (OMP_NUM_THREADS='${GALAXY_SLOTS:-1}' made libgomp print "Invalid value"); slot-based thread counts are exported
    in the command by @TF_THREADS@ instead."""
    macros = ET.parse(WRAPPERS / "macros.xml").getroot()
    values = {v.get("name"): v.text for v in macros.iter("environment_variable")}
    assert values and all(re.fullmatch(r"[\w.-]+", text or "") for text in values.values()), values
    for path in sorted(WRAPPERS.glob("factornet_*.xml")):
        text = path.read_text()
        if 'macro="tf_environment"' in text:
            command = text[text.index("<command") :]
            assert command.split("<![CDATA[", 1)[1].lstrip().startswith("@TF_THREADS@"), path.name


def test_test_data_tables_point_into_test_data():
    """The .loc files of tool_data_table_conf.xml.test exist and name existing test genomes (with a .fai)."""
    tables = ET.parse(WRAPPERS / "tool_data_table_conf.xml.test").getroot()
    names = set()
    for table in tables.findall("table"):
        names.add(table.get("name"))
        assert table.find("columns").text.replace(" ", "") == "value,dbkey,name,path"
        loc = Path(table.find("file").get("path").replace("${__HERE__}", str(WRAPPERS)))
        rows = [r.split("\t") for r in loc.read_text().splitlines() if r and not r.startswith("#")]
        assert rows, f"{loc.name} is empty"
        for value, dbkey, _name, fasta in rows:
            fasta = Path(fasta.replace("${__HERE__}", str(loc.parent)))
            assert fasta.is_file() and Path(f"{fasta}.fai").is_file(), fasta
            assert re.fullmatch(r"[\w.]+", value) and dbkey
    assert names == {"all_fasta", "fasta_indexes"}


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


def test_readme_shows_a_small_screenshot_of_every_form():
    """galaxy_wrappers/README.md shows each tool's form (made by test_galaxy_browser.py), each a small PNG."""
    readme = (WRAPPERS / "README.md").read_text()
    for tool in _tools():
        png = WRAPPERS / "screenshots" / f"{tool.get('id')}.png"
        assert f"](screenshots/{png.name})" in readme, f"README does not show {png.name}"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert 5_000 < png.stat().st_size < 150_000, f"{png.name}: {png.stat().st_size} bytes"
