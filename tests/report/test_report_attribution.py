"""The report's attribution section: ground-truth scores, recovered motifs, agreement and logos."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from glmprobe.record import make_record, write_record  # noqa: E402
from glmprobe.report.attribution import attribution_table, section  # noqa: E402


def _fake(folder):
    (folder / "logos").mkdir(parents=True)
    fig = plt.figure(figsize=(1, 1))
    for i in (1, 2, 3):
        fig.savefig(folder / "logos" / f"top{i}_gxi.png")
    plt.close(fig)
    pd.DataFrame([{"method": "gxi", "class": c, "auroc": a, "auprc": 0.3, "auroc_lo": a - 0.02, "auroc_hi": a + 0.02,
                   "auprc_lo": 0.25, "auprc_hi": 0.35} for c, a in (("strong", 0.93), ("no_effect", 0.6),
                                                                 ("chance", 0.51))]).to_csv(
        folder / "ground_truth.csv", index=False)
    pd.DataFrame([{"model_a": "cnn", "method_a": "gxi", "model_b": "cnn", "method_b": "ism", "pearson": 0.8,
                   "pearson_ci": "", "n_seq": 10}]).to_csv(folder / "agreement.csv", index=False)
    write_record(folder, make_record(
        "attribute", "attribution/d/cnn", tags={"dataset": "d", "model": "cnn"},
        metrics={"gt_auroc/gxi": 0.93, "motifs_recovered/gxi": 2},
        params={"motifs_recovered/gxi": "GATA1,SPI1"},
        artifacts={"ground_truth": "ground_truth.csv", "agreement": "agreement.csv", "logos": "logos"}))


def test_section_lists_scores_motifs_agreement_and_top_logos(tmp_path):
    _fake(tmp_path / "attribution" / "d" / "cnn")
    table, agreement, logos = attribution_table(tmp_path)
    row = table.iloc[0]
    assert (row["dataset"], row["model"], row["method"]) == ("d", "cnn", "gxi")
    assert row["AUROC sites ≥ 0.5"] == "0.930 [0.910, 0.950]" and row["AUROC chance sites"].startswith("0.510")
    assert row["motifs recovered"] == "2: GATA1,SPI1"
    assert len(agreement) == 1 and agreement.iloc[0]["pearson"] == 0.8
    assert len(logos) == 2 and logos[0][1][:4] == b"\x89PNG"      # the top two sequences only
    sec = section(tmp_path, tmp_path / "report")
    assert sec.dataset == "Attribution" and (tmp_path / "report" / "attribution.csv").exists()


def test_no_attribution_records_no_section(tmp_path):
    assert section(tmp_path, tmp_path / "report") is None


def test_the_ceiling_and_each_maps_fraction_of_it_are_shown_when_recorded(tmp_path):
    folder = tmp_path / "attribution" / "d" / "cnn"
    _fake(folder)
    rec = make_record("attribute", "attribution/d/cnn", tags={"dataset": "d", "model": "cnn"},
                      metrics={"gt_auroc/gxi": 0.837, "gt_ceiling_auroc": 0.93, "gt_auroc_of_ceiling/gxi": 0.9},
                      artifacts={"ground_truth": "ground_truth.csv"})
    rec["ci"]["gt_ceiling_auroc"] = [0.92, 0.94]
    write_record(folder, rec)
    row = attribution_table(tmp_path)[0].iloc[0]
    assert row["ceiling AUROC sites ≥ 0.5"] == "0.930 [0.920, 0.940]" and row["fraction of ceiling"] == "0.90"


def test_each_targets_own_map_gets_a_row_beside_the_sum(tmp_path):
    folder = tmp_path / "attribution" / "d" / "cnn"
    folder.mkdir(parents=True)
    pd.DataFrame([{"target": t, "method": m, "class": "strong", "auroc": a, "auprc": 0.3, "auroc_lo": a - 0.01,
                   "auroc_hi": a + 0.01, "auprc_lo": 0.2, "auprc_hi": 0.4}
                  for t, m, a in (("sum", "gxi", 0.85), ("sum", "pwm_ceiling", 0.93), ("cellA", "gxi", 0.9),
                                  ("cellA", "pwm_ceiling", 0.94), ("cellB", "gxi", 0.87),
                                  ("cellB", "pwm_ceiling", 0.95))]).to_csv(folder / "ground_truth.csv", index=False)
    rec = make_record("attribute", "attribution/d/cnn", tags={"dataset": "d", "model": "cnn", "target": "sum"},
                      metrics={"gt_auroc/gxi": 0.85, "gt_ceiling_auroc": 0.93, "gt_auroc_of_ceiling/gxi": 0.85 / 0.93,
                               "gt_auroc/gxi:cellA": 0.9, "gt_ceiling_auroc/cellA": 0.94,
                               "gt_auroc_of_ceiling/gxi:cellA": 0.9 / 0.94, "gt_auroc/gxi:cellB": 0.87,
                               "gt_ceiling_auroc/cellB": 0.95, "gt_auroc_of_ceiling/gxi:cellB": 0.87 / 0.95,
                               "motifs_recovered/gxi": 3, "motifs_recovered_in/gxi:cellB": 2},
                      params={"motifs_recovered/gxi": "GATA1,HNF4A,NFYA"},
                      artifacts={"ground_truth": "ground_truth.csv"})
    write_record(folder, rec)
    table = attribution_table(tmp_path)[0]
    assert list(table["output"]) == ["sum", "cellA", "cellB"] and set(table["method"]) == {"gxi"}
    rows = table.set_index("output")
    assert rows.loc["sum", "AUROC sites ≥ 0.5"].startswith("0.850") and rows.loc["sum", "fraction of ceiling"] == "0.91"
    assert rows.loc["cellB", "AUROC sites ≥ 0.5"] == "0.870 [0.860, 0.880]"
    assert rows.loc["cellB", "ceiling AUROC sites ≥ 0.5"] == "0.950" and rows.loc["cellB", "fraction of ceiling"] == "0.92"
    assert rows.loc["cellB", "motifs recovered"] == "2" and rows.loc["sum", "motifs recovered"].startswith("3: GATA1")
