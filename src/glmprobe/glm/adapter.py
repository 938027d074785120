"""The adapter contract: one class per gLM family.

An adapter hides everything family-specific: how to load (hub id or local path,
``revision``, ``trust_remote_code``), the tokenizer and its special tokens, the
token -> nucleotide map, and access to hidden layers. The extraction engine,
the store and the probes never look at a family name.

Layer numbering is the Hugging Face ``hidden_states`` convention: 0 is the
embedding output, 1..num_layers are the blocks' outputs; negative indices count
from the end (-1 = last block). Records always hold absolute numbers.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from glmprobe.errors import UserError

POOLINGS = ("cls", "mean", "tokens")


@dataclass
class ModelSpec:
    """One row of the models sheet (see assets/schema_models.json)."""

    id: str
    source: str                       # hub id or local directory ("onehot" for the one-hot pseudo-model)
    family: str
    revision: str | None = None       # commit pin for hub models; recorded in the cache key
    layers: str | list[int] = "last"  # "all", "last" or a list (negative allowed)
    pooling: list[str] = field(default_factory=lambda: ["mean"])
    max_length: int | None = None     # tokens; None = the model's own context
    dtype: str = "float16"            # storage dtype of the embedding store
    batch_size: int = 32
    trust_remote_code: bool = False
    random_init: bool = False         # re-initialise every weight: the study's "randbert" control
    rc_average: bool = False          # average with the reverse-complement strand
    window: str = "refuse"            # "refuse" or "split": sequences longer than the context


@dataclass
class TokenBatch:
    """Tokenized sequences, right-padded to a common length T."""

    input_ids: "torch.Tensor"        # (B, T) long
    attention_mask: "torch.Tensor"   # (B, T) long, 1 = real token (specials included)
    special_mask: np.ndarray         # (B, T) bool, True for CLS/SEP/BOS/EOS/PAD: excluded from the mean
    spans: np.ndarray                # (B, T, 2) int32 nucleotide [start, end) per token, -1 for specials/pad
    lengths: np.ndarray              # (B,) int number of non-pad tokens


class Adapter(abc.ABC):
    """Base class; subclasses register themselves with :func:`register`."""

    family: ClassVar[str]
    requires_remote_code: ClassVar[bool] = False
    version: ClassVar[str] = "1"     # bump when output changes: it enters the cache key

    def __init__(self, spec: ModelSpec, device: str = "cpu"):
        self.spec = spec
        self.device = device

    @abc.abstractmethod
    def load(self) -> None:
        """Load tokenizer + weights (honouring revision, trust_remote_code, random_init)."""

    @property
    @abc.abstractmethod
    def num_layers(self) -> int:
        """Number of blocks; valid layer indices are 0..num_layers."""

    @property
    @abc.abstractmethod
    def hidden_size(self) -> int:
        """Feature dimension per token (RC-equivariant models may double it)."""

    @property
    def max_tokens(self) -> int | None:
        """Context length in tokens, or None if unbounded."""
        return None

    @property
    def cls_index(self) -> int | None:
        """Position of the CLS token, or None if the family has none (cls pooling then fails)."""
        return None

    @abc.abstractmethod
    def tokenize(self, seqs: Sequence[str]) -> TokenBatch:
        """Tokenize uppercase A/C/G/T/N sequences. Must raise UserError if a base maps to UNK."""

    @abc.abstractmethod
    def hidden_states(self, batch: TokenBatch, layers: Sequence[int]) -> dict[int, "torch.Tensor"]:
        """One forward pass -> {absolute layer: (B, T, D) float32 tensor} for every requested layer."""

    def count_tokens(self, seqs: Sequence[str]) -> np.ndarray:
        """Tokens per sequence (specials included), with NO context-length check: the engine
        counts first, then refuses or windows over-long sequences (never truncates)."""
        return np.asarray(self.tokenize(seqs).lengths, dtype=np.int64)

    def weight_files(self) -> list[Path]:
        """Files whose sha256 enters the cache key (empty for hub-only loads)."""
        return []

    @property
    def resolved_revision(self) -> str | None:
        """The hub commit actually loaded (None for local folders): enters the cache key, so an
        unpinned hub id whose repository moved is not served a stale store."""
        return None

    def resolve_layers(self, layers: str | Sequence[int]) -> list[int]:
        n = self.num_layers
        if layers == "all":
            return list(range(1, n + 1))
        if layers == "last":
            return [n]
        out = []
        for layer in layers:
            absolute = layer + n + 1 if layer < 0 else layer
            if not 0 <= absolute <= n:
                raise UserError(f"layer {layer} out of range for model '{self.spec.id}' "
                                f"(it has layers 0..{n}; negative counts from the end)")
            out.append(absolute)
        return sorted(set(out))


ADAPTERS: dict[str, type[Adapter]] = {}


def register(cls: type[Adapter]) -> type[Adapter]:
    ADAPTERS[cls.family] = cls
    return cls


def get_adapter(spec: ModelSpec, device: str = "cpu") -> Adapter:
    from glmprobe.glm import adapters  # noqa: F401  (imports every family module, filling ADAPTERS)

    if spec.family not in ADAPTERS:
        raise UserError(f"unknown model family {spec.family!r} for model '{spec.id}'; "
                        f"known families: {', '.join(sorted(ADAPTERS))}")
    cls = ADAPTERS[spec.family]
    if cls.requires_remote_code and not spec.trust_remote_code:
        raise UserError(f"model '{spec.id}' (family {spec.family}) runs code from its repository; "
                        "set trust_remote_code=true in its models-sheet row to allow it "
                        "(and pin revision= to a commit)")
    return cls(spec, device)


RANDOM_INIT_SEED = 0


def reinitialize(model: "torch.nn.Module", seed: int = RANDOM_INIT_SEED) -> "torch.nn.Module":
    """Re-initialise every weight in place, seeded: the study's "randbert" control for any family.

    Uses the model's own ``_init_weights`` (Hugging Face models) and falls back to each
    module's ``reset_parameters``. transformers marks loaded tensors ``_is_hf_initialized``
    and then skips them, so the marks are cleared first (otherwise nothing would change).
    """
    import torch

    for tensor in list(model.parameters()) + list(model.buffers()):
        if getattr(tensor, "_is_hf_initialized", False):
            tensor._is_hf_initialized = False
    init_fn = getattr(model, "_init_weights", None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with torch.no_grad():
            for module in model.modules():
                if hasattr(module, "_is_hf_initialized"):
                    module._is_hf_initialized = False
                if init_fn is not None:
                    init_fn(module)
                elif hasattr(module, "reset_parameters") and callable(module.reset_parameters):
                    module.reset_parameters()
    return model
