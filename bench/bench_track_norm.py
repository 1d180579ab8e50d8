"""Held-out auPR of a low-signal cell type with each ``train --track-norm`` rule (none, 1x, minmax).

The question (issue 19, item 2): does normalising the DNase track per cell type help a model trained on
deep, clean cell types predict a cell whose signal has another depth and more background?

Per seed ``s`` (data and model):

1. ``simulate_dataset(seed=s, n_cells=4)`` with ``CellC`` at ``--depth`` × the accessibility signal
   (default 0.4) and ``--background`` × its background cuts (default 2.5: about the other cells'
   background in absolute terms, so peaks stand 0.4× as high over it); ``CellD`` is an ordinary
   held-out cell (control: normalising should not hurt it);
2. for each rule, train single-task CTCF on CellA + CellB (``DEMO_ARCH``, ``--epochs`` epochs, validation
   chr2, chr3's labels never seen) with ``--track-norm DNASE=<rule>`` (``none`` = no option); each
   cell type's scale covers all three chromosomes (every one the genome and its bigWig share);
3. predict CellC and CellD on chr3 (blacklist applied) and score auPR against the simulator's labels.

Prints one table (mean ± sd over seeds) and writes every number to ``<work>/bench_track_norm.json``.

Usage::

    python bench/bench_track_norm.py [--seeds 1,2,3] [--epochs 3] [--chrom-length 300000] [--jobs 1] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RULES = ("none", "1x", "minmax")
HELD_OUT = ("CellC", "CellD")


def run_seed(work: Path, seed: int, args) -> list[dict]:
    from factornet_core import evaluation, predict, training
    from factornet_core.demo import DEMO_ARCH
    from factornet_core.inputs import CellType
    from factornet_core.samplesheet import read_samplesheet, select_tf
    from factornet_core.simulate import simulate_dataset

    sim = simulate_dataset(
        work / f"data{seed}",
        seed=seed,
        n_chroms=3,
        chrom_length=args.chrom_length,
        n_cells=4,
        cell_depth={"CellC": args.depth},
        cell_background={"CellC": args.background},
    )
    ctcf = select_tf(read_samplesheet(sim.samplesheet), "CTCF")
    rows = []
    for rule in RULES:
        model = work / f"seed{seed}.{rule}.keras"
        settings = training.TrainSettings(
            tf="CTCF",
            cells=["CellA", "CellB"],
            valid_chroms=["chr2"],
            exclude_chroms=["chr3"],
            epochs=args.epochs,
            patience=args.epochs,
            seed=seed,
            workers=1,
            track_norms={} if rule == "none" else {"DNASE": rule},
            **DEMO_ARCH,
        )
        t0 = time.perf_counter()
        training.train(sim.samplesheet, sim.genome, model, settings, blacklist=sim.blacklist)
        t_train = time.perf_counter() - t0
        for cell in HELD_OUT:
            pred = work / f"seed{seed}.{rule}.{cell}.tsv.gz"
            predict.predict(
                model,
                CellType(sim.genome, ctcf.tracks(cell)),
                pred,
                predict.PredictOptions(chroms=["chr3"], blacklist=sim.blacklist),
            )
            table = evaluation.evaluate(
                pred, work / f"eval.seed{seed}.{rule}.{cell}", labels=sim.labels["CTCF"], cell=cell
            ).table
            rows.append(
                {
                    "seed": seed,
                    "rule": rule,
                    "cell": cell,
                    "auPR": float(table["auprc"].iloc[0]),
                    "train_s": round(t_train, 1),
                }
            )
            print(f"seed {seed} {rule:6s} {cell}: auPR {rows[-1]['auPR']:.4f}", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| rule | CellC (0.4× signal, more background) auPR | CellD (ordinary held-out) auPR |",
        "|---|---|---|",
    ]
    for rule in RULES:
        cells = []
        for cell in HELD_OUT:
            v = np.array([r["auPR"] for r in rows if r["rule"] == rule and r["cell"] == cell])
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1) if v.size > 1 else 0:.3f} (n={v.size})")
        lines.append(f"| {rule} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--chrom-length", type=int, default=300_000)
    p.add_argument("--depth", type=float, default=0.4, help="CellC signal depth factor")
    p.add_argument("--background", type=float, default=2.5, help="CellC background factor")
    p.add_argument("--jobs", type=int, default=1, help="seeds run in parallel processes")
    p.add_argument("--work", help="folder for data, models and predictions (default: a temporary one)")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-track-norm-") as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.jobs > 1:  # seeds in parallel processes (spawned: TensorFlow is not fork-safe)
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
                parts = list(pool.map(run_seed, [work] * len(seeds), seeds, [args] * len(seeds)))
        else:
            parts = [run_seed(work, s, args) for s in seeds]
        rows = [r for part in parts for r in part]
        (work / "bench_track_norm.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    print(table(rows))
    print(
        f"\nwall time {time.perf_counter() - t0:.0f} s; seeds {seeds}; epochs {args.epochs}", file=sys.stderr
    )


if __name__ == "__main__":
    main()
