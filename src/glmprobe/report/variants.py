"""The report's variant-effect section: a CAGI5-style table (paper.md §7, task 3) from variants records.

One row per (variant set, model, score, effect target): r per group (locus) and over all
variants, each with its 95 % bootstrap interval, read from every ``glmprobe variants`` record's
``correlations.csv``. Supervised scores are shown against the signed effect and zero-shot scores
against |effect|, as the study reported them; the full table (both targets, Pearson and
Spearman, every score) is written to ``variants.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from glmprobe.record import find_records, read_record

HEADLINE = {"zeroshot": "abs", "baseline": "signed", "probe": "signed"}


def variants_table(results_dir: Path) -> pd.DataFrame:
    """Every variants record's correlations, tidy, with set/model/kind columns."""
    frames = []
    for path in find_records(results_dir):
        rec = read_record(path)
        if rec.get("step") != "variants":
            continue
        corr = path.parent / (rec.get("artifacts") or {}).get("correlations", "correlations.csv")
        if not corr.exists():
            continue
        t = pd.read_csv(corr)
        tags = rec.get("tags") or {}
        t.insert(0, "kind", tags.get("kind", ""))
        t.insert(0, "model", tags.get("model", ""))
        t.insert(0, "variant_set", tags.get("variant_set", ""))
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def cagi_style(table: pd.DataFrame, metric: str = "pearson") -> pd.DataFrame:
    """Wide table: one row per (set, model, score, target), one "r [lo, hi]" column per group."""
    if table.empty:
        return table
    t = table[(table["metric"] == metric) & (table["target"] == table["kind"].map(HEADLINE).fillna("signed"))]
    t = t.assign(cell=[f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]" if pd.notna(v) else "" for v, lo, hi in
                       t[["value", "lo", "hi"]].itertuples(index=False)],
                 effect=t["target"].map({"signed": "effect", "abs": "|effect|"}))
    wide = t.pivot_table(index=["variant_set", "model", "kind", "score", "effect"], columns="group",
                         values="cell", aggfunc="first").reset_index()
    groups = [c for c in wide.columns[5:] if c != "all"] + (["all"] if "all" in wide.columns else [])
    wide.columns.name = None
    return wide[[*wide.columns[:5], *groups]].fillna("")


def section(results_dir: Path, outdir: Path):
    """(Section or None): the variant-effect section; writes ``variants.csv`` beside results.csv."""
    from glmprobe.atomic import atomic_path
    from glmprobe.report.html import Section

    table = variants_table(Path(results_dir))
    if table.empty:
        return None
    with atomic_path(Path(outdir) / "variants.csv") as tmp:
        table.to_csv(tmp, index=False)
    verdict = ("Variant effects, Pearson r per locus with 95% bootstrap intervals (as the study's CAGI5 table): "
               "supervised scores (alt - ref prediction) against the signed effect, zero-shot scores against "
               "|effect|. Every score against both, and Spearman, is in variants.csv.")
    return Section("Variant effects", verdict, cagi_style(table))
