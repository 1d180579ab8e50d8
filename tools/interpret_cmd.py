"""``factornet interpret motifs|saliency``: what a trained model learnt (kernel motifs, saliency maps)."""

from __future__ import annotations

import sys

from factornet_core.inputs import CellType
from factornet_core.wording import plural
from factornet_tools import common


def register(sub) -> None:
    p = sub.add_parser(
        "interpret",
        help="interpret a model: first-layer kernel motifs, or saliency maps of regions",
        description="Interpret a trained model: 'motifs' turns first-layer kernels into PWMs/logos with track "
        "profiles and known-motif matches; 'saliency' writes gradient × input maps of regions.",
    )
    p.set_defaults(func=None, prog_name=p.prog)
    inner = p.add_subparsers(dest="interpret_what", metavar="<motifs|saliency>")

    m = common.add_subparser(
        inner,
        "motifs",
        run_motifs,
        help="first-layer kernels → MEME PWMs, logos, track profiles, known-motif matches",
        description="For every first-layer kernel, collect the subsequences (both strands) whose activation "
        "(convolution output incl. bias) reaches --threshold × the kernel's maximum over all scanned windows "
        "(seq_len bp centred on each region or peak summit), and write their PWM (kernels.meme), an "
        "information-content logo per kernel (logos/), per-kernel IC, site count and mean track signal "
        "(kernels.tsv), mean track signal ±50 bp around the sites (footprints: kernel_track_profiles.tsv/.png), a heatmap (kernels_heatmap.png) and, with --known, the "
        "best known motif per kernel (known_matches.tsv: Tomtom p-, E- and q-values via memelite; named in the heatmap where q < 0.05).",
    )
    _shared(m)
    where = m.add_mutually_exclusive_group(required=True)
    where.add_argument("--regions", help="BED of regions to scan (windows centred on each region)")
    where.add_argument("--peaks", help="narrowPeak to scan (windows centred on summits, strongest first)")
    m.add_argument("--known", help="MEME file of known motifs to match the kernels against")
    m.add_argument("--threshold", type=float, default=0.5, help="fraction of a kernel's maximum activation")
    m.add_argument("--max-regions", type=int, help="scan at most this many regions (first / strongest)")
    m.add_argument(
        "--sequence-only",
        action="store_true",
        help="activations from the DNA channels only (track weights ignored; track means still reported)",
    )
    m.add_argument("--min-overlap", type=int, default=5, help="fewest aligned columns for a known match")

    s = common.add_subparser(
        inner,
        "saliency",
        run_saliency,
        help="gradient × input of a TF's score over regions → bedGraph + PNG per region",
        description="For each region, the window of the model's sequence length centred on it; the gradient of "
        "the TF's score (both strands averaged, as the model predicts) times the input, per base. Writes "
        "saliency.<region>.bedGraph / .png / .tsv and regions.tsv.",
    )
    _shared(s)
    s.add_argument("--regions", required=True, help="BED of regions (name column names the output files)")
    s.add_argument("--tf", help="TF whose score to explain (required for multi-task models)")
    s.add_argument("--positive-only", action="store_true", help="zero negative gradient × input values")
    s.add_argument("--expression", help="expression table for a model trained with -m")
    s.add_argument("--gtf", help="GTF for models trained with -g")
    s.add_argument("--cpg", help="CpG BED for models trained with -g")
    s.add_argument("--annotation-beds", help="folder of pre-made feature BEDs for -g models")
    s.add_argument("--max-regions", type=int, default=100, help="refuse more regions than this")
    s.add_argument("--known", help="MEME file of known motifs: box the best site of any of them in each PNG")


def _shared(p) -> None:
    p.add_argument("--model", required=True, help="model file (.keras) from 'factornet train'")
    p.add_argument("--genome", required=True, help="genome FASTA (plain or bgzip)")
    p.add_argument("--samplesheet", help="samplesheet TSV with the cell type's tracks")
    p.add_argument("--cell", help="cell type in the samplesheet whose tracks to use")
    common.add_track_arg(p)
    p.add_argument(
        "--cell-name",
        metavar="NAME",
        help="the cell type's name in the figure titles (default: --cell, else the track files' names)",
    )
    p.add_argument("--out-dir", required=True, help="output folder (written atomically)")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty --out-dir")


def _cell_name(args) -> str | None:
    """The cell type as the figure titles name it: ``--cell-name``, else ``--cell`` (None: the library
    names it by its track files)."""
    return (args.cell_name or "").strip() or args.cell


def run_motifs(args) -> int:
    from factornet_core.motifs import interpret_motifs

    common.require_files(args.model, what="model")
    common.require_files(args.genome, what="genome")
    common.require_files(args.regions, args.peaks, what="regions")
    common.require_files(args.known, what="known motifs")
    tracks, _ = common.cell_inputs(args)
    result = interpret_motifs(
        args.model,
        CellType(args.genome, tracks),
        args.regions or args.peaks,
        args.out_dir,
        peaks=args.peaks is not None,
        known=args.known,
        threshold=args.threshold,
        max_regions=args.max_regions,
        min_overlap=args.min_overlap,
        sequence_only=args.sequence_only,
        force=args.force,
        cell_name=_cell_name(args),
    )
    n_kernels = len(result.motifs.n_sites)
    firing = int((result.motifs.n_sites > 0).sum())
    print(
        f"wrote {args.out_dir}: {plural(n_kernels, 'kernel')} ({firing} with sites) from {plural(result.n_regions, 'region')} "
        f"({result.scanned_bp} bp, both strands)",
        file=sys.stderr,
    )
    return 0


def run_saliency(args) -> int:
    from factornet_core.saliency import interpret_saliency

    common.require_files(args.model, what="model")
    common.require_files(args.genome, what="genome")
    common.require_files(args.regions, what="regions")
    common.require_files(args.expression, args.gtf, args.cpg)
    tracks, expression = common.cell_inputs(args)
    annotations = common.load_annotations(args)
    result = interpret_saliency(
        args.model,
        CellType(args.genome, tracks, expression, annotations=annotations),
        args.regions,
        args.out_dir,
        tf=args.tf,
        positive_only=args.positive_only,
        max_regions=args.max_regions,
        known=args.known,
        force=args.force,
        cell_name=_cell_name(args),
    )
    print(
        f"wrote {args.out_dir}: saliency of {result.tf} for {plural(len(result.regions), 'region')}",
        file=sys.stderr,
    )
    return 0
