"""Bagging: combine the predictions of several models for the same bins.

:func:`rank_average` is FactorNet's ensemble rule (as in the ENCODE-DREAM submissions): each model's
scores become ranks scaled to [0, 1], and the scaled ranks are averaged, so models with different
score calibrations weigh equally. :func:`mean_average` is the plain mean.
:func:`bag_prediction_files` is the file-level workflow behind ``factornet bag``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from factornet_core.errors import FactorNetError
from factornet_core.scores import align_tf_columns, first_bin_difference, read_predictions, write_predictions
from factornet_core.wording import plural

METHODS = ("rank", "mean")


def _stack(matrices: Sequence[np.ndarray]) -> np.ndarray:
    if len(matrices) == 0:
        raise ValueError("no score arrays to combine")
    arrays = [np.asarray(m, dtype=np.float64) for m in matrices]
    shape = arrays[0].shape
    if arrays[0].ndim not in (1, 2) or any(a.shape != shape for a in arrays):
        raise ValueError(
            f"score arrays must all be (n,) or (n, T) of one shape, got {[a.shape for a in arrays]}"
        )
    return np.stack(arrays)


def scaled_ranks(scores: np.ndarray) -> np.ndarray:
    """``(rank − 1) / (n − 1)`` per column, ties sharing their average rank; ``(n,)`` or ``(n, T)``.

    The lowest score maps to 0, the highest to 1; a single bin (n = 1) maps to 0.5.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    if n <= 1:
        return np.full(scores.shape, 0.5)
    return (rankdata(scores, method="average", axis=0) - 1) / (n - 1)


def rank_average(matrices: Sequence[np.ndarray]) -> np.ndarray:
    """FactorNet's ensemble rule: the mean over models of their :func:`scaled_ranks`.

    Each model's scores become ranks scaled to [0, 1] per TF column, so models with different score
    calibrations weigh equally (as in the ENCODE-DREAM submissions of Quang & Xie 2019).

    Parameters
    ----------
    matrices : one score array per model, each ``(n_bins,)`` or ``(n_bins, n_tfs)``, same shape,
        scores in any monotone scale (probabilities in [0, 1] for FactorNet models).

    Returns
    -------
    np.ndarray
        float64 of the inputs' shape, values in [0, 1]; ties share their average rank.

    Raises
    ------
    ValueError
        No arrays, or arrays of different shapes or of more than two dimensions.
    """
    stacked = _stack(matrices)
    return np.mean([scaled_ranks(m) for m in stacked], axis=0)


def mean_average(matrices: Sequence[np.ndarray]) -> np.ndarray:
    """Element-wise mean over models; same shape as each input."""
    return _stack(matrices).mean(axis=0)


def bag_prediction_files(
    paths: Sequence[str | os.PathLike], out: str | os.PathLike, method: str = "rank"
) -> int:
    """``factornet bag``: combine prediction files over the same bins and TFs into one file.

    Parameters
    ----------
    paths : two or more prediction files (TSV(.gz), header ``chr start stop <TF>...`` or the DREAM
        layout), scores in [0, 1]; bins (chrom/start/end) identical and in the same order in all;
        the same TF set (column order may differ: columns are matched by name).
    out : prediction file to write (``.gz`` compresses), bins and TF columns of the first file,
        written atomically.
    method : ``"rank"`` (:func:`rank_average`, FactorNet's ensemble rule) or ``"mean"``
        (:func:`mean_average`).

    Returns
    -------
    int
        Number of bins (rows) written.

    Raises
    ------
    FactorNetError
        An unknown method, fewer than two files, a file that is not a valid prediction file
        (:func:`~factornet_core.scores.read_predictions`), bins differing from the first file's
        (naming the file and the first differing row), a different TF set. Nothing is written.
    """
    if method not in METHODS:
        raise FactorNetError(f"unknown bagging method {method!r} (choose from {', '.join(METHODS)})")
    if len(paths) < 2:
        raise FactorNetError("bagging needs at least two prediction files")
    bins, first = read_predictions(paths[0])
    names = list(first.columns)
    matrices = [first.to_numpy()]
    for path in paths[1:]:
        other_bins, scores = read_predictions(path)
        row = first_bin_difference(bins, other_bins)
        if row is not None:
            where = (
                f"row {row + 1}: {_bin(other_bins, row)} vs {_bin(bins, row)} in {paths[0]}"
                if row < min(len(bins), len(other_bins))
                else f"it has {plural(len(other_bins), 'bin')}, {paths[0]} has {len(bins)}"
            )
            raise FactorNetError(
                f"{path}: bins differ from {paths[0]} at {where}: bag only predictions over the same bins"
            )
        matrices.append(align_tf_columns(names, scores, path).to_numpy())
    combined = rank_average(matrices) if method == "rank" else mean_average(matrices)
    write_predictions(out, bins, combined.astype(np.float32), tf_names=names)
    return len(bins)


def _bin(bins, row: int) -> str:
    r = bins.iloc[row]
    return f"{r.chrom}:{r.start}-{r.end}"
