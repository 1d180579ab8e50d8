"""``factornet <subcommand>``: the single executable that Galaxy, Nextflow and users call.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int`` function. Library errors (:class:`FactorNetError`) become one line
``factornet <sub>: error: ...`` and exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from factornet_core import FactorNetError, __version__

# Order here is the order in `factornet --help`.
SUBCOMMANDS = [
    "bin",
    "train",
    "predict",
    "merge",
    "bag",
    "baseline",
    "evaluate",
    "interpret",
    "simulate",
    "inspect",
    "import_legacy",
    "demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factornet",
        description="FactorNet: predict transcription-factor binding in new cell types from DNA sequence "
        "and chromatin signal (Quang & Xie, Methods 2019).",
    )
    parser.add_argument("--version", action="version", version=f"factornet {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="<subcommand>")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"factornet_tools.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"factornet_tools.{name}_cmd":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


# Subcommands that run a Keras model (TensorFlow is imported before they start).
USES_TENSORFLOW = {"train", "predict", "interpret", "import-legacy", "demo"}


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
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    if args.subcommand in USES_TENSORFLOW and "tensorflow" not in sys.modules:
        _import_tensorflow_quietly()
    try:
        return int(args.func(args) or 0)
    except FactorNetError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"{args.prog_name}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"{args.prog_name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
