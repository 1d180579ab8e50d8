import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pybedtools
import pytest

from factornet_core.annotations import (
    FEATURES,
    BinAnnotator,
    features_from_beds,
    features_from_gtf,
    read_gtf,
)
from factornet_core.errors import FactorNetError
from factornet_core.intervals import read_bed, tile_bins

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SIZES = {"chr1": 10_000, "chr2": 5_000}


def gtf_line(chrom, kind, start, end, strand, tid, gene="g"):
    attrs = f'gene_id "{gene}"; transcript_id "{tid}"; gene_type "protein_coding";'
    return f"{chrom}\tTEST\t{kind}\t{start}\t{end}\t.\t{strand}\t.\t{attrs}"


# Coordinates below are GTF (1-based, inclusive); the expected BEDs (0-based, half-open) are worked out by hand.
GTF = [
    "##description: hand-made test annotation",
    # gene A, + strand, modern UTR types: exons 1001-1200, 1501-1700, 1901-2000
    'chr1\tTEST\tgene\t1001\t2000\t.\t+\t.\tgene_id "A";',
    gtf_line("chr1", "transcript", 1001, 2000, "+", "TA1", "A"),
    gtf_line("chr1", "exon", 1001, 1200, "+", "TA1", "A"),
    gtf_line("chr1", "exon", 1501, 1700, "+", "TA1", "A"),
    gtf_line("chr1", "exon", 1901, 2000, "+", "TA1", "A"),
    gtf_line("chr1", "CDS", 1101, 1200, "+", "TA1", "A"),
    gtf_line("chr1", "CDS", 1501, 1700, "+", "TA1", "A"),
    gtf_line("chr1", "CDS", 1901, 1950, "+", "TA1", "A"),
    gtf_line("chr1", "start_codon", 1101, 1103, "+", "TA1", "A"),
    gtf_line("chr1", "stop_codon", 1951, 1953, "+", "TA1", "A"),
    gtf_line("chr1", "five_prime_utr", 1001, 1100, "+", "TA1", "A"),
    gtf_line("chr1", "three_prime_utr", 1951, 2000, "+", "TA1", "A"),
    # gene B, − strand, GENCODE-v19 "UTR" records; TB2 is non-coding and its intron overlaps TB1's exon
    gtf_line("chr1", "transcript", 5001, 6000, "-", "TB1", "B"),
    gtf_line("chr1", "exon", 5801, 6000, "-", "TB1", "B"),
    gtf_line("chr1", "exon", 5001, 5300, "-", "TB1", "B"),
    gtf_line("chr1", "CDS", 5801, 5900, "-", "TB1", "B"),
    gtf_line("chr1", "CDS", 5201, 5300, "-", "TB1", "B"),
    gtf_line("chr1", "start_codon", 5898, 5900, "-", "TB1", "B"),
    gtf_line("chr1", "stop_codon", 5198, 5200, "-", "TB1", "B"),
    gtf_line("chr1", "UTR", 5901, 6000, "-", "TB1", "B"),
    gtf_line("chr1", "UTR", 5001, 5200, "-", "TB1", "B"),
    gtf_line("chr1", "transcript", 5001, 5600, "-", "TB2", "B"),
    gtf_line("chr1", "exon", 5401, 5600, "-", "TB2", "B"),
    gtf_line("chr1", "exon", 5001, 5100, "-", "TB2", "B"),
    # chr2: single-exon transcripts whose promoters are clipped at both chromosome ends
    gtf_line("chr2", "transcript", 101, 400, "+", "TC1", "C"),
    gtf_line("chr2", "exon", 101, 400, "+", "TC1", "C"),
    gtf_line("chr2", "transcript", 4801, 4950, "-", "TD1", "D"),
    gtf_line("chr2", "exon", 4801, 4950, "-", "TD1", "D"),
    # chrM is not in the genome: dropped
    gtf_line("chrM", "transcript", 1, 100, "+", "TM1", "M"),
    gtf_line("chrM", "exon", 1, 100, "+", "TM1", "M"),
]
CPG = ["chr1\t900\t1050", "chr1\t1040\t1100", "chr2\t10\t20"]

EXPECTED = {
    "cpg": [("chr1", 900, 1100), ("chr2", 10, 20)],
    "cds": [
        ("chr1", 1100, 1200),
        ("chr1", 1500, 1700),
        ("chr1", 1900, 1950),
        ("chr1", 5200, 5300),
        ("chr1", 5800, 5900),
    ],
    # TB1: 5300-5800, TB2: 5100-5400 (inside TB1's exon, kept: introns are per transcript) → 5100-5800
    "intron": [("chr1", 1200, 1500), ("chr1", 1700, 1900), ("chr1", 5100, 5800)],
    # + TSS base 1000 → [700, 1101); − TSS bases 5999, 5599 → [5899, 6300) ∪ [5499, 5900);
    # chr2: [−200, 201) clipped to 0; [4849, 5250) clipped to 5000
    "promoter": [("chr1", 700, 1101), ("chr1", 5499, 6300), ("chr2", 0, 201), ("chr2", 4849, 5000)],
    "utr5": [("chr1", 1000, 1100), ("chr1", 5900, 6000)],
    "utr3": [("chr1", 1950, 2000), ("chr1", 5000, 5200)],
}


