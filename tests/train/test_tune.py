"""Optuna tuning, replicates, outputs folder and the shared Click options."""

from __future__ import annotations

import json

import click
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from scipy import stats
from torch import nn

from glmprobe.errors import UserError
from glmprobe.record import make_record, read_record, write_record
from glmprobe.train.data import Arrays
from glmprobe.train.fit import predict
from glmprobe.train.options import parse_fixed, resolve_device, tune_options_from, tuning_options
from glmprobe.train.outputs import write_outputs
from glmprobe.train.tune import TuneOptions, shared_space, tune_and_replicate, with_study

STUDY = {"lr": 1e-3, "batch_size": 64, "weight_decay": 0.0, "dropout": 1.0, "width": 1.0, "grad_clip": None}
FULL_STUDY = {"patience": 10, "lr_patience": 5, "lr_factor": 0.2, "min_lr": 1e-6, "schedule": "plateau", **STUDY}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X @ rng.normal(size=(6, 2)) + 0.3 * rng.normal(size=(300, 2))).astype(np.float32)
    ids = np.array([f"s{i}" for i in range(300)])
    cut = {"train": slice(0, 200), "valid": slice(200, 250), "test": slice(250, 300)}
    return {k: Arrays(X[s], y[s], ids[s]) for k, s in cut.items()}


def build(hp):
    h = max(2, int(8 * hp.get("width", 1.0)))
    return nn.Sequential(nn.Linear(6, h), nn.ReLU(), nn.Dropout(0.1 * hp.get("dropout", 1.0)), nn.Linear(h, 2))


def test_search_enqueues_study_first_and_replicates_best(data):
    opts = with_study(TuneOptions(trials=3, replicates=2, seed=5, max_epochs=4, pruner="none"), STUDY)
    res = tune_and_replicate(build, shared_space, data, "regression", opts, target_names=["a", "b"])
    t = res.trials
    assert list(t.columns) == ["number", "state", "value", "duration_s", "best_epoch", "enqueued", "params"]
    assert len(t) == 3 and t.loc[0, "enqueued"] and json.loads(t.loc[0, "params"]) == FULL_STUDY
    done = t[t.state == "COMPLETE"]
    assert res.best_value == pytest.approx(done.value.min())
    assert res.best_params == json.loads(done.loc[done.value.idxmin(), "params"])
    assert [r.seed for r in res.replicates] == [5, 6]
    r0 = res.replicates[0]
    assert r0.predictions["test"].shape == (50, 2) and r0.predictions["valid"].shape == (50, 2)
    # metrics are computed on the test predictions (checked against scipy)
    want = stats.pearsonr(data["test"].y[:, 1], r0.predictions["test"][:, 1])[0]
    assert r0.metrics["test_pearson/b"] == pytest.approx(want, abs=1e-6)
    assert "valid_pearson" in r0.metrics
    assert not torch.equal(r0.model[0].weight, res.replicates[1].model[0].weight)


def test_same_seed_gives_same_search_and_weights(data):
    opts = TuneOptions(trials=2, replicates=1, seed=1, max_epochs=3, pruner="median")
    a = tune_and_replicate(build, shared_space, data, "regression", opts)
    b = tune_and_replicate(build, shared_space, data, "regression", opts)
    assert a.best_params == b.best_params
    assert list(a.trials.params) == list(b.trials.params)
    assert np.array_equal(a.replicates[0].predictions["test"], b.replicates[0].predictions["test"])


def test_fixed_study_skips_search_and_partial_fixed_overrides(data):
    opts = with_study(TuneOptions(fixed="study", replicates=1, max_epochs=2), STUDY)
    res = tune_and_replicate(build, shared_space, data, "regression", opts)
    assert res.best_params == FULL_STUDY and list(res.trials.state) == ["FIXED"]
    part = with_study(TuneOptions(fixed={"lr": 3e-4}), STUDY)
    assert part.fixed == {**FULL_STUDY, "lr": 3e-4} and part.enqueue[0] == FULL_STUDY


