"""``glmprobe run``: a whole benchmark on one machine, in-process, no Nextflow.

Validate the params, create the MLflow store once, then execute the plan
(:mod:`glmprobe.plan`) in order by calling the step functions. Each step skips work
whose record has the same cache key, so a rerun after a crash (or after adding a
model to the sheet) does only what is missing; the runner notices a skipped task by
its record file being left untouched. Finally: track (MLflow), report, and a compact
results table on the terminal.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from glmprobe.atomic import write_text
from glmprobe.device import DEFAULT_DEVICE
from glmprobe.lock import hold
from glmprobe.params import Params, load_params
from glmprobe.plan import Task, build_plan, spec_by_id
from glmprobe.record import RECORD_NAME, now, software_versions

STEPS = ("synth", "prepare", "pretrain", "embed", "probe", "baseline", "attribute", "variants", "track", "report")


@dataclass
class Context:
    params: Params
    outdir: Path
    force: bool = False
    quiet: bool = False
    _specs: dict | None = None
    _opts: object | None = None

    def specs(self) -> dict:
        if self._specs is None:
            self._specs = spec_by_id(self.params)
        return self._specs

    def tune_options(self):
        """TuneOptions from the params (same budget for every head and baseline)."""
        if self._opts is None:
            from glmprobe.train.options import tune_options_from_params

            self._opts = tune_options_from_params(self.params, progress=not self.quiet and sys.stderr.isatty())
        return self._opts


@dataclass
class RunSummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tracking_error: str | None = None
    report: object | None = None
    trace: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------- one executor per step

def _synth(ctx: Context, task: Task) -> None:
    from glmprobe.data.synth import make_synth

    make_synth(ctx.outdir / task.outdir, seed=task.args["seed"], small=task.args["small"], force=ctx.force)


def _prepare(ctx: Context, task: Task) -> None:
    from glmprobe.steps.prepare import prepare_rows

    prepare_rows(task.inputs["sheet"], ctx.outdir / "datasets", ids=[task.args["dataset"]],
                 on_leakage=ctx.params.get("on_leakage", "warn"), force=ctx.force)


def _pretrain(ctx: Context, task: Task) -> None:
    from glmprobe.steps.pretrain import pretrain_step

    args = {k: v for k, v in task.args.items() if k != "model"}
    pretrain_step(ctx.outdir / task.inputs["sequences"], ctx.outdir / task.outdir, force=ctx.force, **args)


def _embed(ctx: Context, task: Task) -> None:
    from glmprobe.steps.embed import embed_step

    embed_step(ctx.outdir / task.inputs["dataset"], ctx.specs()[task.args["model"]], ctx.outdir / task.outdir,
               device=ctx.params.get("device", DEFAULT_DEVICE), force=ctx.force, quiet=ctx.quiet or not sys.stderr.isatty())


def _probe(ctx: Context, task: Task) -> None:
    from glmprobe.steps.probe import probe_step

    a = task.args
    probe_step(ctx.outdir / task.inputs["dataset"], ctx.outdir / task.inputs["store"],
               ctx.outdir / "probes" / a["dataset"] / a["model"], layers=a["layer"] if isinstance(a["layer"], str)
               else [a["layer"]], poolings=[a["pooling"]], heads=[a["head"]], opts=ctx.tune_options(),
               force=ctx.force)


def _baseline(ctx: Context, task: Task) -> None:
    from glmprobe.steps.baseline import baseline_step

    baseline_step(ctx.outdir / task.inputs["dataset"], task.args["arch"], ctx.outdir, opts=ctx.tune_options(),
                  force=ctx.force)


def _attribute(ctx: Context, task: Task) -> None:
    from glmprobe.steps.attribute import attribute_step

    inp, a = task.inputs, task.args
    files = {k: ctx.outdir / inp[k] if k in inp else None for k in ("sites", "motifs")}
    attribute_step(ctx.outdir / inp["model"], ctx.outdir / inp["dataset"], ctx.outdir / task.outdir, a["methods"],
                   k=a["k"], modisco=a["modisco"], seed=int(ctx.params.get("seed", 0)),
                   device=ctx.tune_options().device, force=ctx.force,
                   progress=not ctx.quiet and sys.stderr.isatty(), **files)


def _results_path(ctx: Context, path: str) -> Path:
    """A plan input: absolute as given, else under the results folder (e.g. synth/variants.tsv)."""
    return Path(path) if Path(path).is_absolute() else ctx.outdir / path


def _variants(ctx: Context, task: Task) -> None:
    from glmprobe.steps.variants import variants_step
    from glmprobe.variants.genome import Policy

    inp, a = task.inputs, task.args
    model = ({"trained": ctx.outdir / inp["trained"]} if "trained" in inp else {"spec": ctx.specs()[a["model"]]})
    variants_step([_results_path(ctx, inp["variants"])], _results_path(ctx, inp["genome"]), ctx.outdir / task.outdir, name=a["name"],
                  length=a.get("length"), policy=Policy(on_mismatch=a.get("on_mismatch", "drop")),
                  seed=int(ctx.params.get("seed", 0)), device=ctx.params.get("device", DEFAULT_DEVICE), force=ctx.force,
                  quiet=ctx.quiet or not sys.stderr.isatty(), **model)


EXECUTORS: dict[str, Callable[[Context, Task], None]] = {
    "synth": _synth, "prepare": _prepare, "pretrain": _pretrain, "embed": _embed, "probe": _probe,
    "baseline": _baseline, "attribute": _attribute, "variants": _variants,
}


# --------------------------------------------------------------------------- bookkeeping

def _stamps(folder: Path) -> dict[str, int]:
    """mtime of every record under a task's folder: unchanged after the call = the step skipped it."""
    if not folder.exists():
        return {}
    paths = [folder / RECORD_NAME] if (folder / RECORD_NAME).exists() else list(folder.rglob(RECORD_NAME))
    return {str(p): p.stat().st_mtime_ns for p in paths}


