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
PYPROJECT_VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
VERSIONS_OUTPUT = (
    """tuple val("${task.process}"), val('factornet'), """
    """eval(workflow.stubRun ? 'echo stub' : "factornet --version | sed 's/^factornet //'"), """
    "emit: versions_factornet, topic: versions\n"
)
# Parameters naming files a process reads; each is a path input of the processes that read it.
FILE_PARAMS = ("blacklist", "gtf", "cpg", "annotation_beds", "motif_file", "known_motifs", "meta_values")
GPU_PROCESSES = {"TRAIN", "PREDICT", "IMPUTE", "INTERPRETMOTIFS"}

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


def _task_dirs(run: Path, outdir: str = "out") -> dict[str, Path]:
    """Task name (e.g. 'FACTORNET:FACTORNET_TRAIN (CTCF.seed1)') -> its work folder, from the run's trace file."""
    (trace,) = (run / outdir / "pipeline_info").glob("execution_trace_*.txt")
    rows = [line.split("\t") for line in trace.read_text().splitlines()]
    col = {name: i for i, name in enumerate(rows[0])}
    tasks = {}
    for row in rows[1:]:
        (folder,) = (run / "work").glob(row[col["hash"]] + "*")
        tasks[row[col["name"]]] = folder
    return tasks


def _staged(task: Path, relative: str) -> Path:
    """The file a task staged as ``relative`` (a link into the inputs), resolved."""
    path = task / relative
    assert path.is_symlink(), f"{task.name}: {relative} is not staged"
    return path.resolve()


def _check_task_samplesheet(task: Path, expected: list[tuple[str, str, str, str]]) -> None:
    """The task's samplesheet.tsv (written by functions.nf's stagedSamplesheet) lists ``expected`` rows
    (cell_type, kind, name, source file name), each path pointing at its file staged under inputs/f<i>/."""
    lines = (task / "samplesheet.tsv").read_text().splitlines()
    assert lines[0] == "cell_type\tkind\tname\tpath"
    got = []
    for line in lines[1:]:
        cell, kind, name, path = line.split("\t")
        assert re.fullmatch(r"inputs/f\d+/[^/]+", path), path
        got.append((cell, kind, name, _staged(task, path).name))
    assert sorted(got) == sorted(expected)


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
            # the package and image of the pipeline's version, from one place (nextflow.config)
            'conda "bioconda::factornet=${params.factornet_version}"\n',
            'container "${params.factornet_container}"\n',
            "tuple val(meta)",
            # versions on the `versions` topic: (process, tool, `factornet --version`, 'stub' under -stub-run)
            VERSIONS_OUTPUT,
            "task.ext.args",
            "stub:",
        ):
            assert part in text, f"{name}/main.nf lacks {part!r}"
        # no image, package version or versions.yml heredoc of its own
        assert not re.search(r"quay\.io|ghcr\.io|factornet=\d|versions\.yml|END_VERSIONS", text), name
        # the samplesheet of a task is written by the one helper (functions.nf), in the script and the stub
        if "val(rows)" in text:
            assert text.count("${stagedSamplesheet(rows, files)}") == 2, name
            assert "cell_type\\tkind" not in text, f"{name}: a copy of the samplesheet-writing lines"
        gpu = "label 'process_gpu'" in text
        assert gpu == (name in {"train", "predict", "impute", "interpretmotifs"}), (
            f"{name}: process_gpu label"
        )
        meta = (MODULES / name / "meta.yml").read_text()
        assert f'name: "factornet_{name}"' in meta
        for emit in re.findall(r"emit: (\w+)", text):
            assert re.search(rf"^  {emit}:$", meta, re.M), (
                f"{name}/meta.yml does not document output {emit!r}"
            )
        assert re.search(r"^topics:\n  versions:$", meta, re.M), (
            f"{name}/meta.yml does not document the topic"
        )
        inputs = text[text.index("input:") : text.index("output:")]
        for element in re.findall(r"\b(?:path|val)\((\w+)", inputs):
            assert re.search(rf"^\s+- (?:- )?{element}:$", meta, re.M), (
                f"{name}/meta.yml lacks input {element!r}"
            )


