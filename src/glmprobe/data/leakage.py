"""Leakage between splits: the same sequence (or its reverse complement) in two splits.

Sequences are compared through a 64-bit hash of their canonical form (the smaller
of the sequence and its reverse complement), so a scan keeps 8 bytes per row
instead of the sequences. Hashes are only compared within one process.

``drop`` removes the duplicates from valid and test, never from train: a valid or
test sequence seen in train goes, and a test sequence seen in the (remaining)
valid set goes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIONS = ("error", "warn", "drop")
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def canonical_hashes(seqs: list[str]) -> np.ndarray:
    """int64 hash of min(seq, reverse complement) per (cleaned, uppercase) sequence."""
    def one(s: str) -> int:
        rc = s.translate(_COMPLEMENT)[::-1]
        return hash(s if s <= rc else rc)

    return np.fromiter(map(one, seqs), dtype=np.int64, count=len(seqs))


@dataclass
class Leakage:
    valid_in_train: int
    test_in_train: int
    test_in_valid: int
    drop: np.ndarray            # bool mask over the rows checked: duplicates in valid/test

    @property
    def total(self) -> int:
        return self.valid_in_train + self.test_in_train + self.test_in_valid

    def counts(self) -> dict[str, int]:
        return {"valid_in_train": self.valid_in_train, "test_in_train": self.test_in_train,
                "test_in_valid": self.test_in_valid}

    def summary(self) -> str:
        return (f"{self.valid_in_train} valid and {self.test_in_train} test sequences also occur in train, "
                f"{self.test_in_valid} test sequences also in valid (reverse complements included)")


def check_leakage(hashes: np.ndarray, codes: np.ndarray) -> Leakage:
    """Count cross-split duplicates given canonical hashes and split codes (0 train, 1 valid, 2 test)."""
    train = np.unique(hashes[codes == 0])
    valid_idx, test_idx = np.flatnonzero(codes == 1), np.flatnonzero(codes == 2)
    v_in_t = np.isin(hashes[valid_idx], train)
    t_in_t = np.isin(hashes[test_idx], train)
    kept_valid = np.unique(hashes[valid_idx[~v_in_t]])
    t_in_v = np.isin(hashes[test_idx], kept_valid) & ~t_in_t
    drop = np.zeros(len(hashes), dtype=bool)
    drop[valid_idx[v_in_t]] = True
    drop[test_idx[t_in_t | t_in_v]] = True
    return Leakage(int(v_in_t.sum()), int(t_in_t.sum()), int(t_in_v.sum()), drop)
