"""The fit loop: loss masking, determinism, early stopping, LR plateau, array backends, pruning."""

from __future__ import annotations

import h5py
import numpy as np
import optuna
import pytest
import torch
from sklearn.metrics import log_loss, mean_squared_error
from torch import nn

from glmprobe.train.data import Arrays, Feeder
from glmprobe.train.fit import FitConfig, fit, masked_loss, predict
from glmprobe.train.seeding import seed_everything


def linear_data(n=300, d=8, t=2, seed=0, binary=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = X @ rng.normal(size=(d, t))
    if binary:
        y = (y + rng.normal(size=y.shape) > 0).astype(np.float32)
    return X, y.astype(np.float32)


def arrays(X, y):
    return Arrays(X, y, np.arange(len(y)).astype(str))


def mlp(d=8, t=2, seed=0):
    seed_everything(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, t))


def weights(model):
    return [p.detach().clone() for p in model.state_dict().values()]


def test_masked_mse_ignores_nan_targets():
    y = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, 5.0]], np.float32)
    out = np.array([[0.5, 9.0], [2.5, 1.0], [7.0, 4.0]], np.float32)
    got = float(masked_loss(torch.tensor(out), torch.tensor(y), "regression"))
    m = ~np.isnan(y)
    assert got == pytest.approx(mean_squared_error(y[m], out[m]), rel=1e-6)


def test_masked_bce_is_with_logits():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 1)).astype(np.float32)
    y = (rng.random((50, 1)) > 0.5).astype(np.float32)
    got = float(masked_loss(torch.tensor(logits), torch.tensor(y), "binary"))
    assert got == pytest.approx(log_loss(y[:, 0], 1 / (1 + np.exp(-logits[:, 0]))), rel=1e-5)


def test_same_seed_same_weights_and_other_seed_differs():
    X, y = linear_data()
    tr, va = arrays(X[:200], y[:200]), arrays(X[200:], y[200:])
    cfg = FitConfig(max_epochs=4, batch_size=32, seed=3)
    a = fit(mlp(seed=3), tr, va, "regression", cfg)
    b = fit(mlp(seed=3), tr, va, "regression", cfg)
    c = fit(mlp(seed=4), tr, va, "regression", FitConfig(max_epochs=4, batch_size=32, seed=4))
    assert all(torch.equal(p, q) for p, q in zip(weights(a.model), weights(b.model)))
    assert not all(torch.equal(p, q) for p, q in zip(weights(a.model), weights(c.model)))
    assert [h["val_loss"] for h in a.history] == [h["val_loss"] for h in b.history]


def test_learns_and_restores_best_epoch():
    X, y = linear_data(n=400)
    y[::5, 1] = np.nan
    tr, va = arrays(X[:300], y[:300]), arrays(X[300:], y[300:])
    res = fit(mlp(), tr, va, "regression", FitConfig(max_epochs=30, lr=1e-2, batch_size=32))
    losses = [h["val_loss"] for h in res.history]
    assert res.best_epoch == int(np.argmin(losses)) + 1
    assert res.best_val_loss == pytest.approx(min(losses))
    # the returned weights are the best epoch's: re-evaluating gives the best loss
    pred = predict(res.model, va.X)
    m = ~np.isnan(va.y)
    assert mean_squared_error(va.y[m], pred[m]) == pytest.approx(res.best_val_loss, rel=1e-4)
    assert losses[-1] < 0.5 * losses[0]


class Frozen(nn.Module):
    """Constant output whatever its (unused) weight: validation loss never improves."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.zeros(len(x), 1) + 0 * self.w


def test_early_stopping_patience_and_lr_plateau():
    X, y = linear_data(t=1)
    tr, va = arrays(X[:200], y[:200]), arrays(X[200:], y[200:])
    cfg = FitConfig(max_epochs=50, patience=6, lr_patience=2, lr_factor=0.5, lr=0.1, min_lr=0.03)
    res = fit(Frozen(), tr, va, "regression", cfg)
    assert len(res.history) == 1 + 6 and res.best_epoch == 1
    # Keras/PyTorch plateau: reduce after lr_patience+1 bad epochs, floor at min_lr
    assert [h["lr"] for h in res.history] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05])
    cfg2 = FitConfig(max_epochs=20, patience=100, lr_patience=0, lr_factor=0.5, lr=0.1, min_lr=0.03)
    assert fit(Frozen(), tr, va, "regression", cfg2).history[-1]["lr"] == pytest.approx(0.03)


def test_h5py_fp16_and_memmap_inputs_match_in_memory(tmp_path):
    X, y = linear_data()
    X16 = X.astype(np.float16)
    with h5py.File(tmp_path / "x.h5", "w") as h:
        h["X"] = X16
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float16, shape=X16.shape)
    mm[:] = X16
    cfg = FitConfig(max_epochs=3, batch_size=32)
    ref = fit(mlp(), arrays(X16[:200].astype(np.float32), y[:200]), arrays(X16[200:].astype(np.float32), y[200:]),
              "regression", cfg)
    with h5py.File(tmp_path / "x.h5", "r") as h:
        d = h["X"]
        # h5py needs sorted index reads: the Feeder must sort each batch itself
        xb, _ = Feeder(arrays(d, y), "cpu").batch(np.array([7, 2, 5]))
        assert xb.dtype == torch.float32 and torch.equal(xb, torch.tensor(X16[[2, 5, 7]].astype(np.float32)))
        from glmprobe.train.data import split_arrays
        parts = split_arrays(d, y, np.arange(300), np.array(["train"] * 200 + ["valid"] * 100))
        got = fit(mlp(), parts["train"], parts["valid"], "regression", cfg)
    got_mm = fit(mlp(), arrays(mm[:200], y[:200]), arrays(mm[200:], y[200:]), "regression", cfg)
    for other in (got, got_mm):
        assert all(torch.equal(p, q) for p, q in zip(weights(ref.model), weights(other.model)))


def test_binary_fit_beats_chance_and_predict_returns_logits():
    X, y = linear_data(n=500, t=1, binary=True)
    tr, va = arrays(X[:400], y[:400]), arrays(X[400:], y[400:])
    res = fit(mlp(t=1), tr, va, "binary", FitConfig(max_epochs=15, lr=1e-2, batch_size=64))
    logits = predict(res.model, va.X)
    assert logits.min() < 0 < logits.max()  # raw logits, not probabilities
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(va.y[:, 0], logits[:, 0]) > 0.8


class PruneNow:
    def __init__(self):
        self.reports = []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= 2


def test_trial_reports_each_epoch_and_prunes():
    X, y = linear_data()
    trial = PruneNow()
    with pytest.raises(optuna.TrialPruned):
        fit(mlp(), arrays(X[:200], y[:200]), arrays(X[200:], y[200:]), "regression", FitConfig(max_epochs=10),
            trial=trial)
    assert [s for s, _ in trial.reports] == [1, 2]


def test_arrays_rejects_misaligned_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        Arrays(np.zeros((3, 2)), np.zeros((4, 1)), np.arange(3))
