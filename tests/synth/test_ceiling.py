"""The PWM ceiling: window scores match the planted sites, priors match the generator, ceiling < oracle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, poisson

from glmprobe.data import ceiling
from glmprobe.data import motifs as jaspar
from glmprobe.data.synth import BASE_FREQ, MPRA_CELLS, MPRA_RULES, MpraParams


def test_window_scores_equal_the_planted_site_scores(synth_dir):
    """The scan's score at every planted site's start, on its strand, is the score motif_sites.tsv gives."""
    sites = pd.read_csv(synth_dir / "motif_sites.tsv", sep="\t")
    sites = sites[(sites.dataset == "synth_mpra") & (sites.target == "cellA") & (sites.strand != ".")]
    mpra = pd.read_csv(synth_dir / "mpra.tsv", sep="\t").set_index("id")
    checked = 0
    for mid, group in sites.groupby("motif_id"):
        lo = jaspar.fetch_motif(mid).log_odds(BASE_FREQ)
        lo_min, lo_max = jaspar.score_range(lo)
        codes = ceiling.codes_of(list(mpra.sequence.loc[group.id]))
        for strand in "+-":
            rows = np.flatnonzero((group.strand == strand).to_numpy())
            raw = ceiling.window_log_odds(codes[rows], lo, strand)
            got = (raw[np.arange(len(rows)), group.start.to_numpy()[rows]] - lo_min) / (lo_max - lo_min)
            np.testing.assert_allclose(got, group.score.to_numpy()[rows], atol=1e-4)
            checked += len(rows)
    assert checked > 100


def test_window_scores_match_site_scores_on_random_codes():
    rng = np.random.default_rng(1)
    lo = jaspar.fetch_motif("MA0139.2").log_odds(BASE_FREQ)
    codes = rng.integers(0, 4, (5, 40))
    w = lo.shape[1]
    fwd = ceiling.window_log_odds(codes, lo, "+")
    rev = ceiling.window_log_odds(codes, lo, "-")
    lo_min, lo_max = jaspar.score_range(lo)
    for i in range(5):
        for s in range(40 - w + 1):
            win = codes[i, s:s + w]
            assert (fwd[i, s] - lo_min) / (lo_max - lo_min) == pytest.approx(jaspar.site_scores(win[None], lo)[0])
            assert (rev[i, s] - lo_min) / (lo_max - lo_min) == pytest.approx(
                jaspar.site_scores((3 - win[::-1])[None], lo)[0])


def test_expected_random_sites_is_the_capped_poisson_mean():
    draws = np.minimum(poisson.rvs(2.5, size=400_000, random_state=0), 6)
    assert ceiling.expected_random_sites(2.5, 6) == pytest.approx(draws.mean(), abs=0.01)
    assert ceiling.expected_random_sites(2.5, 1000) == pytest.approx(2.5)


def test_truth_has_a_ceiling_below_the_oracle_and_above_chance(synth_dir):
    truth = json.loads((synth_dir / "truth.json").read_text())["datasets"]
    for name, floor in (("synth_mpra", 0.3), ("synth_chip", 0.6)):
        ceil, oracle = truth[name]["pwm_ceiling"], truth[name]["oracle"]
        assert ceil["split"] == "test" and ceil["metric"] == oracle["metric"] and ceil["method"]
        assert set(ceil["per_target"]) == set(oracle["per_target"])
        for t, v in ceil["per_target"].items():
            assert floor < v < oracle["per_target"][t], (name, t, v)


def test_mpra_prediction_tracks_the_noiseless_signal(synth_dir):
    """The posterior-weighted scan is close to the noiseless signal, closer than a site-blind constant."""
    mpra = pd.read_csv(synth_dir / "mpra.tsv", sep="\t")
    sites = pd.read_csv(synth_dir / "motif_sites.tsv", sep="\t", keep_default_na=False, na_values=["NA"])
    motifs = jaspar.fetch_motifs(r.matrix_id for r in MPRA_RULES)
    pred = ceiling.mpra_prediction(list(mpra.sequence), MPRA_RULES, motifs, MpraParams(), BASE_FREQ, MPRA_CELLS)
    for cell in MPRA_CELLS:
        signal = sites[(sites.dataset == "synth_mpra") & (sites.target == cell)].groupby("id").effect.sum()
        signal = signal.reindex(mpra.id).fillna(0.0).to_numpy()
        assert pearsonr(pred[cell], signal)[0] > 0.75, cell
