"""The modisco-lite / TOMTOM glue: what reaches TFMoDISco, trimming, naming and q-values (fast: modisco faked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glmprobe.attribution import motifs


class _Pattern:
    def __init__(self, ppm, cwm, n):
        self.sequence, self.contrib_scores, self.hypothetical_contribs = ppm, cwm, cwm * 2
        self.seqlets = [None] * n


@pytest.fixture
def fake_modisco(monkeypatch):
    calls = {}

    def TFMoDISco(one_hot, hypothetical_contribs, **kwargs):   # noqa: N802 (modisco's name)
        calls.update(one_hot=one_hot, hyp=hypothetical_contribs, **kwargs)
        w = 12
        cwm = np.zeros((w, 4), np.float32)
        cwm[3:9, 0] = 1.0          # |CWM| >= 30 % of the maximum only at positions 3..8
        cwm[0, 1] = 0.1
        ppm = np.full((w, 4), 0.25, np.float32)
        return [_Pattern(ppm, cwm, 40)], None

    import modiscolite.tfmodisco as tf
    monkeypatch.setattr(tf, "TFMoDISco", TFMoDISco)
    return calls


def test_run_modisco_passes_per_base_hypothetical_scores_in_modisco_layout(fake_modisco, onehot):
    X = onehot(5, 30, seed=1)
    hyp = np.random.default_rng(0).normal(size=X.shape).astype(np.float32)
    hyp -= hyp.mean(axis=1, keepdims=True)          # gradient-corrected, as gxi stores it
    pats = motifs.run_modisco(X, hyp)
    # (N, L, 4), the hypothetical scores themselves (not hyp x one-hot), unchanged
    assert fake_modisco["one_hot"].shape == (5, 30, 4)
    np.testing.assert_array_equal(fake_modisco["one_hot"], X.transpose(0, 2, 1))
    np.testing.assert_array_equal(fake_modisco["hyp"], hyp.transpose(0, 2, 1))
    assert np.count_nonzero(fake_modisco["hyp"] * (1 - fake_modisco["one_hot"])) > 0   # off-base scores kept
    # modisco-lite's command-line settings
    assert fake_modisco["sliding_window_size"] == 20 and fake_modisco["flank_size"] == 5
    assert fake_modisco["target_seqlet_fdr"] == 0.05 and fake_modisco["n_leiden_runs"] == 2
    assert fake_modisco["min_metacluster_size"] == 100 and fake_modisco["final_min_cluster_size"] == 20
    assert fake_modisco["max_seqlets_per_metacluster"] == 2000
    (p,) = pats
    assert p["pattern"] == "pos_patterns.pattern_0" and p["n_seqlets"] == 40
    assert p["ppm"].shape == (4, 6) and p["cwm"].shape == (4, 6)     # trimmed to positions 3..8, (4, w)
    np.testing.assert_allclose(p["hcwm"], 2 * p["cwm"])


def test_run_modisco_refuses_projected_or_mismatched_shapes(fake_modisco, onehot):
    X = onehot(3, 20)
    with pytest.raises(ValueError, match=r"must both be \(N, 4, L\)"):
        motifs.run_modisco(X, X.sum(axis=1))       # an (N, L) projected map is not hypothetical scores
    with pytest.raises(ValueError):
        motifs.run_modisco(X, X[:, :, :10])


def test_name_patterns_takes_each_patterns_best_tomtom_match_with_bh_q_values(monkeypatch):
    import memelite

    p = np.array([[0.2, 1e-6, 0.5], [0.3, 0.04, 0.9]])   # pattern x motif p-values

    monkeypatch.setattr(memelite, "tomtom", lambda queries, targets: (p, None))
    db = {"MA1": ("ONE", np.full((4, 6), 0.25)), "MA2": ("TWO", np.full((4, 6), 0.25)),
          "MA3": ("THREE", np.full((4, 6), 0.25))}
    pats = [{"pattern": f"pos_patterns.pattern_{k}", "sign": "pos", "n_seqlets": 30, "ppm": np.full((4, 7), 0.25)}
            for k in range(2)]
    table = motifs.name_patterns(pats, db)
    assert list(table["match_id"]) == ["MA2", "MA2"] and list(table["match_name"]) == ["TWO", "TWO"]
    from scipy.stats import false_discovery_control
    q = false_discovery_control(p.reshape(-1), method="bh").reshape(p.shape)
    assert table["q_value"].tolist() == pytest.approx([q[0, 1], q[1, 1]])
    assert motifs.recovered(table) == ["MA2"]          # q(1e-6) < 0.05; q(0.04) over 6 pairs is not
    assert q[1, 1] > 0.05
    assert motifs.recovered(pd.DataFrame(columns=table.columns)) == []


def test_ideal_contributions_put_each_sites_centred_log_odds_times_its_effect_on_its_strand():
    from glmprobe.data.motifs import fetch_motif

    lo = fetch_motif("MA0139.2").log_odds()
    lo = (lo - lo.mean(0)) / np.abs(lo - lo.mean(0)).max()
    w = lo.shape[1]
    effects = pd.DataFrame([("a", "MA0139.2", 2, 2 + w, "+", 0.9, 0.5), ("b", "MA0139.2", 10, 10 + w, "-", 0.8, -1.0),
                            ("b", "MA0139.2", 40, 40 + w, "+", 0.9, 0.0), ("zz", "MA0139.2", 0, w, "+", 1.0, 1.0)],
                           columns=["id", "motif_id", "start", "end", "strand", "score", "effect"])
    H = motifs.ideal_contributions(["a", "b"], 60, effects)
    assert H.shape == (2, 4, 60)
    np.testing.assert_allclose(H[0, :, 2:2 + w], 0.5 * lo, rtol=1e-6)
    np.testing.assert_allclose(H[1, :, 10:10 + w], -lo[::-1, ::-1], rtol=1e-6)   # minus strand: reverse complement
    assert not H[1, :, 40:].any() and not H[0, :, 2 + w:].any()                   # inert site, background: 0
    np.testing.assert_allclose(H.sum(axis=1), 0, atol=1e-6)                        # centred like gxi / ISM
