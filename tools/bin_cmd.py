"""``factornet bin``: bins + DREAM labels from peaks."""

from __future__ import annotations

import sys

from factornet_core import FactorNetError
from factornet_core.binning import PeakFiles, run_bin
from factornet_core.genome import Genome, read_chrom_sizes
from factornet_core.samplesheet import naming_rows, read_samplesheet, select_tf
from factornet_core.wording import plural
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "bin",
        run,
        help="tile chromosomes into 200/50 bp bins and label them B/A/U from peaks",
        description="Tile chromosomes into bins (default 200 bp stepping 50 bp) and label each bin per cell "
        "type: B if >50% of the bin lies in conservative peaks, else A if it overlaps any relaxed or "
        "conservative peak, else U (the ENCODE-DREAM rule). Writes a DREAM label TSV (all bins) and a bins BED "
        "for prediction (blacklisted bins left out).",
    )
    ref = p.add_mutually_exclusive_group(required=True)
    ref.add_argument("--genome", help="genome FASTA (plain or bgzip); only its chromosome sizes are used")
    ref.add_argument("--chrom-sizes", help="chromosome sizes file (chrom<TAB>size)")
    p.add_argument("--samplesheet", help="samplesheet TSV: conservative/relaxed peaks per cell type")
    p.add_argument("--tf", help="TF to label (required when the samplesheet has several)")
    p.add_argument(
        "--conservative", help="conservative (IDR) peaks, narrowPeak/BED (gz ok), instead of a samplesheet"
    )
    p.add_argument("--relaxed", help="relaxed peaks for --conservative")
    p.add_argument("--cell", default="CELL", help="cell type name for --conservative (the label column)")
    p.add_argument("--blacklist", help="BED of regions to leave out of the bins BED")
    p.add_argument("--chroms", help="chromosomes to tile, comma-separated (default: all)")
    p.add_argument("--bin-size", type=int, default=200, help="bin size in bp")
    p.add_argument("--stride", type=int, default=50, help="step between bin starts in bp")
    p.add_argument("--out-labels", help="DREAM label TSV to write (.gz compresses)")
    p.add_argument("--out-bins", help="bins BED to write (.gz compresses)")


def run(args) -> int:
    if args.genome:
        common.require_files(args.genome, what="genome")
        with Genome(args.genome) as genome:
            sizes = genome.chrom_sizes
    else:
        common.require_files(args.chrom_sizes, what="chromosome sizes")
        sizes = read_chrom_sizes(args.chrom_sizes)
    peaks, sheet = {}, None
    if args.samplesheet and args.conservative:
        raise FactorNetError("give either --samplesheet or --conservative, not both")
    if args.samplesheet:
        sheet = read_samplesheet(args.samplesheet, need_tracks=False)
        chosen = select_tf(sheet, args.tf)
        peaks = {c: PeakFiles(*chosen.peaks(c, chosen.tfs[0])) for c in chosen.cells}
    elif args.conservative:
        common.require_files(args.conservative, args.relaxed, what="peaks")
        peaks[args.cell] = PeakFiles(args.conservative, args.relaxed)
    common.require_files(args.blacklist, what="blacklist")
    if args.bin_size < 1 or args.stride < 1:
        raise FactorNetError("--bin-size and --stride must be positive")
    with naming_rows(sheet):  # an empty or malformed peak file is told by its samplesheet row
        result = run_bin(
            sizes,
            peaks,
            args.out_labels,
            args.out_bins,
            chroms=common.parse_chroms(args.chroms),
            blacklist=args.blacklist,
            bin_size=args.bin_size,
            stride=args.stride,
        )
    print(f"{plural(result.n_bins, 'bin')}, {result.n_blacklisted} blacklisted", file=sys.stderr)
    for cell, counts in result.counts.items():
        print(f"{cell}: " + ", ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
    return 0
