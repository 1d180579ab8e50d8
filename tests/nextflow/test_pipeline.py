"""The FactorNet pipeline (nextflow/main.nf) with real Nextflow: `-profile test` for real and as stubs.

The real run simulates 3 chromosomes × 300 kb, trains CTCF in CellA (chr2; chr3 validates) with two seeds and a
tiny architecture, predicts CellB on chr1 and chr3 as one task per chromosome, merges, bags and evaluates.
It takes about 3 minutes on 2 busy CPUs; it runs once per session (module-scoped fixture).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_nextflow_runner import LAUNCHER, PIPELINE, nextflow

pytestmark = pytest.mark.nextflow

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "nextflow" / "modules" / "local" / "factornet"
ENV_YML = ROOT / "containers" / "environment.yml"

# Measured on the test profile (simulate --seed 1; train seeds 1 and 2; 4 epochs of a 16-kernel model):
# auPR 0.176 / 0.174 per seed and 0.179 bagged, auROC 0.94 (with the simulator before "open unbound elements
# outnumber bound sites": 0.249 / 0.248 / 0.252). 292 of 11,685 labelled bins are bound (2.5 %), so random scores
# give auPR ~0.025. 0.10 (four times that) leaves room for simulator and TensorFlow/CPU drift while failing for a
# broken wiring (wrong cell type, shuffled shards, labels of another TF or chromosome: auPR ~0.025).
MIN_AUPR = 0.10
MIN_AUROC = 0.85


def _factornet() -> str | None:
    venv = ROOT / ".venv" / "bin" / "factornet"
    return str(venv) if venv.exists() else shutil.which("factornet")


def _env_with_factornet() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(_factornet()).parent}{os.pathsep}{env['PATH']}"
    return env


def _read_gz(path: Path) -> bytes:
    with gzip.open(path, "rb") as fh:
        return fh.read()


# --------------------------------------------------------------------------------------------- module layout


# The processes the default pipeline runs (-profile test), in DAG order.
PIPELINE_PROCESSES = (
    "SIMULATE",
    "BIN",
    "TRAIN",
    "PREDICT",
    "MERGE",
    "BAG",
    "EVALUATE",
    "INTERPRETMOTIFS",
    "BASELINE",
)

MODULE_NAMES = [
    "bag",
    "baseline",
    "bin",
    "call",
    "evaluate",
    "impute",
    "interpretmotifs",
    "merge",
    "predict",
    "prepare",
    "simulate",
    "train",
]


def test_every_module_has_the_nf_core_parts():
    assert sorted(p.name for p in MODULES.iterdir() if p.is_dir()) == MODULE_NAMES
    for name in MODULE_NAMES:
        text = (MODULES / name / "main.nf").read_text()
        process = re.search(r"^process (FACTORNET_\w+) \{", text, re.M).group(1)
        assert process == f"FACTORNET_{name.upper()}"
        for part in (
            "tag ",
            "label 'process_",
            'conda "bioconda::factornet=',  # the Bioconda package (recipes/factornet)
            "tuple val(meta)",
            "emit: versions",
            "task.ext.args",
            "stub:",
            "factornet --version",
        ):
            assert part in text, f"{name}/main.nf lacks {part!r}"
        gpu = "label 'process_gpu'" in text
        assert gpu == (name in {"train", "predict", "impute", "interpretmotifs"}), (
            f"{name}: process_gpu label"
        )
        meta = (MODULES / name / "meta.yml").read_text()
        assert f'name: "factornet_{name}"' in meta
        for emit in re.findall(r"emit: (\w+)", text):
            assert f"  - {emit}:" in meta, f"{name}/meta.yml does not document output {emit!r}"


def test_module_environments_equal_the_suite_environment():
    """Each module's environment.yml is containers/environment.yml with the source-tree path seen from its folder."""
    suite = ENV_YML.read_text()
    body = suite[suite.index("name:") :]
    for name in MODULE_NAMES:
        text = (MODULES / name / "environment.yml").read_text()
        expected = body.replace("      - ..\n", "      - ../../../../..\n")
        assert text[text.index("name:") :] == expected, (
            f"{name}/environment.yml drifted from {ENV_YML}; copy it from the 'name:' line on, with '- ..' "
            "written as '- ../../../../..'"
        )
        assert (MODULES / name / "../../../../..").resolve() == ROOT


