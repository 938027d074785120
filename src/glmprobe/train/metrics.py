"""Evaluation metrics, per target and averaged, with confidence intervals.

Every metric is computed by one vectorised kernel over a batch of rows (``(B, n)`` arrays
plus an "observed" mask), so scoring a test set (B = 1 per target) and bootstrapping
(B = resamples) share exactly the same code.

Binary/multilabel metrics are always computed from the model's *scores* (logits by
default, or probabilities with ``scores="probabilities"``): AUROC and AUPRC from the
continuous scores, accuracy and MCC from the scores thresholded at 0 (logits) or 0.5
(probabilities). Never from hard ``predict`` labels: the study's AUROCs from hard labels
(paper.md section 8, item 1) are exactly what this avoids.

NaN in ``y_true`` means "unobserved" and is masked per target. A target with fewer than
2 observed values (or only one class, for binary tasks) scores NaN and is left out of the
mean over targets; ``<prefix>_n_targets_scored`` says how many targets the mean covers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

METRICS = {
    "regression": ("pearson", "spearman", "mse", "r2"),
    "binary": ("auroc", "auprc", "accuracy", "mcc"),
    "multilabel": ("auroc", "auprc", "accuracy", "mcc"),
}
# Attainable range of each metric: interval ends are clipped to it (a t-interval over
# two seeds can otherwise claim an AUROC of 1.7).
BOUNDS = {"pearson": (-1.0, 1.0), "spearman": (-1.0, 1.0), "mcc": (-1.0, 1.0), "auroc": (0.0, 1.0),
          "auprc": (0.0, 1.0), "accuracy": (0.0, 1.0), "mse": (0.0, math.inf), "r2": (-math.inf, 1.0)}
SCORE_KINDS = {"logits": 0.0, "probabilities": 0.5}  # -> decision threshold
_BOOT_CELLS = 4_000_000  # resample rows x sequences held in memory at once


# ---------------------------------------------------------------- kernels on (B, n) batches

def _masked_ranks(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) of observed entries within each row; unobserved entries sort last."""
    return stats.rankdata(np.where(m, x, np.inf), axis=1, method="average")


def _corr(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> np.ndarray:
    w = m.astype(float)
    cnt = w.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        am = (w * np.where(m, a, 0)).sum(1) / cnt
        bm = (w * np.where(m, b, 0)).sum(1) / cnt
        da, db = np.where(m, a - am[:, None], 0), np.where(m, b - bm[:, None], 0)
        sab, saa, sbb = (da * db).sum(1), (da * da).sum(1), (db * db).sum(1)
        r = sab / np.sqrt(saa * sbb)
        # A constant input has no correlation (scipy returns NaN): spread at rounding level of the values.
        flat_a = np.sqrt(saa / cnt) <= 1e-10 * np.abs(np.where(m, a, 0)).max(1)
        flat_b = np.sqrt(sbb / cnt) <= 1e-10 * np.abs(np.where(m, b, 0)).max(1)
    r[flat_a | flat_b] = np.nan
    return np.clip(r, -1.0, 1.0)


def _regression(metric: str, y: np.ndarray, s: np.ndarray, m: np.ndarray) -> np.ndarray:
    if metric == "pearson":
        return _corr(y, s, m)
    if metric == "spearman":
        return _corr(_masked_ranks(y, m), _masked_ranks(s, m), m)
    w = m.astype(float)
    cnt = w.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sse = (np.where(m, s - y, 0) ** 2).sum(1)
        if metric == "mse":
            return sse / cnt
        ybar = np.where(m, y, 0).sum(1) / cnt
        sst = (np.where(m, y - ybar[:, None], 0) ** 2).sum(1)
        return np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1), np.nan)  # r2; constant truth -> NaN
    raise ValueError(f"unknown regression metric {metric!r}")


