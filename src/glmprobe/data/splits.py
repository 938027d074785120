"""Train/valid/test assignment.

Four methods (sheet column ``split``, options in ``split_args``):

* ``column``  split names written in the input (a split column, or the HDF5 keys);
  ``val``/``validation`` mean ``valid``.
* ``chrom``   held-out chromosomes, e.g. ``valid=chr8;test=chr9,chr10``; the rest is train.
* ``random``  seeded random fractions, e.g. ``train=0.8;valid=0.1;test=0.1`` (exact counts:
  ``round(f * n)`` for valid and test, the rest train).
* ``folds``   fold numbers mapped to splits, default the study's preset ``train=1-8;valid=9;test=10``.

:meth:`SplitPlan.assign` gives the split codes of a chunk while it is read; ``random``
needs the final row count, so its codes come from :meth:`SplitPlan.random_codes` after the scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from glmprobe.data.dataset import SPLITS
from glmprobe.data.readers.base import Chunk

METHODS = ("column", "chrom", "random", "folds")
_NAMES = {"train": 0, "valid": 1, "val": 1, "validation": 1, "test": 2}
DEFAULT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}
STUDY_FOLDS = "train=1-8;valid=9;test=10"


@dataclass
class SplitPlan:
    method: str
    seed: int = 0
    fractions: dict[str, float] = field(default_factory=dict)
    chroms: dict[str, int] = field(default_factory=dict)     # held-out chromosome -> split code
    folds: dict[int, int] = field(default_factory=dict)      # fold number -> split code

    def describe(self) -> dict:
        return {"method": self.method, "seed": self.seed, "fractions": self.fractions,
                "chroms": {c: SPLITS[k] for c, k in self.chroms.items()},
                "folds": {f: SPLITS[k] for f, k in self.folds.items()}}

    def assign(self, chunk: Chunk) -> np.ndarray | None:
        """Split codes for a chunk (None for ``random``: assigned after the scan)."""
        if self.method == "column":
            # few distinct names: look each up once, then map the column at C speed
            table = {name: _NAMES.get(str(name).strip().lower()) for name in set(chunk.split)}
            unknown = {name for name, code in table.items() if code is None}
            if unknown:
                i = next(i for i, name in enumerate(chunk.split) if name in unknown)
                raise chunk.error(i, f"unknown split name {chunk.split[i]!r}",
                                  "Use train, valid (or val/validation) or test.")
            return np.fromiter(map(table.__getitem__, chunk.split), dtype=np.uint8, count=len(chunk))
        if self.method == "chrom":
            return np.fromiter((self.chroms.get(c, 0) for c in chunk.coords["chrom"]), dtype=np.uint8,
                               count=len(chunk))
        if self.method == "folds":
            folds = chunk.fold if chunk.fold is not None else _fold_numbers(chunk)
            codes = np.empty(len(chunk), dtype=np.uint8)
            for i, f in enumerate(folds):
                code = self.folds.get(int(f))
                if code is None:
                    raise chunk.error(i, f"fold {int(f)} is not assigned to a split "
                                         f"(split_args maps folds {sorted(self.folds)})",
                                      "Add it to split_args, e.g. train=1-8;valid=9;test=10.")
                codes[i] = code
            return codes
        return None

    def random_codes(self, n: int) -> np.ndarray:
        """Exact-count seeded random assignment of ``n`` rows."""
        rng = np.random.default_rng(self.seed)
        n_valid = int(round(self.fractions["valid"] * n))
        n_test = int(round(self.fractions["test"] * n))
        codes = np.zeros(n, dtype=np.uint8)
        order = rng.permutation(n)
        codes[order[:n_valid]] = 1
        codes[order[n_valid:n_valid + n_test]] = 2
        return codes


def _fold_numbers(chunk: Chunk) -> np.ndarray:
    out = np.empty(len(chunk), dtype=np.int64)
    for i, v in enumerate(chunk.split):
        try:
            out[i] = int(float(v))
        except (TypeError, ValueError):
            raise chunk.error(i, f"fold {v!r} is not a number", "split=folds needs fold numbers in the split "
                                                                "column.") from None
    return out


def _pairs(text: str, row) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, _, value = part.partition("=")
        key = key.strip().lower()
        key = "valid" if key in ("val", "validation") else key
        if key not in SPLITS:
            raise row.error(f"unknown split {key!r} in split_args {row.split_args!r}", "split_args",
                            "Keys are train, valid and test.")
        if key in out:
            raise row.error(f"split {key!r} given twice in split_args", "split_args")
        out[key] = value.strip()
    return out


def _int_list(text: str, row) -> list[int]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        a, dash, b = part.partition("-")
        try:
            out.extend(range(int(a), int(b) + 1) if dash else [int(a)])
        except ValueError:
            raise row.error(f"{part!r} is not a fold number or range (like 1-8)", "split_args") from None
    return out


def plan_splits(row, reader) -> SplitPlan:
    """Resolve the row's split method (default from what the input carries) and parse its arguments."""
    method = row.split or reader.natural_split or "random"
    if method == "column" and reader.natural_split == "folds":
        method = "folds"   # the study's fold files carry fold numbers, not split names
    args = _pairs(row.split_args, row) if row.split_args else {}
    plan = SplitPlan(method, seed=row.seed)
    if method == "column":
        if reader.natural_split != "column":
            raise row.error("split=column but the input has no split column", "split",
                            "Add a 'split' column (or set split_col), or use split=random.")
        if args:
            raise row.error("split=column takes no split_args", "split_args")
    elif method == "random":
        fr = {k: float(DEFAULT_FRACTIONS[k]) for k in SPLITS} if not args else {}
        for k, v in args.items():
            try:
                fr[k] = float(v)
            except ValueError:
                raise row.error(f"fraction {v!r} for {k!r} is not a number", "split_args") from None
        for k in SPLITS:
            fr.setdefault(k, 0.0)
        if any(not 0 <= v <= 1 for v in fr.values()) or abs(sum(fr.values()) - 1) > 1e-6:
            raise row.error(f"fractions {fr} must be in [0, 1] and sum to 1", "split_args",
                            "For example train=0.8;valid=0.1;test=0.1.")
        plan.fractions = fr
    elif method == "chrom":
        if not reader.has_coords:
            raise row.error("split=chrom needs genomic coordinates (format bed)", "split")
        if not args or "train" in args:
            raise row.error("split=chrom needs held-out chromosomes, e.g. valid=chr8;test=chr9,chr10", "split_args",
                            "Chromosomes not listed are train.")
        for k, v in args.items():
            for chrom in filter(None, (c.strip() for c in v.split(","))):
                if chrom in plan.chroms:
                    raise row.error(f"chromosome {chrom!r} held out for two splits", "split_args")
                plan.chroms[chrom] = SPLITS.index(k)
    elif method == "folds":
        if reader.natural_split is None:
            raise row.error("split=folds needs fold numbers (a split column or a fold file)", "split")
        for k, v in (args or _pairs(STUDY_FOLDS, row)).items():
            for f in _int_list(v, row):
                if f in plan.folds:
                    raise row.error(f"fold {f} assigned to two splits", "split_args")
                plan.folds[f] = SPLITS.index(k)
    else:
        raise row.error(f"unknown split method {method!r}; use one of {', '.join(METHODS)}", "split")
    return plan
