"""Helpers shared by the subcommand modules: parser creation and path checks."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator

from factornet_core import FactorNetError, atomic


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where it tells the reader something: not for required options, flags,
    empty or ``None`` defaults, nor where the help text already speaks of its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        # identity for False: 0 and 0.0 are real defaults worth showing (0 == False)
        empty = (
            default is None or default is False or (isinstance(default, (str, list, tuple)) and not default)
        )
        if (
            "default" in text
            or action.required
            or empty
            or default is argparse.SUPPRESS
            or isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        ):
            return text
        if not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)):
            return text
        if text.endswith(")"):  # one parenthetical: "width (bp; default: 26)", not "(bp) (default: 26)"
            return text[:-1] + "; default: %(default)s)"
        return text + " (default: %(default)s)"


#: Namespace attribute (removed after parsing) holding what each single-value option was given, by dest.
_GIVEN = "_factornet_given"


def _refuse_repeat(action: argparse.Action, namespace: argparse.Namespace, values) -> None:
    """Record that ``action`` was given ``values``; raise ``argparse.ArgumentError`` if it already was.

    argparse's ``store`` keeps the last of two values silently (``--exclude-chroms chr3 --exclude-chroms
    chr1`` holds out chr1 only): a silent wrong result, refused here for every single-value option."""
    given = namespace.__dict__.setdefault(_GIVEN, {})
    if action.dest in given:
        shown = lambda v: " ".join(map(str, v)) if isinstance(v, list) else str(v)  # noqa: E731
        if action.nargs in ("+", "*") or isinstance(action.nargs, int):
            fix = f"give all its values after one {action.option_strings[-1]}"
        else:
            fix = "give it once" + ("; lists are comma-separated" if "comma" in (action.help or "") else "")
        raise argparse.ArgumentError(
            action, f"given twice ({shown(given[action.dest])}, then {shown(values)}): {fix}"
        )
    given[action.dest] = values


class _StoreOnce(argparse._StoreAction):
    """``store`` for an option that takes one value (or one list): given twice is an error, not
    last-one-wins. Options meant to repeat say so with ``action="append"``."""

    def __call__(self, parser, namespace, values, option_string=None):
        if self.option_strings:
            _refuse_repeat(self, namespace, values)
        super().__call__(parser, namespace, values, option_string)


class Parser(argparse.ArgumentParser):
    """The parser of every subcommand: a single-value option given twice is a usage error (exit 2)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def parse_known_args(self, args=None, namespace=None):
        parsed, extra = super().parse_known_args(args, namespace)
        parsed.__dict__.pop(_GIVEN, None)
        # how the user wrote each argument (the innermost subcommand's parser runs first and wins), so
        # that the guards below name a positional input as its usage line does (PRED), not --predictions
        names = {
            a.dest: a.option_strings[-1] if a.option_strings else a.metavar or a.dest.upper()
            for a in self._actions
        }
        parsed.__dict__.setdefault("arg_names", names)
        return parsed, extra


def add_subparser(
    sub: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int], **kwargs
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with the options every subcommand shares (``--debug``)."""
    kwargs.setdefault("formatter_class", HelpFormatter)
    parser = sub.add_parser(name, **kwargs)
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.set_defaults(func=run, prog_name=parser.prog)
    return parser


class _DeprecatedAlias(argparse.Action):
    """A former option name kept working (hidden from --help) with a one-line warning naming the new one."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: warning: {option_string} is deprecated, use {self.new}", file=sys.stderr)
        _refuse_repeat(self, namespace, values)
        setattr(namespace, self.dest, values)


def add_model_cache_arg(parser: argparse.ArgumentParser, help: str, old: tuple[str, ...] = ()) -> None:
    """``--model-cache DIR``: the folder of fetched catalogue models, one name in every subcommand
    (``models list|fetch``, ``impute``). ``old`` names (``--dest``) keep working, hidden, with a warning."""
    parser.add_argument(
        "--model-cache",
        metavar="DIR",
        help=f"{help} (default: $FACTORNET_MODELS, else $XDG_CACHE_HOME/factornet/models, else "
        "~/.cache/factornet/models)",
    )
    for name in old:
        parser.add_argument(
            name, dest="model_cache", action=_DeprecatedAlias, new="--model-cache", help=argparse.SUPPRESS
        )


def require_files(*paths: str | os.PathLike | None, what: str = "input") -> None:
    """Fail with one clear line if any given path is not an existing, readable file."""
    for path in paths:
        if path is None:
            continue
        if not os.path.exists(path):
            raise FactorNetError(f"{what} file {str(path)!r} does not exist")
        if os.path.isdir(path):
            raise FactorNetError(f"{what} {str(path)!r} is a directory, expected a file")
        if not os.access(path, os.R_OK):
            raise FactorNetError(f"{what} file {str(path)!r} is not readable")


