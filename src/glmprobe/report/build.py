"""``glmprobe report``: results.csv, figures (PNG + SVG) and a self-contained index.html.

Everything is read from the records under the results folder, so the report can be
rebuilt at any time (after adding a model, or from a Nextflow run's outdir).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd

from glmprobe import __version__
from glmprobe.atomic import atomic_path, write_text
from glmprobe.errors import UserError
from glmprobe.report import table as T

log = logging.getLogger(__name__)


@dataclass
class Report:
    results_csv: Path
    index_html: Path
    figures: list[Path]
    summary: pd.DataFrame
    verdicts: dict[str, str]


def find_truth(results_dir: Path) -> Path | None:
    """The synthetic benchmark's truth.json: beside the datasets sheet that was run, or under synth/."""
    candidates = [results_dir / "synth" / "truth.json"]
    params_used = results_dir / "pipeline_info" / "params_used.yaml"
    if params_used.is_file():
        import yaml

        try:
            sheet = (yaml.safe_load(params_used.read_text()) or {}).get("input")
        except yaml.YAMLError:
            sheet = None
        if sheet:
            candidates.insert(0, Path(sheet).parent / "truth.json")
    return next((p for p in candidates if p.is_file()), None)


CEILINGS = {"oracle": "oracle", "pwm_ceiling": "PWM ceiling"}  # truth.json key -> label in the report


