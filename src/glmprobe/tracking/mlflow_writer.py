"""The single MLflow writer: mirror every ``record.json`` of a results folder into MLflow.

Records on disk are the source of truth; MLflow is a view of them. One process
(this one) writes, so SQLite never sees concurrent first migrations, and the
write is idempotent:

* one *parent* run per pipeline run (its id lives in ``pipeline_info/pipeline_run.json``),
* one *child* run per record (tag ``mlflow.parentRunId``), found again by the
  record's ``key``; it is left alone when the record file is byte-identical (its
  sha256 is a tag) and replaced (old run deleted, new one logged) when it changed,
  e.g. a ``--force`` rerun with the same cache key but new metrics,
* one *grandchild* run per Optuna trial (from ``trials.csv``) under its task.

A child run gets the tag ``glmprobe.complete`` only after everything (metrics,
artifacts, trials) was logged, so a crash half-way is repaired on the next call.

Data files (dataset.h5, embedding stores, the synthetic benchmark's tables: anything HDF5,
any folder holding HDF5, and every artifact of a ``prepare`` or ``synth`` record) are never
copied into MLflow: the run gets ``references.json`` (results-relative path, size, record key)
and a ``ref.<label>`` tag instead; small files (record, predictions, trials, the store's
manifest.json, model weights) are logged as artifacts.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import numbers
import os
import re
import sqlite3
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click

from glmprobe.atomic import sha256_file, write_text
from glmprobe.errors import UserError
from glmprobe.record import find_records, read_record

log = logging.getLogger(__name__)

PIPELINE_RUN_FILE = Path("pipeline_info") / "pipeline_run.json"
TAG_KIND = "glmprobe.kind"            # pipeline | task | trial
TAG_PIPELINE = "glmprobe.pipeline_run"
TAG_KEY = "glmprobe.key"
TAG_CACHE = "glmprobe.cache_key"
TAG_RECORD = "glmprobe.record_sha256"
TAG_COMPLETE = "glmprobe.complete"
PARENT_TAG = "mlflow.parentRunId"
_BAD_NAME = re.compile(r"[^/\w.\- :]")
_BATCH_PARAMS_TAGS, _BATCH_METRICS, _PARAM_MAX = 100, 1000, 6000


class TrackingUnavailable(UserError):
    """MLflow could not be reached or written; the records stay on disk."""


@dataclass
class TrackSummary:
    experiment_id: str
    parent_run_id: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    trials: int = 0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"MLflow: {self.created} new, {self.updated} updated, {self.unchanged} unchanged task runs, "
                f"{self.trials} trial runs logged")


# --------------------------------------------------------------------------- ids and URIs

def default_tracking_uri(results_dir: str | os.PathLike) -> str:
    return f"sqlite:///{Path(results_dir).resolve() / 'mlflow.db'}"


def artifact_root(tracking_uri: str, results_dir: str | os.PathLike) -> Path:
    """Where a non-HTTP store keeps artifacts: beside the SQLite DB (never a Nextflow work dir)."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///"):]).parent / "mlartifacts"
    return Path(results_dir).resolve() / "mlartifacts"


