"""TRACK as the pipeline runs it: data files referenced, never copied into MLflow, and a SQLite
store built in one folder that points at where its artifacts are published."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from glmprobe.record import make_record, write_record
from glmprobe.tracking.mlflow_writer import track


def _results(root: Path) -> Path:
    ds = root / "datasets" / "toy"
    ds.mkdir(parents=True)
    (ds / "dataset.h5").write_bytes(b"\0" * 4096)
    write_record(ds, make_record("prepare", "datasets/toy", artifacts={"dataset": "dataset.h5"}))
    emb = root / "embeddings" / "toy" / "onehot"
    emb.mkdir(parents=True)
    (emb / "store.h5").write_bytes(b"\0" * 8192)
    (emb / "manifest.json").write_text('{"layers": [0]}')
    write_record(emb, make_record("embed", "embeddings/toy/onehot",
                                  artifacts={"store": "store.h5", "manifest": "manifest.json"}))
    probe = root / "probes" / "toy" / "onehot" / "L0" / "mean-linear"
    probe.mkdir(parents=True)
    (probe / "predictions.csv").write_text("id,split,seed,target,y_true,y_pred\na,test,0,t,1.0,0.5\n")
    write_record(probe, make_record("probe", "probes/toy/onehot/L0/mean-linear", metrics={"test_pearson": 0.5},
                                    artifacts={"predictions": "predictions.csv"}))
    return root


def test_data_files_are_referenced_not_copied(tmp_path):
    results = _results(tmp_path / "results")
    summary = track(results, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", plots=False)
    assert summary.created == 3
    arts = tmp_path / "mlartifacts"
    assert not [p for p in arts.rglob("*") if p.suffix == ".h5"]
    refs = [json.loads(p.read_text()) for p in arts.rglob("references.json")]
    paths = sorted(r["path"] for ref in refs for r in ref.values())
    assert paths == ["datasets/toy/dataset.h5", "embeddings/toy/onehot/store.h5"]
    assert any(p.name == "manifest.json" for p in arts.rglob("*")), "the store's small manifest is logged"
    assert any(p.name == "predictions.csv" for p in arts.rglob("*"))


def test_store_built_here_points_at_the_published_artifacts(tmp_path):
    work, published = tmp_path / "work", tmp_path / "outdir"
    work.mkdir()
    results = _results(work / "results")
    dest = (published / "mlartifacts").resolve().as_uri()
    track(results, tracking_uri=f"sqlite:///{work / 'mlflow.db'}", plots=False, pipeline_run_id="session-1",
          artifact_destination=str(published / "mlartifacts"))
    # publish (what Nextflow's publishDir does), then the DB must work from there alone
    published.mkdir()
    shutil.copy(work / "mlflow.db", published / "mlflow.db")
    shutil.copytree(work / "mlartifacts", published / "mlartifacts")
    con = sqlite3.connect(published / "mlflow.db")
    uris = [row[0] for row in con.execute("SELECT artifact_uri FROM runs")]
    (location,) = con.execute("SELECT artifact_location FROM experiments WHERE name = 'glmprobe'").fetchone()
    con.close()
    assert location.startswith(dest) and uris and all(u.startswith(dest) for u in uris), uris
    shutil.rmtree(work)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{published / 'mlflow.db'}")
    exp = client.get_experiment_by_name("glmprobe")
    runs = client.search_runs([exp.experiment_id], "tags.`glmprobe.kind` = 'task'")
    assert {r.data.tags["glmprobe.key"] for r in runs} == {"datasets/toy", "embeddings/toy/onehot",
                                                            "probes/toy/onehot/L0/mean-linear"}
    listed = {a.path for r in runs for a in client.list_artifacts(r.info.run_id)}
    assert "record.json" in listed and "references.json" in listed