def write(path: Path, lines: list[str]) -> Path:
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def as_tuples(df: pd.DataFrame) -> list[tuple[str, int, int]]:
    return [(str(c), int(s), int(e)) for c, s, e in df[["chrom", "start", "end"]].itertuples(index=False)]


@pytest.fixture
def features(tmp_path):
    gtf = write(tmp_path / "test.gtf.gz", GTF)
    cpg = write(tmp_path / "cpg.bed", CPG)
    return features_from_gtf(gtf, cpg, SIZES)


def test_features_from_gtf_exact(features):
    assert tuple(features) == FEATURES
    for name in FEATURES:
        assert as_tuples(features[name]) == EXPECTED[name], name


def test_gtf_coordinates_are_converted_to_bed(tmp_path):
    gtf = read_gtf(write(tmp_path / "one.gtf", [gtf_line("chr1", "CDS", 1, 1, "+", "T")]))
    assert (gtf.loc[0, "start"], gtf.loc[0, "end"]) == (0, 1)  # base 1 (1-based) is [0, 1) in BED


def test_hand_picked_bins(features):
    bins = pd.DataFrame(
        [
            ("chr1", 900, 1100, [1, 0, 0, 1, 1, 0]),  # touches CDS at 1100 only by adjacency → no CDS
            ("chr1", 1100, 1300, [0, 1, 1, 1, 0, 0]),  # promoter's last base is 1100
            ("chr1", 1101, 1301, [0, 1, 1, 0, 0, 0]),
            ("chr1", 1949, 1950, [0, 1, 0, 0, 0, 0]),  # last CDS base
            ("chr1", 1950, 1951, [0, 0, 0, 0, 0, 1]),  # first 3′UTR base
            ("chr1", 5150, 5350, [0, 1, 1, 0, 0, 1]),
            ("chr1", 3000, 3200, [0, 0, 0, 0, 0, 0]),
            ("chr2", 4800, 5000, [0, 0, 0, 1, 0, 0]),
            ("chr3", 0, 200, [0, 0, 0, 0, 0, 0]),  # chromosome without any feature
        ],
        columns=["chrom", "start", "end", "want"],
    )
    got = BinAnnotator(features).annotate(bins)
    assert got.dtype == np.float32 and got.shape == (len(bins), 6)
    np.testing.assert_array_equal(got, np.array(bins["want"].tolist(), dtype=np.float32))


def test_transcript_span_from_exons_when_no_transcript_records(tmp_path, features):
    lines = [line for line in GTF if "\ttranscript\t" not in line]
    got = features_from_gtf(write(tmp_path / "t.gtf", lines), write(tmp_path / "c.bed", CPG), SIZES)
    for name in FEATURES:
        assert as_tuples(got[name]) == as_tuples(features[name]), name


@pytest.mark.parametrize("five,three", [("five_prime_UTR", "three_prime_UTR"), ("UTR", "UTR")])
def test_utr_kinds(tmp_path, five, three):
    # − strand coding transcript: the 5′ UTR lies to the right of the CDS
    lines = [
        gtf_line("chr1", "transcript", 101, 1000, "-", "T"),
        gtf_line("chr1", "exon", 101, 1000, "-", "T"),
        gtf_line("chr1", "CDS", 301, 800, "-", "T"),
        gtf_line("chr1", three, 101, 300, "-", "T"),
        gtf_line("chr1", five, 801, 1000, "-", "T"),
    ]
    got = features_from_gtf(write(tmp_path / "t.gtf", lines), write(tmp_path / "c.bed", CPG), SIZES)
    assert as_tuples(got["utr5"]) == [("chr1", 800, 1000)]
    assert as_tuples(got["utr3"]) == [("chr1", 100, 300)]


@pytest.mark.parametrize(
    "bad,message",
    [
        ("chr1\tTEST\texon\t10", "9 tab-separated columns"),
        ('chr1\tTEST\texon\tten\t20\t.\t+\t.\ttranscript_id "T";', "integers"),
        ('chr1\tTEST\texon\t30\t20\t.\t+\t.\ttranscript_id "T";', "invalid"),
        ('chr1\tTEST\texon\t10\t20\t.\t*\t.\ttranscript_id "T";', "strand"),
        ('chr1\tTEST\texon\t10\t20\t.\t+\t.\tgene_id "G";', "transcript_id"),
    ],
)
def test_bad_gtf_line(tmp_path, bad, message):
    gtf = write(tmp_path / "bad.gtf", [GTF[0], GTF[2], bad, GTF[3]])
    with pytest.raises(FactorNetError, match=rf"bad\.gtf:3: .*{message}"):
        features_from_gtf(gtf, write(tmp_path / "c.bed", CPG), SIZES)


