"""Nucleotide Transformer: v1 (native ``EsmForMaskedLM``) and v2 (remote code, rotary + GLU).

Both split a sequence into non-overlapping 6-mers from its start; leftover bases at the end of
a run, and every N, become 1-nt tokens (the runs between Ns restart the 6-mer frame, as in
InstaDeep's own tokenizer); ``<cls>`` is prepended, there is no EOS. An N-free sequence of L
bases gives L//6 + L%6 + 1 tokens (230 -> 41, 200 -> 36). The rule is applied here rather than
trusting the Hugging Face tokenizer's greedy trie, so spans are exact by construction.

v2 checkpoints need ``trust_remote_code=true`` and, because their code imports helpers removed
in transformers 5, the NT-v2 container with transformers 4.x (docs/adding_a_model.md).
"""

from __future__ import annotations

import itertools

import numpy as np

from glmprobe.glm.adapter import TokenBatch, register
from glmprobe.glm.adapters.hf import HFAdapter, check_sequences

K = 6
_CODE = np.zeros(256, np.int64)
_CODE[np.frombuffer(b"ACGT", np.uint8)] = np.arange(4)
_POW = 4 ** np.arange(K - 1, -1, -1)  # a k-mer's index in itertools.product("ACGT", repeat=K) order


def nt_pieces(seq: str, k: int = K) -> list[tuple[str, int, int]]:
    """(token, start, end) per NT token: k-mers per N-free run, leftovers and N as single bases."""
    pieces, pos = [], 0
    for run_start, run in _runs(seq):
        full = len(run) // k * k
        pieces += [(run[j:j + k], run_start + j, run_start + j + k) for j in range(0, full, k)]
        pieces += [(run[j], run_start + j, run_start + j + 1) for j in range(full, len(run))]
        pos = run_start + len(run)
        if pos < len(seq):  # the N that ended this run
            pieces.append(("N", pos, pos + 1))
    return pieces


def _runs(seq: str):
    """(start, run) for the N-free runs of seq, in order (empty runs between adjacent Ns included)."""
    start = 0
    for part in seq.split("N"):
        yield start, part
        start += len(part) + 1


@register
class NucleotideTransformerAdapter(HFAdapter):
    family = "nt"
    auto_class = "AutoModelForMaskedLM"  # NT v2's auto_map only offers the masked-LM class
    load_hint = "NT v2 checkpoints need trust_remote_code=true and transformers 4.x (the NT-v2 container)"

    def encode(self, seqs):
        return [self.encode_pieces(nt_pieces(seq), seq, i) for i, seq in enumerate(seqs)]

    def _tables(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Vocabulary ids of every 6-mer (product order) and of A, C, G, T; None when the
        vocabulary lacks a token the rule can make (then ``encode`` runs and names it)."""
        if getattr(self, "_luts", None) is None:
            kmers = ["".join(p) for p in itertools.product("ACGT", repeat=K)]
            vocab = self.vocab
            self._luts = ((np.array([vocab[t] for t in kmers], np.int64), np.array([vocab[b] for b in "ACGT"], np.int64))
                          if self._vocab_has([*kmers, *"ACGTN"]) else False)
        return self._luts or None

    def tokenize(self, seqs):
        """The 6-mer rule on arrays: N-free sequences of one length at a time (length-bucketed
        batches are mostly one length), those with N through :func:`nt_pieces`. The same batch
        as ``_collate(encode(seqs))`` (tests/glm/adapters/test_families.py checks it)."""
        import torch

        seqs = check_sequences(seqs)
        luts = self._tables()
        if luts is None:
            return self._collate(self.encode(seqs))
        lut6, lut1 = luts
        prefix, suffix = (np.asarray(x, np.int64) for x in self.special_template())
        lengths = self.count_by_rule(seqs)
        self._check_limit(lengths)
        n, width = len(seqs), int(lengths.max(initial=0))
        input_ids = np.full((n, width), self.pad_id, dtype=np.int64)
        spans = np.full((n, width, 2), -1, dtype=np.int32)
        by_length: dict[int, list[int]] = {}
        for i, seq in enumerate(seqs):
            if "N" in seq:
                ids, sp = self.encode_pieces(nt_pieces(seq), seq, i)
                input_ids[i, :len(ids)], spans[i, :len(ids)] = ids, sp
            else:
                by_length.setdefault(len(seq), []).append(i)
        p = len(prefix)
        for length, rows in by_length.items():
            m, full = len(rows), length // K * K
            codes = _CODE[np.frombuffer("".join([seqs[i] for i in rows]).encode(), np.uint8)].reshape(m, length)
            body = np.concatenate([lut6[codes[:, :full].reshape(m, -1, K) @ _POW], lut1[codes[:, full:]]], 1)
            t = p + body.shape[1]
            input_ids[rows, :p], input_ids[rows, p:t], input_ids[rows, t:t + len(suffix)] = prefix, body, suffix
            starts = np.concatenate([np.arange(0, full, K), np.arange(full, length)])
            ends = np.concatenate([np.arange(K, full + 1, K), np.arange(full + 1, length + 1)])
            spans[rows, p:t] = np.stack([starts, ends], 1)
        real = np.arange(width) < lengths[:, None]
        return TokenBatch(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(real.astype(np.int64)),
                          special_mask=spans[:, :, 0] < 0, spans=spans, lengths=lengths)

    def count_by_rule(self, seqs):
        """L // 6 + L % 6 tokens per N-free run, one per N, plus the specials: no encoding."""
        if self._tables() is None:
            return None
        prefix, suffix = self.special_template()
        lengths = np.fromiter(map(len, seqs), np.int64, len(seqs))
        counts = lengths // K + lengths % K + len(prefix) + len(suffix)
        for i in [i for i, s in enumerate(seqs) if "N" in s]:
            runs = seqs[i].split("N")
            counts[i] = sum(len(r) // K + len(r) % K for r in runs) + len(runs) - 1 + len(prefix) + len(suffix)
        return counts
