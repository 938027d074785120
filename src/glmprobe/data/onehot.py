"""One-hot encoding in the (N, 4, L) channels-first layout, alphabet A,C,G,T; N is all-zero."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHABET = "ACGT"
_LUT = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate(ALPHABET):
    _LUT[ord(_c)] = _i
    _LUT[ord(_c.lower())] = _i
_EYE = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def encode(seqs: Sequence[str], length: int | None = None) -> np.ndarray:
    """Sequences -> float32 (N, 4, L). Shorter sequences are right-padded with N (zeros)."""
    L = length or max((len(s) for s in seqs), default=0)
    codes = np.full((len(seqs), L), 4, dtype=np.uint8)
    for i, s in enumerate(seqs):
        b = np.frombuffer(s[:L].encode("ascii", "replace"), dtype=np.uint8)
        codes[i, : len(b)] = _LUT[b]
    return np.ascontiguousarray(_EYE[codes].transpose(0, 2, 1))


def decode(x: np.ndarray) -> list[str]:
    """(N, 4, L) one-hot -> sequences; all-zero positions decode to N."""
    x = np.asarray(x)
    idx = np.where(x.max(axis=1) > 0, x.argmax(axis=1), 4)
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)[idx]
    return [row.tobytes().decode() for row in letters]


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]