def write_pipeline_info(ctx: Context) -> None:
    import yaml

    info = ctx.outdir / "pipeline_info"
    used = {k: v for k, v in ctx.params.values.items() if v is not None}
    write_text(info / "params_used.yaml", "# params of the last `glmprobe run` into this folder (defaults filled, "
               "paths absolute)\n" + yaml.safe_dump(used, sort_keys=True))
    versions = {"glmprobe": {**software_versions(("pandas", "scipy", "matplotlib", "click", "jsonschema")),
                             "python": platform.python_version()}}
    write_text(info / "software_versions.yml", yaml.safe_dump(versions, sort_keys=True))


def _write_trace(ctx: Context, trace: list[dict], started: str) -> None:
    if not trace:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(trace[0]), delimiter="\t")
    writer.writeheader()
    writer.writerows(trace)
    stamp = started.replace(":", "").replace("+0000", "Z")
    write_text(ctx.outdir / "pipeline_info" / f"execution_trace_{stamp}.tsv", buf.getvalue())


def _say(ctx: Context, text: str) -> None:
    if not ctx.quiet:
        click.echo(text, err=True)


# --------------------------------------------------------------------------- the runner

def run_pipeline(params_file: str | os.PathLike, outdir: str | os.PathLike | None = None, *, only: str | None = None,
                 dry_run: bool = False, force: bool = False, quiet: bool = False) -> RunSummary:
    """Run (or with ``dry_run`` list) the plan of ``params_file``; see the module docstring."""
    params = load_params(params_file, {"outdir": outdir})
    ctx = Context(params=params, outdir=params.outdir, force=force, quiet=quiet)
    tasks = build_plan(params)
    if only:
        tasks = [t for t in tasks if t.step == only]
    summary = RunSummary()
    if dry_run:
        _list_tasks(ctx, tasks)
        return summary
    with hold(ctx.outdir, "glmprobe run"):   # a second run on the same --outdir refuses (glmprobe.lock)
        return _run_tasks(ctx, params, tasks, summary, quiet)


def _list_tasks(ctx: Context, tasks: list[Task]) -> None:
    """``--dry-run``: one line per task, and whether it already has a record."""
    for i, t in enumerate(tasks, 1):
        state = "has record" if _stamps(ctx.outdir / t.outdir) and t.step in EXECUTORS else "to run"
        click.echo(f"[{i}/{len(tasks)}] {t.step:<8} {t.id:<60} {state}")


def _run_tasks(ctx: Context, params: Params, tasks: list[Task], summary: RunSummary, quiet: bool) -> RunSummary:
    """The body of :func:`run_pipeline`, run while holding the lock of ``ctx.outdir``."""
    ctx.outdir.mkdir(parents=True, exist_ok=True)
    from glmprobe.tracking.mlflow_writer import pipeline_run

    pipeline_run(ctx.outdir)
    write_pipeline_info(ctx)
    uri = _open_tracking(ctx, tasks, summary)
    _execute(ctx, [t for t in tasks if t.step in EXECUTORS], summary, quiet)
    _say(ctx, f"{len(summary.done)} task(s) run, skipped {len(summary.skipped)} up to date")
    if any(t.step == "report" for t in tasks):
        from glmprobe.report.build import build_report

        summary.report = build_report(ctx.outdir)
    if any(t.step == "track" for t in tasks):
        _track(ctx, uri, summary, quiet)
    return summary


