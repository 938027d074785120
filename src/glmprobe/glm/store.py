"""The embedding store: ``store.h5`` + ``manifest.json`` in ``embeddings/<dataset>/<model>/``.

Layout (docs/CONTRACTS.md)::

    /ids (N,) str   /split (N,) uint8
    /pooled/L<layer>/<pooling>   (N, D)      for cls / mean
    /tokens/L<layer>             (N, T, D)   zero-padded per-token states
    /tokens/lengths (N,)  /tokens/spans (N, T, 2)   nucleotide [start, end), -1 for specials/pad

Every numeric array is contiguous and allocated when the file is created, so

* readers memory-map it (``np.memmap`` at ``Dataset.id.get_offset()``): no copy, no RAM;
* the writer fills row ranges through short-lived memmaps and never touches HDF5 metadata
  again, so a process killed mid-chunk leaves a valid file and a run can resume from the
  last chunk recorded in ``progress.json``.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

import h5py
import numpy as np

from glmprobe.atomic import write_text
from glmprobe.errors import UserError

STORE_NAME = "store.h5"
MANIFEST_NAME = "manifest.json"
PROGRESS_NAME = "progress.json"
_STR = h5py.string_dtype("utf-8")
ID_CHUNK = 65_536  # rows of ids copied at a time by create_store


def pooled_name(layer: int, pooling: str) -> str:
    return f"pooled/L{layer}/{pooling}"


def tokens_name(layer: int) -> str:
    return f"tokens/L{layer}"


def _dense(h5: h5py.File, name: str, shape: tuple, dtype) -> None:
    """A contiguous dataset with its file space allocated now and never filled by HDF5."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.CONTIGUOUS)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)  # sparse until written; we write every byte of each row
    h5.create_dataset(name, shape=shape, dtype=dtype, dcpl=dcpl)


def create_store(path: Path, *, ids: Callable[[int, int], np.ndarray], split: np.ndarray, layers: Sequence[int],
                 poolings: Sequence[str], hidden: int, max_tokens: int, dtype: str) -> None:
    """Create ``store.h5`` with every array allocated (rows are filled later by :func:`write_rows`).

    ``ids(lo, hi)`` gives the record ids of rows ``lo..hi``; they are copied chunk by chunk,
    so the whole id column (~120 MB of Python str at N = 1M) is never held at once.
    """
    n = len(split)
    with h5py.File(path, "w") as h5:
        column = h5.create_dataset("ids", shape=(n,), dtype=_STR)
        for lo in range(0, n, ID_CHUNK):
            hi = min(lo + ID_CHUNK, n)
            column[lo:hi] = np.asarray(ids(lo, hi), dtype=object)
        h5.create_dataset("split", data=np.asarray(split, dtype=np.uint8))
        for layer in layers:
            for pooling in poolings:
                if pooling != "tokens":
                    _dense(h5, pooled_name(layer, pooling), (n, hidden), dtype)
        if "tokens" in poolings:
            for layer in layers:
                _dense(h5, tokens_name(layer), (n, max_tokens, hidden), dtype)
            _dense(h5, "tokens/lengths", (n,), np.int32)
            _dense(h5, "tokens/spans", (n, max_tokens, 2), np.int32)
    reserve(path)


