"""factornet_core.intervals: BED reading, coverage, bin tiling, the B/A/U rule and DREAM label files."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from factornet_core import intervals
from factornet_core.errors import FactorNetError
from factornet_core.intervals import A, B, U


def _bed(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["chrom", "start", "end"]).astype({"start": np.int64, "end": np.int64})


# ----------------------------------------------------------------------------------------- reading BED
def test_read_bed_plain_with_headers_and_narrowpeak_columns(make_bed):
    path = make_bed(
        [
            ("track name=x",),
            ("#comment",),
            ("chr1", 10, 20, "p1", 0, ".", 5.0, -1, -1, 4),
            ("chr2", 0, 5),
        ],
        "peaks.narrowPeak",
    )
    with open(path, "a") as handle:
        handle.write("\nbrowser position chr1\nchr1 30 40\n")  # blank, browser line, spaces
    df = intervals.read_bed(path)
    assert df["chrom"].tolist() == ["chr1", "chr2", "chr1"]
    assert df["start"].tolist() == [10, 0, 30] and df["end"].tolist() == [20, 5, 40]
    assert df["name"].tolist() == ["p1", ".", "."]
    assert df["start"].dtype == np.int64


def test_read_bed_gzip(make_bed):
    df = intervals.read_bed(make_bed([("chrX", 1, 2), ("chrX", 3, 9)], "p.bed.gz"))
    assert df[["chrom", "start", "end"]].values.tolist() == [["chrX", 1, 2], ["chrX", 3, 9]]


@pytest.mark.parametrize(
    "line, message",
    [
        ("chr1\t5", r"bad.bed:2: BED line needs at least 3 columns"),
        ("chr1\tfive\t10", r"bad.bed:2: BED start/end must be integers, got 'five', '10'"),
        ("chr1\t10\t5", r"bad.bed:2: BED interval has start 10 > end 5"),
        ("chr1\t-1\t5", r"bad.bed:2: BED interval has start -1 > end 5 or start < 0"),
    ],
)
def test_read_bed_malformed_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.bed"
    path.write_text(f"chr1\t0\t10\n{line}\n")
    with pytest.raises(FactorNetError, match=message):
        intervals.read_bed(path)


def test_read_bed_empty_missing_directory_truncated(tmp_path):
    empty = tmp_path / "empty.bed"
    empty.write_text("# only a header\n")
    with pytest.raises(FactorNetError, match="no intervals in BED file"):
        intervals.read_bed(empty)
    assert intervals.read_bed(empty, allow_empty=True).shape == (0, 4)
    with pytest.raises(FactorNetError, match="does not exist"):
        intervals.read_bed(tmp_path / "missing.bed")
    with pytest.raises(FactorNetError, match="is a directory"):
        intervals.read_bed(tmp_path)
    full = gzip.compress(b"".join(b"chr1\t%d\t%d\n" % (i, i + 10) for i in range(5000)))
    cut = tmp_path / "cut.bed.gz"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(FactorNetError, match="cut.bed.gz: damaged or truncated gzip file"):
        intervals.read_bed(cut)


def test_check_in_genome():
    sizes = {"chr1": 1000, "chr2": 500}
    df = _bed([("chr1", 0, 10), ("chrUn_gl1", 0, 10), ("chr2", 490, 500)])
    kept = intervals.check_in_genome(df, sizes, "p.bed")
    assert kept[["chrom", "start", "end"]].values.tolist() == [["chr1", 0, 10], ["chr2", 490, 500]]
    with pytest.raises(FactorNetError) as err:
        intervals.check_in_genome(_bed([("1", 0, 10), ("2", 0, 10)]), sizes, "p.bed", what="peak")
    assert str(err.value) == (
        "p.bed: none of its chromosomes is in the genome (first: '1'): in the genome it is 'chr1': "
        "the files use different chromosome naming (chr1 vs 1)"
    )
    with pytest.raises(
        FactorNetError, match=r"p.bed: BED interval chr2:450-501 ends past the chromosome end \(500\)"
    ):
        intervals.check_in_genome(_bed([("chr2", 450, 501)]), sizes, "p.bed")


def test_write_bed_exact_text(tmp_path):
    path = tmp_path / "out.bed"
    intervals.write_bed(path, _bed([("chr1", 0, 200), ("chr10", 50, 250)]))
    assert path.read_text() == "chr1\t0\t200\nchr10\t50\t250\n"


# ----------------------------------------------------------------------------------------- coverage
def test_coverage_equals_brute_force_boolean_array(rng):
    length = 3000
    for _ in range(20):
        n = int(rng.integers(0, 40))
        starts = rng.integers(0, length - 1, n)
        ends = np.minimum(starts + rng.integers(0, 200, n), length)  # zero-length intervals included
        covered = np.zeros(length, dtype=bool)
        for s, e in zip(starts, ends):
            covered[s:e] = True
        cov = intervals.Coverage.from_intervals(starts, ends)
        q_lo = rng.integers(0, length, 500)
        q_hi = np.minimum(q_lo + rng.integers(0, 400, 500), length)
        expected = [int(covered[a:b].sum()) for a, b in zip(q_lo, q_hi)]
        assert cov.overlap(q_lo, q_hi).tolist() == expected
        # merged blocks are sorted, disjoint, non-touching... and cover exactly the covered bases
        assert np.all(cov.starts[1:] > cov.ends[:-1])
        assert int(cov.cum[-1]) == int(covered.sum())


def test_coverage_merges_hand_made():
    cov = intervals.Coverage.from_intervals([50, 0, 20, 100], [60, 30, 40, 101])
    assert cov.starts.tolist() == [0, 50, 100] and cov.ends.tolist() == [40, 60, 101]
    assert cov.cum.tolist() == [0, 40, 50, 51]
    assert cov.covered_before(np.array([0, 10, 45, 55, 200])).tolist() == [0, 10, 40, 45, 51]
    empty = intervals.Coverage.from_intervals([], [])
    assert empty.overlap(np.array([0, 5]), np.array([10, 50])).tolist() == [0, 0]


# ----------------------------------------------------------------------------------------- bins
@pytest.mark.parametrize(
    "length, n_bins", [(199, 0), (200, 1), (249, 1), (250, 2), (450, 6), (451, 6), (1_000_000, 19997)]
)
def test_tile_bins_counts_at_chromosome_ends(length, n_bins):
    bins = intervals.tile_bins({"c": length})
    assert len(bins) == n_bins
    assert bins["start"].tolist() == list(range(0, 50 * n_bins, 50))
    assert (bins["end"] - bins["start"]).eq(200).all()
    assert n_bins == 0 or bins["end"].iloc[-1] <= length < bins["end"].iloc[-1] + 50


def test_tile_bins_several_chromosomes_and_custom_grid():
    bins = intervals.tile_bins({"chr1": 450, "chr2": 100, "chr3": 300}, ["chr3", "chr1"], 100, 100)
    assert bins["chrom"].astype(str).tolist() == ["chr3"] * 3 + ["chr1"] * 4
    assert bins["start"].tolist() == [0, 100, 200, 0, 100, 200, 300]
    assert bins["end"].tolist() == [100, 200, 300, 100, 200, 300, 400]
    assert len(intervals.tile_bins({"chr1": 450}, [])) == 0
    with pytest.raises(FactorNetError, match="chromosome 'chr9' is not in the genome"):
        intervals.tile_bins({"chr1": 450}, ["chr9"])


# ----------------------------------------------------------------------------------------- label rule
def test_label_rule_hand_made():
    bins = intervals.tile_bins({"chr1": 600})  # starts 0, 50, ..., 400
    cons = _bed([("chr1", 100, 201)])  # bin 0 overlaps 100 bp, bins 1 and 2 101 bp
    relaxed = _bed([("chr1", 590, 600)])  # only bin [400, 600)
    labels = intervals.label_bins(bins, cons, relaxed)
    assert labels.dtype == np.int8
    assert intervals.LABEL_CHARS[labels].tolist() == ["A", "B", "B", "A", "A", "U", "U", "U", "A"]
    no_relaxed = intervals.label_bins(bins, cons)
    assert intervals.LABEL_CHARS[no_relaxed].tolist() == ["A", "B", "B", "A", "A", "U", "U", "U", "U"]


@pytest.mark.parametrize(
    "cons, relaxed, label",
    [
        ([(0, 100)], [], A),  # exactly 100 bp: not more than half
        ([(0, 101)], [], B),
        ([(99, 200)], [], B),
        ([(0, 80), (20, 100)], [], A),  # overlapping peaks: union 100 bp counts once (sum would be 140)
        ([(0, 60), (50, 110)], [], B),  # union 110
        ([(0, 50), (50, 101)], [], B),  # abutting: 101
        ([(199, 250)], [], A),  # 1 bp conservative
        ([(300, 400)], [(199, 210)], A),  # 1 bp relaxed
        ([(300, 400)], [(200, 210)], U),  # touching the end is not overlapping
        ([(300, 400)], [(0, 200)], A),  # relaxed alone never makes B
    ],
)
def test_label_rule_edges(cons, relaxed, label):
    bins = intervals.tile_bins({"chr1": 200})
    rel = _bed([("chr1", s, e) for s, e in relaxed]) if relaxed else None
    got = intervals.label_bins(bins, _bed([("chr1", s, e) for s, e in cons]), rel)
    assert got.tolist() == [label]


def test_overlap_bp_and_mask_ignore_other_chromosomes():
    bins = intervals.tile_bins({"chr1": 300, "chr2": 300})
    regions = _bed([("chr2", 10, 20), ("chr3", 0, 1000)])
    assert intervals.overlap_bp(bins, regions).tolist() == [0, 0, 0, 10, 0, 0]
    assert intervals.overlap_mask(bins, None).tolist() == [False] * 6


# ----------------------------------------------------------------------------------------- DREAM labels
@pytest.mark.parametrize("name", ["labels.tsv", "labels.tsv.gz"])
def test_dream_labels_round_trip(tmp_path, rng, name):
    bins = intervals.tile_bins({"chr2": 1000, "chr10": 700})
    codes = {"HepG2": rng.integers(0, 3, len(bins)).astype(np.int8), "K562": np.zeros(len(bins), np.int8)}
    path = tmp_path / name
    intervals.write_labels(path, bins, codes)
    back_bins, back = intervals.read_labels(path)
    assert back_bins["chrom"].tolist() == bins["chrom"].astype(str).tolist()
    assert back_bins["start"].tolist() == bins["start"].tolist()
    assert back_bins["end"].tolist() == bins["end"].tolist()
    assert list(back) == ["HepG2", "K562"]
    for cell in codes:
        assert back[cell].dtype == np.int8
        np.testing.assert_array_equal(back[cell], codes[cell])


def test_dream_labels_exact_text(tmp_path):
    bins = intervals.tile_bins({"chr1": 300})
    path = tmp_path / "l.tsv"
    intervals.write_labels(path, bins, {"C1": np.array([B, A, U], np.int8)})
    assert path.read_text() == "chr\tstart\tstop\tC1\nchr1\t0\t200\tB\nchr1\t50\t250\tA\nchr1\t100\t300\tU\n"


def test_read_labels_errors(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("chr\tstart\tstop\tC1\nchr1\t0\t200\tB\nchr1\t50\t250\tX\n")
    with pytest.raises(FactorNetError, match=r"bad.tsv:3: label for C1 must be B, A or U, got 'X'"):
        intervals.read_labels(bad)
    header = tmp_path / "header.tsv"
    header.write_text("chrom\tstart\tend\tC1\nchr1\t0\t200\tB\n")
    with pytest.raises(FactorNetError, match="DREAM labels need a header 'chr start stop <CELL>...'"):
        intervals.read_labels(header)
    with pytest.raises(FactorNetError, match="does not exist"):
        intervals.read_labels(tmp_path / "missing.tsv")


# ----------------------------------------------------------------------------------------- bins touching
def test_bins_touching_equals_tile_bins_plus_overlap_mask(rng):
    sizes = {"chr1": 5_000, "chr2": 1_230, "chr3": 180}
    for _ in range(10):
        rows = []
        for chrom, size in sizes.items():
            for _ in range(int(rng.integers(0, 8))):
                s = int(rng.integers(0, size - 1))
                rows.append((chrom, s, int(min(size, s + rng.integers(1, 400)))))
        if not rows:
            continue
        regions = _bed(rows)
        bins = intervals.tile_bins(sizes)
        expected = bins.loc[intervals.overlap_mask(bins, regions)]
        expected = expected.assign(chrom=expected["chrom"].astype(str)).sort_values(["chrom", "start"])
        got = intervals.bins_touching(regions, sizes)
        assert got["chrom"].tolist() == expected["chrom"].tolist()
        assert got["start"].tolist() == expected["start"].tolist()
        assert got["end"].tolist() == expected["end"].tolist()


def test_read_narrowpeak_keeps_signal_and_summit(tmp_path):
    path = tmp_path / "p.narrowPeak.gz"
    path.write_bytes(
        gzip.compress(
            b"track name=x\nchr1\t100\t300\tp1\t0\t.\t7.5\t-1\t-1\t40\nchr2\t0\t50\tp2\t0\t.\tNA\t-1\t-1\t-1\n"
            b"chr3\t5\t9\n"
        )
    )
    df = intervals.read_narrowpeak(path)
    assert df[["chrom", "start", "end", "name"]].values.tolist() == [
        ["chr1", 100, 300, "p1"],
        ["chr2", 0, 50, "p2"],
        ["chr3", 5, 9, "."],
    ]
    np.testing.assert_array_equal(df["signal"], [7.5, np.nan, np.nan])
    np.testing.assert_array_equal(df["summit"], [40, -1, np.nan])
    # the same parser, so the same errors and the same intervals as read_bed
    assert intervals.read_bed(path)[["chrom", "start", "end"]].equals(df[["chrom", "start", "end"]])


def test_naming_hint_only_for_the_chr_prefix_trap():
    assert intervals.naming_hint(["chr1", "chr2"], {"1": 5, "2": 5}, "the genome") == (
        "in the genome it is '1': the files use different chromosome naming (chr1 vs 1)"
    )
    assert intervals.naming_hint(["2"], ["chr2"]) == (
        "in the other file it is 'chr2': the files use different chromosome naming (chr1 vs 1)"
    )
    assert intervals.naming_hint(["chr1", "scaffold9"], ["chr1", "chr2"]) == ""  # missing, not renamed


def test_unknown_chromosome_names_the_naming_trap_or_what_the_genome_has():
    from factornet_core.intervals import unknown_chromosome

    sizes = {"chr1": 100, "chr2": 100, "chr3": 100}
    assert str(unknown_chromosome("3", sizes)) == (
        "chromosome '3' is not in the genome: in the genome it is 'chr3': the files use different chromosome "
        "naming (chr1 vs 1)"
    )
    assert str(unknown_chromosome("chr9", sizes, "training chromosome")) == (
        "training chromosome 'chr9' is not in the genome (it has chr1, chr2, chr3)"
    )


def test_write_narrowpeak_writes_whole_number_fields_as_integers_and_refuses_fractions(tmp_path):
    from factornet_core.intervals import write_narrowpeak

    table = pd.DataFrame(
        {
            "chrom": ["chr2", "chr2"],
            "start": [43400.0, 100.0],  # floats holding whole numbers (a concat with an untyped empty table)
            "end": [43600, 300],
            "name": ["GABPA", "CTCF"],
            "score": [542.0, 1000.0],
            "strand": [".", "."],
            "signalValue": [0.5419999, 1.0],
            "pValue": [-1, -1],
            "qValue": [-1, -1],
            "peak": [100.0, 0.0],
        }
    )
    out = tmp_path / "calls.narrowPeak.gz"
    write_narrowpeak(out, table)
    with gzip.open(out, "rt") as handle:
        assert handle.read() == (
            "chr2\t43400\t43600\tGABPA\t542\t.\t0.5419999\t-1\t-1\t100\n"
            "chr2\t100\t300\tCTCF\t1000\t.\t1\t-1\t-1\t0\n"
        )
    table.loc[0, "start"] = 43400.5
    with pytest.raises(ValueError, match="field start holds non-integer"):
        write_narrowpeak(tmp_path / "bad.narrowPeak", table)
    assert not (tmp_path / "bad.narrowPeak").exists()


def test_a_repeated_bin_is_refused_with_advice_that_also_fits_differing_scores():
    """'sort -u' was suggested, which keeps both lines when their scores differ."""
    from factornet_core.intervals import refuse_duplicate_bins

    table = pd.DataFrame({"chrom": ["chr1", "chr1", "chr1"], "start": [0, 50, 0], "end": [200, 250, 200]})
    with pytest.raises(FactorNetError) as err:
        refuse_duplicate_bins(table, "p.tsv", "bin", first_line=2)
    assert str(err.value) == (
        "p.tsv:4: bin chr1:0-200 is given twice (first at line 2): each bin must appear once, or it is counted "
        "twice; keep one line per bin (where the repeats' values differ, find out which is right: the file may "
        "join two runs)"
    )
