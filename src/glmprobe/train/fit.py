"""The one fit loop every neural head and baseline uses.

Keras-equivalent semantics of the study's training (paper.md §3, §10): Adam(W),
early stopping on validation loss (min_delta 0, best weights restored),
ReduceLROnPlateau with an *absolute* threshold of 1e-4 (Keras' min_delta), a
cap on epochs. Additions the study lacked: gradient clipping, seeded shuffling
every epoch, a masked loss (NaN targets are unobserved, e.g. splicing tissues),
BCE-with-logits on a linear output (never a probability loss on logits,
study bug §8.2), an optional cosine schedule, and a wall-clock deadline checked at
every epoch boundary (so ``--timeout`` bounds a search, not only the trial count).

Every epoch's train loss, validation loss, validation headline metric (Pearson or
AUROC, mean over targets) and learning rate go into ``FitResult.history``; the record
keeps it per replicate and MLflow logs it with ``step = epoch``.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from glmprobe.train.data import Arrays, Feeder
from glmprobe.train.losses import LOSSES, observed
from glmprobe.train.seeding import rng

log = logging.getLogger(__name__)
REGRESSION, BINARY, MULTILABEL = "regression", "binary", "multilabel"
KERAS_MIN_DELTA = 1e-4  # ReduceLROnPlateau's absolute improvement threshold in Keras


@dataclass
class FitConfig:
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    max_epochs: int = 100
    patience: int = 10
    lr_patience: int = 5
    lr_factor: float = 0.2
    min_lr: float = 1e-6
    grad_clip: float | None = 1.0
    schedule: str = "plateau"       # plateau (ReduceLROnPlateau, the study's) | cosine (to min_lr by the cap)
    seed: int = 0
    device: str = "cpu"
    deadline: float | None = None   # clock() value after which no new epoch starts
    clock: Callable[[], float] = time.monotonic   # wall clock; benchmarks may pass time.process_time
    loss: str | None = None         # a task-specific loss (train/losses.py, e.g. diff_kl); None: the task's


@dataclass
class FitResult:
    model: nn.Module             # best weights restored
    best_epoch: int              # 1-based epoch of the best validation loss
    best_val_loss: float
    history: list[dict] = field(default_factory=list)  # one dict per epoch
    stopped: str = "max_epochs"  # max_epochs | patience | deadline | diverged


def masked_loss(out: torch.Tensor, y: torch.Tensor, task: str, reduction: str = "mean",
                loss: str | None = None) -> torch.Tensor:
    """MSE (regression) or BCE-with-logits (binary/multilabel) over observed targets only.

    ``reduction="sum"`` returns the summed loss (callers divide by the observed count).
    ``loss`` names a task-specific loss instead (:mod:`glmprobe.train.losses`; ``y`` then holds
    the targets stacked with their offsets).
    """
    if loss is not None:
        return LOSSES[loss].obj(out, y, reduction)
    mask = ~torch.isnan(y)
    y0 = torch.where(mask, y, torch.zeros_like(y))
    out = out.float().reshape(y.shape)
    if task == REGRESSION:
        per = (out - y0) ** 2
    elif task in (BINARY, MULTILABEL):
        per = nn.functional.binary_cross_entropy_with_logits(out, y0, reduction="none")
    else:
        raise ValueError(f"unknown task {task!r}")
    total = (per * mask).sum()
    if reduction == "sum":
        return total
    return total / mask.sum().clamp(min=1)


HEADLINE = {REGRESSION: "pearson", BINARY: "auroc", MULTILABEL: "auroc"}


def headline(task: str, loss: str | None = None) -> str:
    """The metric a fit reports per epoch: the task-specific loss's (splicing: spearman), else the task's."""
    return LOSSES[loss].headline if loss else HEADLINE[task]


def _evaluate(model: nn.Module, feeder: Feeder, task: str, batch_size: int,
              loss_name: str | None = None) -> tuple[float, float]:
    """Validation loss over the whole split (sum over observed entries / their count) and the
    headline metric (mean over targets) of the same outputs."""
    from glmprobe.train.metrics import compute_metrics

    model.eval()
    total, count, outs = 0.0, 0, []
    with torch.inference_mode():
        for xb, yb in feeder.batches(batch_size):
            out = model(xb)
            total += float(masked_loss(out, yb, task, reduction="sum", loss=loss_name))
            count += int(observed(yb, loss_name).sum())
            outs.append(out.float().reshape(len(xb), -1).cpu().numpy())
    loss = total / count if count else math.nan
    metric = math.nan
    if outs and math.isfinite(loss):
        y = feeder.data.y
        key = f"v_{headline(task, loss_name)}"
        metric = compute_metrics(y, np.concatenate(outs), task, [f"t{j}" for j in range(y.shape[1])],
                                 prefix="v").get(key, math.nan)
    return loss, float(metric)


def evaluate(model: nn.Module, data: Arrays, task: str, cfg: FitConfig) -> tuple[float, float]:
    """(validation loss, headline metric) of ``model`` on ``data``, as ``fit`` scores each epoch."""
    model.to(torch.device(cfg.device))
    return _evaluate(model, Feeder(data, torch.device(cfg.device)), task, max(cfg.batch_size, 256), cfg.loss)


def _cosine_lr(cfg: FitConfig, epoch: int, horizon: int) -> float:
    """Learning rate for 1-based ``epoch``: cosine from ``lr`` down to ``min_lr`` at ``horizon``."""
    t = min(max(epoch - 1, 0) / max(horizon - 1, 1), 1.0)
    return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def fit(model: nn.Module, train: Arrays, valid: Arrays, task: str, cfg: FitConfig, *,
        trial=None, progress: bool = False) -> FitResult:
    """Train ``model`` (initialised by the caller) and return it with its best weights.

    With an Optuna ``trial`` the validation loss is reported every epoch and the
    trial is pruned when the pruner says so (``optuna.TrialPruned`` propagates).
    With ``cfg.deadline`` no epoch starts that would end after it (judged by the last
    epoch's duration); the best weights so far are kept and ``stopped`` is "deadline".
    The cosine schedule anneals over the epochs that fit the cap and the deadline.
    """
    if cfg.schedule not in ("plateau", "cosine"):
        raise ValueError(f"unknown schedule {cfg.schedule!r} (plateau or cosine)")
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)  # dropout masks
    order_rng = rng(cfg.seed, stream=1)  # data order, independent of the init stream
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=cfg.lr_factor, patience=cfg.lr_patience, threshold=KERAS_MIN_DELTA,
        threshold_mode="abs", min_lr=cfg.min_lr)
    tr, va = Feeder(train, device), Feeder(valid, device)
    best_loss, best_epoch, best_state, wait = math.inf, 0, _state_copy(model), 0
    history: list[dict] = []
    stopped, horizon, last = "max_epochs", cfg.max_epochs, 0.0
    bar = tqdm(range(1, cfg.max_epochs + 1), desc="epochs", unit="ep", leave=False, file=sys.stderr,
               disable=not progress or not sys.stderr.isatty())
    for epoch in bar:
        if cfg.deadline is not None:
            left = cfg.deadline - cfg.clock()
            if epoch > 1 and left < last:   # the next epoch would overrun the budget
                stopped = "deadline"
                break
            if cfg.schedule == "cosine" and last > 0:
                horizon = min(cfg.max_epochs, epoch - 1 + max(1, int(left // last)))
        if cfg.schedule == "cosine":
            for group in opt.param_groups:
                group["lr"] = _cosine_lr(cfg, epoch, horizon)
        c0 = cfg.clock()
        model.train()
        run_loss, run_n = 0.0, 0
        for xb, yb in tr.batches(cfg.batch_size, order_rng.permutation(len(tr))):
            if len(xb) < 2 and run_n:  # a lone last sample breaks BatchNorm; skip it
                continue
            loss = masked_loss(model(xb), yb, task, loss=cfg.loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            run_loss += float(loss.detach()) * len(xb)
            run_n += len(xb)
        train_loss = run_loss / max(run_n, 1)
        val_loss, val_metric = _evaluate(model, va, task, max(cfg.batch_size, 256), cfg.loss)
        lr = opt.param_groups[0]["lr"]
        last = cfg.clock() - c0
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        f"val_{headline(task, cfg.loss)}": val_metric, "lr": lr, "seconds": last})
        bar.set_postfix(train=f"{train_loss:.4g}", val=f"{val_loss:.4g}")
        if not math.isfinite(val_loss) or not math.isfinite(train_loss):
            log.warning("training diverged at epoch %d (loss %s); keeping epoch %d", epoch, val_loss, best_epoch)
            stopped = "diverged"
            break
        if val_loss < best_loss:  # Keras EarlyStopping: min_delta 0
            best_loss, best_epoch, best_state, wait = val_loss, epoch, _state_copy(model), 0
        else:
            wait += 1
        if cfg.schedule == "plateau":
            sched.step(val_loss)
        if trial is not None:
            trial.report(val_loss, epoch)
            if trial.should_prune():
                import optuna
                raise optuna.TrialPruned(f"pruned at epoch {epoch} (val_loss {val_loss:.4g})")
        if wait >= cfg.patience:
            stopped = "patience"
            break
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, best_epoch, best_loss, history, stopped)


def predict(model: nn.Module, X, *, batch_size: int = 512, device: str = "cpu") -> np.ndarray:
    """Raw outputs (N, T) in row order: values for regression, logits for binary/multilabel."""
    was_training = model.training
    model.to(device).eval()
    n = len(X)
    feeder = Feeder(Arrays(X, np.zeros((n, 1), np.float32), np.arange(n)), device)
    outs = []
    with torch.inference_mode():
        for xb, _ in feeder.batches(batch_size):
            outs.append(model(xb).float().reshape(len(xb), -1).cpu().numpy())
    model.train(was_training)
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
