"""``glmprobe prepare``: datasets-sheet rows -> ``<outdir>/<id>/dataset.h5`` + ``record.json``.

The work (two streaming passes: validate everything, then write) is in
:mod:`glmprobe.data.ingest`; this module parses the inputs, keys the task on the input
files' checksums and the row's options, and hands the folder to the step skeleton, so
bad input fails before anything is written and a finished folder is never half-written.

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

import logging
from pathlib import Path

import click

from glmprobe.data import ingest
from glmprobe.data.ingest import DATASET_NAME
from glmprobe.data.leakage import ACTIONS
from glmprobe.data.readers import open_reader
from glmprobe.data.sheet import DatasetRow, read_sheet, select_rows
from glmprobe.diskfull import refuse_when_full
from glmprobe.errors import UserError
from glmprobe.steps.skeleton import Task

log = logging.getLogger(__name__)

# sheet columns that name files (their checksums enter the key instead) or only describe
_NOT_KEYED = ("description", "path", "labels", "genome")


def _task(row: DatasetRow, outdir: Path, sources: dict, on_leakage: str) -> Task:
    options = {k: v for k, v in row.options.items() if k not in _NOT_KEYED}
    options["log1p"] = row.log1p   # the effective value: its default depends on the format
    blob = {"sources": {k: v["sha256"] for k, v in sources.items()}, "options": options, "on_leakage": on_leakage}
    return Task("prepare", f"datasets/{row.id}", Path(outdir) / row.id, blob, outputs=(DATASET_NAME,),
                tags={"dataset": row.id, "format": row.format}, artifacts={"dataset": DATASET_NAME},
                inputs={**sources, "sheet": {"path": str(row.sheet), "line": row.line}})


def _fill_record(task: Task, row: DatasetRow, reader, checked: ingest.Checked, checksum: str,
                 on_leakage: str, warnings: list[str]) -> None:
    sc, leak, dropped = checked.scan, checked.leak, int(checked.leak.drop.sum()) if on_leakage == "drop" else 0
    params = {"format": row.format, "task": checked.task, "split": checked.plan.method, "seed": row.seed,
              "split_args": row.split_args, "width": row.width, "log1p": row.log1p, "length": row.length,
              "on_leakage": on_leakage, "target_names": ";".join(reader.target_names)}
    task.record["tags"]["task"] = checked.task
    task.record.update(
        params={k: v for k, v in params.items() if v is not None}, n=checked.n,
        dataset={"checksum": checksum, "n": int(checked.keep.sum()), "task": checked.task,
                 "target_names": reader.target_names, "segments": reader.segments,
                 "length": {"min": sc.min_len, "max": sc.max_len}},
        leakage={**leak.counts(), "action": on_leakage, "dropped": dropped},
        dropped={"all_nan_targets": int(sc.all_nan.sum()) if checked.task == "regression" else 0, "leakage": dropped},
        ambiguous={"bases": sc.ambiguous_bases, "records": sc.ambiguous_records},
        checks=checked.counts, warnings=warnings)


def prepare_row(row: DatasetRow, outdir: Path, on_leakage: str = "warn", force: bool = False,
                progress: bool = False, chunk_size: int = 65536) -> Path:
    """Prepare one sheet row into ``outdir/<id>/``.

    Parameters
    ----------
    row
        A parsed datasets-sheet row (:func:`glmprobe.data.sheet.read_sheet`).
    outdir
        Datasets folder; the row goes to ``outdir/<id>/dataset.h5`` + ``record.json``.
    on_leakage
        ``warn``, ``drop`` or ``error`` for sequences shared between splits.
    force
        Redo the row even when its record says it is up to date.
    progress
        Show progress bars.
    chunk_size
        Records read per chunk (memory vs. speed; does not change the result).

    Returns
    -------
    Path
        The ``dataset.h5`` path (written or already up to date).
    """
    reader = open_reader(row, chunk_size)
    sources = ingest.source_checksums(reader)
    task = _task(row, outdir, sources, on_leakage)
    if task.up_to_date(force):
        return task.folder / DATASET_NAME
    checked = ingest.check(row, reader, on_leakage, progress)
    with refuse_when_full(task.folder / DATASET_NAME, "the dataset", lambda: "it prepares the row again"), \
            task.writing() as tmp:
        checksum, more = ingest.write(tmp / DATASET_NAME, reader, row, checked, sources, on_leakage, progress)
        warnings = checked.warnings + more
        for msg in warnings:
            log.warning("%s: %s", row.id, msg)
        _fill_record(task, row, reader, checked, checksum, on_leakage, warnings)
    return task.folder / DATASET_NAME


def prepare_rows(sheet: str | Path, outdir: str | Path, ids: list[str] | None = None, on_leakage: str = "warn",
                 force: bool = False, *, progress: bool = False, chunk_size: int = 65536) -> list[Path]:
    """Step function: prepare the sheet rows named by ``ids``.

    Parameters
    ----------
    sheet
        Datasets sheet (CSV/TSV); relative paths in it resolve against its folder.
    outdir
        Datasets folder; each row goes to ``outdir/<id>/``.
    ids
        Row ids to prepare; ``None`` prepares every row.
    on_leakage
        ``warn``, ``drop`` or ``error`` for sequences shared between splits.
    force
        Redo rows even when their records say they are up to date.
    progress
        Show progress bars.
    chunk_size
        Records read per chunk.

    Returns
    -------
    list of Path
        One ``dataset.h5`` path per row, in sheet order.
    """
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
              help="Sequences shared between splits (exact or reverse-complement duplicates, and near-duplicates: "
                   "overlapping BED regions, or a shared stretch of about 70+ nt): warn and keep them, drop them "
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
