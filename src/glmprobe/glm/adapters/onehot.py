"""The ``onehot`` pseudo-model: one-hot input flows through the same store and probes.

Layer 0 only, D = 4 (A, C, G, T; N is all-zero), one token per nucleotide and no
special tokens, so ``tokens`` pooling is the one-hot matrix (L x 4) and ``mean``
pooling is the base composition. Models-sheet row: ``source=onehot, family=onehot``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glmprobe.errors import UserError
from glmprobe.glm.adapter import Adapter, TokenBatch, register

_VALID = frozenset("ACGTN")
_LUT = np.full(256, 4, dtype=np.int64)
_LUT[[ord(c) for c in "ACGT"]] = np.arange(4)


@register
class OneHotAdapter(Adapter):
    family = "onehot"
    version = "1"

    def load(self) -> None:
        if self.spec.source not in ("onehot", "", None):
            raise UserError(f"model '{self.spec.id}': family onehot takes source 'onehot', "
                            f"not {self.spec.source!r}")
        if self.spec.random_init:
            raise UserError(f"model '{self.spec.id}': random_init makes no sense for the one-hot "
                            "pseudo-model (it has no weights); set random_init=false")

    @property
    def num_layers(self) -> int:
        return 0

    @property
    def hidden_size(self) -> int:
        return 4

    def resolve_layers(self, layers) -> list[int]:
        if layers in ("all", "last"):
            return [0]
        return super().resolve_layers(layers)

    def tokenize(self, seqs: Sequence[str]) -> TokenBatch:
        import torch

        for i, s in enumerate(seqs):
            bad = set(s) - _VALID
            if bad:
                raise UserError(f"sequence {i} of the batch holds characters {''.join(sorted(bad))!r}; "
                                "the one-hot model reads A, C, G, T, N only")
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        T = int(lengths.max(initial=0))
        pos = np.arange(T)
        real = pos[None, :] < lengths[:, None]
        spans = np.where(real[..., None], np.stack([pos, pos + 1], axis=-1)[None], -1).astype(np.int32)
        # input_ids carry the base codes (0-3 = ACGT, 4 = N/pad) so hidden_states rebuilds one-hot rows
        codes = np.full((len(seqs), T), 4, dtype=np.int64)
        for i, s in enumerate(seqs):
            codes[i, : len(s)] = _LUT[np.frombuffer(s.encode(), dtype=np.uint8)]
        return TokenBatch(input_ids=torch.from_numpy(codes), attention_mask=torch.from_numpy(real.astype(np.int64)),
                          special_mask=~real, spans=spans, lengths=lengths)

    def hidden_states(self, batch: TokenBatch, layers: Sequence[int]) -> dict:
        import torch

        eye = torch.cat([torch.eye(4), torch.zeros(1, 4)])
        x = eye[batch.input_ids]                               # (B, T, 4); N and padding are zero rows
        return {layer: x for layer in layers}

