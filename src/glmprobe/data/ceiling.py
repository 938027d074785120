"""The PWM ceiling: what the generator's own motifs and rules score from the sequence alone.

The oracle in ``truth.json`` scores the noiseless signal, which knows which sites were
*planted*. No model can know that: a background window that matches a motif as well as a
planted site looks exactly like one. The PWM ceiling is the score of a predictor that knows
the true PWMs, coefficients, position weights and interaction rule but reads only the sequence:

* MPRA-like: every window of every motif on both strands counts with the posterior
  probability that it is a planted site (likelihood ratio PPM / background, times the prior
  expected sites per window from the generator's site rates), times the site's effect under the
  generator's formula; the ETS-NFY boost counts with the probability that some posterior-weighted
  pair lies within ``max_gap``. This is close to the Bayes-optimal prediction, so it is the
  reachable target for a model learned from data.
* ChIP-like: the best true-CTCF PWM match score on either strand (the "true-PWM scan").

Both are scored on the test split exactly as the oracle is. A model may beat the ChIP scan a
little (it may learn partial-site and decoy structure); it cannot beat the oracle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import poisson

from glmprobe.data import motifs as jaspar


def codes_of(sequences: Sequence[str]) -> np.ndarray:
    """(n, L) base codes 0..3 of equal-length ACGT strings."""
    raw = np.frombuffer("".join(sequences).encode(), dtype=np.uint8).reshape(len(sequences), -1)
    return np.searchsorted(np.frombuffer(b"ACGT", dtype=np.uint8), raw).astype(np.int64)


def window_log_odds(codes: np.ndarray, log_odds: np.ndarray, strand: str) -> np.ndarray:
    """(n, L - w + 1) summed log2-odds of every window, read on ``strand`` ("-": reverse complement)."""
    w = log_odds.shape[1]
    n_win = codes.shape[1] - w + 1
    lo = log_odds if strand == "+" else log_odds[::-1, ::-1]  # rc: complement rows, reversed columns
    return sum(lo[codes[:, j:j + n_win], j] for j in range(w))


def edit_window_log_odds(codes: np.ndarray, log_odds: np.ndarray, strand: str) -> np.ndarray:
    """:func:`window_log_odds` for rows that are single-base edits of row 0 (in-silico mutagenesis).

    Row 0 is scanned in full; every other row differs from it at one position at most, which moves
    only the windows covering that position, so those are updated by the log-odds difference: W
    vectorised updates instead of W gathers over every window of every row. Exact; rows with more
    than one edit are scanned in full.
    """
    w = log_odds.shape[1]
    n_win = codes.shape[1] - w + 1
    lo = log_odds if strand == "+" else log_odds[::-1, ::-1]
    diff = codes != codes[0]
    n_diff = diff.sum(axis=1)
    out = np.repeat(window_log_odds(codes[:1], log_odds, strand), len(codes), axis=0)
    rows = np.flatnonzero(n_diff == 1)
    pos = diff[rows].argmax(axis=1)
    new, old = codes[rows, pos], codes[0, pos]
    for j in range(w):   # the window starting at pos - j reads the edit in its column j
        start = pos - j
        ok = (start >= 0) & (start < n_win)
        out[rows[ok], start[ok]] += lo[new[ok], j] - lo[old[ok], j]
    many = np.flatnonzero(n_diff > 1)
    if many.size:
        out[many] = window_log_odds(codes[many], log_odds, strand)
    return out


def expected_random_sites(mean: float, cap: int) -> float:
    """E[min(Poisson(mean), cap)]: the generator's expected number of randomly placed sites."""
    k = np.arange(cap)
    return float((k * poisson.pmf(k, mean)).sum() + cap * poisson.sf(cap - 1, mean))


def mpra_prediction(sequences: Sequence[str], rules, motifs: Sequence[jaspar.Motif], params,
                    background: Sequence[float], cells: Sequence[str], *,
                    scan=window_log_odds) -> dict[str, np.ndarray]:
    """Posterior-weighted activity per cell (see the module docstring); ``rules`` are ``MotifRule``s.
    ``scan``: :func:`window_log_odds`, or :func:`edit_window_log_odds` for a reference and its edits."""
    from glmprobe.data.synth import _position_weight

    codes = codes_of(sequences)
    n, length = codes.shape
    half = (length - 1) / 2
    per_motif = expected_random_sites(params.sites_mean, params.sites_max) / len(rules)
    pred = {c: np.full(n, params.intercept, dtype=float) for c in cells}
    posterior_by_id: dict[str, tuple[np.ndarray, int]] = {}
    for rule, motif in zip(rules, motifs):
        lo = motif.log_odds(background)
        w = lo.shape[1]
        lo_min, lo_max = jaspar.score_range(lo)
        n_win = length - w + 1
        expected = per_motif + (params.pair_rate if rule.matrix_id in params.pair else 0.0)
        prior = expected / (2 * n_win)
        weight = np.array([_position_weight(s, w, half, params.edge_weight) for s in range(n_win)])
        both = np.zeros((n, n_win))
        for strand in "+-":
            raw = scan(codes, lo, strand)
            post = 1.0 / (1.0 + (1 - prior) / (prior * np.exp2(raw)))
            score = (raw - lo_min) / (lo_max - lo_min)
            orient = 1.0 if strand == "+" else rule.reverse_factor
            site = (post * score * weight).sum(axis=1) * orient
            for c in cells:
                pred[c] += rule.effect[c] * site
            both += post
        posterior_by_id[rule.matrix_id] = (np.minimum(both, 1.0), w)
    (pa, wa), (pb, wb) = (posterior_by_id[m] for m in params.pair)
    expected_pairs = np.zeros(n)
    for gap in range(1, params.max_gap + 1):  # a before b, then b before a
        for (p1, w1), (p2, _) in (((pa, wa), (pb, wb)), ((pb, wb), (pa, wa))):
            shift = w1 + gap
            if shift < p2.shape[1]:
                expected_pairs += (p1[:, :p2.shape[1] - shift] * p2[:, shift:]).sum(axis=1)
    pair = 1.0 - np.exp(-expected_pairs)
    for c in cells:
        pred[c] += params.pair_boost[c] * pair
    return pred


def chip_prediction(sequences: Sequence[str], motif: jaspar.Motif, background: Sequence[float]) -> np.ndarray:
    """Best normalised match score of the true PWM on either strand, per sequence."""
    codes = codes_of(sequences)
    lo = motif.log_odds(background)
    lo_min, lo_max = jaspar.score_range(lo)
    best = np.max([window_log_odds(codes, lo, s).max(axis=1) for s in "+-"], axis=0)
    return (best - lo_min) / (lo_max - lo_min)
