"""Training throughput: loader alone, plain ``model.fit``, and ``factornet train``'s path.

Paper configuration (L = 1000, w = 26, k = 32, r = 32, d = 128, 2 tracks), single-task CTCF on a simulated
dataset (``--chroms`` chromosomes of ``--chrom-length`` bp, 3 cell types; chr2 is the validation
chromosome). One epoch's plan comes from :class:`factornet_core.sampling.SingleTaskSampler`, as in
``factornet train``.

* **loader**: ``PlanDataset[i]`` for every batch of the plan, one thread (what reading costs in CPU).
* **step**: ``train_on_batch`` / ``predict_on_batch`` on one in-memory batch of 100 (compute only).
* **plain fit**: ``model.fit(x, y, batch_size=100)`` on the plan's windows already in memory; the first
  epoch (includes tracing) and the second (steady state).
* **ours**: :func:`factornet_core.training.train` for ``--epochs`` epochs: steady samples/s measured
  between batch ends (loader threads + fit), and the per-epoch fixed costs (first-batch latency,
  validation, resume-state saving) timed separately.

Usage::

    python bench/bench_train.py [--data DIR] [--chroms 3] [--chrom-length 2000000] [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from factornet_core.simulate import simulate_dataset

PAPER = dict(seq_len=1000, kernel_width=26, kernels=32, lstm_units=32, dense_units=128)


def make_plan(data: Path, sim, seed: int = 1):
    """One training epoch's plan, set up as ``factornet train`` does (public sampling API)."""
    from factornet_core.genome import Genome
    from factornet_core.samplesheet import read_samplesheet, select_tf
    from factornet_core.sampling import training_samples
    from factornet_core.tracks import TrackSet
    from factornet_core.windows import WindowReader

    selection = select_tf(read_samplesheet(sim.samplesheet), "CTCF")
    genome = Genome(sim.genome)
    sizes = genome.chrom_sizes
    train_chroms = [c for c in sizes if c != "chr2"]
    samples = training_samples(selection, sizes, train_chroms, ["chr2"], seed=seed)
    readers = [WindowReader(genome, TrackSet(selection.tracks(c)), PAPER["seq_len"]) for c in selection.cells]
    return samples.train.epoch(0), readers


def loader_rate(plan, readers, repeats: int) -> float:
    from factornet_core.dataset import PlanDataset

    ds = PlanDataset(plan, readers, None, 100, workers=1)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(len(ds)):
            ds[i]
        best = max(best, len(plan) / (time.perf_counter() - t0))
    return best


def new_model():
    import keras

    from factornet_core.model import ModelConfig, build_model

    keras.utils.set_random_seed(0)
    net = build_model(ModelConfig(**PAPER))
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return net


def step_times(repeats: int = 10) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = rng.random((100, 1000, 6)).astype(np.float32)
    y = (rng.random((100, 1)) < 0.5).astype(np.float32)
    net = new_model()
    for _ in range(3):
        net.train_on_batch(x, y)
        net.predict_on_batch(x)
    train, fwd = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        net.train_on_batch(x, y)
        train.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        net.predict_on_batch(x)
        fwd.append(time.perf_counter() - t0)
    return min(train), min(fwd)


def plain_fit(plan, readers) -> tuple[float, float]:
    from factornet_core.dataset import plan_inputs

    x, _ = plan_inputs(plan, readers, None)
    net = new_model()
    rates = []
    for _ in range(2):
        t0 = time.perf_counter()
        net.fit(x, plan.y, batch_size=100, epochs=1, verbose=0, shuffle=False)
        rates.append(len(plan) / (time.perf_counter() - t0))
    return rates[0], rates[1]


def ours(sim, epochs: int, work: Path) -> dict:
    from factornet_core import training

    timings = {"validation": [], "resume_state": []}

    class Hook(training.Progress):
        def __init__(self):
            self.epochs = []

        def epoch_start(self, epoch, epochs, n_batches):
            self.t0, self.ends = time.perf_counter(), []

        def batch_end(self, batch, loss):
            self.ends.append(time.perf_counter())

        def timing(self, what, seconds):
            timings[what].append(seconds)

        def epoch_end(self, record):
            e = self.ends
            self.epochs.append(
                {
                    "first_batch_s": e[0] - self.t0,
                    "steady": 100 * (len(e) - 2) / (e[-1] - e[1]),
                    "batches": len(e),
                }
            )

    hook = Hook()
    settings = training.TrainSettings(
        tf="CTCF", epochs=epochs, patience=epochs, seed=1, valid_chroms=["chr2"], **PAPER
    )
    t0 = time.perf_counter()
    result = training.train(sim.samplesheet, sim.genome, work / "bench.keras", settings, progress=hook)
    total = time.perf_counter() - t0
    return {"epochs": hook.epochs, "total_s": total, "n_train": result.n_train, **timings}


def _join(values, fmt: str = ".0f") -> str:
    return ", ".join(format(v, fmt) for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="simulated dataset folder (made if missing)")
    parser.add_argument("--chroms", type=int, default=3)
    parser.add_argument("--chrom-length", type=int, default=2_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="bench_train.")
    work = Path(tmp.name)
    data = args.data or work / "sim"
    # deterministic: the same folder content every time (regenerated, ~10 s)
    sim = simulate_dataset(data, seed=1, n_chroms=args.chroms, chrom_length=args.chrom_length, force=True)
    plan, readers = make_plan(data, sim)
    print(f"plan: {len(plan)} samples ({int(plan.y.sum())} positives), {len(readers)} cell types")

    loader = loader_rate(plan, readers, args.repeats)
    print(f"loader alone (1 thread)               {loader:8.0f} samples/s")
    train_s, fwd_s = step_times()
    print(
        f"train step, batch 100 (compute only)  {100 / train_s:8.0f} samples/s "
        f"({1e3 * train_s:.0f} ms; forward {1e3 * fwd_s:.0f} ms = {100 / fwd_s:.0f}/s; step/forward {train_s / fwd_s:.1f}x)"
    )
    first, steady = plain_fit(plan, readers)
    print(
        f"plain model.fit, in memory            {steady:8.0f} samples/s (first epoch incl. tracing {first:.0f})"
    )
    r = ours(sim, args.epochs, work)
    steady_ours = max(e["steady"] for e in r["epochs"])
    print(
        f"factornet train path, steady          {steady_ours:8.0f} samples/s "
        f"(per epoch: {_join(e['steady'] for e in r['epochs'])})"
    )
    print(
        f"  whole run {r['total_s']:.0f} s for {args.epochs} x {r['n_train']} samples = "
        f"{args.epochs * r['n_train'] / r['total_s']:.0f} samples/s; first-batch latency per epoch "
        f"{_join((e['first_batch_s'] for e in r['epochs']), '.1f')} s; validation "
        f"{_join(r['validation'], '.1f')} s; resume state "
        f"{_join(r['resume_state'], '.1f')} s"
    )
    print(
        f"ratios: ours/plain fit {steady_ours / steady:.2f}x, loader/ours {loader / steady_ours:.1f}x, "
        f"ours/compute-only step {steady_ours * train_s / 100:.2f}"
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
