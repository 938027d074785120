"""Probe heads by name: which module builds each, and which store poolings it accepts.

``linear`` and ``mlp`` read one pooled vector per sequence (``cls``/``mean``); ``token_cnn``
and ``chip_cnn`` read the per-token matrix (``tokens``), fed channels-first (N, D, T).
Adding a head is one module with ``build``/``space``/``STUDY`` plus one ``_head(...)`` line here;
:data:`HEADS` (a :class:`glmprobe.registry.Registry`) is what the CLI choices, the plan and the
schema test read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from torch import nn

from glmprobe.glm.adapter import POOLED, TOKENS
from glmprobe.registry import Registry


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


HEADS = Registry("probe head", where="--head")


def _head(name: str, module: str, poolings: tuple[str, ...], **options) -> None:
    HEADS.register(name, HeadSpec(name, module, poolings, options), poolings=poolings, options=options,
                   tokens=poolings == TOKENS)


_head("linear", "glmprobe.heads.linear", POOLED)
_head("mlp", "glmprobe.heads.mlp", POOLED)
_head("token_cnn", "glmprobe.heads.rep_cnn", TOKENS)
# bug §8.3: the 1x1 reduction prefix on EVERY embedding input, not only NT's
_head("chip_cnn", "glmprobe.heads.chip_cnn", TOKENS, reduce=True)
# segmented datasets (splicing): one tower per segment's tokens, the study's mtsplice_embed_model
_head("two_tower", "glmprobe.heads.two_tower", TOKENS, reduce=True)


def get_head(name: str) -> HeadSpec:
    return HEADS.get(name).obj


def fits(head: str, pooling: str) -> bool:
    """Whether ``head`` can read embeddings pooled as ``pooling``."""
    return pooling in HEADS.get(head).poolings
