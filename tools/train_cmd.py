"""``factornet train``: fit a model on a samplesheet, write one .keras file with its card."""

from __future__ import annotations

import math
import os
import sys

from factornet_core import FactorNetError
from factornet_core.atomic import check_replaceable
from factornet_core.tracknorm import parse_track_norms
from factornet_core.training import Progress, TrainSettings, train
from factornet_tools import common

# The original FactorNet's short flags (Table S1) are accepted as aliases of the long ones.
SEED_ALIASES = "-v -e -ep -lr -n -L -w -k -r -d -p -m -g -mo -s"


def register(sub) -> None:
    p = common.add_subparser(
        sub,
        "train",
        run,
        help="train a FactorNet model (single-task with -f TF, else multi-task in one cell type)",
        description="Train the FactorNet Siamese CNN+BiLSTM. Single-task (-f TF): one TF over one or many "
        "cell types, conservative peaks as positives, negatives outside relaxed peaks. Multi-task (no -f): all "
        "TFs of one cell type. The best epoch (its weights are saved; early stopping follows it) has the highest "
        "auPR on the validation chromosomes' bins at their natural class balance, as factornet evaluate scores. "
        "Writes MODEL.keras (with its FactorNet card), MODEL.history.json and "
        f"MODEL.history.png. The original FactorNet's short flags ({SEED_ALIASES}) work as aliases.",
    )
    _data_args(p)
    _sampling_args(p.add_argument_group("chromosomes, sampling and epochs"))
    _architecture_args(p.add_argument_group("architecture (Table S1)"))
    _metadata_args(p.add_argument_group("metadata"))
    _motif_args(p.add_argument_group("motif initialisation"))
    _run_args(p)


def _data_args(p) -> None:
    """What to learn from: samplesheet, genome, TF, cell types, track normalisation, blacklist."""
    p.add_argument(
        "--samplesheet", required=True, help="samplesheet TSV (cell types → tracks, peaks, expression)"
    )
    p.add_argument("--genome", required=True, help="genome FASTA (plain or bgzip)")
    p.add_argument("-o", "--out", required=True, help="model file to write (.keras)")
    p.add_argument("-f", "--tf", help="single-task: the TF to learn (default: multi-task)")
    p.add_argument(
        "--cell",
        action="append",
        dest="cells",
        help="training cell type (repeatable; default: all with the TF)",
    )
    p.add_argument(
        "--track-norm",
        action="append",
        default=[],
        metavar="NAME=RULE",
        help="normalise track NAME per cell type from that cell's own bigWig, in training and in every "
        "later predict/impute/interpret (the rule goes into the model card): none (raw values, the default), "
        "1x (mean 1 per non-N base) or minmax[:PERCENTILE] (divide by the percentile, default 99, of the "
        "non-zero values, clip to 1), each over every chromosome the genome and the bigWig share, not "
        "just those a run reads (so --chroms shards merge to one run's scores); repeatable, one per track",
    )
    p.add_argument("--blacklist", help="BED of regions never sampled")


