"""Zero-shot scorers against hand computations, metrics against scipy, synthetic effects exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from glmprobe.glm.adapter import ModelSpec, get_adapter
from glmprobe.variants.metrics import correlation_table
from glmprobe.variants.windows import SiteChunk
from glmprobe.variants.zeroshot import CausalDeltaLL, EmbeddingScorer, MaskedLLR, distances

RNG = np.random.default_rng(3)
REF = ["".join(RNG.choice(list("ACGT"), 23)) for _ in range(2)]
OFF = 11


def _chunk(width: int = 1) -> SiteChunk:
    """Two sites, three alts at the first, one at the second."""
    alts, site = [], []
    for s, n in ((0, 3), (1, 1)):
        ref = REF[s]
        for k in range(n):
            b = "ACGT"[("ACGT".index(ref[OFF]) + k + 1) % 4]
            alts.append(ref[:OFF] + b + ref[OFF + 1:])
            site.append(s)
    return SiteChunk(np.arange(4), list(REF), alts, np.array(site), np.full(4, width), OFF, 0)


@pytest.fixture(scope="module")
def mlm(tmp_path_factory):
    from glmprobe.glm.tiny import save_tiny_model

    def load(kind, family):
        folder = save_tiny_model(tmp_path_factory.mktemp(kind), kind, seed=1)
        a = get_adapter(ModelSpec(id=kind, source=str(folder), family=family))
        a.load()
        return a
    return {"char": load("char", "hf-mlm"), "kmer6": load("kmer6", "nt")}


def _logp(adapter, seq: str, masked: list[int]) -> np.ndarray:
    batch = adapter.tokenize([seq])
    batch.input_ids[0, masked] = adapter.tokenizer.mask_token_id
    with torch.no_grad():
        return torch.log_softmax(adapter.masked_logits(batch)[0], -1).numpy()


def test_distances_match_scipy():
    a, b = RNG.normal(size=(5, 8)), RNG.normal(size=(5, 8))
    d = distances(a, b)
    from scipy.spatial import distance as sd
    for i in range(5):
        assert d["cosine"][i] == pytest.approx(sd.cosine(a[i], b[i]))
        assert d["l1"][i] == pytest.approx(sd.cityblock(a[i], b[i]))
        assert d["l2"][i] == pytest.approx(sd.euclidean(a[i], b[i]))
        assert d["dot"][i] == pytest.approx(a[i] @ b[i])


def test_embedding_distance_uses_shared_ref(mlm):
    ch = _chunk()
    scorer = EmbeddingScorer(mlm["char"], [1, 2], "mean", batch_size=3)
    out = scorer.score(ch)
    ex = scorer.extractor.run([ch.ref[0], ch.alt[0]]).pooled[(2, "mean")]
    assert out["l2_L2"][0] == pytest.approx(np.linalg.norm(ex[1] - ex[0]), rel=1e-5)
    assert set(out) == {f"{d}_L{l}" for d in ("cosine", "l1", "l2", "dot") for l in (1, 2)}


def test_masked_llr_single_base_tokens(mlm):
    a, ch = mlm["char"], _chunk()
    out = MaskedLLR(a, batch_size=1).score(ch)["llr"]
    vocab = a.tokenizer.get_vocab()
    for j in range(4):
        ref = ch.ref[ch.site[j]]
        lp = _logp(a, ref, [OFF + 1])              # + 1: <cls> comes first
        want = lp[OFF + 1, vocab[ch.alt[j][OFF]]] - lp[OFF + 1, vocab[ref[OFF]]]
        assert out[j] == pytest.approx(want, abs=1e-5)


def test_masked_llr_kmer_masks_the_whole_overlapping_token(mlm):
    a, ch = mlm["kmer6"], _chunk()
    out = MaskedLLR(a).score(ch)["llr"]
    vocab = a.tokenizer.get_vocab()
    tok = 1 + OFF // 6                              # 6-mers from the start, <cls> first: bases 6..11 -> token 2
    for j in range(4):
        ref, alt = ch.ref[ch.site[j]], ch.alt[j]
        lp = _logp(a, ref, [tok])
        k0 = (OFF // 6) * 6
        want = lp[tok, vocab[alt[k0:k0 + 6]]] - lp[tok, vocab[ref[k0:k0 + 6]]]
        assert out[j] == pytest.approx(want, abs=1e-5)


def test_causal_delta_ll(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from glmprobe.glm.tiny import build_tokenizer

    tok = build_tokenizer("char")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), bos_token_id=tok.cls_token_id, eos_token_id=tok.eos_token_id, n_embd=16, n_layer=2, n_head=2, n_positions=64,
                               pad_token_id=tok.pad_token_id)).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    a = get_adapter(ModelSpec(id="gpt", source=str(tmp_path), family="hf-clm"))
    a.load()
    ch = _chunk()
    out = CausalDeltaLL(a, batch_size=2).score(ch)["delta_ll"]
    ll = a.log_likelihood([ch.alt[0], ch.ref[0]])
    assert out[0] == pytest.approx(ll[0] - ll[1], abs=1e-4)
    with pytest.raises(Exception, match="model is causal"):
        from glmprobe.steps.variants import _scorers
        _scorers(a, ["llr"], [1], "mean", 8, False, "cpu")


def test_correlations_match_scipy():
    effect = RNG.normal(size=60)
    score = effect + RNG.normal(size=60)
    group = np.array(["a"] * 30 + ["b"] * 30)
    t = correlation_table(pd.DataFrame({"s": score}), ["s"], effect, group, n_boot=200, seed=1)
    cell = t.set_index(["group", "target", "metric"])
    for g, sel in (("all", slice(None)), ("a", slice(0, 30)), ("b", slice(30, 60))):
        assert cell.loc[(g, "signed", "pearson"), "value"] == pytest.approx(stats.pearsonr(effect[sel], score[sel])[0])
        assert cell.loc[(g, "abs", "spearman"), "value"] == pytest.approx(
            stats.spearmanr(np.abs(effect[sel]), score[sel])[0])
        lo, v, hi = cell.loc[(g, "signed", "spearman"), ["lo", "value", "hi"]]
        assert lo < v < hi and cell.loc[(g, "signed", "spearman"), "n"] == (60 if g == "all" else 30)


def test_synthetic_variant_effects_are_exact(synth_dir):
    """Recompute every in-site effect from motif_sites.tsv and the generator's rule; outside sites: 0."""
    from glmprobe.data import motifs as jaspar
    from glmprobe.data.synth import BASE_FREQ, MPRA_RULES, VARIANT_FLANK, MpraParams
    from glmprobe.variants.genome import Genome

    v = pd.read_csv(synth_dir / "variants.tsv", sep="\t")
    sites = pd.read_csv(synth_dir / "motif_sites.tsv", sep="\t")
    sites = sites[(sites.target == "cellB") & (sites.strand != ".")]
    rules = {r.matrix_id: r for r in MPRA_RULES}
    lods = dict(zip(rules, (m.log_odds(BASE_FREQ) for m in jaspar.fetch_motifs(rules))))
    assert (v.loc[v.in_site == 0, ["effect_cellA", "effect_cellB", "effect_cellC"]] == 0).all().all()
    assert v.in_site.sum() > 100 and (v.in_site == 0).sum() > 30 and v.group.nunique() > 3
    p, half = MpraParams(), (MpraParams().length - 1) / 2
    with Genome(synth_dir / "variants_genome.fa") as g:
        for r in v[v.in_site == 1].sample(40, random_state=0).itertuples():
            seq = g.fetch(r.chrom, VARIANT_FLANK, VARIANT_FLANK + p.length)
            assert g.fetch(r.chrom, r.pos - 1, r.pos) == r.ref
            i = r.pos - 1 - VARIANT_FLANK
            s = sites[(sites.id == r.chrom) & (sites.start <= i) & (sites.end > i)].iloc[0]
            mut = seq[:i] + r.alt + seq[i + 1:]

            def score(text):
                codes = np.array(["ACGT".index(c) for c in text[s.start:s.end]])
                codes = codes if s.strand == "+" else 3 - codes[::-1]
                return jaspar.site_scores(codes[None], lods[s.motif_id])[0]
            rule = rules[s.motif_id]
            weight = 1 - (1 - p.edge_weight) * abs(s.start + (s.end - s.start - 1) / 2 - half) / half
            orient = 1.0 if s.strand == "+" else rule.reverse_factor
            want = rule.effect["cellB"] * (score(mut) - score(seq)) * weight * orient
            assert r.effect_cellB == pytest.approx(want, rel=1e-4, abs=1e-5)
            assert score(seq) == pytest.approx(s.score, abs=1e-4)
