"""``chip_cnn`` head and one-hot baseline: the study's ChIP/eCLIP CNN (paper.md §3).

[BN -> Conv1D(reduce_dim, k1)] -> Conv(64f, k7) -> BN -> ReLU -> MaxPool 4 -> Drop 0.2
-> Conv(96f, k5) -> BN -> ReLU -> MaxPool 4 -> Drop 0.2 -> Conv(128f, k5) -> BN -> ReLU
-> MaxPool 2 -> Drop 0.2 -> Flatten -> Dense(256f) -> BN -> ReLU -> Drop -> Dense(T).

The bracketed reduction prefix is what the study wrote for NT but silently bypassed for
every other embedding (bug §8.3). Here it is a build option, ``reduce=True`` by default, and
the probe step always applies it to embeddings and logs it. The one-hot faithful baseline
may pass ``reduce=False``. The output is linear (logits); the study's sigmoid lives in the loss.

Port choices: every conv uses "same" padding (the study's later convs would otherwise need
>= 40 positions, which 36-token NT embeddings do not have); pools shrink to the running
length; the first conv is HeUniform, everything else Glorot-uniform as in Keras.
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import with_rc
from glmprobe.heads.layers import batch_norm, dropout, glorot_init_, he_uniform_, scaled
from glmprobe.heads.rep_cnn import pool_plan
from glmprobe.train.tune import STUDY_ONEHOT as LOOPS
from glmprobe.train.tune import onehot_space, shared_space

REDUCE_DIM = 512   # NT_CNN.py's 1x1 reduction width (not searched)


def study(task: str, family: str | None = None) -> dict:
    """Tasks 2/6: BCE, Adam 1e-3, batch 256, ReduceLR floor 1e-6, the same for one-hot and every
    embedding. Outside the study (regression) the lentiMPRA one-hot loop (batch 128) is used."""
    hp = {**LOOPS[task], "reduce_dim": REDUCE_DIM}
    return {**hp, "rc": False} if family == "onehot" else hp


STUDY = study("binary")
STUDY_ONEHOT = study("binary", "onehot")


class ChipCNN(nn.Module):
    """(N, C, L) float -> (N, T) raw outputs (logits)."""

    def __init__(self, in_channels: int, length: int, n_targets: int, factor: float = 1.0,
                 reduce_dim: int = REDUCE_DIM, dropout_scale: float = 1.0, reduce: bool = True):
        super().__init__()
        c1, c2, c3, h = (scaled(n, factor) for n in (64, 96, 128, 256))
        (p1, p2, p3), out_len = pool_plan(length, (4, 4, 2))
        first = in_channels
        if reduce:
            self.reduce = nn.Sequential(batch_norm(in_channels), nn.Conv1d(in_channels, reduce_dim, 1))
            first = reduce_dim
        else:
            self.reduce = nn.Identity()
        self.first = nn.Conv1d(first, c1, 7, padding=3)
        self.body = nn.Sequential(
            batch_norm(c1), nn.ReLU(), nn.MaxPool1d(p1), dropout(0.2, dropout_scale),
            nn.Conv1d(c1, c2, 5, padding=2), batch_norm(c2), nn.ReLU(), nn.MaxPool1d(p2), dropout(0.2, dropout_scale),
            nn.Conv1d(c2, c3, 5, padding=2), batch_norm(c3), nn.ReLU(), nn.MaxPool1d(p3), dropout(0.2, dropout_scale),
            nn.Flatten(),
            nn.Linear(c3 * out_len, h), batch_norm(h), nn.ReLU(), dropout(0.5, dropout_scale),
            nn.Linear(h, n_targets),
        )
        glorot_init_(self)          # Keras defaults ...
        he_uniform_(self.first)     # ... except the first conv, HeUniform in the study

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.first(self.reduce(x.float())))


def build(in_channels: int, length: int, n_targets: int, hp: dict, *, reduce: bool = True) -> ChipCNN:
    """A fresh model for hyperparameters ``hp`` (the caller seeds torch first)."""
    return with_rc(ChipCNN(in_channels, length, n_targets, factor=float(hp.get("width", 1.0)),
                           reduce_dim=int(hp.get("reduce_dim", REDUCE_DIM)),
                           dropout_scale=float(hp.get("dropout", 1.0)), reduce=reduce), hp)


def space(trial) -> dict:
    """The team's shared search, identical for embeddings and one-hot (bug §8.11: equal protocol)."""
    return shared_space(trial)


def space_onehot(trial) -> dict:
    """The one-hot baseline's search: the shared space plus reverse-complement augmentation."""
    return onehot_space(trial)
