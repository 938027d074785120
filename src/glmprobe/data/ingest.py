"""``glmprobe prepare``: datasets-sheet rows -> ``<outdir>/<id>/dataset.h5`` + ``record.json``.

Each row is read in two streaming passes. The first validates every record
(sequences, targets, ids, splits) and keeps 8-byte hashes for the leakage check,
so bad input fails before anything is written; the second writes through
:class:`~glmprobe.data.dataset.DatasetWriter` into a temporary folder that is
renamed into place only when complete. Peak memory is one chunk plus a few bytes
per row, whatever the input size.

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

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from glmprobe import __version__
from glmprobe.atomic import atomic_dir, sha256_file
from glmprobe.data.dataset import SPLITS, DatasetWriter
from glmprobe.data.leakage import ACTIONS, canonical_hashes, check_leakage
from glmprobe.data.readers import Chunk, Reader, open_reader
from glmprobe.data.sequences import clean_chunk
from glmprobe.data.sheet import DatasetRow, read_sheet, select_rows
from glmprobe.data.splits import SplitPlan, plan_splits
from glmprobe.errors import UserError
from glmprobe.record import RECORD_NAME, make_record, now, read_record, write_record

log = logging.getLogger(__name__)
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
            all_nan.append(stats.update(chunk, _targets(chunk, row, reader.target_names)))
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
                       segments=reader.segments, with_coords=reader.has_coords) as w, \
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
                         {k: np.asarray(v)[sel] for k, v in chunk.coords.items()} if reader.has_coords else None)
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


# --------------------------------------------------------------------------- one row / many rows
def _cache_key(row: DatasetRow, sources: dict, on_leakage: str) -> str:
    options = {k: v for k, v in row.options.items() if k not in ("description", "path", "labels", "genome")}
    blob = json.dumps({"sources": {k: v["sha256"] for k, v in sources.items()}, "options": options,
                       "on_leakage": on_leakage, "glmprobe": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _up_to_date(folder: Path, cache_key: str) -> bool:
    try:
        return (folder / DATASET_NAME).exists() and read_record(folder / RECORD_NAME).get("cache_key") == cache_key
    except (OSError, ValueError):
        return False


def prepare_row(row: DatasetRow, outdir: Path, on_leakage: str = "warn", force: bool = False,
                progress: bool = False, chunk_size: int = 65536) -> Path:
    """Prepare one sheet row; returns the dataset.h5 path."""
    started, t0 = now(), time.perf_counter()
    reader = open_reader(row, chunk_size)
    sources = {role: {"path": str(p), "sha256": sha256_file(p)} for role, p in reader.sources().items()}
    cache_key = _cache_key(row, sources, on_leakage)
    folder = Path(outdir) / row.id
    if not force and _up_to_date(folder, cache_key):
        log.info("%s: up to date (same inputs and options), skipped; use --force to redo", row.id)
        return folder / DATASET_NAME
    plan = plan_splits(row, reader)
    sc = scan(reader, row, plan, progress)
    task, keep, leak, n, warnings = _decide(row, reader, plan, sc, on_leakage)
    provenance = {"sheet": str(row.sheet), "sheet_line": row.line, "reader": row.format, "sources": sources,
                  "options": row.options, "split": plan.describe(), "on_leakage": on_leakage,
                  "leakage": leak.counts(), "n_input": sc.n, "n_dropped": int(sc.n - keep.sum()),
                  "glmprobe_version": __version__}
    with atomic_dir(folder) as tmp:
        checksum, more = _write(tmp / DATASET_NAME, reader, row, task, keep, sc.codes, provenance, progress)
        warnings += more
        for msg in warnings:
            log.warning("%s: %s", row.id, msg)
        record = make_record(
            "prepare", f"datasets/{row.id}", cache_key=cache_key,
            tags={"dataset": row.id, "task": task, "format": row.format},
            params={k: v for k, v in {
                "format": row.format, "task": task, "split": plan.method, "seed": row.seed,
                "split_args": row.split_args, "width": row.width, "log1p": row.log1p, "length": row.length,
                "on_leakage": on_leakage, "target_names": ";".join(reader.target_names)}.items() if v is not None},
            n=n, artifacts={"dataset": DATASET_NAME},
            inputs={**sources, "sheet": {"path": str(row.sheet), "line": row.line}},
            dataset={"checksum": checksum, "n": int(keep.sum()), "task": task, "target_names": reader.target_names,
                     "segments": reader.segments, "length": {"min": sc.min_len, "max": sc.max_len}},
            leakage={**leak.counts(), "action": on_leakage,
                     "dropped": int(leak.drop.sum()) if on_leakage == "drop" else 0},
            dropped={"all_nan_targets": int(sc.all_nan.sum()) if task == "regression" else 0,
                     "leakage": int(leak.drop.sum()) if on_leakage == "drop" else 0},
            ambiguous={"bases": sc.ambiguous_bases, "records": sc.ambiguous_records},
            warnings=warnings, started=started, duration_s=round(time.perf_counter() - t0, 3))
        write_record(tmp, record)
    return folder / DATASET_NAME


def prepare_rows(sheet: str | Path, outdir: str | Path, ids: list[str] | None = None, on_leakage: str = "warn",
                 force: bool = False, *, progress: bool = False, chunk_size: int = 65536) -> list[Path]:
    """Step function: prepare the sheet rows named by ``ids`` (all rows when None)."""
    if on_leakage not in ACTIONS:
        raise UserError(f"on_leakage must be one of {', '.join(ACTIONS)}, not {on_leakage!r}")
    sheet = Path(sheet)
    rows = select_rows(read_sheet(sheet), ids, sheet)
    return [prepare_row(r, Path(outdir), on_leakage, force, progress, chunk_size) for r in rows]


@click.command("prepare")
@click.argument("sheet", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--id", "ids", multiple=True, metavar="ID",
              help="Prepare only this dataset id (repeat for several). Default: every row of the sheet.")
@click.option("--outdir", type=click.Path(path_type=Path, file_okay=False), default=Path("results/datasets"),
              show_default=True, help="Output folder; each dataset goes to OUTDIR/<id>/dataset.h5 + record.json.")
@click.option("--on-leakage", type=click.Choice(ACTIONS), default="warn", show_default=True,
              help="Sequences (or reverse complements) shared between splits: warn and keep them, drop them "
                   "from valid/test (never train), or fail.")
@click.option("--force", is_flag=True, help="Redo datasets even when their record.json says they are up to date.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=65536, show_default=True,
              help="Records read per chunk (memory vs. speed).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def prepare_command(sheet: Path, ids: tuple[str, ...], outdir: Path, on_leakage: str, force: bool,
                    chunk_size: int, quiet: bool) -> None:
    """Read rows of a datasets SHEET (CSV/TSV) into canonical dataset.h5 files.

    Formats: fasta (+ labels table), table (CSV/TSV), bed (+ reference genome) and the
    study's HDF5 layouts. Prints the path of each dataset.h5.
    """
    for path in prepare_rows(sheet, outdir, list(ids) or None, on_leakage, force, progress=not quiet,
                             chunk_size=chunk_size):
        click.echo(str(path))
