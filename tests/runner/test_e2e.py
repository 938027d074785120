"""End to end with the real steps: a reduced demo, killed mid-way (a crash), then resumed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REDUCED = """\
synth: true
synth_small: true
datasets: synth_chip
models: {models}
heads: linear,mlp
baselines: cnn
trials: 1
replicates: 2
max_epochs: 1
pruner: none
device: cpu
"""


def _glmprobe(*args: str) -> list[str]:
    return [sys.executable, "-m", "glmprobe.cli", *args]


def _records(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("record.json")
            if not any(part in ("mlartifacts", "synth") for part in p.relative_to(out).parts)}


@pytest.mark.slow
def test_reduced_demo_killed_then_resumed(tmp_path):
    (tmp_path / "models.csv").write_text("id,source,family,layers,pooling\nonehot,onehot,onehot,all,mean\n")
    params = tmp_path / "reduced.yaml"
    params.write_text(REDUCED.format(models="models.csv"))
    out = tmp_path / "results"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    # 1. start, and kill -9 as soon as the first probe has finished (a crash, not a clean stop)
    proc = subprocess.Popen(_glmprobe("run", str(params), "--outdir", str(out)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    first = out / "probes/synth_chip/onehot/L0/mean-linear/record.json"
    deadline = time.time() + 300
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert first.exists(), proc.stdout.read().decode()[-3000:] if proc.poll() is not None else "timed out"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = _records(out)
    assert "datasets/synth_chip/record.json" in finished and len(finished) >= 3
    assert not (out / "report" / "index.html").exists()

    # 2. rerun: finished tasks are skipped (record files untouched), the rest is done
    done = subprocess.run(_glmprobe("run", str(params), "--outdir", str(out)), capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    m = re.search(r"(\d+) task\(s\) run, skipped (\d+) up to date", done.stderr)
    assert m, done.stderr[-2000:]
    assert int(m.group(2)) >= len(finished) and int(m.group(1)) >= 1
    after = _records(out)
    assert all(after[k] == v for k, v in finished.items())
    assert {"probes/synth_chip/onehot/L0/mean-mlp/record.json",
            "baselines/synth_chip/cnn/record.json"} <= set(after)

    # 3. report + tracking happened, and the terminal got the table and the UI hint
    df = pd.read_csv(out / "report" / "results.csv", dtype={"seed": str})
    test_auroc = df[(df.split == "test") & (df.metric == "auroc") & (df.target == "all")]
    assert set(test_auroc.seed) == {"0", "1", "mean"} and test_auroc.value.between(0, 1).all()
    assert "synth_chip (test_auroc" in done.stdout and "verdict: synth_chip" in done.stdout
    assert "oracle ceiling" in done.stdout
    assert f"mlflow ui --backend-store-uri sqlite:///{out.resolve()}/mlflow.db" in done.stdout
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out.resolve()}/mlflow.db")
    exp = client.get_experiment_by_name("glmprobe")
    tasks = client.search_runs([exp.experiment_id], "tags.`glmprobe.kind` = 'task'", max_results=1000)
    assert len(tasks) == len(after) + 1                 # + the synth record
