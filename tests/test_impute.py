"""factornet_core.impute / ``factornet impute``: many models on one cell type.

The reference is each model's own ``predict`` run: every impute column must be bit-identical to it
(shared span reads, track channels re-ordered per model, metadata, chunk edges, blacklist).
"""

from __future__ import annotations

import gzip

import keras
import numpy as np
import pyBigWig
import pytest

from factornet_core.card import Features, make_card
from factornet_core.errors import FactorNetError
from factornet_core.impute import column_names, impute, missing_inputs, resolve_models
from factornet_core.inputs import CellType
from factornet_core.model import ModelConfig, build_model
from factornet_core.modelfile import read_card, save_model
from factornet_core.predict import PredictOptions, predict
from factornet_core.scores import read_predictions
from factornet_tools.cli import main

SIZES = {"chr1": 7_000, "chr2": 4_000}
SMALL = dict(kernel_width=15, kernels=6, pool=7, lstm_units=4, dense_units=8)


def _model(path, seed, tf, tracks, seq_len=300, n_meta=0, meta_names=()):
    keras.utils.set_random_seed(seed)
    cfg = ModelConfig(seq_len=seq_len, track_names=tracks, n_meta=n_meta, **SMALL)
    model = build_model(cfg)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.get_weights()])
    card = make_card(
        cfg.to_dict(),
        [tf],
        mode="single-task",
        features=Features(expression=n_meta > 0),
        metadata_names=meta_names,
        chrom_naming="ucsc",
        expression_source="meta_values" if n_meta else None,
    )
    save_model(model, card, path)
    return path


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    root = tmp_path_factory.mktemp("impute")
    rng = np.random.default_rng(7)
    with open(root / "genome.fa", "w") as fa:
        for chrom, n in SIZES.items():
            fa.write(f">{chrom}\n{''.join(rng.choice(list('ACGTN'), n, p=[0.24, 0.24, 0.24, 0.24, 0.04]))}\n")
    tracks = {}
    for name in ("DGF", "Unique35"):
        tracks[name] = root / f"{name}.bw"
        bw = pyBigWig.open(str(tracks[name]), "w")
        bw.addHeader(list(SIZES.items()))
        for chrom, n in SIZES.items():
            values = rng.gamma(0.5, 2.0, n) if name == "DGF" else rng.random(n)
            bw.addEntries(chrom, 0, values=values.tolist(), span=1, step=1)
        bw.close()
    meta = root / "meta.txt"
    meta.write_text("0.5 GEPC1\n-1.5 GEPC2\n0.25 GEPC3\n")
    models = root / "models"
    models.mkdir()
    paths = {
        # two CTCF models (→ CTCF.<variant> columns); tracks in both orders; a longer window with metadata
        "a": _model(models / "CTCF__onePeak_DGF.keras", 1, "CTCF", ("DGF",)),
        "b": _model(models / "CTCF__onePeak_Unique35_DGF.keras", 2, "CTCF", ("Unique35", "DGF")),
        "c": _model(
            models / "GABPA__meta_Unique35_DGF.keras",
            3,
            "GABPA",
            ("DGF", "Unique35"),
            400,
            3,
            ("P1", "P2", "P3"),
        ),
    }
    black = root / "black.bed"
    black.write_text("chr1\t3000\t3100\n")
    return root, CellType(root / "genome.fa", tracks, meta_values=meta), paths, black


