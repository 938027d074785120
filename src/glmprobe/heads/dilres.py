"""``dilres``: a compact dilated residual CNN for one-hot DNA, built to train fast on CPUs.

Not part of the study. Its one-hot set (ResNet, MPRAnn, CNN) is sized for GPUs and, on a few
thousand sequences and a CPU budget, stays far below the synthetic benchmark's ceiling; this
is the modern, cheap baseline a comparison needs so that gLM probes are not flattered.

    scan = Conv(4 -> C, k19) -> BN -> ReLU                       motif detectors, full resolution
    ctx  = MaxPool 4 (scan) -> 3 x residual [BN -> GELU -> Conv(C, k3, dilation 2/4/8)
           -> BN -> GELU -> Drop -> Conv(C, k1)]                  pairs of motifs, ~110 nt field
    out  = Drop -> Linear(T) on [8-bin average of scan ‖ 8-bin average of ctx ‖ max of ctx]

C = 64 x ``width``. The output is linear in pooled detector activity, as MPRA activity is
roughly additive over sites; the binned pooling keeps where along the sequence a site sits;
the context path carries interactions and the global max carries the strongest site (binding).
With no wide dense layer the model has ~60k parameters and overfits a few thousand sequences
slowly. Dropout rates scale with ``dropout``; ``rc`` wraps it in reverse-complement augmentation.
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import with_rc
from glmprobe.heads.layers import batch_norm, dropout, require_length, scaled
from glmprobe.train.tune import STUDY_FIT, onehot_space

DILATIONS = (2, 4, 8)
POOL = 4
BINS = 8
CHANNELS = 64


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
        c = scaled(CHANNELS, factor)
        self.scan = nn.Sequential(nn.Conv1d(in_channels, c, 19, padding=9), batch_norm(c), nn.ReLU())
        self.ctx = nn.Sequential(nn.MaxPool1d(POOL), *(Block(c, d, min(0.1 * drop_scale, 0.9)) for d in DILATIONS),
                                 batch_norm(c), nn.GELU())
        self.bins, self.peak = nn.AdaptiveAvgPool1d(BINS), nn.AdaptiveMaxPool1d(1)
        self.out = nn.Sequential(dropout(0.2, drop_scale), nn.Linear(c * (2 * BINS + 1), n_targets))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.scan(x.float())
        c = self.ctx(z)
        return self.out(torch.cat([self.bins(z).flatten(1), self.bins(c).flatten(1), self.peak(c).flatten(1)], 1))


def build(in_channels: int, length: int, n_targets: int, hp: dict) -> nn.Module:
    return with_rc(DilRes(in_channels, length, n_targets, float(hp.get("width", 1.0)),
                          float(hp.get("dropout", 1.0))), hp)


def space(trial) -> dict:
    return onehot_space(trial)
