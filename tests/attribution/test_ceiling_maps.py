"""The attribution ceiling: ISM of the PWM-ceiling predictor, checked against brute force and the answer key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glmprobe.attribution import evaluate
from glmprobe.attribution.ceiling_maps import ceiling_maps, ceiling_predictor, chip_expected_strength
from glmprobe.attribution.glm_ism import brute_force_ism


def _test_split(synth_dir, table: str, n: int):
    t = pd.read_csv(synth_dir / table, sep="\t")
    t = t[t["split"] == "test"].head(n)
    return t["id"].tolist(), t["sequence"].tolist()


def test_mpra_ceiling_predictor_is_the_truth_json_pwm_ceiling(synth_dir):
    import json

    from scipy.stats import pearsonr

    t = pd.read_csv(synth_dir / "mpra.tsv", sep="\t")
    test = t[t["split"] == "test"]
    pred = ceiling_predictor("synth_mpra")(test["sequence"].tolist())
    truth = json.loads((synth_dir / "truth.json").read_text())["datasets"]["synth_mpra"]["pwm_ceiling"]["per_target"]
    for j, cell in enumerate(("cellA", "cellB", "cellC")):
        assert pearsonr(pred[:, j], test[cell])[0] == pytest.approx(truth[cell], abs=1e-4)


@pytest.mark.parametrize("dataset, table", [("synth_mpra", "mpra.tsv"), ("synth_chip", "chip.tsv")])
def test_ceiling_maps_equal_brute_force_ism(synth_dir, dataset, table):
    _, seqs = _test_split(synth_dir, table, 2)
    n_out = 3 if dataset == "synth_mpra" else 1
    maps_all = ceiling_maps(dataset, seqs, [None, *range(n_out)])   # the sum and each output, one ISM pass
    predict = ceiling_predictor(dataset)
    for t, maps in zip([None, *range(n_out)], maps_all):
        for i, s in enumerate(seqs):
            delta = brute_force_ism(predict, s, target=t)
            assert np.allclose(maps.hypothetical[i], delta - delta.mean(0, keepdims=True), atol=1e-6)
        assert "forward_passes" not in maps.extra   # a plain function counts no gLM passes


def test_chip_strength_grows_with_a_planted_ctcf_site():
    from glmprobe.data import motifs as jaspar
    from glmprobe.data.synth import BASE_FREQ, ChipParams

    p = ChipParams()
    motif = jaspar.fetch_motif(p.motif)
    consensus = "".join("ACGT"[k] for k in motif.counts.argmax(axis=0))
    rng = np.random.default_rng(0)
    bg = "".join(rng.choice(list("ACGT"), 200))
    planted = bg[:90] + consensus + bg[90 + len(consensus):]
    lo, hi = chip_expected_strength([bg, planted], motif, BASE_FREQ, p)
    assert hi > lo + 0.5 * p.slope   # a consensus site moves the logit by most of the slope


@pytest.mark.parametrize("dataset, table", [("synth_mpra", "mpra.tsv"), ("synth_chip", "chip.tsv")])
def test_the_ceiling_map_finds_the_planted_sites(synth_dir, dataset, table):
    ids, seqs = _test_split(synth_dir, table, 40)
    effects = evaluate.site_effects(evaluate.read_sites(synth_dir / "motif_sites.tsv", dataset), None)
    masks = evaluate.site_classes(ids, seqs, effects)
    scores = ceiling_maps(dataset, seqs)[0].scores
    auroc = evaluate.ground_truth(scores, masks, n_boot=2)["strong"]["auroc"]
    shuffled = np.random.default_rng(0).permuted(scores, axis=1)
    chance = evaluate.ground_truth(shuffled, masks, n_boot=2)["strong"]["auroc"]
    assert auroc > 0.8 and abs(chance - 0.5) < 0.1   # full test splits: 0.93 MPRA, 0.91 ChIP


def test_no_ceiling_predictor_for_other_datasets():
    with pytest.raises(ValueError, match="no PWM-ceiling predictor"):
        ceiling_predictor("lentimpra_k562")


@pytest.mark.parametrize("strand", ["+", "-"])
def test_incremental_scan_of_edits_equals_the_full_scan(strand):
    from glmprobe.data import motifs as jaspar
    from glmprobe.data.ceiling import edit_window_log_odds, window_log_odds

    lo = jaspar.fetch_motif("MA0139.2").log_odds()
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 4, 60)
    rows = [ref.copy()]
    for p in (0, 5, 18, 30, 59):          # edges and the middle, one edit each
        for b in range(4):
            row = ref.copy()
            row[p] = b                      # b == ref[p]: an unedited row
            rows.append(row)
    two = ref.copy()
    two[[3, 40]] = (ref[[3, 40]] + 1) % 4   # two edits: scanned in full
    rows.append(two)
    codes = np.stack(rows)
    assert np.allclose(edit_window_log_odds(codes, lo, strand), window_log_odds(codes, lo, strand))
