"""The catalogue of published FactorNet models: list, download, verify, convert, cache.

The original FactorNet (Quang & Xie, Methods 2019) released its trained ENCODE-DREAM models in its
repository (github.com/uci-cbcl/FactorNet, ``models/<TF>/<variant>/``, MIT licence). The table of
those that have weights — name ``TF__variant``, tracks, metadata features, input length and every file
to fetch with its size and sha256 — ships with this package as ``factornet_core/data/catalogue.tsv``,
whose header carries the original's licence notice.

:func:`fetch` reads a model's files (``urllib``): downloads them from the upstream raw-file URLs or an
``http(s)://`` ``mirror``, or copies them from a local one (a folder or ``file://`` URL; either kind
replaces the upstream base); it checks each sha256, converts the folder with :func:`factornet_core.legacy.import_legacy` and keeps only the
``.keras`` file in the cache folder (:func:`default_cache_dir`). Each model appears complete or not at
all (the files go to a temporary folder, the ``.keras`` is written under a temporary name and renamed);
a model already in the cache, converted from the same weights (sha256 in its card), is not fetched
again.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import shlex
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from factornet_core.errors import FactorNetError
from factornet_core.wording import plural

UPSTREAM = "https://raw.githubusercontent.com/uci-cbcl/FactorNet/master"
SOURCE_COMMIT = "90ee7894154854bd05b8875b088e69cf10d43841"
WEIGHTS_FILE = "final_model.hdf5"
LICENCE = "MIT (FactorNet, Quang & Xie; github.com/uci-cbcl/FactorNet)"
CHUNK = 1 << 16
COLUMNS = ("name", "tf", "variant", "assembly", "input_length", "tracks", "features", "metadata", "files")


@dataclass(frozen=True)
class SourceFile:
    """One released file: name in the model folder, size in bytes, sha256 (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CatalogueEntry:
    """One published model.

    ``tracks``: bigWig names in input order (``DGF`` = DNase-seq cut-site signal, ``Unique35`` = 35-mer
    mapability); ``features``: ``meta`` (cell-level expression PCs, named in ``metadata``) and/or
    ``gencode`` (six annotation flags per bin); ``input_length`` in bp.
    """

    name: str
    tf: str
    variant: str
    assembly: str
    input_length: int
    tracks: tuple[str, ...]
    features: tuple[str, ...]
    metadata: tuple[str, ...]
    files: tuple[SourceFile, ...]

    def path(self, file: SourceFile) -> str:
        """The file's path inside the original repository (and inside a mirror)."""
        return f"models/{self.tf}/{self.variant}/{file.name}"

    @property
    def weights(self) -> SourceFile:
        return next(f for f in self.files if f.name == WEIGHTS_FILE)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "tf": self.tf,
            "variant": self.variant,
            "assembly": self.assembly,
            "input_length": self.input_length,
            "tracks": list(self.tracks),
            "features": list(self.features),
            "metadata": list(self.metadata),
            "source": f"github.com/uci-cbcl/FactorNet@{SOURCE_COMMIT[:7]}:models/{self.tf}/{self.variant}",
            "licence": LICENCE,
            "files": [{"name": f.name, "bytes": f.size, "sha256": f.sha256} for f in self.files],
        }


def _split(text: str) -> tuple[str, ...]:
    return () if text in ("", "-") else tuple(text.split(","))


def parse_catalogue(text: str, source: str = "catalogue.tsv") -> dict[str, CatalogueEntry]:
    """Parse the catalogue table (``#`` lines are the licence/provenance header) → ``{name: entry}``."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise FactorNetError(f"{source}: expected the header {' '.join(COLUMNS)}")
    entries: dict[str, CatalogueEntry] = {}
    for lineno, line in enumerate(lines[1:], 2):
        fields = line.split("\t")
        if len(fields) != len(COLUMNS):
            raise FactorNetError(
                f"{source}: row {lineno}: {plural(len(fields), 'column')}, expected {len(COLUMNS)}"
            )
        row = dict(zip(COLUMNS, fields))
        files = []
        for item in _split(row["files"]):
            name, size, sha = item.split(":")
            files.append(SourceFile(name, int(size), sha))
        entry = CatalogueEntry(
            row["name"],
            row["tf"],
            row["variant"],
            row["assembly"],
            int(row["input_length"]),
            _split(row["tracks"]),
            _split(row["features"]),
            _split(row["metadata"]),
            tuple(files),
        )
        if entry.name != f"{entry.tf}__{entry.variant}" or WEIGHTS_FILE not in {f.name for f in files}:
            raise FactorNetError(f"{source}: row {lineno}: bad entry {entry.name!r}")
        entries[entry.name] = entry
    return entries


def load_catalogue() -> dict[str, CatalogueEntry]:
    """The catalogue shipped with the package."""
    text = resources.files("factornet_core").joinpath("data/catalogue.tsv").read_text()
    return parse_catalogue(text)


def licence_notice() -> str:
    """The header of the shipped catalogue: provenance and the original's MIT licence, verbatim."""
    text = resources.files("factornet_core").joinpath("data/catalogue.tsv").read_text()
    return "\n".join(
        line[2:] if line.startswith("# ") else line[1:] for line in text.splitlines() if line.startswith("#")
    )


