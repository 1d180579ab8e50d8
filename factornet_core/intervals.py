"""Genomic intervals: BED/narrowPeak reading (the one parser), the chr1-vs-1 naming hint, 200/50 bp bin tiling, coverage, the bin labelling rule,
and DREAM label files.

Labelling rule (original FactorNet's majority-nucleotide rule, as in the ENCODE-DREAM challenge): for a bin of
``bin_size`` bp and one (cell type, TF),

* **B** (bound) if more than half of the bin (≥ 101 bp of 200) lies inside the union of the
  conservative (IDR-passing) peaks;
* else **A** (ambiguous) if the bin overlaps any relaxed or conservative peak by at least 1 bp;
* else **U** (unbound).

Labels are held as ``int8`` codes :data:`U`, :data:`B`, :data:`A`; :data:`LABEL_CHARS` maps back.

Duplicated records, by format (issue 16): **peaks, relaxed peaks and blacklists** are sets of bases — every
use goes through their union (:class:`Coverage`), so a peak given twice counts once. **Bins** (a bins BED
for ``predict``), **DREAM label rows** and **prediction rows** are records a metric counts one by one: a
repeated ``chrom, start, end`` is refused, naming the first repeat (:func:`refuse_duplicate_bins`).
Coordinates above :data:`MAX_COORD` are refused when read, so no int64 arithmetic can overflow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from factornet_core import tabular
from factornet_core.errors import FactorNetError
from factornet_core.textio import (
    GZIP_ERRORS,
    is_gzip,
    not_utf8_message,
    open_output,
    read_text_lines,
    to_float,
    write_text,
)
from factornet_core.textio import open_text as open_text  # re-exported: callers import it from here too
from factornet_core.wording import some

U, B, A = 0, 1, 2
LABEL_CHARS = np.array(["U", "B", "A"])
BIN_SIZE, BIN_STRIDE = 200, 50

BED_COLUMNS = ["chrom", "start", "end"]
#: Largest coordinate read from any file: far beyond every genome (2**62 bp), and small enough that
#: ``start + window`` arithmetic in int64 cannot overflow.
MAX_COORD = 2**62


# --------------------------------------------------------------------------------------------- reading
def naming_hint(names: Iterable[str], known: Iterable[str], known_as: str = "the other file") -> str:
    """The chr1-vs-1 trap, explained: ``""`` unless a name of ``names`` missing from ``known`` is there
    with the ``chr`` prefix added or dropped.

    ``names`` may be one name. Returns e.g. ``"in the genome it is 'chr1': the files use different
    chromosome naming (chr1 vs 1)"`` (worded so that no verb has to agree with ``known_as``, which may
    be plural: "the predictions"); callers put it after their own message, with a separator. This is
    the one place that phrases the hint.
    """
    known = set(known)
    for name in [names] if isinstance(names, str) else names:
        if name in known:
            continue
        alt = name[3:] if name.startswith("chr") else "chr" + name
        if alt in known:
            return f"in {known_as} it is {alt!r}: the files use different chromosome naming (chr1 vs 1)"
    return ""


def unknown_chromosome(name: str, known: Iterable[str], what: str = "chromosome") -> FactorNetError:
    """The one error for a chromosome the genome lacks: names a few it has and, where that is the cause,
    the chr1-vs-1 hint (:func:`naming_hint`). Returned, not raised, so callers keep their ``raise``."""
    known = list(known)
    hint = naming_hint([name], known, "the genome")
    tail = f": {hint}" if hint else f" (it has {some(known, 6)})"
    return FactorNetError(f"{what} {name!r} is not in the genome{tail}")


def _parse_intervals(
    path: str | os.PathLike, what: str, allow_empty: bool, extra: dict[str, int]
) -> pd.DataFrame:
    """The one BED-family parser: ``chrom, start, end, name`` plus float columns ``extra`` (name → 0-based
    field index; a missing or non-numeric field reads as NaN)."""
    chroms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    names: list[str] = []
    more: dict[str, list[float]] = {key: [] for key in extra}
    for lineno, line in enumerate(read_text_lines(path), 1):
        if not line or line[0] == "#" or line.startswith(("track", "browser")):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 3:
            raise FactorNetError(f"{path}:{lineno}: {what} line needs at least 3 columns (chrom, start, end)")
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise FactorNetError(
                f"{path}:{lineno}: {what} start/end must be integers, got {fields[1]!r}, {fields[2]!r}"
            ) from None
        if max(start, end) > MAX_COORD:
            raise FactorNetError(
                f"{path}:{lineno}: {what} start/end must be integers (at most 2**62), got {start}, {end}"
            )
        if start < 0 or end < start:
            raise FactorNetError(
                f"{path}:{lineno}: {what} interval has start {start} > end {end} or start < 0"
            )
        chroms.append(fields[0])
        starts.append(start)
        ends.append(end)
        names.append(fields[3] if len(fields) > 3 else ".")
        for key, col in extra.items():
            more[key].append(to_float(fields[col]) if len(fields) > col else np.nan)
    if not chroms and not allow_empty:
        raise FactorNetError(f"{path}: no intervals in {what} file; give a file with at least one interval")
    return pd.DataFrame(
        {
            "chrom": pd.Series(chroms, dtype=object),
            "start": np.asarray(starts, dtype=np.int64),
            "end": np.asarray(ends, dtype=np.int64),
            "name": pd.Series(names, dtype=object),
            **{key: np.asarray(values, dtype=np.float64) for key, values in more.items()},
        }
    )


def int_column(values: pd.Series, path: str | os.PathLike, name: str, first_line: int) -> np.ndarray:
    """A table column of coordinates → ``int64``; a non-integer, missing or too large value (beyond
    :data:`MAX_COORD`) → FactorNetError naming ``file:line`` (row 0 is on line ``first_line``)."""
    if values.dtype == np.int64:
        return values.to_numpy()
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = np.isnan(numeric) | (numeric != np.floor(numeric)) | (np.abs(numeric) > MAX_COORD)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise FactorNetError(
            f"{path}:{row + first_line}: {name} must be an integer, got {values.iloc[row]!r} (at most 2**62)"
        )
    return numeric.astype(np.int64)


def first_duplicate_bin(chroms, starts: np.ndarray, ends: np.ndarray) -> tuple[int, int] | None:
    """``(row, earlier row)`` of the first ``chrom, start, end`` that repeats an earlier row, else None.

    O(n) for a table sorted by (chromosome in order of appearance, start, end), the usual case;
    hashing otherwise.
    """
    n = len(starts)
    if n < 2:
        return None
    codes = pd.factorize(pd.Series(chroms, copy=False).astype(str))[0]
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    dc, ds, de = np.diff(codes), np.diff(starts), np.diff(ends)
    if ((dc > 0) | ((dc == 0) & ((ds > 0) | ((ds == 0) & (de > 0))))).all():
        return None  # strictly increasing: no repeats
    frame = pd.DataFrame({"c": codes, "s": starts, "e": ends})
    dup = frame.duplicated(keep="first").to_numpy()
    if not dup.any():
        return None
    row = int(np.flatnonzero(dup)[0])
    same = (codes == codes[row]) & (starts == starts[row]) & (ends == ends[row])
    return row, int(np.flatnonzero(same)[0])


def refuse_duplicate_bins(
    table: pd.DataFrame, path: str | os.PathLike, what: str, first_line: int | None = None
) -> None:
    """Refuse a table (``chrom, start, end``) that gives the same bin twice, naming the first repeat:
    a repeated bin would be predicted, labelled or scored twice. ``first_line``: the file line of row 0
    (for ``file:line``); None names rows by their position instead (files with skipped lines)."""
    found = first_duplicate_bin(table["chrom"], table["start"].to_numpy(), table["end"].to_numpy())
    if found is None:
        return
    row, twin = found
    r = table.iloc[row]
    if first_line is None:
        where, earlier = f"{path}", f"rows {twin + 1} and {row + 1}"
    else:
        where, earlier = f"{path}:{row + first_line}", f"first at line {twin + first_line}"
    raise FactorNetError(
        f"{where}: {what} {r['chrom']}:{r['start']}-{r['end']} is given twice ({earlier}): each {what} "
        "must appear once, or it is counted twice; keep one line per bin (where the repeats' values differ, "
        "find out which is right: the file may join two runs)"
    )


def read_bed(path: str | os.PathLike, what: str = "BED", allow_empty: bool = False) -> pd.DataFrame:
    """Read BED/narrowPeak (plain or gz) → DataFrame with ``chrom, start, end, name`` (``.`` if absent).

    Header lines (``track``, ``browser``, ``#``) and blank lines are skipped. Any malformed line
    raises :class:`FactorNetError` naming ``file:line``.
    """
    return _parse_intervals(path, what, allow_empty, {})


def read_narrowpeak(
    path: str | os.PathLike, what: str = "narrowPeak", allow_empty: bool = False
) -> pd.DataFrame:
    """Read narrowPeak (ENCODE format, BED6+4; plain or gz) → :func:`read_bed`'s columns plus
    ``signal`` (column 7, signalValue) and ``summit`` (column 10, offset from ``start`` in bp), both
    ``float64``, NaN where the file has fewer columns or a non-number; ``summit = -1`` means "no summit".

    A plain 3- or 4-column BED reads too (all NaN), so callers may accept either.
    """
    return _parse_intervals(path, what, allow_empty, {"signal": 6, "summit": 9})


def check_in_genome(
    df: pd.DataFrame, chrom_sizes: Mapping[str, int], path: str | os.PathLike, what: str = "BED"
) -> pd.DataFrame:
    """Check intervals against the genome; return those on the genome's chromosomes.

    Intervals on chromosomes the genome lacks (alt contigs, chrY against an autosomes+X genome) are
    dropped, unless *no* interval is on a known chromosome: that is a naming mismatch (chr1 vs 1) and
    an error. An interval ending past its chromosome's end is an error (wrong assembly).
    """
    chrom_set = set(df["chrom"])
    unknown = sorted(chrom_set - set(chrom_sizes))
    if unknown and len(unknown) == len(chrom_set):
        example = unknown[0]
        hint = naming_hint([example], chrom_sizes, "the genome")
        raise FactorNetError(
            f"{path}: none of its chromosomes is in the genome (first: {example!r}){': ' + hint if hint else ''}"
        )
    if unknown:
        df = df.loc[df["chrom"].isin(chrom_sizes)].reset_index(drop=True)
    sizes = df["chrom"].map(chrom_sizes).to_numpy()
    past = np.flatnonzero(df["end"].to_numpy() > sizes)
    if past.size:
        row = df.iloc[past[0]]
        raise FactorNetError(
            f"{path}: {what} interval {row.chrom}:{row.start}-{row.end} ends past the chromosome end "
            f"({chrom_sizes[row.chrom]}): wrong assembly?"
        )
    return df


def write_bed(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Write ``chrom, start, end`` as a headerless BED (gzip if ``path`` ends in .gz)."""
    with open_output(path) as handle:
        tabular.write_table(handle, df["chrom"].array, df["start"].to_numpy(), df["end"].to_numpy())


#: narrowPeak fields (ENCODE's BED6+4: https://genome.ucsc.edu/FAQ/FAQformat.html#format12).
NARROWPEAK_COLUMNS = (
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "signalValue",
    "pValue",
    "qValue",
    "peak",
)


def write_narrowpeak(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Write ``table`` (:data:`NARROWPEAK_COLUMNS`) as narrowPeak (gzip if ``path`` ends in .gz).

    ``start``, ``end``, ``score`` and ``peak`` are written as integers and must hold whole numbers
    (a float column that does, e.g. after a concat with an untyped empty table, is written as integers);
    ``signalValue`` with 9 significant digits; pValue and qValue as -1 (not computed).

    Raises
    ------
    ValueError
        An integer field holds a fraction or NaN (a bug upstream, never silently rounded).
    """
    whole = {c: _whole_numbers(table[c], c) for c in ("start", "end", "score", "peak")}
    lines = [
        f"{chrom}\t{s}\t{e}\t{name}\t{score}\t.\t{value:.9g}\t-1\t-1\t{peak}\n"
        for chrom, s, e, name, score, value, peak in zip(
            table["chrom"], whole["start"], whole["end"], table["name"], whole["score"], table["signalValue"],
            whole["peak"],
        )
    ]  # fmt: skip
    write_text(path, "".join(lines))


def _whole_numbers(column: pd.Series, name: str) -> np.ndarray:
    values = column.to_numpy()
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(np.int64)
    as_float = values.astype(np.float64)
    if not np.all(np.isfinite(as_float) & (as_float == np.round(as_float))):
        raise ValueError(f"narrowPeak field {name} holds non-integer values")
    return as_float.astype(np.int64)


# --------------------------------------------------------------------------------------------- coverage
@dataclass(frozen=True)
class Coverage:
    """Union of intervals on one chromosome, queried for covered base pairs in many ranges at once.

    ``starts``/``ends`` are the merged, sorted, disjoint intervals; ``cum[i]`` is the total length of
    intervals before ``i``.
    """

    starts: np.ndarray
    ends: np.ndarray
    cum: np.ndarray

    @classmethod
    def from_intervals(cls, starts: Iterable[int], ends: Iterable[int]) -> Coverage:
        s = np.asarray(starts, dtype=np.int64)
        e = np.asarray(ends, dtype=np.int64)
        order = np.argsort(s, kind="stable")
        s, e = s[order], e[order]
        if s.size:
            # merge: a new block starts where the interval begins after every earlier end
            run_end = np.maximum.accumulate(e)
            new = np.ones(s.size, dtype=bool)
            new[1:] = s[1:] > run_end[:-1]
            block = np.cumsum(new) - 1
            ms = s[new]
            me = np.zeros(ms.size, dtype=np.int64)
            np.maximum.at(me, block, e)
        else:
            ms = me = np.zeros(0, dtype=np.int64)
        cum = np.concatenate([[0], np.cumsum(me - ms)])
        return cls(ms, me, cum)

    def covered_before(self, x: np.ndarray) -> np.ndarray:
        """Covered bp in ``[0, x)`` for each position in ``x``."""
        x = np.asarray(x, dtype=np.int64)
        if self.starts.size == 0:  # no intervals: nothing covered (and nothing to index)
            return np.zeros(x.shape, dtype=np.int64)
        k = np.searchsorted(self.starts, x, side="right") - 1
        inside = np.where(
            k >= 0, np.minimum(x, self.ends[np.maximum(k, 0)]) - self.starts[np.maximum(k, 0)], 0
        )
        return np.where(k >= 0, self.cum[np.maximum(k, 0)] + inside, 0)

    def overlap(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Covered bp within each ``[start, end)`` (``int64``, same shape as the inputs)."""
        return self.covered_before(ends) - self.covered_before(starts)


def coverages(df: pd.DataFrame | None) -> dict[str, Coverage]:
    """Per-chromosome :class:`Coverage` of a BED DataFrame (None → no intervals anywhere)."""
    if df is None or df.empty:
        return {}
    return {
        chrom: Coverage.from_intervals(g["start"].to_numpy(), g["end"].to_numpy())
        for chrom, g in df.groupby("chrom", sort=False)
    }


_EMPTY = Coverage.from_intervals([], [])


# --------------------------------------------------------------------------------------------- bins
def tile_bins(
    chrom_sizes: Mapping[str, int],
    chroms: Sequence[str] | None = None,
    bin_size: int = BIN_SIZE,
    stride: int = BIN_STRIDE,
) -> pd.DataFrame:
    """Bins ``[s, s + bin_size)`` for ``s = 0, stride, 2·stride, …`` while the bin fits in the chromosome.

    A chromosome of length ``n ≥ bin_size`` gets ``(n - bin_size) // stride + 1`` bins; shorter ones none.
    """
    chroms = list(chrom_sizes) if chroms is None else list(chroms)
    parts = []
    for chrom in chroms:
        if chrom not in chrom_sizes:
            raise unknown_chromosome(chrom, chrom_sizes)
        n = chrom_sizes[chrom]
        count = (n - bin_size) // stride + 1 if n >= bin_size else 0
        starts = np.arange(count, dtype=np.int64) * stride
        parts.append((chrom, starts))
    names = [c for c, _ in parts]
    starts = np.concatenate([s for _, s in parts]) if parts else np.zeros(0, np.int64)
    codes = np.repeat(np.arange(len(parts)), [s.size for _, s in parts]) if parts else np.zeros(0, int)
    chrom_col = pd.Categorical.from_codes(codes, categories=names) if names else pd.Categorical([])
    return pd.DataFrame({"chrom": chrom_col, "start": starts, "end": starts + bin_size})


def overlap_mask(bins: pd.DataFrame, regions: pd.DataFrame | None) -> np.ndarray:
    """Boolean ``(n_bins,)``: bin overlaps any region by ≥ 1 bp (e.g. the blacklist)."""
    return overlap_bp(bins, regions) > 0


def overlap_bp(bins: pd.DataFrame, regions: pd.DataFrame | None) -> np.ndarray:
    """Covered bp of each bin by the union of ``regions`` (``int64``)."""
    cov = coverages(regions)
    out = np.zeros(len(bins), dtype=np.int64)
    for chrom, idx in bins.groupby("chrom", sort=False, observed=True).indices.items():
        c = cov.get(chrom, _EMPTY)
        out[idx] = c.overlap(bins["start"].to_numpy()[idx], bins["end"].to_numpy()[idx])
    return out


def label_bins(
    bins: pd.DataFrame, conservative: pd.DataFrame, relaxed: pd.DataFrame | None = None
) -> np.ndarray:
    """Apply the labelling rule (module docstring) → ``(n_bins,) int8`` codes U/B/A."""
    sizes = (bins["end"] - bins["start"]).to_numpy()
    cons = overlap_bp(bins, conservative)
    both = conservative if relaxed is None else pd.concat([conservative, relaxed], ignore_index=True)
    any_peak = overlap_bp(bins, both)
    labels = np.full(len(bins), U, dtype=np.int8)
    labels[any_peak > 0] = A
    labels[2 * cons > sizes] = B
    return labels


# --------------------------------------------------------------------------------------------- DREAM labels
def write_labels(path: str | os.PathLike, bins: pd.DataFrame, labels: Mapping[str, np.ndarray]) -> None:
    """DREAM label TSV(.gz): header ``chr start stop <CELL>...``, values B/A/U."""
    letters = np.frombuffer(b"UBA", dtype=np.uint8)
    extra = [letters[np.asarray(codes)][:, None] for codes in labels.values()]
    with open_output(path) as handle:
        handle.write(("\t".join(["chr", "start", "stop", *labels]) + "\n").encode())
        tabular.write_table(
            handle, bins["chrom"].array, bins["start"].to_numpy(), bins["end"].to_numpy(), extra
        )


def read_labels(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Read a DREAM label TSV(.gz) → (bins ``chrom, start, end``, {cell type: int8 codes})."""
    try:
        table = pd.read_csv(path, sep="\t", dtype={"chr": str}, compression="gzip" if is_gzip(path) else None)
    except FileNotFoundError:
        raise FactorNetError(f"labels file {str(path)!r} does not exist") from None
    except UnicodeDecodeError as exc:
        raise FactorNetError(not_utf8_message(path, exc)) from None
    except (*GZIP_ERRORS, OSError) as exc:
        raise FactorNetError(f"{path}: damaged or truncated gzip file ({exc})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FactorNetError(f"{path}: not a DREAM label TSV ({str(exc).strip()[:120]})") from None
    head = list(table.columns[:3])
    if head != ["chr", "start", "stop"] or len(table.columns) < 4:
        raise FactorNetError(f"{path}: DREAM labels need a header 'chr start stop <CELL>...', got {head}")
    if table["chr"].isna().any():
        row = int(np.flatnonzero(table["chr"].isna().to_numpy())[0])
        raise FactorNetError(f"{path}:{row + 2}: missing chromosome name")
    bins = pd.DataFrame(
        {
            "chrom": table["chr"].astype(str),
            "start": int_column(table["start"], path, "start", 2),
            "end": int_column(table["stop"], path, "stop", 2),
        }
    )
    bad = (bins["start"] < 0) | (bins["end"] < bins["start"])
    if bad.any():
        raise FactorNetError(
            f"{path}:{int(np.flatnonzero(bad.to_numpy())[0]) + 2}: bin needs 0 <= start <= stop"
        )
    refuse_duplicate_bins(bins, path, "labelled bin", first_line=2)
    lookup = {"U": U, "B": B, "A": A}
    labels = {}
    for cell in table.columns[3:]:
        values = table[cell].astype(str)
        bad = ~values.isin(lookup)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise FactorNetError(
                f"{path}:{row + 2}: label for {cell} must be B, A or U, got {values.iloc[row]!r}"
            )
        labels[str(cell)] = values.map(lookup).to_numpy(dtype=np.int8)
    return bins, labels


def bins_touching(
    regions: pd.DataFrame, chrom_sizes: Mapping[str, int], bin_size: int = BIN_SIZE, stride: int = BIN_STRIDE
) -> pd.DataFrame:
    """The grid bins (starts multiple of ``stride``) that overlap any region, sorted and unique."""
    parts = []
    for chrom, g in regions.groupby("chrom", sort=True):
        last = (chrom_sizes[chrom] - bin_size) // stride  # index of the last full bin
        lo = np.maximum(-((bin_size - 1 - g["start"].to_numpy()) // stride), 0)  # ceil((s - size + 1)/stride)
        hi = np.minimum((g["end"].to_numpy() - 1) // stride, last)
        idx = np.unique(np.concatenate([np.arange(a, b + 1) for a, b in zip(lo, hi) if b >= a] or [[]]))
        starts = idx.astype(np.int64) * stride
        parts.append(pd.DataFrame({"chrom": chrom, "start": starts, "end": starts + bin_size}))
    if not parts:
        return pd.DataFrame({"chrom": [], "start": np.zeros(0, np.int64), "end": np.zeros(0, np.int64)})
    return pd.concat(parts, ignore_index=True)
