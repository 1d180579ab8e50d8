"""factornet_core.genome: chromosome sizes files and FASTA reads (padding past the ends, gzip traps)."""

from __future__ import annotations

import gzip
import struct
import subprocess
import zlib

import numpy as np
import pytest

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
        with pytest.raises(FactorNetError, match="chromosome '1' is not in genome genome.fa"):
            genome.codes("1", 0, 2)


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
