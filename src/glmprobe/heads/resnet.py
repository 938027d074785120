"""``resnet``: the study's dilated ResNet on one-hot DNA, its strongest model (paper.md §4).

1. Conv(196f, k19, same, bias) -> BN -> SiLU -> Drop 0.2
2. Conv(196f, k3, no bias) -> BN, then 5 x [SiLU -> Drop 0.1 -> Conv(196f, k3, dilation
   1/2/4/8/16, no bias) -> BN]; add the block input; SiLU
3. Drop 0.2 -> MaxPool 5 -> Conv(256f, k7, same) -> BN -> SiLU -> Drop 0.2 -> MaxPool 5
4. position-wise Dense 256f -> BN -> SiLU -> Drop 0.5 -> AvgPool 2 -> Flatten
   -> Dense 256f -> BN -> SiLU -> Drop 0.5 -> Dense(T)
Glorot-uniform kernels and Keras BatchNorm. Dropout rates scale with the ``dropout``
hyper-parameter, widths with ``width``; the output is linear (logits for binary tasks).
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import with_rc
from glmprobe.heads.layers import batch_norm, conv, dropout, glorot_init_, require_length, scaled
from glmprobe.train.tune import STUDY_ONEHOT, onehot_space


def study(task: str, family: str | None = None) -> dict:
    """lentiMPRA/onehot_models.py: Adam 1e-3, batch 128, MSE, ES 10, ReduceLR x0.2/5 (min 1e-6), no
    clipping; on binary tasks the study's one-hot ChIP/eCLIP loop (batch 256)."""
    return {**STUDY_ONEHOT[task], "rc": False}


STUDY = study("regression")
DILATIONS = (1, 2, 4, 8, 16)


class DilatedResidual(nn.Module):
    """Conv k3 -> BN, then SiLU/Drop/dilated-conv/BN per dilation; add the input."""

    def __init__(self, channels: int, drop: float):
        super().__init__()
        layers: list[nn.Module] = [conv(channels, channels, 3, bias=False), batch_norm(channels)]
        for d in DILATIONS:
            layers += [nn.SiLU(), nn.Dropout(drop), conv(channels, channels, 3, dilation=d, bias=False),
                       batch_norm(channels)]
        self.body = nn.Sequential(*layers)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class ResNet(nn.Module):
    """(N, 4, L) one-hot -> (N, T)."""

    def __init__(self, in_channels: int, length: int, n_targets: int, factor: float = 1.0, drop_scale: float = 1.0):
        super().__init__()
        c1, c2, h = scaled(196, factor), scaled(256, factor), scaled(256, factor)
        out_len = length // 5 // 5 // 2
        require_length("resnet", length, out_len, 50)
        self.stem = nn.Sequential(conv(in_channels, c1, 19), batch_norm(c1), nn.SiLU(), dropout(0.2, drop_scale))
        self.residual = DilatedResidual(c1, min(0.1 * drop_scale, 0.9))
        self.trunk = nn.Sequential(
            dropout(0.2, drop_scale), nn.MaxPool1d(5),
            conv(c1, c2, 7), batch_norm(c2), nn.SiLU(), dropout(0.2, drop_scale), nn.MaxPool1d(5),
            nn.Conv1d(c2, h, 1), batch_norm(h), nn.SiLU(), dropout(0.5, drop_scale),  # position-wise Dense
            nn.AvgPool1d(2), nn.Flatten(),
            nn.Linear(h * out_len, h), batch_norm(h), nn.SiLU(), dropout(0.5, drop_scale),
            nn.Linear(h, n_targets),
        )
        glorot_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.residual(self.stem(x.float())))


def build(in_channels: int, length: int, n_targets: int, hp: dict) -> ResNet:
    """A fresh model for ``hp`` (the caller seeds torch first)."""
    return with_rc(ResNet(in_channels, length, n_targets, float(hp.get("width", 1.0)),
                          float(hp.get("dropout", 1.0))), hp)


def space(trial) -> dict:
    return onehot_space(trial)
