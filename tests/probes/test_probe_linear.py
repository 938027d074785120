"""The linear head: closed-form ridge path == sklearn per alpha; logistic path; valid selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge

from glmprobe.errors import UserError
from glmprobe.heads import linear
from glmprobe.train.data import Arrays
from glmprobe.train.tune import TuneOptions


def _data(n, d, t=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.normal(size=d)
    W = rng.normal(size=(d, t))
    return X, X @ W + rng.normal(size=(n, t)) + 5.0


@pytest.mark.parametrize("n,d", [(60, 8), (20, 40)])   # tall and wide (n < d) matrices
def test_ridge_path_equals_sklearn_ridge_for_every_alpha(n, d):
    X, Y = _data(n, d, t=2)
    Xe = np.random.default_rng(1).normal(size=(7, d))
    coef, intercept, preds = linear.ridge_path(X, Y, linear.ALPHAS, Xe)
    for a, alpha in enumerate(linear.ALPHAS):
        ref = Ridge(alpha=alpha, fit_intercept=True).fit(X, Y)
        np.testing.assert_allclose(coef[a], ref.coef_.T, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(intercept[a], ref.intercept_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(preds[a], ref.predict(Xe), rtol=1e-6, atol=1e-8)


def test_ridge_with_unobserved_targets_fits_each_on_its_observed_rows():
    X, Y = _data(50, 5, t=3)
    Y[::4, 1] = np.nan          # target 1 misses every 4th row; targets 0 and 2 share a pattern
    Xv, Yv = _data(20, 5, t=3, seed=2)
    coef, intercept, val_loss = linear.fit_ridge(X, Y, Xv, Yv, [0.1, 10.0])
    rows = ~np.isnan(Y[:, 1])
    ref = Ridge(alpha=10.0).fit(X[rows], Y[rows, 1])
    np.testing.assert_allclose(coef[1, :, 1], ref.coef_, rtol=1e-6)
    np.testing.assert_allclose(val_loss[1, 1], np.mean((ref.predict(Xv) - Yv[:, 1]) ** 2), rtol=1e-6)


def test_fit_linear_selects_alpha_on_valid_and_standardises_with_train_stats():
    X, Y = _data(80, 6, t=2)
    tr = Arrays(X[:50].astype(np.float32), Y[:50], np.arange(50))
    va = Arrays(X[50:].astype(np.float32), Y[50:], np.arange(30))
    model, best, val_loss = linear.fit_linear(tr, va, "regression")
    assert list(best) == list(np.argmin(val_loss, axis=0))          # argmin per target
    Xtr = X[:50].astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(model.mean.numpy(), Xtr.mean(0), rtol=1e-5)   # train statistics only
    np.testing.assert_allclose(model.scale.numpy(), Xtr.std(0), rtol=1e-5)
    ref = Ridge(alpha=linear.ALPHAS[best[0]]).fit((Xtr - Xtr.mean(0)) / Xtr.std(0), Y[:50, 0])
    out = model(torch.from_numpy(X[50:].astype(np.float32))).detach().numpy()[:, 0]
    np.testing.assert_allclose(out, ref.predict((X[50:].astype(np.float32) - Xtr.mean(0)) / Xtr.std(0)), rtol=1e-4,
                               atol=1e-4)


def test_a_noisy_problem_picks_a_stronger_penalty_than_a_clean_one():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 30))
    clean = X[:, :1] * 3
    noisy = rng.normal(size=(60, 1)) * 5 + X[:, :1] * 0.1
    tr = lambda y: Arrays(X[:40], y[:40], np.arange(40))  # noqa: E731
    va = lambda y: Arrays(X[40:], y[40:], np.arange(20))  # noqa: E731
    _, best_clean, _ = linear.fit_linear(tr(clean), va(clean), "regression")
    _, best_noisy, _ = linear.fit_linear(tr(noisy), va(noisy), "regression")
    assert best_noisy[0] > best_clean[0]


def test_logistic_path_matches_cold_sklearn_fits_and_scores_with_logits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(np.float64)[:, None]
    alphas = np.array([0.01, 1.0, 100.0])
    coef, intercept, val_loss = linear.fit_logistic(X[:80], y[:80], X[80:], y[80:], alphas)
    for a, alpha in enumerate(alphas):
        ref = LogisticRegression(C=1 / alpha, max_iter=5000, tol=1e-10).fit(X[:80], y[:80, 0])
        np.testing.assert_allclose(coef[a, :, 0], ref.coef_[0], rtol=1e-3, atol=1e-3)
        z = ref.decision_function(X[80:])
        p = 1 / (1 + np.exp(-z))
        expected = -np.mean(y[80:, 0] * np.log(p) + (1 - y[80:, 0]) * np.log(1 - p))
        np.testing.assert_allclose(val_loss[a, 0], expected, rtol=1e-3)


def test_tune_gives_the_tuner_result_shape_with_the_alpha_grid_as_trials():
    X, Y = _data(90, 4)
    data = {s: Arrays(X[sl].astype(np.float32), Y[sl], np.arange(90)[sl].astype(str))
            for s, sl in (("train", slice(0, 50)), ("valid", slice(50, 70)), ("test", slice(70, 90)))}
    res = linear.tune(data, "regression", TuneOptions(), target_names=["y"])
    assert len(res.trials) == len(linear.ALPHAS) and set(res.trials["state"]) == {"COMPLETE"}
    assert res.best_params["alpha"] in linear.ALPHAS
    assert res.best_value == pytest.approx(res.trials["value"].min())
    (rep,) = res.replicates
    assert rep.predictions["test"].shape == (20, 1)
    assert rep.metrics["test_pearson"] > 0.9   # a planted linear signal


def test_binary_tune_reports_auroc_from_decision_values_not_labels():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 4)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=150) > 0).astype(np.float32)[:, None]
    data = {s: Arrays(X[sl], y[sl], np.arange(150)[sl].astype(str))
            for s, sl in (("train", slice(0, 90)), ("valid", slice(90, 120)), ("test", slice(120, 150)))}
    res = linear.tune(data, "binary", TuneOptions(), target_names=["b"])
    pred = res.replicates[0].predictions["test"]
    assert len(np.unique(pred)) > 2                  # continuous scores, not hard labels
    from sklearn.metrics import roc_auc_score
    assert res.replicates[0].metrics["test_auroc"] == pytest.approx(roc_auc_score(y[120:, 0], pred[:, 0]))


def test_fixed_study_penalty_replaces_the_grid():
    X, Y = _data(90, 4)
    data = {s: Arrays(X[sl].astype(np.float32), Y[sl], np.arange(90)[sl].astype(str))
            for s, sl in (("train", slice(0, 50)), ("valid", slice(50, 70)), ("test", slice(70, 90)))}
    res = linear.tune(data, "regression", TuneOptions(fixed="study"), target_names=["y"])
    assert res.best_params["alpha"] == 1e-3 and list(res.trials["alpha"]) == [1e-3]   # the study's Ridge(1e-3)
    res = linear.tune(data, "regression", TuneOptions(fixed={"alpha": 10.0}), target_names=["y"])
    assert res.best_params["alpha"] == 10.0
    res = linear.tune(data, "regression", TuneOptions(fixed={"lr": 0.1}), target_names=["y"])
    assert res.best_params["alpha"] == 1e-3              # other heads' keys leave the study's alpha
    with pytest.raises(UserError, match="alpha must be a number"):
        linear.tune(data, "regression", TuneOptions(fixed={"alpha": "big"}), target_names=["y"])
