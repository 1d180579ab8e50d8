"""A model applied to one cell type: the card checked against the inputs, then windows + metadata.

Everything that runs a model on a cell type (``predict``, ``interpret motifs``, ``interpret
saliency``, later ``impute``) starts here, so each check is written once and runs *before* any work
(CONTRACT: "chromosome names are checked across genome, tracks, peaks and model before any work").

Two halves, so that several models can share one cell type's data (``impute`` reads each window once
and feeds every model with the same input layout):

* :class:`CellType` — paths only: genome, named tracks, expression table / metadata values,
  annotation features. Independent of any model.
* :class:`CellData` — the genome and tracks opened, tracks in a given channel order, serving
  ``(n, seq_len, 4 + n_tracks)`` windows through :class:`factornet_core.windows.WindowReader`.
* :class:`Metadata` — one model's metadata vector for the cell type (paper §"Model inputs":
  expression PCs of the cell type, then six annotation flags of each bin).
* :class:`CellInputs` — a model file + its card + :class:`CellData` + :class:`Metadata`, opened by
  :meth:`CellInputs.open` after :func:`check_card` and :func:`check_genome`. The Keras model
  itself is loaded (safe mode, :func:`factornet_core.modelfile.load_model`) on first use, so callers
  can finish their own cheap checks first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from factornet_core import intervals
from factornet_core.card import ModelCard
from factornet_core.errors import FactorNetError
from factornet_core.textio import is_number

PathLike = str | os.PathLike


@dataclass(frozen=True)
class CellType:
    """One cell type's inputs, as paths (nothing is opened).

    Attributes
    ----------
    genome : FASTA (plain or bgzip).
    tracks : track name → bigWig; names are matched to a model card's ``track_names`` (any order).
    expression : gene expression table (models with expression PCs and a PCA basis).
    meta_values : the cell type's metadata values, one a line (models imported from the original
        FactorNet with ``meta``: their PCs have no stored basis).
    annotations : the six bin features (:func:`factornet_core.annotations.features_from_gtf` or
        ``features_from_beds``), for models trained with ``-g``.
    """

    genome: PathLike
    tracks: Mapping[str, PathLike]
    expression: PathLike | None = None
    meta_values: PathLike | None = None
    annotations: Mapping | None = field(default=None, hash=False)


# ------------------------------------------------------------------------------ card ↔ input checks
def check_card(card: ModelCard, cell: CellType, metadata: bool = True) -> None:
    """Refuse a cell type whose inputs do not match the card; opens no file.

    ``metadata=False`` checks the tracks only (for uses of the sequence branch alone, such as the
    first-layer kernel scan of ``interpret motifs``).

    Raises
    ------
    FactorNetError
        Track names differ from the card's; the model needs expression PCs (or, for imported models,
        metadata values) or annotation features that were not given.
    """
    want = list(card.track_names)
    if sorted(want) != sorted(cell.tracks):
        raise FactorNetError(
            f"the model was trained on tracks {want}, the inputs give {list(cell.tracks)}: "
            "provide tracks with exactly these names"
        )
    if metadata:
        _check_metadata_given(card, cell)


def _check_metadata_given(card: ModelCard, cell: CellType) -> None:
    if card.features.expression:
        if card.expression_source == "meta_values" and cell.meta_values is None:
            raise FactorNetError(
                "this imported model needs the cell type's expression PCs as published with it: give --meta-values"
            )
        if cell.expression is None and cell.meta_values is None:
            raise FactorNetError(
                "the model uses expression PCs (-m): give the cell type's expression table (--expression "
                "or a samplesheet with one)"
            )
    if card.features.gencode and cell.annotations is None:
        raise FactorNetError(
            "the model uses annotation features (-g): give --gtf and --cpg, or --annotation-beds"
        )


def check_chrom_naming(card: ModelCard, chrom_sizes: Mapping[str, int]) -> None:
    """Refuse a genome whose chromosome naming (``chr1`` vs ``1``) differs from the model's."""
    if card.chrom_naming == "ucsc" and not any(c.startswith("chr") for c in chrom_sizes):
        raise FactorNetError(
            "the model was trained with UCSC chromosome names (chr1), the genome uses '1'-style names"
        )
    if card.chrom_naming == "plain" and all(c.startswith("chr") for c in chrom_sizes):
        raise FactorNetError(
            "the model was trained with '1'-style chromosome names, the genome uses UCSC names (chr1)"
        )


def check_genome(card: ModelCard, chrom_sizes: Mapping[str, int]) -> None:
    """Everything the card says about the genome, checked before any work: chromosome naming
    (:func:`check_chrom_naming`) and, for models that name one, the assembly
    (:func:`factornet_core.assemblies.check_assembly`: hg19 models refuse an hg38 genome)."""
    from factornet_core.assemblies import card_assembly, check_assembly

    check_chrom_naming(card, chrom_sizes)
    check_assembly(card_assembly(card), chrom_sizes)


