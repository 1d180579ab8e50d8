"""Named single-nucleotide signal tracks (bigWig via pyBigWig).

A track's *name* (e.g. ``DNASE``, ``MAPABILITY``) is its identity across cell types: the model card
stores names in input order, and every cell type must provide the same names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyBigWig

from factornet_core.errors import FactorNetError


class TrackSet:
    """Several bigWig files opened once, read together as ``(length, n_tracks) float32``.

    Parameters
    ----------
    tracks : ordered mapping track name → bigWig path. The order is the model's input channel order.
    """

    def __init__(self, tracks: Mapping[str, str | os.PathLike]):
        self.names: list[str] = list(tracks)
        self.paths: list[Path] = [Path(p) for p in tracks.values()]
        self._handles = []
        for name, path in zip(self.names, self.paths):
            if not path.is_file():
                raise FactorNetError(f"bigWig for track {name!r}: {str(path)!r} does not exist")
            try:
                handle = pyBigWig.open(str(path))
            except RuntimeError:  # pyBigWig raises on a file that is not bigWig/bigBed at all
                handle = None
            if handle is None or not handle.isBigWig():
                raise FactorNetError(f"track {name!r}: {str(path)!r} is not a readable bigWig file")
            self._handles.append(handle)
        self.chrom_sizes: list[dict[str, int]] = [h.chroms() for h in self._handles]

    def __len__(self) -> int:
        return len(self.names)

    def check_chroms(self, chroms: Mapping[str, int]) -> None:
        """Every track must know every chromosome in ``chroms`` (name → size), with the same size."""
        for name, path, sizes in zip(self.names, self.paths, self.chrom_sizes):
            missing = [c for c in chroms if c not in sizes]
            if missing:
                hint = _naming_hint(missing[0], sizes)
                raise FactorNetError(
                    f"bigWig {path.name} (track {name!r}) lacks chromosome {missing[0]!r}"
                    f"{f' ({len(missing)} missing in all)' if len(missing) > 1 else ''}{hint}"
                )
            for chrom, size in chroms.items():
                if sizes[chrom] != size:
                    raise FactorNetError(
                        f"bigWig {path.name} (track {name!r}) gives {chrom} length {sizes[chrom]}, "
                        f"the genome says {size}: built for another assembly?"
                    )

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Signal ``(end - start, n_tracks) float32``; NaN (no data) and outside the chromosome → 0."""
        out = np.zeros((end - start, len(self._handles)), dtype=np.float32)
        for j, (handle, sizes) in enumerate(zip(self._handles, self.chrom_sizes)):
            size = sizes.get(chrom)
            if size is None:
                raise FactorNetError(f"bigWig {self.paths[j].name} lacks chromosome {chrom!r}")
            lo, hi = max(start, 0), min(end, size)
            if hi > lo:
                values = handle.values(chrom, lo, hi, numpy=True)
                out[lo - start : hi - start, j] = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        return out

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles = []

    def __enter__(self) -> TrackSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _naming_hint(chrom: str, known: Mapping[str, int]) -> str:
    """Explain the chr1-vs-1 trap when that is what happened."""
    alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
    if alt in known:
        return f"; it has {alt!r}: the files use different chromosome naming (UCSC 'chr1' vs Ensembl '1')"
    return ""
