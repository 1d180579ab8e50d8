"""Window-loading throughput: one-hot DNA + 2 bigWig tracks at L = 1000, single process.

Two access patterns, both through :class:`factornet_core.windows.WindowReader` on files on disk:

* **dense** — consecutive bins stepping 50 bp, read in chunks, as ``factornet predict`` reads;
* **sparse** — random bins across the whole simulated genome, in training-sized batches, as
  ``factornet train`` samples.

Usage::

    python bench/bench_loader.py [--data DIR] [--chroms 3] [--chrom-length 2000000] [--profile]

The dataset is built once with :func:`factornet_core.simulate.simulate_dataset` (kept in ``--data`` when
given, else a temporary folder). Target: ≥ 5 000 windows/s for each pattern.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np

from factornet_core.genome import Genome
from factornet_core.simulate import simulate_dataset
from factornet_core.tracks import TrackSet
from factornet_core.windows import WindowReader

SEQ_LEN, BIN_SIZE, STRIDE = 1000, 200, 50
TARGET = 5_000


def open_reader(data: Path, cell: str = "CellA") -> WindowReader:
    genome = Genome(data / "genome.fa")
    tracks = TrackSet({"DNASE": data / f"{cell}.DNASE.bw", "MAPABILITY": data / "MAPABILITY.bw"})
    return WindowReader(genome, tracks, SEQ_LEN, BIN_SIZE)


def dense(reader: WindowReader, sizes: dict[str, int], n: int, chunk: int) -> float:
    """Windows/s reading ``n`` consecutive bins (in chunks of ``chunk``) from the start of each chromosome."""
    per_chrom = n // len(sizes)
    t0 = time.perf_counter()
    done = 0
    for chrom, size in sizes.items():
        starts = np.arange(min(per_chrom, (size - BIN_SIZE) // STRIDE + 1), dtype=np.int64) * STRIDE
        for lo in range(0, starts.size, chunk):
            x = reader.windows(chrom, starts[lo : lo + chunk])
            done += x.shape[0]
    return done / (time.perf_counter() - t0)


def sparse(reader: WindowReader, sizes: dict[str, int], n: int, batch: int, seed: int = 0) -> float:
    """Windows/s reading ``n`` uniformly random bins of the whole genome in batches of ``batch``."""
    rng = np.random.default_rng(seed)
    chroms = np.array(list(sizes))
    counts = np.array([(s - BIN_SIZE) // STRIDE + 1 for s in sizes.values()])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    index = rng.integers(0, offsets[-1], n)
    k = np.searchsorted(offsets, index, side="right") - 1
    batch_chroms, batch_starts = chroms[k], (index - offsets[k]) * STRIDE
    t0 = time.perf_counter()
    done = 0
    for lo in range(0, n, batch):
        x = reader.batch(batch_chroms[lo : lo + batch], batch_starts[lo : lo + batch])
        done += x.shape[0]
    return done / (time.perf_counter() - t0)


def profile(fn, *args) -> str:
    prof = cProfile.Profile()
    prof.runcall(fn, *args)
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(12)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="simulated dataset folder (made if missing)")
    parser.add_argument("--chroms", type=int, default=3)
    parser.add_argument("--chrom-length", type=int, default=2_000_000)
    parser.add_argument("--n", type=int, default=30_000, help="windows per measurement")
    parser.add_argument("--chunk", type=int, default=1_000, help="dense: bins per read (predict's chunk)")
    parser.add_argument("--batch", type=int, default=100, help="sparse: windows per batch (train's batch)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile both patterns")
    args = parser.parse_args()

    tmp = None
    data = args.data
    if data is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_loader.")
        data = Path(tmp.name) / "sim"
    if not (data / "genome.fa").is_file():
        t0 = time.perf_counter()
        simulate_dataset(data, seed=1, n_chroms=args.chroms, chrom_length=args.chrom_length, n_cells=1)
        print(
            f"simulated {args.chroms} x {args.chrom_length} bp in {time.perf_counter() - t0:.1f} s → {data}"
        )
    reader = open_reader(data)
    sizes = reader.genome.chrom_sizes
    print(
        f"genome {sum(sizes.values()) / 1e6:.1f} Mb, {len(sizes)} chroms; L={SEQ_LEN}, channels={reader.n_channels}"
    )
    reader.windows(next(iter(sizes)), np.arange(100) * STRIDE)  # warm the OS cache and file handles
    results = {}
    for name, fn, extra in (("dense", dense, args.chunk), ("sparse", sparse, args.batch)):
        rates = [fn(reader, sizes, args.n, extra) for _ in range(args.repeats)]
        results[name] = max(rates)
        flag = "ok" if results[name] >= TARGET else f"BELOW target {TARGET}"
        label = f"chunk={extra}" if name == "dense" else f"batch={extra}"
        print(
            f"{name:6s} ({label}): {results[name]:9.0f} windows/s (best of {args.repeats}; "
            f"all {', '.join(f'{r:.0f}' for r in rates)}) [{flag}]"
        )
    if args.profile:
        for name, fn, extra in (("dense", dense, args.chunk), ("sparse", sparse, args.batch)):
            print(f"--- cProfile {name} ---")
            print(profile(fn, reader, sizes, args.n // 3, extra))
    reader.genome.close()
    reader.tracks.close()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
