"""Correlation of variant scores with measured effects, per group (locus), with bootstrap CIs.

For every score column and every group (plus ``all``): Pearson and Spearman r against the
**signed** effect and against **|effect|** (paper §8 item 8: the study used signed effects for
supervised scores and |effect| for zero-shot ones; both are reported for every score), each
with a seeded percentile bootstrap CI over variants. Variants with a missing effect or score
are left out of that cell (its ``n`` says how many were used). The kernels are the ones every
other glmprobe metric uses (:mod:`glmprobe.train.metrics`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from glmprobe.train.metrics import bootstrap_ci, compute_metrics

TARGETS = ("signed", "abs")
METRICS = ("pearson", "spearman")
ALL = "all"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\- ]")   # MLflow metric names allow these (and '/')


def safe(name: str) -> str:
    return _UNSAFE.sub("_", str(name))


def correlation_table(scores: pd.DataFrame, columns: Sequence[str], effect: np.ndarray, group: np.ndarray, *,
                      n_boot: int = 1000, seed: int = 0, level: float = 0.95, min_n: int = 3) -> pd.DataFrame:
    """Tidy rows: score, group, target (signed/abs), metric, n, value, lo, hi."""
    effect = np.asarray(effect, dtype=float)
    group = np.asarray(group, dtype=object)
    groups = [ALL] + sorted(set(group.tolist())) if len(set(group.tolist())) > 1 else [ALL]
    rows = []
    for col in columns:
        s = scores[col].to_numpy(dtype=float)
        for g in groups:
            sel = np.isfinite(effect) & np.isfinite(s) & ((group == g) if g != ALL else True)
            n = int(sel.sum())
            for target in TARGETS:
                y = effect[sel] if target == "signed" else np.abs(effect[sel])
                point = compute_metrics(y, s[sel], "regression", ["v"], prefix="x") if n >= min_n else {}
                for metric in METRICS:
                    value = point.get(f"x_{metric}", np.nan)
                    lo, hi = (bootstrap_ci(y, s[sel], "regression", metric, n_boot=n_boot, seed=seed, level=level)
                              if n >= min_n and np.isfinite(value) else (np.nan, np.nan))
                    rows.append({"score": col, "group": g, "target": target, "metric": metric, "n": n,
                                 "value": value, "lo": lo, "hi": hi})
    return pd.DataFrame(rows, columns=["score", "group", "target", "metric", "n", "value", "lo", "hi"])


def record_metrics(table: pd.DataFrame) -> tuple[dict, dict]:
    """``<target>_<metric>/<score>/<group>`` -> value, and the same keys -> [lo, hi]."""
    metrics, ci = {}, {}
    for r in table.itertuples(index=False):
        key = f"{r.target}_{r.metric}/{safe(r.score)}/{safe(r.group)}"
        metrics[key] = float(r.value)
        ci[key] = [float(r.lo), float(r.hi)]
        metrics[f"n/{safe(r.score)}/{safe(r.group)}"] = int(r.n)
    return metrics, ci
