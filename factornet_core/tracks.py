"""Named single-nucleotide signal tracks: the one bigWig reader (:class:`TrackSet`) and writer
(:class:`BigWigWriter`), via pyBigWig.

A track's *name* (e.g. ``DNASE``, ``MAPABILITY``) is its identity across cell types: the model card
stores names in input order, and every cell type must provide the same names.

:meth:`TrackSet.read` is also the ONE place where a model card's per-track normalisation
(:mod:`factornet_core.tracknorm`) is applied, so training and prediction cannot scale differently.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyBigWig

from factornet_core import normalize
from factornet_core.capture import captured_stderr
from factornet_core.errors import FactorNetError
from factornet_core.intervals import naming_hint


class TrackSet:
    """Several bigWig files opened once, read together as ``(length, n_tracks) float32``.

    Parameters
    ----------
    tracks : ordered mapping track name → bigWig path. The order is the model's input channel order.
    rules : track name → normalisation rule (``none``, ``1x``, ``minmax[:P]``, see
        :mod:`factornet_core.tracknorm`); tracks not named are read raw. With any rule other than
        ``none``, :meth:`fix_scales` must fix the scale factors before the first :meth:`read`.
    """

    def __init__(self, tracks: Mapping[str, str | os.PathLike], rules: Mapping[str, str] | None = None):
        self.names: list[str] = list(tracks)
        self.paths: list[Path] = [Path(p) for p in tracks.values()]
        rules = dict(rules or {})
        self.rules: list[str] = [normalize.canonical_rule(rules.get(n, "none")) for n in self.names]
        # per track: the Normalization applied by read (None: raw values)
        self.norms: list[normalize.Normalization | None] = [None] * len(self.names)
        self._scaled = all(r == "none" for r in self.rules)
        self._handles = []
        try:
            for name, path in zip(self.names, self.paths):
                self._handles.append(open_bigwig(path, f"track {name!r}"))
        except BaseException:
            self.close()
            raise
        self.chrom_sizes: list[dict[str, int]] = [h.chroms() for h in self._handles]

    def __len__(self) -> int:
        return len(self.names)

    def check_chroms(self, chroms: Mapping[str, int]) -> None:
        """Every track must know every chromosome in ``chroms`` (name → size), with the same size."""
        for name, path, sizes in zip(self.names, self.paths, self.chrom_sizes):
            missing = [c for c in chroms if c not in sizes]
            if missing:
                hint = naming_hint(missing, sizes, "the bigWig")
                raise FactorNetError(
                    f"bigWig {path.name} (track {name!r}) lacks chromosome {missing[0]!r}"
                    f"{f' ({len(missing)} missing in all)' if len(missing) > 1 else ''}{'; ' + hint if hint else ''}"
                )
            for chrom, size in chroms.items():
                if sizes[chrom] != size:
                    raise FactorNetError(
                        f"bigWig {path.name} (track {name!r}) gives {chrom} length {sizes[chrom]}, "
                        f"the genome says {size}: built for another assembly?"
                    )

    def fix_scales(self, genome) -> dict[str, normalize.Normalization]:
        """Fix each track's scale factor from its own bigWig over every chromosome it shares with
        ``genome`` (a :class:`factornet_core.genome.Genome`), whatever chromosomes are read later
        (:func:`factornet_core.tracknorm.cell_normalization`), so sharded runs scale as one run.

        Returns
        -------
        track name → the :class:`~factornet_core.normalize.Normalization` now applied by :meth:`read`
        (tracks with rule ``none`` are left out).

        Raises
        ------
        FactorNetError
            A shared chromosome of another length, no shared chromosome, or no signal to scale.
        """
        from factornet_core import tracknorm

        out = {}
        for j, (name, path, rule) in enumerate(zip(self.names, self.paths, self.rules)):
            if rule == "none":
                self.norms[j] = None
                continue
            self.norms[j] = out[name] = tracknorm.cell_normalization(
                path, rule, genome, self.chrom_sizes[j], name
            )
        self._scaled = True
        return out

    def check_range(self, limit: float | None = None, why: str = "") -> None:
        """Refuse, before any work, a track whose values the model cannot take (zoom-level minimum and
        maximum, see :func:`value_range`): infinite values, negative values, and with ``limit`` a
        largest absolute value above it (e.g. float16's 65 504 under ``--mixed-precision``; ``why`` says so).

        Signal tracks are non-negative by the contract (cut-site counts, mapability); a negative value
        means a log-ratio or a damaged track, which the model was not trained on.
        """
        for name, path, handle in zip(self.names, self.paths, self._handles):
            check_value_range(handle, f"track {name!r} ({path.name})", limit, why)

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Signal ``(end - start, n_tracks) float32``; NaN (no data) and outside the chromosome → 0.

        Tracks with a normalisation rule come out as :func:`factornet_core.normalize.apply` of the raw
        values (scaled, and clipped for ``minmax``).
        """
        if not self._scaled:
            raise RuntimeError(
                "TrackSet.read before TrackSet.fix_scales: the scale factors are not fixed yet"
            )
        out = np.zeros((end - start, len(self._handles)), dtype=np.float32)
        for j, (handle, sizes) in enumerate(zip(self._handles, self.chrom_sizes)):
            size = sizes.get(chrom)
            if size is None:
                hint = naming_hint([chrom], sizes, "the bigWig")
                raise FactorNetError(
                    f"bigWig {self.paths[j].name} lacks chromosome {chrom!r}{'; ' + hint if hint else ''}"
                )
            lo, hi = max(start, 0), min(end, size)
            raw = handle.values(chrom, lo, hi, numpy=True) if hi > lo else None
            # a bigWig without any data has no index, and pyBigWig gives no values at all: zeros
            if raw is not None and raw.size:
                values = np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0)
                norm = self.norms[j]
                out[lo - start : hi - start, j] = values if norm is None else normalize.apply(values, norm)
        return out

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles = []

    def __enter__(self) -> TrackSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_bigwig(path: str | os.PathLike, what: str = "signal"):
    """Open a bigWig for reading; a missing, empty, truncated, damaged or non-bigWig file → one
    FactorNetError in the user's terms.

    The header is checked against the file size first (:func:`check_bigwig_header`): libBigWig
    follows the header's offsets without bounds checks, and a file cut inside its first structures
    crashes the process (segmentation fault) instead of failing. libBigWig's own lines
    (``[bwOpen] ...``) are captured (:mod:`factornet_core.capture`) and dropped: they name its
    internals, not the problem.
    """
    path = Path(path)
    if path.is_dir():
        raise FactorNetError(f"bigWig for {what}: {str(path)!r} is a folder, not a bigWig file")
    if not path.is_file():
        raise FactorNetError(f"bigWig for {what}: {str(path)!r} does not exist")
    check_bigwig_header(path, what)
    with captured_stderr():
        try:
            handle = pyBigWig.open(str(path))
        except RuntimeError:  # pyBigWig raises on a file that is not bigWig/bigBed at all
            handle = None
    if handle is not None and handle.isBigWig():
        return handle
    if handle is not None:
        handle.close()
    raise FactorNetError(
        f"{what}: {str(path)!r} is a damaged bigWig: its header is complete but its chromosome list or "
        "index cannot be read; write the file again"
    )


