"""The report's attribution table: each site class under its own label, planted motifs counted apart."""

from __future__ import annotations

import pandas as pd

from glmprobe.record import make_record, write_record
from glmprobe.report.attribution import attribution_table


def test_table_labels_each_site_class_and_counts_planted_motifs_apart(tmp_path):
    folder = tmp_path / "attribution" / "synth_mpra" / "dilres"
    folder.mkdir(parents=True)
    pd.DataFrame([{"method": "gxi", "class": c, "auroc": a, "auprc": 0.3, "auroc_lo": a - 0.01, "auroc_hi": a + 0.01,
                   "auprc_lo": 0.2, "auprc_hi": 0.4}
                  for c, a in (("strong", 0.9), ("weak", 0.7), ("no_effect", 0.55), ("chance", 0.6))]).to_csv(
        folder / "ground_truth.csv", index=False)
    write_record(folder, make_record(
        "attribute", "attribution/synth_mpra/dilres", tags={"dataset": "synth_mpra", "model": "dilres"},
        metrics={"gt_auroc/gxi": 0.9, "motifs_recovered/gxi": 3, "motifs_recovered_planted/gxi": 2,
                 "motifs_recovered_other/gxi": 1, "motifs_planted": 9},
        params={"motifs_recovered/gxi": "MA0039.5,MA0060.4,MA0062.4", "motifs_recovered_other/gxi": "MA0039.5"},
        artifacts={"ground_truth": "ground_truth.csv"}))
    row = attribution_table(tmp_path)[0].iloc[0]
    assert row["AUROC sites ≥ 0.5"] == "0.900 [0.890, 0.910]"
    assert row["AUROC weak sites"].startswith("0.700")         # the weak class, not the inert one
    assert row["AUROC inert sites"].startswith("0.550") and row["AUROC chance sites"].startswith("0.600")
    assert row["planted motifs recovered"] == "2 of 9" and row["other motifs named"] == "MA0039.5"
