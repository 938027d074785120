"""Scoring maps: against the planted sites (ground truth) and against each other (agreement).

Ground truth comes from ``glmprobe synth``'s ``motif_sites.tsv``. For the explained output
(one target, or the sum over targets) every base is put in one class:

* ``strong``: inside a planted site that changes the output (effect != 0) with match
  strength (affinity) >= 0.5: the headline positives;
* ``weak``: inside a planted site with an effect but affinity < 0.5 (e.g. partial CTCF);
* ``no_effect``: inside a planted site whose motif does not act on this output (decoys,
  cell-type motifs of other cells): a good map leaves them alone;
* ``chance``: a background match of an acting motif (affinity >= ``chance_threshold``) that
  was never planted and so has no effect in the generator;
* ``background``: everything else, the negatives of every comparison.

AUROC and AUPRC of |attribution| are computed for each class against the background, pooled
over all the sequences (equal to sklearn's roc_auc_score and average_precision_score), with a 95 % percentile CI from resampling those same
sequences (a replicate without positives is left out); the mean per-sequence AUROC, over the
sequences that hold a site of the class, is reported beside it. Agreement between two maps is the per-sequence Pearson and
Spearman r of |attribution| (as the study reported) and the overlap of their top-k positions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from glmprobe.errors import UserError
from glmprobe.train.metrics import rowwise

CLASSES = ("strong", "weak", "no_effect", "chance")
AFFINITY = 0.5
CHANCE_THRESHOLD = 0.85
N_BOOT = 200


def read_sites(path: str | os.PathLike, dataset: str) -> pd.DataFrame:
    """This dataset's planted sites (the pair-interaction spans, strand '.', are not sites)."""
    path = Path(path)
    try:
        sites = pd.read_csv(path, sep="\t", na_values=["NA"])
    except (OSError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read the sites table ({exc})", path=path) from None
    need = {"dataset", "id", "target", "motif_id", "start", "end", "strand", "score", "effect"}
    if not need <= set(sites.columns):
        raise UserError(f"not a motif_sites.tsv (missing columns {', '.join(sorted(need - set(sites.columns)))})",
                        path=path, hint="Pass the motif_sites.tsv written by `glmprobe synth`.")
    sites = sites[(sites["dataset"] == dataset) & (sites["strand"] != ".")]
    if sites.empty:
        raise UserError(f"the sites table has no sites for dataset '{dataset}'", path=path)
    return sites


def site_effects(sites: pd.DataFrame, target: str | None) -> pd.DataFrame:
    """One row per planted site with its effect on the explained output (sum over targets if None)."""
    keys = ["id", "motif_id", "start", "end", "strand", "score"]
    chosen = sites if target is None else sites[sites["target"] == target]
    return chosen.groupby(keys, as_index=False, dropna=False)["effect"].sum()


def _scan(codes: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """Best normalised match (either strand) starting at each position: (N, L - w + 1)."""
    from glmprobe.data.motifs import score_range

    w = log_odds.shape[1]
    lo, hi = score_range(log_odds)
    rc = log_odds[::-1, ::-1]
    windows = np.lib.stride_tricks.sliding_window_view(np.minimum(codes, 3), w, axis=1)   # (N, P, w)
    cols = np.arange(w)
    fwd = log_odds[windows, cols].sum(-1)
    rev = rc[windows, cols].sum(-1)
    valid = (np.lib.stride_tricks.sliding_window_view(codes, w, axis=1) < 4).all(-1)
    return np.where(valid, (np.maximum(fwd, rev) - lo) / (hi - lo), 0.0)


def site_classes(ids: Sequence[str], seqs: Sequence[str], effects: pd.DataFrame, *,
                 affinity: float = AFFINITY, chance_threshold: float = CHANCE_THRESHOLD,
                 background: Sequence[float] = (0.295, 0.205, 0.205, 0.295)) -> dict[str, np.ndarray]:
    """{class: (N, L) bool} for the sequences ``ids`` (see the module docstring)."""
    from glmprobe.data.motifs import fetch_motif

    L = max(len(s) for s in seqs)
    row = {rid: i for i, rid in enumerate(ids)}
    masks = {c: np.zeros((len(ids), L), bool) for c in CLASSES}
    planted = np.zeros((len(ids), L), bool)
    for site in effects[effects["id"].isin(row)].itertuples(index=False):
        i, a, b = row[site.id], int(site.start), int(site.end)
        planted[i, a:b] = True
        if site.effect == 0:
            masks["no_effect"][i, a:b] = True
        elif site.score >= affinity:
            masks["strong"][i, a:b] = True
        else:
            masks["weak"][i, a:b] = True
    lut = np.full(256, 4, np.int8)
    for k, c in enumerate("ACGT"):
        lut[ord(c)] = k
    codes = np.full((len(seqs), L), 4, np.int8)
    for i, s in enumerate(seqs):
        codes[i, :len(s)] = lut[np.frombuffer(s.encode(), np.uint8)]
    for motif_id in sorted(set(effects.loc[effects["effect"] != 0, "motif_id"])):
        try:
            motif = fetch_motif(motif_id)
        except UserError:
            continue   # not a JASPAR id (user-made truth): no chance scan for it
        hits = _scan(codes, motif.log_odds(background)) >= chance_threshold
        for i, p in zip(*np.nonzero(hits)):
            masks["chance"][i, p:p + motif.length] = True
    masks["chance"] &= ~planted
    # precedence: a base in a strong site is strong even if a weak/no-effect site overlaps it
    masks["weak"] &= ~masks["strong"]
    masks["no_effect"] &= ~(masks["strong"] | masks["weak"])
    masks["background"] = ~(planted | masks["chance"])
    return masks


class _Ranked:
    """One class's positives and the background, sorted once by |attribution|.

    A bootstrap replicate draws sequences with replacement, i.e. gives each sequence an integer
    weight; pooled AUROC (Mann-Whitney with ties counted half) and average precision (sklearn's
    step-wise definition) of the weighted positions then need only sums over groups of tied scores,
    O(n) per replicate instead of a sort and two sklearn calls (``benchmarks/bench_attribution.py``).
    """

    def __init__(self, scores: np.ndarray, pos: np.ndarray, neg: np.ndarray):
        rows, cols = np.nonzero(pos | neg)
        values = scores[rows, cols]
        order = np.argsort(values, kind="stable")
        self.rows, self.is_pos = rows[order], pos[rows, cols][order]
        v = values[order]
        self.starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]]) if v.size else np.zeros(0, int)

    def score(self, row_weights: np.ndarray) -> tuple[float, float]:
        """(AUROC, AUPRC) with each sequence counted ``row_weights[row]`` times."""
        w = row_weights[self.rows].astype(np.float64)
        wp = np.where(self.is_pos, w, 0.0)
        if not self.starts.size:
            return np.nan, np.nan
        tied_pos, tied_neg = np.add.reduceat(wp, self.starts), np.add.reduceat(w - wp, self.starts)
        n_pos, n_neg = tied_pos.sum(), tied_neg.sum()
        if n_pos == 0 or n_neg == 0:
            return np.nan, np.nan
        below = np.cumsum(tied_neg) - tied_neg            # negative weight strictly below each score
        auroc = float((tied_pos * (below + 0.5 * tied_neg)).sum() / (n_pos * n_neg))
        tp, fp = np.cumsum(tied_pos[::-1]), np.cumsum(tied_neg[::-1])   # thresholds from the top down
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
        return auroc, float((tied_pos[::-1] * precision).sum() / n_pos)