def test_gtf_without_transcripts(tmp_path):
    gtf = write(tmp_path / "genes.gtf", [GTF[0], GTF[1]])
    with pytest.raises(FactorNetError, match="no transcripts"):
        features_from_gtf(gtf, write(tmp_path / "c.bed", CPG), SIZES)


def test_chromosome_naming_mismatch(tmp_path):
    gtf = write(tmp_path / "t.gtf", GTF)
    cpg = write(tmp_path / "c.bed", CPG)
    with pytest.raises(
        FactorNetError, match=r"t\.gtf: none of its chromosomes is in the genome.*'chr1'.*chr1 vs 1"
    ):
        features_from_gtf(gtf, cpg, {"1": 10_000, "2": 5_000})
    with pytest.raises(FactorNetError, match="ends past the chromosome end"):
        features_from_gtf(gtf, cpg, {"chr1": 1_500, "chr2": 5_000})


def test_features_from_beds(tmp_path, features):
    tmp_path = tmp_path / "beds"
    tmp_path.mkdir()
    names = {
        "cpg": "cpgisland.bed.gz",
        "cds": "x.cds.merged.bed.gz",
        "intron": "x.intron.merged.bed",
        "promoter": "x.promoter.merged.bed.gz",
        "utr5": "x.utr5.merged.bed.gz",
        "utr3": "x.utr3.merged.bed.gz",
    }
    for name, fn in names.items():
        write(tmp_path / fn, ["\t".join(map(str, t)) for t in as_tuples(features[name])])
    write(tmp_path / "x.txStart.bed.gz", ["chr1\t1\t2"])  # ignored
    got = features_from_beds(tmp_path)
    for name in FEATURES:
        assert as_tuples(got[name]) == EXPECTED[name]
    got = features_from_beds({k: tmp_path / v for k, v in names.items()})
    assert as_tuples(got["utr3"]) == EXPECTED["utr3"]
    (tmp_path / names["utr5"]).unlink()
    with pytest.raises(FactorNetError, match="no BED for annotation feature.*utr5"):
        features_from_beds(tmp_path)


def bedtools_reference(bins: pd.DataFrame, features: dict[str, pd.DataFrame]) -> np.ndarray:
    """``bedtools intersect -u`` per feature, as the original FactorNet."""
    b = pybedtools.BedTool.from_dataframe(
        bins.assign(name=np.arange(len(bins)).astype(str))[["chrom", "start", "end", "name"]]
    )
    out = np.zeros((len(bins), len(FEATURES)), dtype=np.float32)
    for j, name in enumerate(FEATURES):
        if features[name].empty:
            continue
        f = pybedtools.BedTool.from_dataframe(features[name][["chrom", "start", "end"]])
        hits = b.intersect(f, u=True)
        idx = [int(iv.name) for iv in hits]
        out[idx, j] = 1
    return out


def test_equivalent_to_bedtools_intersect_on_random_bins():
    rng = np.random.default_rng(0)
    feats = {}
    for name in FEATURES:
        chrom = rng.choice(["chr1", "chr2"], 300)
        start = rng.integers(0, 50_000, 300)
        feats[name] = pd.DataFrame({"chrom": chrom, "start": start, "end": start + rng.integers(1, 400, 300)})
    n = 5000
    start = rng.integers(0, 50_500, n)
    bins = pd.DataFrame(
        {
            "chrom": rng.choice(["chr1", "chr2", "chrX"], n),
            "start": start,
            "end": start + rng.integers(1, 500, n),
        }
    )
    got = BinAnnotator(feats).annotate(bins)
    np.testing.assert_array_equal(got, bedtools_reference(bins, feats))
    categorical = bins.assign(chrom=bins["chrom"].astype("category"))
    np.testing.assert_array_equal(BinAnnotator(feats).annotate(categorical), got)
    assert 0.05 < got.mean() < 0.95


@pytest.mark.shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")
def test_premade_hg19_beds_on_chr21():
    hg19 = SHARED / "hg19"
    sizes = dict(
        line.split("\t") for line in (hg19 / "hg19.autoX.chrom.sizes").read_text().split("\n") if line
    )
    sizes = {k: int(v) for k, v in sizes.items()}
    feats = features_from_beds(hg19, chrom_sizes=sizes)
    bins = tile_bins(sizes, ["chr21"])
    bins = bins.iloc[::7].reset_index(drop=True)  # ~137k bins keep bedtools quick
    got = BinAnnotator(feats).annotate(bins)
    raw = {name: read_bed(next(hg19.glob(f"*{name}*.bed.gz"))) for name in FEATURES}  # unmerged originals
    np.testing.assert_array_equal(got, bedtools_reference(bins, raw))
    assert got[:, FEATURES.index("intron")].mean() > 0.1
