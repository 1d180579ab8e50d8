"""Index files beside data files (``.fai``/``.gzi`` of a FASTA, ``.bai``/``.csi``/``.crai`` of a BAM/CRAM):
trusted only when fresh, else rebuilt — never read into a silently wrong sequence or read set.

An index is *stale* when it is older than its data file, or (``.fai`` of a plain FASTA) when it does not
describe the file: a FASTA re-wrapped or edited under an old index, even with its time stamp kept
(``cp -p``, ``rsync -t``). A stale index is rebuilt: beside the data when that folder is writable (into a
temporary name, then renamed over the old index, so a concurrent reader never sees half an index), else
into a private temporary folder that lives only as long as the run. The user's old index is never
used.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path


def is_older(index: str | os.PathLike, data: str | os.PathLike) -> bool:
    """True if ``index`` was modified before ``data`` (a data file rewritten after indexing)."""
    return os.stat(index).st_mtime_ns < os.stat(data).st_mtime_ns


def fai_matches(fasta: str | os.PathLike, fai: str | os.PathLike) -> bool:
    """Does the ``.fai`` describe this plain FASTA? Checks, per record, that the header line ``>NAME``
    ends right before the recorded offset, that the first sequence line has the recorded width
    (line bases, then the line end), and that the record fits in the file. Two small reads per record.
    """
    size = os.path.getsize(fasta)
    try:
        with open(fai, encoding="utf-8") as handle:
            rows = [line.rstrip("\r\n").split("\t") for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError):
        return False
    with open(fasta, "rb") as seq:
        for row in rows:
            if len(row) < 5:
                return False
            try:
                name = row[0].encode()
                length, offset, bases, width = (int(x) for x in row[1:5])
            except (ValueError, UnicodeEncodeError):
                return False
            if bases < 1 or width <= bases or offset < len(name) + 2:
                return False
            full, rest = divmod(length, bases)
            last_end = width - bases if rest == 0 and full else 0  # a file may lack its final line end
            if offset + full * width + rest - last_end > size:
                return False
            start = max(offset - len(name) - 4096, 0)
            seq.seek(start)
            before = seq.read(offset - start)
            if not before.endswith(b"\n"):
                return False
            line = before[:-1].rsplit(b"\n", 1)[-1].rstrip(b"\r")
            if not line.startswith(b">") or (line[1:].split(None, 1) or [b""])[0] != name:
                return False
            if length > bases:  # the first line holds exactly `bases` bases, then the line end
                seq.seek(offset)
                first = seq.read(width)
                if len(first) < width or b"\n" in first[:bases] or first[bases:] not in (b"\n", b"\r\n"):
                    return False
    return True


@dataclass
class FreshIndex:
    """Where a FASTA's usable indexes are (``fai``, ``gzi``: paths to pass to pyfaidx) and how to tidy
    up after they are read (:meth:`finish`)."""

    fai: Path
    gzi: Path | None
    _moves: list[tuple[Path, Path]] = field(default_factory=list)
    _tmpdir: Path | None = None

    def finish(self, ok: bool) -> None:
        """After pyfaidx has read the indexes: publish rebuilt ones beside the FASTA (``ok``) and remove
        temporary files."""
        for tmp, final in self._moves:
            try:
                if ok and tmp.exists():
                    os.replace(tmp, final)
                else:
                    tmp.unlink(missing_ok=True)
            except OSError:  # a read-only or vanished folder: the index was still used from tmp
                tmp.unlink(missing_ok=True)
        self._moves.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def fasta_index(fasta: Path, bgzf: bool) -> FreshIndex:
    """The ``.fai`` (and ``.gzi`` for bgzip) to open ``fasta`` with: the existing ones when fresh,
    else names where pyfaidx builds new ones (it builds an index that does not exist yet)."""
    fai, gzi = Path(f"{fasta}.fai"), Path(f"{fasta}.gzi")
    fai_ok = fai.is_file() and not is_older(fai, fasta) and (bgzf or fai_matches(fasta, fai))
    gzi_ok = not bgzf or (gzi.is_file() and not is_older(gzi, fasta))
    if fai_ok and gzi_ok:
        return FreshIndex(fai, gzi if bgzf else None)
    if not fai.exists() and not (bgzf and gzi.exists()) and os.access(fasta.parent, os.W_OK):
        return FreshIndex(fai, gzi if bgzf else None)  # first use: pyfaidx builds them in place
    folder = fasta.parent
    index = FreshIndex(fai, gzi if bgzf else None)
    if os.access(folder, os.W_OK):
        tag = uuid.uuid4().hex[:8]
        new_fai, new_gzi = folder / f".{fai.name}.{tag}.part", folder / f".{gzi.name}.{tag}.part"
        index._moves = [(new_fai, fai)] + ([(new_gzi, gzi)] if bgzf else [])
    else:
        index._tmpdir = Path(tempfile.mkdtemp(prefix="factornet-index."))
        new_fai, new_gzi = index._tmpdir / fai.name, index._tmpdir / gzi.name
    # a stale .gzi forces a new .fai too (offsets are in the same coordinates), and the reverse
    index.fai, index.gzi = new_fai, (new_gzi if bgzf else None)
    return index


def stale_alignment_index(path: str | os.PathLike) -> Path | None:
    """The index htslib would use for a BAM/CRAM (``X.bam.bai``, ``X.bai``, ``X.bam.csi``, ``X.cram.crai``)
    if it is older than the file, else None. htslib itself only warns about an old index (and pysam
    silences the warning), then reads with offsets into the old file."""
    path = Path(path)
    stem = path.with_suffix("")
    for candidate in (
        Path(f"{path}.bai"),
        Path(f"{path}.csi"),
        Path(f"{path}.crai"),
        Path(f"{stem}.bai"),
        Path(f"{stem}.csi"),
        Path(f"{stem}.crai"),
    ):
        if candidate.is_file():
            return candidate if is_older(candidate, path) else None
    return None
