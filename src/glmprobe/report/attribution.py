"""The report's attribution section: do the models look at the planted motifs?

Read from every ``glmprobe attribute`` record: ground-truth AUROC/AUPRC of |attribution| at
planted sites (strong sites; weak, inert and chance sites beside them; on ``glmprobe synth`` data
the attribution ceiling and each map's fraction of it; for a sum over several targets, each target's
own map against its own sites as well), the motifs modisco-lite +
TOMTOM recovered (with the answer key: how many of the planted ones, and which others were named), map agreement between methods and models, and the logos of the top
sequences. The tables are also written as ``attribution.csv`` and ``attribution_agreement.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from glmprobe.record import find_records, read_record

MAX_LOGOS = 2   # per model and method: the report shows the strongest sequences only


def _records(results_dir: Path):
    for path in find_records(results_dir):
        if "mlartifacts" in path.relative_to(results_dir).parts:
            continue
        rec = read_record(path)
        if rec.get("step") == "attribute":
            yield path.parent, rec


def _fmt(v, lo, hi) -> str:
    if pd.isna(v):
        return ""
    return f"{v:.3f}" if pd.isna(lo) else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def attribution_table(results_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, bytes]]]:
    """(per model x method scores, agreement rows, [(caption, logo PNG)])."""
    rows, agree, logos = [], [], []
    for folder, rec in _records(Path(results_dir)):
        tags, metrics, params = rec.get("tags") or {}, rec.get("metrics") or {}, rec.get("params") or {}
        model = tags.get("model") or folder.name
        dataset = tags.get("dataset", "")
        gt_file = folder / (rec.get("artifacts") or {}).get("ground_truth", "ground_truth.csv")
        gt = pd.read_csv(gt_file) if gt_file.exists() else pd.DataFrame()
        methods = sorted({k.split("/", 1)[1] for k in metrics
                          if k.startswith(("gt_auroc/", "motifs_recovered/")) and ":" not in k})
        explained = tags.get("target", "")
        # the explained output first, then each target's own map (a sum over several targets)
        targets = [explained] + (sorted(set(gt["target"]) - {explained}) if "target" in gt else [])
        for method, target in ((m, t) for m in methods for t in targets):
            own = target != explained
            at, ceiling_key = (f":{target}", f"gt_ceiling_auroc/{target}") if own else ("", "gt_ceiling_auroc")
            if own and f"gt_auroc/{method}{at}" not in metrics:
                continue
            row = {"dataset": dataset, "model": model, "method": method, "output": target}
            for cls, label in (("strong", "sites ≥ 0.5"), ("weak", "weak sites"), ("no_effect", "inert sites"),
                               ("chance", "chance sites")):
                g = gt[(gt.get("method") == method) & (gt.get("class") == cls)] if len(gt) else gt
                if len(g) and "target" in g:
                    g = g[g["target"] == target]
                if len(g):
                    r = g.iloc[0]
                    row[f"AUROC {label}"] = _fmt(r["auroc"], r.get("auroc_lo"), r.get("auroc_hi"))
                    if cls == "strong":
                        row["AUPRC sites ≥ 0.5"] = _fmt(r["auprc"], r.get("auprc_lo"), r.get("auprc_hi"))
            if ceiling_key in metrics:   # what the generator's own PWM predictor's map scores here
                lo, hi = (rec.get("ci") or {}).get(ceiling_key, [float("nan")] * 2)
                row["ceiling AUROC sites ≥ 0.5"] = _fmt(metrics[ceiling_key], lo, hi)
                if f"gt_auroc_of_ceiling/{method}{at}" in metrics:
                    row["fraction of ceiling"] = f"{metrics[f'gt_auroc_of_ceiling/{method}{at}']:.2f}"
            if own:   # motifs named in this target's own maps (the explained row counts every run)
                if f"motifs_recovered_in/{method}{at}" in metrics:
                    row["motifs recovered"] = str(int(metrics[f"motifs_recovered_in/{method}{at}"]))
                rows.append(row)
                continue
            found = params.get(f"motifs_recovered/{method}", "")
            row["motifs recovered"] = f"{int(metrics.get(f'motifs_recovered/{method}', 0))}: {found}" if found else "0"
            if f"motifs_recovered_planted/{method}" in metrics:   # scored against the answer key
                other = params.get(f"motifs_recovered_other/{method}", "")
                row["planted motifs recovered"] = (f"{int(metrics[f'motifs_recovered_planted/{method}'])} of "
                                                   f"{int(metrics.get('motifs_planted', 0))}")
                row["other motifs named"] = other or "none"
            rows.append(row)
            pngs = sorted((folder / "logos").glob(f"top*_{method}.png"))[:MAX_LOGOS]
            logos += [(f"{dataset} {model} {method}: {p.stem.split('_')[0]} sequence (window around the strongest "
                       "signal)", p.read_bytes()) for p in pngs]
        agree_file = folder / (rec.get("artifacts") or {}).get("agreement", "agreement.csv")
        if agree_file.exists():
            a = pd.read_csv(agree_file)
            a.insert(0, "dataset", dataset)
            agree.append(a)
    agreement = pd.concat(agree, ignore_index=True) if agree else pd.DataFrame()
    return pd.DataFrame(rows), agreement, logos


def section(results_dir: Path, outdir: Path):
    """(Section or None): the attribution section; writes its tables beside results.csv."""
    from glmprobe.atomic import atomic_path
    from glmprobe.report.html import Section

    table, agreement, logos = attribution_table(Path(results_dir))
    if table.empty:
        return None
    for name, df in (("attribution.csv", table), ("attribution_agreement.csv", agreement)):
        with atomic_path(Path(outdir) / name) as tmp:
            df.to_csv(tmp, index=False)
    text = ("Attribution maps scored against the planted motif sites (AUROC of |attribution| at the positions of "
            "sites with affinity ≥ 0.5, 95% bootstrap CI over sequences; weak (affinity < 0.5), inert (planted, no "
            "effect on this output) and chance sites for reference; on synthetic data beside the ceiling: the same "
            "score of the ISM map of the generator's own PWM predictor, which reads only the sequence, as the best "
            "sequence model would; when the sum over several targets is explained, each target's own map is also "
            "scored against that target's own sites, in the rows named by the output column) and "
            "the motifs that modisco-lite + TOMTOM recovered from them (q < 0.05).")
    cmp = agreement.drop(columns=[c for c in agreement.columns if c.endswith("_ci")]) if len(agreement) else None
    return Section("Attribution", text, table, logos, cmp, "Agreement between maps (per-sequence |attribution|)")
