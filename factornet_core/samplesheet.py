"""The samplesheet: one TSV that says, per cell type, where its tracks, peaks and expression are.

Format (tab-separated, header required, ``#`` lines ignored, paths relative to the samplesheet)::

    cell_type   kind          name        path
    HepG2       track         DNASE       HepG2.dnase.bw
    HepG2       track         MAPABILITY  mapability.bw
    HepG2       conservative  CTCF        HepG2.CTCF.conservative.narrowPeak.gz
    HepG2       relaxed       CTCF        HepG2.CTCF.relaxed.narrowPeak.gz
    HepG2       expression    .           HepG2.expression.tsv
    HepG2       labels        CTCF        HepG2.CTCF.labels.tsv.gz

``kind`` is one of :data:`KINDS`. ``name`` is the track name (``track``), the TF (``conservative``,
``relaxed``, ``labels``) or ``.`` (``expression``). ``bam`` and ``fragments`` rows (one or more per cell
type and track name: replicates) are alignments for ``factornet prepare``, which turns them into the
track's bigWig; ``train``/``predict`` need the ``track`` row and refuse a track given only as alignments. Every cell type must list the same track names:
a track's name is its identity across cell types, and the first cell type's order is the input order.

The original FactorNet data folders (``bigwig.txt``, ``chip.txt``, ``meta.txt`` beside per-cell
``<CELL>.<track>.bigWig``-style files) are read by :func:`read_legacy_folder`.

Which cell types, TF(s), peaks, tracks and expression a run uses is decided in one place:
:class:`Selection` (:func:`select_tf`, :func:`select_multi_task`, :func:`cell_inputs`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from factornet_core.errors import FactorNetError
from factornet_core.textio import read_utf8_lines
from factornet_core.wording import noun

KINDS = ("track", "conservative", "relaxed", "expression", "labels", "bam", "fragments")
ALIGNMENT_KINDS = ("bam", "fragments")  # inputs of `factornet prepare`; several rows per track allowed
COLUMNS = ("cell_type", "kind", "name", "path")


@dataclass
class CellType:
    """Everything the samplesheet says about one cell type (paths are absolute)."""

    name: str
    tracks: dict[str, Path] = field(default_factory=dict)
    conservative: dict[str, Path] = field(default_factory=dict)
    relaxed: dict[str, Path] = field(default_factory=dict)
    labels: dict[str, Path] = field(default_factory=dict)
    expression: Path | None = None
    alignments: dict[str, list[tuple[str, Path]]] = field(default_factory=dict)  # track → [(kind, path)]

    @property
    def tfs(self) -> list[str]:
        """TFs with peaks or labels in this cell type."""
        return list(dict.fromkeys([*self.conservative, *self.labels]))

    def rows(self, *kinds: str) -> list[tuple[str, str, str, Path]]:
        """This cell type's entries as samplesheet rows ``(cell_type, kind, name, path)``, or only those of
        ``kinds`` (:data:`KINDS`): tracks in input order, alignments (replicates in samplesheet order),
        conservative, relaxed, labels, expression (name ``.``)."""
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown samplesheet kind {unknown[0]!r} (kinds: {', '.join(KINDS)})")
        rows = [("track", name, path) for name, path in self.tracks.items()]
        rows += [(kind, name, path) for name, files in self.alignments.items() for kind, path in files]
        for kind in ("conservative", "relaxed", "labels"):
            rows += [(kind, name, path) for name, path in getattr(self, kind).items()]
        if self.expression is not None:
            rows.append(("expression", ".", self.expression))
        return [(self.name, kind, name, path) for kind, name, path in rows if not kinds or kind in kinds]


@dataclass
class Samplesheet:
    path: Path
    cells: dict[str, CellType]
    #: absolute path → (its first row, ``samplesheet S:LINE (cell C, KIND NAME, 'path as written')``,
    #: and the path as written there)
    origins: dict[Path, tuple[str, str]] = field(default_factory=dict)

    def name_rows(self, message: str) -> str:
        """``message`` about a listed file, told by its samplesheet row: ``/abs/empty.bed: no intervals``
        → ``samplesheet ss.tsv:4 (cell CellA, conservative CTCF, 'empty.bed'): no intervals``; other
        messages unchanged."""
        for file, (origin, rel) in self.origins.items():
            if message.startswith(f"{file}: "):
                return f"{origin}: {message[len(str(file)) + 2 :]}"
            if str(file) in message:  # e.g. '/abs/c.bed:2: line needs 3 columns' → 'c.bed:2: ...'
                return f"{origin}: {message.replace(str(file), rel)}"
        return message

    @property
    def track_names(self) -> list[str]:
        return list(next(iter(self.cells.values())).tracks) if self.cells else []

    @property
    def tfs(self) -> list[str]:
        return list(dict.fromkeys(tf for cell in self.cells.values() for tf in cell.tfs))

    def cell(self, name: str) -> CellType:
        if name not in self.cells:
            raise FactorNetError(
                f"cell type {name!r} is not in samplesheet {self.path.name} (it has: {', '.join(self.cells)})"
            )
        return self.cells[name]

    def cells_with_tf(self, tf: str) -> list[str]:
        return [c.name for c in self.cells.values() if tf in c.conservative]

    def rows(self, *kinds: str) -> list[tuple[str, str, str, Path]]:
        """Every entry as a row ``(cell_type, kind, name, absolute path)``, or only those of ``kinds``:
        cell types in samplesheet order, each as :meth:`CellType.rows`. What :func:`write_samplesheet`
        takes (with paths made relative to where it writes, if wanted)."""
        return [row for cell in self.cells.values() for row in cell.rows(*kinds)]


def read_samplesheet(
    path: str | os.PathLike, check_files: bool = True, need_tracks: bool = True
) -> Samplesheet:
    """Read and validate a samplesheet TSV (or an original FactorNet data folder).

    ``need_tracks=False`` accepts a sheet of peaks only (``factornet bin`` reads no signal).
    """
    path = Path(path)
    if path.is_dir():
        return read_legacy_folder(path, check_files=check_files)
    if not path.is_file():
        raise FactorNetError(f"samplesheet {str(path)!r} does not exist")
    base = path.resolve().parent
    lines = [(i, ln.rstrip("\n\r")) for i, ln in enumerate(read_utf8_lines(path), 1)]
    lines = [(i, ln) for i, ln in lines if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise FactorNetError(f"samplesheet {path}: empty")
    header = [h.strip() for h in lines[0][1].split("\t")]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise FactorNetError(
            f"samplesheet {path}:{lines[0][0]}: missing {noun(missing, 'column')} {', '.join(missing)}; "
            f"the header must be: {' '.join(COLUMNS)} (tab-separated)"
        )
    col = {name: header.index(name) for name in COLUMNS}
    cells: dict[str, CellType] = {}
    seen: set[tuple[str, ...]] = set()
    origins: dict[Path, tuple[str, str]] = {}
    for lineno, line in lines[1:]:
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < len(header):
            raise FactorNetError(
                f"samplesheet {path}:{lineno}: expected {len(header)} tab-separated fields, got {len(fields)}"
            )
        cell, kind, name, rel = (fields[col[c]] for c in COLUMNS)
        where = f"samplesheet {path}:{lineno}"
        if kind not in KINDS:
            raise FactorNetError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if not cell or not name or not rel:
            raise FactorNetError(f"{where}: cell_type, name and path must not be empty")
        key = (cell, kind, name, rel) if kind in ALIGNMENT_KINDS else (cell, kind, name)
        if key in seen:
            raise FactorNetError(f"{where}: duplicate entry {kind} {name!r} for cell type {cell!r}")
        seen.add(key)
        file = (base / rel).resolve() if not os.path.isabs(rel) else Path(rel)
        if check_files and not file.is_file():
            raise FactorNetError(
                f"{where}: file {rel!r} does not exist (paths are relative to the samplesheet)"
            )
        origins.setdefault(file, (f"{where} (cell {cell}, {kind} {name}, {rel!r})", rel))
        entry = cells.setdefault(cell, CellType(cell))
        if kind == "track":
            entry.tracks[name] = file
        elif kind in ALIGNMENT_KINDS:
            entry.alignments.setdefault(name, []).append((kind, file))
        elif kind == "expression":
            if entry.expression is not None:
                raise FactorNetError(f"{where}: a second expression table for cell type {cell!r}")
            entry.expression = file
        else:
            getattr(entry, kind)[name] = file
    sheet = Samplesheet(path, cells, origins)
    _check_consistent(sheet, need_tracks)
    return sheet


@contextlib.contextmanager
def naming_rows(sheet: Samplesheet | None) -> Iterator[None]:
    """Re-raise a FactorNetError about a file ``sheet`` lists (empty, malformed, on unknown chromosomes)
    with that file's samplesheet row (:meth:`Samplesheet.name_rows`); nothing when ``sheet`` is None."""
    try:
        yield
    except FactorNetError as exc:
        told = sheet.name_rows(str(exc)) if sheet is not None else str(exc)
        if told == str(exc):
            raise
        raise FactorNetError(told) from exc


