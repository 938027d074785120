"""The study's simple controls (k-mer / mononucleotide / dinucleotide counts + ridge or logistic)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge

from glmprobe.data.onehot import encode
from glmprobe.heads import kmer
from glmprobe.train.data import Arrays
from glmprobe.train.fit import predict
from glmprobe.train.tune import TuneOptions


def counts_by_hand(seq: str, k: int) -> np.ndarray:
    index = {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=k))}
    out = np.zeros(4 ** k)
    for i in range(len(seq) - k + 1):
        if seq[i:i + k] in index:
            out[index[seq[i:i + k]]] += 1
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_kmer_counts_match_counting_by_hand_and_skip_n(k):
    seqs = ["ACGTNACGTTTG", "GGGGCCCCAAAA"]
    got = kmer.features(encode(seqs, 12), k)
    assert np.array_equal(got, np.stack([counts_by_hand(s, k) for s in seqs]))
    freq = kmer.features(encode(seqs, 12), 1, normalize=True)
    assert np.allclose(freq.sum(1), 1.0)


@pytest.fixture(scope="module")
def motif_data():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(300)]
    y = np.array([s.count("GAT") + 0.2 * rng.normal() for s in seqs], np.float32)[:, None]
    X = encode(seqs, 40)
    ids = np.arange(300).astype(str)
    cut = {"train": slice(0, 200), "valid": slice(200, 250), "test": slice(250, 300)}
    return {s: Arrays(X[c], y[c], ids[c]) for s, c in cut.items()}, seqs


def test_kmer_search_picks_k_on_valid_and_scores_like_a_model(motif_data):
    data, _ = motif_data
    res = kmer.Kmer.tune(data, "regression", TuneOptions(), target_names=["y"])
    assert res.best_params["k"] == 3                      # the planted signal is a 3-mer count
    assert set(res.trials.k) == set(kmer.KS)
    rep = res.replicates[0]
    assert rep.metrics["test_pearson"] > 0.9
    # the fitted control is a module on one-hot input, predicting what the record says
    assert np.allclose(predict(rep.model, data["test"].X), rep.predictions["test"], atol=1e-5)


def test_dinuc_fixed_study_is_sklearn_on_raw_counts(motif_data):
    data, seqs = motif_data
    F = np.stack([counts_by_hand(s, 2) for s in seqs])
    res = kmer.Dinuc.tune(data, "regression", TuneOptions(fixed="study"), target_names=["y"])
    want = Ridge(alpha=1e-3).fit(F[:200], data["train"].y[:, 0]).predict(F[250:])
    assert np.allclose(res.replicates[0].predictions["test"][:, 0], want, atol=1e-5)
    yb = (np.concatenate([data[s].y for s in ("train", "valid", "test")]) > 1).astype(np.float32)
    bdata = {s: Arrays(data[s].X, yb[c], data[s].ids) for s, c in
             zip(("train", "valid", "test"), (slice(0, 200), slice(200, 250), slice(250, 300)))}
    res = kmer.Mononuc.tune(bdata, "binary", TuneOptions(fixed="study"), target_names=["y"])
    M = np.stack([counts_by_hand(s, 1) / len(s) for s in seqs])
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(M[:200], yb[:200, 0])
    assert np.allclose(res.replicates[0].predictions["test"][:, 0], clf.decision_function(M[250:]), atol=1e-3)


def test_dinuc_mlp_builds_on_one_hot():
    torch.manual_seed(0)
    net = kmer.DinucMLP.build(4, 50, 2, kmer.DinucMLP.study("binary")).eval()
    assert net(torch.as_tensor(encode(["ACGT" * 12 + "AC"], 50))).shape == (1, 2)
