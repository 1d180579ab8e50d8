"""``factornet impute``: many models (e.g. the published ones) on one cell type → one prediction file."""

from __future__ import annotations

import sys

from factornet_core import FactorNetError
from factornet_core.impute import impute, resolve_models
from factornet_core.inputs import CellType
from factornet_core.predict import PredictOptions, Progress
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
    p.add_argument(
        "--model-cache", help="cache folder of fetched catalogue models (default: as 'models fetch')"
    )
    p.add_argument(
        "--genome", required=True, help="genome FASTA (plain or bgzip); hg19 for the published models"
    )
    p.add_argument("--samplesheet", help="samplesheet TSV with the cell type's tracks/expression")
    p.add_argument("--cell", help="cell type in the samplesheet")
    p.add_argument(
        "--track",
        action="append",
        default=[],
        metavar="NAME=BIGWIG",
        help="a track given directly (repeatable), e.g. DGF=dnase.bw Unique35=wgEncodeDukeMapabilityUniqueness35bp.bw",
    )
    p.add_argument("--expression", help="expression table for models trained with -m")
    p.add_argument(
        "--meta-values", help="the cell type's metadata values, one a line (published 'meta' models)"
    )
    p.add_argument("--bins", help="BED of bins to predict (default: 200/50 grid over --chroms)")
    p.add_argument("--chroms", help="chromosomes to predict, comma-separated (default: all)")
    p.add_argument("--blacklist", help="BED of regions whose bins get score 0")
    p.add_argument("--gtf", help="GTF for models with annotation features")
    p.add_argument("--cpg", help="CpG BED for models with annotation features")
    p.add_argument(
        "--annotation-beds", help="folder of pre-made feature BEDs for models with annotation features"
    )
    p.add_argument("--skip-incompatible", action="store_true", help="skip models needing inputs not given")
    p.add_argument("-o", "--out", required=True, help="predictions TSV to write (.gz compresses)")
    p.add_argument("--bigwig-out", metavar="PREFIX", help="also write PREFIX.<column>.bw per column")
    p.add_argument("--batch-size", type=int, default=500, help="windows per model call")
    p.add_argument("--naive", action="store_true", help="run every model on every whole window (slower)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


class _Bar(Progress):
    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def start(self, total_bins):
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total_bins, unit="bin", unit_scale=True, desc="impute", file=sys.stderr)

    def advance(self, n_bins):
        if self.bar is not None:
            self.bar.update(n_bins)

    def finish(self):
        if self.bar is not None:
            self.bar.close()


def run(args) -> int:
    common.require_files(args.genome, what="genome")
    common.require_files(args.bins, args.blacklist, args.gtf, args.cpg, args.expression, args.meta_values)
    if args.batch_size < 1:
        raise FactorNetError("--batch-size must be ≥ 1")
    models = resolve_models(args.models, args.model_cache)
    tracks, expression = common.cell_inputs(args)
    annotations = common.load_annotations(args)
    cell = CellType(args.genome, tracks, expression, args.meta_values, annotations)
    options = PredictOptions(
        bins_bed=args.bins,
        chroms=common.parse_chroms(args.chroms),
        blacklist=args.blacklist,
        bigwig_prefix=args.bigwig_out,
        batch_size=args.batch_size,
        naive=args.naive,
    )
    result = impute(models, cell, args.out, options, args.skip_incompatible, progress=_Bar(args.quiet))
    for path, lacks in result.skipped.items():
        print(f"skipped {path}: needs {', '.join(lacks)}", file=sys.stderr)
    rate = result.n_bins / result.seconds if result.seconds > 0 else float("nan")
    print(
        f"wrote {args.out}: {result.n_bins} bins ({result.n_blacklisted} blacklisted → 0), "
        f"{len(result.columns)} columns ({', '.join(result.columns)}); {rate:.0f} bins/s",
        file=sys.stderr,
    )
    return 0
