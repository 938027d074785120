"""Reverse-complement augmentation for one-hot models (a searched option, ``rc``).

With A, C, G, T as channels 0..3, the reverse complement of a (N, 4, L) one-hot batch is
the batch flipped along both channels and length. While training, each sequence is
replaced by its reverse complement with probability 1/2; in eval mode the prediction is
the mean over both strands, so a model trained on both strands is also scored on both.
Orientation-dependent signal (lentiMPRA, GABPA's strand factor in ``synth``) can make this
worse, which is why it is searched rather than always on.
"""

from __future__ import annotations

import torch
from torch import nn


def reverse_complement(x: torch.Tensor) -> torch.Tensor:
    """(N, 4, L) one-hot (ACGT channels) -> its reverse complement."""
    return x.flip(1, 2)


class RCAugment(nn.Module):
    """Wraps a one-hot model: random strand while training, strand average in eval."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 4:
            raise ValueError(f"rc augmentation needs one-hot input with 4 channels, got {x.shape[1]}")
        if self.training:
            flip = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(flip[:, None, None], reverse_complement(x), x)
            return self.model(x)
        return 0.5 * (self.model(x) + self.model(reverse_complement(x)))


def with_rc(model: nn.Module, hp: dict) -> nn.Module:
    """``model`` wrapped in :class:`RCAugment` when ``hp["rc"]`` is true (one-hot input only)."""
    return RCAugment(model) if hp.get("rc") else model
