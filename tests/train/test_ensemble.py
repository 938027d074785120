"""Deep ensembles: members from their own seeds on shares of one budget, averaged into one module."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from glmprobe.errors import UserError
from glmprobe.train.data import Arrays
from glmprobe.train.ensemble import MEMBER_SEED_STRIDE, Ensemble, fit_members, member_seeds
from glmprobe.train.fit import FitResult, predict
from glmprobe.train.tune import TuneOptions, tune_and_replicate

HP = {"lr": 1e-2, "batch_size": 32, "patience": 3}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 5)).astype(np.float32)
    y = (X @ rng.normal(size=(5, 2)) + 0.3 * rng.normal(size=(240, 2))).astype(np.float32)
    ids = np.array([f"s{i}" for i in range(240)])
    cut = {"train": slice(0, 160), "valid": slice(160, 200), "test": slice(200, 240)}
    return {k: Arrays(X[s], y[s], ids[s]) for k, s in cut.items()}


def build(hp):
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))


def test_forward_is_the_mean_of_the_members():
    torch.manual_seed(0)
    members = [nn.Linear(3, 2) for _ in range(3)]
    x = torch.randn(4, 3)
    expected = sum(m(x) for m in members) / 3
    torch.testing.assert_close(Ensemble(members)(x), expected)


def test_members_split_the_remaining_budget_evenly_and_join_their_histories():
    now = [0.0]
    calls = []

    def fit_one(seed, deadline, first):
        calls.append((seed, deadline, first))
        now[0] += 10.0 + seed % 7  # every member spends some of its share
        rows = [{"epoch": e, "val_loss": 1.0 / e} for e in (1, 2, 3)]
        return FitResult(nn.Linear(1, 1), best_epoch=2 + len(calls) % 2, best_val_loss=0.5, history=rows,
                         stopped="patience" if len(calls) < 3 else "deadline")

    res = fit_members(fit_one, 3, 4, deadline=90.0, clock=lambda: now[0], evaluate=lambda m: 0.25)
    assert [c[0] for c in calls] == [4, 4 + MEMBER_SEED_STRIDE, 4 + 2 * MEMBER_SEED_STRIDE]
    assert [c[2] for c in calls] == [True, False, False]
    assert calls[0][1] == pytest.approx(30.0)                      # 90 s left over 3 members
    spent = 10.0 + 4 % 7
    assert calls[1][1] == pytest.approx(spent + (90.0 - spent) / 2)  # what is left, over the 2 to go
    assert calls[2][1] == pytest.approx(90.0)                      # the last member gets the rest
    assert isinstance(res.model, Ensemble) and len(res.model.members) == 3
    assert [r["epoch"] for r in res.history] == list(range(1, 10))
    assert [r["member"] for r in res.history] == [0] * 3 + [1] * 3 + [2] * 3
    assert res.best_val_loss == 0.25 and res.stopped == "patience,deadline"
    assert res.best_epoch == round((3 + 2 + 3) / 3)


def test_member_seeds_never_collide_with_other_replicates():
    reps = [set(member_seeds(s, 4)) for s in range(3)]
    assert all(not (a & b) for i, a in enumerate(reps) for b in reps[i + 1:])
    assert member_seeds(7, 1) == [7]


def test_tuned_replicates_are_ensembles_of_their_members(data):
    """members=3 gives each replicate three differently initialised members; members=1 is the plain fit."""
    one = tune_and_replicate(build, lambda t: {}, data, "regression",
                             TuneOptions(fixed={**HP, "members": 1}, replicates=1, max_epochs=15))
    plain = tune_and_replicate(build, lambda t: {}, data, "regression",
                               TuneOptions(fixed=dict(HP), replicates=1, max_epochs=15))
    ens = tune_and_replicate(build, lambda t: {}, data, "regression",
                             TuneOptions(fixed={**HP, "members": 3}, replicates=1, max_epochs=15))
    torch.testing.assert_close(predict(one.replicates[0].model, data["test"].X),
                               predict(plain.replicates[0].model, data["test"].X))
    model = ens.replicates[0].model
    assert isinstance(model, Ensemble) and len(model.members) == 3
    w = [m[0].weight.detach() for m in model.members]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    torch.testing.assert_close(w[0], plain.replicates[0].model[0].weight.detach())  # member 0 is the plain fit
    members = {r["member"] for r in ens.replicates[0].history}
    assert members == {0, 1, 2}
    mean = np.mean([predict(m, data["test"].X) for m in model.members], axis=0)
    np.testing.assert_allclose(ens.replicates[0].predictions["test"], mean, rtol=1e-5, atol=1e-6)


def test_members_below_one_is_a_user_error(data):
    with pytest.raises(UserError, match="members must be at least 1"):
        tune_and_replicate(build, lambda t: {}, data, "regression",
                           TuneOptions(fixed={**HP, "members": 0}, replicates=1, max_epochs=2))


def test_members_option_applies_to_every_trial_and_the_refits(data):
    """--members is one setting for the whole search and every replicate (not searched per trial)."""
    opts = TuneOptions(trials=2, replicates=2, max_epochs=3, pruner="none", members=2, enqueue=[dict(HP)])
    res = tune_and_replicate(build, lambda t: {"lr": t.suggest_float("lr", 1e-3, 1e-2)}, data, "regression", opts)
    assert all(json.loads(p)["members"] == 2 for p in res.trials.params)
    assert res.best_params["members"] == 2
    assert all(isinstance(r.model, Ensemble) and len(r.model.members) == 2 for r in res.replicates)


def test_members_flag_reaches_the_tune_options():
    import click
    from click.testing import CliRunner

    from glmprobe.train.options import tune_options_from, tuning_options

    @click.command()
    @tuning_options
    def cmd(**kwargs):
        click.echo(repr(tune_options_from(kwargs).members))

    assert CliRunner().invoke(cmd, ["--members", "3"]).output.strip() == "3"
    assert CliRunner().invoke(cmd, []).output.strip() == "None"
    bad = CliRunner().invoke(cmd, ["--members", "0"])
    assert bad.exit_code == 2 and "--members" in bad.output


def test_members_param_reaches_glmprobe_run_and_nextflow():
    """The params file's `members` becomes TuneOptions.members; modules.config passes --members."""
    from pathlib import Path

    from glmprobe.params import Params
    from glmprobe.train.options import tune_options_from_params

    assert tune_options_from_params(Params({"members": 3, "device": "cpu"})).members == 3
    assert tune_options_from_params(Params({"device": "cpu"})).members is None
    config = (Path(__file__).resolve().parents[2] / "conf" / "modules.config").read_text()
    assert 'params.members != null ? "--members ${params.members}"' in config
