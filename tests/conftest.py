"""Shared fixtures: tiny FASTA / bigWig / BED builders writing into ``tmp_path``.

Each fixture returns a function, so a test builds exactly the files it needs::

    fa = make_fasta({"chr1": "ACGT" * 100})
    bw = make_bigwig({"chr1": np.arange(400.0)})        # NaN = no data at that base
    bed = make_bed([("chr1", 10, 20)], name="peaks.bed.gz")
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyBigWig
import pytest


def find_shared_data() -> Path | None:
    """``shared/data`` next to the checkout or one of its parents (a worktree sits one level deeper
    than the main checkout), or ``$FACTORNET_SHARED_DATA``; None when absent (a user's fresh clone)."""
    if os.environ.get("FACTORNET_SHARED_DATA"):
        path = Path(os.environ["FACTORNET_SHARED_DATA"])
        return path if path.is_dir() else None
    for parent in Path(__file__).resolve().parents[1:4]:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


SHARED_DATA = find_shared_data()
LEGACY_MODELS = SHARED_DATA / "legacy-models" if SHARED_DATA else None
needs_legacy_models = pytest.mark.skipif(
    LEGACY_MODELS is None or not LEGACY_MODELS.is_dir(), reason="shared/data/legacy-models is absent"
)


def write_fasta(path: Path, records: Mapping[str, str], width: int = 60) -> Path:
    """Plain FASTA with ``width``-column lines (no index: pyfaidx makes the .fai)."""
    with open(path, "w") as handle:
        for name, seq in records.items():
            handle.write(f">{name}\n")
            for i in range(0, len(seq), width):
                handle.write(seq[i : i + width] + "\n")
    return path


def write_bigwig(
    path: Path, signals: Mapping[str, np.ndarray], chrom_sizes: Mapping[str, int] | None = None
) -> Path:
    """Per-base values → bigWig; NaN bases are left out (read back as 'no data')."""
    sizes = chrom_sizes or {c: len(v) for c, v in signals.items()}
    bw = pyBigWig.open(str(path), "w")
    try:
        bw.addHeader([(c, int(n)) for c, n in sizes.items()])
        for chrom in sizes:
            values = np.asarray(signals.get(chrom, []), dtype=np.float64)
            pos = np.flatnonzero(~np.isnan(values))
            if pos.size:
                bw.addEntries(chrom, pos.tolist(), values=values[pos].tolist(), span=1)
    finally:
        bw.close()
    return path


def write_bed(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    """Headerless BED (gzip when the name ends in .gz)."""
    text = "".join("\t".join(str(f) for f in row) + "\n" for row in rows)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def make_fasta(tmp_path) -> Callable[..., Path]:
    def make(records: Mapping[str, str], name: str = "genome.fa", width: int = 60) -> Path:
        return write_fasta(tmp_path / name, records, width)

    return make


@pytest.fixture
def make_bigwig(tmp_path) -> Callable[..., Path]:
    def make(
        signals: Mapping[str, np.ndarray],
        name: str = "track.bw",
        chrom_sizes: Mapping[str, int] | None = None,
    ) -> Path:
        return write_bigwig(tmp_path / name, signals, chrom_sizes)

    return make


@pytest.fixture
def make_bed(tmp_path) -> Callable[..., Path]:
    def make(rows: Sequence[Sequence[object]], name: str = "regions.bed") -> Path:
        return write_bed(tmp_path / name, rows)

    return make


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def random_dna(rng) -> Callable[..., str]:
    """Random sequence over ``alphabet`` (default: both cases and N)."""

    def make(n: int, alphabet: str = "ACGTacgtN") -> str:
        return "".join(rng.choice(list(alphabet), n))

    return make


# In CI (.ci/run sets FACTORNET_REQUIRE_EXTERNAL=1) a Galaxy or Nextflow test that skips because its runner
# is missing is a failure: CI installs both, so a skip there would hide a broken install.
_EXTERNAL_MARKERS = ("galaxy", "nextflow")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("FACTORNET_REQUIRE_EXTERNAL") == "1"
        and report.skipped
        and any(item.get_closest_marker(m) for m in _EXTERNAL_MARKERS)
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where it must run: {report.longrepr}"


def build_mirror(root: Path, names: Sequence[str] | None = None) -> Path:
    """A mirror of the original repository's layout (``models/<TF>/<variant>/<file>``) made of symlinks to
    the shared legacy-model folders (models the shared data lacks are left out)."""
    from factornet_core.catalogue import load_catalogue

    catalogue = load_catalogue()
    for name in names or list(catalogue):
        entry = catalogue[name]
        source = LEGACY_MODELS / name
        if not source.is_dir():
            continue
        folder = root / "models" / entry.tf / entry.variant
        folder.mkdir(parents=True, exist_ok=True)
        for file in entry.files:
            (folder / file.name).symlink_to(source / file.name)
    return root


@pytest.fixture(scope="session")
def published_models(tmp_path_factory) -> dict[str, Path]:
    """Every published model the shared data holds, fetched through a local mirror → {name: .keras}."""
    if LEGACY_MODELS is None or not LEGACY_MODELS.is_dir():
        pytest.skip("shared/data/legacy-models is absent")
    from factornet_core import catalogue

    root = tmp_path_factory.mktemp("published")
    mirror = build_mirror(root / "mirror")
    result = catalogue.fetch(None, dest=root / "cache", mirror=mirror)
    # the two models whose weights the shared data does not hold
    assert set(result.failed) == {"NANOG__GENCODE_Unique35_DGF", "REST__GENCODE_Unique35_DGF"}
    return result.fetched
