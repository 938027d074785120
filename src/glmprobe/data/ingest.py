"""Ingesting one datasets-sheet row: validate, decide, write ``dataset.h5``.

The work behind ``glmprobe prepare`` (:mod:`glmprobe.steps.prepare` wraps it in the
step skeleton). Each row is read in two streaming passes. The first (:func:`scan`)
validates every record (sequences, targets, ids, splits) and keeps 8-byte hashes for
the leakage check, so bad input fails before anything is written; :func:`_decide`
turns the scan into the task, the rows kept and the split; the second pass
(:func:`_write`) writes through :class:`~glmprobe.data.dataset.DatasetWriter`.
Peak memory is one chunk plus a few bytes per row, whatever the input size.

Policies (documented for users, README "Bad input"):

* ``--on-leakage`` defaults to ``warn``: duplicates (reverse complements included) and
  near-duplicates (:mod:`glmprobe.data.leakage`) between splits are counted per split
  pair in the record and logged; ``drop`` removes them from valid/test (never train);
  ``error`` refuses the dataset.
* Targets: inf is an error; NaN means unobserved. In a regression dataset a row whose
  targets are all NaN carries no signal and is dropped with a warning; other missing
  values are counted per target and split in a warning (they are masked out of the
  loss and the metrics), and a target missing in every row of a split is an error. In
  binary/multilabel datasets a missing label is an error.
* The task is the sheet's, else the one the format fixes (the study's HDF5 layouts:
  ChIP and eCLIP binary, the others regression; labels out of range are errors), else
  inferred (0/1 labels only: binary/multilabel), and the record says which and why.
* A binary test split with a single class cannot be scored and is an error unless the
  sheet sets ``allow_single_class``; a single-class valid split (or multilabel target)
  is a warning.
* An all-N sequence is an error; sequences more than half N, and BED regions that
  overlap N runs of the genome (assembly gaps), are counted in a warning. BED regions of
  unequal width without ``width`` are counted in a warning that says how to re-centre.
* An empty split is an error.

Every count lands in the record (``checks``) as well as in the warning.
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
from glmprobe.data.leakage import Leakage, LeakageIndex
from glmprobe.data.readers import Chunk, Reader
from glmprobe.data.sequences import MOSTLY_N, clean_chunk
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
    """What the scan learns about targets: task inference, class balance, missing values.

    Keeps two bits per row and target (missing, equal to 1) so that per-split counts can be
    made once the split is known (random splits are drawn after the scan).
    """

    names: list[str]
    task: str | None                                   # given in the sheet, or fixed by the format
    fixed_by: str | None = None                        # why the format fixes it (None: not fixed)
    binary_only: bool = True
    first_nonbinary: str | None = None                 # "2.5 for 'y' at line 3": why regression was inferred
    first_nan: tuple[Path, str] | None = None          # (file, record) of the first NaN seen
    reason: str = ""                                   # why the resolved task is what it is
    nan: np.ndarray | list = field(default_factory=list)   # (N, T) bool after finish()
    one: np.ndarray | list = field(default_factory=list)   # (N, T) bool after finish()

    def update(self, chunk: Chunk, y: np.ndarray) -> np.ndarray:
        """Check one chunk; returns its all-NaN row mask."""
        nan = np.isnan(y)
        nonbinary = ~nan & (y != 0) & (y != 1)
        if nonbinary.any():
            i, j = np.argwhere(nonbinary)[0]
            if self.task in ("binary", "multilabel"):
                why = (f"{self.fixed_by}, so labels must be 0 or 1" if self.fixed_by
                       else f"a {self.task} label must be 0 or 1")
                raise chunk.error(int(i), f"label {self.names[j]!r} is {y[i, j]:g}; {why}",
                                  "Fix the label, or check the 'format' column (the study's ChIP and eCLIP layouts "
                                  "are binary)." if self.fixed_by else
                                  "Fix the label or set task=regression in the datasets sheet.")
            if self.binary_only:
                self.first_nonbinary = f"{y[i, j]:g} for {self.names[j]!r} at {chunk.locate(int(i))}"
            self.binary_only = False
        if nan.any() and self.first_nan is None:
            self.first_nan = (chunk.path, chunk.locate(int(np.flatnonzero(nan.any(axis=1))[0])))
        self.nan.append(nan)
        self.one.append(y == 1)
        return nan.all(axis=1)

    def finish(self) -> None:
        T = len(self.names)
        self.nan = np.concatenate(self.nan) if self.nan else np.zeros((0, T), bool)
        self.one = np.concatenate(self.one) if self.one else np.zeros((0, T), bool)

    def resolve(self, row: DatasetRow) -> str:
        """The task (given, fixed by the format, or inferred), checked against what was seen."""
        T = len(self.names)
        if self.task:
            task = self.task
            self.reason = self.fixed_by or "set in the datasets sheet"
        elif not self.binary_only:
            task, self.reason = "regression", f"inferred: a target is not 0/1 ({self.first_nonbinary})"
        else:
            task = "binary" if T == 1 else "multilabel"
            self.reason = "inferred: every label is 0 or 1"
        if task == "binary" and T != 1:
            raise row.error(f"task binary needs exactly one target, found {T} ({', '.join(self.names)})", "task",
                            "Use task=multilabel, or choose one column with target_cols.")
        if task != "regression":
            if self.first_nan is not None:
                path, where = self.first_nan
                raise UserError(f"missing label (NaN) in a {task} dataset", path=path, where=where,
                                hint="Every label must be 0 or 1; fill or remove the row, or set task=regression.")
            ones = self.one.sum(axis=0)
            one_class = [n for n, a in zip(self.names, ones) if a == 0 or a == len(self.one)]
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
    index: LeakageIndex        # hashes / sketch / intervals for the leakage check
    all_nan: np.ndarray        # rows whose targets are all NaN
    stats: TargetStats
    ambiguous_bases: int = 0
    ambiguous_records: int = 0
    min_len: int = 0
    max_len: int = 0
    lengths: dict[int, int] = field(default_factory=dict)   # sequence length -> rows
    with_n: int = 0            # sequences holding at least one N
    mostly_n: int = 0          # sequences more than MOSTLY_N N


def _bar(row: DatasetRow, what: str, total: int | None, progress: bool):
    return tqdm(total=total, desc=f"{row.id}: {what}", unit="seq", unit_scale=True, leave=False,
                disable=None if progress else True)


def scan(reader: Reader, row: DatasetRow, plan: SplitPlan, progress: bool = False) -> Scan:
    """Pass 1: validate every record and collect what the split and leakage decisions need."""
    stats = TargetStats(reader.target_names, row.task or reader.task, reader.task_reason)
    index = LeakageIndex(with_coords=reader.has_coords)
    codes, all_nan, seen, hist = [], [], set(), {}
    amb_b = amb_r = with_n = mostly_n = 0
    lo, hi = np.iinfo(np.int64).max, 0
    fixed = row.length or (sum(reader.segments) if reader.segments else None)
    with _bar(row, "check", reader.size_hint, progress) as bar:
        for chunk in reader.chunks():
            cleaned = clean_chunk(chunk)
            lengths = np.fromiter(map(len, cleaned.sequences), dtype=np.int64, count=len(chunk))
            if fixed is not None and (lengths != fixed).any():
                i = int(np.flatnonzero(lengths != fixed)[0])
                raise chunk.error(i, f"sequence length {lengths[i]}, expected {fixed}",
                                  f"Set width={fixed} in the datasets sheet to re-centre every region on its "
                                  "midpoint." if reader.has_coords and not row.width else
                                  "Every sequence of this dataset must have the same length (sheet column 'length').")
            lo, hi = min(lo, int(lengths.min())), max(hi, int(lengths.max()))
            for v, k in zip(*np.unique(lengths, return_counts=True)):
                hist[int(v)] = hist.get(int(v), 0) + int(k)
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
            a, b = cleaned.n_stats()
            with_n, mostly_n = with_n + a, mostly_n + b
            y = _targets(chunk, row, reader.target_names)
            if reader.has_offsets:
                check_offsets(chunk, chunk.offsets, y, reader.target_names)
            all_nan.append(stats.update(chunk, y))
            c = plan.assign(chunk)
            codes.append(c if c is not None else np.zeros(len(chunk), dtype=np.uint8))
            index.add(cleaned.sequences, chunk.coords)
            bar.update(len(chunk))
    if not seen:
        raise UserError("no records found", path=row.path, hint="The input has a header but no data.")
    stats.finish()
    return Scan(len(seen), np.concatenate(codes), index, np.concatenate(all_nan), stats,
                amb_b, amb_r, lo, hi, hist, with_n, mostly_n)


# --------------------------------------------------------------------------- decisions
_SHOW = 5


def _missing_targets(row: DatasetRow, names: list[str], sc: Scan, keep: np.ndarray, counts: dict,
                     warnings: list[str]) -> None:
    """Regression: count missing values per target and split; refuse a target missing in a whole split."""
    nan, c = sc.stats.nan[keep], sc.codes[keep]
    per = np.stack([nan[c == k].sum(axis=0) for k in range(3)])          # (3, T)
    size = [int((c == k).sum()) for k in range(3)]
    for k, split in enumerate(SPLITS):
        for j, t in enumerate(names):
            if size[k] and per[k, j] == size[k]:
                raise UserError(f"target {t!r} is missing (NaN or empty) in every row of the {split} split "
                                f"({size[k]} rows)", path=row.path,
                                hint="It can be neither trained on nor scored there: fill it, leave it out with "
                                     "target_cols, or change the split.")
    some = [j for j in range(len(names)) if per[:, j].any()]
    counts["missing_targets"] = {names[j]: dict(zip(SPLITS, map(int, per[:, j]))) for j in some}
    if some:
        text = "; ".join(f"{names[j]!r} " + ", ".join(f"{s} {int(per[k, j])}" for k, s in enumerate(SPLITS))
                         for j in some[:_SHOW])
        more = f"; and {len(some) - _SHOW} more targets (record.json 'checks')" if len(some) > _SHOW else ""
        warnings.append(f"missing target values (NaN or empty) per split, masked out of the training loss and the "
                        f"metrics: {text}{more}")


def _single_class(row: DatasetRow, task: str, names: list[str], sc: Scan, keep: np.ndarray, counts: dict,
                  warnings: list[str]) -> None:
    """Binary/multilabel: a valid or test split with one class cannot be scored (AUROC undefined)."""
    one, c = sc.stats.one[keep], sc.codes[keep]
    found = {}
    for k in (1, 2):
        pos, n = one[c == k].sum(axis=0), int((c == k).sum())
        for j, t in enumerate(names):
            if pos[j] == 0 or pos[j] == n:
                found.setdefault(t, []).append(SPLITS[k])
                msg = (f"target {t!r} has a single class in the {SPLITS[k]} split ({int(pos[j])} positive, "
                       f"{n - int(pos[j])} negative): AUROC/AUPRC are undefined there")
                if task == "binary" and k == 2 and not row.allow_single_class:
                    raise UserError(msg, path=row.path, hint="The benchmark cannot score this dataset: change the "
                                    "split or add data, or set allow_single_class=true in the datasets sheet to "
                                    "prepare it anyway.")
                warnings.append(msg)
    counts["single_class"] = found


def _decide(row: DatasetRow, reader: Reader, plan: SplitPlan, sc: Scan, on_leakage: str):
    """Task, rows kept, split codes, leakage and the counted checks, from the scan (no data re-read)."""
    task = sc.stats.resolve(row)
    warnings, counts = [], {"task": {"task": task, "reason": sc.stats.reason}}
    if sc.stats.reason.startswith("inferred"):
        warnings.append(f"task {task} {sc.stats.reason}; set 'task' in the datasets sheet if that is wrong")
    keep = np.ones(sc.n, dtype=bool)
    if task == "regression" and sc.all_nan.any():
        keep &= ~sc.all_nan
        warnings.append(f"dropped {int(sc.all_nan.sum())} row(s) whose targets are all NaN (unobserved)")
    if plan.method == "random":
        sc.codes[keep] = plan.random_codes(int(keep.sum()))
    leak = sc.index.check(sc.codes, keep)
    if leak.total:
        if on_leakage == "error":
            raise UserError(f"leakage between splits: {leak.summary()}", path=row.path,
                            hint="Fix the split (for BED input split=chrom keeps overlapping regions together), or "
                                 "rerun with --on-leakage drop (removes them from valid/test) or warn.")
        if on_leakage == "drop":
            idx = np.flatnonzero(keep)
            keep[idx[leak.drop]] = False
            warnings.append(f"leakage: {leak.summary()}; dropped {int(leak.drop.sum())} from valid/test")
        else:
            warnings.append(f"leakage: {leak.summary()}; kept (use --on-leakage drop to remove them)")
    if sc.ambiguous_bases:
        warnings.append(f"{sc.ambiguous_bases} IUPAC ambiguity code(s) in {sc.ambiguous_records} sequence(s) "
                        "were converted to N")
    counts["n_bases"] = {"with_n": sc.with_n, "mostly_n": sc.mostly_n, "mostly_n_threshold": MOSTLY_N}
    if reader.has_coords and sc.with_n:
        warnings.append(f"{sc.with_n} region(s) overlap assembly gaps or other N runs of the genome "
                        f"({sc.mostly_n} of them more than {MOSTLY_N:.0%} N)")
    elif sc.mostly_n:
        warnings.append(f"{sc.mostly_n} sequence(s) are more than {MOSTLY_N:.0%} N")
    counts["lengths"] = {"min": sc.min_len, "max": sc.max_len, "distinct": len(sc.lengths)}
    if reader.has_coords and not row.width and len(sc.lengths) > 1:
        common = max(sc.lengths, key=sc.lengths.get)
        off = sc.n - sc.lengths[common]
        counts["lengths"].update(most_common=common, other=off)
        warnings.append(f"{off} of {sc.n} regions are not {common} nt wide (widths {sc.min_len}-{sc.max_len}), so "
                        f"the models see sequences of different lengths; set width={common} in the datasets sheet "
                        "to re-centre every region on its midpoint")
    if task == "regression":
        _missing_targets(row, reader.target_names, sc, keep, counts, warnings)
    n = {name: int(((sc.codes == k) & keep).sum()) for k, name in enumerate(SPLITS)}
    empty = [s for s, v in n.items() if v == 0]
    if empty:
        raise UserError(f"split(s) {', '.join(empty)} would be empty (n per split: {n})", path=row.path,
                        hint="Check the split column/arguments (sheet columns split, split_args) or add data.")
    if task != "regression":
        _single_class(row, task, reader.target_names, sc, keep, counts, warnings)
    return task, keep, leak, n, warnings, counts


# --------------------------------------------------------------------------- pass 2
def _write(path: Path, reader: Reader, row: DatasetRow, task: str, keep: np.ndarray, codes: np.ndarray,
           provenance: dict, progress: bool) -> tuple[str, list[str]]:
    names = np.asarray(SPLITS)
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
            bar.update(sel.size)
            a = b
    if a != len(keep):
        raise UserError("input changed while it was being read", path=row.path, hint="Run prepare again.")
    return w.checksum, []   # every check ran in pass 1 (kept as a list for callers)


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
    counts: dict = field(default_factory=dict)   # what the checks counted (record.json 'checks')

    @property
    def n_dropped(self) -> int:
        return int(self.scan.n - self.keep.sum())


def check(row: DatasetRow, reader: Reader, on_leakage: str, progress: bool = False) -> Checked:
    """Validate the whole row (pass 1) and decide task, rows kept and splits; nothing is written."""
    plan = plan_splits(row, reader)
    sc = scan(reader, row, plan, progress)
    task, keep, leak, n, warnings, counts = _decide(row, reader, plan, sc, on_leakage)
    return Checked(plan, sc, task, keep, leak, n, warnings, counts)


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
