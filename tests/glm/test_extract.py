"""Pooling, one-pass multi-layer extraction, windows and reverse-complement averaging."""

import numpy as np
import pytest
import torch

from glmprobe.data.onehot import reverse_complement
from glmprobe.errors import UserError
from glmprobe.glm.adapter import ModelSpec, get_adapter, reinitialize
from glmprobe.glm.extract import Extractor, plan_tokens

SEQS = ["ACGTACGTTGCA", "GGA", "TTTTACGATCGATCGGA", "CAGT"]


def adapter_for(path, family, **kw):
    a = get_adapter(ModelSpec("t", str(path), family, **kw))
    a.load()
    return a


def manual(adapter, seq, layers):
    """Unbatched reference: each sequence alone, masked mean and CLS computed by hand."""
    batch = adapter.tokenize([seq])
    states = adapter.hidden_states(batch, layers)
    keep = ~batch.special_mask[0]
    return {layer: (h[0, keep].mean(0).numpy(), h[0, 0].numpy()) for layer, h in states.items()}


def test_batched_pooling_matches_one_sequence_at_a_time(tiny_char):
    a = adapter_for(tiny_char, "hf-mlm")
    res = Extractor(a, [0, 1, 2], ["mean", "cls", "tokens"], batch_size=3).run(SEQS)
    for i, s in enumerate(SEQS):  # order restored after length sorting; padding and <cls> excluded from the mean
        ref = manual(a, s, [0, 1, 2])
        for layer in (0, 1, 2):
            np.testing.assert_allclose(res.pooled[(layer, "mean")][i], ref[layer][0], atol=1e-5)
            np.testing.assert_allclose(res.pooled[(layer, "cls")][i], ref[layer][1], atol=1e-5)
        assert len(res.tokens[2][i]) == len(s) + 1 and res.spans[i][0].tolist() == [-1, -1]
        assert res.spans[i][1:].tolist() == [[k, k + 1] for k in range(len(s))]


def test_all_layers_come_from_one_forward_pass(tiny_char):
    a = adapter_for(tiny_char, "hf-mlm")
    calls = []
    encoder = a.encoder
    hook = encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        Extractor(a, [0, 1, 2], ["mean"], batch_size=8).run(SEQS)
    finally:
        hook.remove()
    assert len(calls) == 1


def test_cls_pooling_without_cls_token_is_refused(tmp_path):
    a = get_adapter(ModelSpec("oh", "onehot", "onehot"))
    with pytest.raises(UserError, match="has no CLS token"):
        Extractor(a, [0], ["cls"])


def test_onehot_mean_is_composition():
    a = adapter_for("onehot", "onehot")
    res = Extractor(a, [0], ["mean", "tokens"]).run(["AACN", "GT"])
    np.testing.assert_allclose(res.pooled[(0, "mean")], [[0.5, 0.25, 0, 0], [0, 0, 0.5, 0.5]])
    assert res.tokens[0][0].tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]


def test_windows_split_average_by_length_and_concatenate_tokens(tiny_char):
    a = adapter_for(tiny_char, "hf-mlm")
    seq = "ACGTTGCAAGGCTTAGCA"  # 18 nt; a 7-token context holds <cls> + 6 bases
    plan = plan_tokens(a, [("r0", seq)], 1, limit=7, window="split")
    assert plan.windows == {0: [(0, 6), (6, 12), (12, 18)]} and plan.n_tokens.tolist() == [21]
    res = Extractor(a, [2], ["mean", "tokens"]).run([seq], plan.windows)
    parts = [manual(a, seq[x:y], [2])[2][0] for x, y in plan.windows[0]]
    np.testing.assert_allclose(res.pooled[(2, "mean")][0], np.mean(parts, axis=0), atol=1e-5)
    spans = res.spans[0]
    assert len(spans) == 21 and spans[spans[:, 0] >= 0][:, 0].tolist() == list(range(18))
    with pytest.raises(UserError, match="record 'r0' .* needs 19 tokens but the context holds 7"):
        plan_tokens(a, [("r0", seq)], 1, limit=7, window="refuse")


def test_kmer_windows_land_on_the_kmer_grid(tiny_kmer):
    a = adapter_for(tiny_kmer, "nt")
    seq = "ACGTAC" * 9 + "GG"  # 9 six-mers + 2 single bases -> 12 tokens
    plan = plan_tokens(a, [("r", seq)], 1, limit=5, window="split")
    assert plan.max_tokens_seen == 12
    assert plan.windows[0] == [(0, 24), (24, 48), (48, 56)]