@pytest.mark.parametrize("naive", [False, True], ids=["shared-conv", "naive"])
def test_each_column_equals_that_models_own_predict(cell, tmp_path, naive):
    root, cell_type, paths, black = cell
    options = PredictOptions(blacklist=black, chunk_bins=37, naive=naive)  # many chunk edges
    out = tmp_path / "imputed.tsv.gz"
    result = impute(list(paths.values()), cell_type, out, options)
    assert result.columns == ["CTCF.onePeak_DGF", "CTCF.onePeak_Unique35_DGF", "GABPA"]
    bins, scores = read_predictions(out)
    assert list(scores.columns) == result.columns
    assert len(bins) == sum((n - 200) // 50 + 1 for n in SIZES.values())
    for key, column in zip("abc", result.columns):
        card = read_card(paths[key])
        own = CellType(cell_type.genome, {t: cell_type.tracks[t] for t in card.track_names},
                       meta_values=cell_type.meta_values)  # fmt: skip
        predict(paths[key], own, tmp_path / f"{key}.tsv.gz", options)
        pbins, pscores = read_predictions(tmp_path / f"{key}.tsv.gz")
        assert pbins.equals(bins)
        np.testing.assert_array_equal(scores[column].to_numpy(), pscores.iloc[:, 0].to_numpy())
    blacklisted = (bins["chrom"] == "chr1") & (bins["start"] < 3100) & (bins["end"] > 3000)
    assert blacklisted.sum() == 5 and (scores[blacklisted.to_numpy()] == 0).all().all()
    assert (scores[~blacklisted.to_numpy()] > 0).all().all()


@pytest.mark.parametrize("naive", [False, True], ids=["shared-conv", "naive"])
def test_many_models_and_a_short_last_batch_never_retrace(cell, tmp_path, naive):
    """Six models, batches of 7 windows over 77 bins (a short last batch per chunk): each model's
    graph is traced once, so TensorFlow logs no "triggered tf.function retracing" warning."""
    import logging

    root, cell_type, _, _ = cell
    models = [_model(tmp_path / f"CTCF__v{i}.keras", 10 + i, "CTCF", ("DGF",)) for i in range(6)]
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.addHandler(handler)
    try:
        options = PredictOptions(chroms=["chr2"], batch_size=7, chunk_bins=40, naive=naive)
        result = impute(models, CellType(cell_type.genome, {"DGF": cell_type.tracks["DGF"]}),
                        tmp_path / "o.tsv.gz", options)  # fmt: skip
    finally:
        tf_logger.removeHandler(handler)
    assert result.n_bins == 77 and len(result.columns) == 6
    assert [r.getMessage() for r in records if "retracing" in r.getMessage()] == []


def test_shards_merge_to_the_whole_file_and_bigwigs(cell, tmp_path):
    root, cell_type, paths, _ = cell
    models = [str(root / "models")]  # a folder of models
    common = ["--genome", str(cell_type.genome), "--track", f"DGF={cell_type.tracks['DGF']}",
              "--track", f"Unique35={cell_type.tracks['Unique35']}", "--meta-values", str(cell_type.meta_values),
              "--quiet"]  # fmt: skip
    whole = tmp_path / "whole.tsv.gz"
    assert (
        main(["impute", "--models", *models, *common, "-o", str(whole), "--bigwig-out", str(tmp_path / "bw")])
        == 0
    )
    for chrom in SIZES:
        assert (
            main(
                [
                    "impute",
                    "--models",
                    *models,
                    *common,
                    "--chroms",
                    chrom,
                    "-o",
                    str(tmp_path / f"{chrom}.tsv.gz"),
                ]
            )
            == 0
        )
    merged = tmp_path / "merged.tsv.gz"
    assert main(["merge", str(tmp_path / "chr2.tsv.gz"), str(tmp_path / "chr1.tsv.gz"), "--out", str(merged),
                 "--chrom-order", "chr1,chr2"]) == 0  # fmt: skip
    assert gzip.decompress(merged.read_bytes()) == gzip.decompress(whole.read_bytes())
    bins, scores = read_predictions(whole)
    bw = pyBigWig.open(str(tmp_path / "bw.GABPA.bw"))
    # a bin's score covers its central 50 bp
    assert bw.values("chr1", 275, 276)[0] == pytest.approx(float(scores["GABPA"].iloc[4]), abs=1e-7)
    assert sorted(p.name for p in tmp_path.glob("bw.*.bw")) == [
        "bw.CTCF.onePeak_DGF.bw",
        "bw.CTCF.onePeak_Unique35_DGF.bw",
        "bw.GABPA.bw",
    ]


def _err(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_incompatible_models_refused_before_work_or_skipped(cell, tmp_path, capsys):
    root, cell_type, paths, _ = cell
    out = tmp_path / "o.tsv.gz"
    argv = ["impute", "--models", str(root / "models"), "--genome", str(cell_type.genome),
            "--track", f"DGF={cell_type.tracks['DGF']}", "-o", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 2
    err = _err(capsys)
    assert len(err) == 1 and "2 of 3 models need inputs that were not given" in err[0]
    assert err[0].endswith("(give them, or --skip-incompatible to run the other model)")
    assert "CTCF__onePeak_Unique35_DGF.keras needs track Unique35 (--track Unique35=BIGWIG)" in err[0]
    assert (
        "GABPA__meta_Unique35_DGF.keras needs track Unique35 (--track Unique35=BIGWIG), the cell type's"
        in err[0]
    )
    assert "(--meta-values)" in err[0] and not out.exists()
    # one model short of inputs: the verb agrees; every model short: no "others" to run
    assert main([*argv[:2], str(paths["c"]), str(paths["a"]), *argv[3:], "--track", f"Unique35={cell_type.tracks['Unique35']}"]) == 2  # fmt: skip
    err = _err(capsys)
    assert err[0].startswith("factornet impute: error: 1 of 2 models needs inputs that were not given — ")
    assert err[0].endswith("(give them, or --skip-incompatible to run the other model)")
    assert main([*argv[:2], str(paths["b"]), *argv[3:]]) == 2
    assert _err(capsys) == [
        "factornet impute: error: the model needs inputs that were not given — CTCF__onePeak_Unique35_DGF.keras "
        "needs track Unique35 (--track Unique35=BIGWIG) (give them)"
    ]
    assert main([*argv[:2], str(paths["b"]), str(paths["c"]), *argv[3:]]) == 2
    err = _err(capsys)
    assert err[0].startswith("factornet impute: error: all 2 models need inputs") and err[0].endswith(
        "(give them)"
    )
    assert main([*argv, "--skip-incompatible"]) == 0
    assert "skipped" in capsys.readouterr().err
    bins, scores = read_predictions(out)
    assert list(scores.columns) == ["CTCF"]  # one CTCF model left: the plain TF name


def test_missing_inputs_lists_everything():
    card = read_card_like(tracks=("Unique35", "DGF"), expression=True, gencode=True)
    lacks = missing_inputs(card, CellType("g.fa", {"DGF": "d.bw"}))
    assert lacks == [
        "track Unique35 (--track Unique35=BIGWIG)",
        "the cell type's expression PCs as published with the model (--meta-values)",
        "annotation features (--annotation-beds, or --gtf and --cpg)",
    ]
    assert (
        missing_inputs(card, CellType("g.fa", {"DGF": "d", "Unique35": "u"}, meta_values="m", annotations={}))
        == []
    )


def read_card_like(tracks, expression=False, gencode=False):
    from factornet_core.card import ModelCard

    names = tuple(f"GEPC{i}" for i in range(1, 9)) if expression else ()
    names += ("cpg", "cds", "intron", "promoter", "utr5", "utr3") if gencode else ()
    return ModelCard(tfs=("X",), track_names=tracks, seq_len=1002, features=Features(expression, gencode),
                     metadata_names=names, expression_source="meta_values" if expression else None)  # fmt: skip


def test_column_names_and_duplicate_models(cell, tmp_path):
    root, _, paths, _ = cell
    cards = [(paths[k], read_card(paths[k])) for k in "abc"]
    assert column_names(cards) == [["CTCF.onePeak_DGF"], ["CTCF.onePeak_Unique35_DGF"], ["GABPA"]]
    assert column_names(cards[1:]) == [["CTCF"], ["GABPA"]]
    with pytest.raises(FactorNetError, match="two models predict CTCF with variant 'onePeak_DGF'"):
        column_names([cards[0], cards[0]])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: (d / "x.keras").write_text("not a zip"), "not a .keras model file"),
        (lambda d: (d / "x.keras").write_bytes(_plain_keras(d)), "without a FactorNet card"),
    ],
    ids=["not-a-zip", "plain-keras"],
)
def test_not_a_factornet_model_one_line(cell, tmp_path, capsys, make, message):
    root, cell_type, paths, _ = cell
    make(tmp_path)
    out = tmp_path / "o.tsv"
    rc = main(["impute", "--models", str(paths["a"]), str(tmp_path / "x.keras"), "--genome", str(cell_type.genome),
               "--track", f"DGF={cell_type.tracks['DGF']}", "-o", str(out)])  # fmt: skip
    err = _err(capsys)
    assert rc == 2 and len(err) == 1 and message in err[0] and "x.keras" in err[0]
    assert not out.exists()


