"""Reference genome access (FASTA via pyfaidx) and chromosome sizes.

Reads return channel codes (see :mod:`factornet_core.dna`) with positions outside the chromosome
padded as N, so windows at chromosome ends need no special casing upstream.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pyfaidx

from factornet_core import dna, sidecars, textio
from factornet_core.errors import FactorNetError
from factornet_core.intervals import MAX_COORD, unknown_chromosome

N_CODE = 4


def read_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Two-column ``chrom<TAB>size`` file (UCSC ``.chrom.sizes`` or a ``.fai``) → ordered dict."""
    sizes: dict[str, int] = {}
    if not os.path.isfile(path):
        raise FactorNetError(f"chromosome sizes file {str(path)!r} does not exist")
    for lineno, line in enumerate(textio.read_utf8_lines(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 2 or not fields[1].isascii() or not fields[1].isdigit():
            raise FactorNetError(f"{path}:{lineno}: expected 'chrom<TAB>size', got {line.strip()[:60]!r}")
        if int(fields[1]) > MAX_COORD:
            raise FactorNetError(f"{path}:{lineno}: chromosome size {fields[1]} is beyond {MAX_COORD}")
        if fields[0] in sizes:
            raise FactorNetError(f"{path}:{lineno}: chromosome {fields[0]!r} is listed twice")
        sizes[fields[0]] = int(fields[1])
    if not sizes:
        raise FactorNetError(f"chromosome sizes file {str(path)!r} is empty")
    return sizes


class Genome:
    """A FASTA genome opened once; fetches sequence as channel codes.

    Parameters
    ----------
    path : FASTA file, plain or bgzip-compressed; a ``.fai`` (and ``.gzi``) index is made beside it if
        missing, and rebuilt if stale — older than the FASTA or not describing it, e.g. a FASTA re-wrapped
        under an old index (:mod:`factornet_core.sidecars`; into a temporary folder when the FASTA's
        folder is read-only).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise FactorNetError(f"genome FASTA {str(path)!r} does not exist")
        bgzf = _refuse_plain_gzip(self.path)
        index = sidecars.fasta_index(self.path, bgzf)
        self._link_dir, name = _name_for_pyfaidx(self.path, bgzf)
        opened = False
        try:
            self._fasta = pyfaidx.Fasta(
                name,
                as_raw=True,
                sequence_always_upper=True,
                rebuild=False,
                indexname=str(index.fai),
                gzi_indexname=str(index.gzi) if index.gzi else None,
            )
            opened = True
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat, ValueError) as exc:
            raise FactorNetError(f"cannot index genome FASTA {str(path)!r}: {exc}") from None
        except ImportError as exc:  # pyfaidx needs Biopython for bgzip and raises ImportError without it
            raise FactorNetError(
                f"cannot read bgzip-compressed genome {str(path)!r}: {exc} "
                f"(or decompress it: 'gunzip -c {self.path.name} > {self.path.stem}')"
            ) from None
        except PermissionError:
            raise FactorNetError(
                f"cannot write the index {str(path)}.fai: make the folder writable or run 'samtools faidx' first"
            ) from None
        finally:
            index.finish(opened)
            if not opened and self._link_dir is not None:
                self._link_dir.cleanup()
        self.chrom_sizes: dict[str, int] = {name: len(rec) for name, rec in self._fasta.records.items()}

    def codes(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Channel codes ``(end - start,) uint8`` for ``chrom:start-end`` (0-based, half-open).

        Positions before 0 or past the chromosome end are N (code 4).
        """
        size = self.chrom_sizes.get(chrom)
        if size is None:
            raise unknown_chromosome(chrom, self.chrom_sizes, f"{self.path.name}: chromosome")
        out = np.full(end - start, N_CODE, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, size)
        if hi > lo:
            out[lo - start : hi - start] = dna.encode(self._fasta[chrom][lo:hi])
        return out

    def one_hot(self, chrom: str, start: int, end: int) -> np.ndarray:
        """``(end - start, 4) float32`` one-hot sequence, N (and outside the chromosome) → zeros."""
        return dna.one_hot(self.codes(chrom, start, end))

    def close(self) -> None:
        self._fasta.close()
        if self._link_dir is not None:
            self._link_dir.cleanup()
            self._link_dir = None

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _plain_name(path: Path) -> str:
    """The decompressed file's name for the advice: never the input's own name (pasting the advice must
    not truncate the file it reads)."""
    name = path.name[: -len(".gz")] if path.name.endswith(".gz") else f"{path.name}.fa"
    return name if name != path.name else f"{name}.plain"


def _name_for_pyfaidx(path: Path, bgzf: bool) -> tuple[tempfile.TemporaryDirectory | None, str]:
    """The name to give pyfaidx for ``path``: pyfaidx decides bgzip by the name (``.gz``/``.bgz``), not
    the content, so a bgzip FASTA named ``.fa`` or a plain one named ``.fa.gz`` is opened through a
    symbolic link whose name tells the truth, in a temporary folder (returned, for removal on close)."""
    named_gz = path.name.lower().endswith((".gz", ".bgz"))
    if named_gz == bgzf:
        return None, str(path)
    folder = tempfile.TemporaryDirectory(prefix="factornet-fasta.")
    link = Path(folder.name) / (f"{path.name}.gz" if bgzf else _plain_name(path))
    link.symlink_to(path.resolve())
    return folder, str(link)


def _refuse_plain_gzip(path: Path) -> bool:
    """pyfaidx reads bgzip but not plain gzip; say so instead of failing obscurely. True for bgzip."""
    if not textio.is_gzip(path):
        return False
    with open(path, "rb") as handle:
        head = handle.read(18)
    # BGZF blocks carry the 'BC' extra subfield (SAM spec, section 4.1).
    is_bgzf = len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC"
    if not is_bgzf:
        raise FactorNetError(
            f"genome {str(path)!r} is gzip- but not bgzip-compressed: "
            f"decompress it with 'gunzip -c {path.name} > {_plain_name(path)}' (or recompress that with bgzip)"
        )
    try:
        with textio.open_text(path) as handle:
            handle.read(1)
    except (*textio.GZIP_ERRORS, OSError) as exc:
        raise FactorNetError(f"genome {str(path)!r} is not readable gzip: {exc}") from None
    return True
