"""Helpers shared by the subcommand modules: parser creation and path checks."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from factornet_core import FactorNetError


def add_subparser(
    sub: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int], **kwargs
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with the options every subcommand shares (``--debug``)."""
    kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
    parser = sub.add_parser(name, **kwargs)
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.set_defaults(func=run, prog_name=parser.prog)
    return parser


def require_files(*paths: str | os.PathLike | None, what: str = "input") -> None:
    """Fail with one clear line if any given path is not an existing, readable file."""
    for path in paths:
        if path is None:
            continue
        if not os.path.exists(path):
            raise FactorNetError(f"{what} file {str(path)!r} does not exist")
        if os.path.isdir(path):
            raise FactorNetError(f"{what} {str(path)!r} is a directory, expected a file")
        if not os.access(path, os.R_OK):
            raise FactorNetError(f"{what} file {str(path)!r} is not readable")


def parse_chroms(text: str | None) -> list[str] | None:
    """``chr1,chr2`` or ``chr1 chr2`` → list; None stays None."""
    if text is None:
        return None
    chroms = [c for c in text.replace(",", " ").split() if c]
    if not chroms:
        raise FactorNetError("empty chromosome list")
    return chroms


def cell_inputs(args) -> tuple[dict[str, str], str | None]:
    """Tracks (name → bigWig) and the expression table of one cell type, from ``--samplesheet``/``--cell``
    and/or repeated ``--track NAME=BIGWIG`` (rules: :func:`factornet_core.samplesheet.cell_inputs`)."""
    from factornet_core.samplesheet import cell_inputs as resolve

    tracks: dict[str, str] = {}
    for item in args.track:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise FactorNetError(f"--track expects NAME=BIGWIG, got {item!r}")
        require_files(path, what=f"track {name}")
        tracks[name] = path
    return resolve(args.samplesheet, args.cell, tracks, getattr(args, "expression", None))


def load_annotations(args, required: bool = False) -> dict | None:
    """The six bin features from ``--annotation-beds`` or ``--gtf`` + ``--cpg`` (None when neither is given)."""
    require_files(args.gtf, args.cpg, what="annotation")
    if not (args.annotation_beds or (args.gtf and args.cpg)):
        if required or args.gtf or args.cpg:
            raise FactorNetError("annotation features need --gtf and --cpg, or --annotation-beds")
        return None
    from factornet_core import annotations

    if args.annotation_beds:
        return annotations.features_from_beds(args.annotation_beds)
    from factornet_core.genome import Genome

    with Genome(args.genome) as genome:
        return annotations.features_from_gtf(args.gtf, args.cpg, genome.chrom_sizes)
