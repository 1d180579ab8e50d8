"""``factornet predict``: binding scores for a cell type from a trained model."""

from __future__ import annotations

import sys

from factornet_core import FactorNetError
from factornet_core.inputs import CellType
from factornet_core.predict import PredictOptions, Progress, predict
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "predict",
        run,
        help="predict TF binding scores for a cell type (bins BED, chromosomes, or the whole genome)",
        description="Run a trained model over a cell type's DNA + tracks. Bins: --bins BED, else the 200/50 bp grid "
        "over --chroms (default: all chromosomes). Streams chromosome by chromosome. Blacklisted bins get score 0. "
        "Shard with --chroms and join with 'factornet merge'.",
    )
    p.add_argument("--model", required=True, help="model file (.keras) from 'factornet train'")
    p.add_argument("--genome", required=True, help="genome FASTA (plain or bgzip)")
    p.add_argument("--samplesheet", help="samplesheet TSV with the cell type's tracks/expression")
    p.add_argument("--cell", help="cell type in the samplesheet to predict")
    p.add_argument(
        "--track",
        action="append",
        default=[],
        metavar="NAME=BIGWIG",
        help="a track given directly (repeatable)",
    )
    p.add_argument(
        "--expression", help="expression table for a model trained with -m (default: from the samplesheet)"
    )
    p.add_argument(
        "--meta-values", help="cell-level metadata values, one a line (imported original models with 'meta')"
    )
    p.add_argument("--bins", help="BED of bins to predict (default: 200/50 grid over --chroms)")
    p.add_argument("--chroms", help="chromosomes to predict, comma-separated (default: all)")
    p.add_argument("--blacklist", help="BED of regions whose bins get score 0")
    p.add_argument("--gtf", help="GTF for models trained with -g")
    p.add_argument("--cpg", help="CpG BED for models trained with -g")
    p.add_argument("--annotation-beds", help="folder of pre-made feature BEDs for -g models")
    p.add_argument("-o", "--out", required=True, help="predictions TSV to write (.gz compresses)")
    p.add_argument("--tf", help="only this TF (required with --dream for multi-task models)")
    p.add_argument("--dream", action="store_true", help="headerless single-TF ENCODE-DREAM layout")
    p.add_argument("--bigwig-out", metavar="PREFIX", help="also write PREFIX.<TF>.bw per TF")
    p.add_argument("--batch-size", type=int, default=500, help="windows per model call")
    p.add_argument(
        "--naive",
        action="store_true",
        help="run the whole model on every window instead of sharing the convolution between "
        "overlapping windows (slower; same scores up to float32 rounding)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


class _Bar(Progress):
    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def start(self, total_bins):
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total_bins, unit="bin", unit_scale=True, desc="predict", file=sys.stderr)

    def advance(self, n_bins):
        if self.bar is not None:
            self.bar.update(n_bins)

    def finish(self):
        if self.bar is not None:
            self.bar.close()


def run(args) -> int:
    common.require_files(args.model, what="model")
    common.require_files(args.genome, what="genome")
    common.require_files(args.bins, args.blacklist, args.gtf, args.cpg, args.expression, args.meta_values)
    tracks, expression = common.cell_inputs(args)
    if args.batch_size < 1:
        raise FactorNetError("--batch-size must be ≥ 1")
    annotations = common.load_annotations(args)
    cell = CellType(args.genome, tracks, expression, args.meta_values, annotations)
    options = PredictOptions(
        bins_bed=args.bins,
        chroms=common.parse_chroms(args.chroms),
        blacklist=args.blacklist,
        tf=args.tf,
        dream=args.dream,
        bigwig_prefix=args.bigwig_out,
        batch_size=args.batch_size,
        naive=args.naive,
    )
    result = predict(args.model, cell, args.out, options, progress=_Bar(args.quiet))
    rate = result.n_bins / result.seconds if result.seconds > 0 else float("nan")
    print(
        f"wrote {args.out}: {result.n_bins} bins ({result.n_blacklisted} blacklisted → 0), "
        f"{', '.join(result.tfs)}; {rate:.0f} bins/s",
        file=sys.stderr,
    )
    return 0