def test_unknown_pruner_is_a_user_error(data):
    with pytest.raises(UserError, match="unknown pruner 'x'"):
        tune_and_replicate(build, shared_space, data, "regression", TuneOptions(trials=1, pruner="x"))


def test_write_outputs_round_trip(tmp_path, data):
    opts = TuneOptions(trials=1, replicates=2, max_epochs=2)
    res = tune_and_replicate(build, shared_space, data, "regression", opts, target_names=["a", "b"])
    rec = make_record("baseline", "baselines/toy/mlp", cache_key="k", tags={"dataset": "toy"})
    (tmp_path / "out").mkdir()   # the step skeleton's folder; it writes the record last
    path = write_record(tmp_path / "out", write_outputs(tmp_path / "out", res, data, "regression", ["a", "b"], rec))
    folder = path.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "model_seed0.safetensors", "model_seed1.safetensors", "predictions.csv", "record.json", "trials.csv"]
    got = read_record(path)
    vals = [r.metrics["test_pearson"] for r in res.replicates]
    assert got["metrics"]["test_pearson"] == pytest.approx(np.mean(vals))
    lo, hi = got["ci"]["test_pearson"]
    assert lo <= np.mean(vals) <= hi
    assert got["n"] == {"train": 200, "valid": 50, "test": 50}
    assert got["params"]["lr"] == res.best_params["lr"] and got["artifacts"]["model"] == "model_seed0.safetensors"
    assert [r["seed"] for r in got["replicates"]] == [0, 1]
    pred = pd.read_csv(folder / "predictions.csv")
    assert list(pred.columns) == ["id", "split", "seed", "target", "y_true", "y_pred"]
    assert len(pred) == 2 * (50 + 50) * 2
    # weights reload into a fresh model and reproduce the stored predictions
    model = build(res.best_params)
    model.load_state_dict(load_file(folder / "model_seed1.safetensors"))
    mine = pred[(pred.seed == 1) & (pred.split == "test") & (pred.target == "b")]
    assert np.allclose(mine.y_pred, predict(model, data["test"].X)[:, 1], atol=1e-5)
    assert pd.read_csv(folder / "trials.csv").shape[0] == 1


@click.command()
@tuning_options
def toy(**kwargs):
    opts = tune_options_from(kwargs)
    assert kwargs == {}
    click.echo(json.dumps({"trials": opts.trials, "fixed": opts.fixed, "device": opts.device,
                           "pruner": opts.pruner, "max_epochs": opts.max_epochs}))


def test_tuning_options_defaults_and_values():
    out = CliRunner().invoke(toy, [])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"trials": 20, "fixed": None, "device": "cpu" if not torch.cuda.is_available()
                                      else "cuda", "pruner": "median", "max_epochs": 100}
    out = CliRunner().invoke(toy, ["--trials", "4", "--fixed", '{"lr": 0.01}', "--pruner", "none", "--max-epochs", "7"])
    assert json.loads(out.output)["fixed"] == {"lr": 0.01}
    assert "--fixed" in CliRunner().invoke(toy, ["--help"]).output
    assert CliRunner().invoke(toy, ["--trials", "0"]).exit_code == 2


def test_fixed_parsing_errors_and_file(tmp_path):
    with pytest.raises(UserError, match=r"--fixed: not valid JSON .*line 1"):
        parse_fixed("{lr: 1}")
    with pytest.raises(UserError, match="must be a JSON object"):
        parse_fixed("[1, 2]")
    f = tmp_path / "hp.json"
    f.write_text('{"batch_size": 32}')
    assert parse_fixed(str(f)) == {"batch_size": 32} and parse_fixed("study") == "study"
    f.write_text("{oops")
    with pytest.raises(UserError, match=str(f)):
        parse_fixed(str(f))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_requested_without_gpu_is_a_user_error():
    with pytest.raises(UserError, match="no CUDA GPU is visible"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"
