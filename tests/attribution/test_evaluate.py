"""Ground-truth scores against sklearn, agreement against scipy, site classes, selection, GIA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from glmprobe.attribution import evaluate
from glmprobe.attribution.gia import gia, implant, shuffled_backgrounds
from glmprobe.attribution.select import select_rows, strongest_window
from glmprobe.errors import UserError


def _masks(n=6, L=30, seed=0):
    rng = np.random.default_rng(seed)
    strong = np.zeros((n, L), bool)
    for i in range(n):
        a = rng.integers(0, L - 6)
        strong[i, a:a + 6] = True
    empty = np.zeros((n, L), bool)
    return {"strong": strong, "weak": empty, "no_effect": empty, "chance": empty, "background": ~strong}, rng


def test_ground_truth_auroc_and_auprc_equal_sklearn_on_pooled_positions():
    masks, rng = _masks()
    scores = rng.normal(size=masks["strong"].shape) + 2 * masks["strong"]
    out = evaluate.ground_truth(scores, masks, n_boot=50)["strong"]
    y = masks["strong"].reshape(-1)
    assert out["auroc"] == pytest.approx(roc_auc_score(y, np.abs(scores).reshape(-1)))
    assert out["auprc"] == pytest.approx(average_precision_score(y, np.abs(scores).reshape(-1)))
    assert out["auroc_ci"][0] <= out["auroc"] <= out["auroc_ci"][1]
    per_seq = np.mean([roc_auc_score(m, np.abs(s)) for m, s in zip(masks["strong"], scores)])
    assert out["auroc_per_seq"] == pytest.approx(per_seq)
    assert set(evaluate.ground_truth(scores, masks, n_boot=5)) == {"strong"}   # empty classes are left out


def test_per_sequence_auroc_equals_sklearn_with_ties_and_positions_left_out():
    """Integer maps (many ties); weak-site positions are neither positives nor negatives of the
    strong class, so each row's AUROC is over its strong and background positions only."""
    masks, rng = _masks(n=12, L=40, seed=3)
    weak = np.zeros_like(masks["strong"])
    weak[:, :5] = ~masks["strong"][:, :5]
    masks = {**masks, "weak": weak, "background": ~(masks["strong"] | weak)}
    scores = rng.integers(-3, 4, size=weak.shape).astype(float) + 2 * masks["strong"]
    out = evaluate.ground_truth(scores, masks, n_boot=5)["strong"]
    keep = masks["strong"] | masks["background"]
    expect = [roc_auc_score(m[k], np.abs(s)[k]) for m, s, k in zip(masks["strong"], scores, keep)]
    assert out["auroc_per_seq"] == pytest.approx(np.mean(expect))


def test_auprc_ci_resamples_the_sequences_its_point_estimate_pools():
    """Most sequences hold no site: they add only negatives, so they set AUPRC's prevalence.
    Resampling only the sequences with a site (the old bootstrap) put the CI at [0.38, 0.63]
    around a point estimate of 0.21."""
    rng = np.random.default_rng(3)
    n, L = 40, 50
    strong = np.zeros((n, L), bool)
    for i in range(10):
        a = rng.integers(0, L - 8)
        strong[i, a:a + 8] = True
    empty = np.zeros_like(strong)
    masks = {"strong": strong, "weak": empty, "no_effect": empty, "chance": empty, "background": ~strong}
    scores = rng.normal(size=(n, L)) + 1.5 * strong
    out = evaluate.ground_truth(scores, masks, n_boot=200, seed=0)["strong"]
    y, s = strong.reshape(-1), np.abs(scores).reshape(-1)
    assert out["auprc"] == pytest.approx(average_precision_score(y, s))
    assert out["auroc"] == pytest.approx(roc_auc_score(y, s))
    assert out["auprc_ci"][0] <= out["auprc"] <= out["auprc_ci"][1]
    assert out["auroc_ci"][0] <= out["auroc"] <= out["auroc_ci"][1]
    assert out["prevalence"] == pytest.approx(y.mean()) and out["n_seq"] == 10
    # the same replicates by hand: every sequence resampled, sklearn on the pooled positions
    pick_rng, boots = np.random.default_rng(0), []
    for _ in range(200):
        pick = pick_rng.choice(np.arange(n), size=n, replace=True)
        if strong[pick].any():
            boots.append(average_precision_score(strong[pick].reshape(-1), np.abs(scores[pick]).reshape(-1)))
    assert out["auprc_ci"] == pytest.approx(list(np.percentile(boots, [2.5, 97.5])))


