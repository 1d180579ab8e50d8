"""Which motif starts kernels 0/1: errors for a motif file without it, a notice for a TF without one, the
central columns of a motif wider than the kernels, and the portable record the model card keeps."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from factornet_core import jaspar
from factornet_core.errors import FactorNetError
from factornet_core.meme import Motif, read_meme, write_meme
from factornet_core.motifinit import choose_motif
from factornet_core.simulate import packaged_motifs_path


def _packaged(*names: str) -> list[Motif]:
    motifs = read_meme(packaged_motifs_path())
    return [motifs[n] for n in names]


def test_a_motif_file_without_the_tfs_motif_is_an_error_with_its_motifs_and_the_fixes(tmp_path):
    path = tmp_path / "two.meme"
    write_meme(path, _packaged("GABPA_f1", "REST_f1"))
    with pytest.raises(FactorNetError) as err:
        choose_motif("CTCF", motif_file=str(path))
    assert str(err.value) == (
        f"--motif-file {str(path)!r} has no motif for TF 'CTCF' (it has 2 motifs: GABPA_f1, REST_f1): name "
        "one of its motifs with -mo NAME (e.g. -mo REST_f1), or start from random kernels with --no-motif-init"
    )  # REST_f1: the most similar name to CTCF (t, f), not the file's first motif
    like = tmp_path / "like.meme"
    ctcfl = read_meme(packaged_motifs_path())["CTCF_f2"]
    write_meme(like, [*_packaged("GABPA_f1", "REST_f1"), Motif("CTCFL_f1", "CTCFL", ctcfl.pwm)])
    with pytest.raises(FactorNetError, match=r"\(e\.g\. -mo CTCFL_f1\)"):
        choose_motif("CTCF", motif_file=str(like))
    many = tmp_path / "many.meme"
    write_meme(many, list(read_meme(packaged_motifs_path()).values())[1:])  # all but CTCF_f2
    with pytest.raises(
        FactorNetError, match=r"\(it has 6 motifs: GABPA_f1, REST_f1, FOXA1_f1, HNF4A_f1, JUND_f1, \.\.\.\)"
    ):
        choose_motif("CTCF", motif_file=str(many))


def test_a_named_motif_missing_from_the_motif_file_says_where_else_to_look(tmp_path):
    path = tmp_path / "one.meme"
    write_meme(path, _packaged("GABPA_f1"))
    with pytest.raises(FactorNetError) as err:
        choose_motif("CTCF", motif="CTCF_f2", motif_file=str(path))
    assert str(err.value) == (
        f"--motif-file {str(path)!r} has no motif 'CTCF_f2' (it has 1 motif: GABPA_f1): name one of its "
        "motifs with -mo NAME (e.g. -mo GABPA_f1), or drop --motif-file to look 'CTCF_f2' up among the "
        "packaged motifs and JASPAR"
    )


def test_the_example_motif_name_is_quoted_for_the_shell(tmp_path):
    path = tmp_path / "odd.meme"
    path.write_text(
        "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF a$(b)\n\n"
        "letter-probability matrix: alength= 4 w= 1 nsites= 1 E= 0\n 0.25 0.25 0.25 0.25\n"
    )
    with pytest.raises(FactorNetError, match=r"\(e\.g\. -mo 'a\$\(b\)'\)"):
        choose_motif("CTCF", motif_file=str(path))


def test_a_tf_without_any_motif_is_a_notice_and_random_kernels():
    init = choose_motif("NOTATF1")
    assert init.pwm is None
    assert init.card == {
        "motif_init": False,
        "motif_not_found": {"name": "NOTATF1", "jaspar_release": jaspar.latest_release()},
    }
    assert init.notice.startswith(
        f"no motif found for 'NOTATF1' to initialise kernels 0/1 (no {jaspar.latest_release()} CORE "
        "vertebrates motif for 'NOTATF1'"
    )
    assert init.notice.endswith(
        "training continues with random kernels (name one with -mo, or --no-motif-init to silence this)"
    )
    assert choose_motif("NOTATF1", enabled=False).notice is None  # --no-motif-init: nothing to say
    with pytest.raises(FactorNetError, match="no .* motif for 'NOTATF1'"):
        choose_motif("CTCF", motif="NOTATF1")  # named: an error


def test_no_motif_when_turned_off_or_multi_task_and_a_contradiction_is_refused():
    assert choose_motif("CTCF", enabled=False).card == {"motif_init": False}
    off = choose_motif(None)  # multi-task starts at random (Table S2)
    assert off.pwm is None and off.card == {"motif_init": False} and off.notice is None
    with pytest.raises(FactorNetError, match="-mo/--motif and --no-motif-init contradict"):
        choose_motif("CTCF", motif="CTCF", enabled=False)


def test_packaged_and_file_records_hold_no_path_and_the_matrix_hash(tmp_path):
    (ctcf,) = _packaged("CTCF_f2")
    sha = hashlib.sha256(ctcf.pwm.astype("<f8").tobytes()).hexdigest()
    init = choose_motif("CTCF", motif="CTCF_f2")
    assert init.notice is None and np.array_equal(init.pwm, ctcf.pwm)
    assert init.card == {
        "motif_init": True,
        "motif_source": {"source": "packaged", "name": "CTCF_f2", "width": 19, "sha256": sha},
    }
    folder = tmp_path / "my motifs"
    folder.mkdir()
    write_meme(folder / "mine.meme", [ctcf])
    init = choose_motif("CTCF", motif_file=folder / "mine.meme")  # the TF's motif by its name
    # the matrix as read back (write_meme keeps 6 decimals): another matrix, another hash
    mine = read_meme(folder / "mine.meme")["CTCF_f2"].pwm
    mine_sha = hashlib.sha256(mine.astype("<f8").tobytes()).hexdigest()
    assert mine_sha != sha and np.allclose(mine, ctcf.pwm, atol=1e-6)
    assert init.card["motif_source"] == {
        "source": "file", "file": "mine.meme", "name": "CTCF_f2", "width": 19, "sha256": mine_sha,
    }  # fmt: skip
    assert str(tmp_path) not in json.dumps(init.card) and "site-packages" not in json.dumps(init.card)


def test_a_motif_wider_than_the_kernels_gives_its_central_columns_with_a_notice(tmp_path):
    pwm = np.random.default_rng(1).dirichlet(np.ones(4), size=30)
    path = tmp_path / "wide.meme"
    write_meme(path, [Motif("WIDE_1", "WIDE", pwm)])
    init = choose_motif("WIDE", motif_file=str(path), kernel_width=26)
    assert init.notice == (
        "motif WIDE_1 is 30 bp wide, kernels are 26 bp (-w): its central 26 columns (3–28) initialise "
        "kernels 0/1"
    )
    source = init.card["motif_source"]
    assert source["width"] == 30 and source["columns_used"] == [3, 28]
    assert init.pwm.shape == (30, 4)  # the whole motif: model.motif_kernel takes the same central columns
    assert choose_motif("WIDE", motif_file=str(path), kernel_width=30).notice is None
    assert (
        "columns_used" not in choose_motif("WIDE", motif_file=str(path), kernel_width=30).card["motif_source"]
    )


def test_a_jaspar_motif_is_named_by_matrix_id_when_trimmed():
    found = jaspar.fetch("CTCF")
    init = choose_motif("CTCF", kernel_width=10)
    assert init.card["motif_source"] == {**found.card(), "columns_used": [3, 12]}
    assert init.card["motif_source"]["source"] == "jaspar" and found.motif.width == 15
    assert init.notice == (
        f"motif {found.matrix_id} (CTCF) is 15 bp wide, kernels are 10 bp (-w): its central 10 columns "
        "(3–12) initialise kernels 0/1"
    )
