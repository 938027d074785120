"""Shared Hugging Face base adapter and the generic families ``hf-mlm`` and ``hf-clm``.

:class:`HFAdapter` does everything that is the same for every transformers checkpoint:

* loading from a hub id or a local ``save_pretrained`` folder, honouring ``revision=``,
  ``trust_remote_code`` (only when the models-sheet row opts in) and offline mode;
* tokenization into a :class:`TokenBatch` with specials identified **by id**, a token ->
  nucleotide span map (from the fast tokenizer's offsets, else by walking the token strings),
  a refusal (UserError) when a base maps to UNK or a sequence exceeds the context: the study
  silently truncated DNABERT-2 inputs (paper §8.6), glmprobe never does;
* every requested layer from ONE forward pass (``output_hidden_states=True``; families whose
  remote code cannot do that override :meth:`HFAdapter._all_hidden_states`, e.g. with hooks).

A family module subclasses :class:`HFAdapter` and overrides only its quirks (see
docs/adding_a_model.md).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from glmprobe.errors import UserError
from glmprobe.glm.adapter import Adapter, TokenBatch, parameter_digests, register, reinitialize

if TYPE_CHECKING:   # torch is imported lazily at run time
    import torch

log = logging.getLogger(__name__)

VALID_BASES = frozenset("ACGTN")
# hub ids look like "org/name" (or a bare "name"); anything else must be an existing folder
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# markers some tokenizers put in token strings; they carry no bases
_TOKEN_MARKERS = ("##", "Ġ", "▁")
# files of a local model folder whose content determines the embeddings
_PADDING_OFFSET_POSITIONS = {"esm", "roberta", "xlm-roberta", "camembert"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".json", ".py", ".txt", ".model")


def offline() -> bool:
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set: read at call time."""
    return any(os.environ.get(k, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_sequences(seqs: Sequence[str]) -> list[str]:
    """Sequences must already be canonical (uppercase ACGTN); say which one is not."""
    out = []
    for i, seq in enumerate(seqs):
        bad = set(seq) - VALID_BASES
        if bad:
            raise UserError(f"sequence {i} contains {''.join(sorted(bad))!r}; adapters take uppercase "
                            "A/C/G/T/N only", where=f"batch item {i}",
                            hint="Read sequences through the canonical dataset.h5 (glmprobe prepare)")
        if not seq:
            raise UserError("empty sequence", where=f"batch item {i}")
        out.append(seq)
    return out


class HFAdapter(Adapter):
    """A transformers checkpoint: generic loading, tokenization and layer access."""

    family: ClassVar[str] = "hf-mlm"
    version: ClassVar[str] = "1"
    auto_class: ClassVar[str] = "AutoModelForMaskedLM"  # the class whose weights we load
    causal: ClassVar[bool] = False                      # causal LMs: tokens see only left context
    load_hint: ClassVar[str] = ""                       # family-specific advice added to load errors
    use_hooks: ClassVar[bool] = False                   # capture layers with hooks (no usable output_hidden_states)
    last_is_model_output: ClassVar[bool] = False        # hooks: layer num_layers = the model's output (final norm)
    early_exit: bool = True                             # stop a pass after the deepest requested layer

    def __init__(self, spec, device: str = "cpu"):
        super().__init__(spec, device)
        self.tokenizer: Any = None
        self.model: Any = None
        self.config: Any = None
        self._cls_index: int | None = None
        self._template: tuple[list[int], list[int]] | None = None
        self._vocab: dict[str, int] | None = None
        self._exits_early: bool | None = None   # decided on the first partial-depth pass

    # ------------------------------------------------------------------ loading
    def source(self) -> str | Path:
        """A local model folder (validated) or a hub id."""
        raw = str(self.spec.source)
        path = Path(raw).expanduser()
        if path.exists():
            if not path.is_dir() or not (path / "config.json").is_file():
                raise UserError(f"not a model folder (no config.json) for model '{self.spec.id}'", path=path,
                                hint="Point source= at a folder written by save_pretrained, or at a hub id "
                                     "like org/name")
            if not self.spec.trust_remote_code:
                _refuse_custom_code(path, self.spec.id)
            return path.resolve()
        if raw.startswith((".", "/", "~")) or not _HUB_ID.match(raw):
            raise UserError(f"model folder not found for model '{self.spec.id}'", path=raw,
                            hint="Check the source column of the models sheet (a local folder or a hub id)")
        if not self.spec.revision and not getattr(self, "_warned", False):
            self._warned = True
            log.warning("model '%s' loads hub id %s without a pinned revision; set revision= to a commit "
                        "so reruns use the same weights", self.spec.id, raw)
        return raw

    def load_kwargs(self, source: str | Path) -> dict:
        local = isinstance(source, Path)
        return {"revision": None if local else self.spec.revision,
                "trust_remote_code": bool(self.spec.trust_remote_code),
                "local_files_only": local or offline()}

    def load(self) -> None:
        source = self.source()
        kwargs = self.load_kwargs(source)
        self.tokenizer = self._guarded(lambda: self.load_tokenizer(source, kwargs), source, "tokenizer")
        self.model = self._guarded(lambda: self.load_model(source, kwargs), source, "model")
        self.config = self.model.config
        if self.spec.random_init:  # the study's "randbert" control, for every family (paper §8.13)
            self.pretrained_digests = parameter_digests(self.model)  # check_random_init compares with these
            reinitialize(self.model)
        self.model.to(self.device).eval()
        self.after_load()
        self._cls_index = self._find_cls_index()

    def load_tokenizer(self, source, kwargs):
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(source, **kwargs)
        tok.padding_side = "right"  # we pad ourselves, always on the right (see _collate)
        return tok

    def load_model(self, source, kwargs):
        import transformers

        auto = getattr(transformers, self.auto_class)
        return auto.from_pretrained(source, **kwargs)

    def after_load(self) -> None:
        """Family hook run after the weights are on the device."""

    def _guarded(self, fn, source, what: str):
        """Turn loading failures into one actionable UserError naming the source."""
        try:
            return fn()
        except UserError:
            raise
        except (OSError, ValueError, ImportError, KeyError, AttributeError, TypeError, RuntimeError) as exc:
            text = " ".join(str(exc).split())[:400]
            if "trust_remote_code" in text or "custom code" in text:
                hint = ("This checkpoint runs code from its repository: set trust_remote_code=true in its "
                        "models-sheet row (and pin revision= to a commit)")
            elif "find_pruneable_heads" in text or "cannot import name" in text:
                hint = ("The checkpoint's code does not match the installed transformers "
                        f"{_transformers_version()}: run this family in its own container with the transformers "
                        "pin it needs (docs/adding_a_model.md)")
            elif offline() and not isinstance(source, Path):
                hint = ("HF_HUB_OFFLINE is set and the files are not in the local cache: download them first "
                        f"(hf download {source} --revision <commit>) or point source= at a local folder")
            else:
                hint = ("Check revision= (a commit or tag of that repository), trust_remote_code, and that this "
                        f"family ({self.family}) matches the checkpoint; some families need their own "
                        "transformers pin (docs/adding_a_model.md)")
            if self.load_hint:
                hint += f". {self.load_hint}"
            raise UserError(f"could not load the {what} of model '{self.spec.id}' "
                            f"({type(exc).__name__}: {text})", path=source, hint=hint) from exc

    @property
    def resolved_revision(self) -> str | None:
        if isinstance(self.source(), Path):
            return None
        return getattr(getattr(self, "config", None), "_commit_hash", None)

    def weight_files(self) -> list[Path]:
        source = self.source()
        if not isinstance(source, Path):
            return []  # hub loads are identified by revision
        return sorted(p for p in source.iterdir()
                      if p.is_file() and p.suffix in _WEIGHT_SUFFIXES and not p.name.startswith("."))

    # ------------------------------------------------------------------ model facts
    def _config_value(self, *names: str, default: Any = None) -> Any:
        for name in names:
            value = getattr(self.config, name, None)
            if value is not None:
                return value
        return default

    @property
    def num_layers(self) -> int:
        n = self._config_value("num_hidden_layers", "n_layer", "num_layers", "n_layers")
        if n is None:
            raise RuntimeError(f"cannot read the number of layers from {type(self.config).__name__}")
        return int(n)

    @property
    def hidden_size(self) -> int:
        return int(self._config_value("hidden_size", "d_model", "n_embd", "dim"))

    @property
    def max_tokens(self) -> int | None:
        n = self._config_value("max_position_embeddings", "n_positions", "max_seq_len")
        if n and getattr(self.config, "model_type", None) in _PADDING_OFFSET_POSITIONS:
            # these models number positions from pad_token_id + 1: a 1002-row table holds 1000 tokens
            n = int(n) - int(self._config_value("pad_token_id", default=1)) - 1
        if self.spec.max_length:  # a user cap, never beyond what the position table holds
            return min(int(self.spec.max_length), int(n)) if n else int(self.spec.max_length)
        return int(n) if n else None

    @property
    def cls_index(self) -> int | None:
        return self._cls_index

    def _find_cls_index(self) -> int | None:
        """0 when the tokenizer puts a CLS (or BOS) token first; never for causal models."""
        if self.causal:
            return None  # a leading BOS of a causal LM has seen nothing: it is no summary token
        ids, _ = self.encode(["ACGTACGTACGT"])[0]  # long enough for any k-mer family
        first = ids[0]
        cls_ids = {getattr(self.tokenizer, a, None) for a in ("cls_token_id", "bos_token_id")} - {None}
        return 0 if first in cls_ids else None

    # ------------------------------------------------------------------ tokenization
    @property
    def special_ids(self) -> set[int]:
        return set(self.tokenizer.all_special_ids)

    def encode(self, seqs: Sequence[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Per sequence: token ids (specials included) and [start, end) spans (-1, -1 for specials).

        Generic: the tokenizer with its own specials; spans from offsets (fast tokenizers) or
        from the token strings. Families with fixed rules (k-mers) override this.
        """
        tok = self.tokenizer
        fast = bool(getattr(tok, "is_fast", False))
        enc = tok(list(seqs), add_special_tokens=True, padding=False, truncation=False,
                  return_offsets_mapping=fast)
        specials = self.special_ids - {getattr(tok, "unk_token_id", None)}  # keep UNK's span for the error
        out = []
        for i, (seq, ids) in enumerate(zip(seqs, enc["input_ids"])):
            ids = [int(t) for t in ids]
            if fast:
                spans = [(-1, -1) if t in specials else (int(a), int(b))
                         for t, (a, b) in zip(ids, enc["offset_mapping"][i])]
                self._check_unk(ids, seq, i, spans)
            else:
                self._check_unk(ids, seq, i)
                spans = self._spans_from_strings(ids, seq, i)
            out.append((ids, spans))
        return out

    def _spans_from_strings(self, ids: list[int], seq: str, i: int) -> list[tuple[int, int]]:
        """Walk the token strings along the sequence (non-overlapping tokenizers)."""
        specials, pos, spans = self.special_ids, 0, []
        for t, text in zip(ids, self.tokenizer.convert_ids_to_tokens(ids)):
            if t in specials:
                spans.append((-1, -1))
                continue
            for marker in _TOKEN_MARKERS:
                text = text.replace(marker, "")
            if seq[pos:pos + len(text)].upper() != text.upper():
                raise RuntimeError(f"{self.family}: token {text!r} does not match sequence {i} at base {pos}; "
                                   "this tokenizer needs its own encode() in the family adapter")
            spans.append((pos, pos + len(text)))
            pos += len(text)
        if pos != len(seq):
            raise RuntimeError(f"{self.family}: tokens cover {pos} of {len(seq)} bases of sequence {i}")
        return spans

    def _check_unk(self, ids: list[int], seq: str, i: int, spans=None) -> None:
        unk = getattr(self.tokenizer, "unk_token_id", None)
        if unk is None or unk not in ids:
            return
        pos = ids.index(unk)
        where = f"batch item {i}, token {pos}"
        if spans is not None and spans[pos][0] >= 0:
            a, b = spans[pos]
            where += f", bases {a}..{b} ({seq[a:b]})"
        raise UserError(f"a base of sequence {i} maps to the unknown token of model '{self.spec.id}' "
                        f"(family {self.family}); its vocabulary cannot represent it", where=where,
                        hint="Remove or replace such bases (often N) in the dataset, or use a family whose "
                             "tokenizer has them")

    def special_template(self) -> tuple[list[int], list[int]]:
        """The special ids the tokenizer puts before and after a sequence (e.g. [CLS] / [SEP])."""
        if self._template is not None:
            return self._template
        ids = [int(t) for t in self.tokenizer("A", add_special_tokens=True)["input_ids"]]
        specials = self.special_ids - {getattr(self.tokenizer, "unk_token_id", None)}
        start = 0
        while start < len(ids) and ids[start] in specials:
            start += 1
        end = len(ids)
        while end > start and ids[end - 1] in specials:
            end -= 1
        self._template = (ids[:start], ids[end:])
        return self._template

    @property
    def vocab(self) -> dict[str, int]:
        if self._vocab is None:
            self._vocab = dict(self.tokenizer.get_vocab())
        return self._vocab

    def encode_pieces(self, pieces: list[tuple[str, int, int]], seq: str, i: int
                      ) -> tuple[list[int], list[tuple[int, int]]]:
        """Map (token string, start, end) pieces through the vocabulary and add the specials.
        For families that split sequences by a fixed rule (k-mers) rather than the tokenizer."""
        vocab = self.vocab
        missing = [(tok, a, b) for tok, a, b in pieces if tok not in vocab]
        if missing:
            tok, a, b = missing[0]
            raise UserError(f"token {tok!r} of sequence {i} is not in the vocabulary of model '{self.spec.id}' "
                            f"(family {self.family}): it would map to the unknown token",
                            where=f"batch item {i}, bases {a}..{b}",
                            hint="Remove or replace such bases (often N) in the dataset, or use a family whose "
                                 "tokenizer has them")
        prefix, suffix = self.special_template()
        ids = prefix + [int(vocab[tok]) for tok, _, _ in pieces] + suffix
        spans = [(-1, -1)] * len(prefix) + [(a, b) for _, a, b in pieces] + [(-1, -1)] * len(suffix)
        return ids, spans

    def tokenize(self, seqs: Sequence[str]) -> TokenBatch:
        seqs = check_sequences(seqs)
        backend = self._backend()
        if backend is None:
            return self._collate(self.encode(seqs))
        return self._tokenize_backend(backend, seqs)

    def count_tokens(self, seqs: Sequence[str]) -> np.ndarray:
        """Token count per sequence (specials included), for a dataset-wide max (paper §8.6).

        With a fast tokenizer (and the generic ``encode``) a count-only pass: the Rust
        tokenizer without offsets, token ids checked for UNK in one array operation.
        """
        seqs = check_sequences(seqs)
        backend = self._backend()
        if backend is None:
            counted = self.count_by_rule(seqs)
            if counted is not None:
                return counted
            return np.array([len(ids) for ids, _ in self.encode(seqs)], dtype=np.int64)
        encodings = backend.encode_batch_fast(seqs, add_special_tokens=True)
        lengths = np.fromiter(map(len, encodings), np.int64, len(encodings))
        unk = getattr(self.tokenizer, "unk_token_id", None)
        if unk is not None:
            ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), np.int64, int(lengths.sum()))
            if bool((ids == unk).any()):
                self._tokenize_backend(backend, seqs)  # raises the UNK error with the bases named
        return lengths

    def count_by_rule(self, seqs: list[str]) -> np.ndarray | None:
        """Families that tokenise by a fixed rule (their own ``encode``): token counts straight
        from the sequence lengths, or None where ``encode`` must run (it would refuse a token,
        or the rule has no closed form). The counts equal ``encode``'s (tests/glm/adapters)."""
        return None

    def _vocab_has(self, tokens) -> bool:
        vocab = self.vocab
        return all(t in vocab for t in tokens)

    def _backend(self):
        """The fast tokenizer's Rust backend, set as transformers sets it for ``padding=False,
        truncation=False`` (no padding, no truncation, its own special-token splitting); None
        for slow tokenizers and for families that tokenise by their own rule (``encode``)."""
        tok = self.tokenizer
        if type(self).encode is not HFAdapter.encode or not getattr(tok, "is_fast", False):
            return None
        backend = getattr(tok, "backend_tokenizer", None) or getattr(tok, "_tokenizer", None)
        if backend is None or not hasattr(backend, "encode_batch_fast"):
            return None
        if backend.truncation is not None:
            backend.no_truncation()
        if backend.padding is not None:
            backend.no_padding()
        split = getattr(tok, "split_special_tokens", None)
        if split is not None and backend.encode_special_tokens != split:
            backend.encode_special_tokens = split
        return backend

    def _tokenize_backend(self, backend, seqs: list[str]) -> TokenBatch:
        """:meth:`tokenize` for fast tokenizers with no per-sequence Python: the Rust tokenizer's
        ids and offsets flattened into arrays and scattered into the padded batch. The same
        batch as ``_collate(encode(seqs))`` (tests/glm/adapters/test_hf.py checks it)."""
        import torch

        encodings = backend.encode_batch(seqs, add_special_tokens=True)
        n = len(encodings)
        lengths = np.fromiter(map(len, encodings), np.int64, n)
        total = int(lengths.sum())
        ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), np.int64, total)
        offsets = np.fromiter(chain.from_iterable(chain.from_iterable(e.offsets for e in encodings)), np.int64,
                              2 * total).reshape(total, 2)
        unk = getattr(self.tokenizer, "unk_token_id", None)
        specials = np.fromiter(self.special_ids - {unk}, np.int64)  # UNK keeps its span for the error
        offsets[np.isin(ids, specials)] = -1
        if unk is not None and bool((ids == unk).any()):
            first = int(np.argmax(ids == unk))
            i = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
            lo = int(lengths[:i].sum())
            self._check_unk(ids[lo:lo + int(lengths[i])].tolist(), seqs[i], i,
                            [tuple(x) for x in offsets[lo:lo + int(lengths[i])].tolist()])
        self._check_limit(lengths)
        width = int(lengths.max(initial=0))
        real = np.arange(width) < lengths[:, None]
        input_ids = np.full((n, width), self.pad_id, dtype=np.int64)
        input_ids[real] = ids
        spans = np.full((n, width, 2), -1, dtype=np.int32)
        spans[real] = offsets
        return TokenBatch(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(real.astype(np.int64)),
                          special_mask=spans[:, :, 0] < 0, spans=spans, lengths=lengths)

    def _check_limit(self, lengths) -> None:
        """Refuse (never truncate) a batch with a sequence longer than the context."""
        limit = self.max_tokens
        if limit is None:
            return
        over = np.nonzero(np.asarray(lengths) > limit)[0]
        if len(over):
            i = int(over[0])
            raise UserError(f"sequence {i} is {int(lengths[i])} tokens, more than the {limit}-token context of "
                            f"model '{self.spec.id}'; glmprobe never truncates silently",
                            where=f"batch item {i}",
                            hint="Set window=split in the models sheet to embed long sequences in windows")

    @property
    def pad_id(self) -> int:
        for name in ("pad_token_id", "eos_token_id", "unk_token_id"):
            value = getattr(self.tokenizer, name, None)
            if value is not None:
                return int(value)
        return 0  # any id: padded positions are masked and, right-padded, never seen by real tokens

    def _collate(self, encoded: list[tuple[list[int], list[tuple[int, int]]]]) -> TokenBatch:
        """Right-pad (so causal tokens never see padding), build masks, refuse over-long inputs."""
        import torch

        self._check_limit([len(ids) for ids, _ in encoded])
        n, width = len(encoded), max(len(ids) for ids, _ in encoded)
        input_ids = np.full((n, width), self.pad_id, dtype=np.int64)
        attention = np.zeros((n, width), dtype=np.int64)
        spans = np.full((n, width, 2), -1, dtype=np.int32)
        for i, (ids, sp) in enumerate(encoded):
            k = len(ids)
            input_ids[i, :k] = ids
            attention[i, :k] = 1
            spans[i, :k] = sp
        special = spans[:, :, 0] < 0  # specials and padding carry no bases (encode gives them -1)
        return TokenBatch(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention),
                          special_mask=special, spans=spans,
                          lengths=np.array([len(ids) for ids, _ in encoded], dtype=np.int64))

    # ------------------------------------------------------------------ layers
    @property
    def encoder(self):
        """The module that yields hidden states: the base model; any LM head is not run for embeddings."""
        return getattr(self.model, "base_model", self.model)

    def hidden_states(self, batch: TokenBatch, layers: Sequence[int]) -> dict[int, torch.Tensor]:
        import torch

        layers = [int(x) for x in layers]
        bad = [x for x in layers if not 0 <= x <= self.num_layers]
        if bad:
            raise UserError(f"layers {bad} out of range for model '{self.spec.id}' (0..{self.num_layers})")
        ids = batch.input_ids.to(self.device)
        mask = batch.attention_mask.to(self.device)
        depth = max(layers, default=self.num_layers)
        with torch.inference_mode():
            states = self._all_hidden_states(ids, mask, depth)
        if len(states) not in (depth + 1, self.num_layers + 1):
            raise RuntimeError(f"{self.family}: model returned {len(states)} hidden states, expected "
                               f"{self.num_layers + 1} (embeddings + {self.num_layers} blocks)")
        return {x: states[x].float() for x in layers}

    def _all_hidden_states(self, ids, mask, depth: int | None = None) -> Sequence[torch.Tensor]:
        """embeddings + every block's output, (B, T, D) each, from one forward pass; with ``depth``
        below the model's depth, layers 0..depth only (see :meth:`_forward`)."""
        if self._accepts("attention_mask"):
            return self._forward(ids, mask, depth)
        lengths = mask.sum(1)
        if self.causal or bool((lengths == lengths[0]).all()):
            # no attention mask: right padding is invisible to causal models, and equal lengths need none
            return self._forward(ids, None, depth)
        # A bidirectional model without an attention mask would let padding leak into real tokens:
        # run each length group on its own (one pass per group) and reassemble the batch.
        merged = None
        for n in sorted(set(lengths.tolist())):
            rows = (lengths == n).nonzero()[:, 0]
            part = self._forward(ids[rows, :n], None, depth)
            if merged is None:
                merged = [h.new_zeros((ids.shape[0], ids.shape[1], h.shape[-1])) for h in part]
            for full, h in zip(merged, part):
                full[rows, :n] = h
        return merged

    def _accepts(self, name: str) -> bool:
        """Whether the encoder's forward names this argument (``**kwargs`` does not count: it may ignore it)."""
        return name in inspect.signature(self.encoder.forward).parameters

    def _forward(self, ids, mask, depth: int | None = None) -> list[torch.Tensor]:
        """Hidden states 0..num_layers, or 0..depth when ``depth`` is below the model's depth and the
        pass can stop early: a probe of layer 11 of 32 (the study's NT sweep found middle layers best)
        then pays for 11 blocks, not 32. The states are the same either way."""
        kwargs = {"input_ids": ids}
        if mask is not None:
            kwargs["attention_mask"] = mask
        if depth is not None and depth < self.num_layers and self._can_exit_early(kwargs, ids, mask):
            return self._hooked_forward(kwargs, ids, mask, depth)
        if self.use_hooks:
            return self._hooked_forward(kwargs, ids, mask)
        if self._accepts("return_dict"):
            kwargs["return_dict"] = True
        out = self.encoder(**kwargs, output_hidden_states=True)
        states = getattr(out, "hidden_states", None)
        if states is None:
            raise RuntimeError(f"{self.family}: the model returned no hidden_states; set use_hooks = True "
                               "in the family adapter")
        return list(states)

    def blocks(self) -> list[torch.nn.Module]:
        """The model's blocks, in order: the first ModuleList/Sequential with num_layers entries."""
        import torch

        for module in self.encoder.modules():
            if isinstance(module, (torch.nn.ModuleList, torch.nn.Sequential)) and len(module) == self.num_layers:
                return list(module)
        raise RuntimeError(f"{self.family}: no list of {self.num_layers} blocks found; override blocks()")

    def block_state(self, output) -> torch.Tensor:
        """The layer a block's forward output stands for: its (first) hidden-state tensor. Families
        whose blocks return the residual stream in pieces override this (Caduceus)."""
        return _first_tensor(output)

    def _can_exit_early(self, kwargs, ids, mask) -> bool:
        """Whether block hooks give this model's hidden states, so a pass may stop after the deepest
        requested block. Hooked families define their layers that way; for the others the first
        call compares one early-stopped pass with the model's own ``hidden_states`` on the same
        batch, and a model whose states are not its blocks' outputs keeps full passes."""
        import torch

        if not self.early_exit:
            return False
        if self._exits_early is None:
            try:
                self.blocks()
            except RuntimeError:
                self._exits_early = False
                return False
            if self.use_hooks:
                self._exits_early = True
            else:
                depth = self.num_layers - 1
                part, full = self._hooked_forward(kwargs, ids, mask, depth), self._forward(ids, mask)
                # loose enough for half precision; other states (e.g. after a norm) differ by O(1)
                self._exits_early = all(a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=1e-3,
                                                                               atol=1e-3)
                                        for a, b in zip(part, full[:depth + 1]))
            if not self._exits_early:
                log.info("%s: block outputs are not the model's hidden states; every pass runs all %d layers",
                         self.spec.id, self.num_layers)
        return self._exits_early

    def _hooked_forward(self, kwargs, ids, mask, depth: int | None = None) -> list[torch.Tensor]:
        """Layer 0 = the input of block 0, layer i = ``block_state`` of block i's output, captured
        by hooks in one forward pass; with ``last_is_model_output`` the last layer is the model's
        own output instead (after its final norm). With ``depth`` below the number of blocks the
        pass stops once layer ``depth`` is captured. Remote code that unpads tokens (DNABERT-2)
        hands blocks (n_real, D): those are scattered back to (B, T, D) with the attention mask."""
        import torch

        blocks = self.blocks()
        stop = depth if depth is not None and depth < len(blocks) else None
        captured: list = [None] * (len(blocks) + 1 if stop is None else stop + 1)

        def capture(index, state):
            captured[index] = state
            if index == stop:
                raise _Captured

        def keep(index):
            return lambda module, args, out: capture(index, self.block_state(out))

        handles = [blocks[0].register_forward_pre_hook(
            lambda module, args, kw: capture(0, _first_tensor(args) if args else _first_tensor(kw)),
            with_kwargs=True)]
        handles += [block.register_forward_hook(keep(i + 1)) for i, block in enumerate(blocks[:len(captured) - 1])]
        output = None
        try:
            output = self.encoder(**kwargs)
        except _Captured:
            pass
        finally:
            for handle in handles:
                handle.remove()
        if self.last_is_model_output and stop is None:
            captured[-1] = _first_tensor(output)
        real = (mask if mask is not None else torch.ones_like(ids)).bool()
        out = []
        for h in captured:
            if h is None:
                raise RuntimeError(f"{self.family}: a block hook captured nothing")
            if h.dim() == 2:  # unpadded (n_real_tokens, D): put the tokens back in place
                full = h.new_zeros((*ids.shape, h.shape[-1]))
                full[real] = h
                h = full
            out.append(h)
        return out

    # ------------------------------------------------------------------ optional: zero-shot scoring
    def masked_logits(self, batch: TokenBatch) -> torch.Tensor:
        """OPTIONAL (for zero-shot variant scoring): LM-head logits (B, T, V) for a batch whose
        positions of interest the caller has set to ``tokenizer.mask_token_id``."""
        import torch

        if self.encoder is self.model:
            raise UserError(f"model '{self.spec.id}' was loaded without an LM head; masked scoring needs one")
        with torch.inference_mode():
            out = self.model(input_ids=batch.input_ids.to(self.device),
                             attention_mask=batch.attention_mask.to(self.device))
        return out.logits.float()


