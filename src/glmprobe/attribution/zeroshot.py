"""Zero-shot gLM maps: masked-LM information, probe-gradient x information, log-likelihood ratios.

The study's map 2 (paper.md §5) masked each token, took the entropy of the softmax over the
WHOLE vocabulary (specials and tokens of other lengths included), scored max(entropy) -
entropy within each sequence (so scores are not comparable between sequences) and repeated
NT's 6-mer scores x6 (misplacing the leftover single-base tokens). Here, done correctly:

* the softmax is renormalised over the candidates that could stand at that position: the
  DNA tokens of the same length as the masked one (4 bases for character models, the 4^k
  k-mers for k-mer models, every A/C/G/T token of that length for BPE);
* the score is the information content log2(#candidates) - H (bits), an absolute scale;
* token scores reach nucleotides through the tokenizer's own spans (leftover tokens, BPE
  tokens of any length; for overlapping k-mers every base averages the tokens covering it);
  specials carry no bases and get no score.

Map 3 (probe gradient x map 2) takes, per token, the L2 norm over features of
d(probe output)/d(hidden state at the probe's layer), through the probe's own pooling
(masked mean without specials, CLS at the tokenizer's position), times the information.

Log-likelihood ratios, (N, 4, L), one per substitution:
* masked LMs: mask the token holding the base; log p(token with the alt base) - log p(token)
  over the same candidates (NaN where the edited string is not a single vocabulary token);
* causal LMs: log-likelihood of the edited sequence minus the reference (3L + 1 passes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from glmprobe.errors import UserError

BASES = "ACGT"


def _dna_tokens(adapter) -> dict[str, int]:
    markers = ("##", "Ġ", "▁")
    out = {}
    for text, i in adapter.tokenizer.get_vocab().items():
        clean = text
        for m in markers:
            clean = clean.replace(m, "")
        if clean and set(clean) <= set(BASES) and i not in adapter.special_ids:
            out.setdefault(clean, int(i))
    return out


def _candidates(adapter) -> tuple[dict[str, int], dict[int, np.ndarray]]:
    vocab = _dna_tokens(adapter)
    by_len: dict[int, list[int]] = {}
    for text, i in vocab.items():
        by_len.setdefault(len(text), []).append(i)
    return vocab, {k: np.asarray(sorted(v)) for k, v in by_len.items()}


def _require_mlm(adapter, what: str) -> None:
    if getattr(adapter, "causal", False) or not hasattr(adapter, "masked_logits"):
        raise UserError(f"{what} needs a masked language model; model '{adapter.spec.id}' "
                        f"(family {adapter.spec.family}) is not one", where="--method",
                        hint="Use method llr for causal LMs, or ism for any probe.")
    if getattr(adapter.tokenizer, "mask_token_id", None) is None:
        raise UserError(f"model '{adapter.spec.id}' has no mask token", where="--method")


def _masked_logprobs(adapter, seq: str):
    """For each content token of ``seq``: (span, token id, log-probs over the vocabulary when masked)."""
    batch = adapter.tokenize([seq])
    n = int(batch.lengths[0])
    content = [t for t in range(n) if batch.spans[0, t, 0] >= 0]
    ids = batch.input_ids[:, :n].repeat(len(content), 1)
    for row, t in enumerate(content):
        ids[row, t] = adapter.tokenizer.mask_token_id
    from glmprobe.glm.adapter import TokenBatch
    masked = TokenBatch(ids, batch.attention_mask[:, :n].repeat(len(content), 1),
                        np.repeat(batch.special_mask[:, :n], len(content), 0),
                        np.repeat(batch.spans[:, :n], len(content), 0), np.full(len(content), n))
    logits = adapter.masked_logits(masked)
    rows = torch.arange(len(content))
    logp = torch.log_softmax(logits[rows, torch.as_tensor(content)], dim=-1).cpu().numpy()
    spans = [tuple(int(x) for x in batch.spans[0, t]) for t in content]
    return spans, [int(batch.input_ids[0, t]) for t in content], logp


def _spread(L: int, spans, values) -> np.ndarray:
    """Token values onto bases: each base averages the tokens whose span covers it."""
    total, count = np.zeros(L), np.zeros(L)
    for (a, b), v in zip(spans, values):
        total[a:b] += v
        count[a:b] += 1
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _restricted(logp_row: np.ndarray, cand: np.ndarray) -> np.ndarray:
    lp = logp_row[cand]
    return lp - np.logaddexp.reduce(lp)


def _token_information(adapter, seq: str, by_len) -> tuple[list, np.ndarray]:
    spans, _, logp = _masked_logprobs(adapter, seq)
    info = np.zeros(len(spans))
    for k, (a, b) in enumerate(spans):
        cand = by_len.get(b - a)
        if cand is None or len(cand) < 2:
            continue
        lp = _restricted(logp[k], cand)
        entropy = -(np.exp(lp) * lp).sum() / np.log(2)
        info[k] = np.log2(len(cand)) - entropy
    return spans, info


def information_maps(adapter, seqs: Sequence[str]) -> np.ndarray:
    """(N, L) masked-LM information content per base (bits), the corrected study map 2."""
    _require_mlm(adapter, "the entropy map")
    _, by_len = _candidates(adapter)
    L = max(len(s) for s in seqs)
    out = np.zeros((len(seqs), L), np.float32)
    for i, s in enumerate(seqs):
        spans, info = _token_information(adapter, s, by_len)
        out[i, :len(s)] = _spread(len(s), spans, info)
    return out


def _pool(h: torch.Tensor, batch, chain, adapter) -> torch.Tensor:
    if chain.pooling == "mean":
        keep = torch.as_tensor(~np.asarray(batch.special_mask, bool), dtype=h.dtype)[..., : h.shape[1]]
        w = keep.unsqueeze(-1)
        return (h * w).sum(1) / w.sum(1).clamp(min=1.0)
    if chain.pooling == "cls":
        return h[:, adapter.cls_index]
    T = chain.max_tokens
    pad = torch.zeros((h.shape[0], T, h.shape[2]), dtype=h.dtype)
    n = min(T, h.shape[1])
    mask = torch.as_tensor(np.asarray(batch.attention_mask[:, :n]), dtype=h.dtype).unsqueeze(-1)
    pad = torch.cat([h[:, :n] * mask, pad[:, n:]], dim=1)
    return pad.transpose(1, 2)


def gradient_information_maps(trained, seqs: Sequence[str], target: int | None = None) -> np.ndarray:
    """(N, L): per-token |d head / d hidden state| x masked-LM information, spread to bases (study map 3)."""
    chain = trained.glm
    adapter = chain.adapter
    _require_mlm(adapter, "the gradient x entropy map")
    if chain.rc_average:
        raise UserError("the gradient x entropy map follows one strand; this probe averages both strands",
                        where="--method", hint="Use method ism, which handles reverse-complement averaging.")
    _, by_len = _candidates(adapter)
    L = max(len(s) for s in seqs)
    out = np.zeros((len(seqs), L), np.float32)
    for i, s in enumerate(seqs):
        batch = adapter.tokenize([s])
        with torch.inference_mode():
            state = adapter.hidden_states(batch, [chain.layer])[chain.layer]
        h = state.clone().requires_grad_(True)
        y = trained.module(_pool(h, batch, chain, adapter))
        y = y.sum() if target is None else y[:, target].sum()
        (grad,) = torch.autograd.grad(y, h)
        norm = grad[0].norm(dim=-1).numpy()
        spans, info = _token_information(adapter, s, by_len)
        content = [t for t in range(int(batch.lengths[0])) if batch.spans[0, t, 0] >= 0]
        out[i, :len(s)] = _spread(len(s), spans, norm[content] * info)
    return out


def masked_llr_maps(adapter, seqs: Sequence[str]) -> np.ndarray:
    """(N, 4, L) masked-LM log-likelihood ratio of every substitution (0 at the reference base)."""
    _require_mlm(adapter, "the masked log-likelihood ratio")
    vocab, by_len = _candidates(adapter)
    L = max(len(s) for s in seqs)
    total, count = np.zeros((len(seqs), 4, L)), np.zeros((len(seqs), 4, L))
    for i, s in enumerate(seqs):
        spans, ids, logp = _masked_logprobs(adapter, s)
        for k, (a, b) in enumerate(spans):
            cand = by_len.get(b - a)
            if cand is None:
                continue
            lp = dict(zip(cand.tolist(), _restricted(logp[k], cand)))
            ref, text = lp.get(ids[k]), s[a:b]
            for p in range(a, b):
                for j, alt in enumerate(BASES):
                    tid = vocab.get(text[:p - a] + alt + text[p - a + 1:])
                    if alt != s[p] and ref is not None and tid in lp:
                        total[i, j, p] += lp[tid] - ref   # overlapping k-mers: averaged over covering tokens
                        count[i, j, p] += 1
    ref_base = np.asarray([[[c == b for c in s.ljust(L, "N")] for b in BASES] for s in seqs])
    out = np.where(count > 0, total / np.maximum(count, 1), np.where(ref_base, 0.0, np.nan))
    return out.astype(np.float32)


def causal_llr_maps(adapter, seqs: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """(N, 4, L) causal-LM log-likelihood of each edited sequence minus the reference's."""
    from glmprobe.attribution.glm_ism import mutants

    if not hasattr(adapter, "log_likelihood"):
        raise UserError(f"model '{adapter.spec.id}' (family {adapter.spec.family}) is not a causal LM",
                        where="--method", hint="Use method llr on hf-clm models, or masked-llr on masked LMs.")
    L = max(len(s) for s in seqs)
    out = np.zeros((len(seqs), 4, L), np.float32)
    for i, s in enumerate(seqs):
        edits = list(mutants(s))
        rows = [s] + [m for _, _, m in edits]
        ll = np.concatenate([adapter.log_likelihood(rows[a:a + batch_size]) for a in range(0, len(rows), batch_size)])
        for k, (p, b, _) in enumerate(edits):
            out[i, b, p] = ll[k + 1] - ll[0]
    return out