# --------------------------------------------------------------------------------------------- stub run


def test_test_profile_stub_run(tmp_path):
    run = nextflow("run", str(PIPELINE), "-profile", "test", "-stub-run", "--outdir", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stdout
    submitted = sorted(re.findall(r"Submitted process > (\S+ \([^)]*\))", run.stdout))
    assert submitted == sorted(
        [
            "FACTORNET_SIMULATE (simulated)",
            "FACTORNET:FACTORNET_BIN (CTCF)",
            *[f"FACTORNET:FACTORNET_TRAIN (CTCF.seed{s})" for s in (1, 2)],
            *[
                f"FACTORNET:FACTORNET_PREDICT (CTCF.seed{s}.CellB.{c})"
                for s in (1, 2)
                for c in ("chr1", "chr3")
            ],
            *[f"FACTORNET:FACTORNET_MERGE (CTCF.seed{s}.CellB)" for s in (1, 2)],
            "FACTORNET:FACTORNET_BAG (CTCF.CellB.bag)",
            "FACTORNET:FACTORNET_INTERPRETMOTIFS (CTCF.CellA)",
            *[f"FACTORNET:FACTORNET_BASELINE (CTCF.CellB.{m})" for m in ("pwm_x_accessibility", "gbm")],
            *[
                f"FACTORNET:FACTORNET_EVALUATE ({m})"
                for m in ("CTCF.seed1.CellB", "CTCF.seed2.CellB", "CTCF.CellB.bag")
            ],
        ]
    )
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "predictions").iterdir()) == [
        "CTCF.CellB.bag.tsv.gz",
        "CTCF.seed1.CellB.tsv.gz",
        "CTCF.seed2.CellB.tsv.gz",
    ]
    assert sorted(p.name for p in (out / "baselines").iterdir()) == [
        "CTCF.CellB.gbm.tsv.gz",
        "CTCF.CellB.pwm_x_accessibility.tsv.gz",
    ]
    assert (out / "simulated" / "samplesheet.tsv").read_text().startswith("cell_type\tkind\tname\tpath\n")
    versions = (out / "pipeline_info" / "software_versions.yml").read_text()
    for process in PIPELINE_PROCESSES:
        assert f'FACTORNET_{process}":\n    factornet: stub\n' in versions


