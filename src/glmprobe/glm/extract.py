"""Batched multi-layer extraction and pooling, independent of the model family.

* every requested layer comes from ONE forward pass (``adapter.hidden_states``);
* a chunk's sequences are batched in length order (less padding) and results restored
  to input order;
* ``torch.inference_mode``; ``precision`` auto = bf16 (else fp16) autocast on CUDA, fp32 on
  CPU (where bf16 is 5-7x slower); recorded, and part of the cache key;
* pipelined (:meth:`Extractor.stream`): tokenisation runs a batch ahead in a thread, pooling
  and the storage cast happen on the model's tensors, CUDA copies are pinned and non-blocking;
* every stored value is checked finite after the storage cast (float16 overflows beyond
  65504): a UserError names the layer and the records instead of writing inf;
* mean pooling excludes padding AND special tokens (``special_mask``; study bug §8.4);
  cls pooling reads ``adapter.cls_index`` (study bug §8.5);
* optional averaging with the reverse-complement strand; for per-token output only
  where the RC token grid maps back onto the forward one;
* nothing is truncated silently (study bug §8.6): :func:`plan_tokens` counts every
  sequence's tokens first and either refuses or splits over-long sequences into
  non-overlapping windows (pooled vectors averaged weighted by length, tokens concatenated).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from glmprobe.data.onehot import reverse_complement
from glmprobe.errors import UserError
from glmprobe.glm.adapter import Adapter, TokenBatch
from glmprobe.glm.pipeline import Ahead

if TYPE_CHECKING:   # torch is imported lazily at run time
    import torch

Window = tuple[int, int]


def context_limit(adapter: Adapter, max_length: int | None) -> int | None:
    """Token limit: the smaller of the model's context and the sheet's ``max_length``."""
    limits = [x for x in (adapter.max_tokens, max_length) if x]
    return min(limits) if limits else None


def _rc_maps(fwd: TokenBatch, rc: TokenBatch, i: int, length: int) -> np.ndarray | None:
    """For row i: index into the RC tokens for every forward token, or None if the grids differ.

    A forward content token [s, e) pairs with the RC token covering [L-e, L-s) in RC
    coordinates; special tokens pair with the RC strand's specials in order.
    """
    n_f, n_r = int(fwd.lengths[i]), int(rc.lengths[i])
    fs, rs = fwd.spans[i, :n_f], rc.spans[i, :n_r]
    lookup = {(length - int(e), length - int(s)): j for j, (s, e) in enumerate(rs) if s >= 0}
    specials_r = [j for j in range(n_r) if rs[j, 0] < 0]
    out, k = np.zeros(n_f, dtype=np.int64), 0
    for j, (s, e) in enumerate(fs):
        if s < 0:
            if k >= len(specials_r):
                return None
            out[j], k = specials_r[k], k + 1
        elif (int(s), int(e)) in lookup:
            out[j] = lookup[(int(s), int(e))]
        else:
            return None
    return out if len(lookup) == int((fs[:, 0] >= 0).sum()) else None


@dataclass
class TokenPlan:
    """Pre-pass result: token counts per row and windows for rows that exceed the context."""

    n_tokens: np.ndarray                                  # (N,) tokens stored per row (windows summed)
    windows: dict[int, list[Window]] = field(default_factory=dict)
    max_tokens_seen: int = 0                              # longest single tokenization before windowing

    @property
    def max_stored(self) -> int:
        return int(self.n_tokens.max(initial=0))


def _content_spans(adapter: Adapter, seq: str) -> np.ndarray:
    """[start, end) of every non-special token of the whole sequence, ignoring the context limit.

    Hugging Face adapters expose ``encode`` (tokenization without the limit check); any
    other adapter's ``tokenize`` does not limit.
    """
    encode = getattr(adapter, "encode", None)
    if callable(encode):
        _, spans = encode([seq])[0]
        spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    else:
        tb = adapter.tokenize([seq])
        spans = np.asarray(tb.spans[0, : int(tb.lengths[0])], dtype=np.int64)
    return spans[spans[:, 0] >= 0]


def _split_windows(adapter: Adapter, seq: str, limit: int) -> list[Window]:
    """Cut ``seq`` at token boundaries into non-overlapping windows of at most ``limit`` tokens.

    Each window takes as many of the whole sequence's tokens as the context allows (so
    k-mers stay on their grid); if re-tokenizing the piece needs more (BPE merges differ
    at the edges), it gives back one token at a time.
    """
    spans = _content_spans(adapter, seq)
    n_special = int(adapter.count_tokens([seq[: int(spans[0, 1])]])[0]) - 1 if len(spans) else 0
    room = limit - n_special
    if room < 1:
        raise UserError(f"a context of {limit} tokens leaves no room for sequence tokens next to "
                        f"{n_special} special tokens")
    windows, start, k = [], 0, 0
    while start < len(seq):
        take = min(room, len(spans) - k)
        while True:
            end = len(seq) if k + take >= len(spans) else int(spans[k + take - 1, 1])
            if take < 1:
                raise UserError("cannot cut the sequence into windows that fit the context")
            if int(adapter.count_tokens([seq[start:end]])[0]) <= limit:
                break
            take -= 1
        windows.append((start, end))
        start = end
        while k < len(spans) and spans[k, 0] < end:  # first token that starts in the next window
            k += 1
    return windows


def plan_tokens(adapter: Adapter, seqs: Iterable[tuple[str, str]], n: int, *, limit: int | None, window: str,
                rc_tokens: bool = False, batch_size: int = 256, progress=None) -> TokenPlan:
    """Count every sequence's tokens; refuse (UserError naming the record) or window long ones.

    ``seqs`` yields (id, sequence) in dataset order. With ``rc_tokens`` every piece that will
    be embedded is also checked for a token grid that maps back from the reverse strand.
    """
    counts = np.zeros(n, dtype=np.int64)
    plan = TokenPlan(counts)
    row = 0
    buf: list[tuple[str, str]] = []

    def check_rc(items: list[tuple[str, str]]) -> None:
        pieces = [p for _, p in items]
        fwd = adapter.tokenize(pieces)
        rc = adapter.tokenize([reverse_complement(p) for p in pieces])
        for i, (rid, piece) in enumerate(items):
            if _rc_maps(fwd, rc, i, len(piece)) is None:
                raise UserError(f"record '{rid}': per-token embeddings cannot be averaged with the reverse "
                                "strand because its tokens do not map back onto the forward tokens "
                                "(e.g. 6-mers on a length not divisible by 6)",
                                hint="Set rc_average=false or drop 'tokens' from pooling for this model")

    def flush():
        nonlocal row
        ids, batch_seqs = [b[0] for b in buf], [b[1] for b in buf]
        lengths = adapter.count_tokens(batch_seqs)
        plan.max_tokens_seen = max(plan.max_tokens_seen, int(lengths.max(initial=0)))
        rc_items: list[tuple[str, str]] = []  # pieces to check against the reverse strand
        for i, s in enumerate(batch_seqs):
            if limit is None or lengths[i] <= limit:
                counts[row + i] = lengths[i]
                rc_items.append((ids[i], s))
                continue
            if window != "split":
                raise UserError(f"record '{ids[i]}' ({len(s)} nt) needs {lengths[i]} tokens but the context "
                                f"holds {limit}; refusing to truncate it silently",
                                hint="Set window=split in the models sheet (or --window split) to embed it "
                                     "in non-overlapping windows, or raise max_length if the model allows")
            wins = _split_windows(adapter, s, limit)
            plan.windows[row + i] = wins
            counts[row + i] = int(adapter.count_tokens([s[a:b] for a, b in wins]).sum())
            rc_items += [(ids[i], s[a:b]) for a, b in wins]
        if rc_tokens and rc_items:
            check_rc(rc_items)
        row += len(buf)
        if progress is not None:
            progress.update(len(buf))
        buf.clear()

    for item in seqs:
        buf.append(item)
        if len(buf) >= batch_size:
            flush()
    if buf:
        flush()
    return plan

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_precision(device: str, precision: str = "auto") -> str:
    """The forward pass's arithmetic: fp32 on CPU (bf16 autocast is 5-7x slower on these CPUs),
    bf16 autocast on CUDA where supported, else fp16. It enters the record and the cache key."""
    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}", where="--precision")
    if precision != "auto":
        return precision
    if not str(device).startswith("cuda"):
        return "fp32"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


@dataclass
class Chunk:
    """Consecutive rows ``lo .. lo + len(seqs)`` of the input, embedded as one unit of work."""

    lo: int
    seqs: Sequence[str]
    windows: dict[int, list[Window]] = field(default_factory=dict)  # chunk row -> windows (over-long rows)
    n_tokens: np.ndarray | None = None                             # tokens per row (length-bucketing key)
    ids: Sequence[str] | None = None                               # record ids, for error messages


@dataclass
class TokenRows:
    """Per-token states of some rows, zero-padded to the width of their batch (absolute row numbers)."""

    rows: np.ndarray                  # (b,) int64, ascending
    lengths: np.ndarray               # (b,) int32 tokens per row
    spans: np.ndarray                 # (b, T_b, 2) int32 nucleotide [start, end), -1 for specials and padding
    states: dict[int, np.ndarray]     # layer -> (b, T_b, D) in the storage dtype, zero past each length


@dataclass
class ChunkDone:
    """Everything for a chunk that is not already sent as :class:`TokenRows`."""

    lo: int
    k: int
    pooled: dict[tuple[int, str], np.ndarray]   # (layer, pooling) -> (k, D) in the storage dtype
    tokens: list[TokenRows]                     # rows embedded in windows (concatenated per row)
    n_tokens: int                               # tokens through the model (both strands)


@dataclass
class ChunkResult:
    """:meth:`Extractor.run`'s answer for one chunk (lists per row; handy, not for the hot path)."""

    pooled: dict[tuple[int, str], np.ndarray]       # (layer, pooling) -> (k, D)
    tokens: dict[int, list[np.ndarray]]             # layer -> k arrays (t_i, D)
    spans: list[np.ndarray]                         # k arrays (t_i, 2) int32
    n_tokens: int = 0                               # tokens through the model (both strands)


