"""``factornet impute``: many models (e.g. the published ones) on one cell type → one prediction file."""

from __future__ import annotations

import sys

from factornet_core.impute import impute, resolve_models
from factornet_core.wording import plural
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "impute",
        run,
        help="apply many models to one cell type's DNase/ATAC tracks: one column per model",
        description="Impute TF binding profiles for one cell type with many models at once: the genome and "
        "tracks are read once per window and fed to every model. Columns are named TF, or TF.variant when "
        "several models predict one TF. Models needing inputs not given (a track, --meta-values, annotation "
        "BEDs) are refused before any work, or skipped with --skip-incompatible. Shard with --chroms and "
        "join with 'factornet merge'; call sites with 'factornet call'.",
    )
    p.add_argument(
        "--models",
        nargs="+",
        required=True,
        metavar="MODEL",
        help=".keras files, folders of .keras files, or catalogue names fetched by 'factornet models fetch'",
    )
    common.add_model_cache_arg(p, "model cache holding the catalogue models named in --models")
    p.add_argument(
        "--genome", required=True, help="genome FASTA (plain or bgzip); hg19 for the published models"
    )
    common.add_cell_type_args(p, "models")
    p.add_argument("--bins", help="BED of bins to predict (default: 200/50 grid over --chroms)")
    p.add_argument("--chroms", help="chromosomes to predict, comma-separated (default: all)")
    p.add_argument("--blacklist", help="BED of regions whose bins get score 0")
    p.add_argument("--skip-incompatible", action="store_true", help="skip models needing inputs not given")
    p.add_argument("-o", "--out", required=True, help="predictions TSV to write (.gz compresses)")
    p.add_argument("--bigwig-out", metavar="PREFIX", help="also write PREFIX.<column>.bw per column")
    p.add_argument("--batch-size", type=int, default=500, help="windows per model call")
    p.add_argument("--naive", action="store_true", help="run every model on every whole window (slower)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    common.require_files(args.genome, what="genome")
    options = common.predict_options(args)
    models = resolve_models(args.models, args.model_cache)
    cell = common.cell_type(args)
    result = impute(
        models,
        cell,
        args.out,
        options,
        args.skip_incompatible,
        progress=common.CountBar(args.quiet, "impute", "bin"),
    )
    for path, lacks in result.skipped.items():
        print(f"skipped {path}: needs {', '.join(lacks)}", file=sys.stderr)
    common.report_bins_written(
        args, result, f"{plural(len(result.columns), 'column')} ({', '.join(result.columns)})"
    )
    return 0
