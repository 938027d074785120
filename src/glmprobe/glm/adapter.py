"""The adapter contract: one class per gLM family.

An adapter hides everything family-specific: how to load (hub id or local path,
``revision``, ``trust_remote_code``), the tokenizer and its special tokens, the
token -> nucleotide map, and access to hidden layers. The extraction engine,
the store and the probes never look at a family name.

Layer numbering is the Hugging Face ``hidden_states`` convention: 0 is the
embedding output, 1..num_layers are the blocks' outputs (the residual stream), and
num_layers ("last") is the model's final output, after its final norm where it has one;
negative indices count from the end (-1 = last). Records always hold absolute numbers.
Per-family details (HyenaDNA's appended LayerNorm state, Caduceus' residual stream) are in
docs/adding_a_model.md.
"""

from __future__ import annotations

import abc
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from glmprobe.errors import UserError
from glmprobe.registry import Registry

if TYPE_CHECKING:
    import torch

# The one definition of the store poolings: POOLED read as one vector per sequence (probe heads
# linear/mlp, zero-shot distances), TOKENS as the per-token matrix (token heads).
POOLED: tuple[str, ...] = ("cls", "mean")
TOKENS: tuple[str, ...] = ("tokens",)
POOLINGS = POOLED + TOKENS


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

    input_ids: torch.Tensor        # (B, T) long
    attention_mask: torch.Tensor   # (B, T) long, 1 = real token (specials included)
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
    def hidden_states(self, batch: TokenBatch, layers: Sequence[int]) -> dict[int, torch.Tensor]:
        """One forward pass -> {absolute layer: (B, T, D) float32 tensor} for every requested layer."""

    def count_tokens(self, seqs: Sequence[str]) -> np.ndarray:
        """Tokens per sequence (specials included), with NO context-length check: the engine
        counts first, then refuses or windows over-long sequences (never truncates)."""
        return np.asarray(self.tokenize(seqs).lengths, dtype=np.int64)

    def check_random_init(self) -> None:
        """For ``random_init`` models: raise UserError naming every floating-point parameter that
        still holds its pre-trained value (the embed step calls this right after ``load``)."""
        if self.spec.random_init:
            check_reinitialized(self.model, getattr(self, "pretrained_digests", None), self.spec.id)

    def weight_files(self) -> list[Path]:
        """Files whose sha256 enters the cache key (empty for hub-only loads)."""
        return []

    @property
    def resolved_revision(self) -> str | None:
        """The hub commit actually loaded (None for local folders): enters the cache key, so an
        unpinned hub id whose repository moved is not served a stale store."""
        return None

    def resolve_layers(self, layers: str | Sequence[int]) -> list[int]:
        """Absolute layer numbers of a layer spec for this model (:func:`absolute_layers`)."""
        return absolute_layers(layers, self.num_layers, self.spec.id)


def absolute_layers(layers: str | Sequence[int], n: int | None, model_id: str, *,
                    path: object | None = None) -> list[int] | None:
    """The one layer-spec rule: ``"all"`` (blocks 1..n), ``"last"`` (n) or a list of layer numbers
    (negative counts from the end: -1 = n), for a model with ``n`` blocks -> sorted absolute numbers.

    ``n=None`` (depth not known yet, e.g. before a hub model is loaded): the numbers when the spec
    does not depend on the depth (a list without negatives), else None. A layer outside 0..n is a
    UserError naming the model (and ``path``, the sheet it came from, when given).
    """
    if n is None:
        if isinstance(layers, str) or any(layer < 0 for layer in layers):
            return None
        return sorted(set(layers))
    if layers == "all":
        return list(range(1, n + 1))
    if layers == "last":
        return [n]
    out = []
    for layer in layers:
        absolute = layer + n + 1 if layer < 0 else layer
        if not 0 <= absolute <= n:
            raise UserError(f"layer {layer} out of range for model '{model_id}' "
                            f"(it has layers 0..{n}; negative counts from the end)", path=path)
        out.append(absolute)
    return sorted(set(out))


# Every family module in glmprobe.glm.adapters registers its class here on import; a module whose
# optional dependency is missing is recorded as unavailable, with the import error as the reason.
FAMILY_MODULES = ("onehot", "hf", "nt", "dnabert2", "hyenadna", "caduceus", "gpn", "gena", "dnabert")
FAMILIES = Registry("model family", where="models sheet",
                    modules=tuple(f"glmprobe.glm.adapters.{m}" for m in FAMILY_MODULES))


