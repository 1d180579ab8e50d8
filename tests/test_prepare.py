"""Tests of ``factornet prepare`` (factornet_core.prepare): cut sites from hand-made BAMs, filters,
normalisation, FRiP, pooling, fragment files, re-normalising a bigWig, and every bad input."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pyBigWig
import pysam
import pytest
from testdata import write_bed, write_bigwig, write_fasta

from factornet_core import FactorNetError, normalize, prepare
from factornet_core.prepare import ReadFilters, prepare_track
from factornet_tools import cli

SIZES = {"chr1": 2_000, "chr2": 1_500}
REF_OPS = set("MDN=X")  # CIGAR operations that consume the reference (SAM spec §1.4.6)


# --------------------------------------------------------------------------------------------- BAM builder
def write_bam(
    path: Path,
    reads: list[dict],
    sizes: dict[str, int] = SIZES,
    index: bool = True,
    sort: bool = True,
    so: str = "coordinate",
    fmt: str = "wb",
    reference: Path | None = None,
) -> Path:
    """Reads ``{chrom, start, cigar, flag, mapq}`` → BAM (sorted by (chrom, start) unless ``sort=False``)."""
    header = {"HD": {"VN": "1.6", "SO": so}, "SQ": [{"SN": c, "LN": n} for c, n in sizes.items()]}
    order = list(sizes)
    if sort:
        reads = sorted(reads, key=lambda r: (order.index(r["chrom"]), r["start"]))
    kw = {"reference_filename": str(reference)} if reference else {}
    with pysam.AlignmentFile(str(path), fmt, header=header, **kw) as out:
        for i, r in enumerate(reads):
            a = pysam.AlignedSegment(out.header)
            a.query_name = r.get("name", f"read{i}")
            a.flag = r.get("flag", 0)
            a.reference_id = order.index(r["chrom"])
            a.reference_start = r["start"]
            a.mapping_quality = r.get("mapq", 60)
            cigar = r.get("cigar", "36M")
            a.cigarstring = cigar
            qlen = sum(int(n) for n, op in re.findall(r"(\d+)([MIS=X])", cigar))
            a.query_sequence = "A" * qlen
            a.query_qualities = pysam.qualitystring_to_array("I" * qlen)
            if a.flag & 0x1:
                a.next_reference_id = a.reference_id
                a.next_reference_start = r.get("mate_start", r["start"])
            out.write(a)
    if index:
        pysam.index(str(path))
    return path


def five_prime(read: dict) -> int:
    """Independent 5′ end from the CIGAR text: reference span from M/D/N/=/X, soft clips ignored."""
    span = sum(
        int(n) for n, op in re.findall(r"(\d+)([MIDNSHP=X])", read.get("cigar", "36M")) if op in REF_OPS
    )
    return read["start"] + span - 1 if read.get("flag", 0) & 0x10 else read["start"]


def dense(path: Path) -> dict[str, np.ndarray]:
    with pyBigWig.open(str(path)) as bw:
        return {c: np.nan_to_num(bw.values(c, 0, n, numpy=True)) for c, n in bw.chroms().items()}


def random_reads(rng: np.random.Generator, n: int, sizes=SIZES) -> list[dict]:
    cigars = ["36M", "5S31M", "30M6S", "3S10M2D20M3S", "12M1I23M", "20M50N16M", "2S34M"]
    flags = [0, 0, 0, 0x10, 0x10, 0x10, 0x400, 0x100, 0x800, 0x200, 0x4, 0x10 | 0x400]
    reads = []
    for _ in range(n):
        chrom = list(sizes)[rng.integers(len(sizes))]
        reads.append(
            dict(
                chrom=chrom,
                start=int(rng.integers(0, sizes[chrom] - 120)),
                cigar=cigars[rng.integers(len(cigars))],
                flag=int(flags[rng.integers(len(flags))]),
                mapq=int(rng.choice([0, 10, 29, 30, 60, 60, 60])),
            )
        )
    return reads


def expected_counts(reads: list[dict], sizes=SIZES, min_mapq=30, shift=(0, 0)) -> dict[str, np.ndarray]:
    out = {c: np.zeros(n) for c, n in sizes.items()}
    for r in reads:
        if r.get("flag", 0) & (0x4 | 0x100 | 0x800 | 0x200 | 0x400) or r.get("mapq", 60) < min_mapq:
            continue
        pos = five_prime(r) + (shift[1] if r.get("flag", 0) & 0x10 else shift[0])
        if 0 <= pos < sizes[r["chrom"]]:
            out[r["chrom"]][pos] += 1
    return out


# --------------------------------------------------------------------------------------------- cuts
def test_cuts_equal_independent_count_from_read_coordinates(tmp_path):
    reads = random_reads(np.random.default_rng(5), 400)
    bam = write_bam(tmp_path / "a.bam", reads)
    report = prepare_track(tmp_path / "out.bw", bams=[bam], chrom_sizes=SIZES, rule="none")
    want = expected_counts(reads)
    got = dense(tmp_path / "out.bw")
    for chrom in SIZES:
        np.testing.assert_array_equal(got[chrom], want[chrom])
    kept = int(sum(v.sum() for v in want.values()))
    assert report.reads_seen == 400 and report.reads_kept == kept == report.cuts_written
    assert sum(report.dropped.values()) == 400 - kept
    n_dup = sum(1 for r in reads if r["flag"] & 0x400 and not r["flag"] & 0x4)
    assert report.dropped["duplicate"] == n_dup
    assert report.dropped["low_mapq"] == sum(1 for r in reads if not r["flag"] & 0xF04 and r["mapq"] < 30)
    qc = json.loads((tmp_path / "out.bw.qc.json").read_text())
    assert qc["cuts_written"] == kept and qc["normalization"]["rule"] == "none"
    assert qc["normalization"]["scale"] == 1.0


def test_hand_written_reads_soft_clip_deletion_and_both_strands(tmp_path):
    reads = [
        dict(chrom="chr1", start=100, cigar="5S20M"),  # forward, clip ignored: cut 100
        dict(chrom="chr1", start=200, cigar="10M3D10M4S", flag=0x10),  # reverse: 200+23-1 = 222
        dict(chrom="chr1", start=300, cigar="10M", flag=0x10, mapq=29),  # low MAPQ
        dict(chrom="chr1", start=100, cigar="20M", flag=0x100),  # secondary
        dict(
            chrom="chr2", start=50, cigar="30M", flag=0x1 | 0x2 | 0x40 | 0x20, mate_start=150
        ),  # mate 1, fwd
        dict(
            chrom="chr2", start=150, cigar="30M", flag=0x1 | 0x2 | 0x80 | 0x10, mate_start=50
        ),  # mate 2, rev: 179
    ]
    bam = write_bam(tmp_path / "h.bam", reads)
    prepare_track(tmp_path / "o.bw", bams=[bam], chrom_sizes=SIZES, rule="none")
    got = dense(tmp_path / "o.bw")
    assert np.flatnonzero(got["chr1"]).tolist() == [100, 222]
    assert np.flatnonzero(got["chr2"]).tolist() == [50, 179]
    # zero runs are not stored: the bigWig holds exactly the four cut bases
    with pyBigWig.open(str(tmp_path / "o.bw")) as bw:
        assert bw.intervals("chr1") == ((100, 101, 1.0), (222, 223, 1.0))


def test_atac_shift_both_strands_and_explicit_shift(tmp_path):
    reads = [
        dict(chrom="chr1", start=100, cigar="36M"),  # cut 100 → +4 = 104
        dict(chrom="chr1", start=200, cigar="50M", flag=0x10),  # last base 249 → −5 = 244
        dict(chrom="chr1", start=1, cigar="36M", flag=0x10),  # 36 → 31
        dict(chrom="chr1", start=1990, cigar="5M", flag=0),  # 1990 + 4 = 1994 (< 2000)
        dict(chrom="chr1", start=1997, cigar="3M", flag=0),  # 1997 + 4 = 2001: off the chromosome
    ]
    bam = write_bam(tmp_path / "a.bam", reads)
    rep = prepare_track(tmp_path / "atac.bw", bams=[bam], chrom_sizes=SIZES, assay="atac", rule="none")
    assert np.flatnonzero(dense(tmp_path / "atac.bw")["chr1"]).tolist() == [31, 104, 244, 1994]
    assert rep.dropped == {"off_chromosome": 1} and rep.shift == (4, -5)
    prepare_track(tmp_path / "s.bw", bams=[bam], chrom_sizes=SIZES, shift=(1, -2), rule="none")
    assert np.flatnonzero(dense(tmp_path / "s.bw")["chr1"]).tolist() == [34, 101, 247, 1991, 1998]
    # the CLI's --assay/--shift reach the library
    assert cli.main(["prepare", "--quiet", "--bam", str(bam), "--chrom-sizes", str(_sizes_file(tmp_path)),
                     "--shift", "1,-2", "--normalize", "none", "-o", str(tmp_path / "c.bw")]) == 0  # fmt: skip
    np.testing.assert_array_equal(dense(tmp_path / "c.bw")["chr1"], dense(tmp_path / "s.bw")["chr1"])


def test_dedup_proper_pairs_blacklist_and_chroms(tmp_path):
    p = 0x1 | 0x2  # paired, proper pair
    reads = [
        dict(chrom="chr1", start=100, cigar="36M", flag=p | 0x40),
        dict(chrom="chr1", start=100, cigar="5S31M", flag=p | 0x80),  # same 5′ position and strand: dedup
        dict(chrom="chr1", start=65, cigar="36M", flag=p | 0x10),  # 5′ end 100 but reverse: kept
        dict(chrom="chr1", start=500, cigar="36M", flag=0x1 | 0x40, mate_start=900),  # paired, not proper
        dict(chrom="chr1", start=600, cigar="36M", flag=p | 0x40, mate_start=700),
        dict(chrom="chr1", start=1000, cigar="36M", flag=p),  # in the blacklist
        dict(chrom="chr2", start=10, cigar="36M", flag=p),  # not in --chroms
    ]
    bam = write_bam(tmp_path / "d.bam", reads)
    black = write_bed(tmp_path / "black.bed", [("chr1", 990, 1010)])
    rep = prepare_track(
        tmp_path / "o.bw", bams=[bam], chrom_sizes=SIZES, chroms=["chr1"], rule="none", blacklist=black,
        filters=ReadFilters(dedup=True, proper_pairs=True),
    )  # fmt: skip
    got = dense(tmp_path / "o.bw")
    assert list(got) == ["chr1"]
    assert np.flatnonzero(got["chr1"]).tolist() == [100, 600] and got["chr1"][100] == 2
    assert rep.dropped == {"dedup": 1, "not_proper_pair": 1, "blacklist": 1, "other_chromosome": 1}
    assert rep.reads_seen == 7 and rep.reads_kept == 3


def test_dedup_counts_and_blacklist_counts_exactly(tmp_path):
    reads = [dict(chrom="chr1", start=100, cigar="36M")] * 3 + [dict(chrom="chr1", start=1000, cigar="36M")]
    bam = write_bam(tmp_path / "d.bam", reads)
    black = write_bed(tmp_path / "black.bed", [("chr1", 990, 1010)])
    rep = prepare_track(
        tmp_path / "o.bw", bams=[bam], chrom_sizes=SIZES, rule="none", blacklist=black,
        filters=ReadFilters(dedup=True),
    )  # fmt: skip
    assert rep.dropped == {"dedup": 2, "blacklist": 1}
    assert dense(tmp_path / "o.bw")["chr1"].sum() == 1


def test_pooled_replicates_equal_sum_of_single_runs(tmp_path):
    rng = np.random.default_rng(11)
    a = write_bam(tmp_path / "a.bam", random_reads(rng, 300))
    b = write_bam(tmp_path / "b.bam", random_reads(rng, 200))
    ra = prepare_track(tmp_path / "a.bw", bams=[a], chrom_sizes=SIZES, rule="none")
    rb = prepare_track(tmp_path / "b.bw", bams=[b], chrom_sizes=SIZES, rule="none")
    rab = prepare_track(tmp_path / "ab.bw", bams=[a, b], chrom_sizes=SIZES, rule="none")
    da, db, dab = dense(tmp_path / "a.bw"), dense(tmp_path / "b.bw"), dense(tmp_path / "ab.bw")
    for chrom in SIZES:
        np.testing.assert_array_equal(dab[chrom], da[chrom] + db[chrom])
    assert rab.reads_seen == 500 and rab.cuts_written == ra.cuts_written + rb.cuts_written > 0


# --------------------------------------------------------------------------------------------- normalisation
def _toy(tmp_path) -> tuple[Path, Path]:
    """chr1 of 100 bp with 20 N; cuts: 3 at base 10, 1 at base 20 (forward reads)."""
    fa = write_fasta(tmp_path / "g.fa", {"chr1": "N" * 20 + "ACGT" * 20})
    reads = [dict(chrom="chr1", start=10, cigar="10M")] * 3 + [dict(chrom="chr1", start=20, cigar="10M")]
    return fa, write_bam(tmp_path / "t.bam", reads, sizes={"chr1": 100})


@pytest.mark.parametrize(
    "rule, scale, at10, at20",
    [("1x", 80 / 4, 60.0, 20.0), ("cpm", 1e6 / 4, 750_000.0, 250_000.0), ("minmax", 1 / 3, 1.0, 1 / 3)],
)
def test_normalisation_values_and_scale_factors(tmp_path, rule, scale, at10, at20):
    fa, bam = _toy(tmp_path)
    rep = prepare_track(tmp_path / "n.bw", bams=[bam], genome=fa, rule=rule)
    assert rep.normalization["rule"] == rule
    assert rep.normalization["scale"] == pytest.approx(scale)
    got = dense(tmp_path / "n.bw")["chr1"]
    assert got[10] == pytest.approx(at10, rel=1e-6) and got[20] == pytest.approx(at20, rel=1e-6)
    assert np.count_nonzero(got) == 2
    if rule == "1x":  # sums to the effective genome size: the 80 non-N bases
        assert got.sum() == pytest.approx(80) and rep.normalization["effective_genome_size"] == 80


def test_1x_effective_genome_size_override_and_minmax_percentile(tmp_path):
    fa, bam = _toy(tmp_path)
    rep = prepare_track(tmp_path / "a.bw", bams=[bam], genome=fa, rule="1x", effective_genome_size=1000)
    assert dense(tmp_path / "a.bw")["chr1"][10] == pytest.approx(750.0)
    assert rep.effective_genome_size_source == "--effective-genome-size"
    # non-zero per-base values are {3, 1}: the 50th percentile (inverted CDF) is 1 → 3 is clipped to 1
    rep = prepare_track(tmp_path / "m.bw", bams=[bam], genome=fa, rule="minmax", percentile=50)
    assert rep.normalization["percentile_value"] == 1.0
    assert dense(tmp_path / "m.bw")["chr1"][[10, 20]].tolist() == [1.0, 1.0]


def test_normalize_weighted_form_equals_per_base_form():
    rng = np.random.default_rng(3)
    per_base = rng.poisson(0.3, 5_000).astype(float) * rng.choice([1.0, 2.5], 5_000)
    values, weights = np.unique(per_base, return_counts=True)
    for rule in ("1x", "cpm", "minmax", "none"):
        a = normalize.scale_factor(rule, per_base, effective_genome_size=4_000, percentile=97)
        b = normalize.scale_factor(rule, values, weights, effective_genome_size=4_000, percentile=97)
        assert a.scale == pytest.approx(b.scale)
    nz = per_base[per_base != 0]
    for p in (50, 90, 99, 100):
        want = np.percentile(nz, p, method="inverted_cdf")
        assert normalize.nonzero_percentile(values, weights, p) == want
    scaled = normalize.apply(per_base, normalize.scale_factor("minmax", per_base, percentile=90))
    assert scaled.max() == 1.0 and scaled.dtype == np.float32
    with pytest.raises(FactorNetError, match="no signal"):
        normalize.scale_factor("1x", np.zeros(4), effective_genome_size=4)


def test_renormalise_existing_bigwig(tmp_path, capsys):
    values = np.zeros(100)
    values[[5, 6, 40]] = [2.0, 2.0, 4.0]
    bw = write_bigwig(tmp_path / "in.bw", {"chr1": values})
    sizes = tmp_path / "s.sizes"
    sizes.write_text("chr1\t100\n")
    assert cli.main(["prepare", "--quiet", "--bigwig", str(bw), "--chrom-sizes", str(sizes),
                     "--normalize", "1x", "--effective-genome-size", "80", "-o", str(tmp_path / "o.bw")]) == 0  # fmt: skip
    got = dense(tmp_path / "o.bw")["chr1"]
    np.testing.assert_allclose(got, values * 80 / 8, rtol=1e-6)
    assert capsys.readouterr().err == (  # a bigWig has no cuts: its signal total, and where G came from
        f"wrote {tmp_path / 'o.bw'}: signal total 8 re-normalised, 1x scale factor 10 "
        "(effective genome size 80: --effective-genome-size)\n"
    )
    assert cli.main(["prepare", "--quiet", "--bigwig", str(bw), "--chrom-sizes", str(sizes),
                     "--normalize", "1x", "-o", str(tmp_path / "d.bw")]) == 0  # fmt: skip
    assert (
        "1x scale factor 12.5 (effective genome size 100: length of the chromosomes written (no FASTA given))"
        in (capsys.readouterr().err)
    )
    prepare_track(tmp_path / "n.bw", bigwig=bw, chrom_sizes={"chr1": 100}, rule="none")
    np.testing.assert_array_equal(dense(tmp_path / "n.bw")["chr1"], values)


# --------------------------------------------------------------------------------------------- FRiP, fragments
def test_frip_on_a_toy_case(tmp_path):
    reads = [dict(chrom="chr1", start=s, cigar="10M") for s in (10, 10, 15, 50, 90)]
    bam = write_bam(tmp_path / "f.bam", reads, sizes={"chr1": 100})
    peaks = write_bed(tmp_path / "p.bed", [("chr1", 8, 16), ("chr1", 89, 90)])  # holds 10, 10, 15; not 90
    rep = prepare_track(tmp_path / "f.bw", bams=[bam], chrom_sizes={"chr1": 100}, peaks=peaks, rule="cpm")
    assert rep.frip == pytest.approx(3 / 5)
    assert json.loads((tmp_path / "f.bw.qc.json").read_text())["frip"] == pytest.approx(0.6)


def test_fragments_cut_at_both_ends_with_barcodes(tmp_path):
    frag = tmp_path / "frag.tsv.gz"
    with gzip.open(frag, "wt") as fh:
        fh.write(
            "# comment\nchr1\t10\t50\tAAA\t2\nchr1\t10\t30\tCCC\t1\nchr2\t0\t8\tAAA\t1\nchrUn\t1\t5\tAAA\t1\n"
        )
    rep = prepare_track(tmp_path / "a.bw", fragments=frag, chrom_sizes=SIZES, rule="none")
    got = dense(tmp_path / "a.bw")
    assert {c: np.flatnonzero(v).tolist() for c, v in got.items()} == {"chr1": [10, 29, 49], "chr2": [0, 7]}
    assert got["chr1"][10] == 2 and rep.fragments_seen == 4 and rep.dropped == {"other_chromosome": 2}
    codes = tmp_path / "bc.txt"
    codes.write_text("CCC\n")
    rep = prepare_track(tmp_path / "b.bw", fragments=frag, barcodes=codes, chrom_sizes=SIZES, rule="none")
    assert np.flatnonzero(dense(tmp_path / "b.bw")["chr1"]).tolist() == [10, 29]
    assert rep.cuts_written == 2 and rep.dropped["barcode"] == 6


def test_fragments_record_the_assay_and_why_no_shift_applies(tmp_path, capsys):
    frag = tmp_path / "frag.tsv"
    frag.write_text("chr1\t10\t50\tAAA\t1\n")
    sizes = _sizes_file(tmp_path)
    argv = [
        "prepare",
        "--quiet",
        "--fragments",
        str(frag),
        "--chrom-sizes",
        str(sizes),
        "--normalize",
        "none",
    ]
    assert cli.main([*argv, "--assay", "atac", "-o", str(tmp_path / "f.bw")]) == 0
    qc = json.loads((tmp_path / "f.bw.qc.json").read_text())
    assert (qc["assay"], qc["shift"]) == ("atac", [0, 0])
    assert qc["shift_note"] == "fragment ends are taken as Tn5-corrected already: no shift applied"
    assert capsys.readouterr().err.splitlines() == [
        "factornet prepare: note: fragment ends are taken as Tn5-corrected already: no shift applied",
        f"wrote {tmp_path / 'f.bw'}: 2 cuts, none scale factor 1",
    ]
    assert np.flatnonzero(dense(tmp_path / "f.bw")["chr1"]).tolist() == [10, 49]  # unshifted ends
    assert cli.main([*argv, "--shift", "4,-5", "-o", str(tmp_path / "g.bw")]) == 2
    assert "--shift does not apply to --fragments" in capsys.readouterr().err


def test_cram_with_reference_reads_like_bam(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", {c: "ACGT" * (n // 4) for c, n in SIZES.items()})
    pysam.faidx(str(fa))
    reads = random_reads(np.random.default_rng(2), 100)
    cram = write_bam(tmp_path / "a.cram", reads, fmt="wc", reference=fa)
    prepare_track(tmp_path / "c.bw", bams=[cram], genome=fa, rule="none")
    want = expected_counts(reads)
    got = dense(tmp_path / "c.bw")
    for chrom in SIZES:
        np.testing.assert_array_equal(got[chrom], want[chrom])


# --------------------------------------------------------------------------------------------- bad input
def _sizes_file(tmp_path: Path, sizes=SIZES) -> Path:
    path = tmp_path / "genome.sizes"
    path.write_text("".join(f"{c}\t{n}\n" for c, n in sizes.items()))
    return path


def _fails(tmp_path, capfd, *argv, sizes=SIZES) -> str:
    """Run the CLI expecting exit 2 with one error line and no output left behind."""
    out = tmp_path / "out" / "x.bw"
    out.parent.mkdir(exist_ok=True)
    capfd.readouterr()
    argv = ["prepare", "--quiet", *map(str, argv), "-o", str(out)]
    if "--genome" not in argv:
        argv += ["--chrom-sizes", str(_sizes_file(tmp_path, sizes))]
    rc = cli.main(argv)
    err = capfd.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("factornet prepare: error: "), err
    assert list(out.parent.iterdir()) == []
    return lines[0]


def test_bam_without_index_is_indexed_in_a_temporary_file(tmp_path):
    reads = [dict(chrom="chr1", start=7, cigar="10M")]
    bam = write_bam(tmp_path / "noidx.bam", reads, index=False)
    prepare_track(tmp_path / "o.bw", bams=[bam], chrom_sizes=SIZES, rule="none")
    assert np.flatnonzero(dense(tmp_path / "o.bw")["chr1"]).tolist() == [7]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noidx.bam", "o.bw", "o.bw.qc.json"]


def test_unsorted_bam_is_refused(tmp_path, capfd):
    reads = [dict(chrom="chr1", start=500), dict(chrom="chr1", start=10)]
    bam = write_bam(tmp_path / "u.bam", reads, index=False, sort=False)
    assert "samtools sort" in _fails(tmp_path, capfd, "--bam", bam)
    named = write_bam(tmp_path / "q.bam", reads[:1], index=False, so="queryname")
    assert "not coordinate-sorted (header SO:queryname)" in _fails(tmp_path, capfd, "--bam", named)


def test_header_naming_and_assembly_mismatch_refused(tmp_path, capfd):
    ens = write_bam(tmp_path / "e.bam", [dict(chrom="1", start=5)], sizes={"1": 2000, "2": 1500})
    msg = _fails(tmp_path, capfd, "--bam", ens)
    assert "'1'" in msg and "chr1" in msg and "naming" in msg
    other = write_bam(tmp_path / "o.bam", [dict(chrom="chr1", start=5)], sizes={"chr1": 2100, "chr2": 1500})
    msg = _fails(tmp_path, capfd, "--bam", other)
    assert "chr1 has length 2100, the genome says 2000" in msg and "assembly" in msg


def test_truncated_bam_refused(tmp_path, capfd):
    bam = write_bam(tmp_path / "t.bam", random_reads(np.random.default_rng(1), 50), index=False)
    data = bam.read_bytes()
    bam.write_bytes(data[:-28])  # drop the 28-byte BGZF EOF block
    assert "truncated" in _fails(tmp_path, capfd, "--bam", bam)


def test_no_read_left_names_the_filter(tmp_path, capfd):
    reads = [dict(chrom="chr1", start=s, mapq=5) for s in range(10, 60, 10)] + [
        dict(chrom="chr1", start=3, flag=0x400)
    ]
    bam = write_bam(tmp_path / "m.bam", reads)
    msg = _fails(tmp_path, capfd, "--bam", bam)
    assert "no read left" in msg and "5 removed as low_mapq" in msg and "--min-mapq" in msg


def test_proper_pairs_on_single_end_refused(tmp_path, capfd):
    bam = write_bam(tmp_path / "se.bam", [dict(chrom="chr1", start=5)])
    assert "single-end" in _fails(tmp_path, capfd, "--bam", bam, "--proper-pairs")


def test_cram_without_reference_refused(tmp_path, capfd):
    fa = write_fasta(tmp_path / "g.fa", {c: "ACGT" * (n // 4) for c, n in SIZES.items()})
    pysam.faidx(str(fa))
    cram = write_bam(tmp_path / "a.cram", [dict(chrom="chr1", start=5)], fmt="wc", reference=fa)
    assert "--genome" in _fails(tmp_path, capfd, "--bam", cram)


def test_fragments_with_too_few_columns_refused(tmp_path, capfd):
    frag = tmp_path / "f.tsv"
    frag.write_text("chr1\t10\t50\nchr1\t60\t90\n")
    assert "expected at least 4" in _fails(tmp_path, capfd, "--fragments", frag)


def test_library_never_prints_and_pure_read_cuts(capfd):
    flag = np.array([0, 0x10, 0x10 | 0x400, 0])
    pos, dropped = prepare.read_cuts(flag, np.array([60, 60, 60, 10]), np.array([5, 5, 5, 9]),
                                     np.array([15, 20, 20, 19]), 100, (4, -5))  # fmt: skip
    assert pos.tolist() == [9, 14] and dropped == {"duplicate": 1, "low_mapq": 1}
    assert capfd.readouterr() == ("", "")


# --------------------------------------------------------------------------------------------- simulator
@pytest.mark.parametrize("reads", ["single", "paired"])
def test_prepare_on_simulated_reads_reproduces_the_simulators_cut_track(tmp_path, reads):
    from factornet_core import simulate
    from factornet_core.samplesheet import read_samplesheet

    sim = simulate.simulate_dataset(
        tmp_path / "sim", seed=3, n_chroms=2, chrom_length=60_000, n_cells=2, tfs=("CTCF",), reads=reads
    )
    for cell in sim.cells:
        bam = sim.bams[cell]
        rc = cli.main(["prepare", "--quiet", "--bam", str(bam), "--genome", str(sim.genome),
                       "--normalize", "none", "-o", str(tmp_path / f"{cell}.bw")])  # fmt: skip
        assert rc == 0
        want, got = dense(sim.dnase[cell]), dense(tmp_path / f"{cell}.bw")
        assert list(got) == list(want)
        for chrom in want:
            np.testing.assert_array_equal(got[chrom], want[chrom])
        qc = json.loads((tmp_path / f"{cell}.bw.qc.json").read_text())
        # the noise the filters must remove is really there
        assert (
            qc["dropped"]["duplicate"] > 0
            and qc["dropped"]["low_mapq"] > 0
            and qc["dropped"]["secondary"] > 0
        )
        assert qc["cuts_written"] == int(sum(v.sum() for v in want.values()))
    with pysam.AlignmentFile(str(sim.bams[sim.cells[0]])) as bam:
        recs = list(bam.fetch("chr1"))
        assert bam.header.to_dict()["HD"]["SO"] == "coordinate"
    assert any(r.cigartuples[0][0] == 4 for r in recs if not r.is_reverse)  # 5′ soft clips
    assert any(r.cigartuples[-1][0] == 4 for r in recs if r.is_reverse)
    assert {r.is_reverse for r in recs} == {True, False}
    assert any(r.is_proper_pair for r in recs) == (reads == "paired")
    # the samplesheet lists the BAMs; train/predict (need_tracks) still read it: the track rows exist
    sheet = read_samplesheet(sim.samplesheet)
    assert sheet.cells["CellA"].alignments == {"DNASE": [("bam", sim.bams["CellA"])]}


def test_samplesheet_bam_rows_without_track_are_refused_with_a_prepare_hint(tmp_path):
    from factornet_core.samplesheet import read_samplesheet

    for name in ("a.bam", "b.bam", "f.tsv.gz"):
        (tmp_path / name).write_bytes(b"x")
    sheet = tmp_path / "s.tsv"
    sheet.write_text(
        "cell_type\tkind\tname\tpath\nK562\tbam\tDNASE\ta.bam\nK562\tbam\tDNASE\tb.bam\nK562\tfragments\tATAC\tf.tsv.gz\n"
    )
    parsed = read_samplesheet(sheet, need_tracks=False)
    assert [p.name for _, p in parsed.cells["K562"].alignments["DNASE"]] == ["a.bam", "b.bam"]
    with pytest.raises(
        FactorNetError, match=r"'DNASE' of cell type 'K562' is given only as bam rows.*factornet prepare"
    ):
        read_samplesheet(sheet)
    # the same BAM twice is a mistake, not a replicate
    sheet.write_text("cell_type\tkind\tname\tpath\nK562\tbam\tDNASE\ta.bam\nK562\tbam\tDNASE\ta.bam\n")
    with pytest.raises(FactorNetError, match="duplicate entry bam"):
        read_samplesheet(sheet, need_tracks=False)


def test_bam_index_older_than_the_bam_is_not_trusted(tmp_path):
    """A BAM rewritten after indexing (new reads, same name) with its old .bai beside it: htslib would
    seek with the old offsets; prepare builds a fresh index instead and leaves the user's file alone."""
    old_reads = [dict(chrom="chr1", start=s, cigar="10M") for s in (100, 900)] + [
        dict(chrom="chr2", start=50, cigar="10M")
    ]
    bam = write_bam(tmp_path / "a.bam", old_reads)
    old_bai = (tmp_path / "a.bam.bai").read_bytes()
    new_reads = [dict(chrom="chr1", start=s, cigar="10M") for s in range(10, 1900, 37)]
    new_reads += [dict(chrom="chr2", start=s, cigar="10M") for s in range(5, 1400, 23)]
    fresh = write_bam(tmp_path / "fresh.bam", new_reads, index=False)
    fresh.replace(bam)  # the new BAM under the old name, its .bai now stale
    os.utime(tmp_path / "a.bam.bai", ns=(1_000_000_000, 1_000_000_000))
    prepare_track(tmp_path / "o.bw", bams=[bam], chrom_sizes=SIZES, rule="none")
    got, want = dense(tmp_path / "o.bw"), expected_counts(new_reads)
    for chrom in SIZES:
        np.testing.assert_array_equal(got[chrom], want[chrom])
    assert (tmp_path / "a.bam.bai").read_bytes() == old_bai  # untouched, just not used


