"""``factornet models list|fetch``: the published FactorNet models (catalogue, download, convert, cache)."""

from __future__ import annotations

import json
import sys

from factornet_core import FactorNetError
from factornet_core import catalogue as cat
from factornet_core.wording import plural
from factornet_tools import common


def register(sub) -> None:
    p = sub.add_parser(
        "models",
        help="published FactorNet models: list the catalogue, fetch (download, verify, convert) into a cache",
        description="The trained ENCODE-DREAM models released by the original FactorNet (hg19, UCSC names; MIT "
        "licence). 'list' shows the catalogue; 'fetch' downloads the released files, checks their sha256, "
        "converts them to .keras and keeps them in a cache folder ($FACTORNET_MODELS, else "
        "$XDG_CACHE_HOME/factornet/models).",
    )
    p.set_defaults(func=None, prog_name=p.prog)
    inner = p.add_subparsers(dest="models_what", metavar="<list|fetch>")

    ls = common.add_subparser(inner, "list", run_list, help="the catalogue of published models")
    ls.add_argument("--json", action="store_true", help="JSON (one object per model) instead of a table")
    ls.add_argument("--licence", action="store_true", help="print the models' licence notice and exit")
    common.add_model_cache_arg(ls, "model cache whose contents the 'cached' column reports", old=("--dest",))

    f = common.add_subparser(
        inner,
        "fetch",
        run_fetch,
        help="download (or copy from a local mirror), verify and convert published models into the cache",
        description="Download each model's released files (raw URLs of github.com/uci-cbcl/FactorNet, or the "
        "same paths under an http(s) --mirror; copied instead from a local one), verify every sha256, convert with the legacy importer and keep MODEL.keras "
        "in the cache. Atomic per model; a model already cached is not fetched again (it is reported as "
        "skipped). Exit status 0 when every requested model is in the cache afterwards; 2 when any is not "
        "(not in the mirror, checksum mismatch, offline): one error line names each of those once and says "
        "what to do; the models fetched or already cached stay in the cache.",
    )
    f.add_argument(
        "names", nargs="*", metavar="NAME", help="catalogue names (TF__variant, or a TF with one model)"
    )
    f.add_argument("--all", action="store_true", help="every model in the catalogue")
    common.add_model_cache_arg(f, "model cache to fetch into", old=("--dest",))
    f.add_argument(
        "--mirror",
        metavar="URL|DIR",
        help="a local folder (repository layout models/TF/variant/FILE, or one TF__variant/ folder per model), "
        "file:// or http(s):// base URL replacing https://raw.githubusercontent.com/uci-cbcl/FactorNet/master",
    )
    f.add_argument("--quiet", action="store_true", help="no progress bar")


def run_list(args) -> int:
    if args.licence:
        print(cat.licence_notice())
        return 0
    entries = list(cat.load_catalogue().values())
    rows = []
    for entry in entries:
        row = entry.as_dict()
        row["cached"] = cat.is_cached(entry, args.model_cache)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    head = (
        "name",
        "TF",
        "variant",
        "assembly",
        "tracks",
        "metadata",
        "input_bp",
        "cached",
        "source",
        "licence",
    )
    table = [head] + [
        (
            r["name"],
            r["tf"],
            r["variant"],
            r["assembly"],
            ",".join(r["tracks"]),
            _metadata(r),
            str(r["input_length"]),
            "yes" if r["cached"] else "no",
            r["source"],
            "MIT",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _metadata(row: dict) -> str:
    parts = []
    if "meta" in row["features"]:
        parts.append(f"{len(row['metadata'])} expression PCs")
    if "gencode" in row["features"]:
        parts.append("6 annotation flags")
    return " + ".join(parts) or "-"


class _Bar(common.CountBar):
    """Download progress: one transient bar per file (``FetchProgress`` hooks, label first)."""

    def __init__(self, quiet: bool):
        super().__init__(quiet, "fetch", "B", leave=False)

    def start(self, label: str, total_bytes: int) -> None:
        super().start(total_bytes, label)


def run_fetch(args) -> int:
    if args.all == bool(args.names):
        raise FactorNetError("give catalogue names or --all (see 'factornet models list')")
    entries = list(cat.load_catalogue().values()) if args.all else cat.resolve(args.names)
    if any(
        not cat.is_cached(e, args.model_cache) and not cat.missing_from_mirror(e, args.mirror)
        for e in entries
    ):
        from factornet_tools.cli import _import_tensorflow_quietly

        _import_tensorflow_quietly()  # the conversion builds Keras models
    result = cat.fetch(
        None if args.all else args.names, dest=args.model_cache, mirror=args.mirror, progress=_Bar(args.quiet)
    )
    how = _how_fetched(args.mirror)
    for name, path in result.fetched.items():
        state = (
            f"{how}, sha256 verified, converted"
            if name in result.converted
            else "already cached (converted from the catalogue's weights, sha256 in its card), skipped"
        )
        print(f"{name}: {state}: {path}", file=sys.stderr)
    if result.missing:
        raise FactorNetError(fetch_failure(result, len(entries), args.mirror))
    return 0


def _how_fetched(mirror) -> str:
    """How the files of a model fetched now reached this machine, for its line on stderr."""
    if mirror is None:
        return "downloaded"
    return "copied from the mirror" if cat.is_local_mirror(mirror) else "downloaded from the mirror"


def fetch_failure(result: cat.FetchResult, n_requested: int, mirror) -> str:
    """One line for the models a fetch could not bring into the cache: each named once, what to do once."""
    parts = []
    if result.not_in_mirror:
        names = list(result.not_in_mirror)
        parts.append(
            f"{plural(names, 'model')} not in the mirror {str(mirror)!r} ({', '.join(names)}; e.g. no "
            f"{next(iter(result.not_in_mirror.values()))}): add {'its' if len(names) == 1 else 'their'} files "
            "there (models/TF/variant/FILE or TF__variant/FILE), or fetch "
            f"{'it' if len(names) == 1 else 'them'} from the original repository by running the same command "
            "without --mirror"
        )
    for name, why in result.failed.items():
        parts.append(f"{name}: {why}")
    if result.not_tried:
        parts.append(f"not tried after that: {', '.join(result.not_tried)}")
    have = len(result.fetched)
    tail = f"; the other {plural(have, 'model')} {'is' if have == 1 else 'are'} in the cache" if have else ""
    return f"{len(result.missing)} of {plural(n_requested, 'requested model')} not fetched — {'; '.join(parts)}{tail}"
