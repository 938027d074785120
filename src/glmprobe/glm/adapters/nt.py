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

from glmprobe.glm.adapter import register
from glmprobe.glm.adapters.hf import HFAdapter

K = 6


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