def _plain_keras(folder) -> bytes:
    path = folder / "plain.keras"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]).save(path)
    return path.read_bytes()


def test_same_model_twice_and_unknown_catalogue_name_cli(cell, tmp_path, capsys):
    root, cell_type, paths, _ = cell
    base = [
        "--genome",
        str(cell_type.genome),
        "--track",
        f"DGF={cell_type.tracks['DGF']}",
        "-o",
        str(tmp_path / "o"),
    ]
    assert main(["impute", "--models", str(paths["a"]), str(paths["a"]), *base]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "--models is given the same file twice" in err[0]
    assert main(["impute", "--models", "FOXA1__onePeak_DFG", *base]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "did you mean FOXA1__onePeak_DGF" in err[0]
    # the advice fetches into the cache this run looked in
    with pytest.raises(FactorNetError) as err:
        resolve_models(["FOXA1"], cache=tmp_path / "empty-cache")
    assert (
        f"run 'factornet models fetch FOXA1__onePeak_DGF --model-cache {tmp_path / 'empty-cache'}' first"
        in str(err.value)
    )


# ------------------------------------------------------------------------------ the published models
@pytest.mark.shared
def test_published_models_impute_equals_predict(published_models, tmp_path):
    """Three published models with different track sets, read once; the models needing expression PCs
    or annotations are skipped and reported."""
    rng = np.random.default_rng(3)
    n = 9_000
    genome = tmp_path / "hg19_piece.fa"
    genome.write_text(">chr21\n" + "".join(rng.choice(list("ACGT"), n)) + "\n")
    tracks = {}
    for name in ("DGF", "Unique35"):
        tracks[name] = tmp_path / f"{name}.bw"
        bw = pyBigWig.open(str(tracks[name]), "w")
        bw.addHeader([("chr21", n)])
        bw.addEntries("chr21", 0, values=(rng.gamma(0.3, 3.0, n) if name == "DGF" else rng.random(n)).tolist(),
                      span=1, step=1)  # fmt: skip
        bw.close()
    cell_type = CellType(genome, tracks)
    chosen = ["FOXA1__onePeak_DGF", "HNF4A__onePeak_Unique35_DGF", "TAF1__GENCODE_Unique35_DGF"]
    result = impute([published_models[m] for m in chosen], cell_type, tmp_path / "imp.tsv.gz",
                    skip_incompatible=True)  # fmt: skip
    assert result.columns == ["FOXA1", "HNF4A"]
    assert list(result.skipped) == [str(published_models["TAF1__GENCODE_Unique35_DGF"])]
    _, scores = read_predictions(tmp_path / "imp.tsv.gz")
    for name, column in zip(chosen, result.columns):
        card = read_card(published_models[name])
        own = CellType(genome, {t: tracks[t] for t in card.track_names})
        predict(published_models[name], own, tmp_path / f"{column}.tsv.gz")
        np.testing.assert_array_equal(
            scores[column].to_numpy(), read_predictions(tmp_path / f"{column}.tsv.gz")[1].iloc[:, 0]
        )
    # ... and the binding-site calls of the imputed columns (end to end: fetch → impute → call)
    assert (
        main(["call", str(tmp_path / "imp.tsv.gz"), "--top", "5", "--out-prefix", str(tmp_path / "calls")])
        == 0
    )
    for column in result.columns:
        rows = [
            line.split("\t") for line in (tmp_path / f"calls.{column}.narrowPeak").read_text().splitlines()
        ]
        best = np.sort(scores[column].to_numpy())[::-1]
        assert 1 <= len(rows) <= 5 and {r[3] for r in rows} == {column}
        assert max(float(r[6]) for r in rows) == pytest.approx(float(best[0]))
        assert all(0 <= int(r[9]) < int(r[2]) - int(r[1]) for r in rows)
