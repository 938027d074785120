"""Motif discovery: modisco-lite on hypothetical contributions, patterns named with memelite's TOMTOM.

Patterns are trimmed like modisco-lite's own report (positions whose |CWM| is at least 30 %
of the maximum) and their PPMs compared with every motif of a MEME file (by default the
synthetic benchmark's ``motifs.meme``: the planted JASPAR matrices and the decoys; any
JASPAR MEME export works). q-values are Benjamini-Hochberg over all pattern x motif pairs.
A known motif counts as *recovered* when it is the best match of some pattern at q < 0.05.
With fewer than ~25 target motifs TOMTOM's null is coarse (memelite warns); the p-values are
then only a ranking, which is why the q-value threshold is kept strict.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from glmprobe.errors import UserError

Q_MAX = 0.05
TRIM = 0.3


def read_meme(path: str | os.PathLike) -> dict[str, tuple[str, np.ndarray]]:
    """{motif id: (name, PPM (4, w))} from a MEME file."""
    from memelite.io import read_meme as _read

    path = Path(path)
    try:
        motifs = _read(str(path))
    except (OSError, ValueError, IndexError) as exc:
        raise UserError(f"cannot read the MEME motif file ({exc})", path=path) from None
    if not motifs:
        raise UserError("the MEME motif file holds no motifs", path=path)
    out = {}
    for key, pwm in motifs.items():
        parts = key.split()
        out[parts[0]] = (parts[1] if len(parts) > 1 else parts[0], np.asarray(pwm, dtype=np.float64))
    return out


# modisco-lite's own command-line defaults (``modisco motifs``): 20-nt seqlet cores with 5-nt
# flanks (the planted motifs are 8-21 nt), 5 % seqlet FDR, 2 Leiden runs (the API default of 50
# repeats the clustering 25 times over)
SLIDING_WINDOW = 20
FLANK = 5
SEQLET_FDR = 0.05
LEIDEN_RUNS = 2
MIN_SEQLETS = 100     # per metacluster (modisco's min_metacluster_size)
FINAL_MIN_CLUSTER = 20


def run_modisco(onehot: np.ndarray, hypothetical: np.ndarray, *, max_seqlets: int = 2000,
                window: int = SLIDING_WINDOW, flank: int = FLANK, seqlet_fdr: float = SEQLET_FDR,
                leiden_runs: int = LEIDEN_RUNS, min_seqlets: int = MIN_SEQLETS,
                final_min_cluster: int = FINAL_MIN_CLUSTER) -> list[dict]:
    """modisco-lite patterns as dicts: sign, index, n_seqlets, ppm/cwm/hcwm (4, w) trimmed.

    ``onehot`` and ``hypothetical`` are (N, 4, L): the hypothetical contributions of every base
    at every position (for gxi the gradient-corrected gradient, for ISM the centred change),
    so that ``hypothetical * onehot`` is the map scored against the planted sites.
    """
    from modiscolite.tfmodisco import TFMoDISco

    if onehot.shape != hypothetical.shape or onehot.ndim != 3 or onehot.shape[1] != 4:
        raise ValueError(f"one-hot {onehot.shape} and hypothetical {hypothetical.shape} must both be (N, 4, L)")
    X = np.ascontiguousarray(onehot.transpose(0, 2, 1), dtype=np.float32)       # modisco reads (N, L, 4)
    H = np.ascontiguousarray(hypothetical.transpose(0, 2, 1), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pos, neg = TFMoDISco(one_hot=X, hypothetical_contribs=H, sliding_window_size=window, flank_size=flank,
                             max_seqlets_per_metacluster=max_seqlets, target_seqlet_fdr=seqlet_fdr,
                             n_leiden_runs=leiden_runs, min_metacluster_size=min_seqlets,
                             final_min_cluster_size=final_min_cluster, verbose=False)
    out = []
    for sign, patterns in (("pos", pos), ("neg", neg)):
        for k, p in enumerate(patterns or []):
            ppm, cwm = np.asarray(p.sequence), np.asarray(p.contrib_scores)
            hcwm = np.asarray(p.hypothetical_contribs)
            score = np.abs(cwm).sum(axis=1)
            keep = np.flatnonzero(score >= score.max() * TRIM)
            sl = slice(int(keep.min()), int(keep.max()) + 1)
            out.append({"pattern": f"{sign}_patterns.pattern_{k}", "sign": sign, "n_seqlets": len(p.seqlets),
                        "ppm": ppm[sl].T, "cwm": cwm[sl].T, "hcwm": hcwm[sl].T})
    return out


def name_patterns(patterns: list[dict], motifs: dict[str, tuple[str, np.ndarray]]) -> pd.DataFrame:
    """One row per pattern: its best TOMTOM match, p and q (BH over every pair)."""
    from memelite import tomtom

    cols = ["pattern", "sign", "n_seqlets", "match_id", "match_name", "p_value", "q_value", "width"]
    if not patterns:
        return pd.DataFrame(columns=cols)
    ids = list(motifs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "fewer than 25 targets": see the module docstring
        p = tomtom([pt["ppm"] for pt in patterns], [motifs[i][1] for i in ids])[0]
    p = np.clip(np.nan_to_num(np.asarray(p, dtype=float), nan=1.0), 0.0, 1.0)
    q = false_discovery_control(p.reshape(-1), method="bh").reshape(p.shape)
    rows = []
    for k, pt in enumerate(patterns):
        j = int(np.argmin(p[k]))
        rows.append({"pattern": pt["pattern"], "sign": pt["sign"], "n_seqlets": pt["n_seqlets"],
                     "match_id": ids[j], "match_name": motifs[ids[j]][0], "p_value": float(p[k, j]),
                     "q_value": float(q[k, j]), "width": int(pt["ppm"].shape[1])})
    return pd.DataFrame(rows, columns=cols)


def recovered(table: pd.DataFrame, q_max: float = Q_MAX) -> list[str]:
    """Known motif ids that are the best match of some pattern at q < ``q_max``."""
    if table.empty:
        return []
    return sorted(set(table.loc[table["q_value"] < q_max, "match_id"]))


def ideal_contributions(ids: list[str], length: int, effects: pd.DataFrame) -> np.ndarray:
    """Hypothetical contributions (N, 4, L) read off the answer key: the ceiling of motif discovery.

    Each planted site with an effect adds ``effect x`` its matrix's log-odds, centred over the
    four bases and scaled to a maximum of 1, on the site's strand; everything else is 0. What
    modisco + TOMTOM recover from these is what a perfect model's maps could give them
    (``benchmarks/bench_attribution.py --motif-ceiling``). ``effects`` is
    :func:`~glmprobe.attribution.evaluate.site_effects`'s table.
    """
    from glmprobe.data.motifs import fetch_motif

    row = {rid: i for i, rid in enumerate(ids)}
    out = np.zeros((len(ids), 4, length), np.float32)
    cache: dict[str, np.ndarray] = {}
    for site in effects[effects["id"].isin(row) & (effects["effect"] != 0)].itertuples(index=False):
        if site.motif_id not in cache:
            lo = fetch_motif(site.motif_id).log_odds()
            lo = lo - lo.mean(axis=0, keepdims=True)
            cache[site.motif_id] = lo / np.abs(lo).max()
        lo = cache[site.motif_id] if site.strand == "+" else cache[site.motif_id][::-1, ::-1]
        a, b = int(site.start), int(site.end)
        out[row[site.id], :, a:b] += site.effect * lo[:, :b - a]
    return out
