"""The demo's one-screen summary: the verdict against the no-training baselines and the PNGs to open."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from factornet_core.demo import DemoResult
from factornet_tools.demo_cmd import format_summary


def _result(tmp_path: Path, bagged: float) -> DemoResult:
    rows = [
        ("factornet bagged", bagged),
        ("pwm", 0.38),
        ("accessibility", 0.23),
        ("pwm_x_accessibility", 0.63),
        ("gbm", 0.79),
    ]
    table = pd.DataFrame(
        [{"model": m, "tf": "CTCF", "cell": "CellC", "auroc": 0.9, "auprc": a, "recall_at_10pct_fdr": 0.1,
          "recall_at_50pct_fdr": 0.5, "n_bound": 10, "n_unbound": 100} for m, a in rows]
    )  # fmt: skip
    (tmp_path / "motifs").mkdir()
    figures = {"auPR bars": tmp_path / "comparison.aupr.png", "kernel logos": tmp_path / "motifs"}
    return DemoResult(tmp_path, table=table, figures=figures)


def test_summary_names_every_row_the_verdict_and_the_pngs(tmp_path):
    text = format_summary(_result(tmp_path, 0.81), 123.4)
    for model in ("factornet bagged", "pwm_x_accessibility", "gbm", "accessibility"):
        assert model in text
    assert (
        "bagged FactorNet auPR 0.810 beats the best no-training baseline (pwm_x_accessibility, 0.630)" in text
    )
    assert "gbm (trained on the same cells): 0.790" in text
    assert f"{tmp_path / 'comparison.aupr.png'}  - auPR bars" in text and f"{tmp_path / 'motifs'}/" in text
    assert "done in 123 s" in text and len(text.splitlines()) < 25


def test_summary_says_when_the_model_loses(tmp_path):
    assert "does NOT beat the best no-training baseline" in format_summary(_result(tmp_path, 0.5), 1)


def test_summary_reports_the_tomtom_q_value_of_the_best_kernel(tmp_path):
    result = _result(tmp_path, 0.9)
    result.best_motif_match = ("kernel_00", "CTCF_f2", 1e-26)
    assert "best kernel motif match: kernel_00 ~ CTCF_f2 (Tomtom q = 1e-26)" in format_summary(result, 1)


def test_the_demo_trains_on_tracks_prepared_from_its_bams(tmp_path):
    """The demo's first step is the user's path: each cell type's DNase BAM → `prepare --normalize none` → the
    bigWig every later step reads, equal base for base to the simulator's own cut track."""
    import numpy as np

    from factornet_core.recipe import tracks_from_reads
    from factornet_core.samplesheet import read_samplesheet
    from factornet_core.simulate import simulate_dataset
    from factornet_core.tracks import open_bigwig

    sim = simulate_dataset(tmp_path / "data", n_chroms=2, chrom_length=60_000, n_cells=2, reads="single")
    messages = []
    sheet = tracks_from_reads(sim, tmp_path / "prepared", messages.append)
    cells = read_samplesheet(sheet).cells
    assert "\tbam\t" not in sheet.read_text() and len(messages) == 2
    for cell in ("CellA", "CellB"):
        prepared = Path(cells[cell].tracks["DNASE"])
        assert prepared == (tmp_path / "prepared" / f"{cell}.DNASE.bw").resolve()
        assert Path(cells[cell].tracks["MAPABILITY"]) == sim.mapability.resolve()
        assert Path(cells[cell].conservative["CTCF"]) == sim.conservative[cell, "CTCF"].resolve()
        with open_bigwig(prepared) as a, open_bigwig(sim.dnase[cell]) as b:
            for chrom, length in sim.chrom_sizes.items():
                got = np.nan_to_num(np.asarray(a.values(chrom, 0, length), dtype=float))
                want = np.nan_to_num(np.asarray(b.values(chrom, 0, length), dtype=float))
                assert got.sum() > 100 and np.array_equal(got, want), (cell, chrom)


def test_tracks_from_reads_reads_the_samplesheet_as_every_command_does(tmp_path):
    """A gzipped samplesheet in its own folder, with a comment, its columns in another order and paths relative
    to it, and two BAM replicates for CellA: the replicates are pooled (the prepared track is twice the
    simulator's), as `prepare --bam A --bam B` does; a line-by-line reader took the columns by position and kept
    only the last replicate's track."""
    import gzip
    import shutil

    import numpy as np

    from factornet_core.recipe import tracks_from_reads
    from factornet_core.samplesheet import read_samplesheet
    from factornet_core.simulate import simulate_dataset
    from factornet_core.tracks import open_bigwig

    sim = simulate_dataset(tmp_path / "data", n_chroms=1, chrom_length=60_000, n_cells=2, reads="single")
    rep2 = tmp_path / "data" / "CellA.rep2.bam"
    shutil.copyfile(sim.bams["CellA"], rep2)
    (tmp_path / "sheets").mkdir()
    lines = ["# the simulation's samplesheet, by hand", "path\tkind\tname\tcell_type"]
    for cell, kind, name, path in read_samplesheet(sim.samplesheet).rows():
        lines.append(f"../data/{path.name}\t{kind}\t{name}\t{cell}")
    lines.append("../data/CellA.rep2.bam\tbam\tDNASE\tCellA")
    sim.samplesheet = tmp_path / "sheets" / "samples.tsv.gz"
    sim.samplesheet.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    messages = []
    cells = read_samplesheet(tracks_from_reads(sim, tmp_path / "prepared", messages.append)).cells
    assert [m.split(":")[0].strip() for m in messages] == ["CellA", "CellB"]  # one line per prepared track
    assert Path(cells["CellB"].tracks["MAPABILITY"]) == sim.mapability.resolve()
    assert Path(cells["CellA"].conservative["CTCF"]) == sim.conservative["CellA", "CTCF"].resolve()
    assert cells["CellA"].alignments == {} and list(cells["CellA"].tracks) == ["DNASE", "MAPABILITY"]
    for cell, replicates in (("CellA", 2), ("CellB", 1)):
        with open_bigwig(cells[cell].tracks["DNASE"]) as a, open_bigwig(sim.dnase[cell]) as b:
            got = np.nan_to_num(np.asarray(a.values("chr1", 0, 60_000), dtype=float))
            want = np.nan_to_num(np.asarray(b.values("chr1", 0, 60_000), dtype=float))
        assert want.sum() > 100 and np.array_equal(got, replicates * want), cell
