"""Training data as plain arrays, fed batch by batch.

``Arrays.X`` may be an in-memory array, an ``np.memmap`` or an ``h5py.Dataset``
(embedding stores are memory-mapped fp16): batches are read with *sorted* index
arrays (h5py requires increasing indices, and sorted reads are sequential on
disk) and converted to float32 one batch at a time, so a store never has to fit
in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glmprobe.data.dataset import SPLITS
from glmprobe.errors import UserError


@dataclass
class Arrays:
    """One split: inputs, targets (NaN = unobserved) and row ids."""

    X: Any          # (N, ...) np.ndarray / np.memmap / h5py.Dataset
    y: np.ndarray   # (N, T) float32
    ids: np.ndarray  # (N,) str
    offsets: np.ndarray | None = None   # (N, T) target offsets (splicing mean logit; train/losses.py)

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=np.float32)
        if self.y.ndim == 1:
            self.y = self.y[:, None]
        if self.offsets is not None:
            self.offsets = np.asarray(self.offsets, dtype=np.float32).reshape(self.y.shape)
        self.ids = np.asarray(self.ids).astype(str)
        if not (len(self.X) == len(self.y) == len(self.ids)):
            raise ValueError(f"Arrays: X, y and ids differ in length ({len(self.X)}, {len(self.y)}, {len(self.ids)})")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_targets(self) -> int:
        return self.y.shape[1]


def split_arrays(X: Any, y: np.ndarray, ids: np.ndarray, split: np.ndarray) -> dict[str, Arrays]:
    """Cut row-aligned arrays into ``{"train", "valid", "test"}`` by split name."""
    split = np.asarray(split).astype(str)
    out = {}
    for name in SPLITS:
        idx = np.flatnonzero(split == name)
        out[name] = Arrays(take(X, idx), np.asarray(y)[idx], np.asarray(ids)[idx])
    return out


def take(X: Any, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (must be sorted) of any array-like, as a NumPy array."""
    if isinstance(X, np.ndarray):  # includes np.memmap
        return X[idx]
    if len(idx) and np.all(np.diff(idx) == 1):  # a contiguous block: one slice read
        return np.asarray(X[int(idx[0]): int(idx[-1]) + 1])
    return np.asarray(X[idx])


class Feeder:
    """Yields (X, y) float32 tensor batches from :class:`Arrays`.

    An in-memory float32 array is wrapped as a tensor once (indexing a tensor
    is cheaper than building one per batch); memmaps and h5py datasets are read
    per batch and cast from fp16 to fp32 there.
    """

    def __init__(self, data: Arrays, device: str | torch.device = "cpu"):
        self.data = data
        self.device = torch.device(device)
        X = data.X
        self._tensor = None
        if type(X) is np.ndarray:  # plain in-memory (not a memmap): convert once
            self._tensor = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        # with offsets, batches carry the targets stacked with them, (B, T, 2), for the loss that needs them
        self._y = torch.from_numpy(data.y if data.offsets is None else np.stack([data.y, data.offsets], -1))

    def __len__(self) -> int:
        return len(self.data)

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.sort(idx)  # a batch is a set: sorted reads are valid and sequential
        if self._tensor is not None:
            t = torch.from_numpy(idx)
            xb = self._tensor.index_select(0, t)
        else:
            xb = torch.from_numpy(np.asarray(take(self.data.X, idx), dtype=np.float32))
        yb = self._y[idx]
        nb = self.device.type == "cuda"
        return xb.to(self.device, non_blocking=nb), yb.to(self.device, non_blocking=nb)

    def batches(self, batch_size: int, order: np.ndarray | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches in ``order`` (a permutation for training; ``None`` = row order)."""
        n = len(self)
        order = np.arange(n) if order is None else order
        for a in range(0, n, batch_size):
            yield self.batch(order[a:a + batch_size])


def check_split_sizes(data: dict[str, Arrays], *, path: object = None, minimum: dict[str, int] | None = None) -> None:
    """UserError when a split is too small to train, early-stop or score on."""
    minimum = minimum or {"train": 8, "valid": 2, "test": 2}
    for name, need in minimum.items():
        have = len(data[name]) if name in data else 0
        if have < need:
            raise UserError(f"split '{name}' has {have} sequences, at least {need} are needed", path=path,
                            where=f"split={name}", hint="Assign more rows to this split in the datasets sheet.")


def check_targets(data: dict[str, Arrays], task: str, names: list[str], path: Path) -> None:
    """UserError for targets that cannot be trained or scored (all missing, one class, not 0/1)."""
    for split in ("train", "test"):
        y = data[split].y
        for j, name in enumerate(names):
            col = y[:, j]
            seen = col[~np.isnan(col)]
            if seen.size == 0:
                raise UserError(f"target '{name}' has no observed value in split '{split}'", path=path,
                                where=f"target={name}", hint="Drop the target or move rows into this split.")
            if task == "regression":
                continue
            bad = np.flatnonzero(~np.isnan(col) & (col != 0) & (col != 1))
            if bad.size:
                raise UserError(f"{task} target '{name}' has value {float(col[bad[0]]):g} (must be 0 or 1)", path=path,
                                where=f"id={data[split].ids[bad[0]]}", hint="Fix the labels or use task regression.")
            if np.unique(seen).size < 2:
                raise UserError(f"{task} target '{name}' has only class {int(seen[0])} in split '{split}'",
                                path=path, where=f"target={name}",
                                hint="Both classes are needed to train and to compute AUROC; re-split the data.")
