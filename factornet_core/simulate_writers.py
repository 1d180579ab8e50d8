"""File writers for :mod:`factornet_core.simulate`: FASTA + .fai, narrowPeak, GTF, BED, tables.

bigWig and gzip go through the shared writers (:func:`factornet_core.tracks.write_bigwig`,
:func:`factornet_core.textio.write_text`).

Every writer is byte-deterministic: no timestamps (gzip ``mtime=0``, no file name in the gzip header),
fixed float formatting, rows in a fixed order.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from factornet_core.textio import write_text

FASTA_LINE = 60


# --------------------------------------------------------------------------------------------- pure helpers
def fasta_lines(seq: np.ndarray, width: int = FASTA_LINE) -> bytes:
    """Sequence bytes ``(len,) uint8`` → the FASTA body with a newline every ``width`` bases."""
    full = seq.size // width
    body = np.empty((full, width + 1), dtype=np.uint8)
    body[:, :width] = seq[: full * width].reshape(full, width)
    body[:, width] = ord("\n")
    tail = seq[full * width :].tobytes()
    return body.tobytes() + (tail + b"\n" if tail else b"")


# --------------------------------------------------------------------------------------------- writers
def write_fasta(path: str | os.PathLike, records: Sequence[tuple[str, np.ndarray]]) -> None:
    """Write ``(name, sequence bytes)`` records and the samtools-compatible ``.fai`` beside the FASTA."""
    offset = 0
    fai = []
    with open(path, "wb") as handle:
        for name, seq in records:
            header = f">{name}\n".encode()
            body = fasta_lines(seq)
            handle.write(header)
            handle.write(body)
            fai.append(f"{name}\t{seq.size}\t{offset + len(header)}\t{FASTA_LINE}\t{FASTA_LINE + 1}\n")
            offset += len(header) + len(body)
    with open(f"{path}.fai", "w") as handle:
        handle.writelines(fai)


def table_text(df: pd.DataFrame, header: bool) -> str:
    buffer = io.StringIO()
    df.to_csv(buffer, sep="\t", header=header, index=False, lineterminator="\n", float_format="%.5g")
    return buffer.getvalue()


def write_narrowpeak(path: str | os.PathLike, peaks: pd.DataFrame) -> None:
    """10-column narrowPeak (``chrom start end name score strand signalValue pValue qValue peak``)."""
    cols = ["chrom", "start", "end", "name", "score", "strand", "signal", "p", "q", "summit"]
    write_text(path, table_text(peaks.loc[:, cols], header=False))


def write_bed(path: str | os.PathLike, rows: Iterable[Sequence[object]]) -> None:
    write_text(path, "".join("\t".join(str(v) for v in row) + "\n" for row in rows))


def write_expression(path: str | os.PathLike, gene_ids: Sequence[str], values: np.ndarray) -> None:
    """``gene_id<TAB>value`` table (FPKM-like), genes in GTF order."""
    lines = ["gene_id\tvalue\n"] + [f"{g}\t{v:.4f}\n" for g, v in zip(gene_ids, values)]
    write_text(path, "".join(lines))


# --------------------------------------------------------------------------------------------- GTF
def _tx_segments(exons: np.ndarray, strand: str, a: int, b: int) -> list[tuple[int, int]]:
    """Spliced-transcript interval ``[a, b)`` → genomic segments (0-based, half-open), 5'→3' order.

    ``exons`` is ``(n, 2)`` genomic ``[start, end)`` in transcription order.
    """
    out = []
    offset = 0
    for gs, ge in exons:
        length = ge - gs
        lo, hi = max(a, offset), min(b, offset + length)
        if hi > lo:
            if strand == "+":
                out.append((int(gs + lo - offset), int(gs + hi - offset)))
            else:
                out.append((int(ge - (hi - offset)), int(ge - (lo - offset))))
        offset += length
    return out


def gene_features(gene: Mapping[str, object]) -> list[tuple[str, int, int, str]]:
    """GENCODE-style features of one single-transcript coding gene: ``(feature, start, end, phase)``.

    CDS excludes the stop codon (as in GENCODE); UTRs are ``five_prime_utr``/``three_prime_utr``.
    """
    exons, strand = gene["exons"], gene["strand"]
    cds_s, cds_e, tx_len = gene["cds_start"], gene["cds_end"], gene["tx_len"]
    feats: list[tuple[str, int, int, str]] = [
        ("gene", gene["start"], gene["end"], "."),
        ("transcript", gene["start"], gene["end"], "."),
    ]
    coded = 0
    for s, e in _tx_segments(exons, strand, 0, tx_len):
        feats.append(("exon", s, e, "."))
    for s, e in _tx_segments(exons, strand, cds_s, cds_e - 3):
        feats.append(("CDS", s, e, str((3 - coded % 3) % 3)))
        coded += e - s
    for s, e in _tx_segments(exons, strand, cds_s, cds_s + 3):
        feats.append(("start_codon", s, e, "0"))
    for s, e in _tx_segments(exons, strand, cds_e - 3, cds_e):
        feats.append(("stop_codon", s, e, "0"))
    for s, e in _tx_segments(exons, strand, 0, cds_s):
        feats.append(("five_prime_utr", s, e, "."))
    for s, e in _tx_segments(exons, strand, cds_e, tx_len):
        feats.append(("three_prime_utr", s, e, "."))
    return feats


def write_gtf(path: str | os.PathLike, genes: Sequence[Mapping[str, object]]) -> None:
    """GENCODE-like GTF: gene, transcript, exon, CDS, start/stop codon and UTR lines per gene."""
    lines = ["##description: simulated annotation (factornet simulate)\n", "##format: gtf\n"]
    for gene in genes:
        attrs = (
            f'gene_id "{gene["gene_id"]}"; transcript_id "{gene["transcript_id"]}"; '
            f'gene_type "protein_coding"; gene_name "{gene["name"]}"; '
            f'transcript_type "protein_coding"; transcript_name "{gene["name"]}-001";'
        )
        gene_attrs = f'gene_id "{gene["gene_id"]}"; gene_type "protein_coding"; gene_name "{gene["name"]}";'
        exon_numbers: dict[tuple[int, int], int] = {}
        for feat, s, e, phase in gene_features(gene):
            extra = ""
            if feat == "exon":
                exon_numbers[(s, e)] = len(exon_numbers) + 1
            if feat not in ("gene", "transcript"):
                number = next(n for (es, ee), n in exon_numbers.items() if es <= s and e <= ee)
                extra = f" exon_number {number};"
            a = gene_attrs if feat == "gene" else attrs
            lines.append(
                f"{gene['chrom']}\tSIMULATED\t{feat}\t{s + 1}\t{e}\t.\t{gene['strand']}\t{phase}\t{a}{extra}\n"
            )
    write_text(path, "".join(lines))
