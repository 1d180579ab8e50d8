"""``factornet baseline``: reference predictions (motif scan, accessibility, rank product, boosting)."""

from __future__ import annotations

import json
import sys

from factornet_core.baseline import METHODS, NEEDS_MOTIF, BaselineSettings, run_baseline
from factornet_core.wording import plural
from factornet_tools import common


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "baseline",
        run,
        help="reference predictions: PWM scan, accessibility, their rank product, gradient boosting",
        description="Write a prediction file (same bins and layout as 'factornet predict') from a reference "
        "predictor, to score next to a model with 'factornet evaluate --predictions A B ...'. "
        "pwm: best log-odds of the TF's motif in the bin (both strands); accessibility: mean of a track "
        "over the bin; pwm_x_accessibility: rank product of the two; gbm: scikit-learn gradient boosting "
        "on motif, multi-scale accessibility, footprint and other-track features, trained on --train-cells "
        "(labels as 'factornet train': bound vs unbound bins, ambiguous excluded). The motif comes from "
        "JASPAR (CORE vertebrates, by TF name or matrix ID) unless --motif-file is given.",
    )
    p.add_argument("--method", required=True, choices=METHODS, help="the reference predictor")
    p.add_argument("--tf", required=True, help="the TF (names the output column; default motif name)")
    p.add_argument("--genome", required=True, help="genome FASTA (plain or bgzip)")
    p.add_argument("--samplesheet", help="samplesheet TSV (target cell's tracks; gbm: training cells)")
    p.add_argument("--cell", help="cell type in the samplesheet to predict")
    common.add_track_arg(p)
    p.add_argument("--accessibility-track", help="track used as accessibility (default: the first track)")
    p.add_argument(
        "--motif",
        help="JASPAR TF name or matrix ID (MA0139.2), a motif shipped with FactorNet by id (CTCF_f2), or a "
        "name in --motif-file (default: --tf)",
    )
    p.add_argument("--motif-file", help="MEME v4 file to take the motif from instead of JASPAR")
    p.add_argument("--bins", help="BED of bins to score (default: 200/50 grid over --chroms)")
    p.add_argument("--chroms", help="chromosomes to score, comma-separated (default: all)")
    p.add_argument(
        "--blacklist", help="BED of regions whose bins get score 0 (gbm: also left out of training)"
    )
    p.add_argument("--dream", action="store_true", help="headerless single-TF ENCODE-DREAM layout")
    g = p.add_argument_group("gbm training (as 'factornet train')")
    g.add_argument("--train-cells", help="training cell types, comma-separated (required by gbm)")
    g.add_argument(
        "--train-chroms",
        help="training chromosomes, comma-separated (default: all but -v and --exclude-chroms)",
    )
    g.add_argument(
        "-v", "--valid-chroms", default="", help="chromosomes kept out of training, comma-separated"
    )
    g.add_argument(
        "--exclude-chroms", default="", help="chromosomes never used, comma-separated (e.g. test chromosomes)"
    )
    g.add_argument("--max-negatives", type=int, default=500_000, help="unbound training bins kept per cell")
    g.add_argument("-s", "--seed", type=int, default=0, help="random seed (negative sampling, boosting)")
    p.add_argument("-o", "--out", required=True, help="predictions TSV to write (.gz compresses)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _names(text: str | None) -> list[str]:
    return [x for x in (text or "").replace(",", " ").split() if x]


def run(args) -> int:
    common.require_files(args.genome, what="genome")
    common.require_files(args.bins, args.blacklist, what="BED")
    common.require_files(args.motif_file, what="motif")
    settings = BaselineSettings(
        method=args.method,
        tf=args.tf,
        track=args.accessibility_track,
        train_cells=_names(args.train_cells) or None,
        train_chroms=_names(args.train_chroms) or None,
        valid_chroms=_names(args.valid_chroms),
        exclude_chroms=_names(args.exclude_chroms),
        max_negatives=args.max_negatives,
        seed=args.seed,
    )
    pwm, source = None, None
    if args.method in NEEDS_MOTIF:
        from factornet_core.jaspar import resolve_motif

        motif, source = resolve_motif(args.tf, args.motif, args.motif_file)
        pwm = motif.pwm
    tracks, _ = common.cell_inputs(args)
    result = run_baseline(
        settings,
        args.genome,
        tracks,
        args.out,
        pwm,
        samplesheet=args.samplesheet,
        chroms=common.parse_chroms(args.chroms),
        bins_bed=args.bins,
        blacklist=args.blacklist,
        dream=args.dream,
        progress=common.CountBar(args.quiet, f"baseline {args.method}", "bin"),
    )
    line = f"baseline {result.method}: {plural(result.n_bins, 'bin')} ({result.n_blacklisted} blacklisted, score 0)"
    if source is not None:
        line += f"; motif {json.dumps(source)}"
    if result.method == "gbm":
        line += f"; trained on {result.n_train_bound} bound / {result.n_train_unbound} unbound bins"
    print(line, file=sys.stderr)
    return 0
