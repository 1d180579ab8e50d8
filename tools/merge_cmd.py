"""``factornet merge``: join per-chromosome prediction shards into one file."""

from __future__ import annotations

import argparse

from factornet_core.scores import merge_prediction_files, read_chrom_order
from factornet_tools import common


def register(sub: argparse._SubParsersAction) -> None:
    parser = common.add_subparser(
        sub,
        "merge",
        run,
        help="concatenate prediction shards (e.g. one per chromosome) into one file",
        description="Concatenate prediction files that each cover part of the genome (Nextflow's "
        "per-chromosome fan-out) into one file identical to an unsharded run. All shards must have the "
        "same TFs; a bin may appear in only one shard.",
    )
    parser.add_argument("shards", nargs="+", metavar="SHARD", help="prediction files (TSV.gz)")
    parser.add_argument("--out", required=True, help="output prediction file (TSV.gz)")
    parser.add_argument(
        "--chrom-order",
        metavar="FILE_OR_LIST",
        help="chromosome order of the output: a comma-separated list, or a file whose first column "
        "lists chromosomes (chrom.sizes, .fai). Default: the order of the shards as given",
    )


def run(args: argparse.Namespace) -> int:
    common.require_files(*args.shards, what="shard")
    order = read_chrom_order(args.chrom_order) if args.chrom_order else None
    merge_prediction_files(args.shards, args.out, chrom_order=order)
    return 0
