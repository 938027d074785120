"""Maps streamed to disk: ``maps_<method>.h5``, appended one batch at a time.

Layout::

    /ids (N,) str
    /hypothetical (N, 4, L) float32    scores for every base (modisco-lite reads these)
    /projected    (N, 4, L) float32    scores at the observed base (zero elsewhere)
    /extra/<name> (N,)                 per-sequence diagnostics (convergence deltas, passes)
    /targets/<j>/hypothetical, /targets/<j>/projected
                                       each target's own maps, when the sum over targets is explained
    attrs: method, length, target, targets (the per-target names, in order of j)

Arrays are chunked one sequence per chunk and grown as batches arrive, so memory holds one
batch whatever N is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

_STR = h5py.string_dtype("utf-8")


class _H5:
    h5: h5py.File

    def close(self) -> None:
        self.h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _group(j: int | None) -> str:
    return "" if j is None else f"targets/{j}/"


class MapWriter(_H5):
    def __init__(self, path: str | os.PathLike, length: int, *, targets: Sequence[str] = (), **attrs):
        self.path = Path(path)
        self.h5 = h5py.File(self.path, "w")
        self.length, self.n, self.n_targets = int(length), 0, len(targets)
        for k, v in attrs.items():
            self.h5.attrs[k] = "" if v is None else v
        self.h5.attrs["targets"] = np.asarray(list(targets), dtype=object) if targets else h5py.Empty("f")
        self.h5.create_dataset("ids", (0,), maxshape=(None,), dtype=_STR, chunks=(1024,))
        for g in [None, *range(self.n_targets)]:
            for name in ("hypothetical", "projected"):
                self.h5.create_dataset(_group(g) + name, (0, 4, self.length), maxshape=(None, 4, self.length),
                                       dtype="f4", chunks=(1, 4, self.length))

    def append(self, ids: Sequence[str], hypothetical: np.ndarray, projected: np.ndarray,
               extra: dict[str, np.ndarray] | None = None, per_target: Sequence[tuple[np.ndarray, np.ndarray]] = ()
               ) -> None:
        """One batch: the explained output's maps, and (hypothetical, projected) of each target in order."""
        if len(per_target) != self.n_targets:
            raise ValueError(f"{len(per_target)} per-target maps for {self.n_targets} targets")
        k = len(ids)
        a, b = self.n, self.n + k
        arrays = [("ids", np.asarray(ids, dtype=object)), ("hypothetical", hypothetical), ("projected", projected)]
        for j, (hyp, proj) in enumerate(per_target):
            arrays += [(_group(j) + "hypothetical", hyp), (_group(j) + "projected", proj)]
        for name, arr in arrays:
            self.h5[name].resize(b, axis=0)
            self.h5[name][a:b] = arr
        for name, arr in (extra or {}).items():
            key = f"extra/{name}"
            if key not in self.h5:
                self.h5.create_dataset(key, (0,), maxshape=(None,), dtype="f8", chunks=(1024,))
            self.h5[key].resize(b, axis=0)
            self.h5[key][a:b] = np.asarray(arr, dtype=np.float64)
        self.n = b



class MapFile(_H5):
    """Read side: slices on demand."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.h5 = h5py.File(self.path, "r")

    @property
    def ids(self) -> np.ndarray:
        return self.h5["ids"].asstr()[:]

    @property
    def method(self) -> str:
        return str(self.h5.attrs.get("method", ""))

    @property
    def targets(self) -> list[str]:
        """Names of the targets whose own maps are stored beside the explained output's (may be empty)."""
        names = self.h5.attrs.get("targets")
        return [] if names is None or isinstance(names, h5py.Empty) else [str(t) for t in names]

    def _key(self, name: str, target: str | None) -> str:
        return name if target is None else _group(self.targets.index(target)) + name

    def scores(self, target: str | None = None) -> np.ndarray:
        """(N, L) signed score at the observed base (of ``target``'s own map if given), a block at a time."""
        d = self.h5[self._key("projected", target)]
        out = np.empty((d.shape[0], d.shape[2]), np.float32)
        for a in range(0, d.shape[0], 4096):
            out[a:a + 4096] = d[a:a + 4096].sum(axis=1)
        return out

    def array(self, name: str, rows=slice(None), target: str | None = None) -> np.ndarray:
        return self.h5[self._key(name, target)][rows]

    def extra(self) -> dict[str, np.ndarray]:
        g = self.h5.get("extra")
        return {} if g is None else {k: g[k][:] for k in g}

