"""factornet_core.genome: chromosome sizes files and FASTA reads (padding past the ends, gzip traps)."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import zlib

import numpy as np
import pytest
from testdata import write_fasta

from factornet_core import dna
from factornet_core.errors import FactorNetError
from factornet_core.genome import Genome, read_chrom_sizes


def _bgzf_block(data: bytes) -> bytes:
    """One BGZF block (SAM spec 4.1): a gzip member with the 'BC' extra subfield."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    cdata = comp.compress(data) + comp.flush()
    header = b"\x1f\x8b\x08\x04" + struct.pack("<I", 0) + b"\x00\xff" + struct.pack("<H", 6)
    header += b"BC" + struct.pack("<HH", 2, 18 + len(cdata) + 8 - 1)
    return header + cdata + struct.pack("<II", zlib.crc32(data), len(data))


def test_read_chrom_sizes_keeps_order_and_skips_comments(tmp_path):
    path = tmp_path / "g.sizes"
    path.write_text("# a comment\nchr2\t300\n\nchr1\t1000\textra\nchrX 50\n")
    assert list(read_chrom_sizes(path).items()) == [("chr2", 300), ("chr1", 1000), ("chrX", 50)]


def test_read_chrom_sizes_errors(tmp_path):
    bad = tmp_path / "bad.sizes"
    bad.write_text("chr1\t100\nchr2\tlots\n")
    with pytest.raises(FactorNetError, match=r"bad.sizes:2: expected 'chrom<TAB>size'"):
        read_chrom_sizes(bad)
    empty = tmp_path / "empty.sizes"
    empty.write_text("# nothing\n")
    with pytest.raises(FactorNetError, match="is empty"):
        read_chrom_sizes(empty)
    with pytest.raises(FactorNetError, match="does not exist"):
        read_chrom_sizes(tmp_path / "missing.sizes")


def test_genome_codes_and_padding_past_both_ends(make_fasta, random_dna):
    seq1, seq2 = random_dna(123, "ACGTacgtN"), random_dna(61, "ACGT")
    path = make_fasta({"chr1": seq1, "chr2": seq2}, width=50)
    with Genome(path) as genome:
        assert genome.chrom_sizes == {"chr1": 123, "chr2": 61}
        np.testing.assert_array_equal(genome.codes("chr1", 0, 123), dna.encode(seq1))
        np.testing.assert_array_equal(genome.codes("chr2", 10, 20), dna.encode(seq2[10:20]))
        # hanging over the start and the end: N (code 4) outside
        hang = genome.codes("chr2", -5, 66)
        assert hang.tolist() == [4] * 5 + dna.encode(seq2).tolist() + [4] * 5
        assert genome.codes("chr2", 100, 110).tolist() == [4] * 10
        assert genome.codes("chr2", -30, -20).tolist() == [4] * 10
        x = genome.one_hot("chr1", 120, 126)
        np.testing.assert_array_equal(x[:3], dna.one_hot(seq1[120:]))
        assert x.shape == (6, 4) and not x[3:].any()
    assert path.with_name("genome.fa.fai").is_file()


def test_genome_lower_case_reads_like_upper(make_fasta):
    with Genome(make_fasta({"c": "acgtnACGTN"})) as genome:
        assert genome.codes("c", 0, 10).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]


def test_genome_unknown_chromosome(make_fasta):
    with Genome(make_fasta({"chr1": "ACGT"})) as genome:
        with pytest.raises(FactorNetError) as err:
            genome.codes("1", 0, 2)
    assert str(err.value) == (
        "genome.fa: chromosome '1' is not in the genome: in the genome it is 'chr1': the files use "
        "different chromosome naming (chr1 vs 1)"
    )


def test_genome_missing_file(tmp_path):
    with pytest.raises(FactorNetError, match="does not exist"):
        Genome(tmp_path / "nope.fa")


def test_genome_plain_gzip_is_refused_with_a_fix(tmp_path):
    path = tmp_path / "genome.fa.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(">chr1\nACGT\n")
    with pytest.raises(FactorNetError, match=r"gzip- but not bgzip-compressed: decompress it with '") as err:
        Genome(path)
    # The advice is a command: pasted as printed, it keeps the input and yields a readable genome.
    advice = str(err.value).split("'")[-2]
    assert advice == "gunzip -c genome.fa.gz > genome.fa"
    subprocess.run(advice, shell=True, cwd=tmp_path, check=True)
    assert gzip.open(path, "rt").read() == ">chr1\nACGT\n"
    with Genome(tmp_path / "genome.fa") as genome:
        assert genome.codes("chr1", 0, 4).tolist() == [0, 1, 2, 3]


def test_genome_bgzip_reads(tmp_path):
    """bgzip FASTA must read (Biopython is a declared dependency: a missing one fails here, not skips)."""
    path = tmp_path / "genome.fa.gz"
    path.write_bytes(_bgzf_block(b">chr1\nACGTACGTAC\n") + _bgzf_block(b""))
    with Genome(path) as genome:
        assert genome.codes("chr1", 0, 10).tolist() == [0, 1, 2, 3] * 2 + [0, 1]


# --------------------------------------------------------------------------------------------- stale indexes
def decode(codes: np.ndarray) -> str:
    return "".join("ACGTN"[c] for c in codes)