def test_one_version_for_the_pipeline_the_package_and_the_modules():
    """manifest.version is pyproject's version; params.factornet_version follows it, and every module's
    environment.yml names the Bioconda package at that version (nf-core's pinned form, no pip path)."""
    config = (ROOT / "nextflow" / "nextflow.config").read_text()
    (manifest,) = re.findall(r"^\s+version\s+=\s+'([^']+)'", config, re.M)
    assert manifest == PYPROJECT_VERSION
    assert re.search(r"^\s+factornet_version\s+=\s+manifest\.version\s*$", config, re.M)
    assert re.search(
        r'^\s+factornet_container\s+=\s+"quay\.io/biocontainers/factornet:\$\{params\.factornet_version\}--\w+"',
        config,
        re.M,
    )
    for name in MODULE_NAMES:
        env = (MODULES / name / "environment.yml").read_text()
        body = [ln for ln in env.splitlines() if ln and not ln.startswith(("#", "---"))]
        assert body == [
            "channels:",
            "  - conda-forge",
            "  - bioconda",
            "dependencies:",
            f"  - bioconda::factornet={PYPROJECT_VERSION}",
        ], name


def test_module_config_passes_no_file_in_ext_args():
    """Files reach processes as path inputs: no file parameter is spelled into a command line in the configs."""
    for path in (ROOT / "nextflow" / "conf").glob("*.config"):
        text = path.read_text()
        for param in FILE_PARAMS:
            assert f"params.{param}" not in text, f"{path.name} puts --{param} into ext.args"


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


