"""The assembly check: an hg19 model refuses an hg38 genome; excerpts and test genomes pass."""

from __future__ import annotations

import numpy as np
import pytest
from test_inputs import card_only_model

from factornet_core import assemblies
from factornet_core.errors import FactorNetError
from factornet_core.inputs import CellInputs, CellType

HG38 = {"chr1": 248956422, "chr2": 242193529, "chrX": 156040895, "chrM": 16569, "chrUn_KI270302v1": 2274}
HG19 = {"chr1": 249250621, "chr2": 243199373, "chrX": 155270560, "chrM": 16571, "chr6_apd_hap1": 4622290}


def test_packaged_table_has_the_assemblies_lengths():
    table = assemblies.known_assemblies()
    assert table["hg19"]["chr1"] == 249250621 and table["hg38"]["chr1"] == 248956422
    assert len(table["hg19"]) == len(table["hg38"]) == 24  # chr1-22, X, Y
    assert assemblies.identify(HG38) == "hg38" and assemblies.identify(HG19) == "hg19"


def test_hg38_genome_for_an_hg19_model_is_one_line_naming_both():
    with pytest.raises(FactorNetError) as err:
        assemblies.check_assembly("hg19", HG38)
    assert str(err.value) == (
        "the model is for hg19, but the genome is not hg19: its chr1 is 248956422 bp, as in hg38, hg19's is "
        "249250621 bp; give the hg19 genome (FASTA) the model was trained on"
    )


@pytest.mark.parametrize(
    "sizes",
    [
        HG19,  # the right assembly, alt haplotypes and UCSC chrM included
        {"chr21": 48129895},  # one chromosome of it
        {"chr1": 1_000_000, "chr2": 1_000_000},  # factornet simulate's test genome: excerpt-sized
        {"contig7": 5000},  # no chromosome to compare
        {**HG19, "chrM": 16569},  # an hg19 flavour with the rCRS mitochondrion
    ],
    ids=["hg19", "one-chromosome", "simulated", "nothing-in-common", "rCRS-chrM"],
)
def test_what_cannot_be_told_apart_or_is_right_passes(sizes):
    assemblies.check_assembly("hg19", sizes)


def test_another_species_is_refused_without_guessing_its_name():
    with pytest.raises(FactorNetError, match=r"its chr1 is 195471971 bp, hg19's is 249250621 bp"):
        assemblies.check_assembly("hg19", {"chr1": 195471971})  # mm10 chr1
    assemblies.check_assembly(None, HG38)  # a model naming no assembly is not checked
    assemblies.check_assembly("dm6", HG38)  # nor one naming an assembly without a table


@pytest.fixture
def small_assemblies(monkeypatch):
    """Tables scaled to a 2 kb test genome: "hg19" has a 3 kb chr1, "hg38" the genome's 2 kb."""
    monkeypatch.setattr(
        assemblies, "known_assemblies", lambda: {"hg19": {"chr1": 3000}, "hg38": {"chr1": 2000}}
    )


def test_predict_and_interpret_inputs_check_the_card_assembly(
    tmp_path, make_fasta, make_bigwig, small_assemblies
):
    genome = make_fasta({"chr1": "ACGT" * 500})
    cell = CellType(genome, {"DNASE": make_bigwig({"chr1": np.ones(2000)}, name="d.bw")})
    hg19 = card_only_model(tmp_path / "hg19.keras", track_names=["DNASE"], provenance={"genome": "hg19"})
    with pytest.raises(FactorNetError, match=r"^the model is for hg19, .* its chr1 is 2000 bp, as in hg38"):
        CellInputs.open(hg19, cell)
    own = card_only_model(tmp_path / "own.keras", track_names=["DNASE"])  # trained here: no assembly
    CellInputs.open(own, cell).close()


def test_impute_checks_every_models_assembly_before_any_work(
    tmp_path, make_fasta, make_bigwig, small_assemblies
):
    from factornet_core.impute import impute

    genome = make_fasta({"chr1": "ACGT" * 500})
    cell = CellType(genome, {"DNASE": make_bigwig({"chr1": np.ones(2000)}, name="d.bw")})
    hg19 = card_only_model(tmp_path / "hg19.keras", track_names=["DNASE"], provenance={"genome": "hg19"})
    out = tmp_path / "p.tsv"
    with pytest.raises(FactorNetError, match=r"^the model is for hg19, but the genome is not hg19"):
        impute([hg19], cell, out)
    assert not out.exists()
