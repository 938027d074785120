"""Datasets whose sequences are several segments, each modelled on its own (splicing: two halves).

``dataset.h5`` stores a segmented row as the segments concatenated (attr ``segments``, e.g.
``[400, 400]``: the study's ``seql`` ‖ ``seqr``). The study never lets a model read across the
junction: each half is embedded separately and each has its own tower. So:

* embedding (:class:`SegmentView`): the dataset is presented to the embedding loop as S·N rows,
  row ``S·i + s`` = segment ``s`` of dataset row ``i``, with id ``<id>#seg<s>``; each segment is
  tokenised and embedded alone. The store's arrays are then (S·N, ...), which is (N, S, ...) in
  row-major order, so one store holds "one embedding per segment" with no change to its layout;
* reading (:class:`SegmentRows`): dataset rows -> (k, S, ...) blocks from such a store, pooled
  vectors concatenated across segments (``flat=True``, the linear/MLP input) or token matrices
  channels-first per segment (the two-tower input);
* one-hot (:func:`onehot_segments`): (N, S, 4, L_max) with each segment encoded on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glmprobe.data.onehot import encode
from glmprobe.errors import UserError
from glmprobe.glm.store import RowView

SEGMENT_ID = "{id}#seg{s}"


def bounds(segments: Sequence[int]) -> list[tuple[int, int]]:
    """[(start, end)] of each segment in the concatenated sequence."""
    ends = np.cumsum(segments).tolist()
    return list(zip([0] + ends[:-1], ends))


def cut(sequence: str, segments: Sequence[int]) -> list[str]:
    """The segments of one concatenated sequence; its length must be their sum."""
    if len(sequence) != sum(segments):
        raise UserError(f"a segmented sequence has length {len(sequence)}, expected {sum(segments)} "
                        f"({' + '.join(map(str, segments))})", hint="Re-create the dataset with `glmprobe prepare`.")
    return [sequence[a:b] for a, b in bounds(segments)]


def segment_ids(ids: Sequence[str], n_segments: int) -> np.ndarray:
    """The store ids of a segmented dataset: each dataset id once per segment, in row-major order."""
    return np.array([SEGMENT_ID.format(id=i, s=s) for i in ids for s in range(n_segments)], dtype=object)


def onehot_segments(sequences: Sequence[str], segments: Sequence[int]) -> np.ndarray:
    """(N, S, 4, L_max) float32: each segment one-hot encoded alone, zero (N) padded to the longest."""
    width = max(segments)
    out = np.zeros((len(sequences), len(segments), 4, width), dtype=np.float32)
    for s, (a, b) in enumerate(bounds(segments)):
        out[:, s] = encode([seq[a:b] for seq in sequences], width)
    return out


class SegmentView:
    """A :class:`~glmprobe.data.dataset.DatasetFile` seen as S·N segment rows (for the embedding loop).

    Everything the embedding loop reads (ids, sequences, split, n) is per segment; the dataset's
    identity (name, checksum, task, targets) stays the dataset's, so the store is keyed on it.
    """

    def __init__(self, ds):
        self.base, self.segments = ds, list(ds.segments)
        self.S = len(self.segments)
        self.name, self.task, self.checksum = ds.name, ds.task, ds.checksum
        self.target_names, self.provenance, self.path = ds.target_names, ds.provenance, ds.path
        self.n = ds.n * self.S
        # the loop reads the split codes through the file handle: give it the per-segment codes
        self._h5 = {"split": np.repeat(ds._h5["split"][:], self.S)}

    def __len__(self) -> int:
        return self.n

    @property
    def ids(self) -> np.ndarray:
        return segment_ids(self.base.ids, self.S)

    @property
    def split(self) -> np.ndarray:
        return np.repeat(self.base.split, self.S)

    def sequences(self, idx: slice | np.ndarray | None = None) -> np.ndarray:
        rows = np.arange(self.n)[idx if idx is not None else slice(None)]
        if not len(rows):
            return np.empty(0, dtype=object)
        lo, hi = int(rows.min()) // self.S, int(rows.max()) // self.S + 1
        parts = [cut(seq, self.segments) for seq in self.base.sequences(slice(lo, hi))]
        return np.array([parts[r // self.S - lo][r % self.S] for r in rows], dtype=object)

    def close(self) -> None:
        self.base.close()


def segmented(ds):
    """``ds`` itself, or its :class:`SegmentView` when the dataset has segments."""
    return SegmentView(ds) if getattr(ds, "segments", None) else ds


class SegmentRows(RowView):
    """Dataset rows ``rows`` of a segmented store array (S·N rows), read as (k, S, ...) float32.

    ``array`` is the store array (an ``np.memmap`` of shape (S·N, ...)); with ``flat=True``
    each row's segments are concatenated into one vector (pooled embeddings), otherwise token
    matrices come back channels-first per segment: (k, S, D, T). Reads go through
    :class:`glmprobe.glm.store.StoreRows`-style row readers: ``reader(array, store_rows)``.
    """

    def __init__(self, array, rows: np.ndarray, n_segments: int, reader, *, flat: bool = False):
        self.S, self.flat = n_segments, flat
        self.rows = np.asarray(rows, dtype=np.int64)
        store_rows = (self.rows[:, None] * self.S + np.arange(self.S)).ravel()
        self._inner = reader(array, store_rows)
        self.row_shape = tuple(array.shape[1:])

    @property
    def shape(self) -> tuple[int, ...]:
        if self.flat:
            return (len(self.rows), self.S * int(np.prod(self.row_shape)))
        return (len(self.rows), self.S, *self.row_shape[::-1])

    def take(self, idx: np.ndarray) -> np.ndarray:
        inner = (idx[:, None] * self.S + np.arange(self.S)).ravel()
        block = np.asarray(self._inner[inner], dtype=np.float32).reshape(len(idx), self.S, *self.row_shape)
        if self.flat:
            return block.reshape(len(idx), -1)
        return np.ascontiguousarray(np.swapaxes(block, -1, -2))    # (k, S, T, D) -> (k, S, D, T)

    def close(self) -> None:
        self._inner.close()
