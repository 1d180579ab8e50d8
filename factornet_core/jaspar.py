"""Motifs by TF name from JASPAR (CORE collection, vertebrates), read offline through ``pyjaspar``.

``pyjaspar`` ships the JASPAR SQLite databases inside the wheel, so no network is needed. We use the
latest release it ships (:data:`RELEASE`). A TF name is matched case-insensitively against the
profiles' names (``CTCF``, ``REST``, ``Hnf4a``); several profiles can carry one name (CTCF has
MA0139, MA1929 and MA1930): we take the **lowest base ID** — JASPAR's first, canonical profile for
the factor — at its latest version. A matrix ID (``MA0139`` or ``MA0139.2``) selects a profile
directly.

Source: Rauluseviciute et al., JASPAR 2024, Nucleic Acids Res. 52:D174 (and later releases);
pyjaspar, Khan & Mathelier, https://github.com/asntech/pyjaspar.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from factornet_core.errors import FactorNetError
from factornet_core.meme import Motif

COLLECTION = "CORE"
TAX_GROUP = "vertebrates"
_MATRIX_ID = re.compile(r"^(MA\d{4})(?:\.(\d+))?$", re.IGNORECASE)


def latest_release() -> str:
    """The newest JASPAR release the installed ``pyjaspar`` ships (e.g. ``JASPAR2026``): the one used."""
    try:
        import pyjaspar
    except ImportError:  # pragma: no cover - a declared dependency
        raise FactorNetError("JASPAR motifs need the 'pyjaspar' package: pip install pyjaspar") from None
    return pyjaspar.JASPAR_LATEST_RELEASE


@dataclass(frozen=True)
class JasparMotif:
    """A JASPAR profile chosen for a TF.

    ``motif.pwm`` is ``(width, 4) float64`` letter probabilities (A, C, G, T; the counts normalised
    per position); ``counts`` the raw position frequency matrix ``(width, 4)``.
    """

    matrix_id: str  # e.g. "MA0139.2"
    name: str  # JASPAR's TF name, e.g. "CTCF"
    version: int  # the profile's version (the number after the dot)
    release: str  # e.g. "JASPAR2026"
    counts: np.ndarray

    @property
    def motif(self) -> Motif:
        pwm = self.counts / np.maximum(self.counts.sum(axis=1, keepdims=True), 1e-12)
        return Motif(self.matrix_id, self.name, pwm, int(round(self.counts[0].sum())))

    def card(self) -> dict:
        """What a model card or report records about the motif (see :func:`resolve_motif`)."""
        motif = self.motif
        return {
            "source": "jaspar",
            "release": self.release,
            "collection": COLLECTION,
            "matrix_id": self.matrix_id,
            "name": self.name,
            "version": self.version,
            "width": motif.width,
            "sha256": motif.sha256,
        }


@lru_cache(maxsize=2)
def _db(release: str):
    from pyjaspar import jaspardb

    return jaspardb(release=release)


def _profiles(release: str) -> list[tuple[str, int, str]]:
    """``(base_id, latest version, name)`` of every CORE vertebrate profile in ``release``."""
    cur = _db(release).conn.cursor()
    cur.execute(
        "SELECT M.BASE_ID, MAX(M.VERSION), M.NAME FROM MATRIX M JOIN MATRIX_ANNOTATION A ON A.ID = M.ID "
        "WHERE A.TAG = 'tax_group' AND A.VAL = ? AND M.COLLECTION = ? GROUP BY M.BASE_ID, M.NAME",
        (TAX_GROUP, COLLECTION),
    )
    return [(str(b), int(v), str(n)) for b, v, n in cur.fetchall()]


def close_names(name: str, release: str | None = None, n: int = 5) -> list[str]:
    """Up to ``n`` JASPAR TF names closest to ``name`` (difflib ratio, case-insensitive)."""
    release = release or latest_release()
    names = sorted({p[2] for p in _profiles(release)})
    upper = {x.upper(): x for x in names}
    hits = difflib.get_close_matches(name.upper(), list(upper), n=n, cutoff=0.6)
    prefix = [x for x in names if x.upper().startswith(name.upper()) and x.upper() not in hits]
    return list(dict.fromkeys([upper[h] for h in hits] + prefix))[:n]


def fetch(tf_or_id: str, release: str | None = None) -> JasparMotif:
    """The JASPAR profile of a TF name (or a matrix ID ``MA0139[.2]``).

    Raises
    ------
    FactorNetError
        No CORE vertebrate profile has that name or ID; the message lists close names and suggests
        ``--motif-file``.
    """
    release = release or latest_release()
    query = tf_or_id.strip()
    profiles = _profiles(release)
    match = _MATRIX_ID.match(query)
    if match:
        base = match.group(1).upper()
        versions = [p for p in profiles if p[0] == base]
        version = int(match.group(2)) if match.group(2) else (versions[0][1] if versions else None)
        chosen = (base, version, versions[0][2]) if versions and version is not None else None
    else:
        same = sorted((p for p in profiles if p[2].upper() == query.upper()), key=lambda p: p[0])
        chosen = same[0] if same else None
    if chosen is None:
        close = close_names(query, release)
        hint = f" (close names: {', '.join(close)})" if close else ""
        raise FactorNetError(
            f"no {release} {COLLECTION} {TAX_GROUP} motif for {query!r}{hint}: check the TF name, or "
            "give the motif yourself with --motif-file MEME"
        )
    base, version, _ = chosen
    record = _db(release).fetch_motif_by_id(f"{base}.{version}")
    if record is None:
        raise FactorNetError(f"JASPAR {release} has no matrix {base}.{version}")
    counts = np.array([record.counts[b] for b in "ACGT"], dtype=np.float64).T
    return JasparMotif(f"{base}.{version}", str(record.name), int(version), release, counts)


def resolve_motif(
    tf: str, motif: str | None = None, motif_file: str | os.PathLike | None = None, release: str | None = None
) -> tuple[Motif, dict]:
    """The motif to use for ``tf`` and a portable record of where it came from.

    With ``motif_file`` (MEME v4): the motif named ``motif`` (default ``tf``), by motif or TF name
    (:func:`factornet_core.meme.find_motif`). Otherwise a motif shipped with FactorNet when named by its id
    (``CTCF_f2``: the motifs ``factornet simulate`` plants), else JASPAR by ``motif`` (a TF name or matrix
    ID, default ``tf``), see :func:`fetch`.

    Returns ``(Motif, record)``. The record is what a model card or report keeps, with no path and no
    advice, so it means the same on any machine; ``source`` says which kind it is:

    * ``{"source": "file", "file": <the MEME file's base name>, "name", "width", "sha256"}``
    * ``{"source": "packaged", "name", "width", "sha256"}`` (the motifs of the factornet release that
      wrote the record)
    * ``{"source": "jaspar", "release", "collection", "matrix_id", "name", "version", "width", "sha256"}``

    ``width`` is in bp; ``sha256`` identifies the matrix itself (:attr:`factornet_core.meme.Motif.sha256`).

    Raises
    ------
    factornet_core.meme.MotifNotFound
        ``motif_file`` has no motif of that name.
    FactorNetError
        An unreadable or ambiguous ``motif_file``; a name neither packaged nor in JASPAR.
    """
    from factornet_core.meme import find_motif, read_meme
    from factornet_core.simulate import packaged_motifs_path

    query = motif or tf
    if motif_file is not None:
        chosen = find_motif(read_meme(motif_file), query)
        return chosen, _record(chosen, "file", file=Path(motif_file).name)
    packaged = read_meme(packaged_motifs_path())
    if query in packaged:
        return packaged[query], _record(packaged[query], "packaged")
    found = fetch(query, release)
    return found.motif, found.card()


def _record(motif: Motif, source: str, **where) -> dict:
    return {"source": source, **where, "name": motif.name, "width": motif.width, "sha256": motif.sha256}
