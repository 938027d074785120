"""The canonical dataset file (``dataset.h5``) that every later step reads.

Layout (format_version 1)::

    /ids        (N,)   utf-8 strings, unique
    /sequences  (N,)   utf-8 strings over A,C,G,T,N (uppercase)
    /targets    (N, T) float32, NaN = unobserved
    /split      (N,)   uint8 code into SPLITS (train=0, valid=1, test=2)
    /coords/{chrom,start,end,strand}   optional, (N,) each
    /target_offsets (N, T) float32     optional: the logit baseline each target is relative to
                                       (splicing: y[...,0] = logit(PSI_t) - mean logit, offsets =
                                       the mean logit; the study's diff_KL loss and test filter
                                       need both, see glmprobe.data.delta_logit)
    attrs: format_version, name, task, target_names (JSON), segments (JSON or "null"),
           provenance (JSON), checksum, n, glmprobe_version

``checksum`` is a sha256 over the content (ids, sequences, targets, split,
target names, task, segments, and target_offsets when present) in row order, so two
files with the same data have the same checksum whatever their creation time (a file
without offsets hashes exactly as before offsets existed). Embedding stores and records
key on it.

Writing streams: :class:`DatasetWriter` appends chunks, so a million-row CSV never
has to be held in memory. The file appears at its final path only when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from glmprobe import __version__
from glmprobe.atomic import atomic_path
from glmprobe.errors import UserError

FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")
TASKS = ("regression", "binary", "multilabel")
_STR = h5py.string_dtype("utf-8")
_CHUNK = 65536


def split_codes(split: Sequence[str]) -> np.ndarray:
    """Map split names to uint8 codes; unknown names raise UserError."""
    lookup = {name: i for i, name in enumerate(SPLITS)}
    try:
        return np.fromiter((lookup[s] for s in split), dtype=np.uint8, count=len(split))
    except KeyError as exc:
        raise UserError(f"unknown split name {exc.args[0]!r}; use one of {', '.join(SPLITS)}") from None


@dataclass
class Dataset:
    """An in-memory canonical dataset (small data, tests, the synthetic benchmark)."""

    name: str
    ids: np.ndarray
    sequences: np.ndarray
    targets: np.ndarray
    target_names: list[str]
    task: str
    split: np.ndarray  # str names, one of SPLITS
    coords: dict[str, np.ndarray] | None = None
    segments: list[int] | None = None
    provenance: dict = field(default_factory=dict)
    checksum: str | None = None
    offsets: np.ndarray | None = None   # (N, T) target_offsets, or None

    def __len__(self) -> int:
        return len(self.ids)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.split) == split)

    def subset(self, split: str) -> Dataset:
        idx = self.indices(split)
        return Dataset(self.name, self.ids[idx], self.sequences[idx], self.targets[idx],
                       list(self.target_names), self.task, self.split[idx],
                       None if self.coords is None else {k: v[idx] for k, v in self.coords.items()},
                       self.segments, dict(self.provenance),
                       offsets=None if self.offsets is None else self.offsets[idx])


class DatasetWriter:
    """Stream rows into ``dataset.h5``; the file is renamed into place on :meth:`close`.

    Use as a context manager; an exception inside the block leaves nothing behind.
    """

    def __init__(self, path: str | os.PathLike, *, name: str, target_names: Sequence[str], task: str,
                 provenance: dict | None = None, segments: Sequence[int] | None = None,
                 with_coords: bool = False, with_offsets: bool = False):
        if task not in TASKS:
            raise UserError(f"unknown task type {task!r}; use one of {', '.join(TASKS)}")
        self.path = Path(path)
        self.name, self.task = name, task
        self.target_names = [str(t) for t in target_names]
        self.segments = list(segments) if segments else None
        self.provenance = provenance or {}
        self.with_coords = with_coords
        self.with_offsets = with_offsets
        self.n = 0
        self._ctx = None
        self._h5 = None
        # One hasher per field so the checksum does not depend on how rows were chunked.
        self._hashes = {key: hashlib.sha256() for key in ("rows", "targets", "split")
                        + (("offsets",) if with_offsets else ())}

    def __enter__(self) -> DatasetWriter:
        self._ctx = atomic_path(self.path, suffix=".h5")
        tmp = self._ctx.__enter__()
        self._h5 = h5py.File(tmp, "w")
        T = len(self.target_names)
        h = self._h5
        h.create_dataset("ids", (0,), maxshape=(None,), dtype=_STR, chunks=(_CHUNK,))
        h.create_dataset("sequences", (0,), maxshape=(None,), dtype=_STR, chunks=(_CHUNK,))
        h.create_dataset("targets", (0, T), maxshape=(None, T), dtype="f4", chunks=(_CHUNK, max(T, 1)))
        h.create_dataset("split", (0,), maxshape=(None,), dtype="u1", chunks=(_CHUNK,))
        if self.with_offsets:
            h.create_dataset("target_offsets", (0, T), maxshape=(None, T), dtype="f4", chunks=(_CHUNK, max(T, 1)))
        if self.with_coords:
            g = h.create_group("coords")
            g.create_dataset("chrom", (0,), maxshape=(None,), dtype=_STR, chunks=(_CHUNK,))
            for key in ("start", "end"):
                g.create_dataset(key, (0,), maxshape=(None,), dtype="i8", chunks=(_CHUNK,))
            g.create_dataset("strand", (0,), maxshape=(None,), dtype=_STR, chunks=(_CHUNK,))
        return self

    def append(self, ids: Sequence[str], sequences: Sequence[str], targets: np.ndarray,
               split: Sequence[str], coords: dict[str, Sequence] | None = None,
               offsets: np.ndarray | None = None) -> None:
        """Append one chunk of rows (already validated by the reader)."""
        k = len(ids)
        targets = np.asarray(targets, dtype=np.float32).reshape(k, len(self.target_names))
        codes = split_codes(split)
        h, a, b = self._h5, self.n, self.n + k
        for key, values in (("ids", ids), ("sequences", sequences), ("targets", targets), ("split", codes)):
            h[key].resize(b, axis=0)
            h[key][a:b] = values
        if self.with_coords:
            if coords is None:
                raise ValueError("coords required: writer opened with with_coords=True")
            for key in ("chrom", "start", "end", "strand"):
                h["coords"][key].resize(b, axis=0)
                h["coords"][key][a:b] = coords[key]
        if self.with_offsets:
            if offsets is None:
                raise ValueError("offsets required: writer opened with with_offsets=True")
            offsets = np.asarray(offsets, dtype=np.float32).reshape(k, len(self.target_names))
            h["target_offsets"].resize(b, axis=0)
            h["target_offsets"][a:b] = offsets
            self._hashes["offsets"].update(np.ascontiguousarray(offsets).tobytes())
        for i, s in zip(ids, sequences):
            self._hashes["rows"].update(f"{i}\t{s}\n".encode())
        self._hashes["targets"].update(np.ascontiguousarray(targets).tobytes())
        self._hashes["split"].update(codes.tobytes())
        self.n = b

    def __exit__(self, exc_type, exc, tb) -> None:
        ok = False
        try:
            if exc_type is None:
                if self.n == 0:
                    raise UserError("no sequences to write", path=self.path)
                header = json.dumps([self.task, self.target_names, self.segments])
                parts = [header] + [h.hexdigest() for h in self._hashes.values()]
                self.checksum = hashlib.sha256("\n".join(parts).encode()).hexdigest()
                attrs = self._h5.attrs
                attrs["format_version"] = FORMAT_VERSION
                attrs["name"] = self.name
                attrs["task"] = self.task
                attrs["target_names"] = json.dumps(self.target_names)
                attrs["segments"] = json.dumps(self.segments)
                attrs["provenance"] = json.dumps(self.provenance, default=str)
                attrs["checksum"] = self.checksum
                attrs["n"] = self.n
                attrs["glmprobe_version"] = __version__
                ok = True
        finally:
            self._h5.close()
            if ok:  # only a complete file is renamed into place
                self._ctx.__exit__(None, None, None)
            else:
                self._ctx.__exit__(exc_type or RuntimeError, exc, tb)


def write_dataset(path: str | os.PathLike, ds: Dataset) -> str:
    """Write an in-memory dataset; returns its checksum."""
    with DatasetWriter(path, name=ds.name, target_names=ds.target_names, task=ds.task,
                       provenance=ds.provenance, segments=ds.segments,
                       with_coords=ds.coords is not None, with_offsets=ds.offsets is not None) as w:
        for a in range(0, len(ds), _CHUNK):
            sl = slice(a, a + _CHUNK)
            w.append(list(ds.ids[sl]), list(ds.sequences[sl]), ds.targets[sl], list(ds.split[sl]),
                     None if ds.coords is None else {k: v[sl] for k, v in ds.coords.items()},
                     None if ds.offsets is None else ds.offsets[sl])
    ds.checksum = w.checksum
    return w.checksum


class DatasetFile:
    """Lazy, read-only view of ``dataset.h5`` (large data: read slices on demand)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise UserError("dataset file not found; run `glmprobe prepare` first", path=self.path)
        try:
            self._h5 = h5py.File(self.path, "r")
            a = self._h5.attrs
            self.format_version = int(a["format_version"])
            self.name = str(a["name"])
            self.task = str(a["task"])
            self.target_names = json.loads(a["target_names"])
            self.segments = json.loads(a["segments"])
            self.provenance = json.loads(a["provenance"])
            self.checksum = str(a["checksum"])
            self.n = int(a["n"])
        except (OSError, KeyError) as exc:
            raise UserError(f"not a glmprobe dataset file ({exc})", path=self.path,
                            hint="Re-create it with `glmprobe prepare`.") from None

    def __len__(self) -> int:
        return self.n

    def close(self) -> None:
        self._h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def ids(self) -> np.ndarray:
        return self._h5["ids"].asstr()[:]

    def sequences(self, idx: slice | np.ndarray | None = None) -> np.ndarray:
        d = self._h5["sequences"].asstr()
        if idx is None or isinstance(idx, slice):
            return d[:] if idx is None else d[idx]
        idx = np.asarray(idx)
        order = np.argsort(idx, kind="stable")  # h5py reads increasing indices; give back the asked order
        out = np.empty(len(idx), dtype=object)
        out[order] = d[idx[order]]
        return out

    @property
    def targets(self) -> np.ndarray:
        return self._h5["targets"][:]

    @property
    def target_offsets(self) -> np.ndarray | None:
        """(N, T) logit baselines of the targets (splicing: the mean logit), or None."""
        return self._h5["target_offsets"][:] if "target_offsets" in self._h5 else None

    @property
    def split(self) -> np.ndarray:
        """Split names per row (str array)."""
        return np.asarray(SPLITS, dtype=object)[self._h5["split"][:]]

    @property
    def coords(self) -> dict[str, np.ndarray] | None:
        if "coords" not in self._h5:
            return None
        g = self._h5["coords"]
        return {k: (g[k].asstr()[:] if g[k].dtype.kind == "O" else g[k][:]) for k in g}

    def load(self) -> Dataset:
        """Everything in memory (fine up to a few million short sequences)."""
        return Dataset(self.name, self.ids, self.sequences(), self.targets, list(self.target_names),
                       self.task, self.split, self.coords, self.segments, dict(self.provenance),
                       self.checksum, self.target_offsets)


def read_dataset(path: str | os.PathLike) -> Dataset:
    with DatasetFile(path) as f:
        return f.load()
