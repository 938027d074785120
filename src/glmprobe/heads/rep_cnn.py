"""``token_cnn`` head and ``cnn`` one-hot baseline: the study's ``rep_cnn``.

BN -> Conv1D(reduce_dim, k1) -> Conv(196f, k7, same) -> BN -> exp -> Drop 0.2 -> MaxPool 5
-> Conv(256f, k7, same) -> BN -> ReLU -> MaxPool 4 -> Drop 0.2 -> Flatten
-> Dense(512f) -> BN -> ReLU -> Drop -> Dense(256f) -> BN -> ReLU -> Drop -> Dense(T)
with N(0, 0.005) kernels (paper.md §3). Input is channels-first (N, C, L): per-token
embeddings (C = hidden size, L = tokens) or one-hot DNA (C = 4, L = nucleotides).

Two guards the Keras original lacked: the exponential runs in fp32 with its argument
clamped (exp overflows fp16 at 11.1 and fp32 at 88.7), and each max-pool shrinks to the
length it is given, so 34-token NT embeddings and 1000-nt one-hot inputs both build.
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.augment import with_rc
from glmprobe.heads.layers import Exp, batch_norm, dropout, scaled
from glmprobe.heads.mlp import DenseTail, init_normal_
from glmprobe.train.tune import STUDY_FIT, onehot_space, shared_space
from glmprobe.train.tune import STUDY_ONEHOT as ONEHOT_LOOPS

REDUCE_DIM = 196   # the 1x1 reduction width of NT_layer_probe.py and of the one-hot CNN (not searched)
REDUCE_DIM_OTHERS = 128   # lentiMPRA/representation_perf.ipynb: GPN, DNABERT-2, HyenaDNA, randbert, Sei


def study(task: str, family: str | None = None) -> dict:
    """The study's rep_cnn callers (paper.md §3-4), per input:

    * one-hot ("CNN" of onehot_models.py): reduce_dim 196, lr 1e-3, batch 128, ReduceLR floor 1e-6;
    * NT (NT_layer_probe.py): reduce_dim 196, lr 1e-4, batch 256, floor 1e-8;
    * every other gLM (representation_perf.ipynb): reduce_dim 128, lr 1e-4, batch 64, floor 1e-8.

    The study ran rep_cnn on lentiMPRA only; on binary tasks the ChIP/eCLIP loop (lr 1e-3,
    batch 256, floor 1e-6) replaces the lentiMPRA one, with the same reduction width.
    """
    if family == "onehot":
        return {**ONEHOT_LOOPS[task], "reduce_dim": REDUCE_DIM, "rc": False}
    reduce_dim = REDUCE_DIM if family == "nt" else REDUCE_DIM_OTHERS
    if task != "regression":
        return {**ONEHOT_LOOPS[task], "reduce_dim": reduce_dim}
    batch = 256 if family == "nt" else 64
    return {**STUDY_FIT, "reduce_dim": reduce_dim, "lr": 1e-4, "batch_size": batch, "min_lr": 1e-8}


STUDY = study("regression", "nt")
STUDY_ONEHOT = study("regression", "onehot")


def pool_plan(length: int, sizes: tuple[int, ...]) -> tuple[list[int], int]:
    """Pool sizes capped at the running length, and the final length (>= 1)."""
    if length < 1:
        raise ValueError(f"input length must be >= 1, got {length}")
    plan = []
    for size in sizes:
        k = max(1, min(size, length))
        plan.append(k)
        length //= k
    return plan, length


class RepCNN(nn.Module):
    """(N, C, L) float -> (N, T) raw outputs (logits for binary tasks)."""

    def __init__(self, in_channels: int, length: int, n_targets: int, factor: float = 1.0,
                 reduce_dim: int = REDUCE_DIM, dropout_scale: float = 1.0):
        super().__init__()
        c1, c2 = scaled(196, factor), scaled(256, factor)
        (p1, p2), out_len = pool_plan(length, (5, 4))
        self.reduce = nn.Sequential(batch_norm(in_channels), nn.Conv1d(in_channels, reduce_dim, 1))
        self.conv = nn.Sequential(
            nn.Conv1d(reduce_dim, c1, 7, padding=3), batch_norm(c1), Exp(), dropout(0.2, dropout_scale), nn.MaxPool1d(p1),
            nn.Conv1d(c1, c2, 7, padding=3), batch_norm(c2), nn.ReLU(), nn.MaxPool1d(p2), dropout(0.2, dropout_scale),
            nn.Flatten(),
        )
        self.tail = DenseTail(c2 * out_len, n_targets, factor, dropout_scale)
        init_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.conv(self.reduce(x.float())))


def build(in_channels: int, length: int, n_targets: int, hp: dict) -> RepCNN:
    """A fresh model for hyperparameters ``hp`` (the caller seeds torch first)."""
    return with_rc(RepCNN(in_channels, length, n_targets, factor=float(hp.get("width", 1.0)),
                          reduce_dim=int(hp.get("reduce_dim", REDUCE_DIM)),
                          dropout_scale=float(hp.get("dropout", 1.0))), hp)


def space(trial) -> dict:
    """The team's shared search, identical for embeddings and one-hot (bug §8.11: equal protocol)."""
    return shared_space(trial)


def space_onehot(trial) -> dict:
    """The one-hot baseline's search: the shared space plus reverse-complement augmentation."""
    return onehot_space(trial)
