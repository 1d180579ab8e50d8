"""``factornet demo``: the whole chain on built-in simulated data."""

from __future__ import annotations

import sys
import time

from factornet_core.demo import run_demo
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "demo",
        run,
        help="run simulate → bin → train → predict → bag → evaluate → interpret on built-in data",
        description="Simulate a small genome with planted CTCF/GABPA sites, train CTCF models (two seeds) in one "
        "cell type, predict a cell type never seen in training on a held-out chromosome, rank-average the seeds, "
        "score against the labels and interpret the kernels. Takes a few minutes on 2 CPU cores.",
    )
    p.add_argument("--out", default="demo_out", help="folder to write (must be empty or absent)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the dataset and first model")
    p.add_argument("--epochs", type=int, default=10, help="maximum training epochs per model")


def run(args) -> int:
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    result = run_demo(args.out, seed=args.seed, epochs=args.epochs, log=log)
    cols = ["model", "tf", "cell", "auroc", "auprc", "recall_at_10pct_fdr", "recall_at_50pct_fdr", "n_bound"]
    print(result.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"), file=sys.stderr)
    if result.best_motif_match:
        kernel, motif, r = result.best_motif_match
        print(f"best kernel motif match: {kernel} ~ {motif} (r = {r:.2f})", file=sys.stderr)
    log(f"done: outputs in {result.out_dir}/ (metrics: demo_metrics.json, eval.*.png, motifs/, saliency/)")
    return 0
