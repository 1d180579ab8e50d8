"""Plain or gzip text files: the one place that detects gzip on read and writes gzip on output.

Reading detects gzip by its magic bytes (``1f 8b``), not by the file name, so a ``.bed`` that is really
gzip (or a ``.gz`` that is not) still reads. Writing compresses when the name ends in ``.gz``, with
``mtime=0`` and no file name in the header (RFC 1952), so outputs are byte-for-byte deterministic.
bgzip (BGZF) files are gzip members too and read here as ordinary gzip; random access to bgzip
FASTA is pyfaidx's job (:mod:`factornet_core.genome`).
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from factornet_core.errors import FactorNetError

GZIP_MAGIC = b"\x1f\x8b"
#: Exceptions a damaged or truncated gzip stream raises while reading.
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def is_gzip(path: str | os.PathLike) -> bool:
    """True if the file starts with the gzip magic bytes (plain gzip and bgzip alike)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_text(path: str | os.PathLike) -> io.TextIOBase:
    """Open a plain or gzip-compressed text file for reading (UTF-8, undecodable bytes replaced).

    Raises :class:`FactorNetError` when the path does not exist or is a folder.
    """
    path = Path(path)
    if not path.exists():
        raise FactorNetError(f"file {str(path)!r} does not exist")
    if path.is_dir():
        raise FactorNetError(f"{str(path)!r} is a directory, expected a file")
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def is_number(text: str) -> bool:
    """True when ``float(text)`` parses (``"1e-3"``, ``"nan"`` and ``"inf"`` included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_float(text: str) -> float:
    """``float(text)``, or NaN for a field that is not a number (e.g. ``"."``)."""
    return float(text) if is_number(text) else float("nan")


def read_text_lines(path: str | os.PathLike) -> list[str]:
    """All lines of a (gzip) text file; a truncated or corrupt gzip becomes a clear error."""
    try:
        with open_text(path) as handle:
            return handle.read().splitlines()
    except (*GZIP_ERRORS, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise FactorNetError(f"{path}: damaged or truncated gzip file ({exc})") from None


def read_first_line(path: str | os.PathLike) -> str:
    """The first line of a (gzip) text file without its line end (``""`` for an empty file)."""
    try:
        with open_text(path) as handle:
            return handle.readline().rstrip("\r\n")
    except GZIP_ERRORS as exc:
        raise FactorNetError(f"{path}: damaged or truncated gzip file ({exc})") from None


class GzipStream:
    """A binary sink that gzip-compresses into an open file (``write``/``close``, no seeking).

    ``zlib`` with ``wbits=31`` writes a gzip member with ``mtime=0`` and no file name. ``write`` may run
    in a worker thread (zlib releases the GIL), which :class:`~factornet_core.scores.PredictionWriter`
    uses to compress one chunk while the next is formatted.
    """

    def __init__(self, raw: BinaryIO, level: int = 1):
        self._raw = raw
        self._comp = zlib.compressobj(level, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> int:
        self._raw.write(self._comp.compress(data))
        return len(data)

    def close(self) -> None:
        """Flush the compressor (the underlying file stays open: its owner closes it)."""
        if self._comp is not None:
            self._raw.write(self._comp.flush())
            self._comp = None


@contextmanager
def open_output(path: str | os.PathLike, gzip_level: int = 1) -> Iterator[BinaryIO]:
    """Binary writer for ``path``; gzip (deterministic bytes) when the name ends in ``.gz``."""
    with open(path, "wb") as raw:
        if not str(path).endswith(".gz"):
            yield raw
            return
        stream = GzipStream(raw, gzip_level)
        yield stream  # type: ignore[misc]
        stream.close()


def write_text(path: str | os.PathLike, text: str, gzip_level: int = 1) -> None:
    """Write ``text`` (UTF-8); gzip when ``path`` ends in ``.gz`` (see :func:`open_output`)."""
    with open_output(path, gzip_level) as handle:
        handle.write(text.encode())


def first_non_utf8_line(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(line number, first bad byte)`` of the first line of a (gzip) file that is not UTF-8, else None."""
    opener = gzip.open if is_gzip(path) else open
    try:
        with opener(path, "rb") as handle:
            for lineno, line in enumerate(handle, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return lineno, line[exc.start]
    except (*GZIP_ERRORS, OSError):
        return None
    return None


def not_utf8_message(path: str | os.PathLike, exc: UnicodeDecodeError | None = None) -> str:
    """One line for a text input that is not UTF-8 (Latin-1, a binary file): where, and what to do."""
    found = first_non_utf8_line(path)
    where = f"{path}:{found[0]}" if found else str(path)
    byte = f"byte 0x{found[1]:02x}" if found else (exc.reason if exc else "undecodable bytes")
    return (
        f"{where}: not UTF-8 text ({byte}): is it a binary file, or text in another encoding "
        "(Latin-1)? Save it as UTF-8 text"
    )


def read_utf8_lines(path: str | os.PathLike) -> list[str]:
    """All lines of a (gzip) text file that must be UTF-8 (samplesheets, chromosome sizes): a file in
    another encoding or a binary file → FactorNetError naming ``file:line``, instead of text silently
    altered by replacement characters."""
    path = Path(path)
    if not path.is_file():
        raise FactorNetError(f"file {str(path)!r} does not exist or is not a file")
    try:
        data = gzip.decompress(path.read_bytes()) if is_gzip(path) else path.read_bytes()
    except GZIP_ERRORS as exc:
        raise FactorNetError(f"{path}: damaged or truncated gzip file ({exc})") from None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise FactorNetError(not_utf8_message(path, exc)) from None
