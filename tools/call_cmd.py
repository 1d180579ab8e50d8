"""``factornet call``: binding-site calls (narrowPeak) from a prediction file."""

from __future__ import annotations

import sys

from factornet_core.calling import call
from factornet_core.wording import plural
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "call",
        run,
        help="turn per-bin scores into binding-site calls (narrowPeak), one set per TF",
        description="Bins scoring at least the threshold (and not blacklisted) are merged with overlapping or "
        "adjacent called bins into one region; summit = centre of the best bin, score = round(1000 x best "
        "score), signalValue = best score, p/q = -1. Threshold: --threshold S, or --fdr F with --calibration "
        "METRICS.json from 'factornet evaluate' on labelled data of the same TF (the lowest score at which "
        "that evaluation had precision >= 1 - F), or --top N (the N-th best bin's score: at most N calls).",
    )
    p.add_argument(
        "predictions", metavar="PREDICTIONS", help="prediction file 'chr start stop <TF>...' (TSV, .gz)"
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out-prefix", help="write PREFIX.<TF>.narrowPeak, one per TF")
    where.add_argument(
        "-o", "--out", help="write one narrowPeak for all TFs (name column = TF; .gz compresses)"
    )
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--threshold", type=float, metavar="S", help="call bins scoring >= S")
    how.add_argument("--fdr", type=float, metavar="F", help="false-discovery rate (needs --calibration)")
    how.add_argument("--top", type=int, metavar="N", help="call the N best bins (ties kept), merged")
    p.add_argument(
        "--calibration", metavar="METRICS.json", help="metrics JSON of 'factornet evaluate' for --fdr"
    )
    p.add_argument("--tf", action="append", default=[], help="call only this TF (repeatable; default: all)")
    p.add_argument("--blacklist", help="BED of regions where nothing is called")


def run(args) -> int:
    common.require_files(args.predictions, what="predictions")
    common.require_files(args.calibration, what="calibration")
    common.require_files(args.blacklist, what="blacklist")
    result = call(
        args.predictions,
        out_prefix=args.out_prefix,
        out=args.out,
        tfs=args.tf or None,
        threshold=args.threshold,
        fdr=args.fdr,
        calibration=args.calibration,
        top=args.top,
        blacklist=args.blacklist,
    )
    for tf, n in result.n_calls.items():
        print(f"{tf}: {plural(n, 'call')} at score >= {result.thresholds[tf]:.6g}", file=sys.stderr)
    shown = [common.shown(args, "out")] if args.out else [str(p) for p in result.outputs]
    print(f"wrote {', '.join(shown)}", file=sys.stderr)
    return 0
