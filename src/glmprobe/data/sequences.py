"""Sequence clean-up shared by every reader.

Soft-masked (lowercase) bases are uppercased; IUPAC ambiguity codes become ``N``
and are counted (the caller warns); any other character, an empty sequence or a
non-ASCII byte is an error naming the record. N is counted per sequence: a sequence
that is entirely N carries no information and is an error; one that is more than
``MOSTLY_N`` (50 %) N is counted for a warning. Checking is vectorised over a whole
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
MOSTLY_N = 0.5            # warn about sequences with a larger fraction of N (documented in the README)
HINT = ("Sequences may contain A, C, G, T, N (any case; lowercase is uppercased) and IUPAC "
        "ambiguity codes (converted to N); fix or remove the record.")


@dataclass
class Cleaned:
    sequences: list[str]
    ambiguous_bases: int      # IUPAC codes turned into N
    ambiguous_records: int    # records that had at least one
    n_bases: np.ndarray | None = None   # N count per sequence (after IUPAC -> N)

    def n_stats(self) -> tuple[int, int]:
        """(sequences with any N, sequences more than MOSTLY_N N)."""
        if self.n_bases is None or not len(self.sequences):
            return 0, 0
        lengths = np.fromiter(map(len, self.sequences), dtype=np.int64, count=len(self.sequences))
        return int((self.n_bases > 0).sum()), int((self.n_bases > MOSTLY_N * lengths).sum())


def clean_chunk(chunk: Chunk) -> Cleaned:
    """Uppercase, map IUPAC to N and validate every sequence of ``chunk``."""
    out = _clean(chunk)
    out.n_bases = np.fromiter((q.count("N") for q in out.sequences), dtype=np.int64, count=len(out.sequences))
    lengths = np.fromiter(map(len, out.sequences), dtype=np.int64, count=len(out.sequences))
    all_n = np.flatnonzero(out.n_bases == lengths)
    if all_n.size:
        raise chunk.error(int(all_n[0]), f"sequence is entirely N ({int(lengths[all_n[0]])} nt)",
                          "An all-N sequence carries no information (a BED region inside an assembly gap, or an "
                          "all-zero one-hot row); remove the record.")
    return out


def _clean(chunk: Chunk) -> Cleaned:
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
