"""Paired bootstrap tests: values against a brute-force scipy/sklearn loop, power and calibration, Holm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from glmprobe.errors import UserError
from glmprobe.report import paired as P
from glmprobe.report import verdicts as V


def _tp(y, scores, ids=None):
    y = np.asarray(y, float).reshape(len(y), -1)
    scores = np.asarray(scores, float).reshape(len(scores), len(y), -1)
    ids = np.asarray(ids if ids is not None else [f"s{i}" for i in range(len(y))], dtype=object)
    return P.TestPredictions(ids, y, scores, [f"t{j}" for j in range(y.shape[1])])


def _brute(a, b, task, n_boot, seed):
    """The same resampling, one replicate at a time with scipy/sklearn."""
    n = len(a.ids)
    idx, (sa, sb) = P._draws(n, (a.scores.shape[0], b.scores.shape[0]), n_boot, seed)
    f = (lambda y, s: stats.pearsonr(y, s)[0]) if task == "regression" else roc_auc_score
    da = np.array([f(a.y[i, 0], a.scores[k, i, 0]) for i, k in zip(idx, sa)])
    db = np.array([f(b.y[i, 0], b.scores[k, i, 0]) for i, k in zip(idx, sb)])
    return da, db


@pytest.mark.parametrize("task,metric", [("regression", "pearson"), ("binary", "auroc")])
def test_paired_bootstrap_matches_brute_force(task, metric):
    rng = np.random.default_rng(1)
    n = 60
    y = rng.normal(size=n) if task == "regression" else (rng.random(n) < 0.5).astype(float)
    a = _tp(y, [y + rng.normal(0, 0.5, n) for _ in range(3)])
    b = _tp(y, [y + rng.normal(0, 1.5, n)])
    res = P.paired_test(a, b, task, metric, n_boot=200, seed=7)
    da, db = _brute(a, b, task, 200, 7)
    d = da - db
    assert res.diff.low == pytest.approx(np.quantile(d, 0.025), abs=1e-9)
    assert res.diff.high == pytest.approx(np.quantile(d, 0.975), abs=1e-9)
    assert res.a.low == pytest.approx(np.quantile(da, 0.025), abs=1e-9)
    f = (lambda yy, s: stats.pearsonr(yy, s)[0]) if task == "regression" else roc_auc_score
    assert res.a.estimate == pytest.approx(np.mean([f(y, s[:, 0]) for s in a.scores]), abs=1e-9)
    expected_p = min(1.0, 2 * min((np.sum(d <= 0) + 1) / 201, (np.sum(d >= 0) + 1) / 201))
    assert res.p == pytest.approx(expected_p)
    assert res.p < 0.05 and res.diff.estimate > 0 and res.n == n


def test_no_difference_is_not_called_significant_at_the_nominal_rate():
    """Two equally good models on 30 independent test sets: rejections stay near 5 %."""
    rejections = 0
    for rep in range(30):
        rng = np.random.default_rng(100 + rep)
        y = rng.normal(size=80)
        a, b = _tp(y, [y + rng.normal(0, 1, 80)]), _tp(y, [y + rng.normal(0, 1, 80)])
        rejections += P.paired_test(a, b, "regression", "pearson", n_boot=300, seed=rep).p < 0.05
    assert rejections <= 5


def test_pairs_on_shared_ids_and_refuses_different_datasets():
    y = np.linspace(0, 1, 20)
    a = _tp(y, [y + 0.01 * np.arange(20) % 3])
    b = _tp(y[::-1], [y[::-1]], ids=[f"s{i}" for i in range(20)][::-1])   # same rows, other order
    assert P.paired_test(a, b, "regression", "pearson", n_boot=50).n == 20
    c = _tp(y + 1, [y])
    with pytest.raises(UserError, match="disagree on 20 test target"):
        P.paired_test(a, c, "regression", "pearson", n_boot=50)
    d = _tp(y, [y], ids=[f"x{i}" for i in range(20)])
    with pytest.raises(UserError, match="share fewer than 2 test sequences"):
        P.paired_test(a, d, "regression", "pearson", n_boot=50)


def test_holm_adjustment_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, np.nan, 0.005]
    adj = P.holm(p)
    # sorted finite: 0.005 (x4), 0.01 (x3), 0.03 (x2), 0.04 (x1), running max
    assert adj[4] == pytest.approx(0.02) and adj[0] == pytest.approx(0.03)
    assert adj[2] == pytest.approx(0.06) and adj[1] == pytest.approx(0.06) and np.isnan(adj[3])


def test_load_test_predictions_pools_seeds(tmp_path):
    from glmprobe.record import make_record, write_record

    rows = [{"id": f"s{i}", "split": split, "seed": seed, "target": t, "y_true": i + j, "y_pred": i + j + seed}
            for split in ("valid", "test") for seed in (0, 1) for i in range(4) for j, t in enumerate(["a", "b"])]
    pd.DataFrame(rows).to_csv(tmp_path / "predictions.csv", index=False)
    write_record(tmp_path, make_record("baseline", "b/x", artifacts={"predictions": "predictions.csv"}))
    tp = P.load_test_predictions(tmp_path)
    assert tp.scores.shape == (2, 4, 2) and tp.targets == ["a", "b"]
    assert tp.scores[1, 3, 1] == 3 + 1 + 1 and tp.y[2, 0] == 2


def test_comparison_conclusion_uses_the_adjusted_p():
    a = pd.Series({"stage": "probe", "model": "g", "layer": 1, "pooling": "mean", "head": "mlp"})
    b = pd.Series({"stage": "baseline", "model": "resnet"})
    iv = P.Interval(0.5, 0.4, 0.6)
    res = P.PairedResult(iv, iv, P.Interval(-0.1, -0.15, -0.05), 0.01, 100, 2000)
    c = V.Comparison("d", "pearson", "q", a, b, res)
    V.adjust([c, V.Comparison("d", "pearson", "q2", a, b, P.PairedResult(iv, iv, iv, 0.03, 100, 2000))])
    assert c.p_adjusted == pytest.approx(0.02) and c.conclusion() == "resnet better"
    c.p_adjusted = 0.2
    assert c.conclusion() == "no significant difference"
