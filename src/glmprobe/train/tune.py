"""Optuna tuning with equal budgets, then replicate training of the best config.

Study bug §8.11: one-hot models and probes were tuned unequally (the width factor
was the only search, with different lr/batch per caller). Here every contestant
searches the same shared hyper-parameters (:func:`shared_space`) under the same
trial/time budget, the study's own settings are always evaluated first
("faithful" config, via ``enqueue``), and the winner is retrained over R seeds
(seed, seed+1, ...) so every score comes with a replicate spread (§8.12).

Two kinds of settings, kept apart on purpose (issue 9, defect 8):

* trial 0 is the study's setting *for this task and this model* (:func:`study_settings`:
  a module's ``study(task, family)``), every field of it, e.g. rep_cnn on GPN embeddings
  for lentiMPRA: reduce_dim 128, lr 1e-4, batch 64, ReduceLR floor 1e-8, no clipping;
* every other trial takes :data:`PROTOCOL` for what the space does not search, the same
  for every contestant of a comparison (one-hot or embedding).

``timeout`` bounds the wall time of the search: a running trial stops at the next epoch
boundary when the budget is spent (pruned once another trial has finished), and each
replicate refit gets its own ``refit_timeout``.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import optuna
import pandas as pd
import torch
from tqdm.auto import tqdm

from glmprobe.errors import UserError
from glmprobe.train.data import Arrays
from glmprobe.train.ensemble import fit_members
from glmprobe.train.fit import FitConfig, FitResult, evaluate, fit, predict
from glmprobe.train.seeding import seed_everything

log = logging.getLogger(__name__)
SearchSpace = Callable[[optuna.Trial], dict]
Builder = Callable[[dict], torch.nn.Module]
PRUNERS = ("median", "hyperband", "none")
STUDY_PRESET = "study"  # ``fixed="study"``: train with the arch/head's STUDY settings, no search

# The shared search: the same ranges for one-hot and embedding heads. Every study
# setting lies inside it (lr 1e-4/1e-3, batch 64/128/256/512, width 0.5/1/2).
LR_RANGE = (1e-5, 1e-2)
BATCH_SIZES = (32, 64, 128, 256, 512)
WEIGHT_DECAYS = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
DROPOUT_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)
WIDTHS = (0.5, 1.0, 2.0)
SCHEDULES = ("plateau", "cosine")
FIT_KEYS = ("lr", "weight_decay", "batch_size", "patience", "lr_patience", "lr_factor", "min_lr", "grad_clip",
            "schedule")

# Settings outside the search space: the same for every searched trial of every contestant.
# Early stopping and ReduceLROnPlateau as the study's one-hot runs; clipping at norm 1 (the
# study had none; a deliberate deviation, see CHANGELOG) keeps high sampled learning rates
# and the exp activation of rep_cnn from diverging.
PROTOCOL = {"patience": 10, "lr_patience": 5, "lr_factor": 0.2, "min_lr": 1e-6, "grad_clip": 1.0}

# The study's training loops (paper.md §3-4), by task kind. Trial 0 and ``--fixed study`` use them.
STUDY_FIT = {"patience": 10, "lr_patience": 5, "lr_factor": 0.2, "grad_clip": None, "weight_decay": 0.0,
             "schedule": "plateau", "dropout": 1.0, "width": 1.0}
STUDY_ONEHOT = {  # lentiMPRA onehot_models.py | chip_cnn on one-hot (CNN_baseline_perf.py)
    "regression": {**STUDY_FIT, "lr": 1e-3, "batch_size": 128, "min_lr": 1e-6},
    "binary": {**STUDY_FIT, "lr": 1e-3, "batch_size": 256, "min_lr": 1e-6},
}
STUDY_ONEHOT["multilabel"] = STUDY_ONEHOT["binary"]


def study_settings(module, task: str, family: str | None = None) -> dict:
    """The study's full setting for ``module``'s head/arch on ``task`` with inputs from ``family``
    (``onehot`` or a gLM family); modules without ``study()`` keep a fixed ``STUDY`` dict."""
    if hasattr(module, "study"):
        return dict(module.study(task, family))
    return dict(module.STUDY)


def shared_space(trial: optuna.Trial, *, width: bool = True, dropout: bool = True) -> dict:
    """What every head/arch searches: lr, weight_decay, batch_size, LR schedule, dropout (scale), width."""
    hp = {
        "lr": trial.suggest_float("lr", *LR_RANGE, log=True),
        "weight_decay": trial.suggest_categorical("weight_decay", WEIGHT_DECAYS),
        "batch_size": trial.suggest_categorical("batch_size", BATCH_SIZES),
        "schedule": trial.suggest_categorical("schedule", SCHEDULES),
    }
    if dropout:  # a scale: multiplies every dropout rate of the architecture
        hp["dropout"] = trial.suggest_categorical("dropout", DROPOUT_SCALES)
    if width:  # the study's width factor f: scales filters and dense units
        hp["width"] = trial.suggest_categorical("width", WIDTHS)
    return hp


def onehot_space(trial: optuna.Trial, **kwargs) -> dict:
    """The shared space plus reverse-complement augmentation, which only one-hot input allows
    (an embedding store holds the forward strand only)."""
    return {**shared_space(trial, **kwargs), "rc": trial.suggest_categorical("rc", (False, True))}


@dataclass
class TuneOptions:
    trials: int = 20
    timeout: float | None = None          # seconds for the whole search
    pruner: str = "median"                # median | hyperband | none
    replicates: int = 3
    seed: int = 0
    max_epochs: int = 100
    device: str = "cpu"                   # cpu | cuda | auto
    fixed: dict | str | None = None       # skip the search: these hyper-parameters, or "study"
    enqueue: Sequence[dict] = ()          # evaluated first, e.g. the study's settings
    progress: bool = False                # tqdm bars on stderr (only when it is a TTY)
    refit_timeout: float | None = None    # seconds per replicate refit (None: --timeout when given)
    loss: str | None = None               # a task-specific loss for every fit (train/losses.py), e.g. diff_kl
    members: int | None = None            # deep-ensemble size for every fit; None: each head/arch's own (hp)


@dataclass
class Replicate:
    seed: int
    model: torch.nn.Module
    predictions: dict[str, np.ndarray]    # split -> (N, T) raw outputs (logits if binary)
    metrics: dict[str, float]
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    stopped: str = ""                     # why training ended (patience, max_epochs, deadline, ...)


def refit_budget(opts: TuneOptions) -> float | None:
    """Wall seconds each replicate refit may take: ``refit_timeout``, else ``timeout``, else none."""
    return opts.refit_timeout if opts.refit_timeout is not None else opts.timeout


@dataclass
class TuneResult:
    best_params: dict
    trials: pd.DataFrame                  # number, state, value, duration_s, best_epoch, params (JSON)
    replicates: list[Replicate]
    best_value: float = math.nan


def with_study(opts: TuneOptions, study: dict) -> TuneOptions:
    """Resolve ``fixed="study"`` and put the study's settings first in the queue.

    A partial ``fixed`` dict overrides single study settings (``{"lr": 3e-4}``). Loop settings
    ``study`` leaves out are the study's loop (:data:`STUDY_FIT`, ReduceLR floor 1e-6), never the
    search's :data:`PROTOCOL`.
    """
    study = {**STUDY_FIT, "min_lr": 1e-6, **study}
    fixed = opts.fixed
    if fixed == STUDY_PRESET:
        fixed = dict(study)
    elif isinstance(fixed, dict):
        fixed = {**study, **fixed}
    enqueue = [dict(study)] + [dict(e) for e in opts.enqueue if e != study]
    return replace(opts, fixed=fixed, enqueue=enqueue)


def fit_config(hp: dict, opts: TuneOptions, seed: int, device: str, deadline: float | None = None) -> FitConfig:
    """FitConfig from hyper-parameters (unset keys keep FitConfig defaults)."""
    given = {k: hp[k] for k in FIT_KEYS if k in hp}
    if "batch_size" in given:
        given["batch_size"] = int(given["batch_size"])
    return FitConfig(**given, max_epochs=opts.max_epochs, seed=seed, device=device, deadline=deadline,
                     loss=opts.loss)


def fit_hp(build: Builder, hp: dict, train: Arrays, valid: Arrays, task: str, opts: TuneOptions, seed: int,
           device: str, deadline: float | None = None, *, trial=None, clock=time.monotonic) -> FitResult:
    """One fit of ``build(hp)`` on ``seed``: a single model, or a deep ensemble when ``hp["members"] > 1``
    (:mod:`glmprobe.train.ensemble`; the members share ``deadline``, measured on ``clock``)."""
    def one(member_seed: int, member_deadline: float | None, first: bool) -> FitResult:
        seed_everything(member_seed)
        model = build(hp)
        cfg = replace(fit_config(hp, opts, member_seed, device, member_deadline), clock=clock)
        return fit(model, train, valid, task, cfg, trial=trial if first else None, progress=opts.progress)

    members = int(hp.get("members", 1))
    if members < 1:
        raise UserError(f"members must be at least 1 (got {members})", where="--hp members")
    if members == 1:
        return one(seed, deadline, True)
    cfg = fit_config(hp, opts, seed, device)
    return fit_members(one, members, seed, deadline, clock, lambda model: evaluate(model, valid, task, cfg)[0])


def _pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=min(5, max_epochs // 4))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise UserError(f"unknown pruner {name!r}; use one of {', '.join(PRUNERS)}", where="--pruner")


def _trials_table(study: optuna.Study) -> pd.DataFrame:
    rows = []
    for t in study.trials:
        dur = t.duration.total_seconds() if t.duration is not None else math.nan
        rows.append({"number": t.number, "state": t.state.name,
                     "value": t.value if t.value is not None else math.nan,
                     "duration_s": dur, "best_epoch": t.user_attrs.get("best_epoch"),
                     "enqueued": bool(t.user_attrs.get("enqueued")),
                     "params": json.dumps(t.user_attrs.get("hp", t.params), sort_keys=True)})
    return pd.DataFrame(rows, columns=["number", "state", "value", "duration_s", "best_epoch", "enqueued", "params"])


def _metrics(data: dict[str, Arrays], preds: dict[str, np.ndarray], task: str, names: list[str]) -> dict:
    from glmprobe.train.metrics import compute_metrics  # owned by the metrics module
    out: dict[str, float] = {}
    for split in ("valid", "test"):
        if split in preds:
            out.update(compute_metrics(data[split].y, preds[split], task, names, prefix=split))
    return out


SEARCH_SEED_OFFSET = 10_000  # trials use seed + this; replicates use seed, seed + 1, ...


def tune_and_replicate(build: Builder, space: SearchSpace, data: dict[str, Arrays], task: str,
                       opts: TuneOptions, *, target_names: Sequence[str] | None = None) -> TuneResult:
    """Search hyper-parameters on validation loss, then retrain the best over ``opts.replicates`` seeds.

    ``data`` holds ``train``, ``valid`` and ``test`` :class:`Arrays`; only train is fitted,
    valid selects (early stopping, Optuna), test is only predicted.
    """
    from glmprobe.device import resolve_device

    device = resolve_device(opts.device)
    train, valid = data["train"], data["valid"]
    names = list(target_names) if target_names is not None else [f"t{i}" for i in range(train.n_targets)]

    forced = {"members": int(opts.members)} if opts.members else {}   # --members: the same for every fit

    def run(hp: dict, seed: int, trial=None, deadline: float | None = None) -> FitResult:
        return fit_hp(build, hp, train, valid, task, opts, seed, device, deadline, trial=trial)

    if opts.fixed is not None:
        best, trials, best_value = {**opts.fixed, **forced}, pd.DataFrame(
            [{"number": 0, "state": "FIXED", "value": math.nan, "duration_s": math.nan, "best_epoch": None,
              "enqueued": False, "params": json.dumps(opts.fixed, sort_keys=True, default=str)}]), math.nan
    else:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=opts.seed),
                                    pruner=_pruner(opts.pruner, opts.max_epochs))
        for cfg in opts.enqueue:
            # the search space only suggests its own keys; the rest travels as a user attr
            study.enqueue_trial(cfg, user_attrs={"enqueued": cfg}, skip_if_exists=True)

        # What the space does not search is PROTOCOL for every searched trial (the same for all
        # contestants); only the enqueued study trial carries the study's own values.
        deadline = time.monotonic() + opts.timeout if opts.timeout else None

        def objective(trial: optuna.Trial) -> float:
            hp = {**PROTOCOL, **trial.user_attrs.get("enqueued", {}), **space(trial), **forced}
            trial.set_user_attr("hp", hp)
            # Trials train on their own seed stream, so no replicate is the winner of the
            # search (its valid score would be optimistically biased).
            res = run(hp, opts.seed + SEARCH_SEED_OFFSET, trial, deadline)
            trial.set_user_attr("best_epoch", res.best_epoch)
            trial.set_user_attr("stopped", res.stopped)
            finished = any(t.state == optuna.trial.TrialState.COMPLETE for t in trial.study.trials)
            if res.stopped == "deadline" and finished:   # cut short: not comparable with finished trials
                raise optuna.TrialPruned(f"search budget spent at epoch {len(res.history)}")
            return res.best_val_loss if math.isfinite(res.best_val_loss) else math.inf

        bar = tqdm(total=opts.trials, desc="trials", unit="trial", file=sys.stderr,
                   disable=not opts.progress or not sys.stderr.isatty())
        study.optimize(objective, n_trials=opts.trials, timeout=opts.timeout,
                       catch=(torch.cuda.OutOfMemoryError,), callbacks=[lambda s, t: bar.update()])
        bar.close()
        trials = _trials_table(study)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and math.isfinite(t.value)]
        if not done:
            raise UserError("no tuning trial finished with a finite validation loss",
                            hint="Raise --trials/--timeout or --max-epochs, or check the data for extreme targets.")
        best_trial = min(done, key=lambda t: t.value)
        best, best_value = dict(best_trial.user_attrs["hp"]), float(best_trial.value)

    replicates = []
    budget = refit_budget(opts)
    for r in range(opts.replicates):
        seed = opts.seed + r
        t0 = time.perf_counter()
        # every replicate is a fresh fit (exchangeable draws for the CI), each on its own budget
        res = run(best, seed, deadline=time.monotonic() + budget if budget else None)
        preds = {s: predict(res.model, data[s].X, device=device) for s in ("valid", "test") if s in data}
        replicates.append(Replicate(seed, res.model.cpu(), preds, _metrics(data, preds, task, names),
                                    res.best_epoch, res.history, res.stopped))
        log.info("replicate seed %d: best epoch %d in %.1f s", seed, res.best_epoch, time.perf_counter() - t0)
    return TuneResult(best, trials, replicates, best_value)