def _check_consistent(sheet: Samplesheet, need_tracks: bool = True) -> None:
    if not sheet.cells:
        raise FactorNetError(f"samplesheet {sheet.path}: no cell types")
    first = next(iter(sheet.cells.values()))
    for cell in sheet.cells.values() if need_tracks else ():
        pending = [name for name in cell.alignments if name not in cell.tracks]
        if pending:
            kind, path = cell.alignments[pending[0]][0]
            raise FactorNetError(
                f"samplesheet {sheet.path}: track {pending[0]!r} of cell type {cell.name!r} is given only as "
                f"{kind} rows: make its bigWig first ('factornet prepare --{kind} "
                f"{path.name} ... -o {cell.name}.{pending[0]}.bw') and add it as a 'track' row"
            )
    if need_tracks and not first.tracks:
        raise FactorNetError(f"samplesheet {sheet.path}: cell type {first.name!r} has no track rows")
    for cell in sheet.cells.values():
        if list(cell.tracks) != list(first.tracks):
            if set(cell.tracks) == set(first.tracks):
                # same set in another order: fine, the first cell type's order wins
                cell.tracks = {name: cell.tracks[name] for name in first.tracks}
                continue
            raise FactorNetError(
                f"samplesheet {sheet.path}: cell type {cell.name!r} has tracks {sorted(cell.tracks)} but "
                f"{first.name!r} has {sorted(first.tracks)}: every cell type needs the same track names"
            )
        for tf in cell.relaxed:
            if tf not in cell.conservative:
                raise FactorNetError(
                    f"samplesheet {sheet.path}: cell type {cell.name!r} has relaxed peaks for {tf} "
                    "but no conservative peaks"
                )
    _check_no_copied_tracks(sheet)
    with_expr = [c.name for c in sheet.cells.values() if c.expression is not None]
    if with_expr and len(with_expr) != len(sheet.cells):
        lacking = [c for c in sheet.cells if c not in with_expr]
        raise FactorNetError(
            f"samplesheet {sheet.path}: {noun(lacking, 'cell type')} {', '.join(lacking)} {noun(lacking, 'lacks', 'lack')} an expression table "
            "while others have one: give all or none"
        )


