"""``factornet predict``: scores equal the model on each window, sharding, blacklist, layouts, checks."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyBigWig
import pyfaidx
import pytest

from factornet_core import dna
from factornet_core.modelfile import load_model
from factornet_core.scores import read_predictions
from factornet_core.simulate import simulate_dataset
from factornet_core.training import TrainSettings, train
from factornet_tools.cli import main


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("pred")
    sim = simulate_dataset(root / "data", seed=4, n_chroms=2, chrom_length=60_000)
    model = root / "m.keras"
    settings = TrainSettings(
        tf="CTCF",
        epochs=1,
        seed=1,
        seq_len=300,
        kernel_width=12,
        kernels=8,
        lstm_units=4,
        dense_units=8,
        valid_chroms=["chr2"],
    )
    train(sim.samplesheet, sim.genome, model, settings)
    return sim, model, root


def predict_args(sim, model, out, *extra):
    return [
        "predict",
        "--model",
        str(model),
        "--genome",
        str(sim.genome),
        "--samplesheet",
        str(sim.samplesheet),
        "--cell",
        "CellB",
        "-o",
        str(out),
        "--quiet",
        *extra,
    ]


def test_scores_equal_model_on_directly_read_windows(setup, tmp_path):
    sim, model, _ = setup
    out = tmp_path / "p.tsv.gz"
    assert main(predict_args(sim, model, out, "--chroms", "chr1")) == 0
    bins, scores = read_predictions(out)
    n = (sim.chrom_sizes["chr1"] - 200) // 50 + 1
    assert len(bins) == n and bins["start"].iloc[-1] == (n - 1) * 50
    # an independent read of 40 windows (including both chromosome ends) with pyfaidx + pyBigWig
    rng = np.random.default_rng(0)
    pick = np.unique(np.concatenate([[0, 1, n - 2, n - 1], rng.choice(n, 36, replace=False)]))
    fasta = pyfaidx.Fasta(str(sim.genome))
    tracks = [pyBigWig.open(str(sim.dnase["CellB"])), pyBigWig.open(str(sim.mapability))]
    size = sim.chrom_sizes["chr1"]
    x = np.zeros((pick.size, 300, 6), np.float32)
    for i, b in enumerate(pick):
        lo = b * 50 + 100 - 150
        a, z = max(lo, 0), min(lo + 300, size)
        x[i, a - lo : z - lo, :4] = dna.one_hot(str(fasta["chr1"][a:z]).upper())
        for j, bw in enumerate(tracks):
            x[i, a - lo : z - lo, 4 + j] = np.nan_to_num(np.asarray(bw.values("chr1", a, z)))
    direct = load_model(model).model.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(scores["CTCF"].to_numpy()[pick], direct, rtol=0, atol=1e-6)


def test_sharded_then_merged_equals_whole(setup, tmp_path):
    sim, model, _ = setup
    assert main(predict_args(sim, model, tmp_path / "whole.tsv.gz")) == 0
    for c in ("chr1", "chr2"):
        assert main(predict_args(sim, model, tmp_path / f"{c}.tsv.gz", "--chroms", c)) == 0
    assert (
        main(
            [
                "merge",
                str(tmp_path / "chr2.tsv.gz"),
                str(tmp_path / "chr1.tsv.gz"),
                "--chrom-order",
                "chr1,chr2",
                "--out",
                str(tmp_path / "merged.tsv.gz"),
            ]
        )
        == 0
    )
    whole = gzip.decompress((tmp_path / "whole.tsv.gz").read_bytes())
    assert gzip.decompress((tmp_path / "merged.tsv.gz").read_bytes()) == whole


def test_blacklisted_bins_score_zero_others_unchanged(setup, tmp_path):
    sim, model, _ = setup
    black = tmp_path / "black.bed"
    black.write_text("chr1\t10000\t10500\n")
    assert main(predict_args(sim, model, tmp_path / "a.tsv", "--chroms", "chr1")) == 0
    assert (
        main(predict_args(sim, model, tmp_path / "b.tsv", "--chroms", "chr1", "--blacklist", str(black))) == 0
    )
    a, b = pd.read_csv(tmp_path / "a.tsv", sep="\t"), pd.read_csv(tmp_path / "b.tsv", sep="\t")
    hit = (a["start"] < 10500) & (a["stop"] > 10000)
    assert hit.sum() == (10500 + 199 - 10000) // 50 + 1 - 1  # bins starting in (9800, 10500)
    assert (b.loc[hit, "CTCF"] == 0).all() and (a.loc[hit, "CTCF"] > 0).all()
    pd.testing.assert_series_equal(a.loc[~hit, "CTCF"], b.loc[~hit, "CTCF"])


def test_bins_bed_dream_layout_and_bigwig(setup, tmp_path):
    sim, model, _ = setup
    bed = tmp_path / "bins.bed"
    bed.write_text("chr2\t1000\t1200\nchr2\t500\t700\nchr1\t300\t500\n")
    out = tmp_path / "d.tsv"
    assert (
        main(
            predict_args(sim, model, out, "--bins", str(bed), "--dream", "--bigwig-out", str(tmp_path / "bw"))
        )
        == 0
    )
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert [r[:3] for r in rows] == [["chr2", "1000", "1200"], ["chr2", "500", "700"], ["chr1", "300", "500"]]
    bw = pyBigWig.open(str(tmp_path / "bw.CTCF.bw"))
    # each bin's score covers its central 50 bp
    assert bw.values("chr2", 1075, 1076)[0] == pytest.approx(float(rows[0][3]), rel=1e-6)
    assert bw.values("chr1", 375, 376)[0] == pytest.approx(float(rows[2][3]), rel=1e-6)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--track", "DNASE=X", "--cell", "CellB"], None),  # replaced below
        (["--chroms", "chr7"], "chromosome 'chr7' is not in the genome"),
        (["--tf", "GABPA"], "the model predicts CTCF, not 'GABPA'"),
    ],
)
def test_bad_input_one_line_no_output(setup, tmp_path, capsys, extra, message):
    sim, model, _ = setup
    out = tmp_path / "bad.tsv.gz"
    if message is None:  # a model/track mismatch: only one of the two trained tracks
        argv = [
            "predict",
            "--model",
            str(model),
            "--genome",
            str(sim.genome),
            "--track",
            f"DNASE={sim.dnase['CellB']}",
            "-o",
            str(out),
        ]
        message = "the model was trained on tracks ['DNASE', 'MAPABILITY']"
    else:
        argv = predict_args(sim, model, out, *extra)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("factornet predict: error:") and message in err[0], err
    assert not out.exists() and not list(tmp_path.glob(".bad*"))


def test_bigwig_out_is_refused_only_for_a_real_collision(tmp_path):
    """--bigwig-out mycell writes mycell.<TF>.bw: the README's track mycell.DGF.bw is no collision for
    a FOXA1 model, but is one for a model with a DGF column (refused, before any work)."""
    from factornet_core.errors import FactorNetError
    from factornet_core.inputs import CellType
    from factornet_core.predict import PredictOptions, check_bigwig_names

    track = tmp_path / "mycell.DGF.bw"
    track.write_bytes(b"bigWig")
    cell = CellType(tmp_path / "hg19.fa", {"DGF": track})
    options = PredictOptions(bigwig_prefix=str(tmp_path / "mycell"))
    check_bigwig_names(options, ["FOXA1", "MAX"], [tmp_path / "m.keras"], cell)
    with pytest.raises(FactorNetError) as err:
        check_bigwig_names(options, ["FOXA1", "DGF"], [tmp_path / "m.keras"], cell)
    assert str(err.value) == (
        f"output '{track}' of --bigwig-out is input --track ({track}): writing it would destroy the input; "
        "choose another --bigwig-out"
    )
