"""JASPAR motifs by TF name, offline through pyjaspar's bundled SQLite database."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from factornet_core import jaspar
from factornet_core.errors import FactorNetError
from factornet_core.meme import Motif, write_meme


def test_ctcf_is_the_canonical_profile_with_probabilities():
    found = jaspar.fetch("ctcf")  # case-insensitive
    # CTCF has MA0139, MA1929 and MA1930 in CORE vertebrates: the lowest base ID is the canonical one
    assert found.matrix_id.startswith("MA0139.") and found.name == "CTCF"
    assert found.release == jaspar.latest_release() and found.version == int(found.matrix_id.split(".")[1])
    motif = found.motif
    assert isinstance(motif, Motif) and motif.pwm.shape == (found.counts.shape[0], 4)
    np.testing.assert_allclose(motif.pwm.sum(axis=1), 1.0)
    np.testing.assert_allclose(motif.pwm, found.counts / found.counts.sum(axis=1, keepdims=True))
    # the most likely letter per position spells the consensus of the published logo
    consensus = "".join("ACGT"[i] for i in motif.pwm.argmax(axis=1))
    assert "CCACCAGGGGGC" in consensus, consensus  # the canonical CTCF core (JASPAR MA0139 logo)
    assert found.card() == {
        "source": "jaspar", "release": found.release, "collection": "CORE",
        "matrix_id": found.matrix_id, "name": "CTCF", "version": found.version,
        "width": motif.width, "sha256": hashlib.sha256(motif.pwm.astype("<f8").tobytes()).hexdigest(),
    }  # fmt: skip


def test_matrix_id_with_and_without_version():
    assert jaspar.fetch("MA0139.1").matrix_id == "MA0139.1"
    assert jaspar.fetch("MA0139").matrix_id == jaspar.fetch("CTCF").matrix_id


def test_unknown_name_lists_close_names_and_motif_file():
    with pytest.raises(FactorNetError) as info:
        jaspar.fetch("CTFC")
    text = str(info.value)
    assert "no JASPAR" in text and "'CTFC'" in text and "--motif-file" in text and "\n" not in text
    assert "CTCF" in jaspar.close_names("CTFC")


def test_resolve_motif_prefers_the_motif_file(tmp_path):
    path = tmp_path / "m.meme"
    write_meme(path, [Motif("MYTF_1", "MYTF", np.full((5, 4), 0.25))])
    motif, source = jaspar.resolve_motif("MYTF", motif_file=str(path))
    assert motif.name == "MYTF_1" and source == {
        "source": "file",
        "file": "m.meme",
        "name": "MYTF_1",
        "width": 5,
        "sha256": motif.sha256,
    }  # the file by its base name: the record means the same on another machine
    motif, source = jaspar.resolve_motif("REST")
    assert source["name"] == "REST" and source["source"] == "jaspar" and motif.pwm.shape[1] == 4


def test_a_packaged_motif_id_resolves_in_train_and_baseline_alike():
    """`-mo CTCF_f2` (train) and `--motif CTCF_f2` (baseline) both take the motif factornet simulate plants;
    a TF name still goes to JASPAR."""
    from factornet_core.meme import read_meme
    from factornet_core.simulate import packaged_motifs_path

    motif, source = jaspar.resolve_motif("CTCF", "CTCF_f2")
    assert source == {"source": "packaged", "name": "CTCF_f2", "width": 19, "sha256": motif.sha256}
    assert np.array_equal(motif.pwm, read_meme(packaged_motifs_path())["CTCF_f2"].pwm)
    _, source = jaspar.resolve_motif("CTCF")
    assert source["source"] == "jaspar" and source["matrix_id"].startswith("MA0139")