# bigWig layout (UCSC "bigWig and bigBed file formats", little-endian as libBigWig reads it)
BIGWIG_MAGIC = 0x888FFC26
BIGBED_MAGIC = 0x8789F2EB
_HEADER = struct.Struct("<IHHQQQHHQQIQ")  # 64 bytes: magic ... extensionOffset
_ZOOM = struct.Struct("<IIQQ")  # 24 bytes: reductionLevel, reserved, dataOffset, indexOffset
_CHROM_TREE = struct.Struct("<IIIIQQ")  # 32 bytes: magic, blockSize, keySize, valSize, itemCount, reserved
_RTREE = 48  # R-tree index header bytes
_NODE = struct.Struct("<BBH")  # node header: isLeaf, reserved, count
_SUMMARY = 40  # total summary: basesCovered, min, max, sum, sum of squares
_EXTENSION = 64  # extension header


def check_bigwig_header(path: str | os.PathLike, what: str = "signal") -> None:
    """Refuse a file whose bigWig header does not fit the file, before libBigWig reads it.

    Checked: the 64-byte header and its magic number, the ``zoomLevels`` × 24-byte zoom headers,
    and that every structure the header points to (chromosome B+ tree with its root node, data,
    full and zoom R-tree indexes with their root nodes, total summary, autoSql, extension) lies
    inside the file (these are what libBigWig reads on opening and for zoom-level statistics), and
    that the file ends with the magic number, as the format requires (UCSC's ``bigWigFileCheckSigs``):
    a file cut anywhere lacks it.

    Raises
    ------
    FactorNetError
        empty file; not a bigWig (bigBed, big-endian bigWig, anything else); truncated (an offset
        or structure past the end of the file).
    """
    path = Path(path)
    size = path.stat().st_size
    name = f"{what}: {str(path)!r}"
    if size == 0:
        raise FactorNetError(f"{name} is an empty file, not a bigWig: write or copy it again")
    with open(path, "rb") as fh:
        head = fh.read(_HEADER.size)
        magic = int.from_bytes(head[:4].ljust(4, b"\0"), "little")
        if len(head) >= 4 and magic != BIGWIG_MAGIC:
            raise FactorNetError(f"{name} is {_not_bigwig(head, magic)}")
        if len(head) < _HEADER.size:
            _truncated(name, "64-byte header", _HEADER.size, size)
        fields = _HEADER.unpack(head)
        zooms, chrom_tree, data, index = fields[2:6]
        if chrom_tree == 0 or data == 0:  # a writer stopped before filling in its header
            _truncated(name, "chromosome list" if chrom_tree == 0 else "data", 0, size)
        _within(name, f"{zooms} zoom headers", _HEADER.size + zooms * _ZOOM.size, size)
        parts = {"chromosome list": (chrom_tree, _CHROM_TREE.size), "data": (data, 4)}
        # optional parts: offset 0 means absent (an index too, in a bigWig without data)
        optional = {"index": (index, _RTREE), "autoSql": (fields[8], 1), "summary": (fields[9], _SUMMARY)}
        optional["extension"] = (fields[11], _EXTENSION)
        for level in range(1, zooms + 1):
            _, _, zdata, zindex = _ZOOM.unpack(fh.read(_ZOOM.size))
            optional[f"zoom level {level} data"] = (zdata, 4)
            optional[f"zoom level {level} index"] = (zindex, _RTREE)
        parts.update({part: where for part, where in optional.items() if where[0]})
        for part, (offset, length) in parts.items():
            _within(name, part, offset + length, size)
        fh.seek(chrom_tree)
        key_size = _CHROM_TREE.unpack(fh.read(_CHROM_TREE.size))[2]
        _check_node(fh, name, "chromosome list", chrom_tree + _CHROM_TREE.size, key_size + 8, size)
        for part, (offset, _) in parts.items():
            if part.endswith("index"):  # R-tree items: 32 bytes in a leaf, 24 in an inner node
                _check_node(fh, name, part, offset + _RTREE, None, size)
        fh.seek(size - 4)
        if int.from_bytes(fh.read(4), "little") != BIGWIG_MAGIC:
            raise FactorNetError(
                f"{name} is not a complete bigWig (truncated?): it lacks the end marker every bigWig "
                f"ends with ({size:,} bytes); copy or write it again"
            )


