"""factornet_core.dna: one-hot, reverse complement and strand flips, checked against hand-made values."""

from __future__ import annotations

import numpy as np
import pytest

from factornet_core import dna


def test_encode_codes_both_cases_and_other_letters_as_n():
    assert dna.encode("ACGTNacgtn").tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert dna.encode(b"RYKM-.").tolist() == [4] * 6
    assert dna.encode("").shape == (0,)


def test_one_hot_hand_computed():
    x = dna.one_hot("ACGTN")
    assert x.dtype == np.float32 and x.shape == (5, 4)
    expected = np.array(
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=np.float32
    )
    np.testing.assert_array_equal(x, expected)


def test_one_hot_lower_case_equals_upper_and_codes_equal_string(random_dna):
    seq = random_dna(500, "ACGTN")
    np.testing.assert_array_equal(dna.one_hot(seq.lower()), dna.one_hot(seq))
    np.testing.assert_array_equal(dna.one_hot(dna.encode(seq)), dna.one_hot(seq))
    # every row is a unit vector except N rows, which are all zero
    row_sums = dna.one_hot(seq).sum(axis=1)
    np.testing.assert_array_equal(row_sums, [0.0 if b == "N" else 1.0 for b in seq])


def test_reverse_complement_hand_computed():
    assert dna.reverse_complement("AACGTN") == "NACGTT"
    assert dna.reverse_complement("aaCg") == "cGtt"
    assert dna.reverse_complement("") == ""


def test_reverse_complement_twice_is_identity(random_dna):
    for n in (1, 2, 77, 1000):
        seq = random_dna(n)
        assert dna.reverse_complement(dna.reverse_complement(seq)) == seq


def test_reverse_complement_onehot_matches_string_rc(random_dna):
    seq = random_dna(301)
    x = dna.one_hot(seq)
    np.testing.assert_array_equal(dna.reverse_complement_onehot(x), dna.one_hot(dna.reverse_complement(seq)))
    np.testing.assert_array_equal(dna.reverse_complement_onehot(dna.reverse_complement_onehot(x)), x)


def test_reverse_complement_onehot_on_a_batch(random_dna):
    seqs = [random_dna(50) for _ in range(4)]
    batch = np.stack([dna.one_hot(s) for s in seqs])
    rc = dna.reverse_complement_onehot(batch)
    for i, s in enumerate(seqs):
        np.testing.assert_array_equal(rc[i], dna.one_hot(dna.reverse_complement(s)))


@pytest.mark.parametrize(
    "names, perm",
    [
        (["DNASE_fwd", "DNASE_rev", "MAP"], [1, 0, 2]),
        (["A_rev", "B", "A_fwd"], [2, 1, 0]),
        (["X_fwd", "Y_rev"], [0, 1]),  # unpaired: stay
        (["DNASE", "MAPABILITY"], [0, 1]),
        ([], []),
    ],
)
def test_track_strand_permutation(names, perm):
    assert dna.track_strand_permutation(names) == perm
    assert dna.input_strand_permutation(names) == [3, 2, 1, 0] + [4 + p for p in perm]


def test_reverse_strand_hand_made_input():
    names = ["cuts_fwd", "MAP", "cuts_rev"]
    seq = "ACGGN"
    fwd = np.array([1, 2, 3, 4, 5], np.float32)
    mid = np.array([10, 20, 30, 40, 50], np.float32)
    rev = np.array([100, 200, 300, 400, 500], np.float32)
    x = np.concatenate([dna.one_hot(seq), np.stack([fwd, mid, rev], axis=1)], axis=1)
    y = dna.reverse_strand(x, names)
    assert y.shape == (5, 7)
    np.testing.assert_array_equal(y[:, :4], dna.one_hot("NCCGT"))
    np.testing.assert_array_equal(y[:, 4], rev[::-1])  # the reverse strand's '_fwd' is the forward '_rev'
    np.testing.assert_array_equal(y[:, 5], mid[::-1])
    np.testing.assert_array_equal(y[:, 6], fwd[::-1])


def test_reverse_strand_twice_is_identity_and_works_on_batches(rng, random_dna):
    names = ["DNASE_rev", "DNASE_fwd", "MAP"]
    batch = np.stack(
        [
            np.concatenate([dna.one_hot(random_dna(64)), rng.random((64, 3), dtype=np.float32)], axis=1)
            for _ in range(3)
        ]
    )
    flipped = dna.reverse_strand(batch, names)
    np.testing.assert_array_equal(dna.reverse_strand(flipped, names), batch)
    for i in range(3):
        np.testing.assert_array_equal(flipped[i], dna.reverse_strand(batch[i], names))
        np.testing.assert_array_equal(flipped[i, :, :4], dna.reverse_complement_onehot(batch[i, :, :4]))
        np.testing.assert_array_equal(flipped[i, :, 4], batch[i, ::-1, 5])
        np.testing.assert_array_equal(flipped[i, :, 5], batch[i, ::-1, 4])
        np.testing.assert_array_equal(flipped[i, :, 6], batch[i, ::-1, 6])
