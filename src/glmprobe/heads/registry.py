"""Probe heads by name: which module builds each, and which store poolings it accepts.

``linear`` and ``mlp`` read one pooled vector per sequence (``cls``/``mean``); ``token_cnn``
and ``chip_cnn`` read the per-token matrix (``tokens``), fed channels-first (N, D, T).
Adding a head is one module with ``build``/``space``/``STUDY`` plus one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable

from torch import nn

from glmprobe.errors import UserError

POOLED, TOKENS = ("cls", "mean"), ("tokens",)


@dataclass(frozen=True)
class HeadSpec:
    name: str
    module: str                         # import path of the module with build/space/STUDY
    poolings: tuple[str, ...]           # store poolings this head can read
    options: dict = field(default_factory=dict)   # fixed build options, logged in the record's params

    @property
    def tokens(self) -> bool:
        return self.poolings == TOKENS

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def builder(self, input_shape: tuple[int, ...], n_targets: int) -> Callable[[dict], nn.Module]:
        """hyperparameters -> fresh model, for inputs of one row's shape: (D,) or channels-first (D, T)."""
        mod = self.load()
        if self.tokens:
            channels, length = input_shape
            return lambda hp: mod.build(channels, length, n_targets, hp, **self.options)
        (features,) = input_shape
        return lambda hp: mod.build(features, n_targets, hp, **self.options)


HEADS: dict[str, HeadSpec] = {
    "linear": HeadSpec("linear", "glmprobe.heads.linear", POOLED),
    "mlp": HeadSpec("mlp", "glmprobe.heads.mlp", POOLED),
    "token_cnn": HeadSpec("token_cnn", "glmprobe.heads.rep_cnn", TOKENS),
    # bug §8.3: the 1x1 reduction prefix on EVERY embedding input, not only NT's
    "chip_cnn": HeadSpec("chip_cnn", "glmprobe.heads.chip_cnn", TOKENS, {"reduce": True}),
    # segmented datasets (splicing): one tower per segment's tokens, the study's mtsplice_embed_model
    "two_tower": HeadSpec("two_tower", "glmprobe.heads.two_tower", TOKENS, {"reduce": True}),
}


def get_head(name: str) -> HeadSpec:
    try:
        return HEADS[name]
    except KeyError:
        raise UserError(f"unknown probe head {name!r}; use one of {', '.join(HEADS)}", where="--head") from None


def fits(head: str, pooling: str) -> bool:
    """Whether ``head`` can read embeddings pooled as ``pooling``."""
    return pooling in get_head(head).poolings