def reserve(path: Path) -> None:
    """Claim the disk blocks of the (sparse) file now: a full disk fails here with ENOSPC,
    before any work, instead of killing the process with SIGBUS in a later memmap write."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def _layout(path: Path) -> dict[str, tuple[int, tuple, np.dtype]]:
    """{dataset name: (byte offset, shape, dtype)} for every contiguous numeric array."""
    out = {}
    with h5py.File(path, "r") as h5:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fiu" and name != "split":
                out[name] = (obj.id.get_offset(), obj.shape, obj.dtype)
        h5.visititems(visit)
    return out


class RowWriter:
    """Writes rows of an allocated store through short-lived memmaps.

    :meth:`write` fills a row range and flushes it; :meth:`scatter` fills some rows (one
    batch, any rows of the range) without flushing, and :meth:`sync` makes everything
    written so far durable (once per chunk). Each memmap is unmapped after use, so
    written pages leave this process's RSS: memory stays flat whatever N.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.layout = _layout(self.path)

    def _map(self, name: str, start: int, k: int, width: tuple = ()):
        offset, shape, dtype = self.layout[name]
        if start < 0 or start + k > shape[0] or (width and tuple(width) != tuple(shape[1:])):
            raise ValueError(f"rows {start}:{start + k} of shape {tuple(width)} do not fit {name} {shape}")
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        return np.memmap(self.path, mode="r+", dtype=dtype, offset=offset + start * row_bytes, shape=(k, *shape[1:]))

    def write(self, name: str, start: int, values: np.ndarray) -> None:
        values = np.asarray(values)
        if values.shape[0] == 0:
            return
        mm = self._map(name, start, values.shape[0], values.shape[1:])
        mm[:] = values
        mm.flush()
        del mm  # unmap: written pages leave this process's RSS

    def scatter(self, name: str, rows: np.ndarray, values: np.ndarray, fill=0) -> None:
        """Rows ``rows`` (ascending) of ``name`` := ``values``, which may be narrower on axis 1
        (a batch padded to its own width): the rest of each row is set to ``fill``."""
        rows = np.asarray(rows, np.int64)
        if not len(rows):
            return
        lo = int(rows[0])
        mm = self._map(name, lo, int(rows[-1]) - lo + 1)
        at = rows - lo
        if values.ndim == 1 or values.shape[1:] == mm.shape[1:]:
            mm[at] = values
        else:
            width = values.shape[1]
            if width > mm.shape[1]:
                raise ValueError(f"{width} tokens do not fit {name} of width {mm.shape[1]}")
            mm[at, :width] = values
            mm[at, width:] = fill
        del mm

    def sync(self) -> None:
        """Flush every row written so far to disk (the resume point is recorded after this)."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_json(path: Path, obj: dict) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


class EmbeddingStore:
    """Read-only view of a finished store; arrays come back as ``np.memmap`` (zero copy)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / STORE_NAME
        manifest = read_json(self.folder / MANIFEST_NAME)
        if manifest is None or not self.path.exists():
            raise UserError("not an embedding store (no manifest.json/store.h5)", path=self.folder,
                            hint="Run `glmprobe embed` first")
        if not manifest.get("complete"):
            raise UserError("embedding store is incomplete", path=self.folder, hint="Rerun `glmprobe embed` to finish it")
        self.manifest = manifest
        self._h5 = h5py.File(self.path, "r")

    def close(self) -> None:
        self._h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self) -> int:
        return int(self.manifest["dataset"]["n"])

    @property
    def layers(self) -> list[int]:
        return list(self.manifest["layers"])

    @property
    def poolings(self) -> list[str]:
        return list(self.manifest["poolings"])

    @property
    def hidden_size(self) -> int:
        return int(self.manifest["hidden_size"])

    @property
    def dataset_checksum(self) -> str:
        return self.manifest["dataset"]["checksum"]

    @property
    def ids(self) -> np.ndarray:
        return self._h5["ids"].asstr()[:]

    @property
    def split(self) -> np.ndarray:
        return self._h5["split"][:]

    def array(self, name: str):
        """Any numeric array by its HDF5 name, memory-mapped when contiguous (else the h5py dataset)."""
        if name not in self._h5:
            raise UserError(f"the store has no array {name!r}", path=self.folder,
                            hint=f"It holds layers {self.layers} with poolings {self.poolings}")
        ds = self._h5[name]
        offset = ds.id.get_offset()
        if offset is None or ds.chunks is not None:
            return ds
        return np.memmap(self.path, mode="r", dtype=ds.dtype, offset=offset, shape=ds.shape)

    def pooled(self, layer: int, pooling: str):
        return self.array(pooled_name(layer, pooling))

    def tokens(self, layer: int):
        return self.array(tokens_name(layer))

    @property
    def lengths(self):
        return self.array("tokens/lengths")

    @property
    def spans(self):
        return self.array("tokens/spans")


