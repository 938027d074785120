"""The single MLflow writer: idempotent replay, nesting, updates, and an unreachable server."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from glmprobe_fakes import make_results

from glmprobe.cli import cli
from glmprobe.record import find_records, read_record, write_record
from glmprobe.tracking import mlflow_writer as mw

SMALL = {"models": {"tiny": ("hf-mlm", False, [1, 2]), "onehot": ("onehot", False, [0])},
         "datasets": {"ds_reg": ("regression", ["a", "b"], "pearson")}, "baselines": ("cnn",)}


def _records(root: Path) -> list[Path]:
    """Records of the tree (the copies logged under mlartifacts/ are not tasks)."""
    return [p for p in find_records(root) if "mlartifacts" not in p.relative_to(root).parts]


def _runs(uri: str, kind: str | None = None, deleted: bool = False):
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("glmprobe")
    flt = f"tags.`glmprobe.kind` = '{kind}'" if kind else ""
    return client.search_runs([exp.experiment_id], flt, run_view_type=ViewType.ALL if deleted else ViewType.ACTIVE_ONLY,
                              max_results=5000)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A small results tree tracked once; returns (results dir, uri, first summary)."""
    root = make_results(tmp_path_factory.mktemp("results"), **SMALL)
    uri = mw.default_tracking_uri(root)
    first = mw.track(root, tracking_uri=uri)
    return root, uri, first


def test_first_track_logs_every_record_once(tracked):
    root, uri, first = tracked
    n_records = len(_records(root))
    assert first.created == n_records and first.updated == 0 and first.unchanged == 0
    tasks = _runs(uri, "task")
    assert len(tasks) == n_records
    assert {r.data.tags["glmprobe.key"] for r in tasks} == {read_record(p)["key"] for p in _records(root)}
    # every probe/baseline record has 2 trials in its trials.csv
    n_trial_tables = len([p for p in root.rglob("trials.csv") if "mlartifacts" not in p.parts])
    assert first.trials == 2 * n_trial_tables == len(_runs(uri, "trial"))
    assert (root / "mlflow.db").is_file() and (root / "mlartifacts").is_dir()


def test_replay_is_idempotent(tracked):
    root, uri, _ = tracked
    before = len(_runs(uri))
    again = mw.track(root, tracking_uri=uri)
    assert again.created == again.updated == again.trials == 0
    assert again.unchanged == len(_records(root))
    assert len(_runs(uri)) == before
    assert len(_runs(uri, "pipeline")) == 1


def test_parent_child_trial_nesting(tracked):
    root, uri, first = tracked
    (parent,) = _runs(uri, "pipeline")
    assert parent.info.run_id == first.parent_run_id
    info = json.loads((root / "pipeline_info" / "pipeline_run.json").read_text())
    assert parent.data.tags["glmprobe.pipeline_run"] == info["id"]
    tasks = {r.info.run_id: r for r in _runs(uri, "task")}
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in tasks.values())
    trials = _runs(uri, "trial")
    assert trials and all(t.data.tags["mlflow.parentRunId"] in tasks for t in trials)
    # a trial sits under the task whose trials.csv it came from and carries its hyperparameters
    t = trials[0]
    task = tasks[t.data.tags["mlflow.parentRunId"]]
    assert t.data.tags["glmprobe.key"] == task.data.tags["glmprobe.key"]
    assert {"lr", "batch_size", "trial"} <= set(t.data.params)
    states = {r.data.tags["trial_state"]: r.info.status for r in trials}
    assert states == {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}


def test_task_run_content_matches_record(tracked):
    from mlflow import MlflowClient

    root, uri, _ = tracked
    run = next(r for r in _runs(uri, "task") if r.data.tags["glmprobe.key"] == "probe/ds_reg/tiny/L2/mean-mlp")
    rec = read_record(root / "probes/ds_reg/tiny/L2/mean-mlp")
    assert run.data.metrics["test_pearson"] == pytest.approx(rec["metrics"]["test_pearson"])
    assert run.data.metrics["test_pearson/a"] == pytest.approx(rec["metrics"]["test_pearson/a"])
    assert run.data.params["model"] == "tiny" and run.data.params["layer"] == "2"
    assert run.data.params["pooling"] == "mean" and run.data.params["head"] == "mlp"
    assert run.data.params["seeds"] == "0,1,2" and run.data.params["n_test"] == "20"
    assert run.data.tags["dataset"] == "ds_reg" and run.data.tags["glmprobe.cache_key"] == "ck1"
    assert run.info.run_name == "tiny_L2_ds_reg_mean-mlp"
    # one point per replicate seed
    history = MlflowClient(uri).get_metric_history(run.info.run_id, "replicate/test_pearson")
    assert sorted(m.step for m in history) == [0, 1, 2]
    arts = {a.path for a in MlflowClient(uri).list_artifacts(run.info.run_id)}
    assert {"record.json", "predictions.csv", "trials.csv", "model_seed0.safetensors", "plots"} <= arts