@dataclass
class _Prepared:
    """One batch, tokenised (both strands if asked) ahead of its forward pass."""

    state: _ChunkState
    units: np.ndarray                 # unit indices into the chunk's unit table
    batch: TokenBatch
    keep: torch.Tensor              # (B, T) bool: content tokens (the mean's weights)
    rc: TokenBatch | None = None
    rc_keep: torch.Tensor | None = None
    rc_index: torch.Tensor | None = None  # (B, T) forward token -> RC token (per-token RC averaging)


@dataclass
class _ChunkState:
    chunk: Chunk
    rows: np.ndarray                  # per unit: chunk row
    starts: np.ndarray                # per unit: window start (0 for whole rows)
    ends: np.ndarray                  # per unit: window end (the row's length for whole rows)
    windowed: np.ndarray              # per unit: row is split into windows
    pooled: dict                      # (layer, pooling) -> (k, D) float32 accumulator
    weight: np.ndarray                # (k,) bases accumulated per windowed row
    parts: dict = field(default_factory=dict)   # unit -> (spans, {layer: tokens}) for windowed rows
    n_tokens: int = 0


class Extractor:
    """Runs an adapter over chunks of sequences and pools the requested layers.

    The hot path (:meth:`stream`) tokenises batch i+1 in a thread while batch i runs, pools
    on the model's tensors (one einsum per layer: no copies of the states), casts to the
    storage dtype on the device, and on CUDA copies results back with non-blocking transfers
    one batch late so the GPU never waits for the host. Batches are length-bucketed inside a
    chunk (same chunk -> same batches, so a resumed or sharded run is byte-identical).
    """

    def __init__(self, adapter: Adapter, layers: Sequence[int], poolings: Sequence[str], *,
                 batch_size: int = 32, rc_average: bool = False, device: str = "cpu", precision: str = "auto",
                 dtype: str = "float32", prefetch: int = 2):
        self.adapter = adapter
        self.layers = list(layers)
        self.pooled_kinds = [p for p in poolings if p != "tokens"]
        self.keep_tokens = "tokens" in poolings
        self.batch_size = max(1, int(batch_size))
        self.rc_average = rc_average
        self.device = str(device)
        self.cuda = self.device.startswith("cuda")
        self.precision = resolve_precision(self.device, precision)
        self.dtype = np.dtype(dtype)
        self.prefetch = int(prefetch)
        if "cls" in poolings and adapter.cls_index is None:
            raise UserError(f"model '{adapter.spec.id}' (family {adapter.spec.family}) has no CLS token; "
                            "remove 'cls' from its pooling column")

    # ------------------------------------------------------------------ stages
    def _autocast(self):
        import torch

        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast("cuda" if self.cuda else "cpu", dtype=dtype)

    def _state(self, chunk: Chunk) -> tuple[_ChunkState, list[np.ndarray]]:
        """The chunk's units (rows, or windows of over-long rows) and its length-bucketed batches."""
        k = len(chunk.seqs)
        nt = np.fromiter((len(s) for s in chunk.seqs), np.int64, k)
        size = nt if chunk.n_tokens is None else np.asarray(chunk.n_tokens, np.int64)  # bucket by tokens
        if chunk.windows:
            rows, starts, ends = [], [], []
            for r in range(k):
                for a, b in chunk.windows.get(r, [(0, int(nt[r]))]):
                    rows.append(r), starts.append(a), ends.append(b)
            rows, starts, ends = (np.asarray(x, np.int64) for x in (rows, starts, ends))
            key = size[rows] * (ends - starts) // np.maximum(nt[rows], 1)  # a window's share of the row's tokens
        else:
            rows, starts, ends, key = np.arange(k), np.zeros(k, np.int64), nt, size
        windowed = np.isin(rows, np.fromiter(chunk.windows, np.int64, len(chunk.windows)))
        order = np.argsort(-key, kind="stable")  # longest first: a too-big batch fails at once
        D = self.adapter.hidden_size
        state = _ChunkState(chunk, rows, starts, ends, windowed,
                            {(layer, kind): np.zeros((k, D), np.float32)
                             for layer in self.layers for kind in self.pooled_kinds}, np.zeros(k, np.float64))
        return state, [order[a:a + self.batch_size] for a in range(0, len(order), self.batch_size)]

    def _tokenize(self, texts: list[str]) -> tuple[TokenBatch, torch.Tensor]:
        import torch

        batch = self.adapter.tokenize(texts)
        keep = torch.from_numpy(~np.asarray(batch.special_mask, dtype=bool))
        if self.cuda:  # page-locked, so the copy to the GPU is asynchronous
            batch = replace(batch, input_ids=batch.input_ids.pin_memory(),
                            attention_mask=batch.attention_mask.pin_memory())
            keep = keep.pin_memory()
        return batch, keep

    def _prepare(self, state: _ChunkState, units: np.ndarray) -> _Prepared:
        """Tokenise one batch (runs in the prefetch thread)."""
        import torch

        seqs = state.chunk.seqs
        texts = [seqs[r][a:b] for r, a, b in zip(state.rows[units], state.starts[units], state.ends[units])]
        batch, keep = self._tokenize(texts)
        prep = _Prepared(state, units, batch, keep)
        if self.rc_average:
            prep.rc, prep.rc_keep = self._tokenize([reverse_complement(t) for t in texts])
            if self.keep_tokens:  # plan_tokens checked that every grid maps back
                index = np.zeros(batch.spans.shape[:2], np.int64)
                for j, t in enumerate(texts):
                    m = _rc_maps(batch, prep.rc, j, len(t))
                    index[j, : len(m)] = m
                prep.rc_index = torch.from_numpy(index)
        return prep

    def _batches(self, chunks: Iterable[Chunk]):
        """("batch", prepared) for every batch of every chunk, then ("end", state) per chunk."""
        for chunk in chunks:
            state, batches = self._state(chunk)
            for units in batches:
                yield "batch", self._prepare(state, units)
            yield "end", state

    def _to_device(self, t):
        return t.to(self.device, non_blocking=True) if self.cuda else t

    def _states(self, batch: TokenBatch) -> dict:
        if self.cuda:
            batch = replace(batch, input_ids=self._to_device(batch.input_ids),
                            attention_mask=self._to_device(batch.attention_mask))
        with self._autocast():
            return self.adapter.hidden_states(batch, self.layers)

    def _pool(self, states: dict, keep) -> dict:
        """{(layer, pooling): (B, D) float32} on the states' device: one einsum per layer."""
        import torch

        out = {}
        keep = self._to_device(keep)
        for layer, h in states.items():
            w = keep[:, : h.shape[1]].to(h.dtype)
            for kind in self.pooled_kinds:
                if kind == "mean":
                    out[(layer, kind)] = torch.einsum("bt,btd->bd", w, h) / w.sum(1, keepdim=True).clamp(min=1.0)
                else:
                    out[(layer, kind)] = h[:, self.adapter.cls_index]
        return out

    def _launch(self, prep: _Prepared) -> tuple:
        """Forward pass(es) + pooling + storage cast for one batch; on CUDA only queued, not waited for."""
        import torch

        states = self._states(prep.batch)
        pooled = self._pool(states, prep.keep)
        n_tok = int(prep.batch.lengths.sum())
        if prep.rc is not None:
            rc_states = self._states(prep.rc)
            n_tok += int(prep.rc.lengths.sum())
            rc_pooled = self._pool(rc_states, prep.rc_keep)
            pooled = {key: (v + rc_pooled[key]) / 2 for key, v in pooled.items()}
        tokens = {}
        if self.keep_tokens:
            dtype = getattr(torch, self.dtype.name)
            real = self._to_device(prep.batch.attention_mask).bool()[..., None]
            for layer in self.layers:
                h = states[layer]
                if prep.rc is not None:
                    idx = self._to_device(prep.rc_index)[..., None].expand(-1, -1, h.shape[-1])
                    h = (h + rc_states[layer].gather(1, idx)) / 2
                tokens[layer] = h.to(dtype).masked_fill_(~real[:, : h.shape[1]], 0)
        host = {key: v.float() for key, v in pooled.items()}
        bad = torch.stack([~torch.isfinite(t).flatten(1).all(1) for t in tokens.values()]) if tokens else None
        if self.cuda:  # non-blocking copies into page-locked memory; landed after the event
            host = {key: v.to("cpu", non_blocking=True) for key, v in host.items()}
            tokens = {layer: t.to("cpu", non_blocking=True) for layer, t in tokens.items()}
            bad = bad.to("cpu", non_blocking=True) if bad is not None else None
            event = torch.cuda.Event()
            event.record()
        else:
            event = None
        return prep, host, tokens, bad, n_tok, event

    def _land(self, launched) -> Iterator[TokenRows]:
        """Bring one batch's results to the host: pooled into the chunk's sums, tokens out."""
        prep, pooled, tokens, bad, n_tok, event = launched
        if event is not None:
            event.synchronize()
        state, units = prep.state, prep.units
        rows, windowed = state.rows[units], state.windowed[units]
        state.n_tokens += n_tok
        whole = ~windowed
        for key, v in pooled.items():
            v = v.numpy()
            state.pooled[key][rows[whole]] = v[whole]
            if windowed.any():  # length-weighted sum over windows; divided in _finish
                size = (state.ends[units] - state.starts[units])[windowed].astype(np.float32)
                np.add.at(state.pooled[key], rows[windowed], v[windowed] * size[:, None])
        if windowed.any():
            np.add.at(state.weight, rows[windowed], (state.ends[units] - state.starts[units])[windowed])
        if not tokens:
            return
        if bad is not None and bool(bad.any()):
            bad = bad.numpy()
            i = int(np.nonzero(bad.any(1))[0][0])
            self._not_finite(state, self.layers[i], "tokens", sorted(int(r) for r in rows[bad[i]]))
        lengths = np.asarray(prep.batch.lengths, np.int32)
        arrays = {layer: t.numpy() for layer, t in tokens.items()}
        spans = np.asarray(prep.batch.spans, np.int32)
        for j in np.nonzero(windowed)[0]:  # windows: kept until the row's every window is in
            u, t = int(units[j]), int(lengths[j])
            sp = spans[j, :t].copy()
            sp[sp[:, 0] >= 0] += int(state.starts[u])
            state.parts[u] = (sp, {layer: a[j, :t] for layer, a in arrays.items()})
        if whole.all():
            order = np.argsort(rows, kind="stable")
            yield TokenRows(state.chunk.lo + rows[order], lengths[order], spans[order],
                            {layer: a[order] for layer, a in arrays.items()})
        elif whole.any():
            sel = np.nonzero(whole)[0][np.argsort(rows[whole], kind="stable")]
            yield TokenRows(state.chunk.lo + rows[sel], lengths[sel], spans[sel],
                            {layer: a[sel] for layer, a in arrays.items()})

    def _not_finite(self, state: _ChunkState, layer: int, kind: str, rows: list[int]):
        ids = state.chunk.ids
        names = [f"'{ids[r]}'" if ids is not None else f"row {state.chunk.lo + r}" for r in rows[:3]]
        more = f" (+{len(rows) - 3} more)" if len(rows) > 3 else ""
        if self.dtype == np.float16:
            why = "overflow float16 (|x| > 65504) or are NaN/inf"
            hint = "Store this model's embeddings as float32 (dtype=float32 in its models-sheet row)"
        else:
            why = "are NaN/inf in the model's output"
            hint = "Check the weights; with autocast, try --precision fp32"
        raise UserError(f"layer {layer} {kind} embeddings of {', '.join(names)}{more} {why}; refusing to "
                        "store them", hint=hint)

    def _finish(self, state: _ChunkState) -> ChunkDone:
        """Average windowed rows, cast to the storage dtype, check finiteness, join windowed tokens."""
        k = len(state.chunk.seqs)
        split = state.weight > 0
        out = {}
        for key, v in state.pooled.items():
            v[split] /= state.weight[split, None]
            with np.errstate(over="ignore"):  # overflow is reported just below, by row
                cast = v.astype(self.dtype)
            ok = np.isfinite(cast).all(1)
            if not ok.all():
                self._not_finite(state, key[0], key[1], np.nonzero(~ok)[0].tolist())
            out[key] = cast
        tokens = []
        if self.keep_tokens and state.parts:
            by_row: dict[int, list[int]] = {}
            for u in sorted(state.parts):
                by_row.setdefault(int(state.rows[u]), []).append(u)
            for r, us in sorted(by_row.items()):
                sp = np.concatenate([state.parts[u][0] for u in us])
                states = {layer: np.concatenate([state.parts[u][1][layer] for u in us])[None] for layer in self.layers}
                tokens.append(TokenRows(np.array([state.chunk.lo + r]), np.array([len(sp)], np.int32), sp[None],
                                        states))
        return ChunkDone(state.chunk.lo, k, out, tokens, state.n_tokens)

    # ------------------------------------------------------------------ drivers
    def stream(self, chunks: Iterable[Chunk]) -> Iterator[TokenRows | ChunkDone]:
        """Embed chunks in order: each chunk's :class:`TokenRows`, then its :class:`ChunkDone`."""
        import torch

        pending = None  # the batch launched last; landed after the next one is queued
        with Ahead(self._batches(chunks), depth=self.prefetch, name="glmprobe-tokenize") as prepared, \
                torch.inference_mode():
            for kind, item in prepared:
                if kind == "batch":
                    launched = self._launch(item)
                    if pending is not None:
                        yield from self._land(pending)
                    pending = launched
                    continue
                if pending is not None:
                    yield from self._land(pending)
                    pending = None
                yield self._finish(item)

    def run(self, seqs: Sequence[str], windows: dict[int, list[Window]] | None = None) -> ChunkResult:
        """Embed one chunk synchronously; lists per row (tests, attribution, variant scoring)."""
        k = len(seqs)
        D = self.adapter.hidden_size
        tokens: dict[int, list[np.ndarray]] = {layer: [np.zeros((0, D), self.dtype)] * k for layer in self.layers}
        spans: list[np.ndarray] = [np.zeros((0, 2), np.int32)] * k
        done = None
        for item in self.stream([Chunk(0, list(seqs), dict(windows or {}))]):
            if isinstance(item, ChunkDone):
                done = item
                parts = item.tokens
            else:
                parts = [item]
            for tr in parts:
                for j, r in enumerate(tr.rows):
                    t = int(tr.lengths[j])
                    spans[r] = tr.spans[j, :t]
                    for layer in self.layers:
                        tokens[layer][r] = tr.states[layer][j, :t]
        if not self.keep_tokens:
            tokens, spans = {layer: [] for layer in self.layers}, []
        return ChunkResult(done.pooled, tokens, spans, done.n_tokens)
