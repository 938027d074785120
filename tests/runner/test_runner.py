"""The single-machine runner: order, skip/resume after a failure, pipeline_info, track + report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from glmprobe_fakes import _write_task

from glmprobe import runner
from glmprobe.cli import cli
from glmprobe.record import make_record, read_record, write_record

SHEET = "id,format,path,task,split,target_cols\nd1,table,d1.tsv,regression,column,y\n"
MODELS = "id,source,family,layers,pooling\nonehot,onehot,onehot,all,mean;tokens\n"


class FakeSteps:
    """Stand-in step functions with the real skip rule: same cache key in record.json -> no work."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[str] = []
        self.fail_on = fail_on

    def __call__(self, ctx, task):
        self.calls.append(task.id)
        if task.id == self.fail_on:
            raise RuntimeError(f"injected failure in {task.id}")
        folder = ctx.outdir / task.outdir
        key = json.dumps(task.args, sort_keys=True, default=str)
        if (folder / "record.json").exists() and read_record(folder)["cache_key"] == key and not ctx.force:
            return
        a = task.args
        if task.step == "embed":
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "manifest.json").write_text(json.dumps({"model": {"id": a["model"], "family": "onehot",
                                                                        "random_init": False}}))
        if task.step in ("probe", "baseline"):
            import numpy as np

            tags = {"dataset": a["dataset"], "model": a.get("model"), "layer": a.get("layer"),
                    "pooling": a.get("pooling"), "head": a.get("head"), "arch": a.get("arch")}
            _write_task(folder, task.step, task.id, tags, 0.5, "regression", ["y"], "pearson",
                        np.random.default_rng(0), cache_key=key, n_trials=1)
        else:
            write_record(folder, make_record(task.step, task.id, cache_key=key, tags={"dataset": a.get("dataset")}))


@pytest.fixture
def project(tmp_path):
    (tmp_path / "datasets.csv").write_text(SHEET)
    (tmp_path / "models.csv").write_text(MODELS)
    p = tmp_path / "p.yaml"
    p.write_text("input: datasets.csv\nmodels: models.csv\nheads: linear,mlp,token_cnn\nbaselines: cnn\n")
    return p


def _mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("record.json")
            if "mlartifacts" not in p.parts}


def test_resume_after_failure_redoes_only_unfinished_tasks(project, tmp_path, monkeypatch):
    out = tmp_path / "out"
    failing = FakeSteps(fail_on="probes/d1/onehot/L0/mean-mlp")
    monkeypatch.setattr(runner, "EXECUTORS", {s: failing for s in runner.EXECUTORS})
    with pytest.raises(RuntimeError, match="injected failure"):
        runner.run_pipeline(project, out, quiet=True)
    assert failing.calls == ["datasets/d1", "embeddings/d1/onehot", "probes/d1/onehot/L0/mean-linear",
                             "probes/d1/onehot/L0/mean-mlp"]
    finished = _mtimes(out)
    assert set(finished) == {"datasets/d1/record.json", "embeddings/d1/onehot/record.json",
                             "probes/d1/onehot/L0/mean-linear/record.json"}
    trace = next((out / "pipeline_info").glob("execution_trace_*.tsv")).read_text()
    assert "probes/d1/onehot/L0/mean-mlp\tprobe\tfailed" in trace

    steps = FakeSteps()
    monkeypatch.setattr(runner, "EXECUTORS", {s: steps for s in runner.EXECUTORS})
    summary = runner.run_pipeline(project, out, quiet=True)
    assert summary.skipped == ["datasets/d1", "embeddings/d1/onehot", "probes/d1/onehot/L0/mean-linear"]
    assert summary.done == ["probes/d1/onehot/L0/mean-mlp", "probes/d1/onehot/L0/tokens-token_cnn",
                            "baselines/d1/cnn"]
    after = _mtimes(out)
    assert all(after[k] == v for k, v in finished.items())          # finished work untouched
    # then track + report ran on everything
    assert summary.tracking_error is None and summary.report is not None
    assert (out / "report" / "index.html").is_file() and (out / "mlflow.db").is_file()
    assert set(summary.report.summary["model"]) == {"onehot", "cnn"}

    # a third run with nothing new skips every task
    assert len(runner.run_pipeline(project, out, quiet=True).skipped) == 6


def test_pipeline_info_and_only_and_dry_run(project, tmp_path, monkeypatch):
    import yaml

    out = tmp_path / "out"
    steps = FakeSteps()
    monkeypatch.setattr(runner, "EXECUTORS", {s: steps for s in runner.EXECUTORS})
    res = CliRunner().invoke(cli, ["run", str(project), "--outdir", str(out), "--dry-run"])
    assert res.exit_code == 0 and "[1/8] prepare  datasets/d1" in res.output and "to run" in res.output
    assert steps.calls == [] and not out.exists()

    summary = runner.run_pipeline(project, out, only="baseline", quiet=True)
    assert steps.calls == ["baselines/d1/cnn"] and summary.report is None
    used = yaml.safe_load((out / "pipeline_info" / "params_used.yaml").read_text())
    assert used["input"] == str(project.parent / "datasets.csv") and used["trials"] == 20
    versions = yaml.safe_load((out / "pipeline_info" / "software_versions.yml").read_text())
    assert {"glmprobe", "torch", "mlflow", "python"} <= set(versions["glmprobe"])
    run_id = json.loads((out / "pipeline_info" / "pipeline_run.json").read_text())["id"]
    runner.run_pipeline(project, out, only="baseline", quiet=True)
    assert json.loads((out / "pipeline_info" / "pipeline_run.json").read_text())["id"] == run_id


def test_run_cli_prints_table_ui_hint_and_fails_when_tracking_is_down(project, tmp_path, monkeypatch):
    import socket

    out = tmp_path / "out"
    monkeypatch.setattr(runner, "EXECUTORS", {s: FakeSteps() for s in runner.EXECUTORS})
    res = CliRunner().invoke(cli, ["run", str(project), "--outdir", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "d1 (test_pearson" in res.output and "verdict: d1" in res.output
    assert f"mlflow ui --backend-store-uri sqlite:///{out.resolve()}/mlflow.db" in res.output

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    project.write_text(project.read_text() + f"tracking_uri: http://127.0.0.1:{port}\n")
    res = CliRunner().invoke(cli, ["run", str(project), "--outdir", str(out), "--quiet"])
    assert res.exit_code == 1
    assert "unreachable" in res.output and "glmprobe track" in res.output
    assert (out / "report" / "results.csv").is_file()               # results are still there