def _check_node(fh, name: str, part: str, offset: int, item: int | None, size: int) -> None:
    """The tree node at ``offset`` (4-byte header + count items of ``item`` bytes, or R-tree items
    when ``item`` is None) must end inside the file."""
    _within(name, part, offset + _NODE.size, size)
    fh.seek(offset)
    leaf, _, count = _NODE.unpack(fh.read(_NODE.size))
    width = item if item is not None else (32 if leaf else 24)
    _within(name, part, offset + _NODE.size + count * width, size)


def _within(name: str, part: str, end: int, size: int) -> None:
    """``part`` of the file, ending at byte ``end``, must fit in ``size`` bytes."""
    if end > size:
        _truncated(name, part, end, size)


def _truncated(name: str, part: str, end: int, size: int):
    where = "is missing from its header" if end == 0 else f"would end at byte {end:,}"
    raise FactorNetError(
        f"{name} is not a complete bigWig (truncated?): its {part} {where}, but the file has "
        f"{size:,} bytes; copy or write it again"
    )


def _not_bigwig(head: bytes, magic: int) -> str:
    """What a file that does not start with the bigWig magic number is, in a user's words."""
    if magic == BIGBED_MAGIC or int.from_bytes(head[:4], "big") == BIGBED_MAGIC:
        return "a bigBed (intervals), not a bigWig (signal): give the signal track as bigWig"
    if int.from_bytes(head[:4], "big") == BIGWIG_MAGIC:
        return (
            "a big-endian bigWig, which pyBigWig cannot read: convert it to bedGraph and back "
            "(bigWigToBedGraph, bedGraphToBigWig) on this machine"
        )
    if head[:2] == b"\x1f\x8b":
        return "gzip-compressed, not a bigWig: give the bigWig itself"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "text, not a bigWig (a bedGraph or wig?): convert it with bedGraphToBigWig or wigToBigWig"
    return "not a bigWig file (it does not start with the bigWig signature): is it another format?"


