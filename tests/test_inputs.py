"""A model on a cell type: the card checked against the inputs before any work, metadata rows."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from factornet_core.errors import FactorNetError
from factornet_core.inputs import CellInputs, CellType, check_card
from factornet_core.modelfile import CARD_MEMBER, read_card

CARD = {
    "tfs": ["CTCF"],
    "track_names": ["DNASE", "MAPABILITY"],
    "seq_len": 400,
    "chrom_naming": "ucsc",
}


def card_only_model(path, **change):
    """A ``.keras`` zip holding only a card: enough for every check (the model loads lazily)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(CARD_MEMBER, json.dumps({**CARD, **change}))
    return path


@pytest.fixture
def files(make_fasta, make_bigwig):
    seq = "ACGT" * 500
    return {
        "ucsc": make_fasta({"chr1": seq}, name="ucsc.fa"),
        "plain": make_fasta({"1": seq}, name="plain.fa"),
        "DNASE": make_bigwig({"chr1": np.arange(2000.0)}, name="d.bw"),
        "MAPABILITY": make_bigwig({"chr1": np.ones(2000)}, name="m.bw"),
    }


def tracks(files):
    return {"MAPABILITY": files["MAPABILITY"], "DNASE": files["DNASE"]}  # order: the card decides


EXPRESSION = {"features": {"expression": True}, "metadata_names": ["PC1", "PC2", "PC3"]}
IMPORTED = {**EXPRESSION, "expression_source": "meta_values"}


@pytest.mark.parametrize(
    "card, cell, message",
    [
        ({}, {"tracks": {"DNASE": "x", "ATAC": "y"}}, "trained on tracks ['DNASE', 'MAPABILITY']"),
        (EXPRESSION, {}, "expression PCs (-m): give the cell type's expression table"),
        (IMPORTED, {"expression": "e.tsv"}, "give --meta-values"),
        (
            {
                "features": {"gencode": True},
                "metadata_names": ["cpg", "cds", "intron", "promoter", "utr5", "utr3"],
            },
            {},
            "annotation features (-g)",
        ),
    ],
    ids=["tracks", "expression", "meta-values", "annotations"],
)
def test_card_mismatch_is_refused_before_any_file_is_opened(tmp_path, files, card, cell, message):
    model = card_only_model(tmp_path / "m.keras", **card)
    given = CellType(tmp_path / "no-such-genome.fa", cell.pop("tracks", tracks(files)), **cell)
    # the genome does not exist: the card check must come first and be the one error
    with pytest.raises(FactorNetError) as err:
        CellInputs.open(model, given)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_chromosome_naming_is_checked(tmp_path, files):
    ucsc = card_only_model(tmp_path / "u.keras")
    with pytest.raises(FactorNetError, match="UCSC chromosome names \\(chr1\\), the genome uses '1'"):
        CellInputs.open(ucsc, CellType(files["plain"], tracks(files)))
    plain = card_only_model(tmp_path / "p.keras", chrom_naming="plain")
    with pytest.raises(FactorNetError, match="'1'-style chromosome names, the genome uses UCSC"):
        CellInputs.open(plain, CellType(files["ucsc"], tracks(files)))


def test_tracks_in_card_order_and_windows(tmp_path, files):
    model = card_only_model(tmp_path / "m.keras")
    with CellInputs.open(model, CellType(files["ucsc"], tracks(files))) as inputs:
        assert inputs.data.trackset.names == ["DNASE", "MAPABILITY"]
        x = inputs.reader.windows("chr1", np.array([800]))  # window 700..1100 around bin 800..1000
        assert x.shape == (1, 400, 6)
        np.testing.assert_array_equal(x[0, :, 4], np.arange(700.0, 1100.0))
        np.testing.assert_array_equal(x[0, :, 5], 1.0)
        assert inputs.meta("chr1", np.array([0, 50])) is None  # no metadata input
        with pytest.raises(FactorNetError, match="region chromosome 'chr2' is not in the genome"):
            inputs.data.check_regions(pd.DataFrame({"chrom": ["chr2"], "start": [0], "end": [10]}), "r.bed")
        # '1' for 'chr1' (interpret saliency/motifs regions): the one chr1-vs-1 hint, as everywhere
        with pytest.raises(FactorNetError) as err:
            inputs.data.check_regions(
                pd.DataFrame({"chrom": ["1", "2"], "start": [0, 0], "end": [9, 9]}), "r.bed"
            )
        assert str(err.value) == (
            "r.bed: region chromosome '1' is not in the genome: in the genome it is 'chr1': the files use "
            "different chromosome naming (chr1 vs 1); 2 unknown in all: regions must lie inside the genome"
        )


def test_meta_values_become_every_bins_row(tmp_path, files):
    model = card_only_model(tmp_path / "m.keras", **IMPORTED)
    values = tmp_path / "meta.txt"
    values.write_text("0.5 PC1\n# comment\nPC2 -1.25\n3\n")
    cell = CellType(files["ucsc"], tracks(files), meta_values=values)
    with CellInputs.open(model, cell) as inputs:
        rows = inputs.meta("chr1", np.array([0, 50, 100]))
    np.testing.assert_array_equal(rows, np.tile(np.float32([0.5, -1.25, 3.0]), (3, 1)))
    values.write_text("0.5\n1\n")
    with pytest.raises(FactorNetError, match="2 metadata values, the model expects 3"):
        CellInputs.open(model, cell)


def test_sequence_only_use_needs_no_metadata(tmp_path, files):
    """``interpret motifs`` scans the kernels only: an expression model opens without a table."""
    model = card_only_model(tmp_path / "m.keras", **EXPRESSION)
    cell = CellType(files["ucsc"], tracks(files))
    with pytest.raises(FactorNetError, match="expression PCs"):
        check_card(read_card(model), cell)
    with CellInputs.open(model, cell, metadata=False) as inputs:
        assert inputs.meta("chr1", np.array([0])) is None