def resolve(
    names: Sequence[str], catalogue: Mapping[str, CatalogueEntry] | None = None
) -> list[CatalogueEntry]:
    """Catalogue entries for ``names``: a full name ``TF__variant``, or a TF that has one model.

    Raises :class:`FactorNetError` for an unknown name, listing close matches (difflib), or for a TF
    with several models, listing them.
    """
    catalogue = load_catalogue() if catalogue is None else catalogue
    out = []
    for name in names:
        if name in catalogue:
            out.append(catalogue[name])
            continue
        by_tf = [e for e in catalogue.values() if e.tf == name]
        if len(by_tf) == 1:
            out.append(by_tf[0])
            continue
        if by_tf:
            raise FactorNetError(
                f"{name} has {plural(len(by_tf), 'model')} in the catalogue: choose one of "
                f"{', '.join(e.name for e in by_tf)}"
            )
        close = difflib.get_close_matches(name, list(catalogue), n=3, cutoff=0.5)
        close += [n for n in catalogue if n.lower().startswith(name.lower() + "__") and n not in close]
        hint = f"; did you mean {', '.join(close)}?" if close else "; see 'factornet models list'"
        raise FactorNetError(f"unknown catalogue model {name!r}{hint}")
    return out


def resolve_cached(
    name: str,
    cache: str | os.PathLike | None = None,
    catalogue: Mapping[str, CatalogueEntry] | None = None,
) -> CatalogueEntry:
    """The catalogue entry that ``name`` (a full name ``TF__variant``, or a TF) names among the models
    already fetched into ``cache`` (default :func:`default_cache_dir`).

    A TF is ambiguous only when the cache holds more than one of its models; with none cached, a TF
    with one catalogue model resolves to it (so the caller can say how to fetch it).

    Raises :class:`FactorNetError` for an unknown name (as :func:`resolve`), a TF with several cached
    models (lists them), or a TF with several catalogue models and none cached (the fetch command).
    """
    catalogue = load_catalogue() if catalogue is None else catalogue
    by_tf = [e for e in catalogue.values() if e.tf == name] if name not in catalogue else []
    if len(by_tf) < 2:
        (entry,) = resolve([name], catalogue)
        return entry
    cached = [e for e in by_tf if is_cached(e, cache)]
    if len(cached) == 1:
        return cached[0]
    where = cached_path(by_tf[0], cache).parent
    if cached:
        raise FactorNetError(
            f"{name} has {plural(cached, 'model')} in the cache {str(where)!r}: choose one of "
            f"{', '.join(e.name for e in cached)}"
        )
    option = "" if cache is None else f" --model-cache {shlex.quote(str(cache))}"
    raise FactorNetError(
        f"no {name} model is in the cache {str(where)!r}: fetch one of {', '.join(e.name for e in by_tf)}, "
        f"e.g. 'factornet models fetch {by_tf[0].name}{option}'"
    )


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where converted models live: ``$FACTORNET_MODELS``, else ``$XDG_CACHE_HOME/factornet/models``,
    else ``~/.cache/factornet/models``."""
    environ = os.environ if environ is None else environ
    if environ.get("FACTORNET_MODELS"):
        return Path(environ["FACTORNET_MODELS"])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "factornet" / "models"


def cached_path(entry: CatalogueEntry, dest: str | os.PathLike | None = None) -> Path:
    return Path(dest if dest is not None else default_cache_dir()) / f"{entry.name}.keras"


def is_cached(entry: CatalogueEntry, dest: str | os.PathLike | None = None) -> bool:
    """True when the cache holds this model converted from the catalogue's weights (sha256 in the card)."""
    from factornet_core.modelfile import read_card

    path = cached_path(entry, dest)
    if not path.is_file():
        return False
    try:
        card = read_card(path)
    except FactorNetError:
        return False
    return card.provenance.get("weights_sha256") == entry.weights.sha256


