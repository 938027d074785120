"""Sequence clean-up shared by every reader.

Soft-masked (lowercase) bases are uppercased; IUPAC ambiguity codes become ``N``
and are counted (the caller warns); any other character, an empty sequence or a
non-ASCII byte is an error naming the record. Checking is vectorised over a whole
chunk (one joined byte string), so it costs little next to parsing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glmprobe.data.readers.base import Chunk

IUPAC = "RYSWKMBDHV"
_VALID, _AMBIGUOUS, _INVALID = 0, 1, 2
_CLASS = np.full(256, _INVALID, dtype=np.uint8)
for _c in "ACGTN":
    _CLASS[ord(_c)] = _VALID
for _c in IUPAC:
    _CLASS[ord(_c)] = _AMBIGUOUS
_TO_N = str.maketrans({c: "N" for c in IUPAC})
HINT = ("Sequences may contain A, C, G, T, N (any case; lowercase is uppercased) and IUPAC "
        "ambiguity codes (converted to N); fix or remove the record.")


@dataclass
class Cleaned:
    sequences: list[str]
    ambiguous_bases: int      # IUPAC codes turned into N
    ambiguous_records: int    # records that had at least one


def clean_chunk(chunk: Chunk) -> Cleaned:
    """Uppercase, map IUPAC to N and validate every sequence of ``chunk``."""
    seqs = [s.upper() for s in chunk.sequences]
    if not seqs:
        return Cleaned([], 0, 0)
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    if (lengths == 0).any():
        raise chunk.error(int(np.argmin(lengths)), "empty sequence", HINT)
    ends = np.cumsum(lengths)
    joined = "".join(seqs)
    try:
        blob = joined.encode("ascii")
    except UnicodeEncodeError as exc:
        i = int(np.searchsorted(ends, exc.start, side="right"))
        raise chunk.error(i, f"invalid character {joined[exc.start]!r} in the sequence", HINT) from None
    if not blob.translate(None, b"ACGTN"):   # the common case, checked at C speed
        return Cleaned(seqs, 0, 0)
    cls = _CLASS[np.frombuffer(blob, dtype=np.uint8)]
    bad = np.flatnonzero(cls == _INVALID)
    if bad.size:
        pos = int(bad[0])
        i = int(np.searchsorted(ends, pos, side="right"))
        start = int(ends[i] - lengths[i])
        raise chunk.error(i, f"invalid character {joined[pos]!r} at position {pos - start + 1} of the sequence",
                          HINT)
    amb = np.flatnonzero(cls == _AMBIGUOUS)
    if not amb.size:
        return Cleaned(seqs, 0, 0)
    records = np.unique(np.searchsorted(ends, amb, side="right"))
    for i in records:
        seqs[i] = seqs[i].translate(_TO_N)
    return Cleaned(seqs, int(amb.size), int(records.size))
