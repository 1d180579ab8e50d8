"""factornet_core.binning and ``factornet bin``: labels on hand-made peaks, bad input, real DREAM peaks."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from factornet_core import binning, intervals
from factornet_core.errors import FactorNetError
from factornet_core.genome import read_chrom_sizes
from factornet_tools.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def sizes(tmp_path) -> Path:
    path = tmp_path / "g.sizes"
    path.write_text("chr1\t600\nchr2\t450\n")
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("factornet bin: error: ")
    return lines[0]


def _no_outputs(folder: Path, *names: str) -> None:
    for name in names:
        assert not (folder / name).exists()
    assert not [p.name for p in folder.iterdir() if ".part" in p.name]  # no temporary leftovers


# ----------------------------------------------------------------------------------------- library
def test_label_chromosomes_hand_made(tmp_path, sizes, make_bed):
    cons = make_bed([("chr1", 100, 201), ("chrUn", 0, 5)], "c.bed")  # chrUn: not in the genome, dropped
    rel = make_bed([("chr1", 590, 600), ("chr2", 0, 1)], "r.bed.gz")
    black = make_bed([("chr2", 440, 441)], "black.bed")
    bins, labels, black_mask = binning.label_chromosomes(
        read_chrom_sizes(sizes), {"C": binning.PeakFiles(cons, rel)}, blacklist=black
    )
    assert len(bins) == 9 + 6
    assert "".join(intervals.LABEL_CHARS[labels["C"]]) == "ABBAAUUUA" + "AUUUUU"
    assert black_mask.tolist() == [False] * 14 + [True]


def test_run_bin_needs_an_output_and_peaks(sizes):
    chrom_sizes = read_chrom_sizes(sizes)
    with pytest.raises(FactorNetError, match="nothing to write"):
        binning.run_bin(chrom_sizes, {}, None, None)
    with pytest.raises(FactorNetError, match="labels need peaks"):
        binning.run_bin(chrom_sizes, {}, "x.tsv", None)
    with pytest.raises(FactorNetError, match="chromosome 'chr9' is not in the genome"):
        binning.run_bin(chrom_sizes, {}, None, "b.bed", chroms=["chr9"])


# ----------------------------------------------------------------------------------------- CLI, good runs
def test_cli_bin_writes_exact_labels_and_bins(tmp_path, sizes, make_bed, capsys):
    cons = make_bed([("chr1", 100, 201)], "c.bed")
    rel = make_bed([("chr1", 590, 600)], "r.bed")
    black = make_bed([("chr1", 0, 1)], "black.bed")
    out_labels, out_bins = tmp_path / "labels.tsv.gz", tmp_path / "bins.bed"
    rc = main(
        [
            "bin", "--chrom-sizes", str(sizes), "--conservative", str(cons), "--relaxed", str(rel),
            "--cell", "HepG2", "--chroms", "chr1", "--blacklist", str(black),
            "--out-labels", str(out_labels), "--out-bins", str(out_bins),
        ]
    )  # fmt: skip
    assert rc == 0
    assert capsys.readouterr().err.splitlines() == ["9 bins, 1 blacklisted", "HepG2: U=3, B=2, A=4"]
    text = gzip.decompress(out_labels.read_bytes()).decode()
    expected = ["chr\tstart\tstop\tHepG2"] + [
        f"chr1\t{s}\t{s + 200}\t{c}" for s, c in zip(range(0, 450, 50), "ABBAAUUUA")
    ]
    assert text.splitlines() == expected
    assert out_bins.read_text().splitlines() == [f"chr1\t{s}\t{s + 200}" for s in range(50, 450, 50)]


def test_cli_bin_from_samplesheet_and_genome(tmp_path, make_fasta, make_bed, capsys):
    genome = make_fasta({"chr1": "ACGT" * 75})  # 300 bp → 3 bins
    make_bed([("chr1", 0, 150)], "A.cons.bed")
    make_bed([("chr1", 100, 250)], "B.cons.bed")
    make_bed([("chr1", 0, 10)], "B.rel.bed")
    (tmp_path / "t.bw").write_text("x")  # track rows are only checked for existence here
    sheet = tmp_path / "s.tsv"
    sheet.write_text(
        "cell_type\tkind\tname\tpath\n"
        "A\ttrack\tDNASE\tt.bw\nA\tconservative\tCTCF\tA.cons.bed\n"
        "B\ttrack\tDNASE\tt.bw\nB\tconservative\tCTCF\tB.cons.bed\nB\trelaxed\tCTCF\tB.rel.bed\n"
    )
    out = tmp_path / "l.tsv"
    assert main(["bin", "--genome", str(genome), "--samplesheet", str(sheet), "--out-labels", str(out)]) == 0
    assert out.read_text().splitlines() == [
        "chr\tstart\tstop\tA\tB",
        "chr1\t0\t200\tB\tA",  # A: 150 bp; B: 100 bp conservative → A
        "chr1\t50\t250\tA\tB",  # A: 100 bp → A; B: 150
        "chr1\t100\t300\tA\tB",
    ]
    capsys.readouterr()


# ----------------------------------------------------------------------------------------- CLI, bad input
def _run_bad(tmp_path, sizes_or_genome: list[str], cons: Path, capsys) -> str:
    out = tmp_path / "labels.tsv"
    rc = main(["bin", *sizes_or_genome, "--conservative", str(cons), "--out-labels", str(out)])
    assert rc == 2
    line = _one_error_line(capsys)
    _no_outputs(tmp_path, "labels.tsv")
    return line


def test_cli_chromosome_naming_mismatch(tmp_path, make_bed, capsys):
    sizes = tmp_path / "ensembl.sizes"
    sizes.write_text("1\t1000\n2\t1000\n")
    cons = make_bed([("chr1", 10, 20)], "c.bed")
    line = _run_bad(tmp_path, ["--chrom-sizes", str(sizes)], cons, capsys)
    assert "c.bed: none of its chromosomes is in the genome (first: 'chr1'): in the genome it is '1'" in line
    assert "different chromosome naming (chr1 vs 1)" in line


def test_cli_peaks_past_chromosome_end(tmp_path, sizes, make_bed, capsys):
    cons = make_bed([("chr2", 400, 460)], "c.bed")
    line = _run_bad(tmp_path, ["--chrom-sizes", str(sizes)], cons, capsys)
    assert "peak interval chr2:400-460 ends past the chromosome end (450): wrong assembly?" in line


def test_cli_malformed_bed_names_file_and_line(tmp_path, sizes, capsys):
    cons = tmp_path / "c.bed"
    cons.write_text("chr1\t0\t10\nchr1\t20\nchr1\t30\t40\n")
    line = _run_bad(tmp_path, ["--chrom-sizes", str(sizes)], cons, capsys)
    assert f"{cons}:2: narrowPeak line needs at least 3 columns" in line


def test_cli_empty_bed(tmp_path, sizes, capsys):
    cons = tmp_path / "c.bed.gz"
    cons.write_bytes(gzip.compress(b""))
    line = _run_bad(tmp_path, ["--chrom-sizes", str(sizes)], cons, capsys)
    assert line.endswith(f"{cons}: no intervals in narrowPeak file; give a file with at least one interval")


def test_cli_truncated_gzip(tmp_path, sizes, capsys):
    data = gzip.compress(b"".join(b"chr1\t%d\t%d\n" % (i % 400, i % 400 + 5) for i in range(20000)))
    cons = tmp_path / "c.bed.gz"
    cons.write_bytes(data[: len(data) - 40])
    line = _run_bad(tmp_path, ["--chrom-sizes", str(sizes)], cons, capsys)
    assert f"{cons}: damaged or truncated gzip file" in line


def test_cli_missing_files(tmp_path, sizes, make_bed, capsys):
    line = _run_bad(tmp_path, ["--chrom-sizes", str(sizes)], tmp_path / "nope.bed", capsys)
    assert line == f"factornet bin: error: peaks file '{tmp_path / 'nope.bed'}' does not exist"
    cons = make_bed([("chr1", 0, 10)], "c.bed")
    line = _run_bad(tmp_path, ["--chrom-sizes", str(tmp_path / "nope.sizes")], cons, capsys)
    assert "chromosome sizes file" in line and "does not exist" in line


def test_cli_genome_gzip_not_bgzip(tmp_path, make_bed, capsys):
    genome = tmp_path / "genome.fa.gz"
    genome.write_bytes(gzip.compress(b">chr1\n" + b"ACGT" * 100 + b"\n"))
    cons = make_bed([("chr1", 0, 10)], "c.bed")
    line = _run_bad(tmp_path, ["--genome", str(genome)], cons, capsys)
    assert (
        "is gzip- but not bgzip-compressed: decompress it with 'gunzip -c genome.fa.gz > genome.fa'" in line
    )


# ----------------------------------------------------------------------------------------- real data
@pytest.mark.shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")
@pytest.mark.parametrize("chrom", ["chr22"])
def test_cli_bin_on_dream_ctcf_equals_bedtools(tmp_path, chrom, capsys):
    pybedtools = pytest.importorskip("pybedtools")
    dream, hg19 = SHARED / "dream", SHARED / "hg19"
    cons = dream / "ChIPseq.HepG2.CTCF.conservative.train.narrowPeak.gz"
    rel = dream / "ChIPseq.HepG2.CTCF.relaxed.narrowPeak.gz"
    sizes = hg19 / "hg19.autoX.chrom.sizes"
    out = tmp_path / "labels.tsv.gz"
    t0 = time.perf_counter()
    rc = main(
        ["bin", "--chrom-sizes", str(sizes), "--conservative", str(cons), "--relaxed", str(rel),
         "--cell", "HepG2", "--chroms", chrom, "--out-labels", str(out)]
    )  # fmt: skip
    wall = time.perf_counter() - t0
    assert rc == 0
    print(f"\nfactornet bin on {chrom} (HepG2 CTCF): {wall:.2f} s wall")
    bins, labels = intervals.read_labels(out)
    got = labels["HepG2"]

    # independent computation with bedtools
    pybedtools.helpers.set_tempdir(str(tmp_path))
    genome_file = tmp_path / "one.sizes"
    size = read_chrom_sizes(sizes)[chrom]
    genome_file.write_text(f"{chrom}\t{size}\n")
    windows = pybedtools.BedTool().makewindows(g=str(genome_file), w=200, s=50)
    win = windows.to_dataframe(disable_auto_names=True, header=None, usecols=[0, 1, 2])
    win.columns = ["chrom", "start", "end"]
    full = (win["end"] - win["start"]) == 200
    win = win.loc[full].reset_index(drop=True)
    full_windows = pybedtools.BedTool.from_dataframe(win).saveas(str(tmp_path / "win.bed"))

    def on_chrom(path: Path) -> pybedtools.BedTool:
        return pybedtools.BedTool(str(path)).filter(lambda f: f.chrom == chrom).cut([0, 1, 2]).saveas()

    cons_merged = on_chrom(cons).sort().merge()
    any_merged = on_chrom(cons).cat(on_chrom(rel), postmerge=True)
    wao = full_windows.intersect(cons_merged, wao=True).to_dataframe(disable_auto_names=True, header=None)
    bp = wao.groupby([1], sort=False)[wao.columns[-1]].sum()  # overlap per window start
    bp = bp.reindex(win["start"]).to_numpy()
    touched = full_windows.intersect(any_merged, u=True).to_dataframe(disable_auto_names=True, header=None)
    expected = np.full(len(win), intervals.U, np.int8)
    expected[np.isin(win["start"].to_numpy(), touched[1].to_numpy())] = intervals.A
    expected[bp > 100] = intervals.B
    pybedtools.helpers.cleanup()

    assert len(bins) == len(win) == (size - 200) // 50 + 1
    assert (bins["chrom"] == chrom).all()
    np.testing.assert_array_equal(bins["start"].to_numpy(), win["start"].to_numpy())
    counts = {c: int((expected == k).sum()) for k, c in enumerate("UBA")}
    print(f"bedtools counts on {chrom}: {counts}")
    assert counts["B"] > 1000 and counts["A"] > counts["B"]  # CTCF has ~1250 conservative peaks on chr22
    mismatch = np.flatnonzero(got != expected)
    assert mismatch.size == 0, pd.DataFrame(
        {
            "start": bins["start"].to_numpy()[mismatch[:10]],
            "got": got[mismatch[:10]],
            "bedtools": expected[mismatch[:10]],
        }
    )


def test_bin_accepts_a_samplesheet_of_peaks_only(tmp_path, capsys):
    """``bin`` reads no signal, so a samplesheet without track rows is fine for it."""
    (tmp_path / "c.bed").write_text("chr1\t100\t400\n")
    (tmp_path / "sizes").write_text("chr1\t1000\n")
    (tmp_path / "sheet.tsv").write_text("cell_type\tkind\tname\tpath\nX\tconservative\tCTCF\tc.bed\n")
    out = tmp_path / "labels.tsv"
    rc = main(["bin", "--chrom-sizes", str(tmp_path / "sizes"), "--samplesheet", str(tmp_path / "sheet.tsv"),
                   "--out-labels", str(out)])  # fmt: skip
    assert rc == 0
    labels = out.read_text().splitlines()
    assert labels[0] == "chr\tstart\tstop\tX" and len(labels) == 1 + 17
    assert labels[1 + 4] == "chr1\t200\t400\tB" and labels[1 + 6] == "chr1\t300\t500\tA"
