"""factornet_core.textio: gzip detected by content on read, deterministic gzip on write."""

from __future__ import annotations

import gzip

import pytest

from factornet_core import textio
from factornet_core.errors import FactorNetError


def test_gzip_output_is_reproducible_and_standard(tmp_path):
    blobs = []
    for i in range(2):
        path = tmp_path / f"x{i}.gz"
        with textio.open_output(path) as handle:
            handle.write(b"same\n")
        blobs.append(path.read_bytes())
    assert blobs[0] == blobs[1]
    assert blobs[0][:2] == textio.GZIP_MAGIC
    assert blobs[0][4:8] == b"\0\0\0\0"  # mtime 0 (RFC 1952 header bytes 4-7)
    assert gzip.decompress(blobs[0]) == b"same\n"


def test_plain_output_when_the_name_does_not_end_in_gz(tmp_path):
    textio.write_text(tmp_path / "x.txt", "a\tb\n")
    assert (tmp_path / "x.txt").read_bytes() == b"a\tb\n"
    textio.write_text(tmp_path / "x.txt.gz", "a\tb\n")
    assert gzip.decompress((tmp_path / "x.txt.gz").read_bytes()) == b"a\tb\n"


def test_gzip_is_detected_by_content_not_by_name(tmp_path):
    disguised = tmp_path / "peaks.bed"  # gzip bytes, plain name
    disguised.write_bytes(gzip.compress(b"chr1\t0\t10\nchr2\t5\t9\n"))
    plain = tmp_path / "plain.gz"  # plain text, gzip name
    plain.write_text("x\ny\n")
    assert textio.is_gzip(disguised) and not textio.is_gzip(plain)
    assert textio.read_text_lines(disguised) == ["chr1\t0\t10", "chr2\t5\t9"]
    assert textio.read_text_lines(plain) == ["x", "y"]
    assert textio.read_first_line(disguised) == "chr1\t0\t10"
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert textio.read_first_line(empty) == ""


def test_truncated_gzip_and_missing_files_are_one_line_errors(tmp_path):
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(b"line\n" * 10_000)[:60])
    with pytest.raises(FactorNetError, match=r"cut\.gz: damaged or truncated gzip file"):
        textio.read_text_lines(cut)
    header_only = tmp_path / "header.gz"
    header_only.write_bytes(gzip.compress(b"line\n")[:12])
    with pytest.raises(FactorNetError, match=r"header\.gz: damaged or truncated gzip file"):
        textio.read_first_line(header_only)
    with pytest.raises(FactorNetError, match="does not exist"):
        textio.open_text(tmp_path / "missing.txt")
    with pytest.raises(FactorNetError, match="is a directory"):
        textio.open_text(tmp_path)
