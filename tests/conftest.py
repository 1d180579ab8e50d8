"""Shared fixtures: tiny FASTA / bigWig / BED builders writing into ``tmp_path``.

Each fixture returns a function, so a test builds exactly the files it needs::

    fa = make_fasta({"chr1": "ACGT" * 100})
    bw = make_bigwig({"chr1": np.arange(400.0)})        # NaN = no data at that base
    bed = make_bed([("chr1", 10, 20)], name="peaks.bed.gz")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from testdata import (  # noqa: F401  (re-exported for fixtures)
    LEGACY_MODELS,
    SHARED_DATA,
    build_mirror,
    needs_legacy_models,
    write_bed,
    write_bigwig,
    write_fasta,
)


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
    assert set(result.not_in_mirror) == {"NANOG__GENCODE_Unique35_DGF", "REST__GENCODE_Unique35_DGF"}
    assert not result.failed
    return result.fetched
