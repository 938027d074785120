"""Family adapters: NT 6-mers, DNABERT k-mers, DNABERT-2 / GENA BPE, HyenaDNA, Caduceus, GPN."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch
from adapter_helpers import assert_exact_cover, assert_same_batch, count_forwards, make_adapter, random_dna

from glmprobe.errors import UserError
from glmprobe.glm.adapters.nt import nt_pieces


# ---------------------------------------------------------------- Nucleotide Transformer
@pytest.fixture(scope="module")
def nt(nt_dir):
    return make_adapter("nt", nt_dir)


@pytest.mark.parametrize("length, tokens", [(230, 41), (200, 36), (173, 34), (12, 3), (5, 6)])
def test_nt_token_counts(nt, length, tokens):
    batch = nt.tokenize(random_dna(2, length, seed=length))
    assert batch.lengths.tolist() == [tokens, tokens]  # L//6 + L%6 + 1
    assert_exact_cover(batch, random_dna(2, length, seed=length))


def test_nt_matches_the_hf_tokenizer_and_has_cls_only(nt):
    seqs = random_dna(3, 230, seed=7)
    batch = nt.tokenize(seqs)
    for i, seq in enumerate(seqs):
        assert batch.input_ids[i, :41].tolist() == nt.tokenizer(seq)["input_ids"]
    assert (batch.input_ids[:, 0] == nt.tokenizer.cls_token_id).all()
    assert batch.special_mask[:, 0].all() and not batch.special_mask[:, 1:].any()
    assert nt.cls_index == 0
    assert tuple(batch.spans[0, 1]) == (0, 6) and tuple(batch.spans[0, 38]) == (222, 228)
    assert tuple(batch.spans[0, 39]) == (228, 229) and tuple(batch.spans[0, 40]) == (229, 230)


def test_nt_pieces_restart_after_n():
    assert nt_pieces("ACGTACGTNAAAAAAC") == [
        ("ACGTAC", 0, 6), ("G", 6, 7), ("T", 7, 8), ("N", 8, 9), ("AAAAAA", 9, 15), ("C", 15, 16)]
    assert [p[0] for p in nt_pieces("NNACG")] == ["N", "N", "A", "C", "G"]


def test_nt_layers_match_model_and_context(nt, nt_dir):
    from transformers import AutoModel

    seqs = ["ACGTACGTNAAAAAAC", "ACGTAC" * 5]
    batch = nt.tokenize(seqs)
    assert_exact_cover(batch, seqs)
    calls = count_forwards(nt.encoder)
    got = nt.hidden_states(batch, [0, 2])
    assert len(calls) == 1
    ref = AutoModel.from_pretrained(nt_dir).eval()(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                                    output_hidden_states=True).hidden_states
    torch.testing.assert_close(got[0], ref[0])
    torch.testing.assert_close(got[2], ref[2])
    assert nt.max_tokens == 64 - 2  # ESM positions start after the pad id
    with pytest.raises(UserError, match="63 tokens, more than the 62-token"):
        nt.tokenize(["ACGTAC" * 62])


def _encode_counts(adapter, seqs):
    return np.array([len(ids) for ids, _ in adapter.encode(seqs)], dtype=np.int64)


def test_nt_count_by_rule_equals_encode_with_and_without_n(nt):
    seqs = random_dna(3, 230, seed=2) + ["ACGTACGTNAAAAAAC", "NNACG", "N", "ACGTN", "NACGTACGTACGTN", "A" * 13]
    assert nt.count_by_rule(seqs) is not None  # the NT fixture's vocabulary is complete: no encoding
    np.testing.assert_array_equal(nt.count_tokens(seqs), _encode_counts(nt, seqs))
    np.testing.assert_array_equal(nt.count_tokens(seqs), nt.tokenize(seqs).lengths)


def test_nt_array_tokenize_equals_the_per_sequence_path(nt):
    seqs = random_dna(3, 230, seed=4) + random_dna(2, 173, seed=5) + ["ACGTACGTNAAAAAAC", "NNACG", "ACGTA", "N"]
    fast, ref = nt.tokenize(seqs), nt._collate(nt.encode(seqs))
    assert_same_batch(fast, ref)


# ---------------------------------------------------------------- DNABERT (overlapping k-mers)
def test_dnabert_overlapping_kmers(kmer_dir):
    adapter = make_adapter("dnabert", kmer_dir)
    assert adapter.k == 3
    seq = "ACGTTGCAAC"
    batch = adapter.tokenize([seq, "ACGTA"])
    assert batch.lengths.tolist() == [10, 5]  # L - k + 1 + [CLS] + [SEP]
    tokens = adapter.tokenizer.convert_ids_to_tokens(batch.input_ids[0, :10].tolist())
    assert tokens == ["[CLS]", "ACG", "CGT", "GTT", "TTG", "TGC", "GCA", "CAA", "AAC", "[SEP]"]
    assert batch.spans[0, 1:9].tolist() == [[i, i + 3] for i in range(8)]
    assert batch.special_mask[0].tolist() == [True] + [False] * 8 + [True]
    assert adapter.cls_index == 0
    with pytest.raises(UserError, match="bases 1..4: token 'CGN'.*unknown token"):
        adapter.tokenize(["ACGNACG"])
    with pytest.raises(UserError, match="fewer than k=3"):
        adapter.tokenize(["AC"])
    seqs = random_dna(4, 31, seed=3) + ["ACG", "ACGTA"]
    assert adapter.count_by_rule(seqs) is not None
    np.testing.assert_array_equal(adapter.count_tokens(seqs), _encode_counts(adapter, seqs))
    with pytest.raises(UserError, match="unknown token"):  # the count pass still refuses N (via encode)
        adapter.count_tokens(["ACGTA", "ACGNACG"])
    with pytest.raises(UserError, match="fewer than k=3"):
        adapter.count_tokens(["AC"])


def test_dnabert_refuses_non_kmer_vocabulary(bpe_dir):
    with pytest.raises(UserError, match="not a DNABERT-1 checkpoint"):
        make_adapter("dnabert", bpe_dir)


# ---------------------------------------------------------------- DNABERT-2 and GENA (BPE)
def test_dnabert2_remote_code_unpadded_layers_and_no_triton(toy_remote_dir):
    adapter = make_adapter("dnabert2", toy_remote_dir)
    module = sys.modules[type(adapter.model).__module__]
    assert module.flash_attn_qkvpacked_func is None  # the Triton path is off (the toy raises if used)
    seqs = random_dna(3, 40, seed=9) + ["ACGTAAC"]
    batch = adapter.tokenize(seqs)
    assert_exact_cover(batch, seqs)
    assert adapter.max_tokens is None and adapter.cls_index == 0
    calls = count_forwards(adapter.model)
    got = adapter.hidden_states(batch, [0, 1, 2])
    assert len(calls) == 1
    layers, _ = adapter.model(batch.input_ids, batch.attention_mask, output_all_encoded_layers=True)
    real = batch.attention_mask.bool()
    for i, flat in enumerate(layers, start=1):  # the model's own unpadded outputs, scattered back
        torch.testing.assert_close(got[i][real], flat)
        assert (got[i][~real] == 0).all()
    torch.testing.assert_close(got[0][real], adapter.model.embeddings(batch.input_ids)[real])
    np.testing.assert_array_equal(adapter.count_tokens(seqs), batch.lengths)


def test_dnabert2_max_length_and_unk(toy_remote_dir):
    adapter = make_adapter("dnabert2", toy_remote_dir, max_length=5)
    with pytest.raises(UserError, match="more than the 5-token context"):
        adapter.tokenize(random_dna(1, 80))
    with pytest.raises(UserError, match="unknown token"):
        adapter.tokenize(["ACGTNACGT"])


def test_gena_bpe_bert(bpe_dir):
    from transformers import AutoModel

    adapter = make_adapter("gena", bpe_dir)
    seqs = random_dna(3, 60, seed=11)
    batch = adapter.tokenize(seqs)
    assert_exact_cover(batch, seqs)
    assert adapter.max_tokens == 128 and adapter.cls_index == 0
    ref = AutoModel.from_pretrained(bpe_dir).eval()(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                                     output_hidden_states=True).hidden_states
    torch.testing.assert_close(adapter.hidden_states(batch, [2])[2], ref[2])


# ---------------------------------------------------------------- HyenaDNA (chars, causal)
def test_hyenadna_char_tokens_causal(hyena_dir):
    adapter = make_adapter("hyenadna", hyena_dir)
    seqs = ["ACGTN", "AC"]
    batch = adapter.tokenize(seqs)
    assert batch.lengths.tolist() == [6, 3]  # one token per base + the [SEP] upstream appends
    assert batch.spans[0].tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [-1, -1]]
    assert adapter.cls_index is None and adapter.max_tokens == 64
    got = adapter.hidden_states(batch, [1])[1]
    alone = adapter.hidden_states(adapter.tokenize(["AC"]), [1])[1]
    torch.testing.assert_close(got[1, :3], alone[0], atol=1e-5, rtol=1e-5)
    with pytest.raises(UserError, match="65 tokens, more than the 64-token context"):
        adapter.tokenize(["A" * 64])


# ---------------------------------------------------------------- Caduceus (needs CUDA + mamba_ssm)
def test_caduceus_without_mamba_ssm_is_a_user_error(toy_remote_dir, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mamba_ssm" else real_find_spec(name, *a))
    with pytest.raises(UserError, match="needs the mamba_ssm package.*pip install mamba-ssm"):
        make_adapter("caduceus", toy_remote_dir)


def test_caduceus_on_cpu_is_a_user_error(toy_remote_dir, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "mamba_ssm" else real_find_spec(name, *a))
    with pytest.raises(UserError, match="needs a CUDA GPU"):
        make_adapter("caduceus", toy_remote_dir)


def test_caduceus_rc_equivariant_width():
    from types import SimpleNamespace

    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.glm.adapters.caduceus import CaduceusAdapter

    adapter = CaduceusAdapter(ModelSpec(id="c", source="x", family="caduceus", trust_remote_code=True))
    adapter.config = SimpleNamespace(d_model=8, n_layer=4, rcps=True)
    assert adapter.hidden_size == 16 and adapter.num_layers == 4
    adapter.config.rcps = False
    assert adapter.hidden_size == 8


# ---------------------------------------------------------------- GPN (package-registered)
def test_gpn_without_package_is_a_user_error(gpn_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "gpn", None)
    with pytest.raises(UserError, match="needs the gpn package.*pip install gpn"):
        make_adapter("gpn", gpn_dir)


def test_gpn_lowercase_n_as_mask_and_length_groups(gpn_dir, fake_gpn):
    adapter = make_adapter("gpn", gpn_dir)
    seqs = ["ACGNT", "ACGTACGTAC"]
    batch = adapter.tokenize(seqs)
    tok = adapter.tokenizer
    assert batch.input_ids[0, :5].tolist() == tok.convert_tokens_to_ids(["a", "c", "g", "[MASK]", "t"])
    assert_exact_cover(batch, seqs)  # N keeps its span
    assert adapter.cls_index is None
    assert adapter.count_by_rule(seqs) is not None
    np.testing.assert_array_equal(adapter.count_tokens(seqs), batch.lengths)
    calls = count_forwards(adapter.model)
    got = adapter.hidden_states(batch, [0, 1, 2])
    assert len(calls) == 2  # no attention mask + bidirectional: one pass per length group
    alone = adapter.hidden_states(adapter.tokenize(seqs[:1]), [2])[2]
    torch.testing.assert_close(got[2][0, :5], alone[0])  # padding did not leak in
    assert (got[2][0, 5:] == 0).all()
    h = adapter.model.embedding(batch.input_ids[1:])
    for block in list(adapter.model.encoder)[:2]:
        h = block(h)
    torch.testing.assert_close(got[2][1], h[0])  # hooks = the model's own block outputs
    last = adapter.hidden_states(batch, [3])[3]
    torch.testing.assert_close(last[1], adapter.model(input_ids=batch.input_ids[1:]).last_hidden_state[0])
