"""Tests of the simulated ground-truth dataset (factornet_core.simulate, `factornet simulate`)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from factornet_core import intervals, simulate
from factornet_core.genome import Genome, read_chrom_sizes
from factornet_core.samplesheet import read_samplesheet
from factornet_core.tracks import TrackSet
from factornet_tools import cli

SMALL = dict(n_chroms=2, chrom_length=200_000, n_cells=3, tfs=("CTCF", "GABPA"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> simulate.SimulationSummary:
    return simulate.simulate_dataset(tmp_path_factory.mktemp("sim") / "data", seed=7, **SMALL)


@pytest.fixture(scope="module")
def truth(sim) -> pd.DataFrame:
    return pd.read_csv(sim.truth, sep="\t", dtype={"chrom": str})


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _planted_codes(genome: Genome, rows: pd.DataFrame) -> np.ndarray:
    """Motif-strand codes of each truth row, ``(n, width)``."""
    codes = np.stack([genome.codes(r.chrom, r.start, r.end) for r in rows.itertuples()])
    minus = (rows["strand"] == "-").to_numpy()
    codes[minus] = simulate.revcomp_codes(codes[minus])
    return codes


# --------------------------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    small = dict(n_chroms=1, chrom_length=60_000, n_cells=2, tfs=("REST",))
    a = simulate.simulate_dataset(tmp_path / "a", seed=3, **small)
    b = simulate.simulate_dataset(tmp_path / "b", seed=3, **small)
    c = simulate.simulate_dataset(tmp_path / "c", seed=4, **small)
    fa, fb, fc = _files(a.out_dir), _files(b.out_dir), _files(c.out_dir)
    assert fa == fb
    assert set(fa) == set(fc)
    differ = {name for name in fa if fa[name] != fc[name]}
    assert {"genome.fa", "CellA.DNASE.bw", "truth.tsv", "CellA.REST.conservative.narrowPeak.gz"} <= differ
    # no temporary folders left beside the outputs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]


def _total(path) -> float:
    with TrackSet({"x": path}) as ts:
        return float(sum(ts.read(c, 0, n).sum() for c, n in ts.chrom_sizes[0].items()))


def test_cell_depth_and_background_change_that_cell_only(tmp_path):
    small = dict(seed=3, n_chroms=1, chrom_length=60_000, n_cells=3, tfs=("REST",))
    base = simulate.simulate_dataset(tmp_path / "a", **small)
    shallow = simulate.simulate_dataset(tmp_path / "b", cell_depth={"CellC": 0.4}, **small)
    noisy = simulate.simulate_dataset(tmp_path / "c", cell_background={"CellC": 3.0}, **small)
    fa, fb = _files(base.out_dir), _files(shallow.out_dir)
    assert {n for n in fa if fa[n] != fb[n]} == {"CellC.DNASE.bw"}  # the other cells are byte-identical
    # every expected count × 0.4: the total follows within Poisson noise
    assert 0.37 < _total(shallow.dnase["CellC"]) / _total(base.dnase["CellC"]) < 0.43
    # 3× background adds twice the background cuts (~10 % of all cuts); accessible elements keep their peaks
    truth = pd.read_csv(base.truth, sep="\t")
    centres = ((truth["start"] + truth["end"]) // 2)[truth["acc_CellC"] == 1].to_numpy()

    def at_peaks(path):
        with TrackSet({"x": path}) as ts:
            return sum(float(ts.read("chr1", int(c) - 50, int(c) + 50).sum()) for c in centres)

    extra_total = _total(noisy.dnase["CellC"]) - _total(base.dnase["CellC"])
    extra_peaks = at_peaks(noisy.dnase["CellC"]) - at_peaks(base.dnase["CellC"])
    assert extra_total > 0.1 * _total(base.dnase["CellC"]) and extra_peaks < 0.1 * extra_total


# --------------------------------------------------------------------------------------------- files read back
def test_samplesheet_tracks_and_genome_agree(sim):
    sheet = read_samplesheet(sim.samplesheet)
    assert list(sheet.cells) == ["CellA", "CellB", "CellC"]
    assert sheet.track_names == ["DNASE", "MAPABILITY"]
    assert sheet.tfs == ["CTCF", "GABPA"]
    with Genome(sim.genome) as genome:
        sizes = genome.chrom_sizes
    assert sizes == {"chr1": 200_000, "chr2": 200_000} == read_chrom_sizes(sim.chrom_sizes_file)
    for cell in sheet.cells.values():
        assert cell.expression is not None and set(cell.labels) == {"CTCF", "GABPA"}
        with TrackSet(cell.tracks) as tracks:
            tracks.check_chroms(sizes)
            x = tracks.read("chr2", 199_000, 200_050)
        assert x.shape == (1_050, 2) and np.all(x[-50:] == 0)


def test_genome_composition(sim):
    text = sim.genome.read_text()
    assert re.findall(r"^>(\S+)", text, flags=re.M) == ["chr1", "chr2"]
    with Genome(sim.genome) as genome:
        codes = genome.codes("chr1", 0, 200_000)
    assert np.all(codes[:100] == 4)  # telomere-like N run
    acgt = codes[codes < 4]
    gc = np.isin(acgt, [1, 2]).mean()
    assert 0.38 < gc < 0.45
    cpg = np.mean((acgt[:-1] == 1) & (acgt[1:] == 2)) / ((acgt == 1).mean() * (acgt == 2).mean())
    assert cpg < 0.6  # CpG depletion outside islands
    assert any(c.islower() for c in text[:50_000])  # soft-masked repeats
    islands = intervals.read_bed(sim.cpg)
    r = islands.iloc[0]
    with Genome(sim.genome) as genome:
        inside = genome.codes(r.chrom, r.start, r.end)
    assert np.isin(inside, [1, 2]).mean() > 0.55


def test_mapability_and_blacklist(sim):
    bw = pyBigWig.open(str(sim.mapability))
    values = bw.values("chr1", 0, 200_000, numpy=True)
    bw.close()
    assert np.all(np.isfinite(values)) and values.min() >= 0 and values.max() <= 1
    assert (values == 1).mean() > 0.7 and ((values > 0) & (values < 0.7)).mean() > 0.005
    black = intervals.read_bed(sim.blacklist)
    assert len(black) >= 2 and set(black["chrom"]) <= {"chr1", "chr2"}


# --------------------------------------------------------------------------------------------- the science
def test_peaks_hold_bound_sites(sim, truth):
    for (cell, tf), path in sim.conservative.items():
        cons = intervals.read_bed(path)
        relaxed = intervals.read_bed(sim.relaxed[cell, tf])
        sites = truth[(truth.tf == tf) & (truth[f"bound_{cell}"] == "B")]
        assert len(cons) == len(sites) > 10
        assert np.all(sites["kind"] == "bound") and np.all(truth.loc[sites.index, f"acc_{cell}"] == 1)
        for peak in cons.itertuples():
            inside = sites[
                (sites.chrom == peak.chrom) & (sites.start >= peak.start) & (sites.end <= peak.end)
            ]
            assert len(inside) == 1
            assert 200 <= peak.end - peak.start <= 400
        # relaxed ⊇ conservative; the extra peaks are the weak (ambiguous) sites
        pairs = set(zip(relaxed.chrom, relaxed.start, relaxed.end))
        assert set(zip(cons.chrom, cons.start, cons.end)) <= pairs
        weak = truth[(truth.tf == tf) & (truth[f"bound_{cell}"] == "A")]
        assert len(relaxed) == len(cons) + len(weak) and np.all(weak["kind"] == "weak")
    with gzip.open(sim.conservative["CellA", "CTCF"], "rt") as handle:
        row = handle.readline().rstrip("\n").split("\t")
    assert len(row) == 10 and 0 <= int(row[9]) <= int(row[2]) - int(row[1])


def test_bound_iff_accessible(sim, truth):
    for cell in sim.cells:
        acc, bound = truth[f"acc_{cell}"] == 1, truth[f"bound_{cell}"]
        assert np.all((bound == "B") == (acc & (truth.kind == "bound")))
        assert np.all(bound[truth.kind.isin(["decoy_closed", "open_nomotif", "decoy_motif"])] == "U")
    # cell types differ in which sites are accessible
    bound_sites = truth[truth.kind == "bound"]
    patterns = bound_sites[[f"acc_{c}" for c in sim.cells]].drop_duplicates()
    assert len(patterns) >= 4


def test_decoys_break_sequence_only_and_accessibility_only(sim, truth):
    acc_any = truth[[f"acc_{c}" for c in sim.cells]].any(axis=1)
    closed = truth[truth.kind == "decoy_closed"]
    assert len(closed) > 5 and not acc_any[closed.index].any()
    open_nomotif = truth[truth.kind == "open_nomotif"]
    assert len(open_nomotif) > 5 and acc_any[open_nomotif.index].all()
    assert (open_nomotif["motif"] == ".").all()
    decoy_motif = truth[truth.kind == "decoy_motif"]
    assert set(decoy_motif["motif"]) == {"JUND_f1", "CEBPB_f1"} and acc_any[decoy_motif.index].all()


def test_pwm_scores_at_planted_sites_far_above_random(sim, truth):
    motifs = simulate.read_meme(sim.motifs)
    rng = np.random.default_rng(0)
    with Genome(sim.genome) as genome:
        for name in ("CTCF_f2", "GABPA_f1"):
            lo = simulate.log_odds(motifs[name].pwm)
            sites = truth[(truth.motif == name) & (truth.kind == "bound")]
            planted = simulate.score_codes(_planted_codes(genome, sites), lo)
            np.testing.assert_allclose(planted, sites["score"].to_numpy(), atol=1e-3)
            starts = rng.integers(20_000, 180_000, 2_000)
            rand = np.stack([genome.codes("chr1", s, s + lo.shape[0]) for s in starts])
            rand_best = np.maximum(
                simulate.score_codes(rand, lo), simulate.score_codes(simulate.revcomp_codes(rand), lo)
            )
            assert np.median(planted) > np.quantile(rand_best, 0.99)
            assert planted.mean() - rand_best.mean() > 15


def test_dnase_peaks_and_footprints(sim, truth):
    bw = pyBigWig.open(str(sim.dnase["CellB"]))
    background = sum(np.nansum(bw.values(c, 0, n, numpy=True)) for c, n in sim.chrom_sizes.items()) / sum(
        sim.chrom_sizes.values()
    )

    def profile(rows: pd.DataFrame) -> np.ndarray:
        mids = (rows["start"] + rows["end"]).to_numpy() // 2
        return np.mean(
            [np.nan_to_num(bw.values(c, m - 200, m + 201, numpy=True)) for c, m in zip(rows.chrom, mids)],
            axis=0,
        )

    bound = profile(truth[truth["bound_CellB"] == "B"])
    closed = profile(truth[truth.kind == "decoy_closed"])
    nomotif = profile(truth[(truth.kind == "open_nomotif") & (truth.acc_CellB == 1)])
    bw.close()
    centre, flank = bound[196:205].mean(), np.r_[bound[150:180], bound[221:251]].mean()
    assert bound.mean() > 3 * background and nomotif.mean() > 3 * background
    assert closed.mean() < background
    assert centre < 0.4 * flank  # footprint over the bound motif
    assert nomotif[196:205].mean() > 0.7 * np.r_[nomotif[150:180], nomotif[221:251]].mean()  # no footprint


def test_labels_match_recomputation(sim):
    bins = intervals.tile_bins(sim.chrom_sizes)
    for tf, path in sim.labels.items():
        read_bins, labels = intervals.read_labels(path)
        pd.testing.assert_frame_equal(read_bins, bins.astype({"chrom": object}), check_dtype=False)
        assert list(labels) == sim.cells
        for cell in sim.cells:
            cons = intervals.read_bed(sim.conservative[cell, tf])
            relaxed = intervals.read_bed(sim.relaxed[cell, tf])
            expect = intervals.label_bins(bins, cons, relaxed)
            np.testing.assert_array_equal(labels[cell], expect)
            assert (expect == intervals.B).sum() > 50 and (expect == intervals.A).sum() > 0


def test_gtf_expression_and_codons(sim):
    gtf = pd.read_csv(sim.gtf, sep="\t", comment="#", header=None, dtype={0: str})
    feats = set(gtf[2])
    assert {"gene", "transcript", "exon", "CDS", "start_codon", "stop_codon"} <= feats
    assert {"five_prime_utr", "three_prime_utr"} <= feats
    gene_ids = gtf.loc[gtf[2] == "gene", 8].str.extract(r'gene_id "([^"]+)"')[0].tolist()
    names = set(gtf[8].str.extract(r'gene_name "([^"]+)"')[0])
    assert {"CTCF", "GABPA"} <= names
    cds = gtf[gtf[2] == "CDS"]
    coding = (cds[4] - cds[3] + 1).groupby(cds[8].str.extract(r'transcript_id "([^"]+)"')[0]).sum()
    assert np.all(coding % 3 == 0)
    with Genome(sim.genome) as genome:
        for row in gtf[gtf[2] == "start_codon"].itertuples():
            codes = genome.codes(row[1], row[4] - 1, row[5])
            word = codes if row[7] == "+" else simulate.revcomp_codes(codes)
            assert "".join("ACGTN"[c] for c in word) == "ATG"
    tables = [pd.read_csv(p, sep="\t") for p in sim.expression.values()]
    for table in tables:
        assert list(table.columns) == ["gene_id", "value"] and table["gene_id"].tolist() == gene_ids
        assert (table["value"] >= 0).all()
    assert not np.allclose(tables[0]["value"], tables[1]["value"])


# --------------------------------------------------------------------------------------------- pure helpers
def test_motif_helpers():
    motifs = simulate.read_meme(simulate.packaged_motifs_path())
    assert list(motifs)[:5] == ["CTCF_f2", "GABPA_f1", "REST_f1", "FOXA1_f1", "HNF4A_f1"]
    assert [m.name for m in simulate.resolve_tfs(motifs, ["ctcf", "REST_f1"])] == ["CTCF_f2", "REST_f1"]
    probs = np.array([[1.0, 0, 0, 0], [0, 0.5, 0.5, 0], [0.25, 0.25, 0.25, 0.25]])
    draws = simulate.sample_motif(probs, 20_000, np.random.default_rng(1))
    freq = np.stack([(draws == k).mean(axis=0) for k in range(4)], axis=1)
    np.testing.assert_allclose(freq, probs, atol=0.02)
    lo = np.log2(np.array([[2.0, 1, 1, 1], [1, 1, 1, 4]]))
    assert simulate.score_codes(np.array([[0, 3], [1, 4]], np.uint8), lo).tolist() == [3.0, 0.0]
    assert simulate.revcomp_codes(np.array([0, 0, 1, 4], np.uint8)).tolist() == [4, 2, 3, 3]


# --------------------------------------------------------------------------------------------- command line
def test_cli_writes_dataset_and_refuses_existing(tmp_path, capsys):
    out = tmp_path / "d"
    args = ["simulate", "--out", str(out), "--chroms", "1", "--chrom-length", "30000", "--cells", "2"]
    assert cli.main(args) == 0
    assert (out / "samplesheet.tsv").is_file()
    capsys.readouterr()
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("factornet simulate: error: ") and "--force" in err[0]
    assert cli.main([*args, "--force", "--seed", "2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--chrom-length", "1000"], "too small"),
        (["--tfs", "CTCF,NOTATF"], "unknown TF 'NOTATF'"),
        (["--cell-depth", "CellZ=0.4"], "--cell-depth: no cell type 'CellZ'"),
        (["--cell-background", "CellC=-1"], "must be > 0"),
        (["--cell-depth", "CellC"], "expects CELL=FACTOR"),
        (  # the last one won silently
            ["--cell-background", "CellC=2", "--cell-background", "CellC=3"],
            "--cell-background gives cell type 'CellC' twice: give each cell type once",
        ),
    ],
)
def test_cli_bad_input(tmp_path, capsys, extra, message):
    assert cli.main(["simulate", "--out", str(tmp_path / "x"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("factornet simulate: error: ") and message in err[0]
    assert not any(tmp_path.iterdir())


def test_failure_leaves_no_partial_folder(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(simulate.w, "write_gtf", boom)
    with pytest.raises(OSError):
        simulate.simulate_dataset(tmp_path / "out", n_chroms=1, chrom_length=30_000, n_cells=1)
    assert not any(tmp_path.iterdir())
