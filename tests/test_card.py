"""The typed model card: validation, JSON round trip, versions, and the one builder."""

from __future__ import annotations

import json

import pytest

from factornet_core.card import CARD_VERSION, Features, ModelCard, make_card
from factornet_core.errors import FactorNetError

BASE = {
    "tfs": ["CTCF", "GABPA"],
    "track_names": ["DNASE", "MAPABILITY"],
    "seq_len": 1000,
    "mode": "multi-task",
    "features": {"expression": True, "gencode": True},
    "metadata_names": ["PC1", "PC2", "cpg", "cds", "intron", "promoter", "utr5", "utr3"],
    "chrom_naming": "ucsc",
    "config": {"track_names": ["DNASE", "MAPABILITY"], "seq_len": 1000, "n_tasks": 2, "n_meta": 8},
}


def test_json_round_trip_and_derived_values():
    card = ModelCard.from_dict(BASE)
    again = ModelCard.from_json(card.to_json())
    assert again == card and again.to_dict() == card.to_dict()
    assert card.tfs == ("CTCF", "GABPA") and card.features == Features(True, True)
    assert card.n_meta == 8 and card.n_expression_pcs == 2 and card.expression_source == "pca"
    assert (card.bin_size, card.bin_stride) == (200, 50)  # defaults of the grid
    assert json.loads(card.to_json())["card_version"] == CARD_VERSION


def test_version_1_card_is_upgraded():
    old = {**BASE, "format": 1, "factornet_version": "0.1.0"}
    card = ModelCard.from_dict(old)
    assert card.card_version == CARD_VERSION and card.factornet_version == "0.1.0"
    assert "format" not in card.to_dict()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "red"}, "unknown card key colour"),
        ({"seq_len": "1000"}, "seq_len must be a positive integer"),
        ({"seq_len": 0}, "seq_len must be a positive integer"),
        ({"bin_stride": -50}, "bin_stride must be a positive integer"),
        ({"bin_stride": 400}, "bin_stride 400 exceeds bin_size 200"),
        ({"tfs": "CTCF"}, "tfs must be a list of names"),
        ({"tfs": []}, "tfs is empty"),
        ({"track_names": ["DNASE", "DNASE"]}, "track_names has duplicates"),
        ({"track_names": ["DNASE"]}, "config.track_names"),
        ({"mode": "single-task"}, "single-task model predicts one TF"),
        ({"chrom_naming": "ensembl"}, "chrom_naming"),
        ({"features": {"expression": "yes"}}, "features.expression must be true or false"),
        ({"features": {"atac": True}}, "unknown feature atac"),
        ({"features": {"expression": False, "gencode": False}}, "metadata_names given"),
        ({"metadata_names": ["cpg", "cds", "intron", "promoter", "utr5", "utr3"]}, "lists none"),
        ({"expression_source": "guess"}, "expression_source must be"),
        ({"card_version": CARD_VERSION + 1}, "newer factornet"),
        ({"format": 7}, "unknown card format 7"),
    ],
)
def test_invalid_cards_are_refused_with_one_line(change, message):
    with pytest.raises(FactorNetError) as err:
        ModelCard.from_dict({**BASE, **change})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_make_card_takes_layout_from_the_architecture():
    config = {"track_names": ["DNASE"], "seq_len": 400, "n_tasks": 1, "n_meta": 0, "kernels": 8}
    card = make_card(
        config,
        ["CTCF"],
        mode="single-task",
        features=Features(),
        metadata_names=[],
        chrom_naming="plain",
        training={"epochs": 3},
    )
    assert card.track_names == ("DNASE",) and card.seq_len == 400 and card.config["kernels"] == 8
    assert card.training == {"epochs": 3} and card.expression_source is None
    with pytest.raises(FactorNetError, match="config.n_meta"):
        make_card(
            config, ["CTCF"], mode="single-task", features=Features(expression=True),
            metadata_names=["PC1"], chrom_naming="ucsc",
        )  # fmt: skip


SHA = "8b5df38ad5447e66c6c1389ca86df6b3e67b2fe12876881e5e193988f3d86117"


@pytest.mark.parametrize(
    "training, line",
    [
        ({}, None),  # not recorded (imported models)
        ({"epochs": 1}, None),  # trained before motif initialisation was recorded
        ({"motif_init": False}, "none, random kernels"),
        (
            {"motif_init": False, "motif_not_found": {"name": "NOTATF1", "jaspar_release": "JASPAR2026"}},
            "none, random kernels (no motif for 'NOTATF1' among the packaged motifs or in JASPAR2026)",
        ),
        (
            {"motif_init": True, "motif_source": {"source": "packaged", "name": "CTCF_f2", "width": 19,
                                                  "sha256": SHA}},
            "kernels 0/1 from CTCF_f2 (shipped with factornet 0.1.0)",
        ),
        (
            {"motif_init": True, "motif_source": {"source": "jaspar", "release": "JASPAR2026", "collection": "CORE",
                                                  "matrix_id": "MA0139.2", "name": "CTCF", "version": 2,
                                                  "width": 15, "sha256": SHA, "columns_used": [3, 12]}},
            "kernels 0/1 from JASPAR MA0139.2 CTCF (JASPAR2026); its central columns 3–12 (1-based) of 15 (wider than "
            "the kernels)",
        ),
        (
            {"motif_init": True, "motif_source": {"source": "file", "file": "mine.meme", "name": "WIDE_1",
                                                  "width": 30, "sha256": SHA}},
            "kernels 0/1 from WIDE_1 in mine.meme (matrix sha256 8b5df38ad544)",
        ),
        # the records of cards written before: JASPAR/MEME with the path as given, the notice as a note
        (
            {"motif_init": True, "motif_source": {"source": "JASPAR", "release": "JASPAR2026",
                                                  "collection": "CORE", "matrix_id": "MA0139.2", "name": "CTCF",
                                                  "version": 2}},
            "kernels 0/1 from JASPAR MA0139.2 CTCF (JASPAR2026)",
        ),
        (
            {"motif_init": True, "motif_source": {"source": "MEME", "file": "/data/m.meme", "name": "CTCF_f2"}},
            "kernels 0/1 from CTCF_f2 in /data/m.meme",
        ),
        (
            {"motif_init": False, "motif_init_note": "no motif found for 'X'"},
            "none, random kernels (no motif found for 'X')",
        ),
    ],
)  # fmt: skip
def test_motif_init_summary_reads_the_record_of_every_card(training, line):
    card = ModelCard.from_dict(
        {**BASE, "training": training, "factornet_version": "0.1.0", "card_version": CARD_VERSION}
    )
    assert card.motif_init_summary() == line
    assert ModelCard.from_json(card.to_json()).motif_init_summary() == line  # survives the round trip
