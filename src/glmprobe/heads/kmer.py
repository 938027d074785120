"""The study's simple controls as one-hot contestants: k-mer counts with ridge / logistic regression.

* ``kmer``: counts of every k-mer (k searched over 1..6) -> the ``linear`` head's ridge or
  logistic path; k and the penalty are chosen on the *validation* loss, fitted on train only.
* ``mononuc``: the study's "mean one-hot" control (4 nucleotide frequencies) -> linear.
* ``dinuc``: the study's dinucleotide control (16 dinucleotide counts) -> linear.
* ``dinuc_mlp``: the study's "Dinucleotide MLP" (``rep_mlp`` on the 16 frequencies), tuned
  like every neural head.

Each fitted control is an ``nn.Module`` on (N, 4, L) one-hot input (:class:`KmerCounts` in
front of the probe), so it is saved, predicted and reported exactly like the other baselines.
``--fixed study`` fits the study's one penalty on raw features (paper.md §3); the study had no
k-mer sweep, so ``kmer`` then uses k = 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from glmprobe.heads import linear, mlp
from glmprobe.train.data import Arrays
from glmprobe.train.tune import Replicate, TuneOptions, TuneResult, shared_space, with_study

KS = (1, 2, 3, 4, 5, 6)
CHUNK = 2048  # sequences per feature batch


class KmerCounts(nn.Module):
    """(N, 4, L) one-hot (ACGT channels, N = all zero) -> (N, 4**k) k-mer counts.

    Windows that touch an N are not counted; ``normalize`` divides by the number of counted
    windows (frequencies, e.g. the mean one-hot for k = 1).
    """

    def __init__(self, k: int, normalize: bool = False):
        super().__init__()
        self.k, self.normalize = int(k), bool(normalize)
        self.register_buffer("place", 4 ** torch.arange(self.k - 1, -1, -1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        codes, seen = x.argmax(1), x.sum(1) > 0.5                      # (N, L)
        if codes.shape[1] < self.k:
            return x.new_zeros(len(x), 4 ** self.k)
        index = (codes.unfold(1, self.k, 1) * self.place).sum(-1)       # (N, L - k + 1)
        valid = seen.unfold(1, self.k, 1).all(-1).float()
        counts = x.new_zeros(len(x), 4 ** self.k).scatter_add_(1, index, valid)
        if self.normalize:
            counts = counts / valid.sum(1, keepdim=True).clamp(min=1)
        return counts


def features(X, k: int, normalize: bool = False) -> np.ndarray:
    """k-mer counts of a (N, 4, L) one-hot array, in chunks, as float64."""
    counter = KmerCounts(k, normalize)
    with torch.inference_mode():
        parts = [counter(torch.as_tensor(np.asarray(X[a:a + CHUNK]))).double().numpy() for a in range(0, len(X), CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, 4 ** k))


def study(task: str, family: str | None = None) -> dict:
    """The study's logistic control (C = 1) or lentiMPRA ridge (alpha 1e-3), on raw features."""
    return {**linear.STUDY[task], "k": 4}


def tune_counts(data: dict[str, Arrays], task: str, opts: TuneOptions, *, target_names: Sequence[str],
                ks: Sequence[int] = KS, normalize: bool = False, study_setting: dict | None = None) -> TuneResult:
    """Fit the linear head on k-mer counts for every k in ``ks``; keep the k with the lowest mean
    validation loss (each target at its own best penalty). One deterministic replicate."""
    from glmprobe.train.metrics import compute_metrics

    fixed = with_study(opts, study_setting or study(task)).fixed
    alphas, standardize = linear.ALPHAS, True
    if fixed is not None:
        ks, alphas, standardize = [int(fixed["k"])], [float(fixed["alpha"])], bool(fixed.get("standardize", True))
    names = list(target_names)
    best = None
    rows = []
    for k in ks:
        feats = {s: Arrays(features(data[s].X, k, normalize), data[s].y, data[s].ids) for s in ("train", "valid")}
        probe, chosen, val_loss = linear.fit_linear(feats["train"], feats["valid"], task, alphas, seed=opts.seed,
                                                    standardize=standardize)
        value = float(np.nanmean(val_loss[chosen, np.arange(len(chosen))]))
        table = linear.trials_table(np.asarray(alphas, float), val_loss, names)
        table.insert(1, "k", k)
        table["params"] = [f'{{"alpha": {a:.6g}, "k": {k}}}' for a in table.alpha]
        rows.append(table)
        if best is None or value < best[0]:
            best = (value, k, probe, chosen)
    value, k, probe, chosen = best
    model = nn.Sequential(KmerCounts(k, normalize), probe).eval()
    preds, metrics = {}, {}
    with torch.inference_mode():
        for split in ("valid", "test"):
            preds[split] = np.concatenate([model(torch.as_tensor(np.asarray(data[split].X[a:a + CHUNK]))).double().numpy()
                                           for a in range(0, len(data[split]), CHUNK)])
            metrics.update(compute_metrics(data[split].y, preds[split], task, names, prefix=split))
    alpha_grid = np.asarray(alphas, float)
    params = ({"alpha": float(alpha_grid[chosen[0]])} if len(names) == 1 else
              {f"alpha/{n}": float(alpha_grid[c]) for n, c in zip(names, chosen)})
    params.update({"k": int(k), "features": "frequencies" if normalize else "counts",
                   "penalty": "ridge" if task == "regression" else "logistic-l2", "standardize": standardize})
    trials = pd.concat(rows, ignore_index=True)
    trials["number"] = np.arange(len(trials))
    return TuneResult(params, trials, [Replicate(opts.seed, model, preds, metrics, best_epoch=0)], value)


class Kmer:
    """``kmer``: k in 1..6 and the penalty chosen on valid."""

    study = staticmethod(study)

    @staticmethod
    def tune(data, task, opts, *, target_names):
        return tune_counts(data, task, opts, target_names=target_names)


class Mononuc:
    """``mononuc``: the study's mean one-hot (4 nucleotide frequencies) control."""

    @staticmethod
    def study(task, family=None):
        return {**linear.STUDY[task], "k": 1}

    @staticmethod
    def tune(data, task, opts, *, target_names):
        return tune_counts(data, task, opts, target_names=target_names, ks=(1,), normalize=True,
                           study_setting=Mononuc.study(task))


class Dinuc:
    """``dinuc``: the study's dinucleotide-count control (16 features)."""

    @staticmethod
    def study(task, family=None):
        return {**linear.STUDY[task], "k": 2}

    @staticmethod
    def tune(data, task, opts, *, target_names):
        return tune_counts(data, task, opts, target_names=target_names, ks=(2,), study_setting=Dinuc.study(task))


class DinucMLP:
    """``dinuc_mlp``: the study's "Dinucleotide MLP", ``rep_mlp`` on the 16 dinucleotide frequencies."""

    study = staticmethod(mlp.study)
    space = staticmethod(shared_space)

    @staticmethod
    def build(in_channels: int, length: int, n_targets: int, hp: dict) -> nn.Module:
        return nn.Sequential(KmerCounts(2, normalize=True), mlp.build(16, n_targets, hp))


