"""Test-data helpers shared by the test modules (import them from here, not from ``conftest``: with
tests/galaxy/conftest.py present, the module name ``conftest`` is ambiguous)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping, Sequence
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