def test_rc_average_pooled_and_tokens(tiny_char):
    a = adapter_for(tiny_char, "hf-mlm")
    s = "ACGGTTAC"
    res = Extractor(a, [1], ["mean", "tokens"], rc_average=True).run([s])
    fwd, rc = manual(a, s, [1])[1][0], manual(a, reverse_complement(s), [1])[1][0]
    np.testing.assert_allclose(res.pooled[(1, "mean")][0], (fwd + rc) / 2, atol=1e-5)
    # per-token: base i of the forward strand pairs with base L-1-i of the reverse strand
    hf = a.hidden_states(a.tokenize([s]), [1])[1][0].numpy()
    hr = a.hidden_states(a.tokenize([reverse_complement(s)]), [1])[1][0].numpy()
    np.testing.assert_allclose(res.tokens[1][0][3], (hf[3] + hr[len(s) + 1 - 3]) / 2, atol=1e-5)


def test_rc_tokens_refused_when_the_kmer_grid_does_not_map_back(tiny_kmer):
    a = adapter_for(tiny_kmer, "nt")
    plan_tokens(a, [("ok", "ACGTAC" * 2)], 1, limit=None, window="refuse", rc_tokens=True)
    with pytest.raises(UserError, match="record 'odd': per-token embeddings cannot be averaged"):
        plan_tokens(a, [("odd", "ACGTACG")], 1, limit=None, window="refuse", rc_tokens=True)


def test_reinitialize_is_seeded_and_changes_every_weight(tiny_char):
    from transformers import AutoModelForMaskedLM

    m1 = AutoModelForMaskedLM.from_pretrained(tiny_char, local_files_only=True)
    m2 = AutoModelForMaskedLM.from_pretrained(tiny_char, local_files_only=True)
    before = {k: v.clone() for k, v in m1.state_dict().items()}
    reinitialize(m1, seed=3)
    reinitialize(m2, seed=3)
    changed = [k for k, v in m1.state_dict().items() if v.dtype.is_floating_point and v.numel() > 1
               and "LayerNorm" not in k and "layer_norm" not in k and "bias" not in k
               and not torch.equal(v, before[k])]
    weights = [k for k, v in before.items() if v.dtype.is_floating_point and k.endswith("weight")
               and "LayerNorm" not in k and "layer_norm" not in k and v.ndim == 2]
    assert set(weights) <= set(changed)
    for k, v in m1.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k])


def test_stream_threads_change_nothing_and_restore_order(tiny_char):
    """Tokenising ahead in a thread (and length buckets) gives the same bytes as inline, in input order."""
    from glmprobe.glm.extract import Chunk, ChunkDone, TokenRows

    a = adapter_for(tiny_char, "hf-mlm")
    seqs = ["ACGT" * (1 + i % 7) for i in range(23)]

    def collect(prefetch):
        ex = Extractor(a, [1, 2], ["mean", "tokens"], batch_size=4, prefetch=prefetch)
        rows, done = [], []
        for item in ex.stream([Chunk(0, seqs[:11]), Chunk(11, seqs[11:])]):
            (rows if isinstance(item, TokenRows) else done).append(item)
        return rows, done

    (r0, d0), (r2, d2) = collect(0), collect(2)
    assert [d.lo for d in d0] == [0, 11] and all(isinstance(d, ChunkDone) for d in d0)
    for x, y in zip(d0, d2):
        for key in x.pooled:
            np.testing.assert_array_equal(x.pooled[key], y.pooled[key])
    for x, y in zip(r0, r2):
        assert np.array_equal(x.rows, y.rows) and np.array_equal(x.states[2], y.states[2])
        assert list(x.rows) == sorted(x.rows)  # ascending inside a batch, whatever the bucket order
        for j, r in enumerate(x.rows):  # every row's tokens: its own length, zero past it
            assert x.lengths[j] == len(seqs[r]) + 1 and not x.states[2][j, x.lengths[j]:].any()
    assert sorted(int(r) for x in r0 for r in x.rows) == list(range(23))


def test_fp16_overflow_is_refused_naming_layer_and_rows(tiny_char):
    a = adapter_for(tiny_char, "hf-mlm")
    with torch.no_grad():
        a.model.base_model.embeddings.word_embeddings.weight.mul_(1e9)  # layer 0 far beyond float16
    for pooling in ("mean", "tokens"):
        with pytest.raises(UserError, match=r"layer 0 (mean|tokens) embeddings of row \d.*overflow float16") as err:
            Extractor(a, [0, 1], [pooling], dtype="float16").run(SEQS)
        assert "float32" in err.value.hint
    res = Extractor(a, [0], ["mean"], dtype="float32").run(SEQS)  # float32 holds them
    assert np.isfinite(res.pooled[(0, "mean")]).all()


def test_precision_is_resolved_per_device():
    from glmprobe.glm.extract import resolve_precision

    assert resolve_precision("cpu") == "fp32" and resolve_precision("cpu", "bf16") == "bf16"
    with pytest.raises(UserError, match="unknown precision"):
        resolve_precision("cpu", "fp8")
