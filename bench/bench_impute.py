"""``factornet impute`` with the 13 published models vs 13 separate ``factornet predict`` runs.

The published FactorNet models (shared/data/legacy-models; skipped cleanly when absent) are fetched through
a local mirror with ``factornet models fetch`` machinery, then over one simulated chromosome (random
sequence; ``DGF`` DNase-like and ``Unique35`` mapability bigWigs in 10 bp steps; 8 expression-PC values for
the ``meta`` models; six random annotation BEDs for the ``GENCODE`` models, so that all 13 run):

1. ``impute``: the library call with all 13 models, in a fresh process: wall time, peak RSS (``ru_maxrss``);
2. ``predict`` × 13: the library call once per model, one after the other in one fresh process (what a user
   would script), wall time (sum), peak RSS;
3. the ratio predict-time / impute-time, and the check that every impute column equals its predict;
4. ``read``: reading the same spans once (genome one-hot + both bigWigs, as the predictors read them), in the
   parent process: the only work impute shares, so 13 predicts cost at most 12 of these more than impute.

Usage::

    python bench/bench_impute.py [--length 10000000] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))


def shared_models() -> Path | None:
    from conftest import LEGACY_MODELS

    return LEGACY_MODELS if LEGACY_MODELS is not None and LEGACY_MODELS.is_dir() else None


def prepare(work: Path, length: int) -> dict:
    """Models (fetched from the shared folder as a mirror), chromosome, metadata values, annotation BEDs."""
    from bench_predict import make_chromosome

    from factornet_core import catalogue

    mirror = shared_models()
    names = sorted(p.name for p in mirror.iterdir() if p.is_dir())
    result = catalogue.fetch(names, dest=work / "models", mirror=mirror)
    if result.missing:
        raise SystemExit(f"fetch failed: {result.failed or result.not_in_mirror}")
    fasta, dgf, unique35 = make_chromosome(work / f"chr_{length}", length)
    meta = work / "meta.txt"
    meta.write_text("".join(f"{v:.3f} GEPC{i + 1}\n" for i, v in enumerate(np.linspace(-2, 2, 8))))
    beds = work / "annotation_beds"
    beds.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for name in ("cpg", "cds", "intron", "promoter", "utr5", "utr3"):
        starts = np.sort(rng.integers(0, length - 2000, length // 20_000))
        (beds / f"{name}.bed").write_text("".join(f"chr1\t{s}\t{s + 1500}\n" for s in starts))
    return {
        "models": [str(result.fetched[n]) for n in names],
        "genome": str(fasta),
        "tracks": {"DGF": str(dgf), "Unique35": str(unique35)},
        "meta": str(meta),
        "beds": str(beds),
    }


def run_child(mode: str, spec: dict, out: Path) -> dict:
    """Time ``mode`` (impute | predict) in a fresh process; returns its JSON report."""
    report = out / f"{mode}.json"
    cmd = [sys.executable, __file__, "--child", mode, "--spec", json.dumps(spec), "--out", str(out)]
    subprocess.run(cmd, check=True)
    return json.loads(report.read_text())


def child(mode: str, spec: dict, out: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow  # noqa: F401  (imported before timing, as the CLI does)

    from factornet_core.annotations import features_from_beds
    from factornet_core.impute import impute
    from factornet_core.inputs import CellType
    from factornet_core.modelfile import read_card
    from factornet_core.predict import predict

    annotations = features_from_beds(spec["beds"])
    cell = CellType(spec["genome"], spec["tracks"], meta_values=spec["meta"], annotations=annotations)
    t0 = time.perf_counter()
    if mode == "impute":
        result = impute(spec["models"], cell, out / "impute.tsv.gz")
        n_bins = result.n_bins
    else:
        for i, model in enumerate(spec["models"]):
            card = read_card(model)
            own = CellType(spec["genome"], {t: spec["tracks"][t] for t in card.track_names},
                           meta_values=spec["meta"], annotations=annotations)  # fmt: skip
            n_bins = predict(model, own, out / f"predict_{i}.tsv.gz").n_bins
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB → MB (Linux)
    (out / f"{mode}.json").write_text(json.dumps({"seconds": seconds, "n_bins": n_bins, "peak_rss_mb": peak}))


def read_only(spec: dict, chunk_bins: int = 2000) -> float:
    """Seconds to read every span of the chromosome once, as predict/impute read them (no model)."""
    from factornet_core import intervals
    from factornet_core.fastpredict import MAX_SPAN, span_groups
    from factornet_core.inputs import CellData, CellType
    from factornet_core.windows import window_starts

    data = CellData(CellType(spec["genome"], spec["tracks"]), ["Unique35", "DGF"], 1002, 200)
    bins = intervals.tile_bins(data.chrom_sizes, ["chr1"], 200, 50)
    starts = bins["start"].to_numpy()
    t0 = time.perf_counter()
    for lo in range(0, starts.size, chunk_bins):
        w = window_starts(starts[lo : lo + chunk_bins], 200, 1002)
        for group in span_groups(w, 1002, MAX_SPAN):
            data.reader.region("chr1", int(w[group].min()), int(w[group].max()) + 1002)
    data.close()
    return time.perf_counter() - t0


def compare(spec: dict, out: Path) -> float:
    """Largest |impute − predict| over all columns (0 means identical)."""
    from factornet_core.scores import read_predictions

    _, imputed = read_predictions(out / "impute.tsv.gz")
    worst = 0.0
    for i, column in enumerate(imputed.columns):
        _, own = read_predictions(out / f"predict_{i}.tsv.gz")
        worst = max(worst, float(np.abs(imputed[column].to_numpy() - own.iloc[:, 0].to_numpy()).max()))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--length", type=int, default=10_000_000, help="simulated chromosome length (bp)")
    parser.add_argument("--work", help="work folder (kept; default: a temporary one)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.spec), Path(args.out))
        return 0
    if shared_models() is None:
        print("bench_impute: shared/data/legacy-models is absent: nothing to measure (skipped)")
        return 0
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_impute."))
    work.mkdir(parents=True, exist_ok=True)
    spec = prepare(work, args.length)
    out = work / f"out_{args.length}"
    out.mkdir(exist_ok=True)
    imp = run_child("impute", spec, out)
    pred = run_child("predict", spec, out)
    diff = compare(spec, out)
    read = read_only(spec)
    n = imp["n_bins"]
    print(
        f"chromosome {args.length:,} bp, {n:,} bins, {len(spec['models'])} published models (cpu count {os.cpu_count()})"
    )
    print(
        f"impute : {imp['seconds']:8.1f} s  {n * len(spec['models']) / imp['seconds']:8.0f} model-windows/s  peak RSS {imp['peak_rss_mb']:.0f} MB"
    )
    print(
        f"predict: {pred['seconds']:8.1f} s  {n * len(spec['models']) / pred['seconds']:8.0f} model-windows/s  peak RSS {pred['peak_rss_mb']:.0f} MB (13 runs, one process)"
    )
    print(f"ratio predict/impute: {pred['seconds'] / imp['seconds']:.2f}x; max |impute - predict| = {diff}")
    print(
        f"reading every span once: {read:.1f} s = {100 * read / (pred['seconds'] / len(spec['models'])):.1f} % of one "
        f"predict; best possible ratio from reading once ~ {pred['seconds'] / (pred['seconds'] - 12 * read):.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
