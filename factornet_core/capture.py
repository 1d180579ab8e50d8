"""Capture what C libraries write straight to file descriptor 2 (libBigWig's ``[bwHdrRead] ...``,
``[pyBwOpen] bw is NULL!``): such lines bypass ``sys.stderr`` and would appear before the CLI's one-line
error. :func:`captured_stderr` redirects the descriptor itself, keeps the text, and hands it to the
caller, which folds what matters into its own :class:`~factornet_core.errors.FactorNetError`.

Only short, single-threaded calls (opening a file) are wrapped: while fd 2 is redirected every thread's
stderr goes to the capture, so long reads are not.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Redirect fd 2 into a temporary file for the block; the yielded list receives the captured lines
    (stripped, empty ones dropped) when the block ends, normally or by an exception."""
    lines: list[str] = []
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):  # pragma: no cover - replaced or closed sys.stderr
        pass
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())