def test_weighted_rank_scores_equal_sklearn_on_resampled_sequences_with_ties():
    """A replicate's scores from the presorted positions equal sklearn on the explicitly resampled
    positions, with many tied scores (integer maps)."""
    rng = np.random.default_rng(5)
    n, L = 30, 40
    pos = rng.random((n, L)) < 0.15
    neg = ~pos & (rng.random((n, L)) < 0.8)
    a = rng.integers(0, 4, (n, L)) + pos * rng.integers(0, 3, (n, L))   # ties everywhere
    ranked = evaluate._Ranked(a, pos, neg)
    for _ in range(5):
        pick = rng.choice(np.arange(n), size=n, replace=True)
        y = np.r_[np.ones(pos[pick].sum()), np.zeros(neg[pick].sum())]
        s = np.r_[a[pick][pos[pick]], a[pick][neg[pick]]]
        auroc, auprc = ranked.score(np.bincount(pick, minlength=n))
        assert auroc == pytest.approx(roc_auc_score(y, s)) and auprc == pytest.approx(average_precision_score(y, s))
    assert np.isnan(ranked.score(np.zeros(n))).all()   # a replicate without positions has no score


def test_agreement_is_the_mean_per_sequence_correlation_of_absolute_maps():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(8, 40)), rng.normal(size=(8, 40))
    out = evaluate.agreement(a, b, k=5)
    assert out["pearson"] == pytest.approx(np.mean([stats.pearsonr(abs(x), abs(y))[0] for x, y in zip(a, b)]))
    assert out["spearman"] == pytest.approx(np.mean([stats.spearmanr(abs(x), abs(y))[0] for x, y in zip(a, b)]))
    same = evaluate.agreement(a, -a, k=5)
    assert same["pearson"] == pytest.approx(1.0) and same["top5_overlap"] == pytest.approx(1.0)
    with pytest.raises(UserError):
        evaluate.agreement(a, b[:, :10])


def test_site_classes_split_strong_weak_no_effect_and_chance():
    from glmprobe.data.motifs import fetch_motif

    ctcf = fetch_motif("MA0139.2")
    consensus = "".join("ACGT"[i] for i in ctcf.counts.argmax(0))
    w = len(consensus)
    seqs = ["A" * 5 + consensus + "A" * 40 + consensus + "A" * 10,
            "T" * 5 + consensus + "T" * (50 + w)]
    sites = pd.DataFrame([
        ("s0", "MA0139.2", 5, 5 + w, "+", 0.9, 1.0),        # strong
        ("s1", "MA0139.2", 5, 5 + w, "+", 0.3, 1.0),        # weak (low affinity)
        ("s1", "MA0079.5", 40, 50, "+", 0.9, 0.0),          # planted but no effect
    ], columns=["id", "motif_id", "start", "end", "strand", "score", "effect"])
    m = evaluate.site_classes(["s0", "s1"], seqs, sites)
    assert m["strong"][0, 5:5 + w].all() and not m["strong"][1].any()
    assert m["weak"][1, 5:5 + w].all()
    assert m["no_effect"][1, 40:50].all()
    second = 5 + w + 40
    assert m["chance"][0, second:second + w].all()      # the unplanted consensus is a chance site
    assert not (m["background"] & (m["strong"] | m["weak"] | m["no_effect"] | m["chance"])).any()


def test_site_effects_sum_over_targets_when_explaining_the_sum(synth_dir):
    sites = evaluate.read_sites(synth_dir / "motif_sites.tsv", "synth_mpra")
    one = evaluate.site_effects(sites, "cellA")
    total = evaluate.site_effects(sites, None)
    assert len(one) == len(total)
    assert (one["effect"].abs() <= total["effect"].abs() + 10).all()
    assert (total["effect"] != 0).sum() >= (one["effect"] != 0).sum()
    with pytest.raises(UserError):
        evaluate.read_sites(synth_dir / "motif_sites.tsv", "nope")


def test_selection_top_random_and_ids():
    ids = np.array([f"r{i}" for i in range(10)], dtype=object)
    split = np.array(["train"] * 5 + ["test"] * 5, dtype=object)
    pred = np.arange(10.0)[::-1]
    assert list(select_rows(ids, split, "top", 2, predictions=pred)) == [5, 6]
    r1 = select_rows(ids, split, "random", 3, seed=4)
    assert list(r1) == list(select_rows(ids, split, "random", 3, seed=4)) and set(r1) <= {5, 6, 7, 8, 9}
    assert list(select_rows(ids, split, "ids", 0, id_list=["r3", "r1"])) == [3, 1]
    with pytest.raises(UserError, match="'r77' is not in the dataset"):
        select_rows(ids, split, "ids", 0, id_list=["r1", "r77"])
    assert strongest_window(np.r_[np.zeros(10), 5 * np.ones(4), np.zeros(10)], 4) == (10, 14)


def test_gia_finds_the_effect_of_an_implanted_motif_and_none_of_a_neutral_one():
    seqs = ["".join(np.random.default_rng(i).choice(list("ACGT"), 60)) for i in range(20)]
    bg = shuffled_backgrounds(seqs, 60, seed=0)
    assert len(bg) == 60 and all(len(s) == 60 for s in bg)
    predict = lambda ss: np.array([s.count("GATAAG") * 1.0 + 0.01 * s.count("C") for s in ss])
    hit = gia(predict, bg, "GATAAG")
    assert hit["effect"] > 0.5 and hit["mannwhitney_p"] < 1e-6
    assert implant(["AAAAAA"], "CG", 2) == ["AACGAA"]
    with pytest.raises(UserError):
        gia(predict, bg, "GATNNG")