def _rewrap(path, records, width):
    """Rewrite ``path`` with another line width, keeping its old modification time (``cp -p``-style),
    so only the content shows that the .fai no longer fits."""
    stat = path.stat()
    write_fasta(path, records, width)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("keep_mtime", [True, False])
def test_fasta_rewrapped_under_an_old_index_still_reads_right(tmp_path, keep_mtime, random_dna):
    records = {"chr1": random_dna(1000, "ACGT"), "chr2": random_dna(700, "ACGT")}
    fa = write_fasta(tmp_path / "g.fa", records, width=60)
    with Genome(fa) as g:  # makes g.fa.fai for 60-column lines
        assert decode(g.codes("chr2", 100, 200)) == records["chr2"][100:200]
    old_fai = (tmp_path / "g.fa.fai").read_text()
    if keep_mtime:
        _rewrap(fa, records, 80)
    else:
        write_fasta(fa, records, 80)
        os.utime(tmp_path / "g.fa.fai", ns=(1_000_000_000, 1_000_000_000))  # index older than FASTA
    with Genome(fa) as g:
        assert decode(g.codes("chr1", 0, 1000)) == records["chr1"]
        assert decode(g.codes("chr2", 100, 700)) == records["chr2"][100:]
    new_fai = (tmp_path / "g.fa.fai").read_text()
    assert new_fai != old_fai and "\t80\t81" in new_fai  # rebuilt beside the FASTA
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_stale_index_in_a_read_only_folder_is_rebuilt_elsewhere(tmp_path, monkeypatch, random_dna):
    from factornet_core import sidecars

    records = {"chr1": random_dna(500, "ACGT")}
    fa = write_fasta(tmp_path / "g.fa", records, width=50)
    Genome(fa).close()
    old_fai = (tmp_path / "g.fa.fai").read_bytes()
    _rewrap(fa, records, 70)
    real_access = os.access
    monkeypatch.setattr(sidecars.os, "access", lambda p, m: False if m == os.W_OK else real_access(p, m))
    with Genome(fa) as g:
        assert decode(g.codes("chr1", 0, 500)) == records["chr1"]
    assert (tmp_path / "g.fa.fai").read_bytes() == old_fai  # read-only: left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa", "g.fa.fai"]


def test_fai_matches_detects_each_inconsistency(tmp_path, random_dna):
    from factornet_core.sidecars import fai_matches

    fa = write_fasta(tmp_path / "g.fa", {"chr1": random_dna(200, "ACGT"), "chr2": random_dna(90, "ACGT")}, 60)
    Genome(fa).close()
    fai = tmp_path / "g.fa.fai"
    good = fai.read_text()
    assert fai_matches(fa, fai)
    for bad in (
        good.replace("chr2", "chrX"),  # another name
        good.replace("\t60\t61", "\t50\t51", 1),  # another line width
        good.replace("200\t", "999\t", 1),  # longer than the file
    ):
        fai.write_text(bad)
        assert not fai_matches(fa, fai), bad


def test_bgzip_fasta_rewritten_under_old_fai_and_gzi(tmp_path, random_dna):
    pytest.importorskip("Bio")
    import pysam

    plain = tmp_path / "plain.fa"
    first = {"chr1": random_dna(3000, "ACGT")}
    write_fasta(plain, first, 60)
    gz = tmp_path / "g.fa.gz"
    pysam.tabix_compress(str(plain), str(gz), force=True)
    with Genome(gz) as g:
        assert decode(g.codes("chr1", 2000, 2100)) == first["chr1"][2000:2100]
    second = {"chr1": random_dna(2500, "ACGT"), "chr9": random_dna(400, "ACGT")}
    write_fasta(plain, second, 70)
    pysam.tabix_compress(str(plain), str(gz), force=True)
    for index in ("g.fa.gz.fai", "g.fa.gz.gzi"):
        os.utime(tmp_path / index, ns=(1_000_000_000, 1_000_000_000))
    with Genome(gz) as g:
        assert g.chrom_sizes == {"chr1": 2500, "chr9": 400}
        assert decode(g.codes("chr1", 2000, 2500)) == second["chr1"][2000:]


@pytest.mark.parametrize("name, packed", [("g.fa", True), ("g.fa.gz", False), ("g.fa.bgz", False)])
def test_fasta_gzip_is_detected_by_content_not_name(tmp_path, random_dna, name, packed):
    """pyfaidx goes by the name: a bgzip FASTA named .fa failed to decode, a plain one named .fa.gz was
    refused as 'Compressed FASTA is only supported in BGZF format'. Both read as the correct file."""
    import pysam

    records = {"chr1": random_dna(5000), "chr2": random_dna(1234)}
    plain = write_fasta(tmp_path / "right.fa", records)
    wrong = tmp_path / name
    if packed:
        pysam.tabix_compress(str(plain), str(wrong), force=True)
    else:
        wrong.write_bytes(plain.read_bytes())
    with Genome(wrong) as genome:
        assert genome.chrom_sizes == {"chr1": 5000, "chr2": 1234}
        for chrom, seq in records.items():
            np.testing.assert_array_equal(genome.codes(chrom, 0, len(seq)), dna.encode(seq))
        link_dir = genome._link_dir.name
    assert not os.path.exists(link_dir)  # the temporary link goes with close
    assert (tmp_path / f"{name}.fai").is_file()  # the index lies beside the user's file, as usual
