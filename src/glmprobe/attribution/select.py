"""Which sequences to explain, and the window of strongest signal in each map.

* ``top``: the k sequences with the highest explained output (the study's top-500 by
  predicted activity or logit), from one split (default test: the model never trained on it,
  bug §8.9);
* ``random``: k sequences of the split, seeded;
* ``ids``: a given id list (every id must exist; the first unknown one is named).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glmprobe.errors import UserError

HOW = ("top", "random", "ids")


def select_rows(ids: np.ndarray, split: np.ndarray, how: str, k: int, *, on_split: str = "test",
                predictions: np.ndarray | None = None, id_list: Sequence[str] = (), seed: int = 0,
                id_source: str | None = None) -> np.ndarray:
    """Row indices into the dataset, in the order they will be explained."""
    if how == "ids":
        if not id_list:
            raise UserError("--select ids needs --ids FILE with one id per line", where="--ids")
        index = {rid: i for i, rid in enumerate(ids)}
        unknown = [rid for rid in id_list if rid not in index]
        if unknown:
            raise UserError(f"id '{unknown[0]}' is not in the dataset ({len(unknown)} unknown id(s))",
                            path=id_source, hint="List ids exactly as they appear in the dataset's id column.")
        return np.asarray([index[rid] for rid in dict.fromkeys(id_list)], dtype=np.int64)
    rows = np.flatnonzero(split == on_split) if on_split != "all" else np.arange(len(ids))
    if rows.size == 0:
        raise UserError(f"the dataset has no '{on_split}' sequences to explain", where="--split")
    k = min(int(k), rows.size)
    if how == "random":
        return np.sort(np.random.default_rng(seed).choice(rows, size=k, replace=False))
    if how == "top":
        if predictions is None:
            raise ValueError("top selection needs predictions")
        order = np.argsort(-predictions[rows], kind="stable")
        return rows[order[:k]]
    raise UserError(f"unknown selection {how!r}; use one of {', '.join(HOW)}", where="--select")


def strongest_window(scores: np.ndarray, width: int) -> tuple[int, int]:
    """[start, end) of the ``width``-long window with the largest sum of |score|."""
    a = np.abs(np.asarray(scores, dtype=np.float64))
    width = min(int(width), len(a))
    sums = np.convolve(a, np.ones(width), mode="valid")
    start = int(np.argmax(sums))
    return start, start + width
