"""Zero-shot variant scores from a frozen gLM, one scorer interface for every family.

* **Embedding distances** (any family, any layers): the pooled embedding (``mean`` over
  non-special tokens, or ``cls``) of the alt window against the ref window, at the same
  context: ``cosine`` (1 - cosine similarity: larger = more different; the study reported the
  similarity, so its r has the opposite sign), ``l1``, ``l2`` and ``dot`` (the raw ref . alt
  product, as in the study).
* **Masked-LM log-likelihood ratio** (``llr``; masked LMs with an LM head): every token that
  overlaps the variant is masked in the ref window *at once* (for overlapping k-mers, DNABERT,
  that is up to k tokens, so no unmasked token still shows the ref base), and
  ``llr = sum over masked tokens of log p(alt token) - log p(ref token)``, where the alt token
  is the alt window's token at the same span. One forward pass per site serves all its alts.
  Where the alt window tokenizes onto a different token grid (BPE), the LLR is undefined: NaN,
  counted as ``llr_grid_changed``.
* **Causal-LM log-likelihood difference** (``delta_ll``; causal LMs): the summed log-likelihood
  of the alt window minus that of the ref window.

All three take a :class:`~glmprobe.variants.windows.SiteChunk` and return arrays aligned with its
variants; every distinct ref window is run through the model once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glmprobe.errors import UserError
from glmprobe.glm.adapter import POOLED, Adapter
from glmprobe.glm.extract import Extractor
from glmprobe.variants.windows import SiteChunk

DISTANCES = ("cosine", "l1", "l2", "dot")


def distances(ref: np.ndarray, alt: np.ndarray, which: Sequence[str] = DISTANCES) -> dict[str, np.ndarray]:
    """Row-wise distances between (n, D) float arrays, computed in float64."""
    ref, alt = ref.astype(np.float64), alt.astype(np.float64)
    out = {}
    for name in which:
        if name == "cosine":
            norm = np.linalg.norm(ref, axis=1) * np.linalg.norm(alt, axis=1)
            out[name] = 1.0 - np.sum(ref * alt, axis=1) / np.where(norm > 0, norm, np.nan)
        elif name == "l1":
            out[name] = np.abs(alt - ref).sum(axis=1)
        elif name == "l2":
            out[name] = np.linalg.norm(alt - ref, axis=1)
        elif name == "dot":
            out[name] = np.sum(ref * alt, axis=1)
        else:
            raise UserError(f"unknown distance {name!r}; use {', '.join(DISTANCES)}", where="--distance")
    return out


class EmbeddingScorer:
    """Distances between pooled ref and alt embeddings, one column per (distance, layer)."""

    def __init__(self, adapter: Adapter, layers: Sequence[int], pooling: str = "mean",
                 which: Sequence[str] = DISTANCES, *, batch_size: int = 32, rc_average: bool = False,
                 device: str = "cpu"):
        if pooling not in POOLED:
            raise UserError(f"pooling {pooling!r} cannot be compared as one vector; use mean or cls",
                            where="--pooling")
        self.layers, self.pooling, self.which = list(layers), pooling, list(which)
        self.extractor = Extractor(adapter, self.layers, [pooling], batch_size=batch_size,
                                   rc_average=rc_average, device=device)

    def columns(self) -> list[str]:
        return [f"{d}_L{layer}" for layer in self.layers for d in self.which]

    def score(self, chunk: SiteChunk) -> dict[str, np.ndarray]:
        res = self.extractor.run(chunk.ref + chunk.alt)  # one run: batched and length-sorted together
        n_ref = len(chunk.ref)
        out = {}
        for layer in self.layers:
            v = res.pooled[(layer, self.pooling)]
            d = distances(v[:n_ref][chunk.site], v[n_ref:], self.which)
            out.update({f"{name}_L{layer}": d[name] for name in self.which})
        return out


def _token_log_probs(adapter: Adapter, batch, rows: np.ndarray, cols: np.ndarray):
    """log-softmax of the LM logits at (rows, cols) positions of ``batch`` -> (n, V) numpy."""
    import torch

    logits = adapter.masked_logits(batch)
    picked = logits[torch.as_tensor(rows), torch.as_tensor(cols)]
    return torch.log_softmax(picked.float(), dim=-1).cpu().numpy()


class MaskedLLR:
    """Masked-LM log-likelihood ratio at the variant (see the module docstring)."""

    def __init__(self, adapter: Adapter, *, batch_size: int = 32):
        self.adapter, self.batch_size = adapter, max(1, int(batch_size))
        tok = getattr(adapter, "tokenizer", None)
        self.mask_id = getattr(tok, "mask_token_id", None)
        if self.mask_id is None or not hasattr(adapter, "masked_logits"):
            raise UserError(f"model '{adapter.spec.id}' (family {adapter.spec.family}) has no mask token or LM "
                            "head: the masked log-likelihood ratio needs a masked LM",
                            hint="Drop 'llr' from --score, or use a masked-LM checkpoint")
        self.grid_changed = 0

    def columns(self) -> list[str]:
        return ["llr"]

    def score(self, chunk: SiteChunk) -> dict[str, np.ndarray]:
        out = np.full(len(chunk), np.nan)
        by_site: dict[int, list[int]] = {}
        for j, s in enumerate(chunk.site):
            by_site.setdefault(int(s), []).append(j)
        sites = sorted(by_site)
        for a in range(0, len(sites), self.batch_size):
            part = sites[a:a + self.batch_size]
            ref_batch = self.adapter.tokenize([chunk.ref[s] for s in part])
            variants = [j for s in part for j in by_site[s]]
            alt_batch = self.adapter.tokenize([chunk.alt[j] for j in variants])
            orig = ref_batch.input_ids.numpy().copy()
            ids = ref_batch.input_ids.clone()
            masked: list[np.ndarray] = []
            for i, s in enumerate(part):
                lo = chunk.offset
                hi = lo + int(chunk.width[by_site[s][0]])
                spans = ref_batch.spans[i, : int(ref_batch.lengths[i])]
                hit = np.flatnonzero((spans[:, 0] >= 0) & (spans[:, 0] < hi) & (spans[:, 1] > lo))
                ids[i, hit] = self.mask_id
                masked.append(hit)
            ref_batch.input_ids = ids
            rows = np.concatenate([np.full(len(h), i) for i, h in enumerate(masked)])
            cols = np.concatenate(masked)
            logp = _token_log_probs(self.adapter, ref_batch, rows, cols)
            first = np.concatenate([[0], np.cumsum([len(h) for h in masked])])
            k = 0
            for i, s in enumerate(part):
                hit, lp = masked[i], logp[first[i]:first[i + 1]]
                ref_ids = orig[i][hit]
                for j in by_site[s]:
                    n_alt = int(alt_batch.lengths[k])
                    same_grid = (n_alt == int(ref_batch.lengths[i]) and
                                 np.array_equal(alt_batch.spans[k, :n_alt], ref_batch.spans[i, :n_alt]))
                    if same_grid:
                        alt_ids = alt_batch.input_ids[k].numpy()[hit]
                        out[j] = float(lp[np.arange(len(hit)), alt_ids].sum() - lp[np.arange(len(hit)), ref_ids].sum())
                    else:
                        self.grid_changed += 1
                    k += 1
        return {"llr": out}


class CausalDeltaLL:
    """log p(alt window) - log p(ref window) under a causal LM (first token unscored)."""

    def __init__(self, adapter: Adapter, *, batch_size: int = 32):
        if not getattr(adapter, "causal", False) or not hasattr(adapter, "masked_logits"):
            raise UserError(f"model '{adapter.spec.id}' (family {adapter.spec.family}) is not a causal LM with an "
                            "LM head; delta_ll needs one", hint="Use 'llr' for masked LMs, or drop 'delta_ll'")
        self.adapter, self.batch_size = adapter, max(1, int(batch_size))

    def columns(self) -> list[str]:
        return ["delta_ll"]

    def log_likelihood(self, seqs: list[str]) -> np.ndarray:
        import torch

        out = np.empty(len(seqs))
        for a in range(0, len(seqs), self.batch_size):
            batch = self.adapter.tokenize(seqs[a:a + self.batch_size])
            logits = self.adapter.masked_logits(batch)[:, :-1]
            target = batch.input_ids[:, 1:].to(logits.device)
            logp = torch.log_softmax(logits, -1).gather(-1, target[..., None])[..., 0]
            scored = torch.from_numpy(~batch.special_mask[:, 1:]).to(logits.device)
            out[a:a + len(batch.lengths)] = (logp * scored).sum(1).double().cpu().numpy()
        return out

    def score(self, chunk: SiteChunk) -> dict[str, np.ndarray]:
        ll = self.log_likelihood(chunk.ref + chunk.alt)
        n_ref = len(chunk.ref)
        return {"delta_ll": ll[n_ref:] - ll[:n_ref][chunk.site]}
