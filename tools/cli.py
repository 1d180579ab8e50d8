"""``factornet <subcommand>``: the single executable that Galaxy, Nextflow and users call.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int`` function. Library errors (:class:`FactorNetError`) become one line
``factornet <sub>: error: ...`` and exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys

from factornet_core import FactorNetError, __version__, atomic
from factornet_tools import common

# Order here is the order in `factornet --help`; the one-line summaries live here so that
# `factornet --help` and `--version` import no subcommand module (pandas, TensorFlow, matplotlib) at all.
SUBCOMMANDS: dict[str, str] = {
    "prepare": "make a normalised cut-site bigWig from DNase-seq/ATAC-seq alignments",
    "bin": "tile chromosomes into 200/50 bp bins and label them B/A/U from peaks",
    "train": "train a FactorNet model (single-task with -f TF, else multi-task in one cell type)",
    "predict": "predict TF binding scores for a cell type (bins BED, chromosomes, or the whole genome)",
    "impute": "apply many models to one cell type's DNase/ATAC tracks: one column per model",
    "merge": "concatenate prediction shards (e.g. one per chromosome) into one file",
    "call": "turn per-bin scores into binding-site calls (narrowPeak), one set per TF",
    "bag": "combine predictions of several models (rank or mean average)",
    "baseline": "reference predictions: PWM scan, accessibility, their rank product, gradient boosting",
    "evaluate": "score predictions (several side by side): auROC, auPR (PRROC Davis-Goadrich), recall at FDR, plots",
    "interpret": "interpret a model: first-layer kernel motifs, or saliency maps of regions",
    "simulate": "write a simulated dataset with known binding sites",
    "inspect": "print a model file's FactorNet card",
    "import-legacy": "convert an original FactorNet model folder (Keras 1.1 / Theano) to a .keras model",
    "models": "published FactorNet models: list the catalogue, fetch (download, verify, convert) into a cache",
    "demo": "FactorNet vs reference predictors on built-in simulated data (simulate → ... → evaluate)",
}


def _chosen_subcommand(argv: list[str]) -> str | None:
    """The subcommand named on the command line (first non-option word), if it is one of ours."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``factornet`` parser. Only the subcommand named in ``argv`` gets its full parser (and imports
    its module); the others are listed by name and summary. ``argv=None`` builds every full parser."""
    parser = argparse.ArgumentParser(
        prog="factornet",
        description="FactorNet: predict transcription-factor binding in new cell types from DNA sequence "
        "and chromatin signal (Quang & Xie, Methods 2019).",
    )
    parser.add_argument("--version", action="version", version=f"factornet {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="<subcommand>", parser_class=common.Parser)
    chosen = _chosen_subcommand(argv) if argv is not None else None
    for name, summary in SUBCOMMANDS.items():
        if argv is not None and name != chosen:
            sub.add_parser(name, help=summary, add_help=False)
            continue
        module = importlib.import_module(f"factornet_tools.{name.replace('-', '_')}_cmd")
        module.register(sub)
    parser.set_defaults(_subparsers=sub.choices)
    return parser


# Subcommands that run a Keras model (TensorFlow is imported before they start).
USES_TENSORFLOW = {"train", "predict", "impute", "interpret", "import-legacy", "demo"}


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 silenced: its C++ start-up lines (oneDNN notice, absl
    preamble) ignore TF_CPP_MIN_LOG_LEVEL and would clutter every run's stderr. A failing import is
    repeated without the silencing so its error is seen."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        try:
            import tensorflow  # noqa: F401
        except Exception:
            pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    import tensorflow  # noqa: F401,F811  (re-raises a real import error, now visible)


def main(argv: list[str] | None = None) -> int:
    # Quiet TensorFlow's C++ start-up chatter; set here (the executable), never in the library.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the subcommand's parser ("factornet baseline: error: ..."), not the top level's
        chosen = args._subparsers.get(args.subcommand) if args.subcommand else None
        (chosen or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    debug = getattr(args, "debug", False)
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        common.check_outputs_are_not_inputs(args)
        common.check_inputs_not_repeated(args)
        common.check_output_folders(args)
        if args.subcommand in USES_TENSORFLOW and "tensorflow" not in sys.modules:
            _import_tensorflow_quietly()
        with common.stdout_outputs(args):
            return int(args.func(args) or 0)
    except FactorNetError as exc:
        if debug:
            raise
        print(f"{args.prog_name}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, UnicodeDecodeError) as exc:
        # Caused by the user's files or machine (missing/unreadable path, a folder given for a file, a
        # full disk, a file that is not UTF-8 text), never by our logic: one line, as for FactorNetError.
        if debug:
            raise
        print(f"{args.prog_name}: error: {_describe_os_error(exc)}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"{args.prog_name}: terminated (SIGTERM); no partial output was kept", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"{args.prog_name}: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)


class Terminated(BaseException):
    """SIGTERM (what Slurm, Galaxy and Nextflow send on cancel) turned into an exception, so that every
    atomic output's ``finally``/``__exit__`` discards its temporary files on the way out."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}): is it binary or another encoding?"
        )
    name = getattr(exc, "filename", None)
    # a write that failed under an atomic temporary name is reported under the name the user gave
    where = f" {atomic.user_path(name)!r}" if name else ""
    if isinstance(exc, IsADirectoryError):
        return f"{where.strip()} is a folder, expected a file"
    if getattr(exc, "errno", None) == errno.ENOSPC:
        return f"no space left on the device while writing{where}: free space or choose another output folder"
    return f"{exc.strerror or exc}{':' if where else ''}{where}"


if __name__ == "__main__":
    sys.exit(main())
