"""``record.json``: the source of truth every step leaves beside its outputs.

MLflow is only a view of these records (written later by one process), so a
record must hold everything needed to log and to report a task:

    {
      "schema": 1,
      "step": "prepare" | "embed" | "probe" | "baseline" | ...,
      "key": "probe/<dataset>/<model>/L<layer>/<pooling>-<head>",   # unique task id (= path under outdir)
      "cache_key": "<sha256>",       # hash of everything that determines the result
      "tags": {"dataset": ..., "model": ..., "revision": ..., "layer": ..., "pooling": ...,
               "head": ..., "arch": ..., "task": "regression", "stage": "probe"},
      "params": {flat str -> scalar},            # every hyperparameter, incl. the best trial
      "metrics": {"test_pearson": 0.61, "test_pearson/ct1": 0.63, ...},  # mean over replicates
      "ci": {"test_pearson": [lo, hi], ...},     # 95 % CI over replicates (or bootstrap)
      "replicates": [{"seed": 0, "metrics": {...}}, ...],
      "n": {"train": 800, "valid": 100, "test": 100},
      "artifacts": {"predictions": "predictions.csv", "model": "model_seed0.safetensors",
                    "trials": "trials.csv"},     # paths relative to the record's folder
      "inputs": {"dataset": {"path": ..., "checksum": ...}, ...},
      "versions": {"glmprobe": ..., "torch": ..., ...},
      "started": iso8601, "finished": iso8601, "duration_s": float
    }

Metric keys: ``<split>_<metric>`` is the mean over targets, ``<split>_<metric>/<target>``
is one target. Metric names: pearson, spearman, mse, r2 (regression); auroc, auprc,
accuracy, mcc (binary/multilabel).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import math
import os
from pathlib import Path

from glmprobe.atomic import write_text

RECORD_NAME = "record.json"
SCHEMA = 1
_PACKAGES = ("glmprobe", "torch", "transformers", "numpy", "scikit-learn", "optuna", "h5py", "mlflow")


def is_timing(metric: str) -> bool:
    """True for metrics that measure wall time (``*_per_s``, ``*_seconds``): they differ
    from run to run, so reproducibility checks leave them out."""
    return metric.endswith(("_per_s", "_seconds"))


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def software_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    out = {}
    for pkg in _PACKAGES + tuple(extra):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _clean(obj):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            obj = obj.item()
        except (ValueError, AttributeError):
            return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def make_record(step: str, key: str, **fields) -> dict:
    """A record with the standard fields filled in; pass any of the documented keys."""
    rec = {"schema": SCHEMA, "step": step, "key": key, "cache_key": None, "tags": {}, "params": {},
           "metrics": {}, "ci": {}, "replicates": [], "n": {}, "artifacts": {}, "inputs": {},
           "versions": software_versions(), "started": None, "finished": now()}
    rec.update(fields)
    rec["tags"].setdefault("stage", step)
    return rec


def write_record(folder: str | os.PathLike, record: dict) -> Path:
    """Write ``folder/record.json`` atomically (call it last, after the outputs)."""
    path = Path(folder) / RECORD_NAME
    write_text(path, json.dumps(_clean(record), indent=2, sort_keys=True) + "\n")
    return path


def read_record(path: str | os.PathLike) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_NAME
    return json.loads(path.read_text())


def find_records(root: str | os.PathLike) -> list[Path]:
    """Every record.json under ``root`` (sorted, hidden temp folders skipped)."""
    root = Path(root)
    return sorted(p for p in root.rglob(RECORD_NAME) if not any(part.startswith(".") for part in p.relative_to(root).parts))
