"""The Bioconda recipe (recipes/factornet/recipe.yaml) agrees with pyproject.toml, and the images named after it agree
with the recipe.

The recipe is rendered by rattler-build (``py-rattler-build`` from PyPI, the parser Bioconda uses for ``recipe.yaml``
recipes) with the ``python_min`` variant taken from pyproject's ``requires-python``; the rendered recipe is compared
with pyproject: name, version, run dependencies and their ranges, Python floor, entry point, licence, noarch python and
the `factornet --help` test. The rendered build string names the BioContainers image that Galaxy and Nextflow use.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

rattler_build = pytest.importorskip(
    "rattler_build", reason="py-rattler-build not installed (the [test] extra)"
)

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "factornet" / "recipe.yaml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# PyPI distribution (canonical) -> conda-forge/bioconda package, where they differ.
PYPI_TO_CONDA = {"matplotlib": "matplotlib-base", "tensorflow-cpu": "tensorflow"}
# conda packages the recipe needs that are not PyPI dependencies of the package.
CONDA_ONLY = {"python", "bedtools"}
BIOCONTAINER = "quay.io/biocontainers/factornet"
GPU_IMAGE = "ghcr.io/factornet-suite/factornet"


def python_min(project: dict) -> str:
    """'>=3.10' -> '3.10': the floor of requires-python, Bioconda's python_min variant for noarch recipes."""
    (floor,) = [s.version for s in SpecifierSet(project["requires-python"]) if s.operator == ">="]
    return floor


def render(project: dict = PYPROJECT) -> tuple[dict, str]:
    """The recipe rendered for ``project``'s Python floor: (rendered recipe as a dict, build string)."""
    recipe = rattler_build.Stage0Recipe.from_file(RECIPE)
    variants = recipe.render(rattler_build.VariantConfig({"python_min": [python_min(project)]}))
    assert len(variants) == 1, "a noarch recipe renders to one variant"
    rendered = variants[0].recipe.to_dict()
    return rendered, rendered["build"]["string"]


def conda_requirement(spec: str) -> tuple[str, SpecifierSet]:
    """'scikit-learn >=1.3' -> ('scikit-learn', SpecifierSet('>=1.3')); 'bedtools' -> ('bedtools', '')."""
    name, _, rng = spec.strip().partition(" ")
    return canonicalize_name(name), SpecifierSet(rng.replace(" ", ""))


def mismatches(project: dict, rendered: dict) -> list[str]:
    """What the rendered recipe gets wrong about ``project`` (an empty list when they agree)."""
    out = []
    if rendered["package"]["name"] != project["name"]:
        out.append(f"name {rendered['package']['name']} != {project['name']}")
    if rendered["package"]["version"] != project["version"]:
        out.append(f"version {rendered['package']['version']} != {project['version']}")
    wanted = {}
    for spec in [*project["dependencies"], *project["optional-dependencies"]["cpu"]]:
        req = Requirement(spec)
        wanted[PYPI_TO_CONDA.get(canonicalize_name(req.name), canonicalize_name(req.name))] = req.specifier
    run = dict(conda_requirement(s) for s in rendered["requirements"]["run"])
    for name, spec in wanted.items():
        if name not in run:
            out.append(f"run dependency {name}{spec} missing")
        elif run[name] != spec:
            out.append(f"run dependency {name}: recipe {run[name]} != pyproject {spec}")
    for name in run.keys() - wanted.keys() - CONDA_ONLY:
        out.append(f"run dependency {name} is not in pyproject")
    if run.get("python") != SpecifierSet(f">={python_min(project)}"):
        out.append(f"python {run.get('python')} != pyproject requires-python {project['requires-python']}")
    scripts = sorted(f"{k} = {v}" for k, v in project["scripts"].items())
    if sorted(rendered["build"].get("python", {}).get("entry_points", [])) != scripts:
        out.append(f"entry points {rendered['build'].get('python')} != {scripts}")
    if rendered["about"]["license"] != project["license"]:
        out.append(f"licence {rendered['about']['license']} != {project['license']}")
    if rendered["about"].get("license_file") != project["license-files"]:
        out.append(f"license_file {rendered['about'].get('license_file')} != {project['license-files']}")
    return out