def pipeline_run(results_dir: str | os.PathLike, *, create: bool = True) -> dict:
    """The pipeline run identity kept in ``pipeline_info/pipeline_run.json`` (created once).

    A resumed ``glmprobe run`` (or Nextflow ``-resume``) into the same folder is the
    same pipeline run, so it logs into the same parent run.
    """
    path = Path(results_dir) / PIPELINE_RUN_FILE
    if path.exists():
        try:
            info = json.loads(path.read_text())
            if info.get("id"):
                return info
        except json.JSONDecodeError as exc:
            raise UserError(f"not valid JSON ({exc})", path=path,
                            hint="Delete the file to start a new pipeline run id") from exc
    if not create:
        return {}
    info = {"id": uuid.uuid4().hex, "name": f"{Path(results_dir).resolve().name}-{_dt.date.today().isoformat()}",
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    write_text(path, json.dumps(info, indent=2) + "\n")
    return info


def _ms(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(_dt.datetime.fromisoformat(str(iso)).timestamp() * 1000)
    except ValueError:
        return None


def _name(key: str) -> str:
    """A legal MLflow param/metric name."""
    return _BAD_NAME.sub("_", str(key))


# --------------------------------------------------------------------------- store set-up

def _check_http(uri: str) -> None:
    """Fail fast (seconds, not MLflow's minutes of retries) when a server is down."""
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=10).raise_for_status()
    except requests.RequestException as exc:
        raise TrackingUnavailable(f"MLflow server {uri} is unreachable ({type(exc).__name__})") from exc


def open_store(tracking_uri: str, experiment: str, artifact_root: str | os.PathLike | None):
    """Create/upgrade the tracking DB once and return ``(client, experiment_id)``.

    Call this before any fan-out: concurrent first migrations break SQLite stores.
    ``artifact_root`` (local folder) is used when the experiment is created with a
    non-HTTP store, so artifacts never land in the caller's working directory.
    """
    from mlflow import MlflowClient
    from mlflow.entities import LifecycleStage

    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")   # a dying server should not hang us for minutes
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    if tracking_uri.startswith(("http://", "https://")):
        _check_http(tracking_uri)
    elif tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):])
        if not db.parent.is_dir():
            raise TrackingUnavailable("folder of the MLflow database does not exist", path=db.parent)
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        exp = client.get_experiment_by_name(experiment)   # runs the schema migration on a fresh DB
        if exp is None:
            location = None
            if artifact_root is not None and not tracking_uri.startswith(("http://", "https://")):
                Path(artifact_root).mkdir(parents=True, exist_ok=True)
                location = Path(artifact_root).resolve().as_uri()
            exp_id = client.create_experiment(experiment, artifact_location=location)
        else:
            exp_id = exp.experiment_id
            if exp.lifecycle_stage == LifecycleStage.DELETED:
                client.restore_experiment(exp_id)
    except TrackingUnavailable:
        raise
    except Exception as exc:  # any backend failure: the records are safe, say so
        raise TrackingUnavailable(f"cannot open MLflow store {tracking_uri} ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    return client, exp_id


# --------------------------------------------------------------------------- the writer

def _search_all(client, exp_id: str, filter_string: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([exp_id], filter_string=filter_string, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _flat(prefix: str, obj) -> dict:
    """Flatten nested params (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flat(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: obj}


def _log_batch(client, run_id: str, *, metrics: dict | None = None, params: dict | None = None,
               tags: dict | None = None, timestamp: int = 0, step_metrics: list | None = None) -> None:
    from mlflow.entities import Metric, Param, RunTag

    ms = [Metric(_name(k), float(v), timestamp, 0) for k, v in (metrics or {}).items()
          if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    ms += [Metric(_name(k), float(v), timestamp, int(step)) for k, v, step in (step_metrics or [])
           if isinstance(v, (int, float)) and math.isfinite(v)]
    ps = [Param(_name(k), str(v)[:_PARAM_MAX]) for k, v in (params or {}).items() if v is not None and k]
    ts = [RunTag(k, str(v)[:_PARAM_MAX]) for k, v in (tags or {}).items() if v is not None]
    # as few calls as possible: every call is one SQLite commit (an fsync)
    while ms or ps or ts:
        p_, t_ = ps[:_BATCH_PARAMS_TAGS], ts[:_BATCH_PARAMS_TAGS]
        m_ = ms[:_BATCH_METRICS - len(p_) - len(t_)]
        client.log_batch(run_id, metrics=m_, params=p_, tags=t_)
        ms, ps, ts = ms[len(m_):], ps[len(p_):], ts[len(t_):]


def run_name(record: dict) -> str:
    """Readable run name, e.g. ``tinyglm_L2_enhancers_mean-mlp`` or ``enhancers_resnet``."""
    t = record.get("tags", {})
    step = record.get("step", "")
    if step == "probe":
        parts = [t.get("model"), f"L{t.get('layer')}", t.get("dataset"), f"{t.get('pooling')}-{t.get('head')}"]
    elif step == "baseline":
        parts = [t.get("dataset"), t.get("arch") or t.get("head")]
    elif step == "embed":
        parts = ["embed", t.get("model"), t.get("dataset")]
    else:
        parts = [step, t.get("dataset") or t.get("model")]
    parts = [str(p) for p in parts if p not in (None, "", "LNone", "None-None")]
    return "_".join(parts) or record.get("key", "task")


def _record_params(record: dict) -> dict:
    params = _flat("", record.get("params", {}))
    tags = record.get("tags", {})
    for k in ("dataset", "model", "revision", "layer", "pooling", "head", "arch", "task", "family", "random_init"):
        if tags.get(k) is not None and k not in params:
            params[k] = tags[k]
    for split, n in (record.get("n") or {}).items():
        params[f"n_{split}"] = n
    seeds = [r.get("seed") for r in record.get("replicates", []) if r.get("seed") is not None]
    if seeds:
        params.setdefault("seeds", ",".join(str(s) for s in seeds))
    return params


def _record_metrics(record: dict) -> tuple[dict, list]:
    metrics = dict(record.get("metrics") or {})
    for k, ci in (record.get("ci") or {}).items():
        if isinstance(ci, (list, tuple)) and len(ci) == 2:
            metrics[f"{k}_ci_low"], metrics[f"{k}_ci_high"] = ci
    if record.get("duration_s") is not None:
        metrics["duration_s"] = record["duration_s"]
    # each replicate as one step of a "replicate/<metric>" series (step = seed)
    steps = [(f"replicate/{k}", v, rep.get("seed", i)) for i, rep in enumerate(record.get("replicates", []))
             for k, v in (rep.get("metrics") or {}).items() if "/" not in k]
    # per-epoch training curves of every neural fit: "epoch/<key>/seed<S>" with step = epoch
    steps += [(f"epoch/{k}/seed{rep.get('seed', i)}", v, row["epoch"])
              for i, rep in enumerate(record.get("replicates", [])) for row in rep.get("history") or []
              for k, v in row.items() if k not in ("epoch", "seconds") and v is not None]
    return metrics, steps


def _trial_fields(row, columns) -> tuple[dict, dict, dict]:
    """(params, metrics, tags) of one trials.csv row.

    Reads glmprobe's table (number, state, value, duration_s, best_epoch, enqueued, params as JSON)
    and Optuna's ``trials_dataframe()`` (params_*, user_attrs_*, datetime_*) alike.
    """
    import numpy as np
    import pandas as pd

    params = {c[len("params_"):]: row[c] for c in columns if c.startswith("params_") and not pd.isna(row[c])}
    if "params" in columns and isinstance(row["params"], str) and row["params"].strip():
        try:
            params.update(json.loads(row["params"]))
        except json.JSONDecodeError:
            params["params"] = row["params"]
    metrics = {"trial_value": row.get("value")}
    for c in ("duration_s", "best_epoch"):
        if c in columns:
            metrics[c] = row[c]
    metrics.update({c[len("user_attrs_"):]: row[c] for c in columns if c.startswith("user_attrs_")})
    metrics = {k: float(v) for k, v in metrics.items()   # numpy scalars included; booleans are not metrics
               if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and not pd.isna(v)}
    tags = {"trial_state": str(row.get("state", "COMPLETE"))}
    if "enqueued" in columns:
        tags["trial_enqueued"] = str(row["enqueued"]).lower()   # true = the study's own settings
    return params, metrics, tags


def _log_trials(client, exp_id: str, task_run_id: str, task_name: str, trials_csv: Path, tags: dict) -> int:
    import pandas as pd

    try:
        df = pd.read_csv(trials_csv)
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read trials table (%s); trials not logged", trials_csv, exc)
        return 0
    status = {"COMPLETE": "FINISHED", "FIXED": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
    for i, row in df.iterrows():
        number = int(row["number"]) if "number" in df and not pd.isna(row["number"]) else i
        start, end = _ms(row.get("datetime_start")), _ms(row.get("datetime_complete"))
        params, metrics, ttags = _trial_fields(row, df.columns)
        run = client.create_run(exp_id, start_time=start, run_name=f"{task_name}_trial{number}",
                                tags={**tags, **ttags, PARENT_TAG: task_run_id, TAG_KIND: "trial"})
        _log_batch(client, run.info.run_id, params={**params, "trial": number}, metrics=metrics,
                   timestamp=end or start or 0)
        client.set_terminated(run.info.run_id, status=status.get(ttags["trial_state"], "FAILED"), end_time=end)
    return len(df)


def _delete_task_run(client, exp_id: str, run_id: str) -> None:
    for child in _search_all(client, exp_id, f"tags.`{PARENT_TAG}` = '{run_id}'"):
        client.delete_run(child.info.run_id)
    client.delete_run(run_id)


DATA_STEPS = {"prepare", "synth"}          # every artifact of these records is data
DATA_LABELS = {"dataset", "store"}         # record artifact labels that name data files
DATA_SUFFIXES = {".h5", ".hdf5"}


def _is_data(record: dict, label: str, art: Path) -> bool:
    """True for data files that MLflow gets a reference to, never a copy."""
    if record.get("step") in DATA_STEPS or label in DATA_LABELS or art.suffix.lower() in DATA_SUFFIXES:
        return True
    return art.is_dir() and any(p.suffix.lower() in DATA_SUFFIXES for p in art.rglob("*"))


def _reference(art: Path, results_dir: Path | None, record: dict) -> dict:
    try:
        rel = str(art.relative_to(results_dir)) if results_dir is not None else str(art)
    except ValueError:
        rel = str(art)
    size = sum(p.stat().st_size for p in art.rglob("*") if p.is_file()) if art.is_dir() else art.stat().st_size
    return {"path": rel, "bytes": size, "record": str(record.get("key") or "")}


def _log_task(client, exp_id: str, parent_id: str, pipeline_id: str, path: Path, record: dict,
              *, plots: bool, results_dir: Path | None = None) -> int:
    """Log one record as a child run (+ its trials). Returns the number of trial runs."""
    folder = path.parent
    name = run_name(record)
    rtags = {str(k): v for k, v in (record.get("tags") or {}).items() if v is not None}
    tags = {**rtags, PARENT_TAG: parent_id, TAG_KIND: "task", TAG_PIPELINE: pipeline_id,
            TAG_KEY: record.get("key"), TAG_CACHE: record.get("cache_key"), TAG_RECORD: sha256_file(path),
            "step": record.get("step")}
    run = client.create_run(exp_id, start_time=_ms(record.get("started")) or _ms(record.get("finished")),
                            run_name=name, tags=tags)
    rid = run.info.run_id
    metrics, steps = _record_metrics(record)
    _log_batch(client, rid, metrics=metrics, step_metrics=steps, params=_record_params(record),
               tags={f"version.{k}": v for k, v in (record.get("versions") or {}).items()},
               timestamp=_ms(record.get("finished")) or 0)
    client.log_artifact(rid, str(path))
    references = {}
    for label, rel in (record.get("artifacts") or {}).items():
        for item in (rel if isinstance(rel, list) else [rel]):
            art = folder / str(item)
            if art.exists() and _is_data(record, label, art):
                references[label if not isinstance(rel, list) else f"{label}.{art.name}"] = _reference(
                    art, results_dir, record)
            elif art.is_dir():
                client.log_artifacts(rid, str(art), artifact_path=art.name)
            elif art.is_file():
                client.log_artifact(rid, str(art))
            else:
                log.warning("%s: artifact '%s' (%s) listed in the record is missing", path, item, label)
    if references:
        client.log_text(rid, json.dumps(references, indent=2, sort_keys=True), "references.json")
        _log_batch(client, rid, tags={f"ref.{k}": v["path"] for k, v in references.items()})
    preds = folder / "predictions.csv"
    if plots and preds.is_file():
        from glmprobe.report.figures import prediction_plot

        try:
            png = prediction_plot(preds, record.get("tags", {}).get("task"), folder / ".mlflow_plot.png", title=name)
            client.log_artifact(rid, str(png), artifact_path="plots")
            png.unlink()
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s: prediction plot skipped (%s)", preds, exc)
    n_trials = 0
    trials = folder / str((record.get("artifacts") or {}).get("trials", "trials.csv"))
    if trials.is_file():
        n_trials = _log_trials(client, exp_id, rid, name, trials,
                               {TAG_PIPELINE: pipeline_id, TAG_KEY: record.get("key")})
    client.set_tag(rid, TAG_COMPLETE, "true")
    client.set_terminated(rid, "FINISHED", end_time=_ms(record.get("finished")))
    return n_trials


def _parent_run(client, exp_id: str, results_dir: Path, info: dict, run_name_: str | None) -> str:
    found = _search_all(client, exp_id, f"tags.`{TAG_PIPELINE}` = '{info['id']}' and tags.`{TAG_KIND}` = 'pipeline'")
    if found:
        rid = found[0].info.run_id
        if run_name_ and found[0].info.run_name != run_name_:
            client.set_tag(rid, "mlflow.runName", run_name_)
        return rid
    run = client.create_run(exp_id, start_time=_ms(info.get("created")), run_name=run_name_ or info.get("name"),
                            tags={TAG_KIND: "pipeline", TAG_PIPELINE: info["id"],
                                  "results_dir": str(results_dir.resolve())})
    params_used = results_dir / "pipeline_info" / "params_used.yaml"
    if params_used.is_file():
        import yaml

        try:
            _log_batch(client, run.info.run_id, params=_flat("", yaml.safe_load(params_used.read_text()) or {}))
        except yaml.YAMLError as exc:
            log.warning("%s: not logged as params (%s)", params_used, exc)
    return run.info.run_id


def _log_pipeline_artifacts(client, parent_id: str, results_dir: Path) -> None:
    """The report and pipeline_info go on the parent run (re-logged each time: files are overwritten)."""
    for sub in ("report", "pipeline_info"):
        folder = results_dir / sub
        if folder.is_dir():
            client.log_artifacts(parent_id, str(folder), artifact_path=sub)


def _as_uri(location: str | os.PathLike) -> str:
    text = str(location)
    return text if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) else Path(text).resolve().as_uri()


def relocate_artifacts(tracking_uri: str, old: str, new: str) -> int:
    """Rewrite artifact locations starting with ``old`` to start with ``new`` in a SQLite store.

    For a store built in one place and published to another (a Nextflow task's work dir ->
    ``--outdir``, possibly ``s3://``): the DB then points at where the artifacts will live.
    Returns the number of rows changed.
    """
    if not tracking_uri.startswith("sqlite:///") or old == new:
        return 0
    con = sqlite3.connect(tracking_uri[len("sqlite:///"):])
    changed = 0
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, col in (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                           ("logged_models", "artifact_location")):
            if table in tables:
                cur = con.execute(f"UPDATE {table} SET {col} = ? || substr({col}, ?) WHERE substr({col}, 1, ?) = ?",
                                  (new, len(old) + 1, len(old), old))
                changed += cur.rowcount
        con.commit()
    finally:
        con.close()
    return changed


def track(results_dir: str | os.PathLike, *, tracking_uri: str | None = None, experiment: str = "glmprobe",
          run_name_: str | None = None, pipeline_run_id: str | None = None, plots: bool = True,
          progress: bool = False, artifact_destination: str | None = None) -> TrackSummary:
    """Log every record under ``results_dir`` to MLflow, idempotently. See the module docstring.

    ``artifact_destination``: where the artifacts folder beside a SQLite DB will live once the
    DB and the folder are published elsewhere; artifacts are written locally, and the DB's
    artifact locations are rewritten to the destination when logging is done.
    """
    from tqdm import tqdm

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError("results folder does not exist", path=results_dir,
                        hint="Pass the --outdir of a glmprobe run / Nextflow pipeline")
    uri = tracking_uri or default_tracking_uri(results_dir)
    # Nextflow passes a stable id (its work dir has no pipeline_info/); glmprobe run keeps one on disk
    info = {"id": pipeline_run_id, "name": run_name_ or pipeline_run_id} if pipeline_run_id else pipeline_run(results_dir)
    hint = f"Records are safe on disk; log them later with: glmprobe track {results_dir} --tracking-uri {uri}"
    local_root = _as_uri(artifact_root(uri, results_dir))
    dest_root = _as_uri(artifact_destination) if artifact_destination else None
    if dest_root and uri.startswith("sqlite:///") and Path(uri[len("sqlite:///"):]).is_file():
        relocate_artifacts(uri, dest_root, local_root)   # a published DB brought back to log more
    try:
        client, exp_id = open_store(uri, experiment, artifact_root(uri, results_dir))
    except TrackingUnavailable as exc:
        raise TrackingUnavailable(str(exc).rstrip("."), hint=hint) from exc
    try:
        parent = _parent_run(client, exp_id, results_dir, info, run_name_)
        summary = TrackSummary(experiment_id=exp_id, parent_run_id=parent)
        existing = {}
        for r in _search_all(client, exp_id, f"tags.`{TAG_PIPELINE}` = '{info['id']}' and tags.`{TAG_KIND}` = 'task'"):
            existing.setdefault(r.data.tags.get(TAG_KEY), []).append(r)
        paths = [p for p in find_records(results_dir) if not p.relative_to(results_dir).parts[0].startswith("mlartifacts")]
        for path in tqdm(paths, desc="track", unit="record", disable=not progress, file=sys.stderr):
            try:
                record = read_record(path)
            except (OSError, json.JSONDecodeError) as exc:
                summary.warnings.append(f"{path}: unreadable record skipped ({exc})")
                continue
            key = record.get("key") or str(path.parent.relative_to(results_dir))
            record["key"] = key
            runs = existing.get(key, [])
            digest = sha256_file(path)
            same = [r for r in runs if r.data.tags.get(TAG_RECORD) == digest
                    and r.data.tags.get(TAG_COMPLETE) == "true"]
            if same and len(runs) == 1:
                summary.unchanged += 1
                continue
            for r in runs:   # changed, half-logged or duplicated: replace
                _delete_task_run(client, exp_id, r.info.run_id)
            summary.trials += _log_task(client, exp_id, parent, info["id"], path, record, plots=plots,
                                        results_dir=results_dir)
            if runs:
                summary.updated += 1
            else:
                summary.created += 1
        _log_pipeline_artifacts(client, parent, results_dir)
        client.set_terminated(parent, "FINISHED")
        if dest_root:
            relocate_artifacts(uri, local_root, dest_root)
    except UserError:
        raise
    except Exception as exc:
        raise TrackingUnavailable(f"logging to MLflow {uri} failed ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''})", hint=hint) from exc
    return summary


@click.command("track")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tracking-uri", default=None, metavar="URI",
              help="MLflow tracking URI (sqlite:///… or http://host:port). Default: sqlite:///<RESULTS_DIR>/mlflow.db.")
@click.option("--experiment", default="glmprobe", show_default=True, help="MLflow experiment name.")
@click.option("--run-name", default=None, help="Name of the parent (pipeline) run. Default: <folder>-<date>.")
@click.option("--pipeline-run-id", default=None, metavar="ID",
              help="Id of the pipeline run (parent run). Default: kept in RESULTS_DIR/pipeline_info/pipeline_run.json.")
@click.option("--plots/--no-plots", default=True, show_default=True,
              help="Log a predicted-vs-true plot with each task run.")
@click.option("--artifact-destination", default=None, metavar="URI",
              help="Where the mlartifacts folder beside a sqlite DB will be published (path or URI, e.g. "
                   "s3://bucket/results/mlartifacts): artifacts are written beside the DB, then the DB's "
                   "artifact locations are rewritten to this. Used by the Nextflow TRACK process.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def track_command(results_dir: Path, tracking_uri: str | None, experiment: str, run_name: str | None,
                  pipeline_run_id: str | None, plots: bool, quiet: bool, artifact_destination: str | None) -> None:
    """Log every record.json under RESULTS_DIR to MLflow (idempotent; safe to replay)."""
    uri = tracking_uri or default_tracking_uri(results_dir)
    summary = track(results_dir, tracking_uri=uri, experiment=experiment, run_name_=run_name,
                    pipeline_run_id=pipeline_run_id, plots=plots, progress=not quiet and sys.stderr.isatty(),
                    artifact_destination=artifact_destination)
    for w in summary.warnings:
        click.echo(f"glmprobe: warning: {w}", err=True)
    click.echo(summary.line())
    click.echo(f"Open the UI with: mlflow ui --backend-store-uri {uri}" if uri.startswith("sqlite")
               else f"Open {uri}")