def _open_tracking(ctx: Context, tasks: list[Task], summary: RunSummary) -> str:
    """The tracking URI; when the plan tracks, create the MLflow store (migrations) before anything else."""
    from glmprobe.tracking.mlflow_writer import TrackingUnavailable, artifact_root, default_tracking_uri, open_store

    uri = ctx.params.get("tracking_uri") or default_tracking_uri(ctx.outdir)
    if any(t.step == "track" for t in tasks):
        try:
            open_store(uri, ctx.params.get("experiment", "glmprobe"), artifact_root(uri, ctx.outdir))
        except TrackingUnavailable as exc:
            summary.tracking_error = str(exc)
            _say(ctx, f"glmprobe: warning: {exc}. Results are still written; tracking is retried at the end.")
    return uri


def _execute(ctx: Context, work: list[Task], summary: RunSummary, quiet: bool) -> None:
    """Run the step tasks in order under one progress bar; the trace file is written even on failure."""
    from tqdm import tqdm

    started = now()
    bar = tqdm(total=len(work), unit="task", file=sys.stderr, disable=quiet or not sys.stderr.isatty(),
               dynamic_ncols=True)
    try:
        for i, task in enumerate(work, 1):
            bar.set_description(f"{task.step} {task.id}")
            status, seconds = _run_one(ctx, task, summary)
            bar.update(1)
            if bar.disable:
                _say(ctx, f"[{i}/{len(work)}] {task.step:<8} {task.id} "
                          + ("up to date" if status == "skipped" else f"done in {seconds:.1f} s"))
    finally:
        bar.close()
        _write_trace(ctx, summary.trace, started)


def _run_one(ctx: Context, task: Task, summary: RunSummary) -> tuple[str, float]:
    """Run one task; ``skipped`` when its records were left untouched (up to date). Returns (status, seconds)."""
    before = _stamps(ctx.outdir / task.outdir)
    t0 = time.perf_counter()
    try:
        EXECUTORS[task.step](ctx, task)
    except BaseException:
        summary.trace.append({"task": task.id, "step": task.step, "status": "failed",
                              "seconds": round(time.perf_counter() - t0, 2)})
        _say(ctx, f"glmprobe: task {task.id} failed; {len(summary.done)} task(s) finished and "
                  f"{len(summary.skipped)} were up to date. Their outputs are kept: rerun the same "
                  f"command to resume.")
        raise
    after = _stamps(ctx.outdir / task.outdir)
    status = "skipped" if before and before == after else "done"
    (summary.skipped if status == "skipped" else summary.done).append(task.id)
    seconds = round(time.perf_counter() - t0, 2)
    summary.trace.append({"task": task.id, "step": task.step, "status": status, "seconds": seconds})
    return status, seconds


def _track(ctx: Context, uri: str, summary: RunSummary, quiet: bool) -> None:
    """Log every record to MLflow; an unavailable store leaves ``summary.tracking_error``."""
    from glmprobe.tracking.mlflow_writer import TrackingUnavailable, track

    try:
        result = track(ctx.outdir, tracking_uri=uri, experiment=ctx.params.get("experiment", "glmprobe"),
                       progress=not quiet and sys.stderr.isatty())
        summary.tracking_error = None
        _say(ctx, result.line())
    except TrackingUnavailable as exc:
        summary.tracking_error = str(exc)


@click.command("run")
@click.argument("params_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--outdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (overrides the params file's 'outdir'; default: results).")
@click.option("--only", type=click.Choice(STEPS), default=None,
              help="Run only the tasks of this step (their inputs must already exist).")
@click.option("--dry-run", is_flag=True, help="List the tasks (and which already have a record); run nothing.")
@click.option("--force", is_flag=True, help="Redo every task even when its record is up to date.")
@click.option("--quiet", is_flag=True, help="No progress output (the final table is still printed).")
def run_command(params_file: Path, outdir: Path | None, only: str | None, dry_run: bool, force: bool,
                quiet: bool) -> None:
    """Run the benchmark described by PARAMS_FILE on this machine (resumable; see `glmprobe plan`)."""
    summary = run_pipeline(params_file, outdir, only=only, dry_run=dry_run, force=force, quiet=quiet)
    if dry_run:
        return
    params = load_params(params_file, {"outdir": outdir})
    from glmprobe.tracking.mlflow_writer import default_tracking_uri

    uri = params.get("tracking_uri") or default_tracking_uri(params.outdir)
    if summary.report is not None:
        from glmprobe.report.build import format_summary

        click.echo(format_summary(summary.report.summary))
        for v in summary.report.verdicts.values():
            click.echo(f"verdict: {v}")
        click.echo(f"Report: {summary.report.index_html}")
    if summary.tracking_error:
        click.echo(f"glmprobe: warning: {summary.tracking_error}", err=True)
        sys.exit(1)
    click.echo(f"MLflow UI: mlflow ui --backend-store-uri {uri}" if uri.startswith("sqlite")
               else f"MLflow: {uri}")
