"""``mpraann``: MPRAnn (Agarwal et al. 2025) as used by the study on lentiMPRA (paper.md §4).

Conv(250, 7, ReLU) -> BN -> Conv(250, 8, softmax) -> BN -> MaxPool 2 -> Drop 0.1
-> Conv(250, 3, softmax) -> BN -> Conv(100, 2, softmax) -> BN -> MaxPool 1 -> Drop 0.1
-> Flatten -> Dense 300 sigmoid -> Drop 0.3 -> Dense 200 sigmoid -> Dense(T).
Valid padding throughout (its even kernels 8 and 2 rely on it); Keras' conv softmax
normalises over channels. Widths scale with ``width``, dropout rates with the ``dropout`` scale.
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import with_rc
from glmprobe.heads.layers import ChannelSoftmax, batch_norm, conv, dropout, glorot_init_, require_length, scaled
from glmprobe.train.tune import STUDY_ONEHOT, onehot_space


def study(task: str, family: str | None = None) -> dict:
    """Trained in the study's lentiMPRA one-hot loop (as ResNet); binary tasks: its ChIP loop."""
    return {**STUDY_ONEHOT[task], "rc": False}


STUDY = study("regression")



def out_length(length: int) -> int:
    """Flattened positions after the valid convs and pooling."""
    n = length - 6 - 7   # k7, k8
    n = n // 2           # MaxPool 2
    return n - 2 - 1     # k3, k2 (MaxPool 1 keeps it)


class MPRAnn(nn.Module):
    """(N, 4, L) one-hot -> (N, T)."""

    def __init__(self, in_channels: int, length: int, n_targets: int, factor: float = 1.0, drop_scale: float = 1.0):
        super().__init__()
        c, c4, d1, d2 = scaled(250, factor), scaled(100, factor), scaled(300, factor), scaled(200, factor)
        n = out_length(length)
        require_length("mpraann", length, n, 21)
        self.net = nn.Sequential(
            conv(in_channels, c, 7, padding="valid"), nn.ReLU(), batch_norm(c),
            conv(c, c, 8, padding="valid"), ChannelSoftmax(), batch_norm(c),
            nn.MaxPool1d(2), dropout(0.1, drop_scale),
            conv(c, c, 3, padding="valid"), ChannelSoftmax(), batch_norm(c),
            conv(c, c4, 2, padding="valid"), ChannelSoftmax(), batch_norm(c4),
            dropout(0.1, drop_scale), nn.Flatten(),
            nn.Linear(c4 * n, d1), nn.Sigmoid(), dropout(0.3, drop_scale),
            nn.Linear(d1, d2), nn.Sigmoid(),
            nn.Linear(d2, n_targets),
        )
        glorot_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


def build(in_channels: int, length: int, n_targets: int, hp: dict) -> MPRAnn:
    return with_rc(MPRAnn(in_channels, length, n_targets, float(hp.get("width", 1.0)),
                          float(hp.get("dropout", 1.0))), hp)


def space(trial) -> dict:
    return onehot_space(trial)
