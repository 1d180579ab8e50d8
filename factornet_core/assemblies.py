"""Which genome assembly a model expects, and whether a genome is that assembly.

A model card names its assembly where it is known: models imported from the original FactorNet
(``import-legacy``, ``models fetch``) were trained on hg19 with UCSC names, and their card's provenance
says ``"genome": "hg19"``. Models trained here record no assembly and are not checked.

The check compares what can be compared: the lengths of the chromosomes present both in the genome
and in the assembly's table (``data/assemblies.tsv``, nuclear chromosomes of hg19 and hg38). An hg38
FASTA given to an hg19 model fails on chr1 (248 956 422 bp, not 249 250 621). A genome that lacks the
assembly's chromosomes is not judged, nor is a chromosome much shorter than the assembly's (less than
half): that is an excerpt or a test genome (``factornet simulate`` writes 1 Mb ``chr1``), not another
assembly, whose chromosomes differ by a few per cent (hg18/hg19/hg38) or tens of per cent (mouse).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

from factornet_core.errors import FactorNetError

#: A genome chromosome shorter than this fraction of the assembly's is an excerpt, not checked.
EXCERPT_FRACTION = 0.5


@lru_cache(maxsize=1)
def known_assemblies() -> dict[str, dict[str, int]]:
    """``{assembly: {chrom: length}}`` from the packaged table (UCSC names)."""
    text = resources.files("factornet_core").joinpath("data/assemblies.tsv").read_text()
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("assembly\t"):
            continue
        assembly, chrom, length = line.split("\t")
        out.setdefault(assembly, {})[chrom] = int(length)
    return out


def _ucsc(name: str) -> str:
    return name if name.startswith("chr") else "chr" + ("M" if name == "MT" else name)


def identify(chrom_sizes: Mapping[str, int]) -> str | None:
    """The known assembly whose lengths every comparable chromosome of the genome matches, if one."""
    sizes = {_ucsc(c): n for c, n in chrom_sizes.items()}
    for assembly, table in known_assemblies().items():
        common = [c for c in table if c in sizes and sizes[c] >= EXCERPT_FRACTION * table[c]]
        if common and all(sizes[c] == table[c] for c in common):
            return assembly
    return None


def check_assembly(assembly: str | None, chrom_sizes: Mapping[str, int]) -> None:
    """Refuse a genome that is not ``assembly`` where lengths can tell (see the module docstring).

    Raises
    ------
    FactorNetError
        One line naming the first chromosome whose length differs, both lengths, and the assembly
        the genome is when its lengths are those of another known one.
    """
    table = known_assemblies().get(assembly or "")
    if not table:
        return
    for chrom, length in chrom_sizes.items():
        want = table.get(_ucsc(chrom))
        if want is None or length == want or length < EXCERPT_FRACTION * want:
            continue
        other = identify(chrom_sizes)
        is_other = f", as in {other}" if other and other != assembly else ""
        raise FactorNetError(
            f"the model is for {assembly}, but the genome is not {assembly}: its {chrom} is {length} bp"
            f"{is_other}, {assembly}'s is {want} bp; give the {assembly} genome (FASTA) the model was trained on"
        )


def card_assembly(card) -> str | None:
    """The assembly a model card names (``provenance.genome``, set for imported original models)."""
    value = card.provenance.get("genome") if card.provenance else None
    return str(value) if value else None
