"""Prediction files: write, read and merge per-bin TF binding scores.

Layout (CONTRACT "predictions"): tab-separated, gzip-compressed when the name ends in ``.gz``::

    chr     start   stop    CTCF        MAX
    chr1    0       200     0.0123457   0.5
    ...

Scores are probabilities in ``[0, 1]`` held as ``float32``. They are written with **9 significant
digits**, exactly as ``printf("%.9g")``: 9 digits is the smallest count that round-trips *every* float32
exactly, so reading a file back gives bit-identical scores and the ranking (ties included) that the
metrics see is the model's own. ``%.6g``/``%.7g`` would merge distinct float32 values into ties.

``dream=True`` writes the headerless single-TF ENCODE-DREAM submission layout ``chr start stop score``;
:func:`read_predictions` accepts both layouts.

Writing is vectorised (each field is formatted as a byte matrix by NumPy, no per-row Python) and
streamed in chunks through gzip level 1 with ``mtime=0``, so outputs are byte-for-byte deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from factornet_core import tabular, textio
from factornet_core.atomic import atomic_output
from factornet_core.errors import FactorNetError
from factornet_core.intervals import int_column, naming_hint, refuse_duplicate_bins
from factornet_core.wording import plural

HEADER = ("chr", "start", "stop")
DREAM_TF = "score"
SCORE_DIGITS = 9
GZIP_LEVEL = 1
CHUNK_ROWS = 1_000_000


# --------------------------------------------------------------------------------------------- formatting
# Fields are ``(n, width) uint8`` ASCII blocks with 0 as padding, joined by :mod:`factornet_core.tabular`
# (the same writer as bins and labels); scores are formatted here.
_POW10 = 10.0 ** np.arange(-30, 80)  # _POW10[k + 30] == 10**k; covers float32's exponent range


def _score_field(values: np.ndarray) -> np.ndarray:
    """float32 scores in [0, 1] → 9 significant digits, trailing zeros dropped.

    The text is exactly C's ``printf("%.9g")`` of the value: fixed-point from 1e-4 up
    (``0.000123456789``), scientific below (``1.2345e-07``), ``0`` and ``1`` as themselves.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    inner = (x > 0) & (x < 1)
    safe = np.where(inner, x, 0.5)
    exp10 = np.floor(np.log10(safe)).astype(np.int64)
    # log10 can be off by one at decade boundaries, and rounding can carry into a 10th digit
    for _ in range(2):
        mant = np.rint(safe * _POW10[SCORE_DIGITS - 1 - exp10 + 30]).astype(np.int64)
        exp10 += (mant >= 10**SCORE_DIGITS).astype(np.int64) - (mant < 10 ** (SCORE_DIGITS - 1))
    mant = np.rint(safe * _POW10[SCORE_DIGITS - 1 - exp10 + 30]).astype(np.int64)

    digits = np.empty((SCORE_DIGITS, n), dtype=np.uint8)
    kept = np.full(n, SCORE_DIGITS, dtype=np.int64)  # digits left after dropping trailing zeros
    still = np.ones(n, dtype=bool)
    for j in range(SCORE_DIGITS - 1, -1, -1):
        mant, d = np.divmod(mant, 10)
        digits[j] = 48 + d
        if j:
            still &= d == 0
            kept -= still
    sci = inner & (exp10 < -4)  # printf's %g switches to scientific below 1e-4
    lead_zeros = np.clip(-exp10 - 1, 0, 3)
    e_abs = -exp10

    # 14 bytes: fixed "0." zzz ddddddddd  |  scientific d "." dddddddd "e-" XX
    fixed_bytes = [ord("0"), ord(".")] + [ord("0")] * 3 + [digits[j] for j in range(SCORE_DIGITS)]
    fixed_ok = [True, True] + [lead_zeros > j for j in range(3)] + [kept > j for j in range(SCORE_DIGITS)]
    sci_bytes = [digits[0], ord(".")] + [digits[j] for j in range(1, SCORE_DIGITS)]
    sci_bytes += [ord("e"), ord("-"), 48 + e_abs // 10, 48 + e_abs % 10]
    sci_ok = [True, kept > 1] + [kept > j for j in range(1, SCORE_DIGITS)] + [True] * 4
    width = len(fixed_bytes)
    out = np.empty((width, n), dtype=np.uint8)
    valid = np.empty((width, n), dtype=bool)
    for row in range(width):
        out[row] = np.where(sci, sci_bytes[row], fixed_bytes[row])
        valid[row] = np.where(sci, sci_ok[row], fixed_ok[row])
    edge = ~inner  # exact 0 or 1
    if edge.any():
        out[0, edge] = np.where(x[edge] >= 1, ord("1"), ord("0"))
        valid[1:, edge] = False
    out[~valid] = 0  # padding, dropped by tabular.rows_bytes
    return np.ascontiguousarray(out.T)


# --------------------------------------------------------------------------------------------- writing
def _as_score_matrix(
    scores: Mapping[str, np.ndarray] | np.ndarray, tf_names: Sequence[str] | None, n_rows: int
) -> tuple[list[str], np.ndarray]:
    if isinstance(scores, Mapping):
        names = [str(k) for k in scores]
        matrix = np.column_stack([np.asarray(v, dtype=np.float32).reshape(-1) for v in scores.values()])
    else:
        matrix = np.asarray(scores, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix[:, None]
        if tf_names is None:
            raise ValueError("tf_names is required when scores is an array")
        names = [str(t) for t in tf_names]
    if not names:
        raise FactorNetError("no TF scores to write")
    if matrix.shape != (n_rows, len(names)):
        raise ValueError(f"scores have shape {matrix.shape}, expected ({n_rows}, {len(names)})")
    if len(set(names)) != len(names):
        raise FactorNetError(f"duplicate TF names in predictions: {names}")
    return names, matrix


def write_predictions(
    path: str | os.PathLike,
    bins: pd.DataFrame,
    scores: Mapping[str, np.ndarray] | np.ndarray,
    tf_names: Sequence[str] | None = None,
    dream: bool = False,
) -> None:
    """Write a prediction file (gzip when ``path`` ends in ``.gz``), atomically.

    Parameters
    ----------
    bins : DataFrame with ``chrom, start, end`` (n rows), in output order.
    scores : ``{TF: (n,) float}`` or an ``(n,)``/``(n, T)`` array with ``tf_names``; values in [0, 1].
    dream : headerless ``chr start stop score`` (ENCODE-DREAM submission); one TF only.
    """
    names, matrix = _as_score_matrix(scores, tf_names, len(bins))
    with atomic_output(path) as tmp, PredictionWriter(tmp, names, dream=dream) as writer:
        writer.write(bins, matrix)


class PredictionWriter:
    """Streams a prediction file chunk by chunk (``factornet predict`` writes each chromosome as it ends).

    The caller owns atomicity (write to a temporary name, rename at the end); see :func:`write_predictions`.
    """

    def __init__(self, path: str | os.PathLike, tf_names: Sequence[str], dream: bool = False):
        self.names = [str(t) for t in tf_names]
        if dream and len(self.names) != 1:
            raise FactorNetError(
                f"the DREAM layout holds one TF, but the predictions have {len(self.names)} "
                f"({', '.join(self.names)}): write one file per TF or drop --dream"
            )
        self._raw = open(path, "wb")
        self._pool = ThreadPoolExecutor(1)
        # zlib releases the GIL: compress chunk k in a worker while chunk k+1 is formatted
        self._out = textio.GzipStream(self._raw, GZIP_LEVEL) if str(path).endswith(".gz") else self._raw
        header = b"" if dream else ("\t".join([*HEADER, *self.names]) + "\n").encode()
        self._pending = self._pool.submit(self._sink, header)

    def _sink(self, data: bytes) -> None:
        self._out.write(data)

    def write(self, bins: pd.DataFrame, matrix: np.ndarray) -> None:
        """Append rows: ``bins`` (chrom, start, end) and ``matrix`` ``(n, n_tfs)`` scores in [0, 1]."""
        n = len(bins)
        matrix = np.asarray(matrix, dtype=np.float32).reshape(n, len(self.names))
        bad = ~((matrix >= 0) & (matrix <= 1))  # NaN fails both comparisons
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise FactorNetError(
                f"score for {self.names[col]} at {bins['chrom'].iloc[row]}:{bins['start'].iloc[row]} is "
                f"{matrix[row, col]}, outside [0, 1]"
            )
        starts = bins["start"].to_numpy(dtype=np.int64)
        ends = bins["end"].to_numpy(dtype=np.int64)
        if n and (starts.min() < 0 or (ends < starts).any()):
            raise FactorNetError("prediction bins need 0 <= start <= end")
        codes, categories = pd.factorize(bins["chrom"].astype(str))
        names = tabular.ascii_array(list(categories))
        for lo in range(0, n, CHUNK_ROWS):
            sl = slice(lo, min(lo + CHUNK_ROWS, n))
            fields = [
                tabular.str_field(names[codes[sl]]),
                tabular.int_field(starts[sl]),
                tabular.int_field(ends[sl]),
            ]
            fields += [_score_field(matrix[sl, j]) for j in range(matrix.shape[1])]
            data = tabular.rows_bytes(fields)
            self._pending.result()
            self._pending = self._pool.submit(self._sink, data)

    def close(self) -> None:
        try:
            self._pending.result()
            if self._out is not self._raw:
                self._out.close()
        finally:
            self._pool.shutdown()
            self._raw.close()

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------------------------- reading
def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def read_predictions(
    path: str | os.PathLike, dream_tf: str | None = None, allow_empty: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a prediction file (header or DREAM layout, plain or gzip).

    Returns
    -------
    bins : DataFrame ``chrom`` (str), ``start``, ``end`` (int64), one row per line.
    scores : DataFrame of float32, one column per TF (DREAM layout: ``dream_tf`` or ``'score'``).

    Raises :class:`FactorNetError` naming ``file:line`` for malformed lines, non-numeric or too large
    coordinates, missing/NaN or out-of-range scores, a bin given twice (it would be counted twice by
    every metric, bag and call), text that is not UTF-8, and for truncated gzip files; for a file with
    no bin (only the header) unless ``allow_empty`` (a shard of a contig shorter than a bin).
    """
    path = Path(path)
    if not path.is_file():
        raise FactorNetError(f"predictions file {str(path)!r} does not exist or is not a file")
    names, skip = _layout(path, dream_tf)
    table = _read_table(path, ["chrom", "start", "end", *names], skip)
    offset = skip + 1  # file line of table row 0
    if table.empty and not allow_empty:
        raise FactorNetError(
            f"{path}: no bins in the predictions file (only the header): nothing to use; give the output "
            "of a 'factornet predict' or 'impute' run that scored some bins"
        )
    starts, ends = _checked_bins(path, table, offset)
    scores = {name: _checked_scores(path, table[name], name, offset) for name in names}
    bins = pd.DataFrame({"chrom": table["chrom"].astype(str), "start": starts, "end": ends})
    refuse_duplicate_bins(bins, path, "bin", first_line=offset)
    return bins, pd.DataFrame(scores, columns=names)


def _layout(path: Path, dream_tf: str | None) -> tuple[list[str], int]:
    """TF column names and header lines to skip, from the first line (header or DREAM layout)."""
    first = textio.read_first_line(path)
    if not first:
        raise FactorNetError(f"{path}: empty predictions file")
    fields = first.split("\t")
    if tuple(fields[:3]) == HEADER:
        names = fields[3:]
        if not names or any(not n for n in names):
            raise FactorNetError(f"{path}:1: header needs 'chr start stop <TF>...' with non-empty TF names")
        if len(set(names)) != len(names):
            raise FactorNetError(f"{path}:1: duplicate TF names in header: {names}")
        return names, 1
    if len(fields) == 4:
        return [dream_tf or DREAM_TF], 0
    raise FactorNetError(
        f"{path}:1: not a prediction file: expected a header 'chr start stop <TF>...' "
        f"or the 4-column DREAM layout 'chr start stop score', got {plural(len(fields), 'column')}"
    )


def _read_table(path: Path, columns: list[str], skip: int) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path,
            sep="\t",
            header=None,
            names=columns,
            skiprows=skip,
            dtype={"chrom": str},
            compression="gzip" if textio.is_gzip(path) else None,
            engine="c",
        )
    except textio.GZIP_ERRORS as exc:
        raise FactorNetError(f"{path}: damaged or truncated gzip file ({exc})") from None
    except UnicodeDecodeError as exc:
        raise FactorNetError(textio.not_utf8_message(path, exc)) from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame({c: [] for c in columns})
    except pd.errors.ParserError as exc:
        raise FactorNetError(
            f"{path}: malformed line, expected {len(columns)} tab-separated columns "
            f"({str(exc).split('C error: ')[-1].strip()})"
        ) from None


def _checked_bins(path: Path, table: pd.DataFrame, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` int64; integer, ``0 <= start <= stop``, chromosome present, or ``file:line``."""
    starts = int_column(table["start"], path, "start", offset)
    ends = int_column(table["end"], path, "stop", offset)
    bad = (starts < 0) | (ends < starts)
    if bad.any():
        raise FactorNetError(f"{path}:{_first_bad(bad) + offset}: bin needs 0 <= start <= stop")
    if table["chrom"].isna().any():
        row = _first_bad(table["chrom"].isna().to_numpy())
        raise FactorNetError(f"{path}:{row + offset}: missing chromosome name")
    return starts, ends


def _checked_scores(path: Path, values: pd.Series, name: str, offset: int) -> np.ndarray:
    """One TF's scores as float32, each a number in [0, 1], or an error naming ``file:line``."""
    if not pd.api.types.is_numeric_dtype(values.dtype):
        numeric = pd.to_numeric(values, errors="coerce")
        bad = (numeric.isna() & values.notna()).to_numpy()
        if bad.any():
            row = _first_bad(bad)
            raise FactorNetError(
                f"{path}:{row + offset}: score for {name} is not a number: {values.iloc[row]!r}"
            )
        values = numeric
    array = values.to_numpy(dtype=np.float32)
    nan = np.isnan(array)
    if nan.any():
        raise FactorNetError(
            f"{path}:{_first_bad(nan) + offset}: score for {name} is missing or NaN — predictions must be "
            "numbers in [0, 1]"
        )
    out = (array < 0) | (array > 1)
    if out.any():
        row = _first_bad(out)
        raise FactorNetError(f"{path}:{row + offset}: score for {name} is {array[row]}, outside [0, 1]")
    return array


# --------------------------------------------------------------------------------------------- comparing
def first_bin_difference(a: pd.DataFrame, b: pd.DataFrame) -> int | None:
    """Index of the first row where two bin tables differ (length mismatch counts); None if equal."""
    n = min(len(a), len(b))
    differ = np.zeros(n, dtype=bool)
    for col in ("chrom", "start", "end"):
        differ |= a[col].to_numpy()[:n] != b[col].to_numpy()[:n]
    if differ.any():
        return _first_bad(differ)
    return None if len(a) == len(b) else n


def align_tf_columns(reference: Sequence[str], scores: pd.DataFrame, path: str | os.PathLike) -> pd.DataFrame:
    """Reorder ``scores`` to the ``reference`` TF order; refuse a different TF set."""
    names = list(scores.columns)
    if names == list(reference):
        return scores
    if sorted(names) != sorted(reference):
        raise FactorNetError(
            f"{path}: TF columns {names} differ from the first file's {list(reference)}: "
            "combine only predictions of the same TFs"
        )
    return scores[list(reference)]


# --------------------------------------------------------------------------------------------- merging
def read_chrom_order(spec: str) -> list[str]:
    """A chromosome order from a file (first column per line: a list, chrom.sizes or .fai) or ``a,b,c``."""
    if os.path.isfile(spec):
        lines = textio.read_utf8_lines(spec)
        chroms = [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]
    else:
        chroms = [c for c in spec.replace(",", " ").split() if c]
    if not chroms:
        raise FactorNetError(f"chromosome order {spec!r} is empty (give a file or a comma-separated list)")
    if len(set(chroms)) != len(chroms):
        raise FactorNetError(f"chromosome order {spec!r} lists a chromosome twice")
    return chroms


def merge_shards(
    paths: Sequence[str | os.PathLike], chrom_order: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Concatenate prediction shards (each a full prediction file) into one table.

    Chromosomes come out in ``chrom_order`` (default: first appearance in ``paths`` as given).
    Within a chromosome, rows keep their file order; a chromosome split across shards is allowed
    when the shards' start ranges do not overlap (pieces are placed by their first start).
    Refused: differing TF columns, a chromosome missing from ``chrom_order``, overlapping pieces,
    duplicate bins.
    """
    if not paths:
        raise FactorNetError("no prediction shards to merge")
    pieces = []  # (chrom, path, bins, scores)
    names: list[str] | None = None
    for path in paths:
        bins, scores = read_predictions(path, allow_empty=True)  # a contig shorter than a bin
        if names is None:
            names = list(scores.columns)
        scores = align_tf_columns(names, scores, path)
        for chrom, idx in bins.groupby("chrom", sort=False).indices.items():
            pieces.append((chrom, path, bins.iloc[idx], scores.iloc[idx]))
    assert names is not None
    seen = list(dict.fromkeys(p[0] for p in pieces))
    if chrom_order is None:
        order = seen
    else:
        order = list(chrom_order)
        missing = [c for c in seen if c not in set(order)]
        if missing:
            raise FactorNetError(
                f"chromosome {missing[0]!r} of the shards is not in the chromosome order "
                f"({len(missing)} missing in all): "
                f"{naming_hint(missing, order, 'the order') or 'add it to the order'}"
            )
    rank = {c: i for i, c in enumerate(order)}
    pieces.sort(key=lambda p: (rank[p[0]], int(p[2]["start"].iloc[0])))
    for prev, cur in zip(pieces, pieces[1:]):
        if prev[0] == cur[0] and int(cur[2]["start"].iloc[0]) <= int(prev[2]["start"].max()):
            raise FactorNetError(
                f"shards {prev[1]} and {cur[1]} overlap on {cur[0]} (starts "
                f"{prev[2]['start'].min()}-{prev[2]['start'].max()} and "
                f"{cur[2]['start'].min()}-{cur[2]['start'].max()}): each bin must come from one shard"
            )
    if not pieces:
        where = (
            "the shard (only its header)"
            if len(paths) == 1
            else f"any of the {plural(len(paths), 'shard')} (only headers)"
        )
        raise FactorNetError(
            f"no bins in {where}: nothing to merge; give the shards of a 'factornet predict' or 'impute' run "
            "that scored some bins"
        )
    bins = pd.concat([p[2] for p in pieces], ignore_index=True)
    scores = pd.concat([p[3] for p in pieces], ignore_index=True)
    dup = bins.duplicated(["chrom", "start", "end"]).to_numpy()
    if dup.any():
        row = bins.iloc[_first_bad(dup)]
        raise FactorNetError(
            f"bin {row.chrom}:{row.start}-{row.end} appears more than once in the shards: "
            "each bin must be predicted once"
        )
    return bins, scores


def merge_prediction_files(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    chrom_order: Sequence[str] | None = None,
) -> int:
    """Merge shards (:func:`merge_shards`) and write ``out`` atomically; returns the number of rows."""
    bins, scores = merge_shards(paths, chrom_order)
    write_predictions(out, bins, scores.to_numpy(), tf_names=list(scores.columns))
    return len(bins)
