"""Batches for Keras from a sampling :class:`~factornet_core.sampling.Plan` (a ``keras.utils.PyDataset``).

Batch ``i`` is a pure function of the plan, so loader threads can build batches in any order while
Keras consumes them in order: training stays deterministic with several workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from factornet_core.sampling import Plan
from factornet_core.windows import WindowReader


class MetaBuilder:
    """The metadata vector of a bin: cell-level expression PCs, then bin-level annotation flags."""

    def __init__(self, cell_vectors: Sequence[np.ndarray] | None, annotator=None, bin_size: int = 200):
        self.cell_vectors = (
            None if cell_vectors is None else [np.asarray(v, np.float32) for v in cell_vectors]
        )
        self.annotator = annotator
        self.bin_size = bin_size

    @property
    def size(self) -> int:
        n = 0 if self.cell_vectors is None else self.cell_vectors[0].size
        return n + (6 if self.annotator is not None else 0)

    def build(self, cell: np.ndarray, chrom: np.ndarray, start: np.ndarray) -> np.ndarray:
        """``(n, size) float32`` for bins given by cell index, chromosome and bin start."""
        parts = []
        if self.cell_vectors is not None:
            parts.append(np.stack([self.cell_vectors[c] for c in cell]) if cell.size else np.zeros((0, 0)))
        if self.annotator is not None:
            parts.append(self.annotator.annotate_arrays(chrom, start, start + self.bin_size))
        return np.concatenate(parts, axis=1).astype(np.float32)


def plan_inputs(
    plan: Plan, readers: Sequence[WindowReader], meta: MetaBuilder | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Model inputs for every sample of ``plan``: ``x (n, L, C)`` and ``meta (n, n_meta)`` or None."""
    x = np.empty((len(plan), readers[0].seq_len, readers[0].n_channels), dtype=np.float32)
    for ci in np.unique(plan.cell):
        idx = np.flatnonzero(plan.cell == ci)
        x[idx] = readers[ci].batch(plan.chrom[idx], plan.start[idx])
    m = meta.build(plan.cell, plan.chrom, plan.start) if meta is not None and meta.size else None
    return x, m


class PlanDataset(keras.utils.PyDataset):
    """Keras batches ``(inputs, targets)`` over a plan; ``workers`` threads read files in parallel."""

    def __init__(
        self,
        plan: Plan,
        readers: Sequence[WindowReader],
        meta: MetaBuilder | None,
        batch_size: int = 100,
        workers: int = 1,
        with_targets: bool = True,
    ):
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=8)
        self.plan, self.readers, self.meta = plan, list(readers), meta
        self.batch_size, self.with_targets = batch_size, with_targets

    def __len__(self) -> int:
        return (len(self.plan) + self.batch_size - 1) // self.batch_size

    def __getitem__(self, i: int):
        part = self.plan.take(np.arange(i * self.batch_size, min((i + 1) * self.batch_size, len(self.plan))))
        x, m = plan_inputs(part, self.readers, self.meta)
        inputs = (x, m) if m is not None else x
        return (inputs, part.y) if self.with_targets else (inputs,)
