"""GPN (``songlab/gpn-*``): single-base convolutional masked LM, via the ``gpn`` package.

``gpn`` registers its model classes with transformers' auto classes (no remote code), but it
is not in glmprobe's requirements: it pins transformers differently, so it runs in its own
container (``pip install gpn==0.9.0a1``). GPN vocabularies are lower-case (a, c, g, t) and have
no N: sequences are lower-cased for it, and N is fed as the mask token, the model's own
"unknown base" (the study used [PAD], paper §2), keeping its span. GPN's model returns only
its last hidden state, so layers are captured with hooks.
"""

from __future__ import annotations

import importlib

import numpy as np

from glmprobe.errors import UserError
from glmprobe.glm.adapter import register
from glmprobe.glm.adapters.hf import HFAdapter


def register_gpn() -> None:
    """Import ``gpn`` so its model classes join transformers' auto classes."""
    try:
        gpn = importlib.import_module("gpn")
    except ImportError as exc:
        raise UserError(f"family gpn needs the gpn package ({exc})",
                        hint="Run GPN models in the gpn container, or pip install gpn==0.9.0a1 in an "
                             "environment with transformers>=4.46,<6") from exc
    if hasattr(gpn, "register_auto_classes"):
        gpn.register_auto_classes()
    else:
        importlib.import_module("gpn.model")  # older gpn registers on import


@register
class GPNAdapter(HFAdapter):
    family = "gpn"
    auto_class = "AutoModel"
    use_hooks = True

    def load(self) -> None:
        register_gpn()
        super().load()

    def after_load(self) -> None:
        vocab = self.vocab
        self._lower = "A" not in vocab and "a" in vocab
        self._n_token = next((t for t in ("N", "n") if t in vocab), self.tokenizer.mask_token)

    def encode(self, seqs):
        out = []
        for i, seq in enumerate(seqs):
            text = seq.lower() if self._lower else seq
            pieces = [(self._n_token if base == "N" else text[j], j, j + 1) for j, base in enumerate(seq)]
            out.append(self.encode_pieces(pieces, seq, i))
        return out

    def count_by_rule(self, seqs):
        """One token per base plus the specials, once every base (and the N token) is in the vocabulary."""
        bases = list("acgt" if self._lower else "ACGT") + [self._n_token]
        if not self._vocab_has(bases):
            return None
        prefix, suffix = self.special_template()
        return np.fromiter(map(len, seqs), np.int64, len(seqs)) + len(prefix) + len(suffix)

    @property
    def max_tokens(self) -> int | None:
        return int(self.spec.max_length) if self.spec.max_length else None  # convolutional: no position table
