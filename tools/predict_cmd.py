"""``factornet predict``: binding scores for a cell type from a trained model."""

from __future__ import annotations

from factornet_core.predict import predict
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
    common.add_cell_type_args(p, "a model")
    p.add_argument("--bins", help="BED of bins to predict (default: 200/50 grid over --chroms)")
    p.add_argument("--chroms", help="chromosomes to predict, comma-separated (default: all)")
    p.add_argument("--blacklist", help="BED of regions whose bins get score 0")
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


def run(args) -> int:
    common.require_files(args.model, what="model")
    common.require_files(args.genome, what="genome")
    options = common.predict_options(args)
    cell = common.cell_type(args)
    result = predict(
        args.model, cell, args.out, options, progress=common.CountBar(args.quiet, "predict", "bin")
    )
    common.report_bins_written(args, result, ", ".join(result.tfs))
    return 0
