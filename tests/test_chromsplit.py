"""factornet_core.chromsplit: the training / validation / held-out chromosome rules of train and baseline."""

from __future__ import annotations

import pytest

from factornet_core.chromsplit import split_chromosomes
from factornet_core.errors import FactorNetError

SIZES = {"chr1": 1000, "chr2": 900, "chr3": 800, "chrX": 700}


def test_default_training_chromosomes_are_the_rest_in_genome_order():
    assert split_chromosomes(SIZES, ["chr2"], ["chrX"]) == (["chr1", "chr3"], ["chr2"])
    assert split_chromosomes(SIZES) == (["chr1", "chr2", "chr3", "chrX"], [])  # baseline: no -v


def test_training_chromosomes_given_are_kept_as_given():
    assert split_chromosomes(SIZES, ["chr2"], ["chr1"], ["chrX", "chr3"]) == (["chrX", "chr3"], ["chr2"])


@pytest.mark.parametrize(
    "valid, exclude, train, message",
    [
        # the user test: trained on the held-out chr3 with exit 0
        ([], ["chr3"], ["chr3"], "chr3 is both held out (--exclude-chroms) and a training chromosome (--train-chroms): "
         "a chromosome has one role; remove it from --exclude-chroms or --train-chroms"),
        # validated on a held-out chromosome
        (["chr2"], ["chr2"], None, "chr2 is both held out (--exclude-chroms) and a validation chromosome "
         "(-v/--valid-chroms): a chromosome has one role; remove it from --exclude-chroms or -v/--valid-chroms"),
        # was silently dropped from training
        (["chr2"], [], ["chr1", "chr2"], "chr2 is both a validation chromosome (-v/--valid-chroms) and a training "
         "chromosome (--train-chroms): a chromosome has one role; remove it from -v/--valid-chroms or --train-chroms"),
        ([], [], ["chr1", "chr1"], "chr1 is given twice in --train-chroms: give each chromosome once"),
        ([], ["chr9"], None, "held-out chromosome 'chr9' is not in the genome (it has chr1, chr2, chr3, chrX): "
         "set --exclude-chroms"),
        (["1"], [], None, "validation chromosome '1' is not in the genome"),
        (["chr1"], ["chr2", "chr3", "chrX"], None, "no training chromosomes left after removing validation (-v) "
         "and held-out (--exclude-chroms) ones"),
    ],
)  # fmt: skip
def test_contradictions_and_unknown_names_are_refused(valid, exclude, train, message):
    with pytest.raises(FactorNetError) as err:
        split_chromosomes(SIZES, valid, exclude, train)
    assert str(err.value).startswith(message)
