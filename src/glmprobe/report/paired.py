"""Paired tests on the shared test set: one kind of uncertainty for every contestant.

Every contestant (a probe or a baseline configuration) is scored on the same test
sequences, so comparisons are *paired*: each bootstrap replicate draws one resample of
test sequences, used for both contestants, and one replicate seed per contestant
(seeds are pooled, so seed-to-seed variation enters the interval as well). The metric
difference over those replicates gives a percentile interval and a two-sided p-value.
The same resampling gives each contestant's own interval, so a deterministic linear
probe and a 3-seed CNN carry intervals that mean the same thing.

Because a report states several comparisons per dataset, p-values are adjusted with
Holm's step-down method (family-wise error over the comparisons of one report).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from glmprobe.errors import UserError
from glmprobe.record import read_record
from glmprobe.train.metrics import metric_on_resamples

N_BOOT = 2000
LEVEL = 0.95
CI_LABEL = "95% paired-bootstrap CI (test sequences × seeds)"


@dataclass
class TestPredictions:
    """One contestant's test predictions: ids (n,), y (n, T) and scores per seed (S, n, T)."""

    ids: np.ndarray
    y: np.ndarray
    scores: np.ndarray
    targets: list[str]

    def align(self, ids: np.ndarray) -> TestPredictions:
        pos = pd.Index(self.ids).get_indexer(ids)
        return TestPredictions(ids, self.y[pos], self.scores[:, pos], self.targets)


def load_test_predictions(folder: str | Path) -> TestPredictions:
    """Test rows of a record folder's predictions (long CSV: id, split, seed, target, y_true, y_pred)."""
    folder = Path(folder)
    rec = read_record(folder)
    name = (rec.get("artifacts") or {}).get("predictions", "predictions.csv")
    path = folder / name
    try:
        df = pd.read_csv(path, dtype={"id": str, "seed": str, "target": str})
    except (OSError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read predictions ({exc})", path=path) from exc
    df = df[df["split"] == "test"]
    if df.empty:
        raise UserError("no test predictions", path=path, hint="Refit the model; its folder is incomplete.")
    targets = list(dict.fromkeys(df["target"]))
    seeds = list(dict.fromkeys(df["seed"]))
    ids = np.asarray(list(dict.fromkeys(df["id"])), dtype=object)
    pred = df.pivot_table(index="id", columns=["seed", "target"], values="y_pred", aggfunc="first")
    truth = df.pivot_table(index="id", columns="target", values="y_true", aggfunc="first", dropna=False)
    pred, truth = pred.reindex(ids), truth.reindex(index=ids, columns=targets)
    scores = np.stack([pred[s][targets].to_numpy(dtype=float) for s in seeds])   # (S, n, T)
    return TestPredictions(ids, truth.to_numpy(dtype=float), scores, targets)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedResult:
    a: Interval
    b: Interval
    diff: Interval        # a - b (for lower-is-better metrics too: the sign is the raw difference)
    p: float              # two-sided bootstrap p-value of "no difference"
    n: int                # shared test sequences
    n_boot: int


def _point(tp: TestPredictions, task: str, metric: str) -> float:
    """The metric averaged over seeds on the full test set (what the records report)."""
    idx = np.arange(len(tp.ids))[None, :]
    vals = [metric_on_resamples(tp.y, s, idx, task, metric, scores="probabilities")[0] for s in tp.scores]
    vals = [v for v in vals if math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def _resampled(tp: TestPredictions, idx: np.ndarray, seeds: np.ndarray, task: str, metric: str) -> np.ndarray:
    """Metric per bootstrap replicate: rows ``idx[b]`` of seed ``seeds[b]``."""
    out = np.full(len(idx), np.nan)
    for s in np.unique(seeds):
        sel = np.flatnonzero(seeds == s)
        out[sel] = metric_on_resamples(tp.y, tp.scores[s], idx[sel], task, metric, scores="probabilities")
    return out


def _interval(point: float, boots: np.ndarray, level: float) -> Interval:
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return Interval(point, math.nan, math.nan)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return Interval(point, float(lo), float(hi))


def _draws(n: int, seeds: tuple[int, ...], n_boot: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (n_boot, n))
    return idx, [rng.integers(0, s, n_boot) for s in seeds]


def bootstrap_interval(tp: TestPredictions, task: str, metric: str, *, n_boot: int = N_BOOT, seed: int = 0,
                       level: float = LEVEL) -> Interval:
    """A contestant's own interval, from the same resampling scheme as :func:`paired_test`."""
    idx, (s,) = _draws(len(tp.ids), (tp.scores.shape[0],), n_boot, seed)
    return _interval(_point(tp, task, metric), _resampled(tp, idx, s, task, metric), level)


def paired_test(a: TestPredictions, b: TestPredictions, task: str, metric: str, *, n_boot: int = N_BOOT,
                seed: int = 0, level: float = LEVEL) -> PairedResult:
    """Paired bootstrap of ``metric(a) - metric(b)`` over the test sequences both scored."""
    in_b = set(b.ids)
    shared = np.asarray([i for i in a.ids if i in in_b], dtype=object)
    if shared.size < 2:
        raise UserError("the two contestants share fewer than 2 test sequences; they were not scored on the "
                        "same test set")
    a, b = a.align(shared), b.align(shared)
    same = np.isclose(a.y, b.y, equal_nan=True)
    if not same.all():
        raise UserError(f"the two contestants disagree on {int((~same).sum())} test target value(s); "
                        "they were not trained on the same dataset")
    idx, (sa, sb) = _draws(len(shared), (a.scores.shape[0], b.scores.shape[0]), n_boot, seed)
    ba, bb = _resampled(a, idx, sa, task, metric), _resampled(b, idx, sb, task, metric)
    pa, pb = _point(a, task, metric), _point(b, task, metric)
    d = ba - bb
    d = d[np.isfinite(d)]
    if d.size == 0:
        p = math.nan
    else:   # two-sided, with the +1 correction so p is never exactly 0
        p = min(1.0, 2 * min((np.sum(d <= 0) + 1) / (d.size + 1), (np.sum(d >= 0) + 1) / (d.size + 1)))
    return PairedResult(_interval(pa, ba, level), _interval(pb, bb, level), _interval(pa - pb, d, level),
                        float(p), int(shared.size), int(n_boot))


def holm(pvalues: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN), in the input order."""
    p = np.asarray(pvalues, dtype=float)
    finite = np.flatnonzero(np.isfinite(p))
    out = np.full(p.shape, np.nan)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        out[i] = running
    return out.tolist()
