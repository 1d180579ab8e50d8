"""Cell-type expression metadata: gene tables → asinh → PCA over the training cell types → 8 scores.

The PCA basis (genes, mean, components) is fitted once on the training cell types and stored in the
model; a new cell type is *projected* onto it, never refitted, so its scores live in the same space the
network was trained on.

Conventions
-----------
* Genes: the **intersection** of the training tables' genes (sorted). A gene missing from any training
  cell cannot be centred honestly, so it is left out rather than filled with 0.
* Transform: ``asinh(value)`` (≈ log(2·value) for large FPKM/TPM, linear near 0).
* Components beyond the data's rank (fewer cells than components: ``n_cells`` cells span at most
  ``n_cells - 1`` centred directions) are zero vectors and score 0.
* Sign: each component's largest-|loading| entry is positive (deterministic, data-order independent).
* Projection of a new table: genes it lacks take the training mean (they contribute 0); the fraction
  missing is reported and more than :data:`MAX_MISSING` is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from factornet_core.errors import FactorNetError
from factornet_core.textio import is_number, read_text_lines
from factornet_core.wording import plural

N_COMPONENTS = 8
MAX_MISSING = 0.5


# --------------------------------------------------------------------------------------------- reading
def read_expression(path: str | os.PathLike, column: str | None = None) -> pd.Series:
    """Read a gene expression table (plain or gz) → ``Series`` gene id → value (float64, FPKM/TPM).

    Tab- or whitespace-separated; the first column is the gene id. Either two columns (gene, value),
    with or without a header line, or — with ``column`` naming it — any table with a header. A header is
    recognised by a non-numeric second field on the first line. ``#`` lines are skipped. Values must be
    finite and ≥ 0 (raw FPKM/TPM, not logs). Rows of the same gene are **summed** (e.g. a table keyed
    by gene name, where several ids share one name).
    """
    lines = [(n, line) for n, line in enumerate(read_text_lines(path), 1) if line.strip() and line[0] != "#"]
    if not lines:
        raise FactorNetError(f"{path}: empty expression table")

    def split(line: str) -> list[str]:
        return line.split("\t") if "\t" in line else line.split()

    first = split(lines[0][1])
    header = len(first) < 2 or not is_number(first[1])
    value_col = 1
    if header:
        names = first
        header_line = lines[0][0]
        lines = lines[1:]
        if column is not None:
            if column not in names[1:]:
                raise FactorNetError(
                    f"{path}:{header_line}: no column {column!r} in the header (columns: {', '.join(names)})"
                )
            value_col = names.index(column)
        elif len(names) != 2:
            raise FactorNetError(
                f"{path}: expression table has {plural(len(names), 'column')} ({', '.join(names)}); "
                "expected 'gene<TAB>value', or name the value column to use"
            )
    elif column is not None:
        raise FactorNetError(f"{path}: no header line, so column {column!r} cannot be chosen")
    genes: list[str] = []
    values: list[float] = []
    for lineno, line in lines:
        fields = split(line)
        if len(fields) <= value_col or (not header and len(fields) != 2):
            raise FactorNetError(
                f"{path}:{lineno}: expected gene id and value, got {plural(len(fields), 'column')}"
            )
        try:
            value = float(fields[value_col])
        except ValueError:
            raise FactorNetError(
                f"{path}:{lineno}: expression value must be a number, got {fields[value_col]!r}"
            ) from None
        if not np.isfinite(value) or value < 0:
            raise FactorNetError(
                f"{path}:{lineno}: expression value must be finite and ≥ 0 (FPKM/TPM, not log), got {value}"
            )
        genes.append(fields[0])
        values.append(value)
    if not genes:
        raise FactorNetError(f"{path}: no genes in expression table")
    series = pd.Series(values, index=pd.Index(genes, dtype=object), dtype=np.float64)
    if not series.index.is_unique:
        series = series.groupby(level=0, sort=False).sum()
    series.index.name = "gene"
    return series


# --------------------------------------------------------------------------------------------- PCA
@dataclass
class ExpressionPCA:
    """Fitted PCA basis of asinh expression.

    Attributes
    ----------
    genes : list of str, (n_genes,) — the basis's gene order.
    mean : (n_genes,) float32 — mean asinh expression over the training cell types.
    components : (n_components, n_genes) float32 — orthonormal rows (zero rows beyond the rank).
    explained_variance : (n_components,) float32 — variance of the training scores per component
        (``S² / (n_cells - 1)``, as scikit-learn).
    cells : training cell types, in the order of ``scores``.
    scores : (n_cells, n_components) float32 — the training cell types' scores.
    """

    genes: list[str]
    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    cells: list[str] = field(default_factory=list)
    scores: np.ndarray | None = None

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    @classmethod
    def fit(cls, tables: Mapping[str, pd.Series], n_components: int = N_COMPONENTS) -> ExpressionPCA:
        """Fit on ``{training cell type: gene → value}`` (raw FPKM/TPM; asinh is applied here)."""
        if not tables:
            raise FactorNetError(
                "expression PCA needs at least one training cell type with an expression table"
            )
        if n_components < 1:
            raise FactorNetError(f"number of expression components must be ≥ 1, got {n_components}")
        cells = list(tables)
        common = set(tables[cells[0]].index)
        for cell in cells[1:]:
            common &= set(tables[cell].index)
        if not common:
            raise FactorNetError(
                f"the expression tables of {', '.join(cells)} share no gene id (different gene id types?)"
            )
        genes = sorted(common)
        x = np.asarray([np.arcsinh(tables[cell].reindex(genes).to_numpy(np.float64)) for cell in cells])
        mean = x.mean(axis=0)
        u, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        rank = int(np.sum(s > s.max(initial=0.0) * max(x.shape) * np.finfo(np.float64).eps))
        k = min(n_components, rank)
        comps = np.zeros((n_components, len(genes)))
        comps[:k] = vt[:k]
        top = np.argmax(np.abs(comps[:k]), axis=1)
        signs = np.sign(comps[np.arange(k), top])
        comps[:k] *= signs[:, None]
        scores = np.zeros((len(cells), n_components))
        scores[:, :k] = u[:, :k] * s[:k] * signs
        var = np.zeros(n_components)
        if len(cells) > 1:
            var[:k] = s[:k] ** 2 / (len(cells) - 1)
        return cls(
            genes=genes,
            mean=mean.astype(np.float32),
            components=comps.astype(np.float32),
            explained_variance=var.astype(np.float32),
            cells=cells,
            scores=scores.astype(np.float32),
        )

    def missing_fraction(self, table: pd.Series) -> float:
        """Fraction of the basis's genes absent from ``table``."""
        return float(1.0 - pd.Index(self.genes).isin(table.index).mean()) if self.genes else 1.0

    def transform(
        self, table: pd.Series, return_missing: bool = False, max_missing: float = MAX_MISSING
    ) -> np.ndarray | tuple[np.ndarray, float]:
        """Project one cell type's table (gene → raw value) → ``(n_components,) float32`` scores.

        Genes absent from ``table`` take the training mean (contribute 0); extra genes are ignored.
        With ``return_missing`` the fraction of missing basis genes is returned too. More than
        ``max_missing`` missing is a :class:`FactorNetError` (wrong gene id type or annotation version).
        """
        if not table.index.is_unique:
            table = table.groupby(level=0, sort=False).sum()
        aligned = table.reindex(self.genes).to_numpy(np.float64)
        present = ~np.isnan(aligned)
        missing = 1.0 - float(present.mean()) if aligned.size else 1.0
        if missing > max_missing:
            hint = ""
            if _strip_versions(table.index).isin(_strip_versions(self.genes)).mean() > 1 - max_missing:
                hint = " (the ids match without their '.N' version suffixes: use the model's GENCODE version)"
            raise FactorNetError(
                f"{missing:.0%} of the model's {len(self.genes)} expression genes are missing from this "
                f"table (at most {max_missing:.0%} allowed); example model gene ids: "
                f"{', '.join(self.genes[:3])}{hint}"
            )
        x = np.where(present, np.arcsinh(np.where(present, aligned, 0.0)), self.mean.astype(np.float64))
        scores = (self.components.astype(np.float64) @ (x - self.mean)).astype(np.float32)
        return (scores, missing) if return_missing else scores

    # ----------------------------------------------------------------------------------------- storage
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for the model file (no pickle: strings as fixed-width unicode)."""
        out = {
            "genes": np.asarray(self.genes, dtype=np.str_),
            "mean": np.asarray(self.mean, dtype=np.float32),
            "components": np.asarray(self.components, dtype=np.float32),
            "explained_variance": np.asarray(self.explained_variance, dtype=np.float32),
            "cells": np.asarray(self.cells, dtype=np.str_),
        }
        if self.scores is not None:
            out["scores"] = np.asarray(self.scores, dtype=np.float32)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ExpressionPCA:
        """Inverse of :meth:`to_arrays`; shape mismatches are a :class:`FactorNetError` (damaged model)."""
        missing = [k for k in ("genes", "mean", "components", "explained_variance") if k not in arrays]
        if missing:
            raise FactorNetError(f"expression PCA in the model lacks {', '.join(missing)}")
        genes = [str(g) for g in np.asarray(arrays["genes"]).reshape(-1)]
        mean = np.asarray(arrays["mean"], dtype=np.float32)
        comps = np.asarray(arrays["components"], dtype=np.float32)
        var = np.asarray(arrays["explained_variance"], dtype=np.float32)
        cells = [str(c) for c in np.asarray(arrays.get("cells", np.zeros(0, np.str_))).reshape(-1)]
        scores = arrays.get("scores")
        scores = None if scores is None else np.asarray(scores, dtype=np.float32)
        n = len(genes)
        if (
            mean.shape != (n,)
            or comps.ndim != 2
            or comps.shape[1] != n
            or var.shape != (comps.shape[0],)
            or (scores is not None and scores.shape != (len(cells), comps.shape[0]))
        ):
            raise FactorNetError(
                f"expression PCA in the model is inconsistent: {plural(n, 'gene')}, mean {mean.shape}, "
                f"components {comps.shape}, explained variance {var.shape}"
            )
        return cls(
            genes=genes, mean=mean, components=comps, explained_variance=var, cells=cells, scores=scores
        )


def _strip_versions(ids) -> pd.Index:
    return pd.Index([str(g).split(".", 1)[0] for g in ids])
