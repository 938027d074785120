"""Issue 9, defect 8: contestants trained alike, trial 0 = the study's per-task, per-model setting,
the study's linear fit on raw features, --timeout bounding the search, per-epoch history."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from torch import nn

from glmprobe.heads import chip_cnn, deepstarr, linear, mlp, mpraann, rep_cnn, resnet
from glmprobe.heads.augment import RCAugment, reverse_complement, with_rc
from glmprobe.train.data import Arrays
from glmprobe.train.fit import FitConfig, fit
from glmprobe.train.tune import (
    PROTOCOL,
    TuneOptions,
    refit_budget,
    shared_space,
    study_settings,
    tune_and_replicate,
    with_study,
)

LOOP_KEYS = ("patience", "lr_patience", "lr_factor", "min_lr", "grad_clip")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 6)).astype(np.float32)
    y = (X @ rng.normal(size=(6, 1)) + 0.3 * rng.normal(size=(240, 1))).astype(np.float32)
    ids = np.array([f"s{i}" for i in range(240)])
    cut = {"train": slice(0, 160), "valid": slice(160, 200), "test": slice(200, 240)}
    return {k: Arrays(X[s], y[s], ids[s]) for k, s in cut.items()}


def build(hp):
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 1))


def _trial_hps(study: dict, data) -> list[dict]:
    opts = with_study(TuneOptions(trials=3, replicates=1, max_epochs=2, pruner="none"), study)
    res = tune_and_replicate(build, shared_space, data, "regression", opts)
    return [json.loads(p) for p in res.trials.params]


def test_searched_trials_share_one_protocol_whatever_the_contestant(data):
    # ResNet's study loop (no clipping, floor 1e-6) vs the lentiMPRA MLP's (floor 1e-8)
    hp_resnet, hp_mlp = _trial_hps(resnet.STUDY, data), _trial_hps(mlp.study("regression"), data)
    assert hp_resnet[0]["grad_clip"] is None and hp_mlp[0]["min_lr"] == 1e-8   # trial 0: the study's own
    for hps in (hp_resnet, hp_mlp):
        for hp in hps[1:]:
            assert {k: hp[k] for k in LOOP_KEYS} == {k: PROTOCOL[k] for k in LOOP_KEYS}


@pytest.mark.parametrize("module,task,family,want", [
    (rep_cnn, "regression", "gpn", {"reduce_dim": 128, "lr": 1e-4, "batch_size": 64, "min_lr": 1e-8}),
    (rep_cnn, "regression", "hyenadna", {"reduce_dim": 128, "lr": 1e-4, "batch_size": 64, "min_lr": 1e-8}),
    (rep_cnn, "regression", "nt", {"reduce_dim": 196, "lr": 1e-4, "batch_size": 256, "min_lr": 1e-8}),
    (rep_cnn, "regression", "onehot", {"reduce_dim": 196, "lr": 1e-3, "batch_size": 128, "min_lr": 1e-6}),
    (mlp, "regression", "nt", {"lr": 1e-4, "batch_size": 512, "min_lr": 1e-8}),
    (mlp, "binary", "nt", {"lr": 1e-3, "batch_size": 256, "min_lr": 1e-6}),
    (chip_cnn, "binary", "gpn", {"lr": 1e-3, "batch_size": 256, "min_lr": 1e-6, "reduce_dim": 512}),
    (resnet, "regression", "onehot", {"lr": 1e-3, "batch_size": 128, "min_lr": 1e-6, "grad_clip": None}),
    (mpraann, "binary", "onehot", {"lr": 1e-3, "batch_size": 256, "min_lr": 1e-6}),
    (deepstarr, "regression", "onehot", {"lr": 2e-3, "batch_size": 128}),
])
def test_trial0_is_the_study_setting_for_this_task_and_model(module, task, family, want):
    got = study_settings(module, task, family)
    assert {k: got[k] for k in want} == want
    assert got["grad_clip"] is None and got["patience"] == 10 and got["lr_patience"] == 5


def test_linear_fixed_study_is_sklearn_on_raw_features():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5)) * np.array([1, 10, 100, 0.1, 5])   # scales differ: standardising matters
    y = X @ rng.normal(size=5) * 0.01 + rng.normal(size=200)
    yb = (y > np.median(y)).astype(np.float32)
    ids = np.arange(200).astype(str)
    split = lambda yy: {"train": Arrays(X[:120], yy[:120], ids[:120]), "valid": Arrays(X[120:160], yy[120:160], ids[120:160]),
                        "test": Arrays(X[160:], yy[160:], ids[160:])}
    opts = TuneOptions(fixed="study")
    res = linear.tune(split(y), "regression", opts, target_names=["t"])
    want = Ridge(alpha=1e-3).fit(X[:120], y[:120]).predict(X[160:])
    assert np.allclose(res.replicates[0].predictions["test"][:, 0], want, atol=1e-6)
    res = linear.tune(split(yb), "binary", opts, target_names=["t"])
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(X[:120], yb[:120])
    assert np.allclose(res.replicates[0].predictions["test"][:, 0], clf.decision_function(X[160:]), atol=1e-3)
    assert res.best_params["standardize"] is False


class Slow(nn.Module):
    """A tiny model whose every forward takes ~20 ms, so an epoch has a known length."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 1)

    def forward(self, x):
        time.sleep(0.02)
        return self.lin(x)


