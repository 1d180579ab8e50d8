"""``factornet evaluate``: DREAM metrics and PR/ROC curves of predictions against labels or peaks."""

from __future__ import annotations

import argparse
import os
import sys

from factornet_core import FactorNetError
from factornet_core.evaluation import evaluate, format_table
from factornet_tools import common


def register(sub: argparse._SubParsersAction) -> None:
    parser = common.add_subparser(
        sub,
        "evaluate",
        run,
        help="score predictions (several side by side): auROC, auPR (PRROC Davis-Goadrich), recall at FDR, plots",
        description="Evaluate a prediction file as the ENCODE-DREAM challenge scored submissions. "
        "Labels come from DREAM label files (--labels, one per TF; --cell picks the cell-type column) "
        "or from peaks labelled over the prediction bins (--peaks [--relaxed]). Every predicted bin "
        "needs a label; ambiguous bins are excluded. For a multi-TF prediction file give --tf, or "
        "--labels TF=PATH once per TF. Several prediction files (models and baselines over the same bins) "
        "are scored side by side on the same labels. Writes PREFIX.metrics.json, PREFIX.metrics.tsv (one "
        "row per file, TF and cell type), PREFIX.pr.png (all curves, prevalence line), PREFIX.roc.png (all "
        "curves, diagonal) and PREFIX.aupr.png (auPR bars); the table is also printed to stderr.",
    )
    parser.add_argument(
        "--predictions",
        required=True,
        nargs="+",
        metavar="PRED",
        help="prediction files, one or more (TSV.gz, header or DREAM layout); several are compared side by side",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--labels",
        action="append",
        metavar="[TF=]PATH",
        help="DREAM label TSV(.gz); repeat as TF=PATH to evaluate several TFs of one prediction file",
    )
    source.add_argument("--peaks", help="conservative (IDR) peaks, narrowPeak/BED(.gz), for one TF")
    parser.add_argument(
        "--relaxed", help="relaxed peaks (bins overlapping them become ambiguous); needs --peaks"
    )
    parser.add_argument("--cell", help="cell type: the labels column to use (needed if the file has several)")
    parser.add_argument("--tf", help="TF to evaluate; names the score of a DREAM-layout prediction file")
    parser.add_argument("--out-prefix", required=True, help="prefix of the output files")
    parser.add_argument(
        "--name",
        nargs="+",
        help="model names for the report, one per prediction file (default: file names)",
    )


def _labels(specs: list[str] | None):
    if specs is None:
        return None
    if len(specs) == 1 and ("=" not in specs[0] or os.path.exists(specs[0])):
        common.require_files(specs[0], what="labels")
        return specs[0]
    plan = {}
    for spec in specs:
        tf, sep, path = spec.partition("=")
        if not sep or not tf or not path:
            raise FactorNetError(f"--labels {spec!r}: with several labels files write each as TF=PATH")
        if tf in plan:
            raise FactorNetError(f"--labels gives TF {tf!r} twice")
        common.require_files(path, what="labels")
        plan[tf] = path
    return plan


def run(args: argparse.Namespace) -> int:
    common.require_files(*args.predictions, what="predictions")
    common.require_files(args.peaks, args.relaxed, what="peaks")
    result = evaluate(
        args.predictions,
        args.out_prefix,
        labels=_labels(args.labels),
        cell=args.cell,
        peaks=args.peaks,
        relaxed=args.relaxed,
        tf=args.tf,
        name=args.name,
    )
    print(format_table(result.table), file=sys.stderr)
    return 0