def test_counts_beyond_float32_integer_precision_are_refused_before_writing(tmp_path):
    """A track whose values pass 2**24 (a summed raw-coverage bigWig re-written with --normalize none)
    cannot be stored exactly as bigWig float32: refused with the value before the output is written;
    at exactly 2**24 it is written."""
    values = np.zeros(SIZES["chr1"])
    values[10], values[11] = 30_000_000.0, 1.0
    src = write_bigwig(tmp_path / "raw.bw", {"chr1": values, "chr2": np.zeros(SIZES["chr2"])})
    with pytest.raises(FactorNetError, match="30000000, above 16777216"):
        prepare_track(tmp_path / "a.bw", bigwig=src, chrom_sizes=SIZES, rule="none")
    assert not (tmp_path / "a.bw").exists()
    values[10] = 2.0**24
    src = write_bigwig(tmp_path / "ok.bw", {"chr1": values, "chr2": np.zeros(SIZES["chr2"])})
    prepare_track(tmp_path / "b.bw", bigwig=src, chrom_sizes=SIZES, rule="none")
    assert dense(tmp_path / "b.bw")["chr1"][10] == 2**24


def test_index_newer_than_its_bam_but_not_its_own_is_refused(tmp_path, capfd):
    """A new BAM copied beside an old index with `cp -p`/`rsync -a`, or another file's index, can be *newer*
    than the BAM, so its date proves nothing: the reads found on each chromosome must be the ones the index
    counts, else one line (it used to write 25 410 cuts where the BAM held 28 668, exit 0)."""
    rng = np.random.default_rng(7)
    other = write_bam(tmp_path / "other.bam", random_reads(rng, 300))
    bam = write_bam(tmp_path / "b.bam", random_reads(rng, 200), index=False)
    shutil.copy(f"{other}.bai", f"{bam}.bai")
    later = os.stat(bam).st_mtime_ns + 60_000_000_000
    os.utime(f"{bam}.bai", ns=(later, later))
    err = _fails(tmp_path, capfd, "--bam", bam)
    assert "b.bam: its index" in err and "does not describe it" in err and "'samtools index b.bam'" in err


def test_a_file_of_another_format_is_named_as_such(tmp_path, capfd):
    """A bigWig given as --bam, a BAM or a bigWig given as --fragments: what the file is, not htslib's
    'Exec format error' or a column count of binary text."""
    bam = write_bam(tmp_path / "a.bam", [dict(chrom="chr1", start=7, cigar="10M")])
    bigwig = tmp_path / "t.bw"
    write_bigwig(bigwig, {"chr1": np.ones(SIZES["chr1"])}, SIZES)
    assert _fails(tmp_path, capfd, "--bam", bigwig).endswith("as BAM/CRAM (not a BAM or CRAM file)")
    assert "is a BAM file (alignments), not a fragment file: give it with --bam" in _fails(
        tmp_path, capfd, "--fragments", bam
    )
    assert "is binary, not tab-separated text" in _fails(tmp_path, capfd, "--fragments", bigwig)
