"""``factornet bag``: combine several models' predictions for the same bins."""

from __future__ import annotations

import argparse

from factornet_core.bagging import METHODS, bag_prediction_files
from factornet_tools import common


def register(sub: argparse._SubParsersAction) -> None:
    parser = common.add_subparser(
        sub,
        "bag",
        run,
        help="combine predictions of several models (rank or mean average)",
        description="Average the predictions of two or more models over the same bins and TFs. "
        "'rank' (FactorNet's rule) turns each model's scores into ranks scaled to [0, 1] "
        "(ties share their average rank) and averages them; 'mean' averages the scores. "
        "Files must list the same bins in the same order and the same TFs.",
    )
    parser.add_argument(
        "predictions", nargs="+", metavar="PRED", help="prediction files (TSV.gz), at least two"
    )
    parser.add_argument("--out", required=True, help="output prediction file (TSV.gz)")
    parser.add_argument("--method", choices=METHODS, default="rank", help="how to combine scores")


def run(args: argparse.Namespace) -> int:
    common.require_files(*args.predictions, what="predictions")
    bag_prediction_files(args.predictions, args.out, method=args.method)
    return 0
