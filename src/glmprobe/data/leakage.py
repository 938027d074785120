"""Leakage between splits: the same sequence, or a near-duplicate of it, in two splits.

Two checks, both streaming (a scan adds chunk after chunk to a :class:`LeakageIndex`)
and both blind to the strand:

* **Exact duplicates**: a 64-bit hash of each sequence's canonical form (the smaller of
  the sequence and its reverse complement), 8 bytes per row.
* **Near-duplicates**: sequences that share a long stretch without being equal, e.g. the
  lentiMPRA orientation pairs (adaptor + element + adaptor vs adaptor + revcomp(element) +
  adaptor) or shifted, overlapping windows.

  - Input with genome coordinates (BED): two regions in different splits that overlap by
    at least one base, on either strand. Exact, 12 bytes per row.
  - Other input: a minimizer sketch. Each sequence keeps the smallest hash of every
    window of ``WINDOW`` consecutive canonical ``K``-mers (so two sequences that share a
    stretch of ``K + WINDOW - 1`` = 50 nt share at least one kept hash), as 32-bit hashes:
    about 8 bytes × 2·L / (WINDOW + 1) per row (~180 B for 230 nt). A hash kept by more
    than ``min(64, max(8, n / 20))`` rows marks a constant region (adaptor, primer, repeat) and is
    ignored; two rows in different splits that
    share at least ``MIN_SHARED`` kept hashes are near-duplicates. In practice that
    catches pairs sharing ≳ 70 nt and never pairs sharing < 50 nt (see
    ``tests/data/test_leakage.py``); sequences shorter than 50 nt get the exact check only.

Counts are per split pair. ``drop`` removes duplicates and near-duplicates from valid and
test, never from train: a valid or test row that leaks from train goes, and a test row
that leaks from the (remaining) valid set goes. Hashes are only compared within one
process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIONS = ("error", "warn", "drop")
K, WINDOW, MIN_SHARED, MAX_ROWS_PER_HASH = 31, 20, 2, 64
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate("ACGT"):
    _CODE[ord(_c)] = _i
_BATCH_BASES = 1 << 18        # bound the sketch's temporary arrays (a few MB, cache-friendly)
_NO_HASH = np.uint32(0xFFFFFFFF)
PAIRS = ("valid_in_train", "test_in_train", "test_in_valid")


def canonical_hashes(seqs: list[str]) -> np.ndarray:
    """int64 hash of min(seq, reverse complement) per (cleaned, uppercase) sequence."""
    def one(s: str) -> int:
        rc = s.translate(_COMPLEMENT)[::-1]
        return hash(s if s <= rc else rc)

    return np.fromiter(map(one, seqs), dtype=np.int64, count=len(seqs))


# --------------------------------------------------------------------------- minimizer sketch
def _kmers(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """2-bit values of every k-mer (forward, reverse complement), built by doubling (log k passes)."""
    x = (codes & 3).astype(np.uint64)
    fwd, rev, span = {1: x}, {1: np.uint64(3) - x}, 1
    while span * 2 <= k:   # fwd[2s][p] = fwd[s][p] · 4^s + fwd[s][p+s]; rev the other way round
        f, r, n = fwd[span], rev[span], len(x) - 2 * span + 1
        fwd[2 * span] = (f[:n] << np.uint64(2 * span)) | f[span:span + n]
        rev[2 * span] = r[:n] | (r[span:span + n] << np.uint64(2 * span))
        span *= 2
    n = len(x) - k + 1
    out_f, out_r, done = np.zeros(n, np.uint64), np.zeros(n, np.uint64), 0
    for s in sorted(fwd, reverse=True):
        if done + s <= k:
            out_f = (out_f << np.uint64(2 * s)) | fwd[s][done:done + n]
            out_r = out_r | (rev[s][done:done + n] << np.uint64(2 * done))
            done += s
    return out_f, out_r


def _mix(v: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: k-mer values -> well-spread hashes (top 32 bits kept)."""
    with np.errstate(over="ignore"):
        v = (v ^ (v >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        v = (v ^ (v >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        v = v ^ (v >> np.uint64(31))
    return (v >> np.uint64(32)).astype(np.uint32)


def _window_min(h: np.ndarray, w: int) -> np.ndarray:
    """min of every w consecutive values, by doubling (log w passes instead of w)."""
    out, span, mins = None, 1, {1: h}
    while span * 2 <= w:
        m = mins[span]
        mins[2 * span] = np.minimum(m[:len(m) - span], m[span:])
        span *= 2
    n, done = len(h) - w + 1, 0
    for s in sorted(mins, reverse=True):
        if done + s <= w:
            part = mins[s][done:done + n]
            out = part if out is None else np.minimum(out, part)
            done += s
    return out


def _sketch_batch(seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    codes = _CODE[np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)]
    P = len(codes) - K + 1
    if P < WINDOW:
        return np.empty(0, np.uint32), np.empty(0, np.int32)
    sid = np.repeat(np.arange(len(seqs), dtype=np.int32), lengths)
    has_n = np.concatenate([[0], np.cumsum(codes == 4, dtype=np.int32)])
    inside = sid[:P] == sid[K - 1:]                            # the k-mer lies within one sequence
    fwd, rev = _kmers(codes, K)
    h = np.where(inside & (has_n[K:] == has_n[:P]), _mix(np.minimum(fwd, rev)), _NO_HASH)   # N: no hash
    # Only whole windows, inside one sequence (so a batch gives the same sketch as one sequence at a time)
    m = _window_min(h, WINDOW)
    owner = sid[WINDOW - 1:P]
    whole = inside[:len(m)] & inside[WINDOW - 1:] & (sid[:len(m)] == owner)
    m, owner = m[whole], owner[whole]
    new = np.concatenate([[True], (m[1:] != m[:-1]) | (owner[1:] != owner[:-1])]) & (m != _NO_HASH)
    return m[new], owner[new]


def minimizers(seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(32-bit hashes, row within ``seqs``) of every sequence's canonical K-mer minimizers."""
    hs, rows, start, size = [], [], 0, 0
    for i, s in enumerate(seqs + [None]):
        if s is None or (size + len(s) > _BATCH_BASES and i > start):
            h, r = _sketch_batch(seqs[start:i])
            hs.append(h)
            rows.append(r + np.int32(start))
            start, size = i, 0
        size += len(s) if s is not None else 0
    return np.concatenate(hs), np.concatenate(rows)


def _sketch_pairs(h: np.ndarray, row: np.ndarray, codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (a, b) in different splits, code[a] < code[b], sharing >= MIN_SHARED hashes."""
    if not len(h):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.lexsort((row, h))
    h, row = h[order], row[order]
    first = np.concatenate([[True], (h[1:] != h[:-1]) | (row[1:] != row[:-1])])
    h, row = h[first], row[first]                       # one entry per (hash, row)
    starts = np.flatnonzero(np.concatenate([[True], h[1:] != h[:-1]]))
    sizes = np.diff(np.append(starts, len(h)))
    # Hashes sampled in more rows than this mark a constant region (an adaptor or primer longer than K:
    # its k-mers win their windows in a share of all rows) or a repeat.
    limit = min(MAX_ROWS_PER_HASH, max(8, n // 20))
    keys = []
    for s in np.unique(sizes[(sizes >= 2) & (sizes <= limit)]):
        members = row[starts[sizes == s][:, None] + np.arange(s)]      # (groups, s)
        i, j = np.triu_indices(int(s), 1)
        a, b = members[:, i].ravel(), members[:, j].ravel()
        ca, cb = codes[a], codes[b]
        cross = ca != cb
        a, b, ca, cb = a[cross], b[cross], ca[cross], cb[cross]
        swap = ca > cb
        keys.append(np.where(swap, b, a) * n + np.where(swap, a, b))
    if not keys:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pairs, count = np.unique(np.concatenate(keys), return_counts=True)
    pairs = pairs[count >= MIN_SHARED]
    return pairs // n, pairs % n


def _overlapping(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, ref: np.ndarray,
                 query: np.ndarray) -> np.ndarray:
    """For each query row, does its interval overlap any ref row's interval (same chromosome)?"""
    if not len(ref) or not len(query):
        return np.zeros(len(query), dtype=bool)
    big = np.int64(1) << np.int64(32)                   # chromosome code · 2^32 + position sorts by both
    order = ref[np.lexsort((start[ref], chrom[ref]))]
    key = chrom[order] * big + start[order]
    reach = np.maximum.accumulate(chrom[order] * big + end[order])   # resets at each new chromosome
    q = query
    idx = np.searchsorted(key, chrom[q] * big + end[q], side="left") - 1
    hit = idx >= 0
    hit[hit] &= chrom[order][idx[hit]] == chrom[q][hit]
    hit[hit] &= reach[idx[hit]] > chrom[q][hit] * big + start[q][hit]
    return hit


# --------------------------------------------------------------------------- the result
@dataclass
class Leakage:
    exact: dict[str, int]       # rows per split pair that equal a row of the other split
    near: dict[str, int]        # rows per split pair that are near-duplicates (not exact) of one
    method: str                 # how near-duplicates were found
    drop: np.ndarray            # bool mask over the rows checked: leaking rows of valid/test

    # kept for callers that read the exact counts directly
    @property
    def valid_in_train(self) -> int:
        return self.exact["valid_in_train"]

    @property
    def test_in_train(self) -> int:
        return self.exact["test_in_train"]

    @property
    def test_in_valid(self) -> int:
        return self.exact["test_in_valid"]

    @property
    def total(self) -> int:
        return sum(self.exact.values()) + sum(self.near.values())

    def counts(self) -> dict:
        return {**self.exact, "near_duplicates": {**self.near, "method": self.method}}

    def summary(self) -> str:
        e, m = self.exact, self.near
        text = (f"{e['valid_in_train']} valid and {e['test_in_train']} test sequences also occur in train, "
                f"{e['test_in_valid']} test sequences also in valid (reverse complements included)")
        if sum(m.values()):
            text += (f"; near-duplicates ({self.method}): {m['valid_in_train']} valid and {m['test_in_train']} "
                     f"test rows of train rows, {m['test_in_valid']} test rows of valid rows")
        return text


class LeakageIndex:
    """Collects, chunk by chunk, what :meth:`check` needs (hashes, sketch or intervals)."""

    def __init__(self, with_coords: bool = False):
        self.with_coords = with_coords
        self.n = 0
        self._exact: list[np.ndarray] = []
        self._h: list[np.ndarray] = []
        self._row: list[np.ndarray] = []
        self._chroms: dict[str, int] = {}
        self._iv: list[np.ndarray] = []

    def add(self, sequences: list[str], coords: dict | None = None) -> None:
        self._exact.append(canonical_hashes(sequences))
        if self.with_coords:
            code = np.fromiter((self._chroms.setdefault(c, len(self._chroms)) for c in coords["chrom"]),
                               dtype=np.int64, count=len(sequences))
            self._iv.append(np.stack([code, np.asarray(coords["start"], np.int64),
                                      np.asarray(coords["end"], np.int64)]))
        else:
            h, row = minimizers(sequences)
            self._h.append(h)
            self._row.append(row.astype(np.int64) + self.n if self.n + len(sequences) >= 2**31 else
                             row + np.int32(self.n))
        self.n += len(sequences)

    def check(self, codes: np.ndarray, keep: np.ndarray | None = None) -> Leakage:
        """Leakage among the kept rows, given split codes (0 train, 1 valid, 2 test) for every row.

        ``drop`` of the result is a mask over the kept rows.
        """
        keep = np.ones(self.n, dtype=bool) if keep is None else keep
        idx = np.flatnonzero(keep)                      # kept row -> original row
        c = codes[keep]
        hashes = np.concatenate(self._exact)[keep] if self._exact else np.empty(0, np.int64)
        exact_train = _exact_in(hashes, c, 0)
        if self.with_coords:
            iv = np.concatenate(self._iv, axis=1)[:, keep] if self._iv else np.empty((3, 0), np.int64)

            def near_in(ref_code: int, query: np.ndarray) -> np.ndarray:
                return _overlapping(iv[0], iv[1], iv[2], np.flatnonzero((c == ref_code) & ~excluded), query)
            method = "overlapping genomic intervals"
        else:
            remap = np.full(self.n, -1, dtype=np.int64)
            remap[idx] = np.arange(len(idx))
            h = np.concatenate(self._h) if self._h else np.empty(0, np.uint32)
            row = remap[np.concatenate(self._row)] if self._row else np.empty(0, np.int64)
            a, b = _sketch_pairs(h[row >= 0], row[row >= 0], c, len(idx))

            def near_in(ref_code: int, query: np.ndarray) -> np.ndarray:
                sel = (c[a] == ref_code) & ~excluded[a]
                return np.isin(query, b[sel])
            method = f"shared {K}-mer minimizers (>= {MIN_SHARED})"
        excluded = np.zeros(len(c), dtype=bool)         # rows that cannot be a source (leaked valid rows)
        valid, test = np.flatnonzero(c == 1), np.flatnonzero(c == 2)
        v_exact, t_exact = exact_train[valid], exact_train[test]
        v_near = near_in(0, valid) & ~v_exact
        t_near = near_in(0, test) & ~t_exact
        excluded[valid[v_exact | v_near]] = True
        from_train = t_exact | t_near
        kept_valid = np.unique(hashes[valid[~(v_exact | v_near)]])
        tv_exact = np.isin(hashes[test], kept_valid) & ~from_train
        tv_near = near_in(1, test) & ~from_train & ~tv_exact
        drop = np.zeros(len(c), dtype=bool)             # over the kept rows
        drop[valid[v_exact | v_near]] = True
        drop[test[from_train | tv_exact | tv_near]] = True
        return Leakage(dict(zip(PAIRS, (int(v_exact.sum()), int(t_exact.sum()), int(tv_exact.sum())))),
                       dict(zip(PAIRS, (int(v_near.sum()), int(t_near.sum()), int(tv_near.sum())))), method, drop)


def _exact_in(hashes: np.ndarray, codes: np.ndarray, ref_code: int) -> np.ndarray:
    return np.isin(hashes, np.unique(hashes[codes == ref_code]))


def check_leakage(hashes: np.ndarray, codes: np.ndarray) -> Leakage:
    """Exact duplicates only, from canonical hashes and split codes (0 train, 1 valid, 2 test)."""
    index = LeakageIndex()
    index._exact, index.n = [hashes], len(hashes)
    return index.check(codes)
