"""``dilres``: a compact motif-scanning CNN with a dilated residual context path, built to train fast on CPUs.

Not part of the study. Its one-hot set (ResNet, MPRAnn, CNN) is sized for GPUs and, on a few
thousand sequences and a CPU budget, stays far below the synthetic benchmark's ceiling; this
is the modern, cheap baseline a comparison needs so that gLM probes are not flattered.

    scan = Conv(4 -> C, k19) -> BN -> exp                         motif detectors, full resolution
    add  = 8-bin average of scan                                  additive site activity, by position
    ctx  = MaxPool 4 (scan) -> Conv(C -> C/4, k1) -> 2 x residual
           [BN -> GELU -> Conv(C/4, k3, dilation 2/4) -> BN -> GELU -> Drop -> Conv(C/4, k1)]
           -> BN -> GELU -> global max                            pairs of motifs, ~50 nt field
    out  = Drop -> Linear(T) on [add ‖ ctx]

C = 64 x ``width``. The first layer's exponential activation (Koo & Ploenzke 2021) turns each
filter into a PWM-like scanner whose output grows with the match score, so the binned average is
close to the additive "sum of site scores by position" that MPRA activity mostly is; with ReLU
instead the same model reaches about half the validation Pearson in the same CPU budget (measured
on ``glmprobe synth``: 0.32 vs 0.64 test Pearson in 60 CPU-s; see the README). The context path is
narrow (C/4 channels after a max-pool): at C/1 and three blocks (the previous design) its
convolutions took ~4x the scan's CPU time and overfit, and the net plateaued at 0.45 validation Pearson.
The global max is a ``MaxPool1d`` over the whole pooled length, not ``AdaptiveMaxPool1d``: the
same values, but DeepLIFT (tangermeme) has a rule for it; treated as linear, the adaptive one left
convergence deltas of 0.3 on synthetic MPRA outputs (now ~1e-6) and grad x input's lead over
DeepLIFT/SHAP at the planted sites was partly that error (0.844 -> 0.855 at strong sites).
Dropout rates scale with ``dropout``; ``rc`` (on by default) wraps it in reverse-complement augmentation. By default
dilres is a deep ensemble of :data:`MEMBERS` such nets (``members``; ``--members 1`` for one), each
trained with shift jitter of up to :data:`SHIFT` bases (``shift``) and random substitutions at
:data:`MUTATE` per base (``mutate``), both applied by ``Arch.build``.
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import with_rc
from glmprobe.heads.layers import Exp, batch_norm, dropout, require_length, scaled
from glmprobe.train.tune import STUDY_FIT, onehot_space

DILATIONS = (2, 4)
POOL = 4
BINS = 8
CHANNELS = 64
KERNEL = 19  # first-layer filter width: the synthetic and JASPAR motifs are 8-21 nt
# Seeds learn different filters, so averaging them pays: synthetic MPRA test Pearson (60 CPU-s per
# member, weight decay 1e-2) 0.612 alone, 0.663 / 0.674 / 0.682 for 2 / 3 / 4 members (README).
MEMBERS = 5
# Shift jitter keeps single nets learning longer (best epoch ~20 instead of ~11): synthetic MPRA test
# Pearson, 60 CPU-s, two seeds each: 0.612-0.618 without, 0.645 / 0.652 / 0.646 / 0.654 at 3 / 8 / 16 / 30 bases.
SHIFT = 8
# Random substitutions (EvoAug's mutation, Lee et al. 2023) make the nets lean on whole motifs rather
# than single bases: synthetic MPRA, 5 members in 480 s, grad x input AUROC at the planted sites
# 0.889 -> 0.893, DeepLIFT/SHAP 0.855 -> 0.868 (test Pearson 0.718 -> 0.720); synthetic ChIP, 5
# members (early-stopped within 300 s): 0.873 -> 0.889 and 0.843 -> 0.850 (test AUROC 0.818 -> 0.826).
# It slows convergence: on a 240 s budget (bench_baselines) MPRA 0.713 -> 0.702, so the fit gains
# nothing until the budget is long enough (480 s above).
# MPRA, 3 members x 12 epochs, test Pearson / map AUROC: none 0.652 / 0.846, 0.02: 0.655 / 0.848,
# 0.05: 0.656 / 0.859, 0.10: 0.631 / 0.841, 0.15: 0.561 / 0.760 (too many planted sites broken).
MUTATE = 0.05


def study(task: str, family: str | None = None) -> dict:
    """No study setting exists: the study's one-hot frame (ES 10) with the settings measured best for
    this net on a CPU budget (``benchmarks/bench_baselines.py``): a deep ensemble of
    :data:`MEMBERS` nets (:mod:`glmprobe.train.ensemble`), each AdamW lr 3e-3, weight decay 1e-2,
    batch 64, a cosine schedule to the epoch cap or deadline (floor 1e-5), shift jitter of up to
    :data:`SHIFT` bases, random substitutions at :data:`MUTATE` per base and reverse-complement
    augmentation, both strands averaged at evaluation (:mod:`glmprobe.heads.augment`), for every task. The strand average pays even where a few sites
    act by orientation (GABPA's strand factor in ``glmprobe synth``): synthetic MPRA, 5 members in
    480 s, test Pearson 0.693 -> 0.718 and grad x input AUROC at the planted sites 0.855 -> 0.889
    (3 members x 12 epochs: 0.643 -> 0.652, 0.820 -> 0.846); synthetic ChIP, 60 CPU-s: test AUROC
    0.808 -> 0.828. The searched space still tries both (``rc``) for data where orientation matters more."""
    return {**STUDY_FIT, "lr": 3e-3, "batch_size": 64, "min_lr": 1e-5, "schedule": "cosine", "rc": True,
            "weight_decay": 1e-2, "members": MEMBERS, "shift": SHIFT, "mutate": MUTATE}


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
        h = max(1, c // 4)
        self.scan = nn.Sequential(nn.Conv1d(in_channels, c, KERNEL, padding=KERNEL // 2), batch_norm(c), Exp())
        self.ctx = nn.Sequential(nn.MaxPool1d(POOL), nn.Conv1d(c, h, 1),
                                 *(Block(h, d, min(0.1 * drop_scale, 0.9)) for d in DILATIONS),
                                 batch_norm(h), nn.GELU(), nn.MaxPool1d(length // POOL))   # global max
        self.bins = nn.AdaptiveAvgPool1d(BINS)
        self.out = nn.Sequential(dropout(0.1, drop_scale), nn.Linear(c * BINS + h, n_targets))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.scan(x.float())
        return self.out(torch.cat([self.bins(z).flatten(1), self.ctx(z).flatten(1)], 1))


def build(in_channels: int, length: int, n_targets: int, hp: dict) -> nn.Module:
    return with_rc(DilRes(in_channels, length, n_targets, float(hp.get("width", 1.0)),
                          float(hp.get("dropout", 1.0))), hp)


def space(trial) -> dict:
    """The shared one-hot space; every trial is the same ensemble size and augmentation (not searched:
    more members only ever cost time, so that is the budget's choice, ``--members``)."""
    return {**onehot_space(trial), "members": MEMBERS, "shift": SHIFT, "mutate": MUTATE}
