"""diff_KL (the study's splicing loss) in the fit loop (issue 9, defect 6)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit, rel_entr
from scipy.stats import spearmanr

from glmprobe.train.data import Arrays, Feeder
from glmprobe.train.fit import FitConfig, fit, masked_loss, predict
from glmprobe.train.losses import diff_kl


def _reference(pred, delta, mean):
    """KL of Bernoulli distributions from scipy, probabilities clipped at 1e-5, mean over observed."""
    obs = ~np.isnan(delta)
    p = np.clip(expit(delta[obs] + mean[obs]), 1e-5, 1 - 1e-5)
    q = np.clip(expit(pred[obs] + mean[obs]), 1e-5, 1 - 1e-5)
    return float(np.mean(rel_entr(p, q) + rel_entr(1 - p, 1 - q)))


def test_diff_kl_matches_scipy_and_masks_nan():
    rng = np.random.default_rng(0)
    delta = rng.normal(scale=2, size=(64, 7))
    delta[rng.random(delta.shape) < 0.3] = np.nan
    mean = rng.normal(scale=3, size=(64, 7))
    mean[np.isnan(delta) & (rng.random(delta.shape) < 0.5)] = np.nan    # NaN offsets where unobserved are fine
    pred = rng.normal(scale=2, size=(64, 7))
    pred[0, 0] = 40.0                                                    # saturates: the clip matters
    y = torch.tensor(np.stack([delta, mean], -1), dtype=torch.float32)
    out = torch.tensor(pred, dtype=torch.float32, requires_grad=True)
    got = diff_kl(out, y)
    assert abs(float(got.detach()) - _reference(pred, delta, mean)) < 1e-5
    got.backward()
    assert torch.isfinite(out.grad).all() and (out.grad[torch.isnan(y[..., 0])] == 0).all()
    summed = masked_loss(out, y, "regression", reduction="sum", loss="diff_kl")
    assert abs(float(summed.detach()) / int((~np.isnan(delta)).sum()) - float(got.detach())) < 1e-5


def test_feeder_stacks_offsets_for_the_loss():
    y = np.arange(6, dtype=np.float32).reshape(3, 2)
    data = Arrays(np.zeros((3, 5), np.float32), y, np.array(["a", "b", "c"]), offsets=-y)
    _, yb = Feeder(data).batch(np.array([2, 0]))
    assert yb.shape == (2, 2, 2)
    np.testing.assert_array_equal(yb[..., 0].numpy(), y[[0, 2]])
    np.testing.assert_array_equal(yb[..., 1].numpy(), -y[[0, 2]])


def test_fit_with_diff_kl_learns_delta_logits():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(6, 4))

    def split(n, seed):
        r = np.random.default_rng(seed)
        X = r.normal(size=(n, 6)).astype(np.float32)
        delta = X @ w
        delta[r.random(delta.shape) < 0.2] = np.nan
        return Arrays(X, delta, np.array([f"r{i}" for i in range(n)]), offsets=r.normal(size=(n, 4)))

    train, valid = split(256, 2), split(64, 3)
    torch.manual_seed(0)
    res = fit(torch.nn.Linear(6, 4), train, valid, "regression",
              FitConfig(lr=5e-2, batch_size=64, max_epochs=40, loss="diff_kl"))
    assert "val_spearman" in res.history[-1] and res.history[-1]["val_spearman"] > 0.9
    pred = predict(res.model, valid.X)
    for t in range(4):
        obs = ~np.isnan(valid.y[:, t])
        assert spearmanr(valid.y[obs, t], pred[obs, t])[0] > 0.9