def parse_chroms(text: str | None) -> list[str] | None:
    """``chr1,chr2`` or ``chr1 chr2`` → list; None stays None."""
    if text is None:
        return None
    chroms = [c for c in text.replace(",", " ").split() if c]
    if not chroms:
        raise FactorNetError("empty chromosome list")
    return chroms


def cell_inputs(args) -> tuple[dict[str, str], str | None]:
    """Tracks (name → bigWig) and the expression table of one cell type, from ``--samplesheet``/``--cell``
    or repeated ``--track NAME=BIGWIG`` (rules: :func:`factornet_core.samplesheet.cell_inputs`).
    Raises FactorNetError on a malformed ``--track`` or a track name given twice."""
    from factornet_core.samplesheet import cell_inputs as resolve

    tracks: dict[str, str] = {}
    for item in args.track:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise FactorNetError(f"--track expects NAME=BIGWIG, got {item!r}")
        if name in tracks:
            raise FactorNetError(
                f"--track {name} is given twice ({tracks[name]!r}, then {path!r}): a track name is one signal; "
                "give each name once"
            )
        require_files(path, what=f"track {name}")
        tracks[name] = path
    return resolve(args.samplesheet, args.cell, tracks, getattr(args, "expression", None))


def load_annotations(args, required: bool = False) -> dict | None:
    """The six bin features from ``--annotation-beds`` or ``--gtf`` + ``--cpg`` (None when neither is given)."""
    require_files(args.gtf, args.cpg, what="annotation")
    if not (args.annotation_beds or (args.gtf and args.cpg)):
        if required or args.gtf or args.cpg:
            raise FactorNetError("annotation features need --gtf and --cpg, or --annotation-beds")
        return None
    from factornet_core import annotations

    if args.annotation_beds:
        return annotations.features_from_beds(args.annotation_beds)
    from factornet_core.genome import Genome

    with Genome(args.genome) as genome:
        return annotations.features_from_gtf(args.gtf, args.cpg, genome.chrom_sizes)


def add_cell_type_args(parser: argparse.ArgumentParser, models: str = "a model") -> None:
    """The options naming one cell type's inputs (read by :func:`cell_inputs` and
    :func:`load_annotations`): ``--samplesheet/--cell``, ``--track``, ``--expression``, ``--meta-values``,
    ``--gtf/--cpg`` or ``--annotation-beds``. ``models`` names what needs them in the help texts."""
    parser.add_argument("--samplesheet", help="samplesheet TSV with the cell type's tracks/expression")
    parser.add_argument("--cell", help="cell type in the samplesheet")
    add_track_arg(parser)
    parser.add_argument(
        "--expression", help=f"expression table for {models} trained with -m (default: from the samplesheet)"
    )
    parser.add_argument(
        "--meta-values", help="cell-level metadata values, one a line (imported original models with 'meta')"
    )
    parser.add_argument("--gtf", help=f"GTF for {models} trained with -g")
    parser.add_argument("--cpg", help=f"CpG BED for {models} trained with -g")
    parser.add_argument(
        "--annotation-beds", help=f"folder of pre-made feature BEDs for {models} trained with -g"
    )


def cell_type(args):
    """The :class:`~factornet_core.inputs.CellType` named by :func:`add_cell_type_args` options."""
    from factornet_core.inputs import CellType

    require_files(args.gtf, args.cpg, args.expression, args.meta_values)
    tracks, expression = cell_inputs(args)
    return CellType(args.genome, tracks, expression, args.meta_values, load_annotations(args))


def predict_options(args):
    """:class:`~factornet_core.predict.PredictOptions` from the options ``predict`` and ``impute`` share
    (``--bins --chroms --blacklist --bigwig-out --batch-size --naive``; ``--tf --dream`` where present)."""
    from factornet_core.predict import PredictOptions

    require_files(args.bins, args.blacklist)
    if args.batch_size < 1:
        raise FactorNetError("--batch-size must be ≥ 1")
    return PredictOptions(
        bins_bed=args.bins,
        chroms=parse_chroms(args.chroms),
        blacklist=args.blacklist,
        tf=getattr(args, "tf", None),
        dream=getattr(args, "dream", False),
        bigwig_prefix=args.bigwig_out,
        batch_size=args.batch_size,
        naive=args.naive,
    )


