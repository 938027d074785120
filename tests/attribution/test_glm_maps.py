"""gLM-probe ISM against brute force for character and k-mer tokenizers; zero-shot maps by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glmprobe.attribution import zeroshot
from glmprobe.attribution.glm_ism import GLMPredictor, brute_force_ism, glm_ism, glm_ism_targets

SEQS = ["ACGTTGCAAGCTAGCTAGGA", "TTGACCATGCAGTCAGTTCA", "GGGCATCAGTACGATCAGTT"]   # 20 nt: 3 6-mers + 2 leftovers


@pytest.mark.parametrize("family, model", [("hf-mlm", "tiny_char"), ("nt", "tiny_kmer")])
def test_batched_glm_ism_equals_brute_force_and_meets_the_3L_plus_1_bound(family, model, request, make_probe):
    trained = make_probe(request.getfixturevalue(model), family)
    predict = GLMPredictor(trained, batch_size=32)
    maps = glm_ism(predict, SEQS, target=None, chunk=100)
    assert predict.forward_passes == len(SEQS) * (3 * 20 + 1)
    assert np.allclose(maps.extra["forward_passes"], 61)
    for i, s in enumerate(SEQS):
        delta = brute_force_ism(GLMPredictor(trained), s, target=None)
        np.testing.assert_allclose(maps.hypothetical[i], delta - delta.mean(0, keepdims=True), rtol=1e-4, atol=1e-5)


def test_every_output_from_one_set_of_forward_passes(tiny_char, make_probe):
    """The sum and each target's own ISM map come from the same 3L+1 passes and equal separate runs."""
    trained = make_probe(tiny_char, "hf-mlm", n_targets=2)
    predict = GLMPredictor(trained, batch_size=32)
    together = glm_ism_targets(predict, SEQS[:2], [None, 0, 1], chunk=100)
    assert predict.forward_passes == 2 * (3 * 20 + 1)
    for t, maps in zip([None, 0, 1], together):
        alone = glm_ism(GLMPredictor(trained, batch_size=32), SEQS[:2], target=t, chunk=100)
        np.testing.assert_allclose(maps.hypothetical, alone.hypothetical, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(maps.extra["forward_passes"], 61)
    np.testing.assert_allclose(together[0].scores, together[1].scores + together[2].scores, atol=1e-5)


def test_predictor_reproduces_the_stored_features_masked_mean_without_specials(tiny_kmer, make_probe):
    trained = make_probe(tiny_kmer, "nt")
    adapter = trained.glm.adapter
    batch = adapter.tokenize(SEQS[:1])
    with torch.no_grad():
        h = adapter.hidden_states(batch, [adapter.num_layers])[adapter.num_layers][0]
    keep = ~batch.special_mask[0, : h.shape[0]]
    expected = h[torch.from_numpy(keep)].mean(0).numpy()
    got = GLMPredictor(trained).features(SEQS[:1]).numpy()[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_information_map_is_bits_over_same_length_candidates_spread_by_spans(tiny_kmer, tiny_char):
    from glmprobe.glm.adapter import ModelSpec, get_adapter

    kmer = get_adapter(ModelSpec(id="k", source=str(tiny_kmer), family="nt"))
    kmer.load()
    info = zeroshot.information_maps(kmer, SEQS[:1])[0]
    # 6-mer tokens: one value per token span; 4096 candidates -> at most 12 bits; leftovers at most 2
    for a in (0, 6, 12):
        assert np.allclose(info[a:a + 6], info[a])
    assert np.all(info[:18] <= 12 + 1e-6) and np.all(info[18:] <= 2 + 1e-6) and np.all(info >= -1e-6)
    char = get_adapter(ModelSpec(id="c", source=str(tiny_char), family="hf-mlm"))
    char.load()
    spans, _, logp = zeroshot._masked_logprobs(char, SEQS[0])
    vocab = zeroshot._dna_tokens(char)
    lp = logp[3][[vocab[b] for b in "ACGT"]]
    p = np.exp(lp - np.logaddexp.reduce(lp))
    expected = 2 - (-(p * np.log2(p)).sum())
    assert zeroshot.information_maps(char, SEQS[:1])[0, 3] == pytest.approx(expected, abs=1e-6)


def test_masked_llr_for_a_character_model_is_log_p_alt_minus_log_p_ref(tiny_char):
    from glmprobe.glm.adapter import ModelSpec, get_adapter

    char = get_adapter(ModelSpec(id="c", source=str(tiny_char), family="hf-mlm"))
    char.load()
    llr = zeroshot.masked_llr_maps(char, SEQS[:1])[0]
    _, _, logp = zeroshot._masked_logprobs(char, SEQS[0])
    vocab = zeroshot._dna_tokens(char)
    p = 5
    lp = logp[p][[vocab[b] for b in "ACGT"]]
    ref = "ACGT".index(SEQS[0][p])
    np.testing.assert_allclose(llr[:, p], lp - lp[ref], rtol=1e-5, atol=1e-6)


def test_gradient_information_map_is_zero_when_the_head_ignores_the_embedding(tiny_char, make_probe):
    trained = make_probe(tiny_char, "hf-mlm")
    with torch.no_grad():
        trained.module.linear.weight.zero_()
    assert np.allclose(zeroshot.gradient_information_maps(trained, SEQS[:1]), 0)
    trained = make_probe(tiny_char, "hf-mlm", seed=1)
    m = zeroshot.gradient_information_maps(trained, SEQS[:1])
    assert m.shape == (1, 20) and np.isfinite(m).all() and (m != 0).any()
