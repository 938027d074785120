"""Keras-compatible building blocks for the one-hot architectures (paper.md §10).

The study's models are Keras; the port keeps Keras' BatchNorm eps (1e-3),
Glorot-uniform kernels with zero bias, "same" padding, and exponential
activations kept in fp32. One deliberate deviation: BatchNorm momentum is
PyTorch's 0.1, not Keras' 0.99 (= 0.01 here). Keras' value suits the study's
~1,500 steps per epoch; on small datasets (tens of steps per epoch) the running
statistics lag for many epochs and early-stopping sees inflated validation
losses (measured on the synthetic MPRA, DeepSTARR: validation MSE 1.15 vs 1.37
after one epoch).
"""

from __future__ import annotations

import torch
from torch import nn

from glmprobe.errors import UserError

BN_MOMENTUM, BN_EPS = 0.1, 1e-3  # see the module docstring for momentum
EXP_CLAMP = 30.0  # exp(30) ~ 1e13: far above BN-normalised activations, far below fp32 overflow


def batch_norm(n: int) -> nn.BatchNorm1d:
    """BatchNorm1d with Keras defaults; works on (N, F) and (N, C, L)."""
    return nn.BatchNorm1d(n, momentum=BN_MOMENTUM, eps=BN_EPS)


def glorot_init_(module: nn.Module) -> nn.Module:
    """Keras defaults for every Conv1d/Linear: Glorot-uniform kernel, zero bias."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def he_uniform_(layer: nn.Module) -> nn.Module:
    """Keras HeUniform (Kaiming-uniform, ReLU gain), zero bias."""
    nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


def conv(c_in: int, c_out: int, k: int, *, padding: str = "same", dilation: int = 1, bias: bool = True) -> nn.Conv1d:
    """Conv1d with Keras' padding names ("same" pads k//2 for odd k; "valid" none)."""
    return nn.Conv1d(c_in, c_out, k, padding=padding, dilation=dilation, bias=bias)


def scaled(n: int, factor: float) -> int:
    """Filters/units scaled by the width factor (at least 1)."""
    return max(1, int(round(n * factor)))


def dropout(p: float, scale: float) -> nn.Dropout:
    """Dropout with its rate multiplied by the searched ``dropout`` scale (capped at 0.9)."""
    return nn.Dropout(min(max(p * scale, 0.0), 0.9))


class Exp(nn.Module):
    """exp activation, always in fp32 (also under autocast), argument clamped against overflow."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return torch.exp(x.float().clamp(max=EXP_CLAMP))


class ChannelSoftmax(nn.Module):
    """Keras ``activation='softmax'`` on a Conv1D: softmax over channels (dim 1 in NCL)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=1)


def require_length(arch: str, length: int, out_len: int, minimum: int) -> None:
    """UserError when the sequences are too short for the architecture's pooling."""
    if out_len < 1:
        raise UserError(f"sequences of {length} nt are too short for '{arch}' (needs at least {minimum} nt)",
                        where=f"arch={arch}", hint="Choose another --arch (cnn, chip_cnn) for short inputs.")
