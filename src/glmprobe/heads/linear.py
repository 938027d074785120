"""``linear`` head: ridge (regression) or logistic (binary/multilabel) on pooled vectors.

Protocol (bugs §8.1 and §8.10 fixed): features are standardised with *train* statistics,
every penalty on the grid is fitted on train only, the penalty is chosen per target on the
*validation* loss, and test is only predicted. Scores are decision values (logits), never
hard labels. ``--fixed study`` is the study's own fit: its one penalty on the *raw* features
(``standardize: false``), as sklearn's Ridge(alpha=1e-3) / LogisticRegression(C=1) saw them.

* Ridge is solved in closed form for the whole grid from ONE eigendecomposition of the centred
  train matrix's Gram (or kernel) matrix, ``X^T X = V S^2 V^T``:
  ``w(a) = V diag(1 / (s^2 + a)) V^T X^T (y - mean y)``, exactly sklearn's
  ``Ridge(alpha=a, fit_intercept=True)``. Validation predictions for every alpha come from the
  same factors, so the grid costs one decomposition plus a few small matrix products.
* Logistic regression has no closed form; it runs sklearn's ``LogisticRegression(lbfgs)``
  along the grid from the strongest to the weakest penalty (``C = 1 / alpha``), each fit
  warm-started from the previous solution, which is how regularisation paths are usually
  computed and makes the 25 fits cost little more than a few cold ones.

Targets with unobserved (NaN) entries are fitted on their observed rows only; targets with
the same observation pattern share one decomposition.

The fitted probe is a tiny ``torch.nn.Module`` (standardise -> linear), so it is saved, loaded
and predicted exactly like the neural heads.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.linalg
import torch
from torch import nn
from tqdm.auto import tqdm

from glmprobe.errors import UserError
from glmprobe.train.data import Arrays
from glmprobe.train.tune import Replicate, TuneOptions, TuneResult, with_study

ALPHAS = np.logspace(-4, 4, 25)
LOGISTIC_MAX_ITER = 1000
# The study's fixed penalties (``--fixed study``): sklearn Ridge(alpha=1e-3) on lentiMPRA and
# LogisticRegression's default C=1 for the ChIP/eCLIP controls (paper.md §3), both on raw features.
STUDY = {"regression": {"alpha": 1e-3, "standardize": False}, "binary": {"alpha": 1.0, "standardize": False},
         "multilabel": {"alpha": 1.0, "standardize": False}}


def study(task: str, family: str | None = None) -> dict:
    return dict(STUDY[task])


class LinearProbe(nn.Module):
    """(N, D) -> (N, T): ``((x - mean) / scale) @ weight.T + bias`` (logits for binary tasks)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, weight: np.ndarray, bias: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            self.linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x.float() - self.mean) / self.scale)