@register
class MaskedLMAdapter(HFAdapter):
    """``hf-mlm``: any bidirectional masked LM that transformers loads natively (or with remote code)."""

    family = "hf-mlm"
    auto_class = "AutoModelForMaskedLM"


@register
class CausalLMAdapter(HFAdapter):
    """``hf-clm``: any causal LM. Each token sees only its left context, so the mean over
    non-special tokens (BOS/EOS/PAD excluded) is the usual summary and there is no CLS."""

    family = "hf-clm"
    auto_class = "AutoModelForCausalLM"
    causal = True

    def log_likelihood(self, seqs: Sequence[str]) -> np.ndarray:
        """OPTIONAL (zero-shot scoring): sum of log p(token | left context) over each sequence's
        non-special tokens (the first token, having no context, is not scored)."""
        import torch

        batch = self.tokenize(seqs)
        logits = self.masked_logits(batch)[:, :-1]
        target = batch.input_ids[:, 1:].to(logits.device)
        logp = torch.log_softmax(logits, -1).gather(-1, target[..., None])[..., 0]
        scored = torch.from_numpy(~batch.special_mask[:, 1:]).to(logits.device)
        return (logp * scored).sum(1).cpu().numpy()


class _Captured(Exception):
    """Raised by the hook of the deepest requested block: the rest of the forward pass is not needed."""


def _first_tensor(value):
    """The first tensor in a module output: a tensor, tuple/list, dict/ModelOutput, or ``last_hidden_state``."""
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value:
        return _first_tensor(value[0])
    if isinstance(value, dict) and value:
        return _first_tensor(next(iter(value.values())))
    return getattr(value, "last_hidden_state", None)


def _transformers_version() -> str:
    import transformers

    return transformers.__version__


def _refuse_custom_code(folder: Path, model_id: str) -> None:
    """A local folder whose config names its own classes (``auto_map``) runs code: refuse before loading."""
    for name in ("config.json", "tokenizer_config.json"):
        try:
            mapped = json.loads((folder / name).read_text()).get("auto_map")
        except (OSError, ValueError, AttributeError):
            continue
        if mapped:
            raise UserError(f"model '{model_id}' carries custom code ({name} 'auto_map': "
                            f"{', '.join(sorted(mapped))}) and its models-sheet row does not set trust_remote_code=true",
                            path=folder / name, hint="Nothing was loaded or run. Read the folder's .py files; if you "
                            "trust them, set trust_remote_code=true in that row.")
