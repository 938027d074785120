"""The tidy results table and what is read off it: best configurations, summaries, verdicts.

One row per (dataset, target, model, revision, layer, pooling, head, seed, split, metric):
``value``, ``n`` and, on the aggregated rows (``seed == "mean"``), a 95 % confidence interval
over the replicate seeds. Best layers/heads are chosen on the *validation* metric and
reported on test, so no choice is made by looking at the test set.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from glmprobe.errors import UserError
from glmprobe.record import find_records, read_record

COLUMNS = ["dataset", "target", "model", "revision", "layer", "pooling", "head", "seed", "split", "metric",
           "value", "n", "ci_low", "ci_high", "stage", "family", "random_init", "task", "key", "loss"]
log = logging.getLogger(__name__)
LOWER_IS_BETTER = {"mse", "loss"}
ALL_TARGETS = "all"   # the `target` of a metric averaged over targets


def t_ci(values, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean over replicates (NaN with fewer than 2)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) < 2:
        return (math.nan, math.nan)
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return (float(v.mean() - half), float(v.mean() + half))


def _split_key(key: str) -> tuple[str, str, str] | None:
    """``test_pearson/cellA`` -> (test, pearson, cellA); ``test_pearson`` -> (test, pearson, all)."""
    name, _, target = key.partition("/")
    split, sep, metric = name.partition("_")
    if not sep or split not in ("train", "valid", "val", "test"):
        return None
    return ("valid" if split == "val" else split), metric, (target or ALL_TARGETS)


def model_info(results_dir: Path) -> dict[str, dict]:
    """Per model id: family, random_init, source, revision (from the embedding manifests)."""
    info: dict[str, dict] = {}
    # walk the whole tree: a Nextflow-staged tree does not keep the embeddings/<dataset>/<model> layout
    for manifest in sorted(p for p in results_dir.rglob("manifest.json") if "mlartifacts" not in p.parts):
        try:
            m = json.loads(manifest.read_text()).get("model", {})
        except (OSError, json.JSONDecodeError):
            continue
        mid = m.get("id") or manifest.parent.name
        info.setdefault(mid, {k: m.get(k) for k in ("family", "random_init", "source", "revision")})
    return info


def _truthy(v) -> bool:
    return str(v).lower() in ("true", "1", "yes")


def record_rows(record: dict, models: dict[str, dict]) -> list[dict]:
    """Tidy rows of one probe/baseline record."""
    tags = record.get("tags") or {}
    step = record.get("step")
    if step == "baseline":
        arch = tags.get("arch") or tags.get("head") or tags.get("model")
        # simple controls (k-mer / nucleotide-content models) are baselines tagged kind=control
        base = {"model": arch, "revision": "", "layer": "", "pooling": "", "head": arch,
                "family": "control" if tags.get("kind") == "control" else "onehot", "random_init": False}
    else:
        mid = tags.get("model")
        m = models.get(mid, {})
        base = {"model": mid, "revision": tags.get("revision") or m.get("revision") or "",
                "layer": tags.get("layer"), "pooling": tags.get("pooling"), "head": tags.get("head"),
                "family": tags.get("family") or m.get("family") or "",
                "random_init": _truthy(tags.get("random_init", m.get("random_init", False)))}
    base.update(dataset=tags.get("dataset"), stage=step, task=tags.get("task"), key=record.get("key"),
                loss=(record.get("params") or {}).get("loss"))   # a task-specific loss sets the headline
    n = record.get("n") or {}
    rows = []
    reps = record.get("replicates") or []
    for rep in reps:
        for k, v in (rep.get("metrics") or {}).items():
            parts = _split_key(k)
            if parts and v is not None:
                rows.append({**base, "seed": str(rep.get("seed")), "split": parts[0], "metric": parts[1],
                             "target": parts[2], "value": float(v), "n": n.get(parts[0]),
                             "ci_low": math.nan, "ci_high": math.nan})
    cis = record.get("ci") or {}
    for k, v in (record.get("metrics") or {}).items():
        parts = _split_key(k)
        if not parts or v is None:
            continue
        ci = cis.get(k)
        if not (isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci):
            ci = t_ci([(r.get("metrics") or {}).get(k) for r in reps])
        rows.append({**base, "seed": "mean", "split": parts[0], "metric": parts[1], "target": parts[2],
                     "value": float(v), "n": n.get(parts[0]), "ci_low": ci[0], "ci_high": ci[1]})
    return rows


def results_table(results_dir: str | Path) -> pd.DataFrame:
    """Every probe and baseline record under ``results_dir`` as one tidy DataFrame."""
    results_dir = Path(results_dir)
    models = model_info(results_dir)
    rows = []
    for path in find_records(results_dir):   # by the record's step, not its folder (staged trees differ)
        if "mlartifacts" in path.relative_to(results_dir).parts:
            continue
        try:
            record = read_record(path)
        except (OSError, ValueError) as exc:  # one broken record must not sink the report
            log.warning("%s: unreadable record skipped (%s)", path, exc)
            continue
        if record.get("step") in ("probe", "baseline"):
            rows.extend(record_rows(record, models))
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(
        ["dataset", "stage", "model", "layer", "pooling", "head", "split", "metric", "target", "seed"],
        key=lambda s: s.astype(str), kind="stable").reset_index(drop=True)


def dataset_task(df: pd.DataFrame, dataset: str) -> str | None:
    tasks = df.loc[df.dataset == dataset, "task"].dropna().unique()
    return str(tasks[0]) if len(tasks) else None


def primary_metric(df: pd.DataFrame, dataset: str, task: str | None = None) -> str:
    """The headline metric the fits used (:func:`glmprobe.train.fit.headline`: the records' loss,
    e.g. splicing's diff_kl -> spearman, else the task's), else the first test metric present."""
    from glmprobe.train.fit import headline

    task = task or dataset_task(df, dataset)
    metrics = set(df.loc[(df.dataset == dataset) & (df.split == "test"), "metric"])
    losses = df.loc[df.dataset == dataset, "loss"].dropna().unique() if "loss" in df else []
    try:
        want = headline(task, str(losses[0]) if len(losses) else None)
    except (KeyError, UserError):   # no known task or loss: fall through to what is there
        want = None
    if want in metrics:
        return want
    for m in ("pearson", "auroc", "spearman", "auprc", "r2"):
        if m in metrics:
            return m
    return sorted(metrics)[0] if metrics else "pearson"


def configs(df: pd.DataFrame, dataset: str, metric: str) -> pd.DataFrame:
    """One row per fitted configuration of ``dataset``: test mean + CI, valid mean, kind."""
    sel = df[(df.dataset == dataset) & (df.metric == metric) & (df.target == ALL_TARGETS) & (df.seed == "mean")]
    keys = ["model", "layer", "pooling", "head", "stage", "family", "random_init", "key"]
    test = sel[sel.split == "test"].set_index("key")
    valid = sel[sel.split == "valid"].set_index("key")["value"].rename("valid")
    out = test[[k for k in keys if k != "key"] + ["value", "ci_low", "ci_high", "n"]].join(valid, how="left")
    out = out.rename(columns={"value": "test"}).reset_index()
    out["kind"] = np.select([out.family == "onehot", out.family == "control", out.random_init.astype(bool)],
                            ["one-hot", "control", "random-init"], "gLM")
    # choose on valid only: a configuration without a valid score cannot be selected (never on test)
    missing = out["valid"].isna()
    if missing.any():
        log.warning("%d configuration(s) without a valid %s are left out of the selection", int(missing.sum()), metric)
        out = out[~missing]
    out["select_on"] = "valid"
    out["score"] = out["valid"]
    if metric in LOWER_IS_BETTER:
        out["score"] = -out["score"]
    return out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def best_per(cfg: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The best configuration (highest selection score) per group."""
    if cfg.empty:
        return cfg
    return cfg.sort_values("score", ascending=False, kind="stable").groupby(by, sort=False, dropna=False).head(1)


