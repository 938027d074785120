"""``mlp`` head: the study's ``rep_mlp`` on pooled (cls/mean) embedding vectors.

Dense(512f) -> BN -> ReLU -> Drop -> Dense(256f) -> BN -> ReLU -> Drop -> Dense(T), every
kernel drawn from N(0, 0.005) (paper.md §3). The output is linear: binary targets are trained
with BCE-with-logits (never a probability loss on a linear output, bug §8.2).

Also home to :class:`DenseTail`, the two-block dense head that ``rep_cnn`` puts after its
convolutions, and to the N(0, 0.005) initialiser both use. Keras-port blocks come from
:mod:`glmprobe.heads.layers`.
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.layers import batch_norm, dropout, scaled
from glmprobe.train.tune import STUDY_FIT, shared_space
from glmprobe.train.tune import STUDY_ONEHOT as LOOPS

INIT_STD = 0.005   # Keras RandomNormal(0, 0.005) of rep_mlp / rep_cnn

DROPOUT = 0.5      # the study's dense dropout; the searched ``dropout`` hyperparameter scales it



def study(task: str, family: str | None = None) -> dict:
    """rep_mlp as the study trained it: lentiMPRA lr 1e-4, batch 512, ReduceLR floor 1e-8;
    ChIP/eCLIP lr 1e-3, batch 256, floor 1e-6 (paper.md §3). The same for every gLM."""
    if task == "regression":
        return {**STUDY_FIT, "lr": 1e-4, "batch_size": 512, "min_lr": 1e-8}
    return dict(LOOPS[task])


STUDY = study("regression")


def init_normal_(module: nn.Module, std: float = INIT_STD) -> nn.Module:
    """Keras ``RandomNormal(0, std)`` kernels and zero biases for every Linear/Conv1d."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class DenseTail(nn.Sequential):
    """Dense(512f) -> BN -> ReLU -> Drop -> Dense(256f) -> BN -> ReLU -> Drop -> Dense(T)."""

    def __init__(self, in_features: int, n_targets: int, factor: float = 1.0, dropout_scale: float = 1.0):
        h1, h2 = scaled(512, factor), scaled(256, factor)
        super().__init__(
            nn.Linear(in_features, h1), batch_norm(h1), nn.ReLU(), dropout(DROPOUT, dropout_scale),
            nn.Linear(h1, h2), batch_norm(h2), nn.ReLU(), dropout(DROPOUT, dropout_scale),
            nn.Linear(h2, n_targets),
        )


class RepMLP(nn.Module):
    """The study's ``rep_mlp``: (N, D) float -> (N, T) raw outputs (logits for binary tasks)."""

    def __init__(self, in_features: int, n_targets: int, factor: float = 1.0, dropout_scale: float = 1.0):
        super().__init__()
        self.tail = DenseTail(in_features, n_targets, factor, dropout_scale)
        init_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(x.float())


def build(in_features: int, n_targets: int, hp: dict) -> RepMLP:
    """A fresh model for hyperparameters ``hp`` (the caller seeds torch first)."""
    return RepMLP(in_features, n_targets, float(hp.get("width", 1.0)), float(hp.get("dropout", 1.0)))


def space(trial) -> dict:
    """The team's shared search (lr, weight decay, batch, width, dropout scale): equal budgets, §8.11."""
    return shared_space(trial)