class CountBar:
    """A tqdm bar on stderr (nothing when ``quiet``), opened by ``start``: the progress display behind
    the library's ``Progress`` hooks (``start(total)``, ``advance(n)``, ``finish()``)."""

    def __init__(self, quiet: bool, desc: str, unit: str, leave: bool = True):
        self.quiet, self.desc, self.unit, self.leave = quiet, desc, unit, leave
        self.bar = None

    def start(self, total: int, desc: str | None = None) -> None:
        if not self.quiet:
            import sys

            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                unit=self.unit,
                unit_scale=True,
                desc=desc or self.desc,
                file=sys.stderr,
                leave=self.leave,
            )

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _is_output_dest(dest: str) -> bool:
    """Output options are named ``--out``, ``--out-*`` or ``--*-out`` (``--bigwig-out``) by convention."""
    return dest == "out" or dest.startswith("out_") or dest.endswith("_out")


def _paths(value) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in items if isinstance(v, (str, os.PathLike)) and str(v) not in ("", "-")]


def _is_prefix_dest(dest: str) -> bool:
    """Prefix outputs (``--out-prefix``, ``--bigwig-out``) name files ``PREFIX.<something>``."""
    return dest.endswith("prefix") or dest == "bigwig_out"


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _named(args: argparse.Namespace, dest: str) -> str:
    """``dest`` as the command line spells it: ``--models``, or a positional's metavar (``PRED``)."""
    return getattr(args, "arg_names", {}).get(dest) or _flag(dest)