def label(row) -> str:
    if row["stage"] == "baseline":
        return str(row["model"])
    return f"{row['model']} L{row['layer']} {row['pooling']}-{row['head']}"


def fmt_ci(row) -> str:
    if pd.isna(row["ci_low"]):
        return f"{row['test']:.3f}"
    return f"{row['test']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def summary(df: pd.DataFrame, tasks: dict[str, str] | None = None,
            cfgs: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Compact table: per dataset and model/arch and head, the best layer (chosen on valid) on test.

    ``cfgs`` gives a dataset's configuration table (e.g. with paired-bootstrap intervals) instead of
    the records' own intervals.
    """
    rows = []
    for ds in sorted(df.dataset.dropna().unique()):
        metric = primary_metric(df, ds, (tasks or {}).get(ds))
        cfg = (cfgs or {}).get(ds)
        cfg = configs(df, ds, metric) if cfg is None else cfg
        for _, r in best_per(cfg, ["model", "head"]).iterrows():
            rows.append({"dataset": ds, "model": r["model"], "kind": r["kind"],
                         "head": r["head"] if r["stage"] == "probe" else "(one-hot baseline)",
                         "pooling": r["pooling"] if r["stage"] == "probe" else "",
                         "best_layer": r["layer"] if r["stage"] == "probe" else "",
                         "metric": f"test_{metric}", "mean": r["test"], "ci_low": r["ci_low"],
                         "ci_high": r["ci_high"], "selected_on": r["select_on"]})
    return pd.DataFrame(rows)
