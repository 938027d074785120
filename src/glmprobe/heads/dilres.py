"""``dilres``: a compact dilated residual CNN for one-hot DNA, built to train fast on CPUs.

Not part of the study. Its one-hot set (ResNet, MPRAnn, CNN) is sized for GPUs and, on a few
thousand sequences and a CPU budget, stays far below the synthetic benchmark's ceiling; this
is the modern, cheap baseline a comparison needs so that gLM probes are not flattered.

    Conv(4 -> C, k19) -> BN -> ReLU -> MaxPool 4
    -> 3 x residual [BN -> GELU -> Conv(C, k3, dilation 1/2/4) -> BN -> GELU -> Drop -> Conv(C, k1)]
    -> binned average pooling (8 bins: coarse position survives) ‖ global max pooling
    -> Dense 128 -> BN -> GELU -> Drop 0.2 -> Dense(T)

C = 64 x ``width``. The stem's filters are motif detectors at full resolution; everything after
runs on a quarter of the positions (most of the saving). The receptive field (about 75 nt) covers two
motifs and the gap between them, so pairwise interactions are learnable; the binned pooling
keeps where along the sequence a motif sits (MPRA activity depends on position) at a cost that
does not grow with length. Dropout rates scale with ``dropout``; ``rc`` wraps the model in
reverse-complement augmentation.
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import with_rc
from glmprobe.heads.layers import batch_norm, dropout, require_length, scaled
from glmprobe.train.tune import STUDY_FIT, onehot_space

DILATIONS = (1, 2, 4)
POOL = 4
BINS = 8
CHANNELS, HIDDEN = 64, 128


def study(task: str, family: str | None = None) -> dict:
    """No study setting exists: the study's one-hot frame (ES 10, ReduceLR x0.2/5) with AdamW-style
    defaults for a small residual net (lr 2e-3, batch 64, floor 1e-6)."""
    return {**STUDY_FIT, "lr": 2e-3, "batch_size": 64, "min_lr": 1e-6, "rc": False}


STUDY = study("regression")


class Block(nn.Module):
    def __init__(self, c: int, dilation: int, drop: float):
        super().__init__()
        self.body = nn.Sequential(batch_norm(c), nn.GELU(), nn.Conv1d(c, c, 3, padding=dilation, dilation=dilation),
                                  batch_norm(c), nn.GELU(), nn.Dropout(drop), nn.Conv1d(c, c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DilRes(nn.Module):
    """(N, 4, L) one-hot -> (N, T)."""

    def __init__(self, in_channels: int, length: int, n_targets: int, factor: float = 1.0, drop_scale: float = 1.0):
        super().__init__()
        require_length("dilres", length, length // POOL // BINS, POOL * BINS)
        c, h = scaled(CHANNELS, factor), scaled(HIDDEN, factor)
        self.stem = nn.Sequential(nn.Conv1d(in_channels, c, 19, padding=9), batch_norm(c), nn.ReLU(),
                                  nn.MaxPool1d(POOL))
        self.blocks = nn.Sequential(*(Block(c, d, min(0.1 * drop_scale, 0.9)) for d in DILATIONS))
        self.act = nn.Sequential(batch_norm(c), nn.GELU())
        self.bins, self.peak = nn.AdaptiveAvgPool1d(BINS), nn.AdaptiveMaxPool1d(1)
        self.head = nn.Sequential(nn.Linear(c * (BINS + 1), h), batch_norm(h), nn.GELU(), dropout(0.2, drop_scale),
                                  nn.Linear(h, n_targets))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.act(self.blocks(self.stem(x.float())))
        return self.head(torch.cat([self.bins(z).flatten(1), self.peak(z).flatten(1)], 1))


def build(in_channels: int, length: int, n_targets: int, hp: dict) -> nn.Module:
    return with_rc(DilRes(in_channels, length, n_targets, float(hp.get("width", 1.0)),
                          float(hp.get("dropout", 1.0))), hp)


def space(trial) -> dict:
    return onehot_space(trial)
