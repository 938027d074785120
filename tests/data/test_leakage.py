"""Leakage: exact duplicates, the minimizer sketch for near-duplicates, and genomic interval overlaps."""

from __future__ import annotations

import numpy as np
import pytest
from tests.data.conftest import random_seqs

from glmprobe.data.leakage import _CODE, WINDOW, K, LeakageIndex, _kmers, _overlapping, minimizers

_RC = str.maketrans("ACGT", "TGCA")


def _rc(s: str) -> str:
    return s.translate(_RC)[::-1]


def _value(s: str) -> int:
    return int(s.translate(str.maketrans("ACGT", "0123")), 4)


def test_kmer_values_match_a_naive_encoding():
    (s,) = random_seqs(1, 90, seed=1)
    fwd, rev = _kmers(_CODE[np.frombuffer(s.encode(), np.uint8)], K)
    assert [int(v) for v in fwd] == [_value(s[p:p + K]) for p in range(len(s) - K + 1)]
    assert [int(v) for v in rev] == [_value(_rc(s[p:p + K])) for p in range(len(s) - K + 1)]


def test_minimizers_are_strand_symmetric_and_skip_n_and_boundaries():
    a, b = random_seqs(2, 200, seed=2)
    ha, _ = minimizers([a])
    assert set(ha) == set(minimizers([_rc(a)])[0]) and len(ha) > 2 * 200 / (WINDOW + 1) * 0.6
    # k-mers spanning two sequences are never sampled: a batch gives the union of single sketches
    h, row = minimizers([a, b])
    assert set(h[row == 0]) == set(ha) and set(h[row == 1]) == set(minimizers([b])[0])
    assert len(minimizers(["N" * 100, "ACGT" * 5])[0]) == 0       # only N / shorter than K


@pytest.mark.parametrize("shared,expect", [(30, 0), (45, 0), (80, 1), (120, 1), (200, 1)])
def test_detection_by_length_of_the_shared_stretch(shared, expect):
    """Random pairs sharing >= 80 nt are always found; < K + WINDOW - 1 = 50 nt never."""
    rng = np.random.default_rng(shared)
    found = 0
    for t in range(40):
        x, y = random_seqs(2, 230, seed=int(rng.integers(1 << 30)))
        y = y[:230 - shared] + x[:shared]                     # a shifted window of x
        index = LeakageIndex()
        index.add([x, y])
        found += index.check(np.array([0, 2], np.uint8)).near["test_in_train"]
    assert found == expect * 40


def test_orientation_pairs_found_but_constant_flanks_ignored():
    """lentiMPRA: adaptor + element + adaptor vs adaptor + rc(element) + adaptor; long flanks shared by all."""
    flank5, flank3 = random_seqs(2, 40, seed=3)               # longer than K: shared by every row
    elements = random_seqs(100, 150, seed=4)
    elements[95] = _rc(elements[3])
    codes = np.array([0] * 80 + [1] * 10 + [2] * 10, dtype=np.uint8)
    index = LeakageIndex()
    for a in range(0, 100, 30):                               # streamed in chunks
        index.add([flank5 + e + flank3 for e in elements[a:a + 30]])
    leak = index.check(codes)
    assert leak.exact == {"valid_in_train": 0, "test_in_train": 0, "test_in_valid": 0}
    assert leak.near == {"valid_in_train": 0, "test_in_train": 1, "test_in_valid": 0}
    assert list(np.flatnonzero(leak.drop)) == [95]


def test_exact_and_near_counted_once_per_row_and_kept_rows_only():
    elements = random_seqs(12, 120, seed=5)
    elements[8] = elements[0]                                 # valid = train (exact)
    elements[10] = elements[8][10:] + "ACGTACGTAC"            # test near valid row 8, which leaked: not counted
    elements[11] = elements[9][:100] + "A" * 20               # test near valid row 9 (kept)
    codes = np.array([0] * 8 + [1, 1, 2, 2], dtype=np.uint8)
    index = LeakageIndex()
    index.add(elements)
    leak = index.check(codes)
    assert leak.exact["valid_in_train"] == 1 and leak.near["valid_in_train"] == 0
    assert leak.near["test_in_train"] == 1                    # row 10 is also near train row 0
    assert leak.near["test_in_valid"] == 1
    keep = np.ones(12, dtype=bool)
    keep[0] = False                              # without train row 0, valid row 8 stays and row 10 leaks from it
    leak = index.check(codes, keep)
    assert leak.total == 2 and leak.near["test_in_valid"] == 2 and leak.drop.shape == (11,)
    assert list(np.flatnonzero(leak.drop)) == [9, 10]         # rows 10 and 11 of the input


def test_interval_overlap_matches_brute_force():
    rng = np.random.default_rng(6)
    n = 300
    chrom = rng.integers(0, 3, n)
    start = rng.integers(0, 5000, n)
    end = start + rng.integers(1, 200, n)
    ref, query = np.arange(0, 200), np.arange(200, n)
    got = _overlapping(chrom, start, end, ref, query)
    want = [any(chrom[r] == chrom[q] and start[r] < end[q] and start[q] < end[r] for r in ref) for q in query]
    assert list(got) == want and 0 < sum(want) < len(want)


def test_bed_index_counts_overlaps_per_split_pair():
    index = LeakageIndex(with_coords=True)
    seqs = random_seqs(5, 20, seed=7)
    index.add(seqs, {"chrom": ["chr1", "chr1", "chr2", "chr1", "chr2"], "start": [0, 100, 0, 10, 20],
                     "end": [20, 120, 20, 30, 40]})
    leak = index.check(np.array([0, 0, 1, 2, 2], np.uint8))
    # row 3 (test) overlaps train row 0; row 4 (test) touches nothing on chr2 but valid row 2 ends at 20
    assert leak.near == {"valid_in_train": 0, "test_in_train": 1, "test_in_valid": 0}
    assert leak.method == "overlapping genomic intervals"
