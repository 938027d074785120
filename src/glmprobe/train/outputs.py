"""Write a trained model's outputs folder: weights, predictions, trials, record.

The files go into the step skeleton's temporary folder (:mod:`glmprobe.steps.skeleton`),
which writes record.json last and swaps the folder in, so it is either complete or absent; weights are safetensors
(never pickle), predictions a long CSV the report can aggregate freely.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.torch import save_file

from glmprobe.train.data import Arrays
from glmprobe.train.tune import TuneResult

PREDICTIONS, TRIALS = "predictions.csv", "trials.csv"


def model_name(seed: int) -> str:
    return f"model_seed{seed}.safetensors"


def predictions_frame(result: TuneResult, data: dict[str, Arrays], task: str,
                      target_names: Sequence[str]) -> pd.DataFrame:
    """Long format: id, split, seed, target, y_true, y_pred (probabilities for binary/multilabel)."""
    frames = []
    names = np.asarray(list(target_names), dtype=object)
    for rep in result.replicates:
        for split, raw in rep.predictions.items():
            arr = data[split]
            pred = 1.0 / (1.0 + np.exp(-raw.astype(np.float64))) if task != "regression" else raw
            n, t = arr.y.shape
            frames.append(pd.DataFrame({
                "id": np.repeat(arr.ids, t), "split": split, "seed": rep.seed,
                "target": np.tile(names, n), "y_true": arr.y.reshape(-1), "y_pred": pred.reshape(-1)}))
    cols = ["id", "split", "seed", "target", "y_true", "y_pred"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def summarise(result: TuneResult) -> tuple[dict, dict]:
    """Metrics averaged over replicates, and a replicate CI for each."""
    from glmprobe.train.metrics import metric_name, replicate_ci
    keys = sorted({k for rep in result.replicates for k in rep.metrics})
    metrics, ci = {}, {}
    for key in keys:
        vals = [rep.metrics.get(key, math.nan) for rep in result.replicates]
        finite = [v for v in vals if v is not None and math.isfinite(v)]
        metrics[key] = float(np.mean(finite)) if finite else math.nan
        if len(finite) >= 2:
            ci[key] = list(replicate_ci(finite, metric=metric_name(key)))
    return metrics, ci


def _finite(row: dict) -> dict:
    """One epoch's history row for JSON: non-finite floats become None."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def _state_dict(model) -> dict:
    # safetensors refuses shared or non-contiguous storage: give each tensor its own
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def write_outputs(folder: str | os.PathLike, result: TuneResult, data: dict[str, Arrays], task: str,
                  target_names: Sequence[str], record: dict) -> dict:
    """Write a trained model's outputs into ``folder`` and fill ``record`` in place.

    Parameters
    ----------
    folder
        The step's (temporary) output folder, from :meth:`glmprobe.steps.skeleton.Task.writing`.
    result
        The tuned and replicated fits.
    data
        The splits the fits saw (for the predictions and ``n``).
    task
        ``regression``, ``binary`` or ``multilabel``.
    target_names
        Target column names.
    record
        The step's record (key, tags, inputs, cache_key, its own params).

    Returns
    -------
    dict
        ``record``, with metrics, ci, replicates, n, params and artifacts filled in; the
        skeleton writes it as ``record.json`` last, when it swaps the folder in.
    """
    folder = Path(folder)
    metrics, ci = summarise(result)
    record["metrics"], record["ci"] = metrics, ci
    # the per-epoch curve of every neural fit (MLflow logs it with step = epoch)
    record["replicates"] = [{"seed": r.seed, "best_epoch": r.best_epoch, "epochs": len(r.history),
                             "stopped": r.stopped, "metrics": r.metrics,
                             "history": [_finite(h) for h in r.history]} for r in result.replicates]
    record["n"] = {split: int(len(arr)) for split, arr in data.items()}
    record["params"] = {**result.best_params, **record.get("params", {}),
                        "best_val_loss": result.best_value,
                        "trials_run": int(len(result.trials)),
                        "replicate_seeds": ",".join(str(r.seed) for r in result.replicates)}
    artifacts = {PREDICTIONS.split(".")[0]: PREDICTIONS, "trials": TRIALS}
    for rep in result.replicates:
        name = model_name(rep.seed)
        save_file(_state_dict(rep.model), str(folder / name),
                  metadata={"seed": str(rep.seed), "best_epoch": str(rep.best_epoch)})
        artifacts[f"model_seed{rep.seed}"] = name
    if result.replicates:
        artifacts["model"] = model_name(result.replicates[0].seed)
    predictions_frame(result, data, task, target_names).to_csv(folder / PREDICTIONS, index=False,
                                                               float_format="%.6g")
    result.trials.to_csv(folder / TRIALS, index=False)
    record["artifacts"] = artifacts
    return record
