"""All-or-nothing output files: write under a temporary name, rename when everything succeeded.

A run that fails or is killed leaves no partial output behind (CONTRACT: "Outputs are written to a
temporary name and renamed at the end").
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from factornet_core.errors import FactorNetError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


class OutputSet:
    """Temporary paths for a group of outputs that appear together or not at all.

    >>> with OutputSet() as outs:                      # doctest: +SKIP
    ...     tmp = outs.path("labels.tsv.gz")
    ...     write(tmp)
    # labels.tsv.gz now exists; on an exception nothing was created

    Temporary files live in the final file's directory (same filesystem, so ``os.replace`` is atomic)
    and keep the final suffixes, so writers that look at the extension (``.gz``, ``.png``) still work.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, final: str | os.PathLike) -> Path:
        """A temporary path for ``final``; FactorNetError (naming ``final``) when it cannot be written."""
        final = Path(final)
        problem = output_problem(final)
        if problem:
            raise FactorNetError(f"output {str(final)!r} {problem}")
        suffix = "".join(final.suffixes[-2:]) if final.suffixes else ""
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".part{suffix}", dir=_parent(final))
        except OSError as exc:
            raise FactorNetError(f"output {str(final)!r} {_cannot_write(_parent(final), exc)}") from None
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
        self._pending.append((Path(tmp), final))
        return Path(tmp)

    def commit(self) -> None:
        for tmp, final in self._pending:
            try:
                os.replace(tmp, final)
            except OSError as exc:  # e.g. a folder of that name made while the run went on
                problem = output_problem(final) or f"cannot be written ({exc.strerror or exc})"
                raise FactorNetError(f"output {str(final)!r} {problem}") from None
        self._pending.clear()

    def discard(self) -> None:
        for tmp, _ in self._pending:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._pending.clear()

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _cannot_write(folder: Path, exc: OSError) -> str:
    """Why no file can be made in an existing ``folder``, in the user's words (ENOENT from creating a
    file in ``/proc`` would read "No such file or directory", which is not the problem)."""
    why = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
    }.get(exc.errno, "it does not accept new files")
    return f"cannot be written in folder {str(folder)!r} ({why}): choose another output folder"


def output_problem(path: str | os.PathLike, kind: str = "file") -> str | None:
    """Why the output ``path`` cannot be written, or None when it can (checked before any work).

    The reason is a clause to follow the path, ``f"output --out {path!r} {reason}"``.

    ``kind`` is ``file`` (the path must not be a folder), ``folder`` (a whole output folder) or
    ``prefix`` (files ``PATH.*`` are written). An existing device, pipe or socket is refused: the
    finished output is renamed onto its path (as root, ``-o /dev/null`` would replace the device with a
    file). The parent folder must exist, be a folder (not a file
    in the way, as in ``sheet.tsv/out.tsv``) and accept a new file: a probe file is made and removed,
    since ``os.access`` says yes for root and for ``/proc``.
    """
    path = Path(path)
    if kind == "file" and path.is_dir():
        return "is a folder, expected a file: give the path of the file to write"
    if kind != "prefix" and path.exists() and not (path.is_file() or path.is_dir()):
        # a device (/dev/null), pipe or socket: the finished output would be renamed over it
        return "is not a regular file (a device, pipe or socket): outputs replace their path when done; give a file path"
    parent = _parent(path)
    if not parent.is_dir():
        missing = parent
        while not missing.parent.is_dir() and missing.parent != missing:
            missing = missing.parent
        if missing.exists():
            return f"cannot be written: {str(missing)!r} is a file, not a folder; give a path in a folder"
        return f"cannot be written: folder {str(parent)!r} does not exist; create it first"
    try:
        fd, probe = tempfile.mkstemp(prefix=".factornet-probe.", dir=parent)
    except OSError as exc:
        return _cannot_write(parent, exc)
    os.close(fd)
    os.unlink(probe)
    return None


#: The temporary names made here: ``.NAME.<8 random>.part[.suffixes]`` (and ``.old`` folders).
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.(?:part|old)(?:\.[^/]*)?$")


def user_path(path: str | os.PathLike) -> str:
    """The output path the user gave, for one of this module's temporary paths (else ``path`` as is):
    messages about a failed write must not show the internal name."""
    path = Path(path)
    match = _TEMP_NAME.match(path.name)
    return str(path.with_name(match["name"])) if match else str(path)


@contextlib.contextmanager
def atomic_output(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path for ``final``; rename it to ``final`` only if the block succeeds."""
    with OutputSet() as outs:
        yield outs.path(final)


def check_replaceable(path: str | os.PathLike, force: bool, what: str = "--out") -> None:
    """Refuse to overwrite an existing output file unless ``force`` (the ``--force`` of the subcommand).

    Used for outputs that are expensive to make again (a trained or converted model), as
    :func:`atomic_folder` does for output folders; tables (predictions, labels) are replaced like any
    Unix tool's output.
    """
    path = Path(path)
    if path.is_dir():
        raise FactorNetError(f"{what} {str(path)!r} is a folder, expected a file path")
    if os.path.lexists(path) and not force:
        raise FactorNetError(
            f"{what} {str(path)!r} exists: use --force to replace it, or choose another path"
        )


@contextlib.contextmanager
def atomic_folder(
    out_dir: str | os.PathLike, force: bool = False, what: str = "output folder"
) -> Iterator[Path]:
    """Yield a temporary sibling folder; it becomes ``out_dir`` only if the block succeeds.

    An existing non-empty ``out_dir`` is refused unless ``force`` (then replaced as a whole).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FactorNetError(f"{what} {str(out_dir)!r} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise FactorNetError(f"{what} {str(out_dir)!r} exists and is not empty: use --force to replace it")
    parent = out_dir.parent
    if not parent.is_dir():
        raise FactorNetError(f"parent folder {str(parent)!r} of {what} {str(out_dir)!r} does not exist")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".part", dir=parent))
    except PermissionError:
        raise FactorNetError(f"folder {str(parent)!r} is not writable") from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700
        if out_dir.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=parent))
            os.replace(out_dir, old / "x")
            os.replace(tmp, out_dir)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_not_inputs(
    outputs: Iterable[str | os.PathLike],
    inputs: Mapping[str, str | os.PathLike | Iterable[str | os.PathLike] | None],
    what: str,
) -> None:
    """Refuse, before any work, an output file that is one of the inputs (writing it would destroy it).

    For outputs whose names are only known once the inputs are read (``--out-prefix`` gives
    ``PREFIX.<TF>.narrowPeak``, ``--bigwig-out`` gives ``PREFIX.<TF>.bw``): the actual file names are
    compared, so an input that merely starts with the prefix (``mycell.impute.tsv.gz`` for
    ``--out-prefix mycell``) is no collision.

    Parameters
    ----------
    outputs : the files the run will write.
    inputs : option label (``'--predictions'``) → path, several paths, or None (not given).
    what : the output option, named in the advice (``'--out-prefix'``).

    Raises
    ------
    FactorNetError
        An output that is an input: the same path, or the same file through a link.
    """
    given = []
    for label, value in inputs.items():
        items = [value] if isinstance(value, (str, os.PathLike)) else list(value or ())
        given += [(label, str(p)) for p in items if os.path.isfile(p)]
    for out in outputs:
        for label, path in given:
            if os.path.realpath(out) == os.path.realpath(path) or _same_file(out, path):
                raise FactorNetError(
                    f"output {str(out)!r} of {what} is input {label} ({path}): writing it would destroy "
                    f"the input; choose another {what}"
                )


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