def test_recipe_renders_and_agrees_with_pyproject():
    rendered, build_string = render()
    assert mismatches(PYPROJECT, rendered) == []
    assert rendered["build"]["noarch"] == "python"
    assert re.fullmatch(r"pyh[0-9a-f]{7}_\d+", build_string), build_string
    assert build_string.endswith(f"_{rendered['build']['number']}")
    scripts = [line for test in rendered["tests"] for line in test.get("script", [])]
    assert "factornet --help" in scripts
    imports = [m for test in rendered["tests"] for m in test.get("python", {}).get("imports", [])]
    assert {"factornet_core", "factornet_tools"} <= set(imports)
    assert (ROOT / rendered["about"]["license_file"][0]).is_file()
    assert "bedtools" in dict(conda_requirement(s) for s in rendered["requirements"]["run"])


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["dependencies"].__setitem__(1, "numpy>=2.0"),  # a floor moves
        lambda p: p["dependencies"].append("zarr>=2.16"),  # a dependency is added
        lambda p: p["dependencies"].remove("tqdm>=4.60"),  # one is dropped
        lambda p: p["optional-dependencies"].__setitem__("cpu", ["tensorflow-cpu>=2.17"]),
        lambda p: p.__setitem__("version", "0.2.0"),
        lambda p: p["scripts"].__setitem__("factornet", "factornet_tools.main:run"),
    ],
    ids=["floor", "added", "dropped", "tensorflow", "version", "entry-point"],
)
def test_a_pyproject_change_without_the_recipe_is_caught(change):
    project = {k: (v.copy() if isinstance(v, list | dict) else v) for k, v in PYPROJECT.items()}
    project["optional-dependencies"] = {k: list(v) for k, v in PYPROJECT["optional-dependencies"].items()}
    assert "numpy>=1.24" == project["dependencies"][1] and "tqdm>=4.60" in project["dependencies"]
    change(project)
    rendered, _ = render(project)
    assert mismatches(project, rendered), "the check should have found the drift"


def _biocontainer() -> str:
    rendered, build_string = render()
    return f"{BIOCONTAINER}:{rendered['package']['version']}--{build_string}"


def test_galaxy_container_is_the_biocontainer_of_the_recipe():
    macros = (ROOT / "galaxy_wrappers" / "macros.xml").read_text()
    tokens = dict(re.findall(r'<token name="(@\w+@)">([^<]*)</token>', macros))
    containers = re.findall(r"<container type=\"docker\">([^<]+)</container>", macros)
    assert containers, "macros.xml declares no container"
    for ref in containers:
        for name, value in tokens.items():
            ref = ref.replace(name, value)
        assert ref == _biocontainer()
    (requirement,) = re.findall(
        r'<requirement type="package" version="([^"]+)">factornet</requirement>', macros
    )
    assert requirement.replace("@TOOL_VERSION@", tokens["@TOOL_VERSION@"]) == PYPROJECT["version"]
    # The GPU image is named for administrators (per-destination override), with the same version.
    readme = (ROOT / "galaxy_wrappers" / "README.md").read_text()
    assert f"{GPU_IMAGE}:{PYPROJECT['version']}-gpu" in readme


def test_nextflow_modules_name_the_biocontainer_and_the_bioconda_package():
    modules = sorted(ROOT.glob("nextflow/modules/local/factornet/*/main.nf"))
    assert modules
    config = (ROOT / "nextflow" / "nextflow.config").read_text()
    # one place: params.factornet_version (= manifest.version) and params.factornet_container in nextflow.config
    (version,) = re.findall(r"^\s+version\s+=\s+'([^']+)'", config, re.M)  # manifest.version
    assert version == PYPROJECT["version"]
    (image,) = re.findall(r'^\s+factornet_container\s+=\s+"([^"]+)"', config, re.M)
    assert image.replace("${params.factornet_version}", version) == _biocontainer()
    for path in modules:
        text = path.read_text()
        assert re.search(r'^\s*container\s+"\$\{params\.factornet_container\}"\s*$', text, re.M), (
            f"{path}: container"
        )
        assert re.search(
            r'^\s*conda\s+"bioconda::factornet=\$\{params\.factornet_version\}"\s*$', text, re.M
        ), f"{path}: conda directive"
    assert f"{GPU_IMAGE}" in config and "-gpu" in config, "the gpu profile names the CUDA image"