def standardizer(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train mean and standard deviation per feature (constant features get scale 1)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[~(scale > 1e-12)] = 1.0
    return mean, scale


def ridge_path(X: np.ndarray, Y: np.ndarray, alphas: Sequence[float],
               X_eval: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """sklearn ``Ridge(alpha, fit_intercept=True)`` for every alpha from one eigendecomposition.

    With centred X = U S V^T, ``w(a) = V diag(1 / (s^2 + a)) V^T X^T y``. The s^2 and V come from
    ``eigh`` of the smaller Gram matrix: X^T X (d x d) when n >= d, else the kernel X X^T (n x n),
    where ``w(a) = X^T U diag(1 / (s^2 + a)) U^T y``. Either is cheaper than a thin SVD, and the
    grid then costs only small matrix products.

    X (n, d), Y (n, T), fully observed. Returns ``coef`` (A, d, T), ``intercept`` (A, T) and,
    when ``X_eval`` is given, its predictions (A, n_eval, T) from the same factors.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - x_mean, Y - y_mean
    primal = X.shape[0] >= X.shape[1]
    lam, Q = scipy.linalg.eigh(Xc.T @ Xc if primal else Xc @ Xc.T, check_finite=False)
    lam = np.clip(lam, 0.0, None)                        # rounding can leave tiny negative eigenvalues
    Z = Q.T @ (Xc.T @ Yc if primal else Yc)              # (k, T)
    B = Z / (lam + alphas[:, None])[:, :, None]          # (A, k, T): the only alpha-dependent part
    to_coef = Q if primal else Xc.T @ Q                  # (d, k)
    coef = to_coef @ B                                   # (A, d, T)
    intercept = y_mean - x_mean @ coef                   # (A, T)
    preds = None
    if X_eval is not None:
        preds = ((X_eval - x_mean) @ to_coef) @ B + y_mean   # (A, n_eval, T)
    return coef, intercept, preds


def _patterns(Y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group targets by which train rows they observe: [(rows, target columns), ...]."""
    observed = ~np.isnan(Y)
    groups: dict[bytes, list[int]] = {}
    for t in range(Y.shape[1]):
        groups.setdefault(np.packbits(observed[:, t]).tobytes(), []).append(t)
    return [(np.flatnonzero(observed[:, cols[0]]), np.asarray(cols)) for cols in groups.values()]


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over axis -2 (rows) of ``values`` where ``mask``; NaN when nothing is observed."""
    count = mask.sum(axis=0)
    total = np.where(mask, values, 0.0).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def fit_ridge(X: np.ndarray, Y: np.ndarray, Xv: np.ndarray, Yv: np.ndarray, alphas: Sequence[float]):
    """Per target: coefficients for every alpha; validation MSE (A, T) on observed entries."""
    A, d, T = len(alphas), X.shape[1], Y.shape[1]
    coef, intercept = np.zeros((A, d, T)), np.zeros((A, T))
    val_pred = np.zeros((A, len(Xv), T))
    for rows, cols in _patterns(Y):
        c, b, p = ridge_path(X[rows], Y[np.ix_(rows, cols)], alphas, Xv)
        coef[:, :, cols], intercept[:, cols], val_pred[:, :, cols] = c, b, p
    observed = ~np.isnan(Yv)
    val_loss = _masked_mean((val_pred - np.nan_to_num(Yv)) ** 2, observed)
    return coef, intercept, val_loss


def log_loss_from_logits(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean binary cross-entropy per target from logits (stable), NaN targets ignored."""
    observed = ~np.isnan(y)
    y0 = np.nan_to_num(y)
    return _masked_mean(np.logaddexp(0.0, z) - y0 * z, observed)


def fit_logistic(X: np.ndarray, Y: np.ndarray, Xv: np.ndarray, Yv: np.ndarray, alphas: Sequence[float],
                 seed: int = 0, progress: bool = False):
    """Per target, a warm-started lbfgs path from the strongest penalty to the weakest.

    Returns coef (A, d, T), intercept (A, T) and the validation log loss (A, T) of the
    decision values.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    A, d, T = len(alphas), X.shape[1], Y.shape[1]
    coef, intercept, val_loss = np.zeros((A, d, T)), np.zeros((A, T)), np.full((A, T), np.nan)
    order = np.argsort(alphas)[::-1]  # strong -> weak: each solution is a good start for the next
    bar = tqdm(total=A * T, desc="logistic path", unit="fit", file=sys.stderr, leave=False,
               disable=not progress or not sys.stderr.isatty())
    for t in range(T):
        rows = np.flatnonzero(~np.isnan(Y[:, t]))
        y = Y[rows, t].astype(int)
        clf = LogisticRegression(solver="lbfgs", warm_start=True, max_iter=LOGISTIC_MAX_ITER, random_state=seed)
        for a in order:
            clf.set_params(C=1.0 / alphas[a])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # weak penalties on separable data
                clf.fit(X[rows], y)
            coef[a, :, t], intercept[a, t] = clf.coef_[0], clf.intercept_[0]
            z = Xv @ coef[a, :, t] + intercept[a, t]
            val_loss[a, t] = log_loss_from_logits(z[:, None], Yv[:, t:t + 1])[0]
            bar.update()
    bar.close()
    return coef, intercept, val_loss


def _dense(X) -> np.ndarray:
    """Pooled vectors (N x D is small) as float64."""
    return np.asarray(X[:] if not isinstance(X, np.ndarray) else X, dtype=np.float64)


def fit_linear(train: Arrays, valid: Arrays, task: str, alphas: Sequence[float] = ALPHAS, *,
               seed: int = 0, progress: bool = False,
               standardize: bool = True) -> tuple[LinearProbe, np.ndarray, np.ndarray]:
    """Fit on train, choose alpha per target on valid (``standardize=False``: raw features).

    Returns the probe, the index of the chosen alpha per target (T,) and the validation loss grid (A, T).
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    X, Xv = _dense(train.X), _dense(valid.X)
    if standardize:
        mean, scale = standardizer(X)
    else:
        mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    Xs, Xvs = (X - mean) / scale, (Xv - mean) / scale
    if task == "regression":
        coef, intercept, val_loss = fit_ridge(Xs, train.y.astype(np.float64), Xvs, valid.y.astype(np.float64), alphas)
    else:
        coef, intercept, val_loss = fit_logistic(Xs, train.y, Xvs, valid.y, alphas, seed=seed, progress=progress)
    # a target never observed in valid has an all-NaN column: fall back to the middle of the grid
    best = np.array([np.nanargmin(col) if np.isfinite(col).any() else len(alphas) // 2 for col in val_loss.T])
    T = train.y.shape[1]
    weight = np.stack([coef[best[t], :, t] for t in range(T)])      # (T, d)
    bias = np.array([intercept[best[t], t] for t in range(T)])
    return LinearProbe(mean, scale, weight, bias), best, val_loss


def trials_table(alphas: np.ndarray, val_loss: np.ndarray, target_names: Sequence[str]) -> pd.DataFrame:
    """The alpha grid in the shape of the tuner's trials table (one row per alpha)."""
    rows = []
    for i, alpha in enumerate(alphas):
        row = {"number": i, "alpha": float(alpha), "state": "COMPLETE", "value": float(np.nanmean(val_loss[i])) if np.isfinite(val_loss[i]).any()
               else math.nan, "duration_s": math.nan, "best_epoch": None, "enqueued": False,
               "params": f'{{"alpha": {alpha:.6g}}}'}
        if len(target_names) > 1:
            row.update({f"value/{name}": float(val_loss[i, t]) for t, name in enumerate(target_names)})
        rows.append(row)
    return pd.DataFrame(rows)


def tune(data: dict[str, Arrays], task: str, opts: TuneOptions, *, target_names: Sequence[str],
         alphas: Sequence[float] = ALPHAS) -> TuneResult:
    """The linear head in the tuner's result shape: the alpha grid as trials, one deterministic replicate.

    ``opts.fixed`` ("study" or ``{"alpha": a}``) replaces the grid by that one penalty; like every
    head, a partial ``fixed`` overrides the study's settings and keys other heads use are ignored.
    """
    from glmprobe.train.metrics import compute_metrics

    fixed = with_study(opts, STUDY[task]).fixed
    standardize = True
    if fixed is not None:
        try:
            alphas = [float(fixed["alpha"])]
        except (TypeError, ValueError):
            raise UserError(f"alpha must be a number, got {fixed['alpha']!r}", where="--fixed",
                            hint='Use for example --fixed \'{"alpha": 0.001}\'.') from None
        standardize = bool(fixed.get("standardize", True))
    alphas = np.asarray(alphas, dtype=np.float64)
    model, best, val_loss = fit_linear(data["train"], data["valid"], task, alphas, seed=opts.seed,
                                       progress=opts.progress, standardize=standardize)
    model.eval()
    preds, metrics = {}, {}
    with torch.inference_mode():
        for split in ("valid", "test"):
            preds[split] = model(torch.from_numpy(_dense(data[split].X))).double().numpy()
            metrics.update(compute_metrics(data[split].y, preds[split], task, list(target_names), prefix=split))
    if len(target_names) == 1:
        params = {"alpha": float(alphas[best[0]])}
    else:
        params = {f"alpha/{name}": float(alphas[b]) for name, b in zip(target_names, best)}
    params["penalty"] = "ridge" if task == "regression" else "logistic-l2"
    params["standardize"] = standardize
    best_value = float(np.nanmean(val_loss[best, np.arange(len(best))]))
    return TuneResult(params, trials_table(alphas, val_loss, target_names),
                      [Replicate(opts.seed, model, preds, metrics, best_epoch=0)], best_value)