# ------------------------------------------------------------------------------------------- download
class FetchProgress:
    """Hooks for a download display (the library never prints)."""

    def start(self, label: str, total_bytes: int) -> None: ...

    def advance(self, n_bytes: int) -> None: ...

    def finish(self) -> None: ...


def source_url(entry: CatalogueEntry, file: SourceFile, mirror: str | os.PathLike | None = None) -> str:
    """The URL a file is read from: upstream raw URL, or the same path under ``mirror``.

    A local mirror (a folder, or a ``file://`` URL of one) may hold the repository layout
    (``models/<TF>/<variant>/<file>``) or one folder per model named as in the catalogue
    (``<TF>__<variant>/<file>``, the layout of a folder of original model folders); an ``http(s)://``
    mirror must hold the repository layout.
    """
    rel = entry.path(file)
    if mirror is None:
        return f"{UPSTREAM}/{rel}"
    base = _local_mirror(mirror)
    if base is None:
        return f"{str(mirror).rstrip('/')}/{rel}"
    return _mirror_file(base, entry, file).resolve().as_uri()


def _local_mirror(mirror: str | os.PathLike) -> Path | None:
    """The folder of a local mirror (a path or a ``file://`` URL); None for an ``http(s)://`` one."""
    text = str(mirror)
    parsed = urllib.parse.urlparse(text)
    if parsed.scheme in ("http", "https"):
        return None
    base = Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else Path(text)
    if not base.is_dir():
        raise FactorNetError(f"--mirror {text!r} is neither a folder nor a file://, http:// or https:// URL")
    return base


def _mirror_file(base: Path, entry: CatalogueEntry, file: SourceFile) -> Path:
    """Where a local mirror holds ``file``: the repository layout, else the per-model folder layout
    (also the path to name when neither holds it and the mirror uses per-model folders)."""
    repo, flat = base / entry.path(file), base / entry.name / file.name
    if repo.exists() or not (flat.exists() or (base / entry.name).is_dir()):
        return repo
    return flat


def is_local_mirror(mirror: str | os.PathLike | None) -> bool:
    """Whether :func:`fetch` copies from ``mirror`` (a folder or ``file://`` URL) rather than downloading
    (upstream when None, or an ``http(s)://`` mirror). Raises :class:`FactorNetError` for a mirror that
    is neither."""
    return mirror is not None and _local_mirror(mirror) is not None


def missing_from_mirror(entry: CatalogueEntry, mirror: str | os.PathLike | None) -> list[str]:
    """The model's files a local mirror (a folder or ``file://`` URL) lacks, as paths inside it; ``[]``
    for a complete local mirror, and for upstream or an ``http(s)://`` mirror (known only on download)."""
    if mirror is None:
        return []
    base = _local_mirror(mirror)
    if base is None:
        return []
    paths = [_mirror_file(base, entry, file) for file in entry.files]
    return [str(path.relative_to(base)) for path in paths if not path.is_file()]


class DownloadError(FactorNetError):
    """The source could not be read (network down, server error): the next models would fail alike."""


class NotInMirror(FactorNetError):
    """The mirror does not hold a model's files (a local path that is absent, or HTTP 404)."""