def ground_truth(scores: np.ndarray, masks: dict[str, np.ndarray], *, n_boot: int = N_BOOT,
                 seed: int = 0) -> dict[str, dict]:
    """{class: {auroc, auprc, auroc_ci, auprc_ci, auroc_per_seq, n_pos, n_seq}} for |scores| (N, L)."""
    a = np.abs(scores)
    neg = masks["background"]
    rng = np.random.default_rng(seed)
    rows = np.arange(len(a))
    out = {}
    for cls in CLASSES:
        pos = masks[cls]
        has = np.flatnonzero(pos.any(axis=1))
        if has.size == 0:
            continue
        # the point estimate pools every sequence (those without a site of this class add
        # negatives, which AUPRC depends on through the prevalence), so the bootstrap resamples
        # every sequence too: estimate and CI share one definition of the positives and negatives
        ranked = _Ranked(a, pos, neg)
        auroc, auprc = ranked.score(np.ones(len(a)))
        boots = np.asarray([ranked.score(np.bincount(rng.choice(rows, size=rows.size, replace=True),
                                                     minlength=rows.size)) for _ in range(n_boot)])
        per_seq = rowwise("auroc", "binary", pos[has], a[has], pos[has] | neg[has])   # NaN without negatives
        lo, hi = np.nanpercentile(boots, [2.5, 97.5], axis=0)
        out[cls] = {"auroc": auroc, "auprc": auprc, "auroc_ci": [float(lo[0]), float(hi[0])],
                    "auprc_ci": [float(lo[1]), float(hi[1])],
                    "auroc_per_seq": float(np.nanmean(per_seq)) if np.isfinite(per_seq).any() else np.nan,
                    "prevalence": float(pos.sum() / (pos.sum() + neg.sum())),
                    "n_pos": int(pos.sum()), "n_seq": int(has.size)}
    return out


def _mean_ci(values: np.ndarray) -> tuple[float, list[float]]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return (float(v.mean()) if v.size else np.nan), [np.nan, np.nan]
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean()), [float(v.mean() - half), float(v.mean() + half)]


def agreement(a: np.ndarray, b: np.ndarray, k: int = 20) -> dict:
    """Per-sequence agreement of |a| and |b| (N, L): Pearson, Spearman and top-k overlap, mean with 95 % CI."""
    if a.shape != b.shape:
        raise UserError(f"maps of different shapes {a.shape} and {b.shape} cannot be compared",
                        hint="Compare maps of the same sequences (use the same --select and --ids).")
    A, B = np.abs(a), np.abs(b)
    pear, spear, overlap = [], [], []
    for x, y in zip(A, B):
        if x.std() == 0 or y.std() == 0:
            pear.append(np.nan), spear.append(np.nan)
        else:
            pear.append(stats.pearsonr(x, y)[0])
            spear.append(stats.spearmanr(x, y)[0])
        tx, ty = set(np.argsort(-x)[:k]), set(np.argsort(-y)[:k])
        overlap.append(len(tx & ty) / k)
    out = {}
    for name, vals in (("pearson", pear), ("spearman", spear), (f"top{k}_overlap", overlap)):
        mean, ci = _mean_ci(np.asarray(vals))
        out[name], out[f"{name}_ci"] = mean, ci
    out["n_seq"] = int(len(A))
    return out
