"""``factornet prepare`` vs deepTools ``bamCoverage --Offset 1 --binSize 1`` on the same simulated BAM.

Usage::

    python bench/bench_prepare.py [--reads 5000000] [--chroms 2] [--work DIR]

Builds a coordinate-sorted, indexed single-end BAM with
:func:`factornet_core.simulate_reads.write_cut_bam` (Poisson cuts over ``--chroms`` chromosomes sized
so that about ``--reads`` reads pass the filters, plus ~10 % duplicate/low-MAPQ/secondary noise), then
runs, each in a fresh process on one core, with the same filters (MAPQ ≥ 30; unmapped, secondary,
QC-fail, duplicate, supplementary dropped = ``--samFlagExclude 3844``) and raw counts:

* ``factornet prepare --bam X --chrom-sizes S --normalize none``
* ``bamCoverage -b X --Offset 1 --binSize 1 -p 1 --minMappingQuality 30 --samFlagExclude 3844``

Reports wall time, CPU time, BAM records per CPU second and peak RSS (``ru_maxrss`` of the child) of each, the ratio, and
whether the two tracks agree base by base over the first 2 Mb of every chromosome.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyBigWig
import pysam

from factornet_core.simulate_reads import write_cut_bam

# runs a command and prints its wall time, CPU time (user + system: what a busy machine does not inflate) and
# the peak RSS of that command alone (its own process tree)
RUNNER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "wall = time.perf_counter() - t\n"
    "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': rc.returncode, 'wall_s': wall, 'cpu_s': use.ru_utime + use.ru_stime,"
    " 'peak_rss_mb': use.ru_maxrss / 1024,"
    " 'stderr': rc.stderr.decode()[-400:]}))\n"
)


def measure(cmd: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", RUNNER, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{cmd[0]} failed: {result['stderr']}")
    return result


def make_bam(work: Path, n_reads: int, n_chroms: int, seed: int = 1) -> tuple[Path, Path, int]:
    rng = np.random.default_rng(seed)
    lam = 0.05  # cuts per base: n_reads / lam bases in all
    length = int(n_reads / lam / n_chroms)
    sizes = {f"chr{i + 1}": length for i in range(n_chroms)}
    cuts = {c: rng.poisson(lam, n).astype(np.int32) for c, n in sizes.items()}
    bam = write_cut_bam(work / "bench.bam", sizes, cuts, rng)
    chrom_sizes = work / "chrom.sizes"
    chrom_sizes.write_text("".join(f"{c}\t{n}\n" for c, n in sizes.items()))
    return bam, chrom_sizes, int(sum(int(v.sum()) for v in cuts.values()))


def agree(a: Path, b: Path, span: int = 2_000_000) -> bool:
    with pyBigWig.open(str(a)) as x, pyBigWig.open(str(b)) as y:
        for chrom, n in x.chroms().items():
            end = min(n, span)
            va = np.nan_to_num(x.values(chrom, 0, end, numpy=True))
            vb = np.nan_to_num(y.values(chrom, 0, end, numpy=True))
            if not np.array_equal(va, vb):
                return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reads", type=int, default=5_000_000, help="reads that pass the filters")
    ap.add_argument("--chroms", type=int, default=2)
    ap.add_argument("--work", type=Path, help="keep the files here (default: a temporary folder)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    work.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    try:
        t = time.perf_counter()
        bam, sizes, n_cuts = make_bam(work, args.reads, args.chroms)
        records = sum(s.total for s in pysam.AlignmentFile(str(bam)).get_index_statistics())
        print(f"BAM: {records} records ({n_cuts} pass the filters), {bam.stat().st_size / 1e6:.0f} MB, "
              f"written in {time.perf_counter() - t:.0f} s")  # fmt: skip
        ours = measure([str(bin_dir / "factornet"), "prepare", "--quiet", "--bam", str(bam), "--chrom-sizes",
                        str(sizes), "--normalize", "none", "-o", str(work / "prepare.bw")])  # fmt: skip
        qc = json.loads((work / "prepare.bw.qc.json").read_text())
        assert qc["cuts_written"] == n_cuts, (qc["cuts_written"], n_cuts)
        bamcov = bin_dir / "bamCoverage"
        theirs = None
        if bamcov.exists():
            theirs = measure([str(bamcov), "-b", str(bam), "-o", str(work / "deeptools.bw"), "--Offset", "1",
                              "--binSize", "1", "-p", "1", "--minMappingQuality", "30",
                              "--samFlagExclude", "3844"])  # fmt: skip
        rows = [("factornet prepare", ours)] + ([("deepTools bamCoverage", theirs)] if theirs else [])
        print(f"{'tool':<24}{'wall s':>9}{'CPU s':>9}{'records/CPU s':>15}{'peak RSS MB':>13}")
        for name, r in rows:
            print(f"{name:<24}{r['wall_s']:>9.1f}{r['cpu_s']:>9.1f}{records / r['cpu_s']:>15.0f}"
                  f"{r['peak_rss_mb']:>13.0f}")  # fmt: skip
        if theirs:
            print(f"speed ratio prepare / bamCoverage: {theirs['wall_s'] / ours['wall_s']:.1f}x wall, "
                  f"{theirs['cpu_s'] / ours['cpu_s']:.1f}x CPU; "
                  f"identical counts over the first 2 Mb of each chromosome: "
                  f"{agree(work / 'prepare.bw', work / 'deeptools.bw')}")  # fmt: skip
        else:
            print("deepTools bamCoverage not found beside this Python: pip install deeptools")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
