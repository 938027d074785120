"""Batched multi-layer extraction and pooling, independent of the model family.

* every requested layer comes from ONE forward pass (``adapter.hidden_states``);
* a chunk's sequences are batched in length order (less padding) and results restored
  to input order;
* ``torch.inference_mode``; fp16/bf16 autocast only on CUDA (fp32 on CPU, where bf16 is
  5-7x slower);
* mean pooling excludes padding AND special tokens (``special_mask``; study bug §8.4);
  cls pooling reads ``adapter.cls_index`` (study bug §8.5);
* optional averaging with the reverse-complement strand; for per-token output only
  where the RC token grid maps back onto the forward one;
* nothing is truncated silently (study bug §8.6): :func:`plan_tokens` counts every
  sequence's tokens first and either refuses or splits over-long sequences into
  non-overlapping windows (pooled vectors averaged weighted by length, tokens concatenated).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from glmprobe.data.onehot import reverse_complement
from glmprobe.errors import UserError
from glmprobe.glm.adapter import Adapter, TokenBatch

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


@dataclass
class ChunkResult:
    pooled: dict[tuple[int, str], np.ndarray]       # (layer, pooling) -> (k, D) float32
    tokens: dict[int, list[np.ndarray]]             # layer -> k arrays (t_i, D) float32
    spans: list[np.ndarray]                         # k arrays (t_i, 2) int32
    n_tokens: int = 0                               # tokens through the model (both strands)


class Extractor:
    """Runs an adapter over chunks of sequences and pools the requested layers."""

    def __init__(self, adapter: Adapter, layers: Sequence[int], poolings: Sequence[str], *,
                 batch_size: int = 32, rc_average: bool = False, device: str = "cpu"):
        self.adapter = adapter
        self.layers = list(layers)
        self.pooled_kinds = [p for p in poolings if p != "tokens"]
        self.keep_tokens = "tokens" in poolings
        self.batch_size = max(1, int(batch_size))
        self.rc_average = rc_average
        self.device = device
        if "cls" in poolings and adapter.cls_index is None:
            raise UserError(f"model '{adapter.spec.id}' (family {adapter.spec.family}) has no CLS token; "
                            "remove 'cls' from its pooling column")

    def _autocast(self):
        import torch

        if not str(self.device).startswith("cuda"):
            return nullcontext()  # fp32 on CPU: bf16 autocast is 5-7x slower on these CPUs
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def _forward(self, seqs: list[str]):
        """One forward pass -> (TokenBatch, {layer: (B, T, D) float32 CPU/device tensor})."""
        import torch

        batch = self.adapter.tokenize(seqs)
        with torch.inference_mode(), self._autocast():
            states = self.adapter.hidden_states(batch, self.layers)
        return batch, {layer: states[layer].float() for layer in self.layers}

    def _pool(self, batch: TokenBatch, states: dict) -> dict[tuple[int, str], np.ndarray]:
        import torch

        out = {}
        keep = torch.as_tensor(~np.asarray(batch.special_mask, dtype=bool))
        for layer, h in states.items():
            w = keep.to(h.device, h.dtype)[..., : h.shape[1]].unsqueeze(-1)
            for kind in self.pooled_kinds:
                if kind == "mean":
                    v = (h * w).sum(1) / w.sum(1).clamp(min=1.0)
                else:
                    v = h[:, self.adapter.cls_index]
                out[(layer, kind)] = v.cpu().numpy().astype(np.float32)
        return out

    def run(self, seqs: Sequence[str], windows: dict[int, list[Window]] | None = None) -> ChunkResult:
        """Embed one chunk; ``windows`` maps chunk row -> windows for over-long rows."""
        windows = windows or {}
        units = []  # (row, start, end)
        for r, s in enumerate(seqs):
            for a, b in windows.get(r, [(0, len(s))]):
                units.append((r, a, b))
        order = sorted(range(len(units)), key=lambda u: units[u][2] - units[u][1], reverse=True)
        k = len(seqs)
        D = self.adapter.hidden_size
        pooled = {(layer, kind): np.zeros((k, D), np.float32) for layer in self.layers for kind in self.pooled_kinds}
        weight = np.zeros(k, np.float64)
        unit_tokens: dict[int, dict[int, np.ndarray]] = {layer: {} for layer in self.layers}
        unit_spans: dict[int, np.ndarray] = {}
        n_tok = 0
        for a in range(0, len(order), self.batch_size):
            idx = order[a:a + self.batch_size]
            texts = [seqs[units[u][0]][units[u][1]:units[u][2]] for u in idx]
            batch, states = self._forward(texts)
            n_tok += int(np.sum(batch.lengths))
            vecs = self._pool(batch, states)
            if self.rc_average:
                rc_batch, rc_states = self._forward([reverse_complement(t) for t in texts])
                n_tok += int(np.sum(rc_batch.lengths))
                rc_vecs = self._pool(rc_batch, rc_states)
                vecs = {key: (v + rc_vecs[key]) / 2 for key, v in vecs.items()}
            for j, u in enumerate(idx):
                row, start, end = units[u]
                size = end - start
                for key, v in vecs.items():
                    pooled[key][row] += size * v[j]
                weight[row] += size
                if self.keep_tokens:
                    t = int(batch.lengths[j])
                    spans = batch.spans[j, :t].astype(np.int32).copy()
                    spans[spans[:, 0] >= 0] += start
                    unit_spans[u] = spans
                    for layer in self.layers:
                        tok = states[layer][j, :t].cpu().numpy()
                        if self.rc_average:
                            m = _rc_maps(batch, rc_batch, j, len(texts[j]))
                            tok = (tok + rc_states[layer][j, m].cpu().numpy()) / 2
                        unit_tokens[layer][u] = tok
        for key in pooled:  # length-weighted mean over windows (plain copy for unsplit rows)
            pooled[key] /= np.maximum(weight, 1)[:, None]
        tokens: dict[int, list[np.ndarray]] = {layer: [] for layer in self.layers}
        spans_out: list[np.ndarray] = []
        if self.keep_tokens:  # concatenate each row's windows in sequence order
            by_row: dict[int, list[int]] = {}
            for u, (row, _, _) in enumerate(units):
                by_row.setdefault(row, []).append(u)
            for r in range(k):
                us = by_row.get(r, [])
                spans_out.append(np.concatenate([unit_spans[u] for u in us]) if us else np.zeros((0, 2), np.int32))
                for layer in self.layers:
                    tokens[layer].append(np.concatenate([unit_tokens[layer][u] for u in us]) if us
                                         else np.zeros((0, D), np.float32))
        return ChunkResult(pooled, tokens, spans_out, n_tok)
