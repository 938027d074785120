"""The shared Hugging Face base and the generic families hf-mlm / hf-clm."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from adapter_helpers import assert_exact_cover, assert_same_batch, count_forwards, make_adapter, random_dna

from glmprobe.errors import UserError
from glmprobe.glm.adapter import ModelSpec, get_adapter


@pytest.fixture(scope="module")
def mlm(bpe_dir):
    return make_adapter("hf-mlm", bpe_dir, layers="all")


@pytest.fixture(scope="module")
def clm(clm_dir):
    return make_adapter("hf-clm", clm_dir)


def test_mlm_tokens_specials_and_spans(mlm):
    seqs = random_dna(5, 37, seed=3) + ["ACGTACGTAC"]
    batch = mlm.tokenize(seqs)
    tok = mlm.tokenizer
    for i, seq in enumerate(seqs):
        n = batch.lengths[i]
        ids = batch.input_ids[i, :n].tolist()
        assert ids == tok(seq)["input_ids"]
        assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        assert batch.special_mask[i, 0] and batch.special_mask[i, n - 1] and batch.special_mask[i, n:].all()
        assert not batch.special_mask[i, 1:n - 1].any()
        assert batch.attention_mask[i, :n].all() and not batch.attention_mask[i, n:].any()
        assert (batch.input_ids[i, n:] == tok.pad_token_id).all()
    assert_exact_cover(batch, seqs)
    assert mlm.cls_index == 0
    np.testing.assert_array_equal(mlm.count_tokens(seqs), batch.lengths)


@pytest.mark.parametrize("name", ["bpe_dir", "clm_dir"])
def test_vectorised_tokenize_equals_the_per_sequence_path(name, request):
    """The fast-tokenizer path (flat arrays from the Rust encodings) gives the very batch that
    ``_collate(encode(...))`` builds sequence by sequence, and the count-only pass its lengths."""
    adapter = make_adapter("hf-clm" if name == "clm_dir" else "hf-mlm", request.getfixturevalue(name))
    assert adapter._backend() is not None  # these fixtures have fast tokenizers: the vectorised path runs
    seqs = random_dna(7, 23, seed=5) + ["A", "ACGTACGTACGTACGTACGTACGTACGTACGTACGT", "GGGG"]
    fast, ref = adapter.tokenize(seqs), adapter._collate(adapter.encode(seqs))
    assert_same_batch(fast, ref)
    np.testing.assert_array_equal(adapter.count_tokens(seqs), ref.lengths)


def test_backend_truncation_or_padding_settings_never_reach_the_batch(bpe_dir):
    """A tokenizer saved with truncation/padding on (tokenizer.json can carry both) still gives every
    token: the vectorised path switches them off, as transformers does for truncation=False."""
    adapter = make_adapter("hf-mlm", bpe_dir)
    seqs = random_dna(3, 60, seed=8)
    ref = adapter._collate(adapter.encode(seqs))
    backend = adapter.tokenizer.backend_tokenizer
    backend.enable_truncation(max_length=4)
    backend.enable_padding(length=90, pad_id=0)
    np.testing.assert_array_equal(adapter.count_tokens(seqs), ref.lengths)
    backend.enable_truncation(max_length=4)
    assert_same_batch(adapter.tokenize(seqs), ref)
    assert int(ref.lengths.min()) > 4


def test_count_only_pass_refuses_unknown_bases_too(mlm):
    with pytest.raises(UserError, match="unknown token") as err:
        mlm.count_tokens(["ACGTACGT", "ACGT", "ACGTNACG"])
    assert "batch item 2" in str(err.value) and "(N)" in str(err.value)


def test_mlm_layers_match_model_from_one_forward(mlm, bpe_dir):
    from transformers import AutoModel

    seqs = random_dna(4, 50, seed=4) + ["ACGTAC"]
    batch = mlm.tokenize(seqs)
    calls = count_forwards(mlm.encoder)
    got = mlm.hidden_states(batch, [0, 1, 2])
    assert len(calls) == 1
    ref = AutoModel.from_pretrained(bpe_dir).eval()(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                                     output_hidden_states=True).hidden_states
    assert sorted(got) == [0, 1, 2]
    for layer, h in got.items():
        assert h.dtype == torch.float32 and h.shape == (5, batch.input_ids.shape[1], mlm.hidden_size)
        torch.testing.assert_close(h, ref[layer])
    assert mlm.resolve_layers("all") == [1, 2] and mlm.resolve_layers([-1]) == [2]


def test_unknown_base_is_a_user_error(mlm):
    with pytest.raises(UserError, match="unknown token") as err:
        mlm.tokenize(["ACGTACGT", "ACGTNACG"])
    assert "batch item 1" in str(err.value) and "N" in str(err.value)


def test_invalid_characters_and_overlong_sequences_are_refused(bpe_dir):
    adapter = make_adapter("hf-mlm", bpe_dir, max_length=8)
    with pytest.raises(UserError, match="uppercase"):
        adapter.tokenize(["acgt"])
    with pytest.raises(UserError, match="more than the 8-token context.*never truncates"):
        adapter.tokenize(["ACGT", "ACGT" * 20])


def test_random_init_changes_weights_reproducibly(bpe_dir, mlm):
    a = make_adapter("hf-mlm", bpe_dir, random_init=True)
    b = make_adapter("hf-mlm", bpe_dir, random_init=True)
    name = "encoder.layer.0.attention.self.query.weight"
    pretrained = dict(mlm.encoder.named_parameters())[name]
    random_a = dict(a.encoder.named_parameters())[name]
    assert not torch.equal(pretrained, random_a)
    torch.testing.assert_close(random_a, dict(b.encoder.named_parameters())[name])


def test_weight_files_are_the_local_folder_files(mlm, bpe_dir):
    names = {p.name for p in mlm.weight_files()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names


def test_masked_logits_shape(mlm):
    batch = mlm.tokenize(["ACGTACGTACGT"])
    batch.input_ids[0, 2] = mlm.tokenizer.mask_token_id
    assert mlm.masked_logits(batch).shape == (1, batch.input_ids.shape[1], len(mlm.tokenizer))


def test_source_errors(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        make_adapter("hf-mlm", tmp_path)
    with pytest.raises(UserError, match="model folder not found"):
        make_adapter("hf-mlm", tmp_path / "missing")


def test_hub_id_offline_warns_and_explains(caplog, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with caplog.at_level(logging.WARNING), pytest.raises(UserError) as err:
        make_adapter("hf-mlm", "nobody/no-such-dna-model")
    assert "without a pinned revision" in caplog.text
    assert "nobody/no-such-dna-model" in str(err.value) and "HF_HUB_OFFLINE" in str(err.value)


def test_remote_code_needs_opt_in(toy_remote_dir):
    with pytest.raises(UserError, match="trust_remote_code=true"):
        make_adapter("hf-mlm", toy_remote_dir, trust_remote_code=False)
    with pytest.raises(UserError, match="trust_remote_code=true"):  # family-level refusal, before loading
        get_adapter(ModelSpec(id="x", source=str(toy_remote_dir), family="dnabert2"))


def test_causal_lm_masks_bos_has_no_cls_and_ignores_batch_padding(clm):
    seqs = ["ACGTA", "ACGTNNACGTACGTTT"]
    batch = clm.tokenize(seqs)
    assert batch.lengths.tolist() == [6, 17]
    assert batch.special_mask[:, 0].all() and not batch.special_mask[1, 1:].any()
    assert_exact_cover(batch, seqs)
    assert clm.cls_index is None
    together = clm.hidden_states(batch, [2])[2]
    alone = clm.hidden_states(clm.tokenize(seqs[:1]), [2])[2]
    torch.testing.assert_close(together[0, :6], alone[0], atol=1e-5, rtol=1e-5)


def test_causal_layers_match_model(clm, clm_dir):
    from transformers import AutoModel

    batch = clm.tokenize(random_dna(3, 20, seed=5))
    ref = AutoModel.from_pretrained(clm_dir).eval()(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                                     output_hidden_states=True).hidden_states
    got = clm.hidden_states(batch, [0, 1, 2])
    for layer in range(3):
        torch.testing.assert_close(got[layer], ref[layer])


def test_causal_log_likelihood_matches_manual(clm, clm_dir):
    from transformers import AutoModelForCausalLM

    seq = "ACGTTGCA"
    ids = clm.tokenize([seq]).input_ids
    logits = AutoModelForCausalLM.from_pretrained(clm_dir).eval()(input_ids=ids).logits[0]
    logp = torch.log_softmax(logits, -1)
    manual = sum(logp[t - 1, ids[0, t]].item() for t in range(1, ids.shape[1]))
    assert clm.log_likelihood([seq])[0] == pytest.approx(manual, rel=1e-5)