def _check_no_copied_tracks(sheet: Samplesheet) -> None:
    """Refuse a cell-specific track one cell type shares with another (a copy-paste slip in the sheet).

    A track every cell type shares (mapability) is genome-wide and fine; a track that differs between
    cell types (DNase-seq) but is the same file for two of them would train or predict one cell type on
    another's signal without a word.
    """
    names = next(iter(sheet.cells.values())).tracks if sheet.cells else {}
    for name in names:
        owners: dict[str, list[str]] = {}
        for cell in sheet.cells.values():
            if name in cell.tracks:
                owners.setdefault(os.path.realpath(cell.tracks[name]), []).append(cell.name)
        shared = [cells for cells in owners.values() if len(cells) > 1]
        if len(owners) > 1 and shared:
            cells = shared[0]
            raise FactorNetError(
                f"samplesheet {sheet.path}: cell types {', '.join(cells)} give the same {name} file "
                f"{str(sheet.cells[cells[0]].tracks[name])!r} while other cell types have their own: give each "
                f"cell type its own {name} bigWig (only a track every cell type shares, like mapability, may be one file)"
            )


def read_legacy_folder(folder: Path, check_files: bool = True) -> Samplesheet:
    """An original FactorNet training folder → :class:`Samplesheet`.

    The original layout: ``bigwig.txt`` (track names, one a line), ``chip.txt`` (one TF... or
    ``<CELL>\t<TF>`` lines, as in the DREAM folders), per-cell ``<CELL>.<TRACK>.bigWig`` or
    ``<TRACK>.bigWig`` shared across cells, ``ChIPseq.<CELL>.<TF>.conservative.train.narrowPeak.gz``
    and ``...relaxed.narrowPeak.gz``, and optional ``meta.txt`` + ``<CELL>.meta.npy``-free expression
    tables ``<CELL>.expression.tsv``.
    """
    need = [folder / "bigwig.txt", folder / "chip.txt"]
    for file in need:
        if not file.is_file():
            raise FactorNetError(f"data folder {folder}: {file.name} is missing (original FactorNet layout)")
    track_names = [t.strip() for t in "\n".join(read_utf8_lines(folder / "bigwig.txt")).split() if t.strip()]
    cells: dict[str, CellType] = {}
    for lineno, line in enumerate(read_utf8_lines(folder / "chip.txt"), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise FactorNetError(f"{folder / 'chip.txt'}:{lineno}: expected '<CELL> <TF>'")
        cell, tf = fields
        entry = cells.setdefault(cell, CellType(cell))
        for t in track_names:
            own, shared = folder / f"{cell}.{t}.bigWig", folder / f"{t}.bigWig"
            entry.tracks[t] = own if own.exists() or not shared.exists() else shared
        entry.conservative[tf] = folder / f"ChIPseq.{cell}.{tf}.conservative.train.narrowPeak.gz"
        relaxed = folder / f"ChIPseq.{cell}.{tf}.relaxed.narrowPeak.gz"
        if relaxed.exists():
            entry.relaxed[tf] = relaxed
        expr = folder / f"{cell}.expression.tsv"
        if expr.exists():
            entry.expression = expr
    sheet = Samplesheet(folder / "chip.txt", cells)
    if check_files:
        for cell in cells.values():
            for p in [*cell.tracks.values(), *cell.conservative.values()]:
                if not p.is_file():
                    raise FactorNetError(f"data folder {folder}: {p.name} is missing")
    _check_consistent(sheet)
    return sheet


def write_samplesheet(path: str | os.PathLike, rows: list[tuple[str, str, str, str | os.PathLike]]) -> None:
    """Write rows ``(cell_type, kind, name, path)`` under the standard header."""
    with open(path, "w") as handle:
        handle.write("\t".join(COLUMNS) + "\n")
        for row in rows:
            handle.write("\t".join(str(v) for v in row) + "\n")


# --------------------------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class Selection:
    """What one run takes from a samplesheet: cell types, TF(s), and through them peaks/tracks/expression.

    The one place that applies the selection rules (``factornet train``, ``bin``, ``predict``'s cell
    resolution, the demo; the Nextflow ``planRun`` mirrors them in Groovy):

    * **one TF** (:func:`select_tf`): the cell types are the given ones, else every cell type with
      conservative peaks for the TF; each must have them. Without a TF, a samplesheet with exactly one
      TF selects it.
    * **multi-task** (:func:`select_multi_task`): exactly one cell type; its TFs are the TFs with
      conservative peaks there.
    * a **validation cell type** (cross-cell validation) must have conservative peaks for every TF.

    ``cells`` keep the order given (or the samplesheet's order).
    """

    sheet: Samplesheet
    cells: tuple[str, ...]
    tfs: tuple[str, ...]
    valid_cell: str | None = None
    multi_task: bool = False  # chosen by select_multi_task (all TFs of one cell type, even if only one)

    @property
    def all_cells(self) -> list[str]:
        """Training cell types, then the validation cell type (if any): the reader order."""
        return [*self.cells, *([self.valid_cell] if self.valid_cell else [])]

    def peaks(self, cell: str, tf: str) -> tuple[Path, Path | None]:
        """(conservative, relaxed or None) peak files of ``cell`` for ``tf``."""
        entry = self.sheet.cell(cell)
        return entry.conservative[tf], entry.relaxed.get(tf)

    def tracks(self, cell: str) -> dict[str, Path]:
        """Track name → bigWig of ``cell``, in the model's input order."""
        return dict(self.sheet.cell(cell).tracks)

    def expression(self, cell: str) -> Path | None:
        return self.sheet.cell(cell).expression


def select_tf(
    sheet: Samplesheet, tf: str | None, cells: list[str] | None = None, valid_cell: str | None = None
) -> Selection:
    """Select one TF and its cell types (rules in :class:`Selection`); :class:`FactorNetError` otherwise."""
    if tf is None:
        if len(sheet.tfs) != 1:
            raise FactorNetError(
                f"the samplesheet has several TFs ({', '.join(sheet.tfs)}): choose one with --tf"
                if sheet.tfs
                else f"samplesheet {sheet.path.name} has no peaks (no conservative rows)"
            )
        tf = sheet.tfs[0]
    with_tf = sheet.cells_with_tf(tf)
    if not with_tf:
        raise FactorNetError(
            f"TF {tf!r} has no conservative peaks in the samplesheet (TFs there: {', '.join(sheet.tfs) or 'none'})"
        )
    chosen = list(cells or with_tf)
    for name in chosen:
        if tf not in sheet.cell(name).conservative:
            raise FactorNetError(f"cell type {name!r} has no conservative peaks for {tf}")
    if valid_cell and tf not in sheet.cell(valid_cell).conservative:
        raise FactorNetError(f"validation cell type {valid_cell!r} has no conservative peaks for {tf}")
    return Selection(sheet, tuple(chosen), (tf,), valid_cell)


def select_multi_task(
    sheet: Samplesheet, cells: list[str] | None = None, valid_cell: str | None = None
) -> Selection:
    """Select one cell type and all its TFs (rules in :class:`Selection`)."""
    chosen = list(cells or sheet.cells)
    if len(chosen) != 1:
        raise FactorNetError(
            f"multi-task training (no -f/--tf) uses one cell type; the samplesheet has {len(chosen)}: "
            "choose one with --cell, or give -f TF for single-task training"
        )
    cell = sheet.cell(chosen[0])
    tfs = list(cell.conservative)
    if not tfs:
        raise FactorNetError(f"cell type {cell.name!r} has no conservative peaks")
    if valid_cell:
        lacking = [tf for tf in tfs if tf not in sheet.cell(valid_cell).conservative]
        if lacking:
            raise FactorNetError(f"validation cell type {valid_cell!r} lacks peaks for {', '.join(lacking)}")
    return Selection(sheet, tuple(chosen), tuple(tfs), valid_cell, multi_task=True)


def cell_inputs(
    samplesheet: str | os.PathLike | None,
    cell: str | None,
    tracks: dict[str, str] | None = None,
    expression: str | None = None,
) -> tuple[dict[str, str], str | None]:
    """Tracks (name → bigWig) and expression table of one cell type to predict on.

    From ``samplesheet`` + ``cell`` or from explicit ``tracks``, never both: a ``--track`` next to a
    samplesheet cell would silently replace (or add to) that cell's tracks. An explicit ``expression``
    wins over the samplesheet's. Raises :class:`FactorNetError` when a cell is given without a samplesheet
    (or the reverse), when both a samplesheet and tracks are given, or when no track results.
    """
    out: dict[str, str] = {}
    if samplesheet:
        if not cell:
            raise FactorNetError("--samplesheet needs --cell (the cell type whose tracks to use)")
        if tracks:
            raise FactorNetError(
                f"--track {', '.join(tracks)} and --samplesheet/--cell {cell} both give the cell type's tracks: "
                "give them all by --samplesheet and --cell (add the track as a row of the samplesheet) or "
                "all by --track NAME=BIGWIG, not both"
            )
        entry = read_samplesheet(samplesheet).cell(cell)
        out.update({k: str(v) for k, v in entry.tracks.items()})
        expression = expression or (str(entry.expression) if entry.expression else None)
    elif cell:
        raise FactorNetError("--cell needs --samplesheet")
    out.update(tracks or {})
    if not out:
        raise FactorNetError("no tracks: give --samplesheet and --cell, or --track NAME=BIGWIG")
    return out, expression