def test_stub_run_prepares_tracks_given_as_bam_rows(tmp_path):
    """A cell type whose DNASE track is given only as BAM replicates: PREPARE runs for it (and only it),
    and its bigWig feeds PREDICT in place of the missing track row."""
    from factornet_core.simulate import simulate_dataset

    sim = simulate_dataset(
        tmp_path / "data", seed=1, n_chroms=2, chrom_length=20_000, n_cells=2, tfs=("CTCF",), reads="single"
    )
    lines = sim.samplesheet.read_text().splitlines()
    keep = [ln for ln in lines if not ln.startswith("CellB\ttrack\tDNASE")]
    keep.append("CellB\tbam\tDNASE\tCellA.DNASE.bam")  # a second replicate: both are pooled in one task
    sheet = tmp_path / "data" / "bams.tsv"
    sheet.write_text("\n".join(keep) + "\n")
    run = nextflow(
        "run", str(PIPELINE), "-profile", "test", "-stub-run", "--simulate", "false", "--input", str(sheet),
        "--genome", str(sim.genome), "--outdir", "out",
        "--train_cells", "CellA", "--target_cells", "CellB", "--tfs", "CTCF", "--seeds", "1",
        "--predict_chroms", "chr1", "--interpret", "false", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout
    submitted = re.findall(r"Submitted process > (\S+ \([^)]*\))", run.stdout)
    assert [s for s in submitted if "PREPARE" in s] == ["FACTORNET:FACTORNET_PREPARE (CellB.DNASE)"]
    assert "FACTORNET:FACTORNET_PREDICT (CTCF.seed1.CellB.chr1)" in submitted
    assert sorted(p.name for p in (tmp_path / "out" / "tracks").iterdir()) == [
        "CellB.DNASE.bw",
        "CellB.DNASE.bw.qc.json",
    ]


def test_impute_entry_stub_run(tmp_path):
    """-entry IMPUTE: one cell type's tracks + two models → one impute task per chromosome → merge → call."""
    (tmp_path / "genome.fa").write_text(">chr1\nACGT\n>chr2\nACGT\n")
    (tmp_path / "genome.fa.fai").write_text("chr1\t4\t6\t4\t5\nchr2\t4\t17\t4\t5\n")
    for name in ("HepG2.DGF.bw", "Unique35.bw", "K562.DGF.bw"):
        (tmp_path / name).write_bytes(b"stub")
    (tmp_path / "sheet.tsv").write_text(
        "cell_type\tkind\tname\tpath\n"
        "HepG2\ttrack\tDGF\tHepG2.DGF.bw\nHepG2\ttrack\tUnique35\tUnique35.bw\nK562\ttrack\tDGF\tK562.DGF.bw\n"
    )
    models = tmp_path / "models"
    models.mkdir()
    for name in ("FOXA1__onePeak_DGF.keras", "MAX__onePeak_Unique35_DGF.keras"):
        (models / name).write_bytes(b"stub")
    run = nextflow("run", str(PIPELINE), "-entry", "IMPUTE", "-stub-run", "--input", "sheet.tsv", "--genome",
                   "genome.fa", "--impute_cell", "HepG2", "--models", str(models / "*.keras"), "--outdir", "out",
                   "--max_cpus", "2", "--max_memory", "4.GB", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stdout
    submitted = sorted(re.findall(r"Submitted process > (\S+ \([^)]*\))", run.stdout))
    assert submitted == [
        "IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_CALL (HepG2)",
        "IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_IMPUTE (HepG2.chr1)",
        "IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_IMPUTE (HepG2.chr2)",
        "IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_MERGE (HepG2)",
    ]
    out = tmp_path / "out"
    assert (out / "calls" / "HepG2.narrowPeak").is_file()
    assert _read_gz(out / "predictions" / "HepG2.tsv.gz").startswith(b"chr\tstart\tstop")
    # both models staged in each impute task (one folder per model); only HepG2's two tracks
    tasks = [p.parent for p in (tmp_path / "work").glob("*/*/models")]
    assert len(tasks) == 2
    for task in tasks:
        assert sorted(p.name for p in task.glob("models/m*/*")) == sorted(
            ["FOXA1__onePeak_DGF.keras", "MAX__onePeak_Unique35_DGF.keras"]
        )
        assert sorted(p.name for p in task.glob("inputs/f*/*")) == ["HepG2.DGF.bw", "Unique35.bw"]
    versions = (out / "pipeline_info" / "software_versions.yml").read_text()
    for process in ("IMPUTE", "MERGE", "CALL"):
        assert f'FACTORNET_{process}":\n    factornet: stub\n' in versions


# --------------------------------------------------------------------------------------------- real run


@pytest.fixture(scope="module")
def test_profile_run(tmp_path_factory):
    if _factornet() is None:
        pytest.skip("factornet is not installed (.venv/bin or PATH)")
    work = tmp_path_factory.mktemp("nf_test_profile")
    run = subprocess.run(
        [
            "bash",
            str(LAUNCHER),
            "run",
            str(PIPELINE),
            "-profile",
            "test",
            "--outdir",
            "out",
            "-with-dag",
            "dag.mmd",
        ],
        cwd=work,
        env=_env_with_factornet(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout
    return work


@pytest.mark.slow
def test_test_profile_metrics(test_profile_run):
    evaluate = test_profile_run / "out" / "evaluate"
    for model in ("CTCF.seed1.CellB", "CTCF.seed2.CellB", "CTCF.CellB.bag"):
        metrics = json.loads((evaluate / f"{model}.metrics.json").read_text())
        (row,) = [r for r in metrics["results"] if r["model"] == model]
        assert (row["tf"], row["cell"], row["model"]) == ("CTCF", "CellB", model)
        assert row["labelled_not_predicted"] == 0
        assert row["n_bound"] > 100 and row["n_unbound"] > 10 * row["n_bound"]
        prevalence = row["n_bound"] / (row["n_bound"] + row["n_unbound"])
        assert row["auprc"] > MIN_AUPR > 3.5 * prevalence, (model, row)
        assert row["auroc"] > MIN_AUROC, (model, row)
    summary = (evaluate / "metrics_summary.tsv").read_text().splitlines()
    assert summary[0].split("\t")[:5] == ["model", "tf", "cell", "auroc", "auprc"]
    # the bag is scored side by side with the test profile's baselines (--baselines pwm_x_accessibility,gbm)
    assert sorted(line.split("\t")[0] for line in summary[1:]) == [
        "CTCF.CellB.bag",
        "CTCF.seed1.CellB",
        "CTCF.seed2.CellB",
        "gbm",
        "pwm_x_accessibility",
    ]
    bag = json.loads((evaluate / "CTCF.CellB.bag.metrics.json").read_text())["results"]
    assert [r["model"] for r in bag] == ["CTCF.CellB.bag", "gbm", "pwm_x_accessibility"]
    assert len({(r["n_bound"], r["n_unbound"]) for r in bag}) == 1  # every predictor scored on the same bins


@pytest.mark.slow
def test_merged_shards_equal_an_unsharded_predict(test_profile_run, tmp_path):
    out = test_profile_run / "out"
    sim = out / "simulated"
    for seed in (1, 2):
        unsharded = tmp_path / f"seed{seed}.tsv.gz"
        subprocess.run(
            [
                _factornet(),
                "predict",
                "--model",
                str(out / "models" / f"CTCF.seed{seed}.keras"),
                "--genome",
                str(sim / "genome.fa"),
                "--samplesheet",
                str(sim / "samplesheet.tsv"),
                "--cell",
                "CellB",
                "--chroms",
                "chr1,chr3",
                "--out",
                str(unsharded),
                "--quiet",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        merged = _read_gz(out / "predictions" / f"CTCF.seed{seed}.CellB.tsv.gz")
        assert merged == _read_gz(unsharded)
        lines = merged.decode().splitlines()
        assert lines[0] == "chr\tstart\tstop\tCTCF"
        chroms = list(dict.fromkeys(line.split("\t")[0] for line in lines[1:]))
        assert chroms == ["chr1", "chr3"]
        assert len(lines) - 1 == 2 * (
            (300_000 - 200) // 50 + 1
        )  # the 200/50 grid over two 300 kb chromosomes


@pytest.mark.slow
def test_test_profile_motifs(test_profile_run):
    motifs = test_profile_run / "out" / "motifs" / "CTCF.CellA"
    meme = (motifs / "kernels.meme").read_text()
    assert meme.startswith("MEME version 4")
    assert meme.count("\nMOTIF ") == 16  # one per first-layer kernel (--kernels 16 in the test profile)
    assert len(list((motifs / "logos").glob("*.png"))) == 16


@pytest.mark.slow
def test_test_profile_dag_and_versions(test_profile_run):
    dag = (test_profile_run / "dag.mmd").read_text()
    assert dag.startswith("flowchart TB")
    for process in PIPELINE_PROCESSES:
        assert f"FACTORNET_{process}" in dag
    versions = (test_profile_run / "out" / "pipeline_info" / "software_versions.yml").read_text()
    version = subprocess.run(
        [_factornet(), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    assert versions.count(f"    factornet: {version}\n") == len(PIPELINE_PROCESSES), versions


def test_schema_documents_every_parameter():
    config = (ROOT / "nextflow" / "nextflow.config").read_text()
    block = config[config.index("params {") : config.index("\n}\n")]
    declared = set(re.findall(r"^\s+(\w+)\s+=", block, re.M))
    schema = json.loads((ROOT / "nextflow" / "nextflow_schema.json").read_text())
    documented = {name for group in schema["$defs"].values() for name in group["properties"]}
    assert declared == documented
