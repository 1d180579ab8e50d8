"""Deterministic inputs for the 0.1.0 model kept in ``tests/data`` (see ``tests/data/README.md``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import write_bigwig, write_fasta

DATA = Path(__file__).parent / "data"
MODEL_010 = DATA / "model-0.1.0.keras"
EXPECTED_010 = DATA / "model-0.1.0.expected.tsv.gz"
LENGTH = 3_000


def write_inputs(folder: Path) -> dict[str, Path]:
    """Genome (one 3 kb chromosome), DNASE + MAPABILITY bigWigs and an expression table."""
    rng = np.random.default_rng(17)
    seq = "".join(rng.choice(list("ACGT"), LENGTH))
    dnase = rng.gamma(0.5, 2.0, LENGTH)
    dnase[1200:1400] += 20.0  # one open region, so scores vary along the chromosome
    return {
        "genome": write_fasta(folder / "genome.fa", {"chr1": seq}),
        "DNASE": write_bigwig(folder / "dnase.bw", {"chr1": dnase}),
        "MAPABILITY": write_bigwig(folder / "map.bw", {"chr1": np.ones(LENGTH)}),
        "expression": _write_expression(folder / "expression.tsv"),
    }


def _write_expression(path: Path) -> Path:
    path.write_text("gene_id\tvalue\nSIMG00000001.1\t12.3\nSIMG00000002.1\t0.5\nSIMG00000003.1\t7.25\n")
    return path


def predict_argv(files: dict[str, Path], out: Path) -> list[str]:
    return [
        "predict",
        "--model",
        str(MODEL_010),
        "--genome",
        str(files["genome"]),
        "--track",
        f"DNASE={files['DNASE']}",
        "--track",
        f"MAPABILITY={files['MAPABILITY']}",
        "--expression",
        str(files["expression"]),
        "-o",
        str(out),
        "--quiet",
    ]