def model_on_cell(card: ModelCard, model_path: PathLike, cell: CellType, cell_name: str | None = None) -> str:
    """A model applied to a cell type, for figure titles: ``"CTCF model ctcf.keras (trained on CellA,
    CellB) in CellC"``; without ``cell_name`` the cell type is named by its track files."""
    from pathlib import Path

    from factornet_core.wording import plural

    tfs = ", ".join(card.tfs) if len(card.tfs) <= 3 else plural(card.tfs, "TF")
    cells = list(dict(card.training or {}).get("cells") or [])
    trained = f" (trained on {', '.join(map(str, cells))})" if cells else ""
    where = cell_name or "tracks " + ", ".join(Path(str(p)).name for p in cell.tracks.values())
    return f"{tfs} model {Path(model_path).name}{trained} in {where}"


def read_meta_values(path: PathLike, n: int) -> np.ndarray:
    """The cell-level metadata vector ``(n,) float32`` from a text file: one value a line, or
    ``value name`` / ``name value`` lines (the original FactorNet ``meta.txt``)."""
    values = []
    for lineno, line in enumerate(intervals.read_text_lines(path), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        numbers = [w for w in words if is_number(w)]
        if len(numbers) != 1:
            raise FactorNetError(f"{path}:{lineno}: expected one number per line, got {line.strip()[:60]!r}")
        values.append(float(numbers[0]))
    if len(values) != n:
        raise FactorNetError(f"{path}: {len(values)} metadata values, the model expects {n}")
    return np.asarray(values, dtype=np.float32)


# ------------------------------------------------------------------------------------ the cell data
class CellData:
    """A cell type's genome and tracks, opened once; windows in one channel order.

    Parameters
    ----------
    cell : the cell type.
    track_names : channel order of the tracks after A/C/G/T (a model card's ``track_names``).
    seq_len : window length in bp; bins are centred in their window.
    bin_size : bin length in bp.
    track_norms : track name → normalisation rule (a card's ``track_norms``). The scale factors are
        fixed from this cell type's own bigWigs over every chromosome each shares with the genome, by
        :meth:`check_chroms` (or :meth:`check_regions`), which must be called before windows are read.
    """

    def __init__(
        self,
        cell: CellType,
        track_names: Sequence[str],
        seq_len: int,
        bin_size: int,
        track_norms: Mapping[str, str] | None = None,
    ):
        from factornet_core.genome import Genome
        from factornet_core.tracks import TrackSet
        from factornet_core.windows import WindowReader

        missing = [t for t in track_names if t not in cell.tracks]
        if missing:
            raise FactorNetError(f"no bigWig for track {missing[0]!r}: give --track {missing[0]}=BIGWIG")
        self.genome = Genome(cell.genome)
        try:
            self.trackset = TrackSet({name: cell.tracks[name] for name in track_names}, track_norms)
            self.trackset.check_range()  # infinite or negative signal: refused before any work
        except BaseException:
            self.genome.close()
            raise
        self.reader = WindowReader(self.genome, self.trackset, int(seq_len), int(bin_size))

    @property
    def chrom_sizes(self) -> dict[str, int]:
        return self.genome.chrom_sizes

    def check_chroms(self, chroms: Sequence[str]) -> None:
        """Every track must cover these genome chromosomes, with the genome's lengths; then each
        normalised track's scale factor is fixed over every chromosome its bigWig shares with the
        genome, NOT over ``chroms`` (:meth:`factornet_core.tracks.TrackSet.fix_scales`)."""
        used = {c: self.chrom_sizes[c] for c in dict.fromkeys(chroms)}
        self.trackset.check_chroms(used)
        self.trackset.fix_scales(self.genome)

    def check_regions(self, table, path: PathLike, what: str = "region") -> None:
        """Regions (``chrom, start, end``) must lie inside the genome and on every track."""
        unknown = sorted(set(table["chrom"]) - set(self.chrom_sizes))
        if unknown:
            err = intervals.unknown_chromosome(unknown[0], self.chrom_sizes, f"{path}: {what} chromosome")
            more = f"; {len(unknown)} unknown in all" if len(unknown) > 1 else ""
            raise FactorNetError(f"{err}{more}: {what}s must lie inside the genome")
        intervals.check_in_genome(table, self.chrom_sizes, path, what=what)
        self.check_chroms(list(table["chrom"]))

    def close(self) -> None:
        self.trackset.close()
        self.genome.close()


# ------------------------------------------------------------------------------------- the metadata
class Metadata:
    """One model's metadata rows for one cell type: ``[expression PCs | annotation flags]``.

    Parameters
    ----------
    vector : (n_pcs,) float32 cell-level values (expression PCs), or None.
    annotator : a :class:`factornet_core.annotations.BinAnnotator`, or None.
    bin_size : bin length in bp (annotation flags describe the bin).
    """

    def __init__(self, vector: np.ndarray | None, annotator, bin_size: int):
        self.vector, self.annotator, self.bin_size = vector, annotator, int(bin_size)

    @classmethod
    def for_model(cls, card: ModelCard, arrays: Mapping[str, np.ndarray], cell: CellType) -> Metadata:
        """Build from the card, the model's side arrays (PCA basis) and the cell type's files.

        Raises
        ------
        FactorNetError
            As :func:`check_card`; a metadata-values file of the wrong length; an expression table
            that does not fit the stored PCA basis.
        """
        check_card(card, cell)
        vector = None
        if card.features.expression and cell.meta_values is not None:
            vector = read_meta_values(cell.meta_values, card.n_expression_pcs)
        elif card.features.expression:
            from factornet_core.expression import ExpressionPCA, read_expression

            prefix = "expression_"
            pca = ExpressionPCA.from_arrays(
                {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            )
            vector = pca.transform(read_expression(cell.expression))
        annotator = None
        if card.features.gencode:
            from factornet_core.annotations import BinAnnotator

            annotator = BinAnnotator(cell.annotations)
        return cls(vector, annotator, card.bin_size)

    @classmethod
    def none(cls) -> Metadata:
        """No metadata rows (:meth:`rows` returns None)."""
        return cls(None, None, 0)

    @property
    def empty(self) -> bool:
        return self.vector is None and self.annotator is None

    def rows(self, chroms: np.ndarray | str, bin_starts: np.ndarray) -> np.ndarray | None:
        """``(n, n_meta) float32`` rows for bins starting at ``bin_starts`` (bp, 0-based) on ``chroms``
        (one name, or one per bin); None when the model has no metadata input."""
        if self.empty:
            return None
        bin_starts = np.asarray(bin_starts, dtype=np.int64)
        n = bin_starts.size
        parts = []
        if self.vector is not None:
            parts.append(np.broadcast_to(self.vector, (n, self.vector.size)))
        if self.annotator is not None:
            chroms = np.full(n, chroms, dtype=object) if isinstance(chroms, str) else np.asarray(chroms)
            parts.append(self.annotator.annotate_arrays(chroms, bin_starts, bin_starts + self.bin_size))
        return np.concatenate(parts, axis=1).astype(np.float32)


# --------------------------------------------------------------------------------- model on a cell
class CellInputs:
    """A model file applied to one cell type (open with :meth:`open`; close, or use ``with``).

    Attributes
    ----------
    card : the model's :class:`ModelCard`.
    data : the opened genome and tracks, tracks in the card's order.
    metadata : the model's metadata rows for this cell type.
    model : the Keras model (loaded in safe mode on first access).
    """

    def __init__(self, model_path: PathLike, card: ModelCard, data: CellData, metadata: Metadata):
        self.model_path, self.card, self.data, self.metadata = model_path, card, data, metadata

    @classmethod
    def open(cls, model_path: PathLike, cell: CellType, metadata: bool = True) -> CellInputs:
        """Read the card, check it against the cell type (track names, metadata availability,
        chromosome naming) and open genome and tracks.

        Parameters
        ----------
        model_path : a ``.keras`` file with a FactorNet card.
        cell : the cell type's inputs.
        metadata : build the metadata rows (False: the caller uses the sequence branch only and
            :meth:`meta` returns None).

        Returns
        -------
        CellInputs
            Ready to serve windows (:attr:`reader`) and metadata rows (:meth:`meta`).

        Raises
        ------
        FactorNetError
            A missing or invalid model file or card; inputs the card does not accept (see
            :func:`check_card`, :func:`check_genome`); unreadable genome, bigWig or metadata files.
        """
        from factornet_core.modelfile import read_arrays, read_card

        card = read_card(model_path)
        check_card(card, cell, metadata)
        data = CellData(cell, card.track_names, card.seq_len, card.bin_size, card.track_norms)
        try:
            check_genome(card, data.chrom_sizes)
            rows = Metadata.for_model(card, read_arrays(model_path), cell) if metadata else Metadata.none()
        except BaseException:
            data.close()
            raise
        return cls(model_path, card, data, rows)

    @cached_property
    def model(self):
        from factornet_core.modelfile import load_model

        return load_model(self.model_path).model

    @property
    def reader(self):
        """The :class:`factornet_core.windows.WindowReader` of this cell type, in the card's layout."""
        return self.data.reader

    @property
    def chrom_sizes(self) -> dict[str, int]:
        return self.data.chrom_sizes

    def meta(self, chroms: np.ndarray | str, bin_starts: np.ndarray) -> np.ndarray | None:
        """Metadata rows ``(n, n_meta) float32`` for bins (see :meth:`Metadata.rows`)."""
        return self.metadata.rows(chroms, bin_starts)

    def close(self) -> None:
        self.data.close()

    def __enter__(self) -> CellInputs:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
