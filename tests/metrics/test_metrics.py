"""Metrics against scipy.stats / sklearn.metrics, NaN masking, edge cases and confidence intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from glmprobe.train.metrics import bootstrap_ci, compute_metrics, replicate_ci

REF_REGRESSION = {
    "pearson": lambda y, s: stats.pearsonr(y, s)[0],
    "spearman": lambda y, s: stats.spearmanr(y, s)[0],
    "mse": skm.mean_squared_error,
    "r2": skm.r2_score,
}
REF_BINARY = {  # scores are logits: threshold 0
    "auroc": skm.roc_auc_score,
    "auprc": skm.average_precision_score,
    "accuracy": lambda y, s: skm.accuracy_score(y, s > 0),
    "mcc": lambda y, s: skm.matthews_corrcoef(y, s > 0),
}


def _regression_data(seed=0, n=300, t=3, missing=0.2):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, t))
    s = 0.7 * y + rng.normal(size=(n, t))
    s[:, 0] = np.round(s[:, 0], 1)  # ties for Spearman
    y[rng.random((n, t)) < missing] = np.nan
    return y, s


def _binary_data(seed=0, n=400, t=3, missing=0.15):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, t)) < [0.2, 0.5, 0.05][:t]).astype(float)
    s = 1.2 * y - 0.6 + rng.normal(size=(n, t))
    s[:, -1] = np.round(s[:, -1])  # many tied scores: AUROC/AUPRC tie handling
    y[rng.random((n, t)) < missing] = np.nan
    return y, s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regression_matches_scipy_sklearn_with_nan_masking(seed):
    y, s = _regression_data(seed)
    names = ["a", "b", "c"]
    out = compute_metrics(y, s, "regression", names, prefix="valid")
    for metric, ref in REF_REGRESSION.items():
        per = []
        for j, name in enumerate(names):
            m = ~np.isnan(y[:, j])
            expected = ref(y[m, j], s[m, j])
            assert out[f"valid_{metric}/{name}"] == pytest.approx(expected, rel=1e-9, abs=1e-12), (metric, name)
            per.append(expected)
        assert out[f"valid_{metric}"] == pytest.approx(np.mean(per), rel=1e-9)
    assert out["valid_n_targets_scored"] == 3
    assert out["valid_n"] == int((~np.isnan(y)).any(1).sum())
    assert [out[f"valid_n/{n}"] for n in names] == (~np.isnan(y)).sum(0).tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_matches_sklearn_from_logits(seed):
    y, s = _binary_data(seed)
    names = ["t0", "t1", "t2"]
    out = compute_metrics(y, s, "multilabel", names)
    for metric, ref in REF_BINARY.items():
        for j, name in enumerate(names):
            m = ~np.isnan(y[:, j])
            assert out[f"test_{metric}/{name}"] == pytest.approx(ref(y[m, j], s[m, j]), rel=1e-9, abs=1e-12), \
                (metric, name)
    assert set(out) >= {"test_auroc", "test_auprc", "test_accuracy", "test_mcc", "test_n", "test_n_targets_scored"}


def test_probabilities_use_threshold_half_and_same_ranking_metrics():
    y, logits = _binary_data(3, t=1)
    probs = 1 / (1 + np.exp(-logits))
    a = compute_metrics(y, logits, "binary", ["x"])
    b = compute_metrics(y, probs, "binary", ["x"], scores="probabilities")
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-9), key
    # Reading probabilities as logits (threshold 0) would call everything positive: the argument matters.
    wrong = compute_metrics(y, probs, "binary", ["x"])
    m = ~np.isnan(y[:, 0])
    assert wrong["test_accuracy"] == pytest.approx(y[m, 0].mean())


def test_scores_not_hard_labels_change_auroc():
    """The study's bug: AUROC from hard labels. Continuous scores give sklearn's score-based AUROC."""
    y, s = _binary_data(4, t=1, missing=0)
    out = compute_metrics(y, s, "binary", ["x"])
    assert out["test_auroc"] == pytest.approx(skm.roc_auc_score(y[:, 0], s[:, 0]))
    assert out["test_auroc"] != pytest.approx(skm.roc_auc_score(y[:, 0], s[:, 0] > 0))


def test_one_dimensional_input_and_perfect_scores():
    y = np.array([0, 0, 1, 1, 0, 1], float)
    out = compute_metrics(y, y * 4 - 2, "binary", ["only"], prefix="train")
    assert out["train_auroc"] == out["train_auprc"] == out["train_accuracy"] == out["train_mcc"] == 1.0
    r = compute_metrics(np.arange(5.0), np.arange(5.0) * 3 + 1, "regression", ["r"])
    assert r["test_pearson"] == pytest.approx(1.0) and r["test_spearman"] == pytest.approx(1.0)
    assert r["test_mse"] == pytest.approx(np.mean((np.arange(5.0) * 2 + 1) ** 2))


def test_unscorable_targets_are_nan_and_excluded_from_the_mean():
    rng = np.random.default_rng(5)
    y = (rng.random((50, 4)) < 0.5).astype(float)
    s = rng.normal(size=(50, 4)) + y
    y[:, 1] = 1.0                 # one class only
    y[1:, 2] = np.nan             # one observed value
    y[:, 3] = np.nan              # nothing observed
    out = compute_metrics(y, s, "binary", ["ok", "one_class", "one_value", "empty"])
    for metric in ("auroc", "auprc", "accuracy", "mcc"):
        assert out[f"test_{metric}"] == pytest.approx(out[f"test_{metric}/ok"])
        for bad in ("one_class", "one_value", "empty"):
            assert math.isnan(out[f"test_{metric}/{bad}"])
    assert out["test_n_targets_scored"] == 1
    assert out["test_n/empty"] == 0 and out["test_n/one_value"] == 1

    # Regression: a single observation or a constant column cannot be correlated.
    yr = rng.normal(size=(30, 3))
    yr[1:, 0] = np.nan
    yr[:, 1] = 2.5
    sr = rng.normal(size=(30, 3))
    r = compute_metrics(yr, sr, "regression", ["single", "constant", "ok"])
    assert math.isnan(r["test_pearson/single"]) and math.isnan(r["test_mse/single"])
    assert math.isnan(r["test_pearson/constant"]) and math.isnan(r["test_r2/constant"])
    assert r["test_mse/constant"] == pytest.approx(skm.mean_squared_error(yr[:, 1], sr[:, 1]))
    assert r["test_pearson"] == pytest.approx(r["test_pearson/ok"])
    assert r["test_n_targets_scored"] == 2  # "constant" still has an MSE


def test_constant_predictions_give_nan_correlation_not_garbage():
    y = np.linspace(0, 1, 20)
    out = compute_metrics(y, np.full(20, 0.1), "regression", ["t"])  # 0.1 is not exact in binary
    assert math.isnan(out["test_pearson"]) and math.isnan(out["test_spearman"])
    tiny = compute_metrics(y * 1e-9, y * 1e-9 + 1e-10, "regression", ["t"])  # small scale is not "constant"
    assert tiny["test_pearson"] == pytest.approx(1.0)


def test_nonfinite_scores_make_the_target_nan():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    out = compute_metrics(y, np.array([0.0, np.nan, 1.0, 2.0]), "regression", ["t"])
    assert math.isnan(out["test_pearson"]) and out["test_n_targets_scored"] == 0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="0/1"):
        compute_metrics(np.array([0.0, 2.0]), np.array([0.1, 0.2]), "binary", ["t"])
    with pytest.raises(ValueError, match="target names"):
        compute_metrics(np.zeros((3, 2)), np.zeros((3, 2)), "regression", ["a"])
    with pytest.raises(ValueError, match="must both be"):
        compute_metrics(np.zeros((3, 2)), np.zeros((4, 2)), "regression", ["a", "b"])
    with pytest.raises(ValueError, match="unknown task"):
        compute_metrics(np.zeros(3), np.zeros(3), "ranking", ["a"])
    with pytest.raises(ValueError, match="scores"):
        compute_metrics(np.zeros(3), np.zeros(3), "binary", ["a"], scores="odds")


def test_replicate_ci_is_the_student_t_interval():
    v = [0.61, 0.64, 0.58, 0.66, 0.60]
    lo, hi = replicate_ci(v, level=0.9)
    ref = stats.t.interval(0.9, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert (lo, hi) == pytest.approx(ref, rel=1e-12)
    assert replicate_ci([0.5, np.nan, 0.7]) == pytest.approx(
        stats.t.interval(0.95, 1, loc=0.6, scale=stats.sem([0.5, 0.7])))
    assert all(math.isnan(x) for x in replicate_ci([0.4]))
    assert all(math.isnan(x) for x in replicate_ci([]))
    assert replicate_ci([0.3, 0.3, 0.3]) == (0.3, 0.3)


def _naive_bootstrap(y, s, task, metric, n_boot, seed, level):
    """Reference: the same resampling indices, scored target by target with scipy/sklearn."""
    ref = (REF_REGRESSION if task == "regression" else REF_BINARY)[metric]
    rng = np.random.default_rng(seed)
    vals = []
    for b in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        per = []
        for j in range(y.shape[1]):
            yy, ss = y[idx, j], s[idx, j]
            m = ~np.isnan(yy)
            if m.sum() >= 2 and (task == "regression" or len(np.unique(yy[m])) == 2):
                per.append(ref(yy[m], ss[m]))
        if per:
            vals.append(np.mean(per))
    a = (1 - level) / 2
    return tuple(np.quantile(vals, [a, 1 - a]))


@pytest.mark.parametrize("task,metric", [("regression", "pearson"), ("regression", "spearman"),
                                         ("regression", "r2"), ("binary", "auroc"), ("binary", "auprc"),
                                         ("binary", "mcc")])
def test_bootstrap_matches_a_naive_loop(task, metric):
    y, s = (_regression_data(7, n=60, t=2) if task == "regression" else _binary_data(7, n=80, t=2))
    got = bootstrap_ci(y, s, task, metric, n_boot=150, seed=3, level=0.9)
    assert got == pytest.approx(_naive_bootstrap(y, s, task, metric, 150, 3, 0.9), rel=1e-9)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    y, s = _regression_data(8, n=500, t=1)
    a = bootstrap_ci(y, s, "regression", "pearson", n_boot=400, seed=1)
    assert a == bootstrap_ci(y, s, "regression", "pearson", n_boot=400, seed=1)
    assert a != bootstrap_ci(y, s, "regression", "pearson", n_boot=400, seed=2)
    est = compute_metrics(y, s, "regression", ["t"])["test_pearson"]
    assert a[0] < est < a[1] and a[1] - a[0] < 0.25
    narrow = bootstrap_ci(y, s, "regression", "pearson", n_boot=400, seed=1, level=0.5)
    assert a[0] < narrow[0] < narrow[1] < a[1]


def test_bootstrap_degenerate_cases():
    with pytest.raises(ValueError, match="not defined"):
        bootstrap_ci(np.zeros(5), np.zeros(5), "regression", "auroc")
    assert all(math.isnan(x) for x in bootstrap_ci(np.ones(10), np.arange(10.0), "binary", "auroc", n_boot=20))
    assert all(math.isnan(x) for x in bootstrap_ci(np.zeros((0, 1)), np.zeros((0, 1)), "regression", "mse"))


def test_replicate_ci_is_clipped_to_the_metric_range():
    from glmprobe.train.metrics import metric_name, replicate_ci

    lo, hi = replicate_ci([0.3, 0.99], metric="auroc")  # t(1 df) makes this interval huge
    assert lo == 0.0 and hi == 1.0
    lo, hi = replicate_ci([0.3, 0.99])
    assert lo < 0 and hi > 1  # unclipped without a metric
    assert metric_name("test_pearson/cellA") == "pearson" and metric_name("valid_auroc") == "auroc"
