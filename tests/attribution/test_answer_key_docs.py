"""docs/attribution.md's answer key names exactly what `glmprobe synth` plants."""

from __future__ import annotations

import re
from pathlib import Path

from glmprobe.data.motifs import fetch_motif
from glmprobe.data.synth import MPRA_RULES, ChipParams

DOC = Path(__file__).resolve().parents[2] / "docs" / "attribution.md"


def _section(text: str, dataset: str) -> str:
    key = text.split("## The answer key", 1)[1].split("\n## ", 1)[0]
    return next(item for item in key.split("\n* ") if item.startswith(f"`{dataset}`"))


def test_the_chip_answer_key_is_the_motif_synth_plants_and_its_label():
    chip = ChipParams()
    motif = fetch_motif(chip.motif)
    assert motif.name == chip.target == "CTCF"          # the label is named after the planted motif
    text = " ".join(_section(DOC.read_text(), "synth_chip").split())
    assert f"**{motif.name}** ({chip.motif})" in text and f"binary target `{chip.target}`" in text
    for decoy in chip.decoys:
        assert fetch_motif(decoy).name in text
    # no MPRA-only motif is claimed to be planted in the ChIP-like set
    assert "GATA1 is an MPRA motif and is not planted" in text
    assert "MA0035.5" not in (chip.motif, *chip.decoys)


def test_the_mpra_answer_key_lists_every_planted_rule():
    text = " ".join(_section(DOC.read_text(), "synth_mpra").split())
    listed = re.findall(r"\((MA\d{4}\.\d)", text)
    assert listed == [r.matrix_id for r in MPRA_RULES]
    for rule in MPRA_RULES:
        assert f"{rule.name} ({rule.matrix_id}" in text
