"""Per-cell-type track normalisation (``train --track-norm``): factors, the data path, the card, CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from factornet_core import normalize, tracknorm
from factornet_core.card import ModelCard
from factornet_core.errors import FactorNetError
from factornet_core.genome import Genome
from factornet_core.inputs import CellData, CellType
from factornet_core.modelfile import load_model, read_card
from factornet_core.simulate import simulate_dataset
from factornet_core.tracks import TrackSet
from factornet_tools.cli import main

NAN = np.nan
# chr1: 16 non-N bases, chr2: 5 non-N bases, chr3: 10 (left out where IN_USE is passed explicitly)
GENOME = {"chr1": "ACGTACGTNNNNACGTACGT", "chr2": "NNNNNACGTA", "chr3": "ACGTACGTAC"}
CHR1 = [1, 1, 2, 0, 4, 0, 0, 0, 8] + [NAN] * 11
CHR2 = [2, 6] + [NAN] * 8
IN_USE = {"chr1": 20, "chr2": 10}


@pytest.fixture(autouse=True)
def _fresh_cache():
    tracknorm.clear_cache()
    yield
    tracknorm.clear_cache()


@pytest.fixture
def toy(make_fasta, make_bigwig):
    genome = make_fasta(GENOME)
    bw = make_bigwig({"chr1": np.array(CHR1), "chr2": np.array(CHR2), "chr3": np.array([100.0] + [NAN] * 9)})
    return genome, bw


# ------------------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    "text, want",
    [
        ("none", "none"),
        ("1x", "1x"),
        ("minmax", "minmax:99"),
        ("minmax:99.5", "minmax:99.5"),
        (" minmax:50", "minmax:50"),
    ],
)
def test_rules_parse_to_one_canonical_text(text, want):
    assert normalize.canonical_rule(text) == want
    assert tracknorm.parse_track_norm(f"DNASE={text}") == ("DNASE", want)


@pytest.mark.parametrize(
    "text, message",
    [
        ("DNASE=2x", "unknown track normalisation '2x'"),
        ("DNASE=cpm", "unknown track normalisation 'cpm'"),
        ("DNASE=minmax:0", "in (0, 100]"),
        ("DNASE=minmax:abc", "must be a number"),
        ("DNASE=1x:5", "only minmax takes a percentile"),
        ("DNASE", "expects NAME=RULE"),
        ("=1x", "expects NAME=RULE"),
    ],
)
def test_bad_rules_are_refused(text, message):
    with pytest.raises(FactorNetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tracknorm.parse_track_norm(text)


def test_a_track_given_twice_or_unknown_is_refused():
    with pytest.raises(FactorNetError, match="given twice"):
        tracknorm.parse_track_norms(["DNASE=1x", "DNASE=minmax"])
    with pytest.raises(FactorNetError, match="names track 'ATAC'"):
        tracknorm.resolve({"ATAC": "1x"}, ["DNASE", "MAPABILITY"])
    assert tracknorm.resolve({"DNASE": "minmax"}, ["DNASE", "MAPABILITY"]) == {
        "DNASE": "minmax:99",
        "MAPABILITY": "none",
    }


# ------------------------------------------------------------------------------------ scale factors
def test_scale_factors_by_hand(toy):
    genome, bw = toy
    with Genome(genome) as g:
        assert tracknorm.effective_length(g, ["chr1", "chr2"]) == 21
        # total over chr1+chr2 = 1+1+2+4+8+2+6 = 24; G = 16 + 5 non-N bases
        one = tracknorm.bigwig_normalization(
            bw, "1x", IN_USE, lambda: tracknorm.effective_length(g, ["chr1", "chr2"])
        )
    assert one.scale == 21 / 24 and one.clip is None and one.total_signal == 24
    # non-zero per-base values sorted: 1 1 2 2 4 6 8 → 50th percentile 2, 99th 8 (chr3's 100 not in IN_USE)
    half = tracknorm.bigwig_normalization(bw, "minmax:50", IN_USE)
    assert (half.scale, half.clip, half.percentile_value) == (0.5, 1.0, 2.0)
    top = tracknorm.bigwig_normalization(bw, "minmax", IN_USE)
    assert top.scale == 1 / 8 and top.percentile == 99.0
    # over all three chromosomes the 99th percentile is chr3's 100
    assert tracknorm.bigwig_normalization(bw, "minmax", {**IN_USE, "chr3": 10}).scale == 1 / 100
    assert tracknorm.bigwig_normalization(bw, "none", IN_USE).scale == 1.0


def test_no_signal_on_the_chromosomes_in_use_is_a_user_error(make_bigwig):
    bw = make_bigwig({"chr1": np.array([NAN] * 20), "chr2": np.array([0.0] * 10)}, name="empty.bw")
    with pytest.raises(FactorNetError, match="has no signal on chr1, chr2"):
        tracknorm.bigwig_normalization(bw, "minmax", IN_USE, track="DNASE")


def test_a_rewritten_bigwig_is_never_scaled_with_its_old_factor(toy, make_bigwig):
    _, bw = toy
    assert tracknorm.bigwig_normalization(bw, "minmax", IN_USE).scale == 1 / 8
    make_bigwig(
        {"chr1": np.array(CHR1) * 2, "chr2": np.array(CHR2) * 2},
        chrom_sizes={"chr1": 20, "chr2": 10, "chr3": 10},
    )
    st = os.stat(bw)
    os.utime(bw, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a rewrite within one clock tick
    assert tracknorm.bigwig_normalization(bw, "minmax", IN_USE).scale == 1 / 16


# ------------------------------------------------------------- what the statistic covers (sharding)
@pytest.fixture
def shared_toy(make_fasta, make_bigwig):
    """GENOME plus chr4 (only in the genome) and a bigWig with chrUn (only in the bigWig): the scale
    covers chr1, chr2 and chr3 — not chr4's 5 non-N bases, not chrUn's 1000."""
    genome = make_fasta({**GENOME, "chr4": "ACGTA"}, name="g4.fa")
    signal = {"chr1": CHR1, "chr2": CHR2, "chr3": [100.0] + [NAN] * 9, "chrUn": [1000.0, NAN]}
    bw = make_bigwig({c: np.array(v) for c, v in signal.items()}, name="shared.bw")
    return genome, bw


@pytest.mark.parametrize(
    "rule, scale",
    [
        ("1x", 31 / 124),  # G = 16 + 5 + 10 non-N bases; sum = 24 + 100
        ("minmax:99", 1 / 100),  # non-zero per-base values 1 1 2 2 4 6 8 100
        ("minmax:75", 1 / 6),  # 75 % of 8 bases: the 6th value
    ],
)
@pytest.mark.parametrize("read", [["chr1"], ["chr3"], ["chr3", "chr1"], ["chr1", "chr2", "chr3"]])
def test_the_scale_covers_every_shared_chromosome_whatever_a_run_reads(shared_toy, rule, scale, read):
    """Old definition (the chromosomes read): chr1 alone gave 1x 16/16, minmax:99 1/8, minmax:75 1/4."""
    genome, bw = shared_toy
    data = CellData(CellType(genome, {"DNASE": bw}), ["DNASE"], 10, 2, {"DNASE": rule})
    try:
        data.check_chroms(read)
        assert data.trackset.norms[0].scale == pytest.approx(scale, rel=1e-15)
    finally:
        data.close()


def test_shared_chromosomes_and_their_refusals(make_bigwig):
    genome = {"chr1": 20, "chr2": 10, "chr3": 10}
    assert tracknorm.shared_chroms(genome, {"chr2": 10, "chrUn": 5, "chr1": 20}, "a.bw") == {
        "chr1": 20,
        "chr2": 10,
    }
    with pytest.raises(
        FactorNetError, match=r"a\.bw \(track 'DNASE'\) gives chr2 length 11, the genome says 10"
    ):
        tracknorm.shared_chroms(genome, {"chr1": 20, "chr2": 11}, "a.bw", "DNASE")
    with pytest.raises(FactorNetError, match="shares no chromosome with the genome \\(it has 1, 2\\)"):
        tracknorm.shared_chroms(genome, {"1": 20, "2": 10}, "a.bw", "DNASE")


def test_runs_across_the_10_mb_steps_are_counted_once_and_nan_is_zero(tmp_path):
    """One pass, 10 Mb at a time: a run over a step boundary counts its own bases only; a NaN run (which
    poisons libBigWig's sum) counts as 0 in the 1x total."""
    path = tmp_path / "long.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("big", 25_000_000), ("nan", 100)])
    bw.addEntries(["big", "big"], [9_999_990, 20_000_000], ends=[10_000_010, 20_000_001], values=[3.0, 5.0])
    bw.addEntries(["nan", "nan"], [0, 10], ends=[5, 12], values=[NAN, 7.0])
    bw.close()
    chroms = {"big": 25_000_000, "nan": 100}
    values, weights = tracknorm.bigwig_distribution(path, chroms)
    assert values.tolist() == [3.0, 5.0, 7.0] and weights.tolist() == [20.0, 1.0, 2.0]
    assert tracknorm.bigwig_total(path, chroms) == 3 * 20 + 5 + 7 * 2
    assert tracknorm.bigwig_total(path, {"nan": 100, "absent": 5}) == 14.0


# -------------------------------------------------------------------------------------- data path
@pytest.mark.parametrize(
    "rule, want",
    [
        # every chromosome genome and bigWig share (chr3 too, though only chr1 and chr2 are read):
        # G = 16 + 5 + 10 non-N bases, sum = 24 + 100
        ("1x", np.array([1, 1, 2, 0, 4, 0, 0, 0, 8, 0]) * (31 / 124)),
        ("minmax:50", [0.5, 0.5, 1, 0, 1, 0, 0, 0, 1, 0]),  # raw / 2, clipped at 1
        ("none", [1, 1, 2, 0, 4, 0, 0, 0, 8, 0]),
    ],
)
def test_windows_read_with_a_rule_are_the_raw_windows_scaled(toy, rule, want):
    genome, bw = toy
    data = CellData(CellType(genome, {"DNASE": bw}), ["DNASE"], 10, 2, {"DNASE": rule})
    raw = CellData(CellType(genome, {"DNASE": bw}), ["DNASE"], 10, 2)
    try:
        data.check_chroms(["chr1", "chr2"])
        got = data.reader.region("chr1", 0, 10)
        np.testing.assert_array_equal(got[:, 4], np.asarray(want, dtype=np.float32))
        np.testing.assert_array_equal(got[:, :4], raw.reader.region("chr1", 0, 10)[:, :4])  # DNA untouched
        norm = data.trackset.norms[0]
        expect = (
            raw.reader.region("chr1", 0, 10)[:, 4] if norm is None else normalize.apply(CHR1[:9] + [0], norm)
        )
        np.testing.assert_array_equal(got[:, 4], expect)
    finally:
        data.close()
        raw.close()


def test_reading_before_the_factors_are_fixed_fails_loudly(toy):
    genome, bw = toy
    with TrackSet({"DNASE": bw}, {"DNASE": "1x"}) as ts:
        with pytest.raises(RuntimeError, match="before TrackSet.fix_scales"):
            ts.read("chr1", 0, 5)
    with TrackSet({"DNASE": bw}) as ts:  # no rule: raw values at once
        np.testing.assert_array_equal(ts.read("chr1", 0, 3)[:, 0], [1, 1, 2])


def test_minmax_windows_do_not_change_when_the_signal_is_tripled(toy, make_bigwig):
    genome, bw = toy
    bw3 = make_bigwig(
        {"chr1": np.array(CHR1) * 3, "chr2": np.array(CHR2) * 3, "chr3": np.array([300.0] + [NAN] * 9)},
        name="x3.bw",
    )
    reads = []
    for path in (bw, bw3):
        data = CellData(CellType(genome, {"DNASE": path}), ["DNASE"], 10, 2, {"DNASE": "minmax:50"})
        data.check_chroms(["chr1", "chr2"])
        reads.append(data.reader.region("chr1", 0, 10))
        data.close()
    np.testing.assert_array_equal(reads[0], reads[1])


# ------------------------------------------------------------------------------------------- card
def test_card_records_rules_and_old_cards_read_as_none():
    base = {"tfs": ["CTCF"], "track_names": ["DNASE", "MAPABILITY"], "seq_len": 200}
    card = ModelCard.from_dict({**base, "track_norms": {"DNASE": "minmax"}})
    assert card.track_norms == {"DNASE": "minmax:99", "MAPABILITY": "none"}
    assert json.loads(card.to_json())["track_norms"] == {"DNASE": "minmax:99", "MAPABILITY": "none"}
    old = ModelCard.from_dict({**base, "card_version": 2})
    assert old.track_norms == {"DNASE": "none", "MAPABILITY": "none"} and old.card_version == 3
    with pytest.raises(FactorNetError, match="track_norms names track 'ATAC'"):
        ModelCard.from_dict({**base, "track_norms": {"ATAC": "1x"}})
    with pytest.raises(FactorNetError, match="track_norms.DNASE: unknown track normalisation"):
        ModelCard.from_dict({**base, "track_norms": {"DNASE": "zscore"}})


def test_the_0_1_0_model_reads_its_tracks_raw():
    model = Path(__file__).parent / "data" / "model-0.1.0.keras"
    assert read_card(model).track_norms == {"DNASE": "none", "MAPABILITY": "none"}


# ------------------------------------------------------------------------------ train → predict
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracknorm")
    sim = simulate_dataset(root / "data", seed=4, n_chroms=2, chrom_length=60_000)
    model = root / "m.keras"
    argv = ["train", "--samplesheet", str(sim.samplesheet), "--genome", str(sim.genome), "-o", str(model)]
    argv += ["-f", "CTCF", "-e", "1", "-s", "1", "-L", "300", "-w", "12", "-k", "8", "-r", "4", "-d", "8"]
    assert main([*argv, "-v", "chr2", "--track-norm", "DNASE=1x", "--quiet"]) == 0
    # CellB's DNASE at three times the depth
    dnase3 = root / "CellB.DNASE.x3.bw"
    src = pyBigWig.open(str(sim.dnase["CellB"]))
    dst = pyBigWig.open(str(dnase3), "w")
    dst.addHeader(list(src.chroms().items()))
    for chrom in src.chroms():
        runs = src.intervals(chrom) or []
        dst.addEntries(
            [chrom] * len(runs),
            [r[0] for r in runs],
            ends=[r[1] for r in runs],
            values=[3 * r[2] for r in runs],
        )
    src.close()
    dst.close()
    return sim, model, dnase3


def _predict(sim, model, dnase, out):
    argv = ["predict", "--model", str(model), "--genome", str(sim.genome), "-o", str(out), "--chroms", "chr1"]
    argv += ["--track", f"DNASE={dnase}", "--track", f"MAPABILITY={sim.mapability}", "--quiet"]
    assert main(argv) == 0
    import pandas as pd

    return pd.read_csv(out, sep="\t")["CTCF"].to_numpy()


def test_a_1x_model_predicts_a_cell_at_three_times_the_depth_identically(trained, tmp_path):
    sim, model, dnase3 = trained
    assert read_card(model).track_norms == {"DNASE": "1x", "MAPABILITY": "none"}
    assert read_card(model).training["track_norm_scope"] == "chromosomes shared by genome and bigWig"
    plain = _predict(sim, model, sim.dnase["CellB"], tmp_path / "b.tsv")
    deep = _predict(sim, model, dnase3, tmp_path / "b3.tsv")
    np.testing.assert_allclose(deep, plain, rtol=0, atol=1e-6)
    # ... and without the card's rule the same windows give other scores: the test can fail
    net = load_model(model).model
    starts = np.arange(1000, 40_000, 2000)
    outs = []
    for path in (sim.dnase["CellB"], dnase3):
        data = CellData(
            CellType(sim.genome, {"DNASE": path, "MAPABILITY": sim.mapability}),
            ["DNASE", "MAPABILITY"],
            300,
            200,
        )
        outs.append(np.asarray(net.predict(data.reader.windows("chr1", starts), verbose=0)))
        data.close()
    assert np.max(np.abs(outs[0] - outs[1])) > 1e-3


def test_inspect_shows_the_rules(trained, capsys):
    _, model, _ = trained
    assert main(["inspect", str(model)]) == 0
    assert "track norms    DNASE=1x, MAPABILITY=none (per cell type)" in capsys.readouterr().out


@pytest.mark.parametrize("rule", ["DNASE=2x", "DNASE=minmax:101", "DNASE"])
def test_bad_rule_on_the_command_line_one_line_exit_2(trained, tmp_path, capsys, rule):
    sim, _, _ = trained
    out = tmp_path / "bad.keras"
    argv = ["train", "--samplesheet", str(sim.samplesheet), "--genome", str(sim.genome), "-o", str(out)]
    rc = main([*argv, "-f", "CTCF", "--track-norm", rule])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("factornet train: error:"), err
    assert not out.exists()


def test_a_rule_for_a_track_the_samplesheet_lacks_exit_2(trained, tmp_path, capsys):
    sim, _, _ = trained
    out = tmp_path / "bad.keras"
    argv = ["train", "--samplesheet", str(sim.samplesheet), "--genome", str(sim.genome), "-o", str(out)]
    rc = main([*argv, "-f", "CTCF", "-v", "chr2", "--track-norm", "ATAC=1x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--track-norm names track 'ATAC'" in err[0], err
    assert not out.exists()


def _with_card(src, dst, **changes):
    """Copy a model file with card fields changed (the weights stay the same)."""
    import dataclasses
    import zipfile

    from factornet_core.modelfile import CARD_MEMBER

    card = dataclasses.replace(read_card(src), **changes)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = card.to_json() if item.filename == CARD_MEMBER else zin.read(item.filename)
            zout.writestr(item, data)
    return dst


def test_impute_scales_each_model_by_its_own_card(trained, tmp_path):
    """Two models with the same weights, one reading DNASE raw: impute keeps their reads apart."""
    from factornet_core.impute import impute
    from factornet_core.predict import PredictOptions
    from factornet_core.scores import read_predictions

    sim, model, dnase3 = trained
    raw = _with_card(model, tmp_path / "raw.keras", track_norms={})
    scaled = _with_card(model, tmp_path / "scaled.keras", track_norms={"DNASE": "1x"})
    cell = CellType(sim.genome, {"DNASE": dnase3, "MAPABILITY": sim.mapability})
    impute([raw, scaled], cell, tmp_path / "imp.tsv", PredictOptions(chroms=["chr1"]))
    _, got = read_predictions(tmp_path / "imp.tsv")
    np.testing.assert_allclose(
        got["CTCF.scaled"], _predict(sim, scaled, dnase3, tmp_path / "s.tsv"), atol=1e-6
    )
    np.testing.assert_allclose(got["CTCF.raw"], _predict(sim, raw, dnase3, tmp_path / "r.tsv"), atol=1e-6)
    assert np.max(np.abs(got["CTCF.raw"] - got["CTCF.scaled"])) > 1e-3


# ------------------------------------------------------------------------ sharded runs, one scale
def _cell_args(sim, cell):
    return ["--genome", str(sim.genome), "--track", f"DNASE={sim.dnase[cell]}"] + [
        "--track",
        f"MAPABILITY={sim.mapability}",
    ]


@pytest.mark.parametrize("rule", ["1x", "minmax:99"])
def test_predict_per_chromosome_then_merge_equals_one_run(trained, tmp_path, rule):
    """Nextflow's fan-out: one predict per chromosome, merged, must equal one predict over both (the
    old per-run scale made chr1 alone differ from chr1 within the two-chromosome run)."""
    from factornet_core.scores import read_predictions

    sim, model, _ = trained
    if rule != "1x":
        model = _with_card(model, tmp_path / "minmax.keras", track_norms={"DNASE": rule})
    base = ["predict", "--model", str(model), *_cell_args(sim, "CellC"), "--quiet"]
    shards = [tmp_path / f"{c}.tsv.gz" for c in ("chr2", "chr1")]
    for shard in shards:
        assert main([*base, "--chroms", shard.name.split(".")[0], "-o", str(shard)]) == 0
    merged, whole = tmp_path / "merged.tsv.gz", tmp_path / "whole.tsv.gz"
    fai = f"{sim.genome}.fai"
    assert main(["merge", *map(str, shards), "--out", str(merged), "--chrom-order", fai]) == 0
    assert main([*base, "--chroms", "chr1,chr2", "-o", str(whole)]) == 0
    bins_m, got = read_predictions(merged)
    bins_w, want = read_predictions(whole)
    assert len(bins_w) > 2000 and list(bins_m["chrom"].unique()) == ["chr1", "chr2"]
    np.testing.assert_array_equal(bins_m.to_numpy(), bins_w.to_numpy())
    np.testing.assert_array_equal(got["CTCF"], want["CTCF"])


def test_train_predict_impute_interpret_scale_a_cell_type_alike(trained, tmp_path, monkeypatch):
    """One call path (tracknorm.cell_normalization) and one statistic for every command, whatever
    chromosomes each reads: training (chr1, validation chr2) scales CellB as predict on chr2, impute
    on chr1 and interpret on one chr1 / chr2 region do."""
    sim, _, _ = trained
    seen: list[tuple[str, str, tuple, float]] = []
    real = tracknorm.cell_normalization
    command = ""

    def spy(path, rule, genome, bigwig_sizes, track=""):
        norm = real(path, rule, genome, bigwig_sizes, track)
        shared = tracknorm.shared_chroms(genome.chrom_sizes, bigwig_sizes, path)
        seen.append((command, Path(path).name, tuple(shared), norm.scale))
        return norm

    monkeypatch.setattr(tracknorm, "cell_normalization", spy)
    model, cell = tmp_path / "m.keras", _cell_args(sim, "CellB")
    (tmp_path / "r1.bed").write_text("chr1\t20000\t20200\tr1\n")
    (tmp_path / "r2.bed").write_text("chr2\t30000\t30200\tr2\n")
    runs = {
        "train": [
            "train",
            "--samplesheet",
            str(sim.samplesheet),
            "--genome",
            str(sim.genome),
            "-o",
            str(model),
        ]
        + ["-f", "CTCF", "-e", "1", "-s", "1", "-L", "300", "-w", "12", "-k", "8", "-r", "4", "-d", "8"]
        + ["-v", "chr2", "--track-norm", "DNASE=1x", "--quiet"],
        "predict": [
            "predict",
            "--model",
            str(model),
            *cell,
            "--chroms",
            "chr2",
            "-o",
            str(tmp_path / "p.tsv"),
        ],
        "impute": [
            "impute",
            "--models",
            str(model),
            *cell,
            "--chroms",
            "chr1",
            "-o",
            str(tmp_path / "i.tsv"),
        ],
        "saliency": [
            "interpret",
            "saliency",
            "--model",
            str(model),
            *cell,
            "--regions",
            str(tmp_path / "r1.bed"),
        ]
        + ["--out-dir", str(tmp_path / "sal")],
        "motifs": ["interpret", "motifs", "--model", str(model), *cell, "--regions", str(tmp_path / "r2.bed")]
        + ["--out-dir", str(tmp_path / "mot")],
    }
    for command, argv in runs.items():
        tracknorm.clear_cache()  # each command computes its own factor
        assert main(argv) == 0, command
    cellb = [s for s in seen if s[1] == Path(sim.dnase["CellB"]).name]
    assert [s[0] for s in cellb] == list(runs)  # every command, through the one call path
    assert {s[2] for s in cellb} == {("chr1", "chr2")}
    assert len({s[3] for s in cellb}) == 1, cellb
    with Genome(sim.genome) as genome:
        g = tracknorm.effective_length(genome, ["chr1", "chr2"])
    bw = pyBigWig.open(str(sim.dnase["CellB"]))
    total = sum(np.nansum(bw.values(c, 0, n, numpy=True)) for c, n in bw.chroms().items())
    bw.close()
    assert cellb[0][3] == pytest.approx(g / total, rel=1e-12)
