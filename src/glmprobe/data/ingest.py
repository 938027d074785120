"""Ingesting one datasets-sheet row: validate, decide, write ``dataset.h5``.

The work behind ``glmprobe prepare`` (:mod:`glmprobe.steps.prepare` wraps it in the
step skeleton). Each row is read in two streaming passes. The first (:func:`scan`)
validates every record (sequences, targets, ids, splits) and keeps 8-byte hashes for
the leakage check, so bad input fails before anything is written; :func:`_decide`
turns the scan into the task, the rows kept and the split; the second pass
(:func:`_write`) writes through :class:`~glmprobe.data.dataset.DatasetWriter`.
Peak memory is one chunk plus a few bytes per row, whatever the input size.

Policies (documented for users):

* ``--on-leakage`` defaults to ``warn``: duplicates (reverse complements included)
  between splits are counted in the record and logged; ``drop`` removes them from
  valid/test (never train); ``error`` refuses the dataset.
* Targets: inf is an error; NaN means unobserved. In a regression dataset a row
  whose targets are all NaN carries no signal and is dropped with a warning (counted
  in the record); in binary/multilabel datasets a missing label is an error.
* An empty split is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from glmprobe import __version__
from glmprobe.atomic import sha256_file
from glmprobe.data.dataset import SPLITS, DatasetWriter
from glmprobe.data.delta_logit import check_offsets
from glmprobe.data.leakage import Leakage, canonical_hashes, check_leakage
from glmprobe.data.readers import Chunk, Reader
from glmprobe.data.sequences import clean_chunk
from glmprobe.data.sheet import DatasetRow
from glmprobe.data.splits import SplitPlan, plan_splits
from glmprobe.errors import UserError

DATASET_NAME = "dataset.h5"


# --------------------------------------------------------------------------- targets
def _targets(chunk: Chunk, row: DatasetRow, names: list[str]) -> np.ndarray:
    """The chunk's targets after the row's transform; inf and log1p of values <= -1 are errors."""
    y = chunk.targets
    inf = np.isinf(y)
    if inf.any():
        i, j = np.argwhere(inf)[0]
        raise chunk.error(int(i), f"target {names[j]!r} is {y[i, j]} (infinite)",
                          "Targets must be finite numbers; use NaN (an empty cell) for unobserved values.")
    if row.log1p:
        low = y <= -1
        if low.any():
            i, j = np.argwhere(low)[0]
            raise chunk.error(int(i), f"target {names[j]!r} is {y[i, j]:g}: log1p needs values > -1",
                              "Turn off log1p in the datasets sheet or fix the value.")
        y = np.log1p(y)
    return y


@dataclass
class TargetStats:
    """What the scan learns about targets: task inference, class balance, missing values."""

    names: list[str]
    task: str | None
    binary_only: bool = True
    first_nan: tuple[Path, str] | None = None          # (file, record) of the first NaN seen
    ones: np.ndarray = field(init=False)               # per-target count of 1s
    zeros: np.ndarray = field(init=False)              # per-target count of 0s

    def __post_init__(self):
        self.ones = np.zeros(len(self.names), dtype=np.int64)
        self.zeros = np.zeros(len(self.names), dtype=np.int64)

    def update(self, chunk: Chunk, y: np.ndarray) -> np.ndarray:
        """Check one chunk; returns its all-NaN row mask."""
        nan = np.isnan(y)
        nonbinary = ~nan & (y != 0) & (y != 1)
        if nonbinary.any():
            self.binary_only = False
            if self.task in ("binary", "multilabel"):
                i, j = np.argwhere(nonbinary)[0]
                raise chunk.error(int(i), f"label {self.names[j]!r} is {y[i, j]:g}; a {self.task} label must be 0 or 1",
                                  "Fix the label or set task=regression in the datasets sheet.")
        if nan.any() and self.first_nan is None:
            self.first_nan = (chunk.path, chunk.locate(int(np.flatnonzero(nan.any(axis=1))[0])))
        self.ones += (y == 1).sum(axis=0)
        self.zeros += (y == 0).sum(axis=0)
        return nan.all(axis=1)

    def resolve(self, row: DatasetRow) -> str:
        """The task (given or inferred), checked against what was seen."""
        T = len(self.names)
        task = self.task or ("regression" if not self.binary_only else "binary" if T == 1 else "multilabel")
        if task == "binary" and T != 1:
            raise row.error(f"task binary needs exactly one target, found {T} ({', '.join(self.names)})", "task",
                            "Use task=multilabel, or choose one column with target_cols.")
        if task != "regression":
            if self.first_nan is not None:
                path, where = self.first_nan
                raise UserError(f"missing label (NaN) in a {task} dataset", path=path, where=where,
                                hint="Every label must be 0 or 1; fill or remove the row, or set task=regression.")
            one_class = [n for n, a, b in zip(self.names, self.ones, self.zeros) if a == 0 or b == 0]
            if one_class:
                raise UserError(f"target(s) {', '.join(map(repr, one_class))} have a single class "
                                f"(all 0 or all 1), so a {task} model cannot be trained or scored", path=row.path,
                                hint="Check the labels, or drop these targets with target_cols.")
        return task


# --------------------------------------------------------------------------- pass 1
@dataclass
class Scan:
    n: int
    codes: np.ndarray          # split code per row (random: filled after the scan)
    hashes: np.ndarray         # canonical sequence hash per row (leakage)
    all_nan: np.ndarray        # rows whose targets are all NaN
    stats: TargetStats
    ambiguous_bases: int = 0
    ambiguous_records: int = 0
    min_len: int = 0
    max_len: int = 0


def _bar(row: DatasetRow, what: str, total: int | None, progress: bool):
    return tqdm(total=total, desc=f"{row.id}: {what}", unit="seq", unit_scale=True, leave=False,
                disable=None if progress else True)


def scan(reader: Reader, row: DatasetRow, plan: SplitPlan, progress: bool = False) -> Scan:
    """Pass 1: validate every record and collect what the split and leakage decisions need."""
    stats = TargetStats(reader.target_names, row.task)
    codes, hashes, all_nan, seen = [], [], [], set()
    amb_b = amb_r = 0
    lo, hi = np.iinfo(np.int64).max, 0
    fixed = row.length or (sum(reader.segments) if reader.segments else None)
    with _bar(row, "check", reader.size_hint, progress) as bar:
        for chunk in reader.chunks():
            cleaned = clean_chunk(chunk)
            lengths = np.fromiter(map(len, cleaned.sequences), dtype=np.int64, count=len(chunk))
            if fixed is not None and (lengths != fixed).any():
                i = int(np.flatnonzero(lengths != fixed)[0])
                raise chunk.error(i, f"sequence length {lengths[i]}, expected {fixed}",
                                  "Every sequence of this dataset must have the same length (sheet column 'length').")
            lo, hi = min(lo, int(lengths.min())), max(hi, int(lengths.max()))
            new = set(chunk.ids)
            if len(new) != len(chunk) or not seen.isdisjoint(new):   # rare: find the first duplicate
                local: set[str] = set()
                for i, rid in enumerate(chunk.ids):
                    if rid in seen or rid in local:
                        raise chunk.error(i, f"duplicate id {rid!r}", "Ids must be unique within a dataset.")
                    local.add(rid)
            seen |= new
            amb_b += cleaned.ambiguous_bases
            amb_r += cleaned.ambiguous_records
            y = _targets(chunk, row, reader.target_names)
            if reader.has_offsets:
                check_offsets(chunk, chunk.offsets, y, reader.target_names)
            all_nan.append(stats.update(chunk, y))
            c = plan.assign(chunk)
            codes.append(c if c is not None else np.zeros(len(chunk), dtype=np.uint8))
            hashes.append(canonical_hashes(cleaned.sequences))
            bar.update(len(chunk))
    if not seen:
        raise UserError("no records found", path=row.path, hint="The input has a header but no data.")
    return Scan(len(seen), np.concatenate(codes), np.concatenate(hashes), np.concatenate(all_nan), stats,
                amb_b, amb_r, lo, hi)


# --------------------------------------------------------------------------- decisions
def _decide(row: DatasetRow, reader: Reader, plan: SplitPlan, sc: Scan, on_leakage: str):
    """Task, rows kept, split codes and leakage, from the scan (no data re-read)."""
    task = sc.stats.resolve(row)
    warnings = []
    keep = np.ones(sc.n, dtype=bool)
    if task == "regression" and sc.all_nan.any():
        keep &= ~sc.all_nan
        warnings.append(f"dropped {int(sc.all_nan.sum())} row(s) whose targets are all NaN (unobserved)")
    if plan.method == "random":
        sc.codes[keep] = plan.random_codes(int(keep.sum()))
    leak = check_leakage(sc.hashes[keep], sc.codes[keep])
    if leak.total:
        if on_leakage == "error":
            raise UserError(f"leakage between splits: {leak.summary()}", path=row.path,
                            hint="Fix the split, or rerun with --on-leakage drop (removes them from valid/test) "
                                 "or warn.")
        if on_leakage == "drop":
            idx = np.flatnonzero(keep)
            keep[idx[leak.drop]] = False
            warnings.append(f"leakage: {leak.summary()}; dropped {int(leak.drop.sum())} from valid/test")
        else:
            warnings.append(f"leakage: {leak.summary()}; kept (use --on-leakage drop to remove them)")
    if sc.ambiguous_bases:
        warnings.append(f"{sc.ambiguous_bases} IUPAC ambiguity code(s) in {sc.ambiguous_records} sequence(s) "
                        "were converted to N")
    n = {name: int(((sc.codes == k) & keep).sum()) for k, name in enumerate(SPLITS)}
    empty = [s for s, v in n.items() if v == 0]
    if empty:
        raise UserError(f"split(s) {', '.join(empty)} would be empty (n per split: {n})", path=row.path,
                        hint="Check the split column/arguments (sheet columns split, split_args) or add data.")
    return task, keep, leak, n, warnings


# --------------------------------------------------------------------------- pass 2
def _write(path: Path, reader: Reader, row: DatasetRow, task: str, keep: np.ndarray, codes: np.ndarray,
           provenance: dict, progress: bool) -> tuple[str, list[str]]:
    names = np.asarray(SPLITS)
    T = len(reader.target_names)
    ones, zeros = np.zeros((3, T), dtype=np.int64), np.zeros((3, T), dtype=np.int64)
    a = 0
    with DatasetWriter(path, name=row.id, target_names=reader.target_names, task=task, provenance=provenance,
                       segments=reader.segments, with_coords=reader.has_coords,
                       with_offsets=reader.has_offsets) as w, \
            _bar(row, "write", int(keep.sum()), progress) as bar:
        for chunk in reader.chunks():
            b = a + len(chunk)
            sel = np.flatnonzero(keep[a:b])
            c = codes[a:b][sel]
            seqs = clean_chunk(chunk).sequences
            y = _targets(chunk, row, reader.target_names)[sel]
            if sel.size:
                w.append([chunk.ids[i] for i in sel], [seqs[i] for i in sel], y.astype(np.float32),
                         names[c].tolist(),
                         {k: np.asarray(v)[sel] for k, v in chunk.coords.items()} if reader.has_coords else None,
                         chunk.offsets[sel] if reader.has_offsets else None)
                for k in range(3):
                    ones[k] += (y[c == k] == 1).sum(axis=0)
                    zeros[k] += (y[c == k] == 0).sum(axis=0)
            bar.update(sel.size)
            a = b
    if a != len(keep):
        raise UserError("input changed while it was being read", path=row.path, hint="Run prepare again.")
    warnings = []
    if task != "regression":
        for k in (1, 2):
            for j, t in enumerate(reader.target_names):
                if ones[k, j] == 0 or zeros[k, j] == 0:
                    warnings.append(f"target {t!r} has a single class in the {SPLITS[k]} split: "
                                    "AUROC/AUPRC are undefined there")
    return w.checksum, warnings


# --------------------------------------------------------------------------- the whole row
def source_checksums(reader: Reader) -> dict[str, dict]:
    """{role: {path, sha256}} for every file the reader reads (the cache key's inputs)."""
    return {role: {"path": str(p), "sha256": sha256_file(p)} for role, p in reader.sources().items()}


@dataclass
class Checked:
    """Pass 1 and its decisions: everything pass 2 and the record need."""

    plan: SplitPlan
    scan: Scan
    task: str
    keep: np.ndarray
    leak: Leakage
    n: dict[str, int]
    warnings: list[str]

    @property
    def n_dropped(self) -> int:
        return int(self.scan.n - self.keep.sum())


def check(row: DatasetRow, reader: Reader, on_leakage: str, progress: bool = False) -> Checked:
    """Validate the whole row (pass 1) and decide task, rows kept and splits; nothing is written."""
    plan = plan_splits(row, reader)
    sc = scan(reader, row, plan, progress)
    task, keep, leak, n, warnings = _decide(row, reader, plan, sc, on_leakage)
    return Checked(plan, sc, task, keep, leak, n, warnings)


def provenance(row: DatasetRow, checked: Checked, sources: dict, on_leakage: str) -> dict:
    """What dataset.h5 records about where it came from."""
    return {"sheet": str(row.sheet), "sheet_line": row.line, "reader": row.format, "sources": sources,
            "options": row.options, "split": checked.plan.describe(), "on_leakage": on_leakage,
            "leakage": checked.leak.counts(), "n_input": checked.scan.n, "n_dropped": checked.n_dropped,
            "glmprobe_version": __version__}


def write(path: Path, reader: Reader, row: DatasetRow, checked: Checked, sources: dict, on_leakage: str,
          progress: bool = False) -> tuple[str, list[str]]:
    """Pass 2: write ``path``; returns its checksum and the warnings found while writing."""
    return _write(path, reader, row, checked.task, checked.keep, checked.scan.codes,
                  provenance(row, checked, sources, on_leakage), progress)
