"""factornet_core.cutcounts: fragment files read the same whatever their name says about gzip."""

from __future__ import annotations

import gzip

import numpy as np
import pyBigWig
import pytest

from factornet_core.prepare import prepare_track

SIZES = {"chr1": 5_000, "chr2": 3_000}


def _fragments(n: int = 400) -> str:
    """``n`` fragments ``chrom start end barcode count`` on chr1 and chr2 (seeded)."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        chrom = "chr1" if i % 3 else "chr2"
        start = int(rng.integers(0, SIZES[chrom] - 300))
        rows.append(f"{chrom}\t{start}\t{start + int(rng.integers(20, 300))}\tBC{i % 7}\t1\n")
    return "".join(rows)


def _cuts(path) -> dict[str, np.ndarray]:
    bw = pyBigWig.open(str(path))
    try:
        return {c: np.nan_to_num(bw.values(c, 0, n, numpy=True)) for c, n in SIZES.items()}
    finally:
        bw.close()


@pytest.mark.parametrize("name, packed", [("frag.tsv", True), ("frag.tsv.gz", False), ("frag.bed", True)])
def test_fragments_gzip_is_detected_by_content_not_name(tmp_path, name, packed):
    text = _fragments()
    right = tmp_path / "right.tsv.gz"
    right.write_bytes(gzip.compress(text.encode()))
    wrong = tmp_path / name
    wrong.write_bytes(gzip.compress(text.encode()) if packed else text.encode())
    expected = prepare_track(tmp_path / "right.bw", fragments=right, chrom_sizes=SIZES, rule="none")
    got = prepare_track(tmp_path / "wrong.bw", fragments=wrong, chrom_sizes=SIZES, rule="none")
    assert got.fragments_seen == expected.fragments_seen == 400
    assert got.cuts_written == expected.cuts_written == 800
    want, have = _cuts(tmp_path / "right.bw"), _cuts(tmp_path / "wrong.bw")
    assert all(np.array_equal(want[c], have[c]) for c in SIZES) and want["chr1"].sum() > 0
