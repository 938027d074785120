"""A small stand-in for glmprobe.train.metrics (same signatures), used only while that module is absent."""

from __future__ import annotations

import sys
import types

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score


def compute_metrics(y_true, y_score, task, target_names, prefix="test"):
    out = {}
    for j, name in enumerate(target_names):
        m = ~np.isnan(y_true[:, j])
        if task == "regression":
            out[f"{prefix}_pearson/{name}"] = float(stats.pearsonr(y_true[m, j], y_score[m, j])[0])
        else:
            out[f"{prefix}_auroc/{name}"] = float(roc_auc_score(y_true[m, j], y_score[m, j]))
    metric = "pearson" if task == "regression" else "auroc"
    out[f"{prefix}_{metric}"] = float(np.mean([out[f"{prefix}_{metric}/{n}"] for n in target_names]))
    return out


def replicate_ci(values, level=0.95):
    v = np.asarray(values, float)
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def install() -> None:
    """Register the stand-in only if the real module cannot be imported."""
    try:
        import glmprobe.train.metrics  # noqa: F401
    except ImportError:
        mod = types.ModuleType("glmprobe.train.metrics")
        mod.compute_metrics, mod.replicate_ci = compute_metrics, replicate_ci
        sys.modules["glmprobe.train.metrics"] = mod