def merge_stores(parts: Sequence[Path], dest: Path, chunk: int = 4096) -> None:
    """Concatenate finished shard stores (in row order) into a new ``dest/store.h5``.

    Per-token arrays are re-padded to the largest T among the shards.
    """
    stores = [EmbeddingStore(p) for p in parts]
    try:
        first = stores[0]
        T = max((int(s.manifest.get("max_tokens_stored") or 0) for s in stores), default=0)
        all_ids = np.concatenate([s.ids for s in stores])
        create_store(dest, ids=lambda lo, hi: all_ids[lo:hi], split=np.concatenate([s.split for s in stores]),
                     layers=first.layers, poolings=first.poolings, hidden=first.hidden_size, max_tokens=T,
                     dtype=first.manifest["dtype"])
        writer = RowWriter(dest)
        start = 0
        for s in stores:
            for name in writer.layout:
                src = s.array(name)
                for a in range(0, len(s), chunk):
                    block = np.asarray(src[a:a + chunk])
                    if name.startswith("tokens/") and block.ndim == 3 and block.shape[1] < T:
                        fill = -1 if name == "tokens/spans" else 0
                        pad = np.full((block.shape[0], T - block.shape[1], block.shape[2]), fill, block.dtype)
                        block = np.concatenate([block, pad], axis=1)
                    writer.write(name, start + a, block)
            start += len(s)
    finally:
        for s in stores:
            s.close()


class RowView:
    """A lazy view of rows ``rows`` of an on-disk array: ``len``, ``np.asarray`` and integer,
    slice or index-array access, each read through :meth:`take` (positions -> float32 block).
    Shared by :class:`StoreRows` and :class:`glmprobe.data.segments.SegmentRows`."""

    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, idx) -> np.ndarray:
        if isinstance(idx, (int, np.integer)):
            return self[np.array([idx])][0]
        idx = np.arange(len(self.rows))[idx] if isinstance(idx, slice) else np.asarray(idx, dtype=np.int64)
        return self.take(idx)

    def take(self, idx: np.ndarray) -> np.ndarray:
        """Positions ``idx`` (int64, into ``rows``) as a float32 block."""
        raise NotImplementedError


class StoreRows(RowView):
    """Rows ``rows`` of one store array, read from disk on demand as float32.

    The store's arrays are memory-mappable, but indexing an ``np.memmap`` leaves every page
    it touched resident, so one epoch over a token array would pull the whole file into the
    process's RSS. Here each batch is read with ``preadv`` straight into a fresh buffer
    (consecutive rows in one call), so memory stays at one batch whatever N is.
    ``channels_first`` turns (N, T, D) token rows into the (N, D, T) layout CNNs take.
    """

    def __init__(self, array, rows: np.ndarray, *, channels_first: bool = False):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.channels_first = channels_first
        self.row_shape = tuple(array.shape[1:])
        self.dtype = np.dtype(array.dtype)
        self._array, self._fd = array, None
        if isinstance(array, np.memmap) and array.offset is not None:
            self._path, self._offset = array.filename, int(array.offset)
            self._row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def shape(self) -> tuple[int, ...]:
        row = self.row_shape[::-1] if self.channels_first else self.row_shape
        return (len(self.rows), *row)

    def take(self, idx: np.ndarray) -> np.ndarray:
        src = self.rows[idx]
        order = np.argsort(src, kind="stable")
        block = np.empty((len(src), *self.row_shape), dtype=self.dtype)
        block[order] = self._read(src[order])
        out = block.astype(np.float32)
        return np.ascontiguousarray(out.transpose(0, 2, 1)) if self.channels_first else out

    def _read(self, rows: np.ndarray) -> np.ndarray:
        """Sorted store rows, as stored (fp16)."""
        if not hasattr(self, "_path"):            # h5py dataset (chunked store): its own reader
            return np.asarray(self._array[rows])
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDONLY)
            self._closer = weakref.finalize(self, os.close, self._fd)   # closed when collected, or at exit
        out = np.empty((len(rows), *self.row_shape), dtype=self.dtype)
        flat = out.reshape(len(rows), -1).view(np.uint8)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):   # runs of consecutive rows
            view = memoryview(flat[lo:hi].reshape(-1))
            pos, offset = 0, self._offset + int(rows[lo]) * self._row_bytes
            while pos < len(view):
                got = os.preadv(self._fd, [view[pos:]], offset + pos)
                if got <= 0:
                    raise OSError(f"{self._path}: short read at byte {offset + pos}")
                pos += got
        return out

    def close(self) -> None:
        if self._fd is not None:
            self._closer()
            self._fd = None
