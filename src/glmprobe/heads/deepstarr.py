"""``deepstarr``: a DeepSTARR/Basset-style CNN (de Almeida et al. 2022) on one-hot DNA.

Four conv blocks [Conv(k, same) -> BN -> ReLU -> MaxPool 2] with 256/60/60/120 filters
and kernels 7/3/5/3, then Flatten -> 2 x [Dense 256 -> BN -> ReLU -> Drop 0.4] -> Dense(T).
Not part of the Tang et al. study: a widely used reference architecture for enhancer
activity. STUDY holds DeepSTARR's published settings (Adam 2e-3, batch 128).
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import with_rc
from glmprobe.heads.layers import batch_norm, conv, dropout, glorot_init_, require_length, scaled
from glmprobe.train.tune import STUDY_FIT, onehot_space


def study(task: str, family: str | None = None) -> dict:
    """Not in the study: DeepSTARR's published loop (Adam 2e-3, batch 128) in the study's ES/ReduceLR frame."""
    return {**STUDY_FIT, "lr": 2e-3, "batch_size": 128, "min_lr": 1e-6, "rc": False}


STUDY = study("regression")
BLOCKS = ((256, 7), (60, 3), (60, 5), (120, 3))


class DeepSTARR(nn.Module):
    """(N, 4, L) one-hot -> (N, T)."""

    def __init__(self, in_channels: int, length: int, n_targets: int, factor: float = 1.0, drop_scale: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for filters, k in BLOCKS:
            c = scaled(filters, factor)
            layers += [conv(c_in, c, k), batch_norm(c), nn.ReLU(), nn.MaxPool1d(2)]
            c_in = c
        n = length // 2 ** len(BLOCKS)
        require_length("deepstarr", length, n, 2 ** len(BLOCKS))
        h = scaled(256, factor)
        layers += [nn.Flatten(),
                   nn.Linear(c_in * n, h), batch_norm(h), nn.ReLU(), dropout(0.4, drop_scale),
                   nn.Linear(h, h), batch_norm(h), nn.ReLU(), dropout(0.4, drop_scale),
                   nn.Linear(h, n_targets)]
        self.net = nn.Sequential(*layers)
        glorot_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


def build(in_channels: int, length: int, n_targets: int, hp: dict) -> DeepSTARR:
    return with_rc(DeepSTARR(in_channels, length, n_targets, float(hp.get("width", 1.0)),
                             float(hp.get("dropout", 1.0))), hp)


def space(trial) -> dict:
    return onehot_space(trial)