def _download(url: str, target: Path, file: SourceFile, progress: FetchProgress) -> None:
    """Stream ``url`` into ``target`` while hashing; a wrong sha256 deletes ``target`` and raises. Errors
    name a ``file://`` source by its path and call its data a copy, not a download."""
    local = url.startswith("file:")
    source = urllib.request.url2pathname(urllib.parse.urlparse(url).path) if local else url
    digest = hashlib.sha256()
    try:
        with (
            contextlib.closing(urllib.request.urlopen(url, timeout=60)) as response,
            open(target, "wb") as out,
        ):
            progress.start(file.name, file.size)
            try:
                while block := response.read(CHUNK):
                    out.write(block)
                    digest.update(block)
                    progress.advance(len(block))
            finally:
                progress.finish()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, urllib.error.HTTPError) and exc.code == 404 and not url.startswith(UPSTREAM):
            raise NotInMirror(f"{url} (HTTP 404)") from None
        reason = getattr(exc, "reason", None) or exc
        if local:
            raise FactorNetError(
                f"cannot copy {source} from the mirror ({reason}); check that it is a readable file"
            ) from None
        advice = (
            "offline? point --mirror at a local or institutional copy"
            if url.startswith(UPSTREAM)
            else "is the mirror reachable from this machine?"
        )
        raise DownloadError(f"cannot download {url} ({reason}); {advice}") from None
    if digest.hexdigest() != file.sha256:
        target.unlink(missing_ok=True)
        raise FactorNetError(
            f"checksum mismatch for {file.name} from {source}: sha256 {digest.hexdigest()}, the catalogue says "
            f"{file.sha256}; the {'copy' if local else 'download'} was deleted (a damaged or different file: "
            "check the mirror)"
        )


@dataclass
class FetchResult:
    """What :func:`fetch` did, per model name.

    ``fetched``: every requested model now in the cache (name → ``.keras`` path), of which
    ``converted`` were fetched (downloaded, or copied from a local mirror: :func:`is_local_mirror`) and
    converted by this call (the others were already cached, with the catalogue's weights sha256 in their
    card, and were skipped); ``not_in_mirror``: models the mirror
    does not hold (name → the first missing file's path or URL); ``failed``: other failures (checksum
    mismatch, network, conversion) → reason; ``not_tried``: models left after a download error (the
    source is unreachable: each would wait for the same time-out).
    """

    fetched: dict[str, Path]
    converted: list[str]
    failed: dict[str, str]
    not_in_mirror: dict[str, str] = field(default_factory=dict)
    not_tried: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        """Requested models not in the cache after this call."""
        return [*self.not_in_mirror, *self.failed, *self.not_tried]


def fetch(
    names: Sequence[str] | None,
    dest: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    progress: FetchProgress | None = None,
    catalogue: Mapping[str, CatalogueEntry] | None = None,
) -> FetchResult:
    """Fetch (download, or copy from a local mirror), verify (sha256), convert and cache catalogue models
    (``names=None``: all of them).

    Every model is tried; each ends up complete in ``dest`` or not at all. A model already cached is
    skipped without touching the mirror; a model a local mirror lacks is not copied at all. Returns
    what was fetched and, for models that could not be (mirror lacks them, checksum mismatch, offline),
    the reason; the caller decides whether partial success is an error. Unknown names raise before any
    file is read.
    """
    from factornet_core.legacy import import_legacy

    catalogue = load_catalogue() if catalogue is None else catalogue
    entries = list(catalogue.values()) if names is None else resolve(names, catalogue)
    progress = progress or FetchProgress()
    folder = Path(dest) if dest is not None else default_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FactorNetError(
            f"cannot create the model cache folder {str(folder)!r} ({exc.strerror})"
        ) from None
    result = FetchResult({}, [], {})
    unreachable = False
    for entry in entries:
        final = cached_path(entry, folder)
        if is_cached(entry, folder):
            result.fetched[entry.name] = final
            continue
        if unreachable:
            result.not_tried.append(entry.name)
            continue
        lacking = missing_from_mirror(entry, mirror)
        if lacking:
            result.not_in_mirror[entry.name] = lacking[0]
            continue
        work = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".download", dir=folder))
        try:
            raw = work / entry.name
            raw.mkdir()
            for file in entry.files:
                _download(source_url(entry, file, mirror), raw / file.name, file, progress)
            import_legacy(
                raw,
                final,
                weights=raw / WEIGHTS_FILE,
                provenance={
                    "catalogue_name": entry.name,
                    "weights_sha256": entry.weights.sha256,
                    "source_commit": SOURCE_COMMIT,
                },
            )
        except NotInMirror as exc:
            result.not_in_mirror[entry.name] = str(exc)
            continue
        except FactorNetError as exc:
            result.failed[entry.name] = str(exc)
            unreachable = isinstance(exc, DownloadError)
            continue
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result.fetched[entry.name] = final
        result.converted.append(entry.name)
    return result
