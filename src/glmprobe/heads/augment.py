"""Augmentations for one-hot models: reverse complement (a searched option, ``rc``), shift jitter
(``shift``) and random substitutions (``mutate``).

With A, C, G, T as channels 0..3, the reverse complement of a (N, 4, L) one-hot batch is
the batch flipped along both channels and length. While training, each sequence is
replaced by its reverse complement with probability 1/2; in eval mode the prediction is
the mean over both strands, so a model trained on both strands is also scored on both.
Orientation-dependent signal (lentiMPRA, GABPA's strand factor in ``synth``) can make this
worse, which is why it is searched rather than always on.

Shift jitter moves each training sequence by a random 0..``shift`` bases left or right, filling
with zeros (an unknown base), and leaves evaluation alone. A motif's effect that varies slowly with
position (the synthetic MPRA's position weight changes by 0.2 % per base) survives a few bases of
shift, so each epoch sees slightly different inputs with nearly the same label.

Random substitutions (EvoAug's mutation augmentation, Lee et al. 2023) redraw each known base
uniformly with probability ``mutate`` while training (so 3 in 4 of those change), label unchanged:
a net cannot then rest its prediction on any single base, and its maps spread over whole motifs.
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


def shift_batch(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """(N, ..., L) batch with row i moved ``shifts[i]`` positions right (negative: left) along the
    last axis, zero-filled (segmented (N, S, 4, L) input: every segment by the row's shift)."""
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    length = flat.shape[-1]
    src = torch.arange(length, device=x.device)[None, :] - shifts[:, None]     # (N, L) source index
    inside = (src >= 0) & (src < length)
    out = torch.gather(flat, 2, src.clamp(0, length - 1)[:, None, :].expand_as(flat))
    return (out * inside[:, None, :].to(flat.dtype)).reshape(x.shape)


class TrainingAugment(nn.Module):
    """Wraps a one-hot model: ``augment(x)`` is applied while training only (eval sees ``x`` as is)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.augment(x.float()) if self.training else x)


class ShiftAugment(TrainingAugment):
    """Random shifts of up to ``max_shift`` bases while training."""

    def __init__(self, model: nn.Module, max_shift: int):
        super().__init__(model)
        self.max_shift = int(max_shift)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (x.shape[0],), device=x.device)
        return shift_batch(x, shifts)


def with_shift(model: nn.Module, hp: dict) -> nn.Module:
    """``model`` wrapped in :class:`ShiftAugment` when ``hp["shift"]`` > 0."""
    return ShiftAugment(model, int(hp["shift"])) if int(hp.get("shift", 0) or 0) > 0 else model


def mutate_batch(x: torch.Tensor, rate: float) -> torch.Tensor:
    """(..., 4, L) one-hot batch with each known base replaced by a uniformly random one (possibly
    itself) with probability ``rate``; N (all-zero columns) stays N."""
    column = (*x.shape[:-2], 1, x.shape[-1])
    hit = (torch.rand(column, device=x.device) < rate) & (x.sum(-2, keepdim=True) > 0)
    new = nn.functional.one_hot(torch.randint(0, 4, column, device=x.device).squeeze(-2), 4)
    return torch.where(hit, new.transpose(-1, -2).to(x.dtype), x)


class MutateAugment(TrainingAugment):
    """Random substitutions at ``rate`` per base while training."""

    def __init__(self, model: nn.Module, rate: float):
        super().__init__(model)
        self.rate = float(rate)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return mutate_batch(x, self.rate)


def with_mutate(model: nn.Module, hp: dict) -> nn.Module:
    """``model`` wrapped in :class:`MutateAugment` when ``hp["mutate"]`` > 0."""
    return MutateAugment(model, float(hp["mutate"])) if float(hp.get("mutate", 0) or 0) > 0 else model