def value_range(handle) -> tuple[float, float] | None:
    """Smallest and largest value of an open bigWig, or None when it holds no data.

    Read per chromosome from the zoom levels (a few small reads; no base-level data). The file's own
    summary via ``header()`` is not used: pyBigWig returns it as integers (-2.5 → -2) and crashes on an
    infinite value.
    """
    lows, highs = [], []
    for chrom in handle.chroms():
        hi, lo = handle.stats(chrom, type="max")[0], handle.stats(chrom, type="min")[0]
        if hi is not None and lo is not None:
            lows.append(lo)
            highs.append(hi)
    return (min(lows), max(highs)) if lows else None


def check_value_range(handle, what: str, limit: float | None = None, why: str = "") -> None:
    """The numeric-range rule of :meth:`TrackSet.check_range` on an open bigWig."""
    found = value_range(handle)
    if found is None:
        return
    lo, hi = found
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise FactorNetError(f"{what} holds non-finite values (min {lo}, max {hi}): rewrite the track")
    if lo < 0:
        raise FactorNetError(
            f"{what} holds negative values (min {lo:g}): signal tracks must be non-negative "
            "(cut-site counts, coverage, mapability), not log-ratios"
        )
    if limit is not None and max(abs(lo), abs(hi)) > limit:
        raise FactorNetError(
            f"{what} reaches {max(abs(lo), abs(hi)):g}, above {limit:g}{' ' + why if why else ''}: "
            "normalise the track (factornet prepare writes 1x-coverage units)"
        )


#: Bases read at a time by :func:`tile_means` (float32 values: 16 MB per block).
TILE_BLOCK_BP = 4_000_000