def test_stub_run_stages_every_file_a_process_reads(tmp_path):
    """Blacklist, annotation files and folder, motif files: each is staged into the tasks that read it
    (a path input), and each task's samplesheet points at its staged rows."""
    refs = tmp_path / "refs"
    (refs / "feats").mkdir(parents=True)
    for name, text in {
        "black.bed": "chr1\t0\t100\n",
        "genes.gtf": 'chr1\tx\tgene\t1\t10\t.\t+\t.\tgene_id "g";\n',
        "cpg.bed": "chr1\t0\t10\n",
        "feats/cpg.bed": "chr1\t0\t10\n",
        "init.meme": "MEME version 4\n",
        "known.meme": "MEME version 4\n",
    }.items():
        (refs / name).write_text(text)
    run = nextflow(
        "run", str(PIPELINE), "-profile", "test", "-stub-run", "--outdir", "out", "--seeds", "1",
        "--predict_chroms", "chr1", "--baselines", "pwm_x_accessibility", "--blacklist", str(refs / "black.bed"),
        "--gencode", "--gtf", str(refs / "genes.gtf"), "--cpg", str(refs / "cpg.bed"),
        "--annotation_beds", str(refs / "feats"), "--motif", "CTCF", "--motif_file", str(refs / "init.meme"),
        "--known_motifs", str(refs / "known.meme"), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout
    tasks = _task_dirs(tmp_path)
    reads = {
        "FACTORNET:FACTORNET_BIN (CTCF)": ["blacklist/black.bed"],
        "FACTORNET:FACTORNET_TRAIN (CTCF.seed1)": [
            "blacklist/black.bed",
            "annotations/gtf/genes.gtf",
            "annotations/cpg/cpg.bed",
            "annotations/beds/feats",
            "motifs/init.meme",
        ],
        "FACTORNET:FACTORNET_PREDICT (CTCF.seed1.CellB.chr1)": [
            "blacklist/black.bed",
            "annotations/gtf/genes.gtf",
            "annotations/cpg/cpg.bed",
            "annotations/beds/feats",
        ],
        "FACTORNET:FACTORNET_BASELINE (CTCF.CellB.pwm_x_accessibility)": [
            "blacklist/black.bed",
            "motifs/init.meme",
        ],
        "FACTORNET:FACTORNET_INTERPRETMOTIFS (CTCF.CellA)": ["known/known.meme"],
    }
    for task, files in reads.items():
        for relative in files:
            assert _staged(tasks[task], relative) == (refs / Path(relative).name).resolve(), (task, relative)
    # a process that does not read a file does not stage it
    assert not (tasks["FACTORNET:FACTORNET_INTERPRETMOTIFS (CTCF.CellA)"] / "blacklist").exists()
    assert not (tasks["FACTORNET:FACTORNET_BIN (CTCF)"] / "annotations").exists()

    peaks = [("conservative", "CTCF.conservative.narrowPeak.gz"), ("relaxed", "CTCF.relaxed.narrowPeak.gz")]
    _check_task_samplesheet(
        tasks["FACTORNET:FACTORNET_TRAIN (CTCF.seed1)"],
        [("CellA", "track", "DNASE", "CellA.DNASE.bw")]
        + [("CellA", k, "CTCF", f"CellA.{f}") for k, f in peaks],
    )
    _check_task_samplesheet(
        tasks["FACTORNET:FACTORNET_PREDICT (CTCF.seed1.CellB.chr1)"],
        [("CellB", "track", "DNASE", "CellB.DNASE.bw")],
    )
    _check_task_samplesheet(
        tasks["FACTORNET:FACTORNET_BIN (CTCF)"],
        [("CellB", "track", "DNASE", "CellB.DNASE.bw")]
        + [("CellB", k, "CTCF", f"CellB.{f}") for k, f in peaks],
    )


def test_gpu_profile_stub_run_in_docker(tmp_path):
    """-profile test,gpu,docker -stub-run, with a `docker` on PATH that records its calls and runs the task on the
    host: process_gpu tasks run the -gpu image with --gpus all, the others the BioContainers image, every image
    of the version given (--factornet_version), so every module follows the one setting."""
    shim = tmp_path / "bin" / "docker"
    shim.parent.mkdir()
    log = tmp_path / "docker.log"
    shim.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        '[ "$1" = run ] || exit 0\n'
        'while [ $# -gt 0 ] && [ "$1" != /bin/bash ]; do shift; done\n'
        'exec "$@"\n'
    )
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    run = subprocess.run(
        ["bash", str(LAUNCHER), "run", str(PIPELINE), "-profile", "test,gpu,docker", "-stub-run", "--outdir", "out",
         "--seeds", "1", "--predict_chroms", "chr1", "--factornet_version", "9.9.9"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout
    by_dir = {folder.resolve(): name for name, folder in _task_dirs(tmp_path).items()}
    runs = [line.split() for line in log.read_text().splitlines() if line.startswith("run ")]
    assert len(runs) == len(by_dir)
    seen = set()
    for args in runs:
        process = re.search(r"FACTORNET_(\w+) ", by_dir[Path(args[args.index("-w") + 1]).resolve()]).group(1)
        image = args[args.index("/bin/bash") - 1]
        if process in GPU_PROCESSES:
            assert image == "ghcr.io/factornet-suite/factornet:9.9.9-gpu", (process, image)
            assert "--gpus all" in " ".join(args), process
        else:
            assert re.fullmatch(r"quay\.io/biocontainers/factornet:9\.9\.9--py\w+", image), (process, image)
            assert "--gpus" not in args, process
        seen.add(process)
    assert seen == set(PIPELINE_PROCESSES) - {"BAG"}  # one seed: nothing to bag


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
    assert [s for s in submitted if "PREPARE" in s] == [
        "FACTORNET:PREPARE_TRACKS:FACTORNET_PREPARE (CellB.DNASE)"
    ]
    assert "FACTORNET:FACTORNET_PREDICT (CTCF.seed1.CellB.chr1)" in submitted
    assert sorted(p.name for p in (tmp_path / "out" / "tracks").iterdir()) == [
        "CellB.DNASE.bw",
        "CellB.DNASE.bw.qc.json",
    ]
    prepare = _task_dirs(tmp_path)["FACTORNET:PREPARE_TRACKS:FACTORNET_PREPARE (CellB.DNASE)"]
    assert (
        _staged(prepare, "blacklist/test_blacklist.bed")
        == ROOT / "nextflow" / "assets" / "test_blacklist.bed"
    )
    assert sorted(
        _staged(prepare, str(f.relative_to(prepare))).name for f in prepare.glob("inputs/f*/*")
    ) == [
        "CellA.DNASE.bam",
        "CellB.DNASE.bam",
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
    (tmp_path / "black.bed").write_text("chr1\t0\t2\n")
    (tmp_path / "meta.txt").write_text("0.5\n")
    run = nextflow("run", str(PIPELINE), "-entry", "IMPUTE", "-stub-run", "--input", "sheet.tsv", "--genome",
                   "genome.fa", "--impute_cell", "HepG2", "--models", str(models / "*.keras"), "--outdir", "out",
                   "--blacklist", "black.bed", "--meta_values", "meta.txt",
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
        _check_task_samplesheet(
            task, [("HepG2", "track", "DGF", "HepG2.DGF.bw"), ("HepG2", "track", "Unique35", "Unique35.bw")]
        )
        assert _staged(task, "blacklist/black.bed") == (tmp_path / "black.bed").resolve()
        assert _staged(task, "meta/meta.txt") == (tmp_path / "meta.txt").resolve()
    call = _task_dirs(tmp_path)["IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_CALL (HepG2)"]
    assert _staged(call, "blacklist/black.bed") == (tmp_path / "black.bed").resolve()
    versions = (out / "pipeline_info" / "software_versions.yml").read_text()
    for process in ("IMPUTE", "MERGE", "CALL"):
        assert f'FACTORNET_{process}":\n    factornet: stub\n' in versions


def test_impute_entry_stub_run_prepares_the_cells_bam_rows(tmp_path):
    """-entry IMPUTE from alignments: the impute cell's two DNASE BAM replicates are pooled by one PREPARE task
    (another cell type's BAMs are not prepared), and its bigWig is the DNASE track every IMPUTE shard reads,
    next to the cell's MAPABILITY track row."""
    (tmp_path / "genome.fa").write_text(">chr1\nACGT\n>chr2\nACGT\n")
    (tmp_path / "genome.fa.fai").write_text("chr1\t4\t6\t4\t5\nchr2\t4\t17\t4\t5\n")
    for name in ("new.rep1.bam", "new.rep2.bam", "map.bw", "K562.bam"):
        (tmp_path / name).write_bytes(b"stub")
    (tmp_path / "sheet.tsv").write_text(
        "cell_type\tkind\tname\tpath\n"
        "NewCell\tbam\tDNASE\tnew.rep1.bam\nNewCell\tbam\tDNASE\tnew.rep2.bam\n"
        "NewCell\ttrack\tMAPABILITY\tmap.bw\nK562\tbam\tDNASE\tK562.bam\n"
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "CTCF.keras").write_bytes(b"stub")
    (tmp_path / "black.bed").write_text("chr1\t0\t2\n")
    run = nextflow("run", str(PIPELINE), "-entry", "IMPUTE", "-stub-run", "--input", "sheet.tsv", "--genome",
                   "genome.fa", "--impute_cell", "NewCell", "--models", "models/CTCF.keras", "--outdir", "out",
                   "--blacklist", "black.bed", "--max_cpus", "2", "--max_memory", "4.GB", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stdout
    submitted = sorted(re.findall(r"Submitted process > (\S+ \([^)]*\))", run.stdout))
    assert submitted == [
        "IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_CALL (NewCell)",
        "IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_IMPUTE (NewCell.chr1)",
        "IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_IMPUTE (NewCell.chr2)",
        "IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_MERGE (NewCell)",
        "IMPUTE:FACTORNET_IMPUTE_CELL:PREPARE_TRACKS:FACTORNET_PREPARE (NewCell.DNASE)",
    ]
    tasks = _task_dirs(tmp_path)
    prepare = tasks["IMPUTE:FACTORNET_IMPUTE_CELL:PREPARE_TRACKS:FACTORNET_PREPARE (NewCell.DNASE)"]
    staged = sorted(_staged(prepare, str(f.relative_to(prepare))) for f in prepare.glob("inputs/f*/*"))
    assert staged == [(tmp_path / "new.rep1.bam").resolve(), (tmp_path / "new.rep2.bam").resolve()]
    assert _staged(prepare, "blacklist/black.bed") == (tmp_path / "black.bed").resolve()
    prepared = (prepare / "NewCell.DNASE.bw").resolve()
    assert sorted(p.name for p in (tmp_path / "out" / "tracks").iterdir()) == [
        "NewCell.DNASE.bw",
        "NewCell.DNASE.bw.qc.json",
    ]
    for chrom in ("chr1", "chr2"):
        impute = tasks[f"IMPUTE:FACTORNET_IMPUTE_CELL:FACTORNET_IMPUTE (NewCell.{chrom})"]
        _check_task_samplesheet(
            impute,
            [("NewCell", "track", "DNASE", "NewCell.DNASE.bw"), ("NewCell", "track", "MAPABILITY", "map.bw")],
        )
        # the task's command writes the DNASE row with the prepared bigWig, staged from the PREPARE task
        (dnase,) = re.findall(
            r"'NewCell\ttrack\tDNASE\t(inputs/f\d+/NewCell\.DNASE\.bw)'", (impute / ".command.sh").read_text()
        )
        assert _staged(impute, dnase) == prepared
        assert not list(impute.glob("inputs/f*/*.bam"))


# --------------------------------------------------------------------------------------------- parameters


def _no_value(name: str, description: str) -> str:
    """checkParams's line for a non-boolean parameter that Nextflow made true."""
    return (
        f"--{name} has no value (Nextflow reads a bare --{name}, and --{name} '', as true): "
        f"give it one, or leave the flag out. --{name}: {description}"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # the empty string is Nextflow's true: it must not reach factornet train as `--exclude-chroms true`
        (
            ["-profile", "test", "--exclude_chroms", ""],
            _no_value(
                "exclude_chroms", "Chromosomes never trained on (e.g. the test chromosomes), comma-separated"
            ),
        ),
        # a bare flag followed by another flag
        (
            ["-profile", "test", "--train_args", "--seeds", "1"],
            _no_value(
                "train_args",
                "Any other factornet train flags (no files: files are parameters of their own), "
                "e.g. '-m --lstm-units 64'",
            ),
        ),
        (
            ["-entry", "IMPUTE", "--impute_cell", ""],
            _no_value(
                "impute_cell",
                "Cell type to impute: its track and expression rows of --input are used, "
                "and its bam/fragments rows are made into tracks",
            ),
        ),
        (
            ["-profile", "test", "--interpret", "no"],
            "--interpret takes true or false, not 'no': give --interpret true or --interpret false",
        ),
        # an unknown parameter (Nextflow would keep it in params and run on with the defaults): a dash spelling,
        # a typo, one in a -params-file, and one with no known parameter near it (each case starts a JVM: the
        # cases are one per code path; -entry IMPUTE runs the same check, see the --impute_cell '' case)
        (
            ["-profile", "test", "--exclude-chroms", "chr1"],
            "--exclude-chroms is not a parameter of this pipeline: did you mean --exclude_chroms?",
        ),
        (
            ["-profile", "test", "--epoch", "3"],
            "--epoch is not a parameter of this pipeline: did you mean --epochs?",
        ),
        (
            ["-profile", "test", "-params-file", "params.json"],
            "--lstm_unit is not a parameter of this pipeline: did you mean --lstm_units?",
        ),
        (
            ["-profile", "test", "--xyzzy", "1"],
            "--xyzzy is not a parameter of this pipeline (command line, -params-file or a config's params): "
            "leave it out; the parameters are listed in nextflow/README.md and nextflow/nextflow_schema.json",
        ),
        (
            ["-profile", "test", "--meta_values", "meta.txt"],
            "--meta_values is read by -entry IMPUTE only (imported models with 'meta'); the models this workflow "
            "trains project each cell type's expression rows of the samplesheet: leave --meta_values out",
        ),
    ],
)
def test_parameter_errors_stop_the_run_before_any_task(tmp_path, args, message):
    (tmp_path / "meta.txt").write_text("0.5\n")
    (tmp_path / "params.json").write_text('{"lstm_unit": 8}\n')
    run = nextflow("run", str(PIPELINE), "-stub-run", "--outdir", "out", *args, cwd=tmp_path)
    assert run.returncode != 0
    assert message in run.stdout.splitlines(), run.stdout
    assert "Submitted process" not in run.stdout
    assert not list((tmp_path / "work").glob("*/*")), "a task started"


def test_false_unsets_a_list_parameter(tmp_path):
    """--baselines false (the command line's way to say none; it used to run a baseline method 'false'):
    no BASELINE task, the model's prediction evaluated alone."""
    run = nextflow(
        "run", str(PIPELINE), "-profile", "test", "-stub-run", "--outdir", "out", "--seeds", "1",
        "--predict_chroms", "chr1", "--interpret", "false", "--baselines", "false", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout
    submitted = sorted(re.findall(r"Submitted process > (\S+ \([^)]*\))", run.stdout))
    assert submitted == [
        "FACTORNET:FACTORNET_BIN (CTCF)",
        "FACTORNET:FACTORNET_EVALUATE (CTCF.CellB)",
        "FACTORNET:FACTORNET_EVALUATE (CTCF.seed1.CellB)",
        "FACTORNET:FACTORNET_MERGE (CTCF.seed1.CellB)",
        "FACTORNET:FACTORNET_PREDICT (CTCF.seed1.CellB.chr1)",
        "FACTORNET:FACTORNET_TRAIN (CTCF.seed1)",
        "FACTORNET_SIMULATE (simulated)",
    ]


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


def _predict(out: Path, seed: int, dest: Path, *extra: str) -> list[list[str]]:
    """`factornet predict` of the test run's seed model over CellB's chr1 and chr3 in one task: the rows."""
    sim = out / "simulated"
    subprocess.run(
        [_factornet(), "predict", "--model", str(out / "models" / f"CTCF.seed{seed}.keras"),
         "--genome", str(sim / "genome.fa"), "--samplesheet", str(sim / "samplesheet.tsv"), "--cell", "CellB",
         "--chroms", "chr1,chr3", "--out", str(dest), "--quiet", *extra],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return [line.split("\t") for line in _read_gz(dest).decode().splitlines()[1:]]


@pytest.mark.slow
def test_merged_shards_equal_an_unsharded_predict(test_profile_run, tmp_path):
    out = test_profile_run / "out"
    blacklist = ROOT / "nextflow" / "assets" / "test_blacklist.bed"
    (black_chrom, black_start, black_end) = blacklist.read_text().split("\t")[:3]
    for seed in (1, 2):
        unsharded = tmp_path / f"seed{seed}.tsv.gz"
        _predict(out, seed, unsharded, "--blacklist", str(blacklist))
        merged = _read_gz(out / "predictions" / f"CTCF.seed{seed}.CellB.tsv.gz")
        assert merged == _read_gz(unsharded)
        lines = merged.decode().splitlines()
        assert lines[0] == "chr\tstart\tstop\tCTCF"
        chroms = list(dict.fromkeys(line.split("\t")[0] for line in lines[1:]))
        assert chroms == ["chr1", "chr3"]
        assert len(lines) - 1 == 2 * (
            (300_000 - 200) // 50 + 1
        )  # the 200/50 grid over two 300 kb chromosomes
    # the test profile's blacklist reached PREDICT (staged): its bins score 0, which without it they do not
    merged = [
        line.split("\t")
        for line in _read_gz(out / "predictions" / "CTCF.seed1.CellB.tsv.gz").decode().splitlines()[1:]
    ]
    free = {(r[0], r[1]): r[3] for r in _predict(out, 1, tmp_path / "free.tsv.gz")}
    inside = [
        r
        for r in merged
        if r[0] == black_chrom and int(r[1]) < int(black_end) and int(r[2]) > int(black_start)
    ]
    assert len(inside) == (1000 + 200) // 50 - 1  # 200 bp bins stepping 50 that overlap the 1 kb region
    assert all(float(r[3]) == 0 for r in inside)
    assert any(float(free[(r[0], r[1])]) > 0 for r in inside)


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


def _bigwig_values(path: Path) -> dict[str, list]:
    """Chromosome -> the bigWig's (start, end, value) intervals, with its chromosome sizes."""
    import pyBigWig

    with pyBigWig.open(str(path)) as bw:
        return {c: (size, bw.intervals(c)) for c, size in bw.chroms().items()}


@pytest.mark.slow
def test_impute_entry_from_bams_equals_the_cli(test_profile_run, tmp_path):
    """-entry IMPUTE for real, from a cell type's two DNASE BAMs and its MAPABILITY track (a test-profile model):
    PREPARE's track equals `factornet prepare` on the same BAMs by the command line, and the imputed scores equal
    `factornet impute` on that track (so the prepared bigWig, not some other file, is what IMPUTE read)."""
    from factornet_core.simulate import simulate_dataset

    sim = simulate_dataset(
        tmp_path / "data", seed=2, n_chroms=2, chrom_length=20_000, n_cells=2, tfs=("CTCF",), reads="single"
    )
    bams = [tmp_path / "data" / f"{cell}.DNASE.bam" for cell in ("CellA", "CellB")]
    sheet = tmp_path / "data" / "bams.tsv"
    sheet.write_text(
        "cell_type\tkind\tname\tpath\n"
        + "".join(f"NewCell\tbam\tDNASE\t{b.name}\n" for b in bams)
        + "NewCell\ttrack\tMAPABILITY\tMAPABILITY.bw\n"
    )
    model = test_profile_run / "out" / "models" / "CTCF.seed1.keras"
    run = subprocess.run(
        ["bash", str(LAUNCHER), "run", str(PIPELINE), "-entry", "IMPUTE", "--input", str(sheet),
         "--genome", str(sim.genome), "--impute_cell", "NewCell", "--models", str(model), "--predict_chroms", "chr1",
         "--outdir", "out", "--max_cpus", "2", "--max_memory", "4.GB"],
        cwd=tmp_path, env=_env_with_factornet(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout
    assert re.findall(r"Submitted process > \S+:(FACTORNET_\w+ \([^)]*\))", run.stdout) == [
        "FACTORNET_PREPARE (NewCell.DNASE)",
        "FACTORNET_IMPUTE (NewCell.chr1)",
        "FACTORNET_MERGE (NewCell)",
        "FACTORNET_CALL (NewCell)",
    ]
    cli = tmp_path / "cli"
    cli.mkdir()
    factornet = _factornet()
    subprocess.run(
        [factornet, "prepare", *[a for b in bams for a in ("--bam", str(b))], "--genome", str(sim.genome),
         "-o", str(cli / "NewCell.DNASE.bw"), "--quiet"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    prepared = tmp_path / "out" / "tracks" / "NewCell.DNASE.bw"
    values = _bigwig_values(prepared)
    assert values == _bigwig_values(cli / "NewCell.DNASE.bw")
    assert sorted(values) == ["chr1", "chr2"] and all(intervals for _size, intervals in values.values())
    # the same reads counted the same way (the paper's 1x normalisation, prepare's default); paths differ
    qc, cli_qc = (
        json.loads(p.with_name(p.name + ".qc.json").read_text()) for p in (prepared, cli / "NewCell.DNASE.bw")
    )
    assert [Path(f).name for f in qc.pop("inputs")] == [b.name for b in bams]
    assert [Path(f).name for f in cli_qc.pop("inputs")] == [b.name for b in bams]
    assert {k: v for k, v in qc.items() if k != "output"} == {
        k: v for k, v in cli_qc.items() if k != "output"
    }
    assert (qc["source"], qc["assay"], qc["normalization"]["rule"]) == ("bam", "dnase", "1x")
    subprocess.run(
        [factornet, "impute", "--models", str(model), "--genome", str(sim.genome),
         "--track", f"DNASE={cli / 'NewCell.DNASE.bw'}", "--track", f"MAPABILITY={tmp_path / 'data' / 'MAPABILITY.bw'}",
         "--chroms", "chr1", "--out", str(cli / "impute.tsv.gz"), "--quiet"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    merged = _read_gz(tmp_path / "out" / "predictions" / "NewCell.tsv.gz")
    assert merged.startswith(b"chr\tstart\tstop\tCTCF\n")
    assert merged == _read_gz(cli / "impute.tsv.gz")
    assert len(merged.decode().splitlines()) - 1 == (20_000 - 200) // 50 + 1  # chr1's 200/50 grid


@pytest.mark.slow
def test_chromosome_naming_error_is_the_tasks_one_line(tmp_path):
    """A genome in '1' naming against bigWigs in 'chr1' naming: TRAIN fails with factornet's one-line error in the
    task's .command.err (no traceback), and Nextflow shows it."""
    if _factornet() is None:
        pytest.skip("factornet is not installed (.venv/bin or PATH)")
    from factornet_core.simulate import simulate_dataset

    sim = simulate_dataset(
        tmp_path / "data", seed=1, n_chroms=2, chrom_length=20_000, n_cells=2, tfs=("CTCF",)
    )
    genome = tmp_path / "genome.fa"
    genome.write_text(sim.genome.read_text().replace(">chr", ">"))
    for peaks in (tmp_path / "data").glob(
        "*.narrowPeak.gz"
    ):  # peaks agree with the genome; the bigWigs do not
        lines = _read_gz(peaks).decode().splitlines()
        with gzip.open(peaks, "wt") as fh:
            fh.writelines(line.removeprefix("chr") + "\n" for line in lines)
    run = subprocess.run(
        ["bash", str(LAUNCHER), "run", str(PIPELINE), "-profile", "test", "--simulate", "false",
         "--input", str(sim.samplesheet), "--genome", str(genome), "--outdir", "out", "--blacklist", "false",
         "--train_cells", "CellA", "--target_cells", "CellB", "--seeds", "1", "--valid_chroms", "2",
         "--exclude_chroms", "false", "--predict_chroms", "1", "--baselines", "false", "--interpret", "false"],
        cwd=tmp_path, env=_env_with_factornet(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600,
    )  # fmt: skip
    assert run.returncode != 0, run.stdout
    (train,) = [f for name, f in _task_dirs(tmp_path).items() if "FACTORNET_TRAIN" in name]
    assert (train / ".exitcode").read_text().strip() == "2"
    err = (train / ".command.err").read_text()
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert re.fullmatch(
        r"factornet train: error: bigWig \S+ \(track 'DNASE'\) lacks chromosome '1'.*\(chr1 vs 1\)", line
    ), line
    assert line in run.stdout  # Nextflow's "Command error:" section


def test_schema_documents_every_parameter():
    config = (ROOT / "nextflow" / "nextflow.config").read_text()
    start = config.index("params {")
    block = config[start : config.index("\n}\n", start)]
    declared = set(re.findall(r"^\s+(\w+)\s+=", block, re.M))
    schema = json.loads((ROOT / "nextflow" / "nextflow_schema.json").read_text())
    properties = {name: p for group in schema["$defs"].values() for name, p in group["properties"].items()}
    assert declared == set(properties)
    # main.nf's checkParams reads each parameter's type and quotes its description
    for name, prop in properties.items():
        assert prop["type"] in {"string", "integer", "number", "boolean"}, name
        assert prop["description"].strip(), name