def ceilings(truth: Path | None) -> dict[str, dict[str, dict]]:
    """{dataset: {"oracle" | "pwm_ceiling": {"metric": ..., "mean": ...}}} from truth.json (empty when unknown).

    The oracle scores the noiseless signal (it knows which sites were planted); the PWM ceiling
    is what the true motifs score from the sequence alone (:mod:`glmprobe.data.ceiling`)."""
    if truth is None:
        return {}
    try:
        data = json.loads(Path(truth).read_text())
        return {ds: {k: d[k] for k in CEILINGS if k in d} for ds, d in data.get("datasets", {}).items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read the oracle scores ({exc})", path=truth) from exc


def ceiling_lines(known: dict[str, dict], metric: str) -> dict[str, float]:
    """{label: value} of the ceilings scored with ``metric``, oracle first."""
    return {CEILINGS[k]: float(v["mean"]) for k, v in known.items() if v.get("metric") == metric}


def random_twins(results_dir: Path) -> dict[str, str]:
    """{random-init model id: its pre-trained twin} (same source, random_init false)."""
    info = T.model_info(results_dir)
    pretrained = {m.get("source"): mid for mid, m in info.items() if not m.get("random_init")}
    return {mid: pretrained[m.get("source")] for mid, m in info.items()
            if m.get("random_init") and m.get("source") in pretrained}


def record_folders(results_dir: Path) -> dict[str, Path]:
    """{record key: its folder} for every probe/baseline record (layouts differ under Nextflow)."""
    from glmprobe.record import find_records, read_record

    out = {}
    for path in find_records(results_dir):
        if "mlartifacts" in path.relative_to(results_dir).parts:
            continue
        try:
            rec = read_record(path)
        except (OSError, ValueError):
            continue
        if rec.get("step") in ("probe", "baseline") and rec.get("key"):
            out[rec["key"]] = path.parent
    return out


def build_report(results_dir: str | Path, outdir: str | Path | None = None, *, truth: str | Path | None = None) -> Report:
    from glmprobe.report import figures as F
    from glmprobe.report import verdicts as V
    from glmprobe.report.html import Section, render

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError("results folder does not exist", path=results_dir)
    outdir = Path(outdir) if outdir else results_dir / "report"
    fig_dir = outdir / "figures"
    df = T.results_table(results_dir)
    with atomic_path(outdir / "results.csv") as tmp:
        df.to_csv(tmp, index=False)
    truth = Path(truth) if truth else find_truth(results_dir)
    known = ceilings(truth)
    twins = random_twins(results_dir)
    preds = V.Predictions(record_folders(results_dir))
    datasets = sorted(df.dataset.dropna().unique())
    cfgs, metrics, comparisons = {}, {}, []
    for ds in datasets:     # one interval kind for all, then the paired tests of every dataset
        task = T.dataset_task(df, ds) or "regression"
        metrics[ds] = metric = T.primary_metric(df, ds)
        cfgs[ds] = V.with_bootstrap_ci(T.configs(df, ds, metric), preds, task, metric)
        comparisons += V.compare_dataset(cfgs[ds], preds, ds, task, metric)
    V.adjust(comparisons)   # Holm over every comparison the report states
    table_cmp = pd.DataFrame([c.row() for c in comparisons])
    with atomic_path(outdir / "comparisons.csv") as tmp:
        table_cmp.to_csv(tmp, index=False)
    summary = T.summary(df, cfgs=cfgs)
    sections, saved, verdicts = [], [], {}
    for ds in datasets:
        metric, cfg = metrics[ds], cfgs[ds]
        line = ceiling_lines(known.get(ds, {}), metric)
        verdicts[ds] = V.verdict(ds, metric, comparisons, line)
        figs = []
        for name, caption, fig in (
                ("compare", "gLM probes vs one-hot models (best configuration per model, chosen on valid)",
                 F.compare(cfg, ds, metric, line)),
                ("layers", "Layer sweep (dashed lines: random-init controls)", F.layer_sweep(cfg, ds, metric, line)),
                ("heads", "Pooled linear vs MLP vs token CNN", F.heads(cfg, ds, metric, line)),
                ("random_init", "Pre-trained vs random-init control", F.random_control(cfg, ds, metric, twins, line))):
            if fig is None:
                continue
            png = F.save(fig, fig_dir, f"{ds}_{name}")
            saved += [fig_dir / f"{ds}_{name}.png", fig_dir / f"{ds}_{name}.svg"]
            figs.append((caption, png))
        table = summary[summary.dataset == ds].drop(columns=["dataset"])
        cmp_ds = table_cmp[table_cmp.dataset == ds].drop(columns=["dataset"]) if len(table_cmp) else None
        sections.append(Section(ds, verdicts[ds], table, figs, cmp_ds))
    from glmprobe.report import attribution as A
    from glmprobe.report import variants as VE

    sections += [s for s in (A.section(results_dir, outdir), VE.section(results_dir, outdir)) if s is not None]
    meta = {"results": str(results_dir.resolve()), "glmprobe": __version__,
            "records": str(df["key"].nunique()), "oracle": str(truth) if truth else "unknown"}
    index = outdir / "index.html"
    write_text(index, render("glmprobe report", sections, meta, [V.MULTIPLICITY_NOTE]))
    return Report(outdir / "results.csv", index, saved, summary, verdicts)


def format_summary(summary: pd.DataFrame) -> str:
    """The compact results table for the terminal."""
    if summary.empty:
        return "(no probe or baseline results)"
    lines = []
    for ds, g in summary.groupby("dataset", sort=True):
        lines.append(f"{ds} ({g['metric'].iloc[0]}, mean [95% paired-bootstrap CI]; "
                     f"best layer chosen on {g['selected_on'].iloc[0]})")
        for _, r in g.sort_values("mean", ascending=False).iterrows():
            ci = "" if pd.isna(r["ci_low"]) else f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
            where = f"L{r['best_layer']} {r['pooling']}-{r['head']}" if r["best_layer"] != "" else r["head"]
            lines.append(f"  {r['model']:<22} {where:<28} {r['mean']:.3f}{ci}")
    return "\n".join(lines)


@click.command("report")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--outdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write results.csv, index.html and figures/. Default: RESULTS_DIR/report.")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="truth.json of the synthetic benchmark (oracle lines). Default: found beside the datasets sheet.")
def report_command(results_dir: Path, outdir: Path | None, truth: Path | None) -> None:
    """Write the tidy results.csv, figures (PNG + SVG) and a self-contained index.html."""
    rep = build_report(results_dir, outdir, truth=truth)
    click.echo(format_summary(rep.summary))
    for v in rep.verdicts.values():
        click.echo(f"verdict: {v}")
    click.echo(f"Wrote {rep.results_csv}, {rep.index_html} and {len(rep.figures)} figure files")