def tile_means(
    bigwig: str | os.PathLike, chroms: Sequence[str], sizes: Mapping[str, int], tile: int
) -> dict[str, np.ndarray]:
    """Mean signal of consecutive ``tile``-bp tiles from position 0, per chromosome (``float64``).

    The mean is over *all* bases of the tile, a base without data counting as 0, exactly as the model reads
    the track (:meth:`TrackSet.read`): a tile with one stray read of 50 has mean 50 / tile, below a tile
    open end to end at 5. (bigWig zoom-level means average over covered bases only, so they are not
    used; they are also slow, one query per tile.) Read at base resolution in blocks of
    :data:`TILE_BLOCK_BP`; a chromosome shorter than one tile is left out.
    """
    handle = open_bigwig(bigwig)
    try:
        refs = handle.chroms()
        block = max(1, TILE_BLOCK_BP // tile) * tile
        out = {}
        for chrom in chroms:
            n = sizes[chrom] // tile
            if n == 0:
                continue
            means = np.zeros(n, dtype=np.float64)
            size = refs.get(chrom, 0)
            for lo in range(0, min(n * tile, size), block):
                hi = min(lo + block, n * tile)
                values = np.zeros(hi - lo, dtype=np.float32)
                top = min(hi, size)
                values[: top - lo] = handle.values(chrom, lo, top, numpy=True)
                values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
                means[lo // tile : hi // tile] = values.reshape(-1, tile).mean(axis=1, dtype=np.float64)
            out[chrom] = means
        return out
    finally:
        handle.close()


# --------------------------------------------------------------------------------------------- writing
def run_lengths(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal values: ``(starts, ends, run values)``, ends exclusive, covering ``values`` in order."""
    values = np.asarray(values)
    if values.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, values[:0]
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    ends = np.concatenate([change, [values.size]]).astype(np.int64)
    return starts, ends, values[starts]


class BigWigWriter:
    """The one bigWig writer: a header of chromosome sizes, then intervals chromosome by chromosome.

    pyBigWig requires entries in header chromosome order, sorted and non-overlapping within a
    chromosome; :meth:`add_intervals` sends them in slices of ``chunk`` so the Python lists stay small.

    Parameters
    ----------
    path : output ``.bw`` path (callers make it atomic, see :mod:`factornet_core.atomic`).
    chrom_sizes : ordered chromosome name → length (bp); the order is the file's chromosome order.
    """

    def __init__(self, path: str | os.PathLike, chrom_sizes: Mapping[str, int], chunk: int = 1_000_000):
        self.chunk = chunk
        self._handle = pyBigWig.open(str(path), "w")
        if self._handle is None:
            raise FactorNetError(f"cannot write bigWig {str(path)!r}")
        self._handle.addHeader([(c, int(n)) for c, n in chrom_sizes.items()], maxZooms=10)

    def add_intervals(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        """Add ``[start, end)`` intervals with ``values`` (sorted, disjoint; bp, float)."""
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        for lo in range(0, starts.size, self.chunk):
            hi = lo + self.chunk
            self._handle.addEntries(
                [chrom] * starts[lo:hi].size,
                starts[lo:hi].tolist(),
                ends=ends[lo:hi].tolist(),
                values=values[lo:hi].tolist(),
            )

    def add_signal(self, chrom: str, signal: np.ndarray, skip_zeros: bool = False) -> None:
        """Add a per-base signal ``(chrom length,)`` as runs of equal ``float32`` values.

        ``skip_zeros`` leaves zero runs out (no data reads as 0 in :class:`TrackSet`), which keeps
        sparse count tracks small.
        """
        starts, ends, vals = run_lengths(np.asarray(signal, dtype=np.float32))
        if skip_zeros:
            keep = vals != 0
            starts, ends, vals = starts[keep], ends[keep], vals[keep]
        self.add_intervals(chrom, starts, ends, vals)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> BigWigWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_bigwig(
    path: str | os.PathLike,
    chrom_sizes: Mapping[str, int],
    signals: Mapping[str, np.ndarray],
    skip_zeros: bool = False,
) -> None:
    """Per-base signal per chromosome (``{chrom: (length,) array}``) → bigWig (see :class:`BigWigWriter`)."""
    with BigWigWriter(path, chrom_sizes) as writer:
        for chrom in chrom_sizes:
            writer.add_signal(chrom, signals[chrom], skip_zeros=skip_zeros)
