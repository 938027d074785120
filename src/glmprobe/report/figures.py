"""The study's key figures, drawn from the per-configuration table of one dataset.

Each function returns a matplotlib Figure (or None when the data for it was not run);
:func:`save` writes it as PNG and SVG and returns the PNG bytes for embedding.
Error bars are each configuration's 95 % paired-bootstrap interval (test sequences × seeds,
the same kind for every contestant; see :mod:`glmprobe.report.paired`). When the ground truth is
known, a dashed line marks the oracle (the noiseless signal's score) and a dotted one the PWM
ceiling (what the true motifs score from the sequence alone).
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless, before pyplot
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from glmprobe.report.paired import CI_LABEL  # noqa: E402
from glmprobe.report.table import best_per, label  # noqa: E402

COLORS = {"gLM": "#1f77b4", "random-init": "#9aa5b1", "one-hot": "#d62728", "control": "#8c6d31"}
HEAD_ORDER = ["linear", "mlp", "token_cnn", "chip_cnn"]


def _err(df: pd.DataFrame) -> np.ndarray:
    lo = (df["test"] - df["ci_low"]).clip(lower=0).fillna(0).to_numpy()
    hi = (df["ci_high"] - df["test"]).clip(lower=0).fillna(0).to_numpy()
    return np.vstack([lo, hi])


def _ceilings(ax, ceilings: dict[str, float] | None, vertical: bool = False) -> None:
    """The known ceilings as reference lines: oracle dashed, PWM ceiling dotted."""
    for (name, value), style in zip((ceilings or {}).items(), ("--", ":")):
        (ax.axvline if vertical else ax.axhline)(value, color="k", ls=style, lw=1, label=f"{name} {value:.3f}")


def compare(cfg: pd.DataFrame, dataset: str, metric: str, ceilings: dict[str, float] | None = None):
    """gLM probes vs one-hot baselines: the best configuration per model, with CIs."""
    best = best_per(cfg, ["model"]).sort_values("test", kind="stable")
    if best.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(best) + 1.6))
    y = np.arange(len(best))
    ax.barh(y, best["test"], xerr=_err(best), color=[COLORS[k] for k in best["kind"]], capsize=3, alpha=0.9)
    ax.set_yticks(y, [label(r) for _, r in best.iterrows()], fontsize=8)
    _ceilings(ax, ceilings, vertical=True)
    for kind, color in COLORS.items():
        if kind in set(best["kind"]):
            ax.barh([np.nan], [np.nan], color=color, label=kind)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel(f"test {metric} (mean over seeds; {CI_LABEL})", fontsize=8)
    ax.set_title(f"{dataset}: best configuration per model")
    fig.tight_layout()
    return fig


def layer_sweep(cfg: pd.DataFrame, dataset: str, metric: str, ceilings: dict[str, float] | None = None):
    """Test metric per layer, one line per model x pooling-head (models with several layers)."""
    probes = cfg[(cfg.stage == "probe")].copy()
    probes["layer_n"] = pd.to_numeric(probes["layer"], errors="coerce")
    probes = probes.dropna(subset=["layer_n"])
    multi = probes.groupby("model")["layer_n"].nunique()
    probes = probes[probes.model.isin(multi[multi > 1].index)]
    if probes.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for (model, pooling, head), g in probes.groupby(["model", "pooling", "head"]):
        g = g.sort_values("layer_n")
        line, = ax.plot(g["layer_n"], g["test"], marker="o", ms=3, label=f"{model} {pooling}-{head}",
                        ls="--" if g["random_init"].iloc[0] else "-")
        if g["ci_low"].notna().any():
            ax.fill_between(g["layer_n"], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.15)
    onehot = cfg[cfg.kind == "one-hot"]
    if not onehot.empty:
        ax.axhline(onehot.iloc[0]["test"], color=COLORS["one-hot"], lw=1.5, label=f"best one-hot ({label(onehot.iloc[0])})")
    _ceilings(ax, ceilings)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(f"{dataset}: layer sweep")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def heads(cfg: pd.DataFrame, dataset: str, metric: str, ceilings: dict[str, float] | None = None):
    """Pooled linear vs MLP vs token CNN per model (best layer/pooling per head, chosen on valid)."""
    probes = cfg[cfg.stage == "probe"]
    if probes.empty or probes["head"].nunique() < 2:
        return None
    best = best_per(probes, ["model", "head"])
    models = sorted(best["model"].unique())
    present = [h for h in HEAD_ORDER if h in set(best["head"])] + sorted(set(best["head"]) - set(HEAD_ORDER))
    width = 0.8 / len(present)
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(models) + 2), 4))
    for i, head in enumerate(present):
        g = best[best["head"] == head].set_index("model").reindex(models)
        x = np.arange(len(models)) + (i - (len(present) - 1) / 2) * width
        ax.bar(x, g["test"], width, yerr=_err(g), capsize=2, label=head)
    _ceilings(ax, ceilings)
    ax.set_xticks(np.arange(len(models)), models, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"test {metric}")
    ax.set_title(f"{dataset}: probe heads (best layer per head)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def random_control(cfg: pd.DataFrame, dataset: str, metric: str, twins: dict[str, str],
                   ceilings: dict[str, float] | None = None):
    """Pre-trained vs random-init twin, per head (best layer per head)."""
    pairs = [(m, r) for r, m in twins.items() if m in set(cfg.model) and r in set(cfg.model)]
    if not pairs:
        return None
    best = best_per(cfg[cfg.stage == "probe"], ["model", "head"])
    labels, pre, rnd = [], [], []
    for model, rand in pairs:
        for head in sorted(set(best[best.model == model]["head"]) & set(best[best.model == rand]["head"])):
            labels.append(f"{model}\n{head}")
            pre.append(best[(best.model == model) & (best["head"] == head)].iloc[0])
            rnd.append(best[(best.model == rand) & (best["head"] == head)].iloc[0])
    if not labels:
        return None
    pre, rnd = pd.DataFrame(pre), pd.DataFrame(rnd)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(labels) + 2), 4))
    ax.bar(x - 0.2, pre["test"], 0.4, yerr=_err(pre), capsize=2, color=COLORS["gLM"], label="pre-trained")
    ax.bar(x + 0.2, rnd["test"], 0.4, yerr=_err(rnd), capsize=2, color=COLORS["random-init"], label="random init")
    _ceilings(ax, ceilings)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(f"test {metric}")
    ax.set_title(f"{dataset}: pre-trained vs random-init control")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def prediction_plot(predictions_csv: str | Path, task: str | None, out_png: str | Path, title: str = "") -> Path:
    """Test predictions of the first seed: predicted vs true (regression) or ROC curves (binary)."""
    df = pd.read_csv(predictions_csv)
    df = df[df["split"] == "test"] if "split" in df else df
    if "seed" in df and len(df):
        df = df[df["seed"] == df["seed"].iloc[0]]
    if df.empty:
        raise ValueError("no test predictions")
    fig, ax = plt.subplots(figsize=(4, 4))
    for target, g in df.groupby("target") if "target" in df else [("", df)]:
        g = g.dropna(subset=["y_true", "y_pred"])
        if task in ("binary", "multilabel"):
            from sklearn.metrics import roc_curve

            if g["y_true"].nunique() < 2:
                continue
            fpr, tpr, _ = roc_curve(g["y_true"], g["y_pred"])
            ax.plot(fpr, tpr, label=str(target))
        else:
            ax.scatter(g["y_true"], g["y_pred"], s=4, alpha=0.5, label=str(target))
    if task in ("binary", "multilabel"):
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
    else:
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=80)
    plt.close(fig)
    return out_png


def save(fig, folder: Path, name: str) -> bytes:
    """Write ``name.png`` and ``name.svg`` under ``folder``; return the PNG bytes."""
    from glmprobe.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    png = buf.getvalue()
    with atomic_path(folder / f"{name}.png") as tmp:
        tmp.write_bytes(png)
    with atomic_path(folder / f"{name}.svg") as tmp:
        fig.savefig(tmp, format="svg")
    plt.close(fig)
    return png
