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
