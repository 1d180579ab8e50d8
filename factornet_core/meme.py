"""MEME motif format (version 4): reading PWMs and writing them back.

A motif is a ``(width, 4) float`` letter-probability matrix in A, C, G, T order.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from factornet_core.errors import FactorNetError
from factornet_core.intervals import read_text_lines
from factornet_core.wording import plural, some


@dataclass(eq=False)  # identity equality: a field-wise == would compare the PWM arrays
class Motif:
    """One motif: ``pwm`` is ``(width, 4) float64`` letter probabilities (A, C, G, T), rows sum to 1.

    ``alt_name`` is the MEME alternative name (the TF, in HOCOMOCO files); ``nsites`` the number of
    sites the matrix was counted from (0: unknown).
    """

    name: str
    alt_name: str
    pwm: np.ndarray
    nsites: int = 0

    @property
    def tf(self) -> str:
        """The TF this motif stands for: the alternative name, else the name."""
        return self.alt_name or self.name

    @property
    def width(self) -> int:
        return int(self.pwm.shape[0])

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the matrix as used: ``pwm`` as little-endian float64, row by row (A, C, G, T).

        Identifies the exact matrix a model was initialised from without storing the file it came from.
        """
        return hashlib.sha256(np.ascontiguousarray(self.pwm, dtype="<f8").tobytes()).hexdigest()


class MotifNotFound(FactorNetError):
    """A motif name that no motif of a MEME file has; ``available`` lists the file's motif names."""

    def __init__(self, message: str, available: list[str]):
        super().__init__(message)
        self.available = available


def read_meme(path: str | os.PathLike) -> dict[str, Motif]:
    """All motifs of a MEME (v4) file, keyed by motif name (the first word after ``MOTIF``)."""
    lines = read_text_lines(path)
    motifs: dict[str, Motif] = {}
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("MOTIF"):
            words = line.split()
            if len(words) < 2:
                raise FactorNetError(f"{path}:{i + 1}: MOTIF line without a name")
            name, alt = words[1], (words[2] if len(words) > 2 else "")
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("letter-probability"):
                if lines[j].strip().startswith("MOTIF"):
                    raise FactorNetError(f"{path}:{i + 1}: motif {name} has no letter-probability matrix")
                j += 1
            if j == len(lines):
                raise FactorNetError(f"{path}:{i + 1}: motif {name} has no letter-probability matrix")
            header = lines[j].replace("=", " = ").split()
            width = _header_int(header, "w", path, j)
            nsites = _header_int(header, "nsites", path, j, default=0)
            rows = []
            k = j + 1
            while len(rows) < width and k < len(lines):
                text = lines[k].strip()
                k += 1
                if not text:
                    continue
                try:
                    rows.append([float(v) for v in text.split()[:4]])
                except ValueError:
                    raise FactorNetError(f"{path}:{k}: expected 4 probabilities, got {text[:50]!r}") from None
                if len(rows[-1]) != 4:
                    raise FactorNetError(f"{path}:{k}: expected 4 probabilities (ACGT)")
            if len(rows) != width:
                raise FactorNetError(
                    f"{path}:{j + 1}: motif {name} declares w= {width} but has {plural(len(rows), 'row')}"
                )
            pwm = np.asarray(rows, dtype=np.float64)
            pwm = pwm / np.maximum(pwm.sum(axis=1, keepdims=True), 1e-12)
            motifs[name] = Motif(name, alt, pwm, nsites)
            i = k
        else:
            i += 1
    if not motifs:
        raise FactorNetError(f"{path}: no motifs found (is it a MEME v4 file?)")
    return motifs


def find_motif(motifs: Mapping[str, Motif], name: str) -> Motif:
    """A motif by exact name, or by alternative name (e.g. the TF name) if unique.

    Raises
    ------
    MotifNotFound
        No motif has that name (the message names a few the file has).
    FactorNetError
        Several motifs have it as their alternative name.
    """
    if name in motifs:
        return motifs[name]
    by_alt = [m for m in motifs.values() if m.alt_name == name or m.name.split("_")[0] == name]
    if len(by_alt) == 1:
        return by_alt[0]
    if by_alt:
        raise FactorNetError(f"motif name {name!r} is ambiguous: {', '.join(m.name for m in by_alt)}")
    raise MotifNotFound(
        f"motif {name!r} is not in the motif file (it has {plural(len(motifs), 'motif')}: {some(motifs)})",
        list(motifs),
    )


def write_meme(path: str | os.PathLike, motifs: list[Motif], background: np.ndarray | None = None) -> None:
    """Write motifs as a MEME version 4 text file (what Tomtom reads)."""
    bg = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    with open(path, "w") as out:
        out.write("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
        out.write("Background letter frequencies\n")
        out.write(" ".join(f"{b} {f:.4f}" for b, f in zip("ACGT", bg)) + "\n\n")
        for motif in motifs:
            out.write(f"MOTIF {motif.name}{(' ' + motif.alt_name) if motif.alt_name else ''}\n\n")
            out.write(
                f"letter-probability matrix: alength= 4 w= {motif.pwm.shape[0]} nsites= {motif.nsites} E= 0\n"
            )
            for row in motif.pwm:
                out.write(" " + " ".join(f"{v:.6f}" for v in row) + "\n")
            out.write("\n")


def _header_int(header: list[str], key: str, path, lineno: int, default: int | None = None) -> int:
    if key in header:
        idx = header.index(key)
        try:
            return int(float(header[idx + 2]))
        except (IndexError, ValueError):
            pass
    if default is not None:
        return default
    raise FactorNetError(f"{path}:{lineno + 1}: letter-probability line lacks '{key}='")