def _sampling_args(g) -> None:
    """Which chromosomes train and validate, how bins are drawn, how long training runs."""
    g.add_argument("-v", "--valid-chroms", default="chr11", help="validation chromosomes, comma-separated")
    g.add_argument(
        "--exclude-chroms",
        default="",
        help="chromosomes never used, comma-separated, e.g. test chromosomes chr1,chr8,chr21",
    )
    g.add_argument(
        "--train-chroms", help="training chromosomes, comma-separated (default: all but validation/excluded)"
    )
    g.add_argument("-vi", "--valid-cell", help="cell type for a cross-cell validation curve")
    g.add_argument("-e", "--epochs", type=int, default=100, help="maximum epochs")
    g.add_argument(
        "-ep",
        "--patience",
        type=int,
        default=20,
        help="early-stopping patience (epochs without a better val_auPR)",
    )
    g.add_argument("-lr", "--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    g.add_argument("-n", "--negatives", type=float, default=1.0, help="negatives per positive")
    g.add_argument(
        "--open-negatives",
        type=float,
        default=0.0,
        help="fraction of negatives drawn from accessible bins outside peaks (top 5%% of 200-bp tiles by the "
        "--open-track signal) instead of uniformly; 0 keeps the original FactorNet's uniform sampling",
    )
    g.add_argument(
        "--open-track", help="track that defines accessibility for --open-negatives (default: the first)"
    )
    g.add_argument("--batch-size", type=int, default=100, help="minibatch size")
    g.add_argument(
        "--valid-max",
        type=int,
        default=20000,
        help="cap on the validation set sampled like the training epochs (its loss is the history's val_loss)",
    )
    g.add_argument(
        "--valid-negatives",
        type=int,
        default=20000,
        help="unbound bins (all cell types together) in the natural-balance validation set whose auPR picks the best epoch "
        "and stops early: every bound bin of the validation chromosomes plus all unbound ones, or this many "
        "drawn uniformly (weighted back to the chromosome's balance) when there are more",
    )


def _architecture_args(g) -> None:
    """The network's hyperparameters (paper Table S1)."""
    g.add_argument("-L", "--seq-len", type=int, default=1000, help="input length in bp")
    g.add_argument("-w", "--kernel-width", type=int, default=26, help="first-layer kernel width (bp)")
    g.add_argument("-k", "--kernels", type=int, default=32, help="number of first-layer kernels")
    g.add_argument("-r", "--lstm-units", type=int, default=32, help="LSTM units per direction")
    g.add_argument("-d", "--dense-units", type=int, default=128, help="dense units")
    g.add_argument(
        "-p", "--dropout", type=float, default=0.5, help="dropout after the BiLSTM and dense layers"
    )


def _metadata_args(g) -> None:
    """Per-cell expression PCs and per-bin annotation flags."""
    g.add_argument(
        "-m", "--expression", action="store_true", help="use expression PCs (samplesheet expression rows)"
    )
    g.add_argument("-g", "--gencode", action="store_true", help="use the 6 bin annotation flags")
    g.add_argument("--gtf", help="GENCODE-style GTF for -g")
    g.add_argument("--cpg", help="CpG-island BED for -g (with --gtf)")
    g.add_argument(
        "--annotation-beds", help="folder of pre-made feature BEDs for -g (instead of --gtf/--cpg)"
    )


def _motif_args(g) -> None:
    """Kernels started from a known motif (paper Table S1) or at random."""
    g.add_argument(
        "-mo",
        "--motif",
        help="initialise kernels 0/1 from this motif (forward, reverse complement): a JASPAR TF name or matrix "
        "ID (CORE vertebrates), a motif shipped with FactorNet (e.g. CTCF_f2), or a motif name in --motif-file; "
        "an error if not found. By default single-task training (-f TF) initialises them from the TF's own "
        "motif, as the paper's Table S1 does, and continues from random kernels with a notice when the TF has "
        "none; multi-task training starts from random kernels (Table S2). A motif wider than -w gives its "
        "central columns. The motif used (source, name or matrix ID and version, sha256) goes into the model card",
    )
    g.add_argument(
        "--no-motif-init",
        dest="motif_init",
        action="store_false",
        help="single-task: start every kernel at random (by default kernels 0/1 start from the TF's motif)",
    )
    g.add_argument(
        "--motif-file",
        help="MEME file to find the motif in (-mo, or the TF's name by default) instead of the packaged motifs "
        "and JASPAR (offline through pyjaspar); an error if it lacks the motif",
    )


def _run_args(p) -> None:
    """Seed, threads, precision, resume and output handling."""
    p.add_argument("-s", "--seed", type=int, default=0, help="random seed (deterministic on CPU)")
    p.add_argument("--workers", type=int, default=2, help="loader threads")
    p.add_argument("--mixed-precision", action="store_true", help="float16 compute (GPU)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last epoch")
    p.add_argument("--force", action="store_true", help="replace an existing --out model")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only epoch lines")


class _Bar(Progress):
    """tqdm bar per epoch and one summary line per epoch, on stderr."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def epoch_start(self, epoch, epochs, n_batches):
        if not self.quiet:
            from tqdm import tqdm

            self.bar = tqdm(
                total=n_batches,
                desc=f"epoch {epoch + 1}/{epochs}",
                unit="batch",
                file=sys.stderr,
                leave=False,
            )

    def batch_end(self, batch, loss):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def notice(self, message):
        print(f"factornet train: note: {message}", file=sys.stderr, flush=True)

    def epoch_end(self, record):
        if self.bar is not None:
            self.bar.close()
        parts = [
            f"epoch {record['epoch']}",
            f"loss {record['loss']:.4f}",
            f"val_loss {record['val_loss']:.4f}",
            f"val_auPR {record['val_auPR']:.4f}",
        ]
        if "cross_val_loss" in record:
            parts += [
                f"cross_val_loss {record['cross_val_loss']:.4f}",
                f"cross_val_auPR {record['cross_val_auPR']:.4f}",
            ]
        parts.append(f"best {record['best_epoch']}")
        print("  ".join(parts), file=sys.stderr, flush=True)


#: Longest accepted -L: 100× the paper's 1 kb window; a batch of 100 such windows is ~1 GB of input.
MAX_SEQ_LEN = 100_000


def run(args) -> int:
    # a model costs hours: never replaced silently (resuming its own interrupted retraining is fine)
    resuming = args.resume and os.path.isdir(args.out + ".resume")
    check_replaceable(args.out, args.force or resuming, "-o/--out")
    track_norms = parse_track_norms(args.track_norm)
    common.require_files(args.samplesheet, what="samplesheet")
    common.require_files(args.genome, what="genome")
    common.require_files(args.gtf, args.cpg, args.blacklist, args.motif_file)
    annotations = common.load_annotations(args, required=True) if args.gencode else None
    motif_file = args.motif_file
    settings = TrainSettings(
        tf=args.tf,
        cells=args.cells,
        valid_chroms=common.parse_chroms(args.valid_chroms),
        exclude_chroms=common.parse_chroms(args.exclude_chroms) if args.exclude_chroms else [],
        train_chroms=common.parse_chroms(args.train_chroms),
        valid_cell=args.valid_cell,
        epochs=args.epochs,
        patience=args.patience,
        learning_rate=args.learning_rate,
        negatives=args.negatives,
        open_negatives=args.open_negatives,
        open_track=args.open_track,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        kernel_width=args.kernel_width,
        kernels=args.kernels,
        lstm_units=args.lstm_units,
        dense_units=args.dense_units,
        dropout=args.dropout,
        expression=args.expression,
        gencode=args.gencode,
        motif=args.motif,
        motif_file=motif_file,
        motif_init=args.motif_init,
        seed=args.seed,
        workers=args.workers,
        valid_max=args.valid_max,
        valid_negatives=args.valid_negatives,
        mixed_precision=args.mixed_precision,
        resume=args.resume,
        track_norms=track_norms,
    )
    for name in ("epochs", "patience", "batch_size", "workers", "valid_max", "valid_negatives"):
        if getattr(settings, name) < 1 and not (name == "patience" and settings.patience == 0):
            raise FactorNetError(f"--{name.replace('_', '-')} must be ≥ 1")
    if not 0 < settings.learning_rate < math.inf:  # NaN fails too
        raise FactorNetError(f"-lr/--learning-rate must be a positive number, got {args.learning_rate}")
    if not 1 <= settings.seq_len <= MAX_SEQ_LEN:
        raise FactorNetError(
            f"-L/--seq-len must be between 1 and {MAX_SEQ_LEN} bp, got {settings.seq_len} "
            "(the paper uses 1000; longer windows need memory in proportion)"
        )
    if settings.negatives <= 0:
        raise FactorNetError("-n/--negatives must be > 0")
    if not 0 <= settings.open_negatives <= 1:
        raise FactorNetError("--open-negatives must be a fraction in [0, 1]")
    result = train(
        args.samplesheet, args.genome, args.out, settings, annotations, args.blacklist, _Bar(args.quiet)
    )
    print(
        f"wrote {args.out}: best epoch {result.best_epoch} of {len(result.history)}"
        f"{' (stopped early)' if result.stopped_early else ''}",
        file=sys.stderr,
    )
    return 0
