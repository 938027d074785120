"""``two_tower`` probe head and ``mtsplice`` one-hot baseline: the study's ``mtsplice_model`` (task 4).

Input (N, S, C, L): S segments (splicing: ``seql`` around the exon start, ``seqr`` around its
end), each channels-first and embedded or one-hot encoded on its own. Each segment has its own
tower, [BN -> Conv1D(512, k1)] -> Conv(128f, k7, same) -> BN -> ReLU -> MaxPool 4 -> Drop 0.2; the
towers' outputs are concatenated along length -> Conv(164f, k5) -> BN -> ReLU -> MaxPool 4 ->
Drop 0.2 -> Conv(256f, k5) -> BN -> ReLU -> MaxPool 2 -> Drop 0.2 -> Flatten -> Dense(256f) -> BN
-> ReLU -> Drop 0.5 -> Dense(256f) -> BN -> ReLU -> Drop 0.5 -> Dense(T), linear
(``alternative-splicing/custom_model.py``; paper.md §3). The bracketed reduction is the study's
``mtsplice_embed_model`` prefix for embeddings (``reduce=True``, the probe head); the one-hot
baseline has none. Convs are HeUniform and dense layers Glorot-uniform, as in Keras.

Port choices: pools shrink to the running length (71-token NT halves and 400-nt one-hot halves
both build); the study trained it with ``diff_KL``, Adam 1e-3, batch 256, ReduceLR floor 1e-6,
for one-hot and embeddings alike. No reverse-complement augmentation: a splicing input is
oriented on the transcribed strand, so its reverse complement is another input, not an
equivalent one.
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.heads.layers import batch_norm, dropout, glorot_init_, he_uniform_, scaled
from glmprobe.heads.rep_cnn import pool_plan
from glmprobe.train.tune import STUDY_FIT, shared_space

REDUCE_DIM = 512   # mtsplice_embed_model's 1x1 reduction width (not searched)


def study(task: str = "regression", family: str | None = None) -> dict:
    """The study's splicing loop, the same for one-hot and every embedding."""
    hp = {**STUDY_FIT, "lr": 1e-3, "batch_size": 256, "min_lr": 1e-6}
    return hp if family == "onehot" else {**hp, "reduce_dim": REDUCE_DIM}


STUDY = study()
STUDY_ONEHOT = study(family="onehot")


class TwoTower(nn.Module):
    """(N, S, C, L) float -> (N, T) raw outputs."""

    def __init__(self, segments: int, in_channels: int, length: int, n_targets: int, factor: float = 1.0,
                 reduce_dim: int = REDUCE_DIM, dropout_scale: float = 1.0, reduce: bool = True):
        super().__init__()
        c1, c2, c3, h = (scaled(n, factor) for n in (128, 164, 256, 256))
        (p0,), tower_len = pool_plan(length, (4,))
        (p1, p2), out_len = pool_plan(segments * tower_len, (4, 2))
        first = reduce_dim if reduce else in_channels

        def tower() -> nn.Sequential:
            prefix = [batch_norm(in_channels), nn.Conv1d(in_channels, reduce_dim, 1)] if reduce else []
            return nn.Sequential(*prefix, nn.Conv1d(first, c1, 7, padding=3), batch_norm(c1), nn.ReLU(),
                                 nn.MaxPool1d(p0), dropout(0.2, dropout_scale))

        self.towers = nn.ModuleList(tower() for _ in range(segments))
        self.body = nn.Sequential(
            nn.Conv1d(c1, c2, 5, padding=2), batch_norm(c2), nn.ReLU(), nn.MaxPool1d(p1), dropout(0.2, dropout_scale),
            nn.Conv1d(c2, c3, 5, padding=2), batch_norm(c3), nn.ReLU(), nn.MaxPool1d(p2), dropout(0.2, dropout_scale),
            nn.Flatten(),
            nn.Linear(c3 * out_len, h), batch_norm(h), nn.ReLU(), dropout(0.5, dropout_scale),
            nn.Linear(h, h), batch_norm(h), nn.ReLU(), dropout(0.5, dropout_scale),
            nn.Linear(h, n_targets),
        )
        glorot_init_(self)
        for m in self.modules():       # every conv is HeUniform in the study, dense layers Glorot
            if isinstance(m, nn.Conv1d) and m.kernel_size[0] > 1:
                he_uniform_(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if x.ndim != 4 or x.shape[1] != len(self.towers):
            raise ValueError(f"two-tower input must be (N, {len(self.towers)}, C, L), got {tuple(x.shape)}")
        parts = [tower(x[:, s]) for s, tower in enumerate(self.towers)]   # each segment on its own tower
        return self.body(torch.cat(parts, dim=2))                          # concatenated along length


def build(in_channels: int, length: int, n_targets: int, hp: dict, *, segments: int = 2,
          reduce: bool = True) -> TwoTower:
    """A fresh model for hyperparameters ``hp`` (the caller seeds torch first); ``length`` is one
    segment's (the longest), inputs are (N, segments, in_channels, length)."""
    return TwoTower(segments, in_channels, length, n_targets, factor=float(hp.get("width", 1.0)),
                    reduce_dim=int(hp.get("reduce_dim", REDUCE_DIM)), dropout_scale=float(hp.get("dropout", 1.0)),
                    reduce=reduce)


def space(trial) -> dict:
    """The team's shared search (no reverse-complement augmentation, see the module docstring)."""
    return shared_space(trial)
