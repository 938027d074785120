"""Tiny gLM checkpoints built from config and saved locally, one per tokenizer style.

Session-scoped: each folder is written once (a few hundred KB) and loaded by many tests.
"""

from __future__ import annotations

import itertools

import pytest
from adapter_helpers import BASES, random_dna


def _bpe_tokenizer(with_template: bool = True):
    """A BPE tokenizer trained on the fly, DNABERT-2/GENA style ([CLS] ... [SEP]); no N in it."""
    from tokenizers import Tokenizer, models, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(random_dna(300, 120, seed=1),
                            trainers.BpeTrainer(vocab_size=80, special_tokens=specials, initial_alphabet=list(BASES)))
    if with_template:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def _char_tokenizer(chars, specials, template=None, **names):
    """A character-level WordLevel tokenizer (HyenaDNA / GPN / causal-LM style)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(list(specials) + list(chars))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=names.get("unk_token")))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), "isolated")
    if template:
        tok.post_processor = processors.TemplateProcessing(
            single=template, special_tokens=[(t, vocab[t]) for t in specials if t in template])
    return PreTrainedTokenizerFast(tokenizer_object=tok, **names)


def _bert(vocab_size, pad_id=0, layers=2, positions=128):
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=layers,
                                      num_attention_heads=2, intermediate_size=32,
                                      max_position_embeddings=positions, pad_token_id=pad_id))


@pytest.fixture(scope="session")
def nt_dir(tmp_path_factory):
    """NT-v1-like: EsmTokenizer with the NT vocabulary (specials, 4096 6-mers, single bases), tiny ESM."""
    import torch
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    out = tmp_path_factory.mktemp("nt")
    vocab = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
    vocab += ["".join(k) for k in itertools.product(BASES, repeat=6)] + list("ATCGN")
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = EsmTokenizer(str(out / "vocab.txt"), eos_token=None)
    tok.save_pretrained(out)
    torch.manual_seed(0)
    EsmForMaskedLM(EsmConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=32, max_position_embeddings=64, position_embedding_type="absolute",
                             pad_token_id=1, mask_token_id=2, token_dropout=False,
                             emb_layer_norm_before=False)).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def bpe_dir(tmp_path_factory):
    """DNABERT-2 / GENA shapes: BPE tokenizer + tiny BERT masked LM."""
    out = tmp_path_factory.mktemp("bpe")
    tok = _bpe_tokenizer()
    tok.save_pretrained(out)
    _bert(len(tok)).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def kmer_dir(tmp_path_factory):
    """DNABERT-1 shape: overlapping 3-mers in a BertTokenizer vocab + tiny BERT."""
    from transformers import BertTokenizer

    out = tmp_path_factory.mktemp("kmer")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["".join(k) for k in itertools.product(BASES, repeat=3)]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(out / "vocab.txt"), do_lower_case=False).save_pretrained(out)
    _bert(len(vocab)).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def clm_dir(tmp_path_factory):
    """Causal LM (hf-clm, HyenaDNA-style tokens): chars A/C/G/T/N with a leading [BOS], tiny GPT-2."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    out = tmp_path_factory.mktemp("clm")
    tok = _char_tokenizer("ACGTN", ["[PAD]", "[BOS]", "[SEP]", "[UNK]"], template="[BOS] $A",
                          pad_token="[PAD]", bos_token="[BOS]", sep_token="[SEP]", unk_token="[UNK]")
    tok.save_pretrained(out)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=2, n_head=2, n_positions=128,
                               bos_token_id=1, eos_token_id=2, pad_token_id=0)).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def toy_remote_dir(tmp_path_factory):
    """DNABERT-2-shaped remote code: ToyUnpadBert saved with register_for_auto_class (auto_map + .py)."""
    import torch
    from adapter_toys import ToyUnpadBert, ToyUnpadConfig

    out = tmp_path_factory.mktemp("toyremote")
    tok = _bpe_tokenizer()
    tok.save_pretrained(out)
    torch.manual_seed(0)
    return _save_remote(out, ToyUnpadBert(ToyUnpadConfig(vocab_size=len(tok))))


def _save_remote(out, model, tokenizer=None):
    """Save a stand-in as remote code (auto_map + the module file), like a hub repository."""
    from adapter_toys import pretend_trained

    type(model.config).register_for_auto_class()
    type(model).register_for_auto_class("AutoModel")
    pretend_trained(model).save_pretrained(out)
    if tokenizer is not None:
        type(tokenizer).register_for_auto_class("AutoTokenizer")
        tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def hyena_dir(tmp_path_factory):
    """HyenaDNA-shaped remote code: char tokenizer (+[SEP] at the end), n_layer + 2 hidden states."""
    import torch
    from adapter_toys import ToyCharTokenizer, ToyHyenaConfig, ToyHyenaDNAModel

    torch.manual_seed(0)
    return _save_remote(tmp_path_factory.mktemp("hyena"), ToyHyenaDNAModel(ToyHyenaConfig(max_seq_len=64)),
                        ToyCharTokenizer(model_max_length=64))


@pytest.fixture(scope="session")
def caduceus_dir(tmp_path_factory):
    """Caduceus-shaped remote code (Mamba-style blocks returning (branch, residual)), pure PyTorch."""
    import torch
    from adapter_toys import ToyCaduceus, ToyCaduceusConfig, ToyCharTokenizer

    torch.manual_seed(0)
    return _save_remote(tmp_path_factory.mktemp("caduceus"), ToyCaduceus(ToyCaduceusConfig()),
                        ToyCharTokenizer(model_max_length=131072))


@pytest.fixture(scope="session")
def gpn_dir(tmp_path_factory):
    """GPN-shaped: lower-case single bases without N, a package-registered dilated conv model (no mask)."""
    import torch
    from adapter_toys import ToyGPNConfig, ToyGPNModel, pretend_trained

    out = tmp_path_factory.mktemp("gpn")
    tok = _char_tokenizer("acgt", ["[PAD]", "[MASK]", "[UNK]"], pad_token="[PAD]", mask_token="[MASK]",
                          unk_token="[UNK]")
    tok.save_pretrained(out)
    torch.manual_seed(0)
    pretend_trained(ToyGPNModel(ToyGPNConfig(vocab_size=len(tok)))).save_pretrained(out)
    return out


@pytest.fixture
def fake_gpn(monkeypatch):
    """A stand-in ``gpn`` package whose register_auto_classes registers the toy GPN model."""
    import sys
    import types

    from adapter_toys import ToyGPNConfig, ToyGPNModel
    from transformers import AutoConfig, AutoModel

    module = types.ModuleType("gpn")

    def register_auto_classes():
        AutoConfig.register("toy-gpn", ToyGPNConfig, exist_ok=True)
        AutoModel.register(ToyGPNConfig, ToyGPNModel, exist_ok=True)

    module.register_auto_classes = register_auto_classes
    monkeypatch.setitem(sys.modules, "gpn", module)
    return module
