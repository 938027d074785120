"""Tiny ESM masked-LM gLMs built from config: offline tests, the demo, ``glmprobe pretrain``.

Two tokenizers, both ``tokenizers`` WordLevel models wrapped as ``PreTrainedTokenizerFast``
(so ``AutoTokenizer`` reloads them from ``save_pretrained`` output, offline):

* ``char``: one token per base (A, C, G, T, N): models-sheet family ``hf-mlm``;
* ``kmer6``: Nucleotide-Transformer-like non-overlapping 6-mers, leftover bases and N as
  single-base tokens, ``<cls>`` first, no EOS (family ``nt``; 200 bp -> 36 tokens).

Special ids follow NT: <unk>=0, <pad>=1, <mask>=2, <cls>=3, <eos>=4.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

SPECIALS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>"]
TOKEN_KINDS = {"char": "hf-mlm", "kmer6": "nt"}  # tokens -> models-sheet family


def build_tokenizer(kind: str = "char"):
    """A fast tokenizer over DNA: ``char`` (single bases) or ``kmer6`` (NT-like 6-mers)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    if kind not in TOKEN_KINDS:
        raise ValueError(f"unknown token kind {kind!r}; use one of {', '.join(TOKEN_KINDS)}")
    words = list(SPECIALS)
    if kind == "kmer6":
        words += ["".join(p) for p in itertools.product("ACGT", repeat=6)]
    words += list("ACGTN")
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    pattern = "[ACGT]{6}|." if kind == "kmer6" else "."
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(single="<cls> $A", pair="<cls> $A $B",
                                                       special_tokens=[("<cls>", vocab["<cls>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                   mask_token="<mask>", cls_token="<cls>", eos_token="<eos>",
                                   model_max_length=1_000_000)


def build_model(tokenizer, *, hidden: int = 32, layers: int = 2, heads: int = 2, max_tokens: int = 512,
                seed: int = 0):
    """A seeded ``EsmForMaskedLM`` (NT v1 architecture: absolute positions, post-norm off)."""
    import torch
    from transformers import EsmConfig, EsmForMaskedLM

    if hidden % heads:
        raise ValueError(f"hidden size {hidden} must be divisible by the number of heads {heads}")
    config = EsmConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=2 * hidden, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        # ESM position ids start at pad_id + 1, so the table needs max_tokens + pad_id + 1 rows
        max_position_embeddings=max_tokens + tokenizer.pad_token_id + 1, position_embedding_type="absolute",
        token_dropout=False, emb_layer_norm_before=False, pad_token_id=tokenizer.pad_token_id,
        mask_token_id=tokenizer.mask_token_id, tie_word_embeddings=True)
    torch.manual_seed(seed)
    return EsmForMaskedLM(config)


def save_tiny_model(folder: str | os.PathLike, tokens: str = "char", *, hidden: int = 32, layers: int = 2,
                    heads: int = 2, max_tokens: int = 512, seed: int = 0) -> Path:
    """Write an untrained tiny model + tokenizer that ``AutoModelForMaskedLM``/``AutoTokenizer`` reload."""
    folder = Path(folder)
    tok = build_tokenizer(tokens)
    model = build_model(tok, hidden=hidden, layers=layers, heads=heads, max_tokens=max_tokens, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
