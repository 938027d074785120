"""Small fake results trees (records, manifests, predictions, trials) for tracking/report/runner tests.

They follow docs/CONTRACTS.md exactly, so the writer and the report are tested on
the same files the real steps leave behind, without training anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from glmprobe.record import make_record, write_record

MODELS = {  # id: (family, random_init, layers)
    "tiny": ("hf-mlm", False, [1, 2, 3]),
    "tiny-random": ("hf-mlm", True, [1, 2, 3]),
    "onehot": ("onehot", False, [0]),
}
DATASETS = {"ds_reg": ("regression", ["a", "b"], "pearson"), "ds_bin": ("binary", ["y"], "auroc")}
SEEDS = (0, 1, 2)


def _quality(model: str, layer: int, head: str) -> float:
    """A made-up but structured score: middle layers best, pre-trained > random, mlp > linear."""
    base = {"tiny": 0.55, "tiny-random": 0.35, "onehot": 0.45}.get(model, 0.6)
    return base - 0.04 * abs(layer - 2) + {"linear": 0.0, "mlp": 0.03, "token_cnn": 0.06}.get(head, 0.0)


def _write_task(folder: Path, step: str, key: str, tags: dict, mean: float, task: str, targets: list[str],
                metric: str, rng: np.random.Generator, cache_key: str = "ck1", n_trials: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    reps = []
    for seed in SEEDS:
        m = {}
        for split, shift in (("valid", 0.01), ("test", 0.0)):
            per = {t: float(mean + shift + rng.normal(0, 0.01)) for t in targets}
            m[f"{split}_{metric}"] = float(np.mean(list(per.values())))
            m.update({f"{split}_{metric}/{t}": v for t, v in per.items()})
        reps.append({"seed": seed, "metrics": m})
    metrics = {k: float(np.mean([r["metrics"][k] for r in reps])) for k in reps[0]["metrics"]}
    rows = ["id,split,seed,target,y_true,y_pred"]
    for seed in SEEDS:      # one shared test set: y_true depends on the sequence only; better models, less noise
        for i in range(40):
            for j, t in enumerate(targets):
                y = float(i % 2) if task == "binary" else float(np.sin(1.7 * i + j))
                pred = y + rng.normal(0, 2.0 * (1.0 - mean))
                if task == "binary":
                    pred = 1.0 / (1.0 + np.exp(-4.0 * (pred - 0.5)))
                rows.append(f"s{i},test,{seed},{t},{y},{pred:.4f}")
    (folder / "predictions.csv").write_text("\n".join(rows) + "\n")
    # glmprobe's trials table (glmprobe.train.tune): params as one JSON column
    trials = ["number,state,value,duration_s,best_epoch,enqueued,params"]
    for i in range(n_trials):
        state = "COMPLETE" if i < n_trials - 1 else "PRUNED"
        hp = json.dumps({"lr": 10 ** -(3 + i), "batch_size": 128}).replace('"', '""')
        trials.append(f'{i},{state},{0.5 - 0.1 * i},{1.0 + i},{3 + i},{str(i == 0)},"{hp}"')
    (folder / "trials.csv").write_text("\n".join(trials) + "\n")
    (folder / "model_seed0.safetensors").write_bytes(b"fake")
    rec = make_record(step, key, cache_key=cache_key, tags={**tags, "task": task},
                      params={"lr": 1e-3, "batch_size": 128}, metrics=metrics, replicates=reps,
                      n={"train": 160, "valid": 20, "test": 20},
                      artifacts={"predictions": "predictions.csv", "trials": "trials.csv",
                                 "model": "model_seed0.safetensors"},
                      started="2025-01-01T00:00:00+00:00", duration_s=1.5)
    return write_record(folder, rec)


def make_results(root: Path, *, models=MODELS, datasets=DATASETS, baselines=("cnn", "resnet"),
                 seed: int = 0) -> Path:
    """Write a results tree: manifests + probe records for every model, baseline records."""
    rng = np.random.default_rng(seed)
    for ds, (task, targets, metric) in datasets.items():
        for mid, (family, rand, layers) in models.items():
            store = root / "embeddings" / ds / mid
            store.mkdir(parents=True, exist_ok=True)
            (store / "manifest.json").write_text(json.dumps({"cache_key": "e1", "model": {
                "id": mid, "source": "onehot" if family == "onehot" else "/models/tiny", "family": family,
                "revision": None, "random_init": rand}, "layers": layers, "complete": True}))
            write_record(store, make_record("embed", f"embed/{ds}/{mid}", cache_key="e1",
                                            tags={"dataset": ds, "model": mid}))
            for layer in layers:
                for pooling, head in (("mean", "linear"), ("mean", "mlp"), ("tokens", "token_cnn")):
                    key = f"probe/{ds}/{mid}/L{layer}/{pooling}-{head}"
                    _write_task(root / "probes" / ds / mid / f"L{layer}" / f"{pooling}-{head}", "probe", key,
                                {"dataset": ds, "model": mid, "layer": layer, "pooling": pooling, "head": head},
                                _quality(mid, layer, head), task, targets, metric, rng)
        for arch in baselines:
            _write_task(root / "baselines" / ds / arch, "baseline", f"baseline/{ds}/{arch}",
                        {"dataset": ds, "arch": arch}, 0.62 if arch == "resnet" else 0.5, task, targets, metric, rng)
    return root


def count_records(root: Path) -> int:
    return len(list(root.rglob("record.json")))