def test_changed_record_replaces_its_run(tmp_path):
    root = make_results(tmp_path / "res", models={"tiny": ("hf-mlm", False, [1])},
                        datasets={"ds_reg": ("regression", ["a"], "pearson")}, baselines=())
    uri = mw.default_tracking_uri(root)
    mw.track(root, tracking_uri=uri, plots=False)
    n_active = len(_runs(uri))
    folder = root / "probes/ds_reg/tiny/L1/mean-linear"
    rec = read_record(folder)
    rec["cache_key"], rec["metrics"]["test_pearson"] = "ck2", 0.99
    write_record(folder, rec)
    s = mw.track(root, tracking_uri=uri, plots=False)
    assert (s.created, s.updated, s.unchanged) == (0, 1, len(_records(root)) - 1)
    assert len(_runs(uri)) == n_active                     # replaced, not added
    (run,) = [r for r in _runs(uri, "task") if r.data.tags["glmprobe.key"] == rec["key"]]
    assert run.data.tags["glmprobe.cache_key"] == "ck2" and run.data.metrics["test_pearson"] == 0.99
    deleted = [r for r in _runs(uri, "task", deleted=True) if r.info.lifecycle_stage == "deleted"]
    assert [r.data.tags["glmprobe.cache_key"] for r in deleted] == ["ck1"]
    # a half-logged run (no completion tag, e.g. killed mid-way) is redone on the next call
    from mlflow import MlflowClient

    MlflowClient(uri).delete_tag(run.info.run_id, "glmprobe.complete")
    assert mw.track(root, tracking_uri=uri, plots=False).updated == 1
    # a --force rerun keeps the cache key but changes the metrics: MLflow must follow the record
    rec["metrics"]["test_pearson"] = 0.5
    write_record(folder, rec)
    assert mw.track(root, tracking_uri=uri, plots=False).updated == 1
    (run,) = [r for r in _runs(uri, "task") if r.data.tags["glmprobe.key"] == rec["key"]]
    assert run.data.tags["glmprobe.cache_key"] == "ck2" and run.data.metrics["test_pearson"] == 0.5
    assert mw.track(root, tracking_uri=uri, plots=False).updated == 0   # and stays idempotent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "pipeline_info" not in p.parts:
            h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


def test_unreachable_server_keeps_records_and_fails(tmp_path):
    root = make_results(tmp_path / "res", models={"onehot": ("onehot", False, [0])},
                        datasets={"ds_bin": ("binary", ["y"], "auroc")}, baselines=())
    before = _digest(root)
    uri = f"http://127.0.0.1:{_free_port()}"
    result = CliRunner().invoke(cli, ["track", str(root), "--tracking-uri", uri], standalone_mode=False)
    assert isinstance(result.exception, mw.TrackingUnavailable)
    msg = str(result.exception)
    assert "unreachable" in msg and f"glmprobe track {root} --tracking-uri {uri}" in msg
    assert _digest(root) == before                      # records untouched
    assert not (root / "mlflow.db").exists()


def test_cli_unreachable_exit_code(tmp_path):
    import subprocess
    import sys

    root = make_results(tmp_path / "res", models={"onehot": ("onehot", False, [0])},
                        datasets={"ds_bin": ("binary", ["y"], "auroc")}, baselines=())
    uri = f"http://127.0.0.1:{_free_port()}"
    proc = subprocess.run([sys.executable, "-m", "glmprobe.cli", "track", str(root), "--tracking-uri", uri],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("glmprobe: error:") and "Traceback" not in proc.stderr
    assert "log them later" in proc.stderr


def test_missing_results_dir_is_a_user_error(tmp_path):
    result = CliRunner().invoke(cli, ["track", str(tmp_path / "nope")], standalone_mode=False)
    assert "results folder does not exist" in str(result.exception)


def test_trial_fields_read_glmprobe_and_optuna_tables():
    import pandas as pd

    ours = pd.DataFrame([{"number": 0, "state": "COMPLETE", "value": 0.3, "duration_s": 2.0, "best_epoch": 4,
                          "enqueued": True, "params": '{"lr": 0.001, "width": 2}'}])
    params, metrics, tags = mw._trial_fields(ours.iloc[0], ours.columns)
    assert params == {"lr": 0.001, "width": 2}
    assert metrics == {"trial_value": 0.3, "duration_s": 2.0, "best_epoch": 4.0}
    assert tags == {"trial_state": "COMPLETE", "trial_enqueued": "true"}
    optuna = pd.DataFrame([{"number": 1, "value": 0.5, "params_lr": 0.01, "user_attrs_best_epoch": 7,
                            "state": "PRUNED", "datetime_start": "2025-01-01 00:00:00"}])
    params, metrics, tags = mw._trial_fields(optuna.iloc[0], optuna.columns)
    assert params == {"lr": 0.01} and metrics == {"trial_value": 0.5, "best_epoch": 7.0}
    assert tags == {"trial_state": "PRUNED"}


def test_staged_tree_with_explicit_pipeline_id_logs_artifacts_beside_the_db(tmp_path):
    """Nextflow: records staged under part<N>/ in a work dir, DB elsewhere, parent id passed in."""
    import shutil

    src = make_results(tmp_path / "published", models={"onehot": ("onehot", False, [0])},
                       datasets={"ds_bin": ("binary", ["y"], "auroc")}, baselines=())
    work = tmp_path / "work"
    for i, rec in enumerate(_records(src)):
        shutil.copytree(rec.parent, work / f"part{i}")
    store = tmp_path / "outdir"
    store.mkdir()
    uri = f"sqlite:///{store}/mlflow.db"
    s1 = mw.track(work, tracking_uri=uri, pipeline_run_id="nf-session-1", plots=False)
    assert s1.created == len(_records(src)) and not (work / "pipeline_info").exists()
    assert (store / "mlartifacts").is_dir() and not (work / "mlartifacts").exists()
    s2 = mw.track(work, tracking_uri=uri, pipeline_run_id="nf-session-1", plots=False)
    assert s2.unchanged == s1.created and s2.parent_run_id == s1.parent_run_id
