import gzip

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from factornet_core.errors import FactorNetError
from factornet_core.expression import ExpressionPCA, read_expression


def random_tables(n_cells=12, n_genes=60, seed=0):
    rng = np.random.default_rng(seed)
    genes = [f"ENSG{i:05d}" for i in range(n_genes)]
    return {
        f"cell{c}": pd.Series(rng.lognormal(1.0, 1.5, n_genes), index=genes) for c in range(n_cells)
    }, genes


# --------------------------------------------------------------------------------------------- reading
def test_read_expression_formats(tmp_path):
    (tmp_path / "h.tsv").write_text("gene_id\tFPKM\nG1\t1.5\nG2\t0\n# comment\nG1\t2.5\n")
    s = read_expression(tmp_path / "h.tsv")
    assert s.to_dict() == {"G1": 4.0, "G2": 0.0}  # duplicates summed
    with gzip.open(tmp_path / "n.tsv.gz", "wt") as handle:
        handle.write("G1 3\nG2 4e1\n")
    assert read_expression(tmp_path / "n.tsv.gz").to_dict() == {"G1": 3.0, "G2": 40.0}
    (tmp_path / "m.tsv").write_text("gene_id\tlength\tTPM\tFPKM\nG1\t100\t7\t8\n")
    assert read_expression(tmp_path / "m.tsv", column="TPM").to_dict() == {"G1": 7.0}
    with pytest.raises(FactorNetError, match="4 columns.*name the value column"):
        read_expression(tmp_path / "m.tsv")
    with pytest.raises(FactorNetError, match=r"m\.tsv:1: no column 'RPKM'"):
        read_expression(tmp_path / "m.tsv", column="RPKM")


@pytest.mark.parametrize(
    "text,message",
    [
        ("gene\tFPKM\nG1\t1\nG2\tlots\n", r":3: expression value must be a number"),
        ("G1\t1\nG2\t-0.5\n", r":2: .*≥ 0"),
        ("G1\t1\nG2\tnan\n", r":2: .*finite"),
        ("G1\t1\nG2\t1\t2\n", r":2: expected gene id and value"),
        ("# only a comment\n", "empty expression table"),
    ],
)
def test_read_expression_errors(tmp_path, text, message):
    (tmp_path / "e.tsv").write_text(text)
    with pytest.raises(FactorNetError, match=rf"e\.tsv{message}" if message[0] == ":" else message):
        read_expression(tmp_path / "e.tsv")


# --------------------------------------------------------------------------------------------- PCA
def test_fit_matches_sklearn_up_to_sign():
    tables, genes = random_tables()
    pca = ExpressionPCA.fit(tables)
    x = np.arcsinh(np.array([tables[c].to_numpy() for c in tables]))
    ref = PCA(n_components=8, svd_solver="full").fit(x)
    ref_scores = ref.transform(x)
    assert pca.genes == genes and pca.components.shape == (8, 60) and pca.components.dtype == np.float32
    for i in range(8):
        sign = np.sign(pca.components[i] @ ref.components_[i])
        np.testing.assert_allclose(pca.components[i], sign * ref.components_[i], atol=1e-5)
        np.testing.assert_allclose(pca.scores[:, i], sign * ref_scores[:, i], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(pca.explained_variance, ref.explained_variance_, rtol=1e-5)
    np.testing.assert_allclose(pca.mean, ref.mean_, rtol=1e-6)


def test_sign_convention_and_order_independence():
    tables, _ = random_tables(seed=3)
    pca = ExpressionPCA.fit(tables)
    top = np.abs(pca.components).argmax(axis=1)
    assert (pca.components[np.arange(8), top] > 0).all()
    shuffled = ExpressionPCA.fit(dict(reversed(list(tables.items()))))
    np.testing.assert_allclose(shuffled.components, pca.components, atol=1e-5)


def test_projecting_training_cells_gives_fit_scores():
    tables, _ = random_tables(seed=1)
    pca = ExpressionPCA.fit(tables)
    for i, cell in enumerate(pca.cells):
        np.testing.assert_allclose(pca.transform(tables[cell]), pca.scores[i], rtol=1e-4, atol=1e-4)


def test_tiny_hand_example_and_new_cell():
    genes = ["g1", "g2", "g3"]
    # values chosen so that asinh gives (0, 0, 0) and (2, 0, 0): mean (1, 0, 0), one direction of variance
    tables = {
        "A": pd.Series(np.sinh([0.0, 0.0, 0.0]), genes),
        "B": pd.Series(np.sinh([2.0, 0.0, 0.0]), genes),
    }
    pca = ExpressionPCA.fit(tables)
    np.testing.assert_allclose(pca.mean, [1, 0, 0], atol=1e-7)
    np.testing.assert_allclose(pca.components[0], [1, 0, 0], atol=1e-7)
    assert not pca.components[1:].any()  # two cells span one direction: PCs 2-8 are zero
    np.testing.assert_allclose(pca.explained_variance, [2, 0, 0, 0, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(pca.scores[:, 0], [-1, 1], atol=1e-6)
    # a new cell type is projected on the stored basis: asinh → (3, 5, 1) → score 3 − 1 = 2
    new = pd.Series(np.sinh([3.0, 5.0, 1.0]), ["g1", "g2", "g3"])
    np.testing.assert_allclose(pca.transform(new), [2, 0, 0, 0, 0, 0, 0, 0], atol=1e-5)
    # a missing gene takes the training mean: g1 absent → contributes 0; g2/g3 are orthogonal to PC1
    scores, missing = pca.transform(new.drop("g1"), return_missing=True)
    assert missing == pytest.approx(1 / 3) and not scores.any()
    assert pca.missing_fraction(new.drop(["g1", "g2"])) == pytest.approx(2 / 3)
    with pytest.raises(FactorNetError, match="67% of the model's 3 expression genes are missing"):
        pca.transform(new.drop(["g1", "g2"]))


def test_gene_intersection_and_version_hint():
    tables, genes = random_tables(n_cells=4, n_genes=10)
    tables["cell0"] = tables["cell0"].drop(genes[:2])
    pca = ExpressionPCA.fit(tables)
    assert pca.genes == genes[2:]
    versioned = tables["cell1"].rename(lambda g: g + ".7")
    with pytest.raises(FactorNetError, match="version suffixes"):
        pca.transform(versioned)
    with pytest.raises(FactorNetError, match="share no gene id"):
        ExpressionPCA.fit({"a": pd.Series([1.0], ["x"]), "b": pd.Series([1.0], ["y"])})


def test_round_trip_arrays(tmp_path):
    tables, _ = random_tables(n_cells=5, seed=2)
    pca = ExpressionPCA.fit(tables)
    arrays = pca.to_arrays()
    assert arrays["genes"].dtype.kind == "U" and arrays["components"].dtype == np.float32
    np.savez(tmp_path / "pca.npz", **arrays)
    with np.load(tmp_path / "pca.npz", allow_pickle=False) as stored:
        back = ExpressionPCA.from_arrays(dict(stored))
    assert back.genes == pca.genes and back.cells == pca.cells
    for name in ("mean", "components", "explained_variance", "scores"):
        np.testing.assert_array_equal(getattr(back, name), getattr(pca, name))
    new = tables["cell0"] * 2
    np.testing.assert_array_equal(back.transform(new), pca.transform(new))
    arrays["mean"] = arrays["mean"][:-1]
    with pytest.raises(FactorNetError, match="inconsistent"):
        ExpressionPCA.from_arrays(arrays)
