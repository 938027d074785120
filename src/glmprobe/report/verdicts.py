"""The comparisons a report states, each a paired test, and the sentences that state them.

Per dataset the report compares (when both sides were run), always best-on-valid against
best-on-valid:

* the best gLM probe vs the best one-hot model (the study's question);
* the best gLM probe vs the best random-init control (does pre-training help at all?);
* the best one-hot model vs the best simple control (k-mer / nucleotide-content models);
* the best gLM probe vs the best simple control.

Every contestant's interval is re-estimated from its test predictions with the same paired
bootstrap (test sequences × seeds), so all error bars mean one thing; p-values are Holm-
adjusted over all the comparisons of the report.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from glmprobe.errors import UserError
from glmprobe.report import paired as P
from glmprobe.report.table import LOWER_IS_BETTER, label

log = logging.getLogger(__name__)
ALPHA = 0.05
PAIRS = (("gLM", "one-hot", "best gLM probe vs best one-hot model"),
         ("gLM", "random-init", "best gLM probe vs best random-init control"),
         ("one-hot", "control", "best one-hot model vs best simple control"),
         ("gLM", "control", "best gLM probe vs best simple control"))


@dataclass
class Comparison:
    dataset: str
    metric: str
    question: str
    a: pd.Series          # the configuration rows compared
    b: pd.Series
    result: P.PairedResult | None
    p_adjusted: float = math.nan

    def row(self) -> dict:
        r = self.result
        nan = math.nan
        return {"dataset": self.dataset, "comparison": self.question, "a": label(self.a), "b": label(self.b),
                "metric": f"test_{self.metric}", "a_value": r.a.estimate if r else nan,
                "b_value": r.b.estimate if r else nan, "difference": r.diff.estimate if r else nan,
                "diff_low": r.diff.low if r else nan, "diff_high": r.diff.high if r else nan,
                "p": r.p if r else nan, "p_holm": self.p_adjusted, "n_test": r.n if r else 0,
                "conclusion": self.conclusion()}

    def conclusion(self) -> str:
        r = self.result
        if r is None or not math.isfinite(self.p_adjusted):
            return "not testable (no shared test predictions)"
        if self.p_adjusted >= ALPHA:
            return "no significant difference"
        a_better = r.diff.estimate < 0 if self.metric in LOWER_IS_BETTER else r.diff.estimate > 0
        return f"{label(self.a) if a_better else label(self.b)} better"

    def sentence(self) -> str:
        r = self.result
        if r is None:
            return f"{self.question}: {label(self.a)} vs {label(self.b)} could not be tested"
        return (f"{self.question}: {label(self.a)} {_fmt(r.a)} vs {label(self.b)} {_fmt(r.b)}, difference "
                f"{r.diff.estimate:+.3f} [{r.diff.low:+.3f}, {r.diff.high:+.3f}], paired bootstrap p = "
                f"{_p(r.p)} (Holm {_p(self.p_adjusted)}): {self.conclusion()}")


def _fmt(iv: P.Interval) -> str:
    return f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]"


def _p(p: float) -> str:
    return "n/a" if not math.isfinite(p) else f"{p:.2g}" if p >= 0.001 else "< 0.001"


class Predictions:
    """Test predictions per record key, loaded once (a report reads each folder at most once)."""

    def __init__(self, folders: dict[str, Path]):
        self.folders, self._cache = folders, {}

    def get(self, key: str) -> P.TestPredictions | None:
        if key not in self._cache:
            folder = self.folders.get(key)
            try:
                self._cache[key] = P.load_test_predictions(folder) if folder else None
            except UserError as exc:
                log.warning("%s: %s", key, exc)
                self._cache[key] = None
        return self._cache[key]


def with_bootstrap_ci(cfg: pd.DataFrame, preds: Predictions, task: str, metric: str, **kw) -> pd.DataFrame:
    """``cfg`` with ci_low/ci_high replaced by each configuration's paired-bootstrap interval."""
    cfg = cfg.copy()
    for i, row in cfg.iterrows():
        tp = preds.get(row["key"])
        if tp is None:
            cfg.loc[i, ["ci_low", "ci_high"]] = math.nan
            continue
        iv = P.bootstrap_interval(tp, task, metric, **kw)
        cfg.loc[i, ["ci_low", "ci_high"]] = iv.low, iv.high
    return cfg


def compare_dataset(cfg: pd.DataFrame, preds: Predictions, dataset: str, task: str, metric: str,
                    **kw) -> list[Comparison]:
    """The report's comparisons for one dataset (unadjusted; see :func:`adjust`)."""
    best = {kind: g.iloc[0] for kind, g in cfg.groupby("kind", sort=False)}   # cfg is sorted by valid score
    out = []
    for ka, kb, question in PAIRS:
        if ka not in best or kb not in best:
            continue
        a, b = best[ka], best[kb]
        ta, tb = preds.get(a["key"]), preds.get(b["key"])
        result = None
        if ta is not None and tb is not None:
            try:
                result = P.paired_test(ta, tb, task, metric, **kw)
            except UserError as exc:   # e.g. contestants from different test sets: say so, keep the report
                log.warning("%s: %s vs %s not tested: %s", dataset, label(a), label(b), exc)
        out.append(Comparison(dataset, metric, question, a, b, result))
    return out


def adjust(comparisons: list[Comparison]) -> list[Comparison]:
    """Holm-adjust the p-values of every comparison in the report, in place."""
    adjusted = P.holm([c.result.p if c.result else math.nan for c in comparisons])
    for c, p in zip(comparisons, adjusted):
        c.p_adjusted = p
    return comparisons


def verdict(dataset: str, metric: str, comparisons: list[Comparison], ceilings: dict[str, float] | None) -> str:
    """One paragraph per dataset: every stated comparison with its paired test, then the known ceilings."""
    parts = [c.sentence() for c in comparisons if c.dataset == dataset] or ["no pair of contestants to compare"]
    for name, value in (ceilings or {}).items():
        parts.append(f"{name} {value:.3f}" if name != "oracle" else f"oracle ceiling {value:.3f}")
    return (f"{dataset} (test {metric}; configurations chosen on valid; intervals: {P.CI_LABEL}): "
            + "; ".join(parts) + ".")


MULTIPLICITY_NOTE = (f"Every comparison is a paired bootstrap ({P.N_BOOT} resamples of the shared test sequences, "
                     "with one replicate seed drawn per contestant per resample); p-values are Holm-adjusted over "
                     f"all comparisons in this report and called significant below {ALPHA}. Best configurations "
                     "are chosen on the validation split, so the test set is used once.")
