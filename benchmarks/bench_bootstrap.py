"""Vectorised bootstrap CIs (glmprobe.train.metrics.bootstrap_ci) vs a plain per-resample sklearn/scipy loop.

Both use the same seeded resampling indices, so the intervals must agree; the script
checks that and prints the speed-up. Default size runs in well under a minute;
``--full`` uses a test-set size like the study's lentiMPRA split and 1000 resamples.

    python benchmarks/bench_bootstrap.py [--full]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from glmprobe.train.metrics import bootstrap_ci

REFERENCE = {
    "pearson": lambda y, s: stats.pearsonr(y, s)[0],
    "spearman": lambda y, s: stats.spearmanr(y, s)[0],
    "auroc": skm.roc_auc_score,
    "auprc": skm.average_precision_score,
}


def naive(y, s, metric, n_boot, seed, level=0.95):
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        per = [REFERENCE[metric](y[idx, j], s[idx, j]) for j in range(y.shape[1])]
        vals.append(np.mean(per))
    a = (1 - level) / 2
    return tuple(np.quantile(vals, [a, 1 - a]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="n=20000 sequences, 2 targets, 1000 resamples")
    args = ap.parse_args()
    n, n_boot = (20000, 1000) if args.full else (2000, 200)
    rng = np.random.default_rng(0)
    yr = rng.normal(size=(n, 2))
    sr = 0.6 * yr + rng.normal(size=(n, 2))
    yb = (rng.random((n, 2)) < 0.3).astype(float)
    sb = yb + rng.normal(size=(n, 2))
    print(f"n={n} sequences x 2 targets, {n_boot} resamples")
    for metric, task, y, s in (("pearson", "regression", yr, sr), ("spearman", "regression", yr, sr),
                               ("auroc", "binary", yb, sb), ("auprc", "binary", yb, sb)):
        t0 = time.perf_counter()
        fast = bootstrap_ci(y, s, task, metric, n_boot=n_boot, seed=1)
        t1 = time.perf_counter()
        ref = naive(y, s, metric, n_boot, seed=1)
        t2 = time.perf_counter()
        assert np.allclose(fast, ref, rtol=1e-9), (metric, fast, ref)
        print(f"{metric:9s} vectorised {t1 - t0:7.3f} s   naive loop {t2 - t1:7.3f} s   "
              f"speed-up x{(t2 - t1) / (t1 - t0):5.1f}   CI [{fast[0]:.4f}, {fast[1]:.4f}] (identical)")


if __name__ == "__main__":
    main()
