"""Seeds for every source of randomness (study bug §8.12: nothing was seeded).

One call seeds Python, NumPy and torch (CPU and CUDA), so model initialisation,
dropout and data order are reproducible: the same seed gives identical weights on CPU.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; make cuDNN pick deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def rng(seed: int, stream: int = 0) -> np.random.Generator:
    """An independent NumPy generator for one purpose (``stream``) under ``seed``."""
    return np.random.default_rng([seed, stream])
