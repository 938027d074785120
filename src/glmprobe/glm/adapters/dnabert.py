"""DNABERT (v1): a BERT over OVERLAPPING k-mers (k = 3..6, ``zhihan1996/DNA_bert_<k>``).

A sequence of L bases becomes the L - k + 1 k-mers starting at every base, between [CLS] and
[SEP]; token i covers bases [i, i + k), so spans overlap (each base is in up to k tokens). k is
read from the vocabulary (the token length with all 4**k k-mers). The vocabulary has no
k-mers with N, so a sequence with N is refused with the offending bases named.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from glmprobe.errors import UserError
from glmprobe.glm.adapter import register
from glmprobe.glm.adapters.hf import HFAdapter


@register
class DNABERTAdapter(HFAdapter):
    family = "dnabert"
    auto_class = "AutoModelForMaskedLM"

    def after_load(self) -> None:
        self.k = kmer_size(self.vocab)
        if self.k is None:
            raise UserError(f"model '{self.spec.id}' has no complete k-mer vocabulary (all 4**k ACGT k-mers for "
                            "some k in 3..6); it is not a DNABERT-1 checkpoint", path=self.spec.source,
                            hint="Use family dnabert2 for DNABERT-2, or hf-mlm for other BERTs")

    def encode(self, seqs):
        out = []
        for i, seq in enumerate(seqs):
            if len(seq) < self.k:
                raise UserError(f"sequence {i} has {len(seq)} bases, fewer than k={self.k}",
                                where=f"batch item {i}")
            pieces = [(seq[j:j + self.k], j, j + self.k) for j in range(len(seq) - self.k + 1)]
            out.append(self.encode_pieces(pieces, seq, i))
        return out

    def count_by_rule(self, seqs):
        """L - k + 1 k-mers plus the specials; None (encode refuses) for a too-short or N-holding one."""
        lengths = np.fromiter(map(len, seqs), np.int64, len(seqs))
        if (lengths < self.k).any() or any("N" in s for s in seqs):
            return None
        prefix, suffix = self.special_template()
        return lengths - self.k + 1 + len(prefix) + len(suffix)


def kmer_size(vocab) -> int | None:
    """The k whose 4**k ACGT k-mers are all in the vocabulary (None if there is none)."""
    lengths = Counter(len(tok) for tok in vocab if tok and set(tok) <= set("ACGT"))
    found = [k for k in range(3, 7) if lengths.get(k, 0) >= 4 ** k]
    return found[0] if len(found) == 1 else (max(found) if found else None)
