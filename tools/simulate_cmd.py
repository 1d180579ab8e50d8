"""``factornet simulate``: write a deterministic ground-truth dataset (genome, tracks, peaks, labels)."""

from __future__ import annotations

import argparse
import sys

from factornet_core import FactorNetError, simulate
from factornet_tools import common


def register(sub: argparse._SubParsersAction) -> None:
    parser = common.add_subparser(
        sub,
        "simulate",
        run,
        help="write a simulated dataset with known binding sites",
        description="Write a deterministic simulated dataset: a genome with planted motif sites, per-cell "
        "DNase-like bigWigs with footprints, a mapability track, conservative/relaxed peaks, DREAM labels, "
        "a GTF, CpG islands, expression tables, a samplesheet and truth.tsv listing every planted site. "
        "The same --seed gives byte-identical files.",
    )
    parser.add_argument("--out", required=True, help="output folder (created; must not exist or be empty)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--chroms", type=int, default=3, help="number of chromosomes (chr1..chrN)")
    parser.add_argument("--chrom-length", type=int, default=1_000_000, help="length of each chromosome (bp)")
    parser.add_argument("--cells", type=int, default=3, help="number of cell types (CellA, CellB, ...)")
    parser.add_argument(
        "--tfs",
        default=",".join(simulate.DEFAULT_TFS),
        help="comma-separated TFs, from the motif file (packaged: CTCF, GABPA, REST, FOXA1, HNF4A)",
    )
    parser.add_argument("--sites-per-mb", type=float, default=120.0, help="bound sites per Mb per TF")
    parser.add_argument("--genes-per-mb", type=float, default=30.0, help="genes per Mb in the GTF")
    parser.add_argument(
        "--motifs", default=None, help="MEME motif file (default: the packaged HOCOMOCO subset)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing non-empty --out folder")
    parser.add_argument(
        "--reads",
        nargs="?",
        const="single",
        choices=["single", "paired"],
        help="also write <CELL>.DNASE.bam per cell type (single- or paired-end reads whose 5' ends are the "
        "DNASE cuts; 'factornet prepare --normalize none' rebuilds <CELL>.DNASE.bw from it)",
    )
    parser.add_argument(
        "--cell-depth",
        action="append",
        default=[],
        metavar="CELL=FACTOR",
        help="multiply one cell type's DNase signal depth (peaks and background), e.g. CellC=0.4; repeatable",
    )
    parser.add_argument(
        "--cell-background",
        action="append",
        default=[],
        metavar="CELL=FACTOR",
        help="multiply one cell type's background cuts only (lower signal-to-noise), e.g. CellC=2.5; repeatable",
    )


def _cell_factors(items: list[str], option: str) -> dict[str, float]:
    out = {}
    for item in items:
        cell, sep, value = item.partition("=")
        if cell.strip() in out:
            raise FactorNetError(f"{option} gives cell type {cell.strip()!r} twice: give each cell type once")
        try:
            out[cell.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not cell.strip():
            raise FactorNetError(f"{option} expects CELL=FACTOR (e.g. CellC=0.4), got {item!r}")
    return out


def run(args: argparse.Namespace) -> int:
    cell_depth = _cell_factors(args.cell_depth, "--cell-depth")
    cell_background = _cell_factors(args.cell_background, "--cell-background")
    if args.motifs is not None:
        common.require_files(args.motifs, what="motif")
    summary = simulate.simulate_dataset(
        args.out,
        seed=args.seed,
        n_chroms=args.chroms,
        chrom_length=args.chrom_length,
        n_cells=args.cells,
        tfs=[t for t in args.tfs.split(",") if t.strip()],
        sites_per_mb=args.sites_per_mb,
        genes_per_mb=args.genes_per_mb,
        motifs_path=args.motifs,
        force=args.force,
        reads=args.reads,
        cell_depth=cell_depth,
        cell_background=cell_background,
    )
    peaks = ", ".join(f"{c}/{t} {n[0]}" for (c, t), n in summary.n_peaks.items())
    print(f"wrote {summary.out_dir} (seed {summary.seed}); conservative peaks: {peaks}", file=sys.stderr)
    return 0
