"""``factornet prepare``: BAM/CRAM, fragment files or a bigWig → a normalised 5′ cut-count bigWig."""

from __future__ import annotations

import sys

from factornet_core import FactorNetError, normalize
from factornet_core.genome import read_chrom_sizes
from factornet_core.prepare import Progress, ReadFilters, prepare_track
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "prepare",
        run,
        help="make a normalised cut-site bigWig from DNase-seq/ATAC-seq alignments",
        description="Count one cut per read at its 5' end (forward: first aligned base; reverse: last "
        "aligned base; soft clips excluded), pool all --bam replicates, and write a single-base bigWig "
        "normalised to 1x coverage (the paper's recipe) plus OUT.qc.json (reads seen/kept/dropped by reason, "
        "scale factor, FRiP with --peaks). --assay atac shifts cuts for Tn5 (+4 forward, -5 reverse).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bam", action="append", help="coordinate-sorted BAM/CRAM; repeat to pool replicates")
    src.add_argument("--fragments", help="fragment file (chrom start end barcode [count], gz ok)")
    src.add_argument("--bigwig", help="re-normalise this bigWig instead of counting reads")
    ref = p.add_mutually_exclusive_group(required=True)
    ref.add_argument("--genome", help="genome FASTA: chromosome names/lengths, CRAM reference, non-N size")
    ref.add_argument("--chrom-sizes", help="chromosome sizes file (chrom<TAB>size)")
    p.add_argument("-o", "--out", required=True, help="output bigWig (OUT.qc.json is written beside it)")
    p.add_argument("--assay", choices=["dnase", "atac"], default="dnase", help="atac: Tn5 shift +4/-5")
    p.add_argument("--shift", help="PLUS,MINUS bp added to forward/reverse cuts (overrides --assay)")
    p.add_argument("--min-mapq", type=int, default=30, help="drop reads with MAPQ below this")
    p.add_argument("--dedup", action="store_true", help="drop reads with the same 5' position and strand")
    p.add_argument("--proper-pairs", action="store_true", help="keep only properly paired reads (0x2)")
    p.add_argument("--blacklist", help="BED: drop cuts inside these regions")
    p.add_argument("--chroms", help="chromosomes to write, comma-separated (default: all of the genome)")
    p.add_argument("--barcodes", help="with --fragments: keep only these cell barcodes (one a line)")
    p.add_argument("--peaks", help="BED/narrowPeak: report the fraction of cuts in peaks (FRiP)")
    p.add_argument("--normalize", choices=normalize.RULES, default="1x", help="normalisation rule")
    p.add_argument(
        "--effective-genome-size",
        type=int,
        help="for 1x (default: the non-N bases of the chromosomes written with --genome, their whole length with --chrom-sizes)",
    )
    p.add_argument("--percentile", type=float, default=normalize.DEFAULT_PERCENTILE, help="for minmax")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


class _Bar(Progress):
    """tqdm bar over chromosomes on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar = quiet, None

    def start(self, chroms) -> None:
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=len(chroms), unit="chrom", desc="prepare", file=sys.stderr)

    def advance(self, chrom: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(chrom)
            self.bar.update(1)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()


def parse_shift(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        plus, minus = (int(x) for x in parts)
    except ValueError:
        raise FactorNetError(f"--shift expects PLUS,MINUS integers (e.g. 4,-5), got {text!r}") from None
    return plus, minus


def run(args) -> int:
    common.require_files(*(args.bam or []), what="alignment")
    common.require_files(args.fragments, args.bigwig, args.barcodes, what="input")
    common.require_files(args.blacklist, args.peaks, args.genome, args.chrom_sizes, what="input")
    sizes = read_chrom_sizes(args.chrom_sizes) if args.chrom_sizes else None
    report = prepare_track(
        args.out,
        bams=args.bam or (),
        fragments=args.fragments,
        bigwig=args.bigwig,
        genome=args.genome,
        chrom_sizes=sizes,
        chroms=common.parse_chroms(args.chroms),
        assay=args.assay,
        shift=parse_shift(args.shift),
        filters=ReadFilters(min_mapq=args.min_mapq, dedup=args.dedup, proper_pairs=args.proper_pairs),
        barcodes=args.barcodes,
        blacklist=args.blacklist,
        peaks=args.peaks,
        rule=args.normalize,
        effective_genome_size=args.effective_genome_size,
        percentile=args.percentile,
        progress=_Bar(args.quiet),
    )
    if report.shift_note:
        print(f"factornet prepare: note: {report.shift_note}", file=sys.stderr)
    norm = report.normalization
    what = (
        f"signal total {norm['total_signal']:.6g} re-normalised"
        if report.source == "bigwig"
        else f"{report.cuts_written} cuts"
    )
    line = f"wrote {args.out}: {what}, {norm['rule']} scale factor {norm['scale']:.6g}"
    if report.effective_genome_size_source:
        line += (
            f" (effective genome size {norm['effective_genome_size']}: {report.effective_genome_size_source})"
        )
    if report.frip is not None:
        line += f", FRiP {report.frip:.4f}"
    print(line, file=sys.stderr)
    return 0