def test_fit_stops_at_an_epoch_boundary_when_the_deadline_passes(data):
    cfg = FitConfig(batch_size=40, max_epochs=1000, patience=1000, deadline=time.monotonic() + 0.5)
    res = fit(Slow(), data["train"], data["valid"], "regression", cfg)
    assert res.stopped == "deadline" and 1 <= len(res.history) < 1000
    assert res.history[-1]["epoch"] == len(res.history)       # whole epochs only


def test_timeout_bounds_the_search_and_each_refit(data):
    opts = with_study(TuneOptions(trials=50, timeout=0.6, replicates=2, max_epochs=1000, pruner="none"),
                      {"lr": 1e-3, "batch_size": 32, "patience": 1000})
    t0 = time.monotonic()
    res = tune_and_replicate(lambda hp: Slow(), shared_space, data, "regression", opts)
    spent = time.monotonic() - t0
    assert refit_budget(opts) == 0.6
    assert len(res.trials) < 50 and all(r.stopped == "deadline" for r in res.replicates)
    # search + two refits, each stopped at an epoch boundary: far below 1000 epochs of 0.1 s
    assert spent < 20


def test_history_has_loss_and_validation_metric_per_epoch(data):
    res = fit(build({}), data["train"], data["valid"], "regression", FitConfig(max_epochs=3, patience=10))
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    assert all({"train_loss", "val_loss", "val_pearson", "lr"} <= set(h) for h in res.history)
    from scipy.stats import pearsonr

    from glmprobe.train.fit import predict
    want = pearsonr(data["valid"].y[:, 0], predict(res.model, data["valid"].X)[:, 0])[0]
    assert res.history[res.best_epoch - 1]["val_pearson"] == pytest.approx(want, abs=1e-5)


def test_cosine_schedule_anneals_to_the_floor(data):
    cfg = FitConfig(lr=1e-2, min_lr=1e-5, schedule="cosine", max_epochs=5, patience=10)
    lrs = [h["lr"] for h in fit(build({}), data["train"], data["valid"], "regression", cfg).history]
    assert lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-5) and lrs == sorted(lrs, reverse=True)


def test_reverse_complement_and_strand_average():
    x = torch.zeros(1, 4, 3)
    x[0, [0, 1, 3], [0, 1, 2]] = 1        # A C T
    rc = reverse_complement(x)            # A G T
    assert rc[0].argmax(0).tolist() == [0, 2, 3]
    torch.manual_seed(0)
    net = with_rc(nn.Sequential(nn.Flatten(), nn.Linear(12, 1)), {"rc": True}).eval()
    assert isinstance(net, RCAugment)
    assert torch.allclose(net(x), net(rc))                     # strand-symmetric in eval
    assert with_rc(nn.Identity(), {"rc": False}).__class__ is nn.Identity
    with pytest.raises(ValueError, match="4 channels"):
        net(torch.zeros(1, 8, 3))


def test_record_keeps_each_replicates_history_and_mlflow_logs_it_by_epoch(tmp_path, data):
    from glmprobe.record import make_record, read_record, write_record
    from glmprobe.tracking.mlflow_writer import _record_metrics
    from glmprobe.train.outputs import write_outputs

    opts = TuneOptions(fixed={"lr": 1e-3}, replicates=2, max_epochs=3)
    res = tune_and_replicate(build, shared_space, data, "regression", opts, target_names=["t"])
    (tmp_path / "o").mkdir()
    rec = read_record(write_record(tmp_path / "o", write_outputs(tmp_path / "o", res, data, "regression", ["t"],
                                   make_record("baseline", "baselines/toy/x", cache_key="k"))))
    hist = rec["replicates"][1]["history"]
    assert [h["epoch"] for h in hist] == [1, 2, 3] and rec["replicates"][1]["stopped"] == "max_epochs"
    _, steps = _record_metrics(rec)
    curve = sorted((step, v) for k, v, step in steps if k == "epoch/val_pearson/seed1")
    assert curve == [(h["epoch"], h["val_pearson"]) for h in hist]
    assert {k for k, _, _ in steps} >= {"epoch/train_loss/seed0", "epoch/val_loss/seed0", "epoch/lr/seed0"}
