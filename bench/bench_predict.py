"""Prediction throughput and memory: plain Keras ``model.predict`` vs the shared-convolution path.

The paper configuration (L = 1000, w = 26, k = 32, r = 32, d = 128, 2 tracks, 6 metadata values), random
weights, on a simulated chromosome (random sequence; DNase-like and mapability bigWigs written with
10 bp steps so that long chromosomes are quick to make).

1. **throughput** on ``--n`` consecutive grid bins (200 bp bins, 50 bp steps), best of ``--repeats``:
   * ``keras``: ``model.predict(x, batch_size=B)`` on windows already in memory (file reads not timed),
     with Keras' default ``B = 32`` and with ``B = --batch-size``;
   * ``fast``: :class:`factornet_core.fastpredict.SharedConvPredictor` on the same bins, file reads
     *included* (one span per 2 000-bin chunk, as ``factornet predict`` does);
   * max |fast - keras| over the bins.
2. **scale**: ``factornet predict`` (the library call, default = fast path) over a whole chromosome of each
   ``--scale`` length in a fresh process; windows/s and the process's peak RSS (``ru_maxrss``).

Usage::

    python bench/bench_predict.py [--n 20000] [--scale 10,50] [--work DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEQ_LEN, BIN, STRIDE = 1000, 200, 50


def make_chromosome(folder: Path, length: int, seed: int = 0) -> tuple[Path, Path, Path]:
    """``genome.fa`` (one chromosome ``chr1``), ``DNASE.bw`` and ``MAPABILITY.bw`` in ``folder``."""
    import pyBigWig

    folder.mkdir(parents=True, exist_ok=True)
    fasta, dnase, mapab = folder / "genome.fa", folder / "DNASE.bw", folder / "MAPABILITY.bw"
    if fasta.is_file() and dnase.is_file() and mapab.is_file():
        return fasta, dnase, mapab
    rng = np.random.default_rng(seed)
    with open(fasta, "wb") as out:
        out.write(b">chr1\n")
        letters = np.frombuffer(b"ACGT", np.uint8)
        for lo in range(0, length, 6_000_000):  # 100 lines of 60 per 6 kb block
            n = min(6_000_000, length - lo)
            seq = letters[rng.integers(0, 4, n)]
            pad = (-n) % 60
            lines = np.concatenate([seq, np.zeros(pad, np.uint8)]).reshape(-1, 60)
            block = np.concatenate([lines, np.full((lines.shape[0], 1), ord("\n"), np.uint8)], axis=1)
            data = block.tobytes()
            if pad:
                data = data[: -(pad + 1)] + b"\n"
            out.write(data)
    for path, gen in ((dnase, lambda n: rng.gamma(0.5, 2.0, n)), (mapab, lambda n: rng.random(n))):
        bw = pyBigWig.open(str(path), "w")
        bw.addHeader([("chr1", length)])
        step = 10
        for lo in range(0, length, 10_000_000):
            n = (min(lo + 10_000_000, length) - lo) // step
            bw.addEntries("chr1", lo, values=gen(n).tolist(), span=step, step=step)
        bw.close()
    return fasta, dnase, mapab


def make_model(path: Path, seed: int = 0) -> None:
    """The paper-configuration model with random weights and the card ``factornet predict`` reads."""
    import keras

    from factornet_core.model import ModelConfig, build_model
    from factornet_core.modelfile import save_model

    keras.utils.set_random_seed(seed)
    model = build_model(ModelConfig(n_meta=6))
    card = {
        "kind": "factornet",
        "mode": "single-task",
        "track_names": ["DNASE", "MAPABILITY"],
        "tfs": ["TF"],
        "seq_len": SEQ_LEN,
        "bin_size": BIN,
        "bin_stride": STRIDE,
        "features": {"expression": True, "gencode": False},
        "expression_source": "meta_values",
        "metadata_names": [f"PC{i}" for i in range(1, 7)],
        "chrom_naming": "ucsc",
    }
    save_model(model, card, path)
    (path.parent / "meta.txt").write_text("\n".join(str(v) for v in np.linspace(-1, 1, 6)) + "\n")


def best_rate(fn, n: int, repeats: int) -> tuple[float, object]:
    rates, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        rates.append(n / (time.perf_counter() - t0))
    return max(rates), out


def throughput(work: Path, n: int, batch_size: int, repeats: int) -> dict:
    from factornet_core.fastpredict import SharedConvPredictor
    from factornet_core.genome import Genome
    from factornet_core.modelfile import load_model
    from factornet_core.tracks import TrackSet
    from factornet_core.windows import WindowReader

    length = n * STRIDE + 2 * SEQ_LEN
    fasta, dnase, mapab = make_chromosome(work / f"chr_{length}", length)
    model_path = work / "paper.keras"
    if not model_path.is_file():
        make_model(model_path)
    net = load_model(model_path).model
    reader = WindowReader(Genome(fasta), TrackSet({"DNASE": dnase, "MAPABILITY": mapab}), SEQ_LEN, BIN)
    starts = np.arange(n, dtype=np.int64) * STRIDE
    meta = np.tile(np.linspace(-1, 1, 6, dtype=np.float32), (n, 1))
    res = {"n": n}
    want = keras_rates(net, reader.windows("chr1", starts), meta, batch_size, repeats, res)
    fast = SharedConvPredictor(net, batch_size=batch_size)
    fast.predict_bins(reader, "chr1", starts[:100], meta[:100])

    def run_fast():
        out = np.empty((n, 1), np.float32)
        for lo in range(0, n, 2000):
            out[lo : lo + 2000] = fast.predict_bins(
                reader, "chr1", starts[lo : lo + 2000], meta[lo : lo + 2000]
            )
        return out

    res["fast"], got = best_rate(run_fast, n, repeats)
    res["max_abs_diff"] = float(np.abs(got - want).max())
    return res


def keras_rates(net, x, meta, batch_size: int, repeats: int, res: dict) -> np.ndarray:
    """Plain ``model.predict`` rates (Keras default batch 32, and ``batch_size``) into ``res``."""
    n = x.shape[0]
    net.predict([x[:64], meta[:64]], verbose=0)  # trace once outside the timing
    res["keras_b32"], _ = best_rate(lambda: net.predict([x, meta], verbose=0), n, repeats)
    res[f"keras_b{batch_size}"], want = best_rate(
        lambda: net.predict([x, meta], batch_size=batch_size, verbose=0), n, repeats
    )
    return want


def child_predict(work: Path, length: int, out: Path) -> None:
    """Run in a fresh process: the library ``predict`` over one whole chromosome; print JSON."""
    from factornet_core.inputs import CellType
    from factornet_core.predict import predict

    fasta, dnase, mapab = make_chromosome(work / f"chr_{length}", length)
    model = work / "paper.keras"
    t0 = time.perf_counter()
    cell = CellType(fasta, {"DNASE": dnase, "MAPABILITY": mapab}, meta_values=work / "meta.txt")
    result = predict(model, cell, out)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB → MB
    print(
        json.dumps(
            {"bins": result.n_bins, "seconds": seconds, "rate": result.n_bins / seconds, "rss_mb": rss}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="bins for the throughput comparison")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--scale", default="10,50", help="chromosome lengths in Mbp for the RSS check ('' = none)"
    )
    parser.add_argument("--work", type=Path, help="folder for data and model (kept; default: temporary)")
    parser.add_argument("--child", nargs=2, metavar=("LENGTH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    tmp = None
    work = args.work
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_predict.")
        work = Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    if args.child:
        child_predict(work, int(args.child[0]), Path(args.child[1]))
        return

    res = throughput(work, args.n, args.batch_size, args.repeats)
    b = args.batch_size
    print(f"throughput, {res['n']} grid windows, paper configuration, best of {args.repeats}:")
    print(f"  keras model.predict (batch 32, default)  {res['keras_b32']:8.0f} windows/s")
    print(f"  keras model.predict (batch {b})          {res[f'keras_b{b}']:8.0f} windows/s")
    print(f"  shared-convolution (reads included)      {res['fast']:8.0f} windows/s")
    print(
        f"  ratio fast / keras: {res['fast'] / res['keras_b32']:.1f}x (batch 32), "
        f"{res['fast'] / res[f'keras_b{b}']:.1f}x (batch {b}); max |diff| {res['max_abs_diff']:.2e}"
    )
    for mbp in [float(v) for v in args.scale.split(",") if v]:
        length = int(mbp * 1e6)
        t0 = time.perf_counter()
        make_chromosome(work / f"chr_{length}", length)
        made = time.perf_counter() - t0
        out = work / f"pred_{length}.tsv.gz"
        proc = subprocess.run(
            [sys.executable, __file__, "--work", str(work), "--child", str(length), str(out)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"scale {mbp:g} Mbp: {r['bins']} bins in {r['seconds']:.0f} s = {r['rate']:.0f} windows/s "
            f"end to end (files made in {made:.0f} s); peak RSS {r['rss_mb']:.0f} MB"
        )
        out.unlink(missing_ok=True)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
