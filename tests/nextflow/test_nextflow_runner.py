"""Real Nextflow, launched from its Maven Central jars by tests/nextflow/nextflow.sh.

The first run fetches Nextflow (about 30 MB) with Maven into ``$FACTORNET_CACHE`` (default
``~/.cache/factornet``); later runs reuse it. Everything runs with the local executor and no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.nextflow

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "nextflow.sh"
HELLO = HERE / "hello" / "main.nf"
PIPELINE = HERE.parents[1] / "nextflow" / "main.nf"
NXF_VERSION = "25.04.4"

if shutil.which(os.environ.get("JAVA_CMD", "java")) is None:
    pytest.skip("java is not installed (Nextflow needs a JDK 17+)", allow_module_level=True)


def _cached() -> bool:
    cache = Path(os.environ.get("FACTORNET_CACHE", Path.home() / ".cache" / "factornet"))
    return (cache / f"nextflow-{NXF_VERSION}" / "lib" / ".complete").is_file()


if not _cached() and shutil.which("mvn") is None:
    pytest.skip("Nextflow is not cached and mvn is not installed to fetch it", allow_module_level=True)


def nextflow(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``nextflow.sh ARGS`` in ``cwd``; stdout and stderr together in ``.stdout``."""
    return subprocess.run(
        ["bash", str(LAUNCHER), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def write_samplesheet(root: Path, extra: str = "", comment: str = "") -> Path:
    """Two cell types with one 'track' each (two-column text: chrom, value), plus a peaks row."""
    data = root / "data"
    data.mkdir(parents=True)
    (data / "k562.dnase.txt").write_text("chr1\t1\nchr2\t2.5\n")
    (data / "hepg2.dnase.txt").write_text("chr1\t4\n")
    (data / "k562.ctcf.narrowPeak").write_text("chr1\t0\t10\t.\t0\t.\t0\t0\t0\t5\n")
    sheet = root / "samplesheet.tsv"
    sheet.write_text(
        comment + "cell_type\tkind\tname\tpath\n"
        "K562\ttrack\tDNASE\tdata/k562.dnase.txt\n"
        "HepG2\ttrack\tDNASE\tdata/hepg2.dnase.txt\n"
        "K562\tconservative\tCTCF\tdata/k562.ctcf.narrowPeak\n" + extra
    )
    return sheet


def test_version():
    run = nextflow("-version", cwd=HERE)
    assert run.returncode == 0, run.stdout
    assert f"version {NXF_VERSION}" in run.stdout


def test_hello_pipeline_runs_stubs_and_resumes(tmp_path):
    sheet = write_samplesheet(tmp_path / "in")
    work = tmp_path / "run"
    work.mkdir()

    run = nextflow("run", str(HELLO), "--input", str(sheet), "--outdir", "out", cwd=work)
    assert run.returncode == 0, run.stdout
    # one task per 'track' row; the peaks row is filtered out by kind
    rows = (work / "out" / "all_summaries.tsv").read_text().splitlines()
    assert rows == ["HepG2\ttrack\tDNASE\t1\t4.0\t--demo-arg", "K562\ttrack\tDNASE\t2\t3.5\t--demo-arg"]
    assert sorted(p.name for p in (work / "out" / "summaries").iterdir()) == [
        "HepG2_DNASE.summary.tsv",
        "K562_DNASE.summary.tsv",
    ]
    assert (work / "out" / "versions.yml").read_text().startswith('"SUMMARISE":\n    python: 3.')

    # -resume reuses both tasks (the task cache needs the JVM --add-opens the launcher sets)
    again = nextflow("run", str(HELLO), "--input", str(sheet), "--outdir", "out", "-resume", cwd=work)
    assert again.returncode == 0, again.stdout
    assert again.stdout.count("Cached process > SUMMARISE") == 2, again.stdout

    stub = nextflow("run", str(HELLO), "--input", str(sheet), "--outdir", "stub", "-stub-run", cwd=work)
    assert stub.returncode == 0, stub.stdout
    assert (work / "stub" / "all_summaries.tsv").read_text().splitlines() == [
        "HepG2_DNASE\tstub",
        "K562_DNASE\tstub",
    ]


def stub_params(root: Path) -> list[str]:
    """A genome (never read by the stubs) and what to train on for write_samplesheet's data."""
    genome = root / "genome.fa"
    genome.write_text(">chr1\nACGT\n")
    return [
        "-stub-run",
        "--genome",
        str(genome),
        "--train_cells",
        "K562",
        "--target_cells",
        "HepG2",
        "--tfs",
        "CTCF",
        "--seeds",
        "1",
        "--max_cpus",
        "1",
        "--max_memory",
        "2.GB",
    ]


def test_pipeline_parses_contract_samplesheet(tmp_path):
    sheet = write_samplesheet(
        tmp_path / "in",
        extra="# HepG2\ttrack\tIGNORED\tmissing.bw\n",
        comment="# comment before the header\n",
    )
    run = nextflow(
        "run", str(PIPELINE), "--input", str(sheet), "--outdir", "out", *stub_params(tmp_path), cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout
    lines = (tmp_path / "out" / "pipeline_info" / "samplesheet_summary.tsv").read_text().splitlines()
    assert lines[0] == "samplesheet\tcell_type\tkind\tname\tpath"
    data = tmp_path / "in" / "data"
    assert lines[1:] == [
        f"samplesheet\tHepG2\ttrack\tDNASE\t{data / 'hepg2.dnase.txt'}",
        f"samplesheet\tK562\tconservative\tCTCF\t{data / 'k562.ctcf.narrowPeak'}",
        f"samplesheet\tK562\ttrack\tDNASE\t{data / 'k562.dnase.txt'}",
    ]
    # one seed: no bag; HepG2 has no CTCF peaks: no labels, no evaluation; no genome index: one unsharded predict
    assert "FACTORNET_BAG" not in run.stdout and "FACTORNET_EVALUATE" not in run.stdout
    assert run.stdout.count("Submitted process > FACTORNET:FACTORNET_PREDICT (CTCF.seed1.HepG2)") == 1, (
        run.stdout
    )
    assert "Submitted process > FACTORNET:FACTORNET_INTERPRETMOTIFS (CTCF.K562)" in run.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--train_cells", "Nope"],
            "cell type 'Nope' (--train_cells/--target_cells) is not in the samplesheet",
        ),
        (["--tfs", "REST"], "TF 'REST' (--tfs) has no conservative peaks in the training cell types K562"),
        (
            # false unsets stub_params' --target_cells (the default: every cell type not trained on)
            ["--train_cells", "K562,HepG2", "--target_cells", "false"],
            "every cell type in the samplesheet is a training",
        ),
    ],
)
def test_pipeline_rejects_bad_parameters(tmp_path, args, message):
    sheet = write_samplesheet(tmp_path / "in")
    run = nextflow(
        "run",
        str(PIPELINE),
        "--input",
        str(sheet),
        "--outdir",
        "out",
        *stub_params(tmp_path),
        *args,
        cwd=tmp_path,
    )
    assert run.returncode != 0
    assert message in run.stdout, run.stdout