def _auprc(y: np.ndarray, s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Average precision (sklearn's step-wise definition, tied scores form one threshold)."""
    order = np.argsort(-np.where(m, s, -np.inf), axis=1, kind="stable")
    ss = np.take_along_axis(np.where(m, s, -np.inf), order, 1)
    pos = np.take_along_axis(m & (y > 0.5), order, 1)
    obs = np.take_along_axis(m, order, 1)
    tp, seen = np.cumsum(pos, 1), np.cumsum(obs, 1)
    n = ss.shape[1]
    # Last index of each block of tied scores: the precision there applies to the whole block.
    end = np.ones_like(ss, dtype=bool)
    end[:, :-1] = ss[:, 1:] != ss[:, :-1]
    end_idx = np.where(end, np.arange(n), n - 1)
    block_end = np.minimum.accumulate(end_idx[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.take_along_axis(tp / np.maximum(seen, 1), block_end, 1)
        return (precision * pos).sum(1) / pos.sum(1)


def _binary(metric: str, y: np.ndarray, s: np.ndarray, m: np.ndarray, threshold: float) -> np.ndarray:
    pos, neg = m & (y > 0.5), m & (y <= 0.5)
    n_pos, n_neg = pos.sum(1).astype(float), neg.sum(1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "auroc":  # Mann-Whitney U with average ranks for ties (= sklearn's roc_auc_score)
            ranks = _masked_ranks(s, m)
            u = (ranks * pos).sum(1) - n_pos * (n_pos + 1) / 2
            return u / (n_pos * n_neg)
        if metric == "auprc":
            return _auprc(y, s, m)
        pred = s > threshold
        tp, fp = (pos & pred).sum(1).astype(float), (neg & pred).sum(1).astype(float)
        fn, tn = n_pos - tp, n_neg - fp
        if metric == "accuracy":
            return (tp + tn) / (n_pos + n_neg)
        if metric == "mcc":
            den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
            return np.where(den > 0, (tp * tn - fp * fn) / np.where(den > 0, den, 1), 0.0)  # sklearn: 0 if undefined
    raise ValueError(f"unknown binary metric {metric!r}")


def _kernel(metric: str, task: str, y: np.ndarray, s: np.ndarray, m: np.ndarray, threshold: float) -> np.ndarray:
    """One metric for each row of (B, n) arrays; NaN where the row cannot be scored."""
    cnt = m.sum(1)
    if task == "regression":
        out = _regression(metric, y, s, m)
        ok = cnt >= 2
    else:
        out = _binary(metric, y, s, m, threshold)
        ok = ((m & (y > 0.5)).sum(1) > 0) & ((m & (y <= 0.5)).sum(1) > 0)
    # Scores that are NaN/inf where the truth is observed (a diverged model) cannot be scored.
    ok &= ~(m & ~np.isfinite(s)).any(1)
    return np.where(ok, out, np.nan)


# ---------------------------------------------------------------- public API

def rowwise(metric: str, task: str, y: np.ndarray, s: np.ndarray, observed: np.ndarray,
            threshold: float = 0.0) -> np.ndarray:
    """``metric`` of each row of (B, n) arrays, over the ``observed`` entries (NaN where a row cannot be
    scored): the kernel behind every score and bootstrap here, for callers with rows of their own."""
    return _kernel(metric, task, np.asarray(y, float), np.asarray(s, float), np.asarray(observed, bool), threshold)


def _as_2d(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if s.ndim == 1:
        s = s[:, None]
    if y.shape != s.shape or y.ndim != 2:
        raise ValueError(f"y_true {y.shape} and y_score {s.shape} must both be (N, T)")
    return y, s


def _check_task(task: str, y: np.ndarray, scores: str) -> float:
    if task not in METRICS:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(METRICS)}")
    if scores not in SCORE_KINDS:
        raise ValueError(f"scores must be one of {', '.join(SCORE_KINDS)}, not {scores!r}")
    if task != "regression":
        seen = y[~np.isnan(y)]
        if not np.isin(seen, (0.0, 1.0)).all():
            raise ValueError(f"{task} targets must be 0/1 (or NaN), found {np.unique(seen[~np.isin(seen, (0, 1))])[:5]}")
    return SCORE_KINDS[scores]


def _mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def compute_metrics(y_true, y_score, task: str, target_names: Sequence[str], prefix: str = "test", *,
                    scores: str = "logits") -> dict:
    """Every metric of ``task`` for every target, as one flat dict.

    Parameters
    ----------
    y_true
        (N, T) targets, or (N,) for one target; NaN means unobserved and is skipped.
    y_score
        Predictions of the same shape: values for regression; for binary/multilabel logits
        (``scores="logits"``, threshold 0) or probabilities (``scores="probabilities"``, 0.5).
    task
        ``regression`` (pearson, spearman, mse, r2) or ``binary``/``multilabel``
        (auroc, auprc, accuracy, mcc).
    target_names
        One name per target column.
    prefix
        The split the scores are on (``test``, ``valid``, ...).
    scores
        ``logits`` or ``probabilities`` (binary/multilabel only).

    Returns
    -------
    dict
        ``<prefix>_<metric>`` (mean over scored targets), ``<prefix>_<metric>/<target>``,
        ``<prefix>_n`` (rows with any observed target), ``<prefix>_n/<target>`` and
        ``<prefix>_n_targets_scored``.
    """
    y, s = _as_2d(y_true, y_score)
    threshold = _check_task(task, y, scores)
    names = list(target_names)
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} target names for {y.shape[1]} target columns")
    m = ~np.isnan(y)
    # One row per target: (T, N) batches through the shared kernels.
    yt, st, mt = y.T, s.T, m.T
    out: dict[str, float] = {f"{prefix}_n": int(m.any(1).sum())}
    scored = None
    for metric in METRICS[task]:
        values = _kernel(metric, task, yt, st, mt, threshold)
        out[f"{prefix}_{metric}"] = _mean(values)
        out.update({f"{prefix}_{metric}/{t}": float(v) for t, v in zip(names, values)})
        finite = np.isfinite(values)
        scored = finite if scored is None else scored | finite
    out[f"{prefix}_n_targets_scored"] = int(scored.sum())
    out.update({f"{prefix}_n/{t}": int(c) for t, c in zip(names, m.sum(0))})
    return out


def metric_name(key: str) -> str:
    """``test_pearson/cellA`` -> ``pearson``."""
    return key.split("/", 1)[0].split("_", 1)[-1]


def replicate_ci(values, level: float = 0.95, metric: str | None = None) -> tuple[float, float]:
    """Student-t confidence interval of the mean over replicates (NaNs dropped).

    Fewer than 2 finite values -> (nan, nan): one replicate says nothing about spread.
    Identical values -> (mean, mean). With ``metric`` the ends are clipped to its range.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    mean, sem = float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))
    if sem == 0:
        return mean, mean
    half = float(stats.t.ppf((1 + level) / 2, df=v.size - 1)) * sem
    low, high = BOUNDS.get(metric, (-math.inf, math.inf))
    return max(mean - half, low), min(mean + half, high)


def metric_on_resamples(y_true, y_score, idx: np.ndarray, task: str, metric: str, *,
                        scores: str = "logits") -> np.ndarray:
    """``metric`` (mean over targets) on each resample of rows ``idx`` (B, n) -> (B,).

    A target that cannot be scored in a resample (e.g. one class) drops out of that
    resample's mean; a resample with no scorable target is NaN. Vectorised in blocks.
    """
    y, s = _as_2d(y_true, y_score)
    threshold = _check_task(task, y, scores)
    if metric not in METRICS[task]:
        raise ValueError(f"metric {metric!r} is not defined for {task}; use one of {', '.join(METRICS[task])}")
    idx = np.asarray(idx, dtype=np.int64)
    n = idx.shape[1] if idx.ndim == 2 else 0
    block = max(1, _BOOT_CELLS // max(n, 1))
    out = []
    for start in range(0, len(idx), block):
        rows = idx[start:start + block]
        per_target = []
        for t in range(y.shape[1]):
            yb, sb = y[rows, t], s[rows, t]
            per_target.append(_kernel(metric, task, yb, sb, ~np.isnan(yb), threshold))
        stacked = np.stack(per_target, 1)  # (B, T)
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(stacked)
            out.append(np.where(finite.any(1), np.where(finite, stacked, 0).sum(1) / finite.sum(1), np.nan))
    return np.concatenate(out) if out else np.empty(0)


def bootstrap_ci(y_true, y_score, task: str, metric: str, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95, *, scores: str = "logits") -> tuple[float, float]:
    """Percentile bootstrap CI of ``metric`` (mean over targets), resampling sequences (rows).

    Resamples where a target cannot be scored (e.g. one class) drop that target from the
    mean; resamples with no scorable target are dropped. Seeded.
    """
    y, _ = _as_2d(y_true, y_score)
    n = y.shape[0]
    if n == 0 or n_boot < 1:
        _check_task(task, y, scores)
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    boots = metric_on_resamples(y_true, y_score, idx, task, metric, scores=scores)
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return float(lo), float(hi)