def check_outputs_are_not_inputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that would destroy an input or another output.

    - a file output that is one of the inputs (the same file, through links too);
    - an output folder that holds an input;
    - two outputs of one run given the same path.

    Prefix outputs (``--out-prefix``, ``--bigwig-out``) are not compared here: their file names
    (``PREFIX.<TF>.narrowPeak``) are known only once the inputs are read, and the library compares
    those real names (:func:`factornet_core.atomic.check_not_inputs`), so an input that merely starts
    with the prefix is no collision.

    Inputs are every other option value naming an existing file; ``NAME=PATH`` values (``--track``)
    count by their path. Raises FactorNetError naming both options.
    """
    inputs: list[tuple[str, str]] = []
    for dest, value in vars(args).items():
        if _is_output_dest(dest) or dest in ("func", "prog_name", "subcommand"):
            continue
        for path in _paths(value):
            path = str(path).split("=", 1)[1] if "=" in str(path) and not os.path.exists(path) else str(path)
            if os.path.isfile(path):
                inputs.append((dest, os.path.realpath(path)))
    outputs: dict[str, str] = {}
    for dest, value in vars(args).items():
        if not _is_output_dest(dest):
            continue
        for out in _paths(value):
            real = os.path.realpath(out)
            if not _is_prefix_dest(dest):
                if real in outputs:
                    raise FactorNetError(
                        f"outputs {_flag(outputs[real])} and {_flag(dest)} are the same path {str(out)!r}: "
                        "one would overwrite the other; give each its own path"
                    )
                outputs[real] = dest
            if _is_prefix_dest(dest):
                continue  # its files' names (PREFIX.<TF>...) are checked by the library once known
            for in_dest, in_real in inputs:
                inside = os.path.isdir(real) and in_real.startswith(real.rstrip(os.sep) + os.sep)
                hit = in_real == real or inside or _same_file(in_real, real)
                what = "is inside" if inside else "is the same file as"
                if hit:
                    raise FactorNetError(
                        f"output {_flag(dest)} {str(out)!r} {what} input {_named(args, in_dest)} "
                        f"({os.path.basename(in_real)}): writing it would destroy the input; choose another path"
                    )


def check_output_folders(args: argparse.Namespace) -> None:
    """Refuse, before any work (a model load, a training run), an output that cannot be written: a file
    output that is a folder, a folder that does not exist or is a file, a folder that takes no new
    file (:func:`factornet_core.atomic.output_problem`)."""
    for dest, value in vars(args).items():
        if not _is_output_dest(dest):
            continue
        kind = "prefix" if _is_prefix_dest(dest) else "folder" if _is_folder_dest(args, dest) else "file"
        for out in _paths(value):
            problem = atomic.output_problem(out, kind)
            if problem:
                raise FactorNetError(f"output {_flag(dest)} {str(out)!r} {problem}")


#: Output options that name a folder rather than a file (besides every ``--*-dir``).
FOLDER_OUTPUTS = {("demo", "out"), ("simulate", "out")}


def _is_folder_dest(args: argparse.Namespace, dest: str) -> bool:
    return dest.endswith("_dir") or (getattr(args, "subcommand", None), dest) in FOLDER_OUTPUTS


def check_inputs_not_repeated(args: argparse.Namespace) -> None:
    """Refuse one file given twice to an option that takes several (``prepare --bam``, ``bag``/``merge``
    predictions, ``evaluate --predictions``, ``impute --models``, ...): pooled or averaged, it would count
    twice with exit 0. The same path, a link to it, or a byte-identical copy (same size and the same first
    and last MiB) all count as the same file. ``NAME=PATH`` values (``--track``) are not compared.
    Raises FactorNetError naming both values."""
    for dest, value in vars(args).items():
        if _is_output_dest(dest) or not isinstance(value, (list, tuple)):
            continue
        files = [str(v) for v in _paths(value) if os.path.isfile(v)]
        for i, a in enumerate(files):
            for b in files[:i]:
                if os.path.realpath(a) == os.path.realpath(b) or _same_file(a, b) or _same_bytes(a, b):
                    name = _named(args, dest)
                    what = f"{name} is" if name.startswith("-") else f"the {name} inputs are"
                    raise FactorNetError(
                        f"{what} given the same file twice ({b!r} and {a!r}): it would count twice; "
                        "give each file once"
                    )


def _same_bytes(a: str, b: str, probe: int = 1 << 20) -> bool:
    """Whether two files have the same size and the same first and last ``probe`` bytes (a copy)."""
    size = os.path.getsize(a)
    if size != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        if fa.read(probe) != fb.read(probe):
            return False
        fa.seek(max(0, size - probe))
        fb.seek(max(0, size - probe))
        return fa.read(probe) == fb.read(probe)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


#: Outputs that may be ``-`` (standard output, CONTRACT "stdout is for data only when an output path is
#: ``-``"): the text tables. Every other output (models, bigWigs, folders, prefixes) refuses ``-``.
STDOUT_OUTPUTS: dict[str, tuple[str, ...]] = {
    "predict": ("out",),
    "impute": ("out",),
    "merge": ("out",),
    "bag": ("out",),
    "call": ("out",),
    "bin": ("out_labels", "out_bins"),
}

_STDOUT_SUFFIX = {"out_bins": ".bed"}


@contextlib.contextmanager
def stdout_outputs(args: argparse.Namespace) -> Iterator[None]:
    """Let an output path ``-`` mean standard output where the contract allows it, refuse it elsewhere.

    The subcommand writes to a file in a private temporary folder (so atomic writing, gzip detection by
    name and the library stay as they are: plain text, since the name does not end in ``.gz``); when it
    succeeds the bytes are copied to stdout. A failed run writes nothing to stdout.
    """
    allowed = STDOUT_OUTPUTS.get(getattr(args, "subcommand", None) or "", ())
    dashes = [d for d, v in vars(args).items() if _is_output_dest(d) and v == "-"]
    for dest in dashes:
        if dest not in allowed:
            raise FactorNetError(
                f"--{dest.replace('_', '-')} '-': this output cannot go to standard output "
                "(only prediction, label and call tables can); give a file or folder path"
            )
    if len(dashes) > 1:
        raise FactorNetError("only one output can be '-' (standard output)")
    if not dashes:
        yield
        return
    dest = dashes[0]
    args.stdout_dest = dest
    folder = tempfile.mkdtemp(prefix="factornet-stdout.")
    tmp = os.path.join(folder, f"stdout{_STDOUT_SUFFIX.get(dest, '.tsv')}")
    setattr(args, dest, tmp)
    try:
        yield
        if os.path.isfile(tmp):
            sys.stdout.flush()
            with open(tmp, "rb") as handle:
                shutil.copyfileobj(handle, sys.stdout.buffer, 1 << 20)
            sys.stdout.buffer.flush()
    finally:
        setattr(args, dest, "-")
        args.stdout_dest = None
        shutil.rmtree(folder, ignore_errors=True)


def shown(args: argparse.Namespace, dest: str) -> str:
    """An output path for messages: ``standard output`` while :func:`stdout_outputs` stands in for ``-``."""
    return "standard output" if getattr(args, "stdout_dest", None) == dest else str(getattr(args, dest))


def report_bins_written(args: argparse.Namespace, result, what: str) -> None:
    """The closing line of predict and impute: bins written, blacklisted, ``what`` was scored, speed."""
    from factornet_core.wording import plural

    rate = result.n_bins / result.seconds if result.seconds > 0 else float("nan")
    print(
        f"wrote {shown(args, 'out')}: {plural(result.n_bins, 'bin')} ({result.n_blacklisted} blacklisted → 0), "
        f"{what}; {rate:.0f} bins/s",
        file=sys.stderr,
    )


def add_track_arg(parser: argparse.ArgumentParser) -> None:
    """``--track NAME=BIGWIG`` (repeatable): a cell type's tracks given directly, not by a samplesheet."""
    parser.add_argument(
        "--track",
        action="append",
        default=[],
        metavar="NAME=BIGWIG",
        help="a track given directly, instead of --samplesheet/--cell (repeatable, one per name)",
    )
