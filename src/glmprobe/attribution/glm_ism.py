"""In-silico mutagenesis of gLM probes at nucleotide resolution, for any tokenizer.

The whole chain is re-run on every edited sequence: sequence -> tokenizer (char, k-mer,
overlapping k-mer or BPE: a single-base edit may change several tokens, or how many there
are) -> gLM -> the probe's pooling -> head. Nothing is approximated at the token level, so
the map is exact whatever the tokenizer; the cost is one forward pass per edit, through the gLM's
blocks up to the probed layer only (the blocks above it cannot change the probe's input).

Per sequence of length L with no N that is the reference plus 3L substitutions, the
3L + 1 bound; the reference pass is shared by all of them. Edits of several sequences are
batched together (sorted by token count inside :class:`~glmprobe.glm.extract.Extractor`,
which also gives exactly the features ``glmprobe embed`` stored: masked mean without
specials, CLS at the tokenizer's position, reverse-complement averaging).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from glmprobe.attribution.loader import Trained
from glmprobe.attribution.onehot_maps import Maps
from glmprobe.data.onehot import encode
from glmprobe.errors import UserError

BASES = "ACGT"


class GLMPredictor:
    """sequences -> the probe's raw outputs (N, T), counting sequences through the gLM."""

    def __init__(self, trained: Trained, batch_size: int = 256, device: str = "cpu"):
        from glmprobe.glm.extract import Extractor

        if trained.glm is None:
            raise ValueError("GLMPredictor needs a gLM probe")
        chain = trained.glm
        self.chain, self.head, self.device = chain, trained.module, device
        self.extractor = Extractor(chain.adapter, [chain.layer], [chain.pooling], batch_size=batch_size,
                                   rc_average=chain.rc_average, device=device)
        self.forward_passes = 0   # sequences (strands) run through the gLM

    def features(self, seqs: Sequence[str]) -> torch.Tensor:
        chain = self.chain
        out = self.extractor.run(list(seqs))
        self.forward_passes += len(seqs) * (2 if chain.rc_average else 1)
        if chain.pooling != "tokens":
            return torch.from_numpy(out.pooled[(chain.layer, chain.pooling)])
        tokens = out.tokens[chain.layer]
        D = tokens[0].shape[1]
        X = np.zeros((len(tokens), D, chain.max_tokens), np.float32)   # channels-first, zero-padded
        for i, t in enumerate(tokens):
            if len(t) > chain.max_tokens:
                raise UserError(f"an edited sequence needs {len(t)} tokens but the token head was trained on "
                                f"{chain.max_tokens}", hint="A BPE merge changed the token count; attribute "
                                "this probe with a pooled head (cls/mean) instead.")
            X[i, :, :len(t)] = t.T
        return torch.from_numpy(X)

    def __call__(self, seqs: Sequence[str]) -> np.ndarray:
        with torch.no_grad():
            return self.head(self.features(seqs).to(self.device)).float().cpu().numpy()


def mutants(seq: str) -> Iterator[tuple[int, int, str]]:
    """(position, base index, edited sequence) for every single-base substitution (N kept)."""
    for p, ref in enumerate(seq):
        if ref not in BASES:
            continue
        for b, alt in enumerate(BASES):
            if alt != ref:
                yield p, b, seq[:p] + alt + seq[p + 1:]


def _explain(y: np.ndarray, target: int | None) -> np.ndarray:
    return y.sum(axis=1) if target is None else y[:, target]


def ism_deltas(predict: Callable[[Sequence[str]], np.ndarray], seqs: Sequence[str], *, chunk: int = 2048,
               progress: bool = False) -> np.ndarray:
    """(N, T, 4, L) change of every raw output per substitution (0 at the reference base and at N).

    ``predict`` maps sequences to raw outputs (N, T): a :class:`GLMPredictor`, or any sequence
    model (the PWM-ceiling predictor of :mod:`glmprobe.attribution.ceiling_maps`). Sequences are
    processed in groups whose reference + edits fill about ``chunk`` rows, so the working memory
    is bounded by ``chunk`` whatever N is; every output comes from the same forward passes.
    """
    seqs = list(seqs)
    L = max(len(s) for s in seqs)
    delta = None
    group = max(1, chunk // (3 * L + 1))
    bar = tqdm(total=len(seqs), desc="ISM", unit="seq", file=sys.stderr,
               disable=not progress or not sys.stderr.isatty())
    for a in range(0, len(seqs), group):
        rows, where = [], []   # where: (sequence row, position, base) per edit; -1 position = reference
        for i in range(a, min(a + group, len(seqs))):
            rows.append(seqs[i])
            where.append((i, -1, -1))
            for p, b, m in mutants(seqs[i]):
                rows.append(m)
                where.append((i, p, b))
        y = np.asarray(predict(rows), dtype=np.float32)
        if delta is None:
            delta = np.zeros((len(seqs), y.shape[1], 4, L), np.float32)
        ref = {i: y[k] for k, (i, p, _) in enumerate(where) if p < 0}
        for k, (i, p, b) in enumerate(where):
            if p >= 0:
                delta[i, :, b, p] = y[k] - ref[i]
        bar.update(min(group, len(seqs) - a))
    bar.close()
    return delta


def ism_maps(delta: np.ndarray, seqs: Sequence[str], extra: dict | None = None) -> Maps:
    """:class:`Maps` of one explained output from its ISM deltas (N, 4, L): centred over the bases."""
    X = encode(list(seqs), delta.shape[-1])
    observed = X.sum(axis=1, keepdims=True) > 0
    hyp = np.where(observed, delta - delta.mean(axis=1, keepdims=True), 0.0).astype(np.float32)
    return Maps(hyp, (hyp * X).astype(np.float32), dict(extra or {}))


def glm_ism_targets(predict: Callable[[Sequence[str]], np.ndarray], seqs: Sequence[str],
                    targets: Sequence[int | None], *, chunk: int = 2048, progress: bool = False) -> list[Maps]:
    """ISM maps of several explained outputs (an output index, or None for the sum over outputs)
    from one set of forward passes; forward passes per sequence are recorded when ``predict`` counts them."""
    seqs = list(seqs)
    passes0 = getattr(predict, "forward_passes", None)
    delta = ism_deltas(predict, seqs, chunk=chunk, progress=progress)
    extra = {}
    if passes0 is not None:
        passes = (predict.forward_passes - passes0) / len(seqs)
        extra["forward_passes"] = np.full(len(seqs), passes, np.float32)
    return [ism_maps(delta.sum(axis=1) if t is None else delta[:, t], seqs, extra) for t in targets]


def glm_ism(predict: Callable[[Sequence[str]], np.ndarray], seqs: Sequence[str], *, target: int | None = None,
            chunk: int = 2048, progress: bool = False) -> Maps:
    """ISM maps (N, 4, L) of one explained output (a target index, or the sum over targets when None):
    change of that output per substitution, centred over the bases (see :func:`ism_deltas`)."""
    return glm_ism_targets(predict, seqs, [target], chunk=chunk, progress=progress)[0]


def brute_force_ism(predict, seq: str, target: int | None = None) -> np.ndarray:
    """Reference implementation for tests and benchmarks: one forward pass per edited sequence."""
    L = len(seq)
    ref = _explain(predict([seq]), target)[0]
    delta = np.zeros((4, L), np.float32)
    for p, b, m in mutants(seq):
        delta[b, p] = _explain(predict([m]), target)[0] - ref
    return delta
