"""Which motif kernels 0/1 of a new model start from, and what the model card records about it.

Single-task training starts two first-layer kernels from the TF's own motif (forward and reverse
complement), as original FactorNet's Table S1 does (``-mo`` True); multi-task training starts at random
(Table S2) unless a motif is named. The motif is looked up by :func:`factornet_core.jaspar.resolve_motif`
(a MEME file, a motif shipped with FactorNet by id, else JASPAR by TF name or matrix ID) and written into
the kernels by :func:`factornet_core.model.set_motif_kernels`.

The rules (:func:`choose_motif`, called before training opens any input):

* a motif named with ``-mo`` must be found, else an error;
* a MEME file given with ``--motif-file`` must hold the motif (the named one, or the TF's): the file was
  given on purpose, so random kernels would be a silent wrong result. The error names the file, a few of
  its motifs and the fixes (``-mo NAME``, ``--no-motif-init``);
* the TF's own motif by default (no ``-mo``, no ``--motif-file``) may be missing: a notice, and training
  starts from random kernels, recorded in the card as ``motif_not_found``;
* a motif wider than the kernels gives its central columns (:func:`factornet_core.model.motif_columns`):
  a notice, and the card records the columns used.
"""

from __future__ import annotations

import difflib
import os
import shlex
from dataclasses import dataclass

import numpy as np

from factornet_core.errors import FactorNetError
from factornet_core.meme import Motif, MotifNotFound
from factornet_core.wording import plural, some


@dataclass(frozen=True)
class MotifInit:
    """What kernels 0/1 start from.

    Attributes
    ----------
    pwm : ``(width, 4)`` float64 letter probabilities (A, C, G, T), or None for random kernels.
    card : the entries it adds to the model card's ``training`` record: ``motif_init`` (whether kernels
        0/1 start from a motif) and either ``motif_source`` (the record of
        :func:`~factornet_core.jaspar.resolve_motif`, plus ``columns_used``, the 1-based first and last
        motif columns the kernels hold, when the motif was wider than them) or ``motif_not_found``
        (``{"name": ..., "jaspar_release": ...}``: the TF's own motif was looked for and is missing).
        Portable: no paths, no advice.
    notice : one line for :meth:`factornet_core.training.Progress.notice`, or None.
    """

    pwm: np.ndarray | None
    card: dict
    notice: str | None = None


def choose_motif(
    tf: str | None,
    motif: str | None = None,
    motif_file: str | os.PathLike | None = None,
    enabled: bool = True,
    kernel_width: int = 26,
) -> MotifInit:
    """The motif for kernels 0/1 of a model for ``tf`` (None: multi-task), by the rules above.

    ``motif`` is ``-mo`` (a motif name, JASPAR TF name or matrix ID), ``motif_file`` ``--motif-file``,
    ``enabled`` False for ``--no-motif-init``, ``kernel_width`` the first layer's width in bp (``-w``).

    Raises
    ------
    FactorNetError
        ``motif`` together with ``enabled=False``; a named motif not found; ``motif_file`` unreadable,
        ambiguous or without the motif.
    """
    if motif and not enabled:
        raise FactorNetError("-mo/--motif and --no-motif-init contradict each other: drop one of them")
    name = motif or (tf if enabled else None)
    if not name:
        return MotifInit(None, {"motif_init": False})
    from factornet_core.jaspar import resolve_motif

    try:
        found, record = resolve_motif(name, name, motif_file)
    except MotifNotFound as err:
        raise FactorNetError(_not_in_file(motif_file, name, motif is not None, err.available)) from None
    except FactorNetError as err:
        if motif or motif_file:
            raise
        return _missing(name, err)
    return _found(found, record, kernel_width)


def _not_in_file(motif_file, name: str, named: bool, available: list[str]) -> str:
    """The error for a MEME file without the motif: the file, a few of its motifs, the fixes."""
    what = f"motif {name!r}" if named else f"motif for TF {name!r}"
    fixes = f"name one of its motifs with -mo NAME (e.g. -mo {shlex.quote(_closest(name, available))})"
    if named:
        fixes += f", or drop --motif-file to look {name!r} up among the packaged motifs and JASPAR"
    else:
        fixes += ", or start from random kernels with --no-motif-init"
    return (
        f"--motif-file {str(motif_file)!r} has no {what} (it has {plural(available, 'motif')}: "
        f"{some(available)}): {fixes}"
    )


def _closest(name: str, available: list[str]) -> str:
    """The example to suggest for ``name``: the first motif whose name contains it (``CTCFL_f1`` for
    CTCF), else the most similar name (case ignored), not merely the file's first motif."""
    containing = [a for a in available if name.upper() in a.upper()]
    if containing:
        return containing[0]
    upper = {a.upper(): a for a in reversed(available)}  # the first of names equal but for case
    return upper[difflib.get_close_matches(name.upper(), list(upper), n=1, cutoff=0.0)[0]]


def _missing(tf: str, err: FactorNetError) -> MotifInit:
    """The TF's own motif is nowhere: random kernels, a notice, and the card says what was looked for."""
    from factornet_core.jaspar import latest_release

    try:
        release = latest_release()
    except FactorNetError:  # no pyjaspar: the lookup failed for that reason, said in the notice
        release = None
    notice = (
        f"no motif found for {tf!r} to initialise kernels 0/1 ({err}); training continues with "
        "random kernels (name one with -mo, or --no-motif-init to silence this)"
    )
    return MotifInit(
        None, {"motif_init": False, "motif_not_found": {"name": tf, "jaspar_release": release}}, notice
    )


def _found(motif: Motif, record: dict, kernel_width: int) -> MotifInit:
    """Kernels 0/1 from ``motif``; a notice and ``columns_used`` when it is wider than the kernels."""
    from factornet_core.model import motif_columns

    start, end = motif_columns(motif.width, kernel_width)
    record, notice = dict(record), None
    if end - start < motif.width:
        record["columns_used"] = [start + 1, end]
        label = f"{record['matrix_id']} ({record['name']})" if "matrix_id" in record else record["name"]
        notice = (
            f"motif {label} is {motif.width} bp wide, kernels are {kernel_width} bp (-w): its central "
            f"{end - start} columns ({start + 1}–{end}) initialise kernels 0/1"
        )
    return MotifInit(motif.pwm, {"motif_init": True, "motif_source": record}, notice)
