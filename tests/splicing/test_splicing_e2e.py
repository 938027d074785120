"""Splicing end to end, offline: `glmprobe prepare -> embed -> probe / baseline` on a tiny model.

Each half is tokenised and embedded on its own (never across the junction), probes and the
one-hot baseline are two-tower models trained with diff_KL, and the test split is the study's
filtered test set, with its size in the record (issue 9, defect 6).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tests.splicing.conftest import embed_splicing, glmprobe_cli

from glmprobe.data.dataset import read_dataset

FAST = ["--trials", "1", "--replicates", "1", "--max-epochs", "2", "--fixed", '{"batch_size": 16}', "--device",
        "cpu", "--quiet"]


@pytest.mark.slow
def test_splicing_prepare_embed_probe_baseline(tmp_path, splicing_dataset, tiny_nt):
    dataset, _ = splicing_dataset
    ds = read_dataset(dataset)
    store = embed_splicing(tmp_path, dataset, tiny_nt)

    probes = tmp_path / "probes"
    glmprobe_cli("probe", "--dataset", dataset, "--store", store, "--outdir", probes, "--layer", "-1",
                 "--head", "linear", "--head", "two_tower", *FAST)
    linear = json.loads((probes / "L1" / "mean-linear" / "record.json").read_text())
    tower = json.loads((probes / "L1" / "tokens-two_tower" / "record.json").read_text())
    for rec in (linear, tower):
        assert rec["params"]["test_filter"] and rec["n"]["test"] == rec["params"]["n_test_filtered"]
        assert rec["params"]["n_test_before_filter"] == int((ds.split == "test").sum())
        assert rec["params"]["segments"] == "400;400"
        assert np.isfinite(rec["metrics"]["test_spearman"])
    assert tower["params"]["loss"] == "diff_kl" and "val_spearman" in tower["replicates"][0]["history"][0]
    assert linear["params"]["input_shape"] == "16"                      # two pooled halves, concatenated

    glmprobe_cli("baseline", "--dataset", dataset, "--arch", "mtsplice", "--outdir", tmp_path, *FAST)
    base = json.loads((tmp_path / "baselines" / "splice" / "mtsplice" / "record.json").read_text())
    assert base["params"]["loss"] == "diff_kl" and base["n"]["test"] == base["params"]["n_test_filtered"]
    preds = pd.read_csv(tmp_path / "baselines" / "splice" / "mtsplice" / "predictions.csv")
    assert preds[preds.split == "test"].id.nunique() == base["params"]["n_test_filtered"]