def register(cls: type[Adapter]) -> type[Adapter]:
    """Class decorator: register an adapter under its ``family``."""
    return FAMILIES.register(cls.family, cls)


def adapter_class(family: str, *, where: str | None = None) -> type[Adapter]:
    """The adapter class of ``family``; unknown or unavailable families raise a UserError naming why."""
    return FAMILIES.get(family, where=where).obj


def get_adapter(spec: ModelSpec, device: str = "cpu") -> Adapter:
    cls = adapter_class(spec.family, where=f"model '{spec.id}'")
    if cls.requires_remote_code and not spec.trust_remote_code:
        raise UserError(f"model '{spec.id}' (family {spec.family}) runs code from its repository; "
                        "set trust_remote_code=true in its models-sheet row to allow it "
                        "(and pin revision= to a commit)")
    return cls(spec, device)


RANDOM_INIT_SEED = 0
# The stream actually seeded: derived from RANDOM_INIT_SEED so it does not coincide with the common
# torch.manual_seed(0) a checkpoint may have been built with (that would redraw its first weights).
_INIT_STREAM = int.from_bytes(hashlib.sha256(f"glmprobe.random_init:{RANDOM_INIT_SEED}".encode()).digest()[:8], "big")


def reinitialize(model: torch.nn.Module, seed: int = RANDOM_INIT_SEED) -> torch.nn.Module:
    """Re-initialise EVERY parameter in place, seeded: the study's "randbert" control for any family.

    The values are those of a freshly constructed model of the same class and config (its
    constructor's own per-module initialisation, then its ``post_init``), copied over the loaded
    ones. Calling ``_init_weights`` alone is not enough: upstream versions skip module types
    (GPN's dilated Conv1d; HyenaDNA's short filter, filter bias, sine frequency, LayerNorms;
    Caduceus' in_proj, x_proj, dt_proj, conv1d, A_log, D), which would stay pre-trained.
    Models without a config (plain modules) fall back to every module's ``reset_parameters``.
    """
    import copy

    import torch

    stream = _INIT_STREAM if seed == RANDOM_INIT_SEED else seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream)
        config = getattr(model, "config", None)
        if config is None:
            with torch.no_grad():
                for module in model.modules():
                    if callable(getattr(module, "reset_parameters", None)):
                        module.reset_parameters()
            return model
        fresh = type(model)(copy.deepcopy(config))
    fresh_state = fresh.state_dict()
    with torch.no_grad():
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if name in fresh_state:
                tensor.copy_(fresh_state[name])
    return model


def parameter_digests(model: torch.nn.Module) -> dict[str, str]:
    """{name: digest of the bytes} for every floating-point parameter (tied ones once)."""
    import torch

    out = {}
    for name, p in model.named_parameters():
        if p.is_floating_point():
            raw = p.detach().cpu().contiguous().view(-1).view(torch.uint8)  # exact bytes, any float dtype
            out[name] = hashlib.blake2b(raw.numpy().tobytes(), digest_size=16).hexdigest()
    return out


def check_reinitialized(model: torch.nn.Module, pretrained: dict[str, str] | None, model_id: str) -> None:
    """Refuse a random-init control that kept any pre-trained floating-point parameter (one still
    bit-identical to the loaded checkpoint), except untrained constant tensors (see below)."""
    if pretrained is None:
        raise UserError(f"model '{model_id}': random_init=true but the weights were not re-initialised "
                        "(this family's adapter does not support the random-init control)")
    now = parameter_digests(model)
    params = dict(model.named_parameters())
    kept = [name for name, digest in now.items() if pretrained.get(name) == digest]
    # An unchanged tensor whose every element is one value is the architecture's constant initial
    # value, never trained (e.g. ESM's unused contact-head bias): it carries no pre-trained information.
    constant = [n for n in kept if bool((params[n] == params[n].flatten()[0]).all())]
    if constant:
        logging.getLogger(__name__).info("model '%s': %d untrained constant tensors equal their initial value "
                                         "(allowed): %s", model_id, len(constant), ", ".join(constant))
    kept = [n for n in kept if n not in constant]
    if kept:
        shown = ", ".join(kept[:8]) + (f" and {len(kept) - 8} more" if len(kept) > 8 else "")
        raise UserError(f"model '{model_id}': random_init left {len(kept)} of {len(now)} floating-point parameters "
                        f"at their pre-trained values ({shown}); the control would not be random, so no "
                        "embeddings were written",
                        hint="Report this family/checkpoint: its re-initialisation skips these tensors "
                             "(glmprobe.glm.adapter.reinitialize)")
