"""`factornet baseline`: the pure scans against brute force, the written scores against an independent
computation, gbm's labels and determinism, and one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from factornet_core import baseline as bl
from factornet_core import intervals
from factornet_core.bagging import scaled_ranks
from factornet_core.dna import one_hot
from factornet_core.genome import Genome
from factornet_core.meme import read_meme
from factornet_core.scores import read_predictions
from factornet_core.simulate import simulate_dataset
from factornet_tools.cli import main

RNG = np.random.default_rng(7)


def _brute_scan(seq: str, lo: np.ndarray) -> np.ndarray:
    idx = {b: i for i, b in enumerate("ACGT")}
    w = lo.shape[0]
    return np.array(
        [
            sum(lo[j, idx[c]] for j, c in enumerate(seq[i : i + w]) if c in idx)
            for i in range(len(seq) - w + 1)
        ]
    )


def test_log_odds_hand_value():
    pwm = np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]])
    lo = bl.log_odds(pwm, pseudocount=0.01)
    assert lo[0, 0] == pytest.approx(np.log2(1.01 / 1.04 / 0.25))
    assert lo[0, 1] == pytest.approx(np.log2(0.01 / 1.04 / 0.25))
    assert lo[1, 2] == pytest.approx(0.0)


def test_log_odds_scan_both_strands_match_brute_force():
    seq = "".join(RNG.choice(list("ACGTN"), 300, p=[0.24, 0.24, 0.24, 0.24, 0.04]))
    lo = bl.log_odds(RNG.dirichlet(np.ones(4), 9))
    fwd = bl.log_odds_scan(one_hot(seq), lo)
    np.testing.assert_allclose(fwd, _brute_scan(seq, lo), atol=1e-12)
    rc = seq.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]
    rev = bl.log_odds_scan(one_hot(seq), lo[::-1, ::-1])
    # the reverse-strand score at i is the forward score of the reverse complement at the mirrored place
    np.testing.assert_allclose(rev, _brute_scan(rc, lo)[::-1], atol=1e-12)
    assert bl.log_odds_scan(one_hot("ACG"), lo).size == 0


def test_best_per_bin_matches_loop():
    values = RNG.normal(size=500)
    values[100] = values[101] = 9.0  # a tie: the first position wins
    starts = np.array([0, 50, 90, 300, 500 - 40])
    best, where, top2 = bl.best_per_bin(values, starts, 40)
    for k, s in enumerate(starts):
        window = values[s : s + 40]
        assert best[k] == window.max()
        assert where[k] == s + int(np.argmax(window))
        assert top2[k] == pytest.approx(np.sort(window)[-2:].sum())
    assert where[2] == 100
    with pytest.raises(ValueError):
        bl.best_per_bin(values, np.array([470]), 40)


def test_window_mean_footprint_and_rank_product_by_hand():
    signal = np.array([2.0, 2, 0, 0, 0, 2, 2, 1])
    cums = np.concatenate([[0.0], np.cumsum(signal)])
    np.testing.assert_allclose(bl.window_mean(cums, np.array([0, 2]), np.array([2, 7])), [2.0, 4 / 5])
    # hit [2, 5), flanks [0, 2) and [5, 7): mean 2 outside, 0 inside
    assert bl.footprint_depth(cums, np.array([2]), 3, 2)[0] == pytest.approx(2.0)
    # ranks (0, .5, 1) x (1, 0, .5)
    np.testing.assert_allclose(bl.rank_product(np.array([1, 2, 3]), np.array([3, 1, 2])), [0, 0, 0.5])


def test_settings_reject_unknown_method():
    with pytest.raises(Exception, match="unknown baseline method 'deep'"):
        bl.BaselineSettings(method="deep", tf="CTCF")


# --------------------------------------------------------------------------------------------- on files
@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return simulate_dataset(tmp_path_factory.mktemp("bl") / "data", seed=3, n_chroms=3, chrom_length=60_000)


def _argv(sim, method, out, *extra):
    return ["baseline", "--method", method, "--tf", "CTCF", "--genome", str(sim.genome),
            "--samplesheet", str(sim.samplesheet), "--cell", "CellC", "--chroms", "chr3",
            "--blacklist", str(sim.blacklist), "-o", str(out), *extra]  # fmt: skip


def test_pwm_and_accessibility_scores_equal_an_independent_computation(sim, tmp_path):
    out_pwm, out_acc = tmp_path / "pwm.tsv.gz", tmp_path / "acc.tsv.gz"
    assert main(_argv(sim, "pwm", out_pwm, "--motif-file", str(sim.motifs))) == 0
    assert main(_argv(sim, "accessibility", out_acc)) == 0
    bins, pwm = read_predictions(out_pwm)
    expected = intervals.tile_bins(sim.chrom_sizes, ["chr3"])
    assert bins["start"].tolist() == expected["start"].tolist() and list(pwm.columns) == ["CTCF"]
    black = intervals.overlap_mask(expected, intervals.read_bed(sim.blacklist, allow_empty=True))
    assert black.any() and (pwm["CTCF"].to_numpy()[black] == 0).all()

    motif = next(m for m in read_meme(sim.motifs).values() if m.name.startswith("CTCF"))
    lo = bl.log_odds(motif.pwm)
    w = lo.shape[0]
    with Genome(sim.genome) as g:
        seq = "".join("ACGTN"[c] for c in g.codes("chr3", 0, sim.chrom_sizes["chr3"]))
    rc = {b: c for b, c in zip("ACGTN", "TGCAN")}
    keep = np.flatnonzero(~black)
    sample = keep[:: max(1, keep.size // 60)]
    brute = []
    for i in sample:
        s = int(expected["start"].iloc[i])
        window = seq[s : s + 200]
        rcw = "".join(rc[c] for c in reversed(window))
        brute.append(max(_brute_scan(window, lo).max(), _brute_scan(rcw, lo).max()))
    got = pwm["CTCF"].to_numpy()[sample]
    # scores are scaled ranks: the sampled bins must be in the brute-force order
    assert np.all(np.diff(got[np.argsort(brute, kind="stable")]) >= -1e-7)
    assert w < 200

    with pyBigWig.open(str(sim.dnase["CellC"])) as bw:
        vals = np.nan_to_num(bw.values("chr3", 0, sim.chrom_sizes["chr3"], numpy=True))
    means = np.array([vals[s : s + 200].mean() for s in expected["start"].to_numpy()[keep]])
    _, acc = read_predictions(out_acc)
    np.testing.assert_allclose(acc["CTCF"].to_numpy()[keep], scaled_ranks(means), atol=1e-6)


def test_gbm_trains_on_train_labels_and_is_deterministic(sim, tmp_path):
    a, b = tmp_path / "a.tsv.gz", tmp_path / "b.tsv.gz"
    extra = ["--motif-file", str(sim.motifs), "--train-cells", "CellA,CellB", "-v", "chr2",
             "--exclude-chroms", "chr3", "--seed", "5"]  # fmt: skip
    assert main(_argv(sim, "gbm", a, *extra)) == 0
    assert main(_argv(sim, "gbm", b, *extra)) == 0
    assert a.read_bytes() == b.read_bytes()
    settings = bl.BaselineSettings("gbm", "CTCF", train_cells=["CellA", "CellB"], valid_chroms=["chr2"],
                                   exclude_chroms=["chr3"], seed=5)  # fmt: skip
    motif = next(m for m in read_meme(sim.motifs).values() if m.name.startswith("CTCF"))
    result = bl.run_baseline(
        settings, sim.genome, {"DNASE": sim.dnase["CellC"], "MAPABILITY": sim.mapability}, tmp_path / "c.tsv.gz",
        motif.pwm, samplesheet=sim.samplesheet, chroms=["chr3"], blacklist=sim.blacklist,
    )  # fmt: skip
    assert (tmp_path / "c.tsv.gz").read_bytes() == a.read_bytes()
    # the training rows are exactly the B and U bins of CellA and CellB on chr1, blacklist left out
    lab_bins, lab = intervals.read_labels(sim.labels["CTCF"])
    on = (lab_bins["chrom"] == "chr1").to_numpy()
    black = intervals.overlap_mask(lab_bins, intervals.read_bed(sim.blacklist, allow_empty=True))
    n_b = sum(int(((lab[c] == intervals.B) & on & ~black).sum()) for c in ("CellA", "CellB"))
    n_u = sum(int(((lab[c] == intervals.U) & on & ~black).sum()) for c in ("CellA", "CellB"))
    assert (result.n_train_bound, result.n_train_unbound) == (n_b, n_u)
    assert (
        result.features[:3] == ["pwm_best", "pwm_top2", "DNASE_bin"] and "MAPABILITY_bin" in result.features
    )


@pytest.mark.parametrize(
    "method, extra, message",
    [
        (
            "gbm",
            ["--motif-file", "MOTIFS"],
            "baseline gbm is trained: name the training cell types with --train-cells",
        ),
        (  # trained on the held-out chromosome with exit 0
            "gbm",
            [
                "--motif-file",
                "MOTIFS",
                "--train-cells",
                "CellA,CellB",
                "--exclude-chroms",
                "chr1",
                "--train-chroms",
                "chr1",
            ],
            "chr1 is both held out (--exclude-chroms) and a training chromosome (--train-chroms)",
        ),
        ("pwm", ["--motif", "NOTATF1"], "no JASPAR2026 CORE vertebrates motif for 'NOTATF1'"),
        ("accessibility", ["--accessibility-track", "ATAC"], "track 'ATAC' is not among the tracks given"),
    ],
)
def test_bad_input_one_line_no_output(sim, tmp_path, capsys, method, extra, message):
    out = tmp_path / "x.tsv.gz"
    extra = [str(sim.motifs) if e == "MOTIFS" else e for e in extra]
    assert main(_argv(sim, method, out, *extra)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("factornet baseline: error: ") and message in err, err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_unknown_tf_suggests_close_names_and_motif_file(sim, tmp_path, capsys):
    assert main(_argv(sim, "pwm", tmp_path / "x.tsv.gz", "--motif", "CTFC")) == 2
    err = capsys.readouterr().err
    assert "close names: " in err and "CTCF" in err.split("close names: ")[1] and "--motif-file" in err


def test_features_without_motif_keep_track_columns(sim):
    bins = pd.DataFrame({"chrom": ["chr1"], "start": [10_000], "end": [10_200]})
    from factornet_core.tracks import TrackSet

    with Genome(sim.genome) as g, TrackSet({"DNASE": sim.dnase["CellA"]}) as ts:
        x = bl.features_for_bins(g, ts, 0, bins, None)
        vals = ts.read("chr1", 7_500, 12_700)[:, 0].astype(float)
    assert x[0, 0] == 0 and x[0, 2] == pytest.approx(vals[2500:2700].mean())
    assert x[0, 3] == pytest.approx(vals[2100:3100].mean()) and x[0, 4] == pytest.approx(
        vals[100:5100].mean()
    )


def test_several_methods_from_one_feature_pass_equal_separate_runs(sim, tmp_path):
    motif = next(m for m in read_meme(sim.motifs).values() if m.name.startswith("CTCF"))
    tracks = {"DNASE": sim.dnase["CellC"], "MAPABILITY": sim.mapability}
    kw = {"chroms": ["chr3"], "blacklist": sim.blacklist}
    one = {m: tmp_path / f"one.{m}.tsv.gz" for m in ("pwm", "accessibility", "pwm_x_accessibility")}
    bl.run_baseline(bl.BaselineSettings("pwm", "CTCF"), sim.genome, tracks, one["pwm"], motif.pwm,
                    also={m: p for m, p in one.items() if m != "pwm"}, **kw)  # fmt: skip
    for method, path in one.items():
        alone = tmp_path / f"alone.{method}.tsv.gz"
        bl.run_baseline(bl.BaselineSettings(method, "CTCF"), sim.genome, tracks, alone, motif.pwm, **kw)
        assert alone.read_bytes() == path.read_bytes(), method
    with pytest.raises(Exception, match="baseline gbm is trained"):
        bl.run_baseline(bl.BaselineSettings("pwm", "CTCF"), sim.genome, tracks, tmp_path / "x.tsv.gz",
                        motif.pwm, also={"gbm": tmp_path / "g.tsv.gz"}, **kw)  # fmt: skip
    assert not (tmp_path / "x.tsv.gz").exists()


def test_progress_counts_every_scored_bin_and_quiet_hides_it(sim, tmp_path, capsys):
    """The bar's total is the target's bins less the blacklisted ones, advanced to exactly that total;
    ``--quiet`` (accepted like every long-running command's) leaves only the closing line on stderr."""
    from factornet_core.baseline import BaselineSettings, run_baseline

    class Record:
        def __init__(self):
            self.calls = []

        def start(self, total):
            self.calls.append(("start", total))

        def advance(self, n):
            self.calls.append(("advance", n))

        def finish(self):
            self.calls.append(("finish",))

    record = Record()
    result = run_baseline(
        BaselineSettings(method="accessibility", tf="CTCF"),
        sim.genome,
        {"DNASE": sim.dnase["CellC"], "MAPABILITY": sim.mapability},
        tmp_path / "acc.tsv.gz",
        chroms=["chr3"],
        blacklist=sim.blacklist,
        progress=record,
    )
    scored = result.n_bins - result.n_blacklisted
    assert (
        result.n_blacklisted > 0 and record.calls[0] == ("start", scored) and record.calls[-1] == ("finish",)
    )
    assert sum(c[1] for c in record.calls if c[0] == "advance") == scored
    assert main(_argv(sim, "accessibility", tmp_path / "q.tsv.gz", "--quiet")) == 0
    err = capsys.readouterr().err
    assert (
        err == f"baseline accessibility: {result.n_bins} bins ({result.n_blacklisted} blacklisted, score 0)\n"
    )
