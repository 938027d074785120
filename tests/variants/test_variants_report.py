"""The report's CAGI5-style variant table, from real variants records."""

from __future__ import annotations

import pandas as pd
from variant_inputs import CHR1, other

from glmprobe.report.html import render
from glmprobe.report.variants import cagi_style, section
from glmprobe.steps.variants import variants_step


def test_cagi_style_table_from_records(genome, tmp_path):
    from glmprobe.glm.adapter import ModelSpec
    from glmprobe.glm.tiny import save_tiny_model

    model = save_tiny_model(tmp_path / "m", "char", hidden=16, max_tokens=64)
    rows = [f"chr1\t{p}\t{CHR1[p - 1]}\t{other(CHR1[p - 1])}\t{(p % 7) / 3:.3f}\t{'L1' if p < 60 else 'L2'}"
            for p in range(40, 80)]
    path = tmp_path / "set1.tsv"
    path.write_text("chrom\tpos\tref\talt\teffect\tlocus\n" + "\n".join(rows) + "\n")
    spec = ModelSpec(id="tiny", source=str(model), family="hf-mlm")
    res = tmp_path / "results"
    variants_step([path], genome, res / "variants" / "set1" / "tiny", spec=spec, length=30, scores=["l2", "llr"],
                  n_boot=50, device="cpu")
    sec = section(res, res / "report")
    table = sec.table
    assert list(table.columns) == ["variant_set", "model", "kind", "score", "effect", "L1", "L2", "all"]
    assert set(table["score"]) == {"l2_L2", "llr"} and set(table["effect"]) == {"|effect|"}
    assert table.loc[0, "L1"].count("[") == 1
    full = pd.read_csv(res / "report" / "variants.csv")
    assert set(full["target"]) == {"signed", "abs"} and len(full) == 2 * 3 * 2 * 2   # scores x groups x targets x metrics
    assert "Variant effects" in render("r", [sec], {})
    assert cagi_style(pd.DataFrame()).empty
