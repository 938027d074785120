"""Targets given as logit offsets from a per-row baseline: the study's splicing targets (task 4).

The published ``delta_logit.h5`` holds, per exon and tissue t, ``y[..., 0] = logit(PSI_t) - m``
and ``y[..., 1] = m``, the exon's mean logit (paper.md §1.1). ``dataset.h5`` keeps the first
as ``/targets`` and the second as ``/target_offsets``, so ``PSI_t = sigmoid(target + offset)``.

Two things need the offsets:

* the loss, ``diff_KL`` (:mod:`glmprobe.train.losses`): KL(Bernoulli(PSI_true) ||
  Bernoulli(sigmoid(prediction + offset)));
* the study's test filter (:func:`study_test_rows`): exons with at least 10 observed
  tissues and max_t |PSI_t - sigmoid(m)| >= 0.2 (``alternative-splicing/CNN_perf.py``; the
  reference PSI is the one at the mean logit). The study never logged how many exons pass;
  glmprobe records it (``n`` and ``params.test_filter``).
"""

from __future__ import annotations

import numpy as np

MIN_OBSERVED = 10      # tissues with a PSI, per test exon
MIN_DELTA_PSI = 0.2    # max |PSI_t - PSI(mean logit)| over tissues, per test exon


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))   # overflow-free logistic


def check_offsets(chunk, offsets: np.ndarray, y: np.ndarray, names: list[str]) -> None:
    """A baseline must be finite wherever its target is observed (else PSI and the loss are NaN)."""
    bad = (~np.isnan(y) & ~np.isfinite(offsets)) | np.isinf(offsets)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise chunk.error(int(i), f"target {names[j]!r} is observed but its offset (mean logit) is "
                                  f"{offsets[i, j]}", "y[..., 1] must hold a finite mean logit wherever "
                                                      "y[..., 0] is observed; re-export the file.")


def study_test_rows(targets: np.ndarray, offsets: np.ndarray, *, min_observed: int = MIN_OBSERVED,
                    min_delta_psi: float = MIN_DELTA_PSI) -> np.ndarray:
    """Boolean mask of the rows the study scores: >= ``min_observed`` observed targets and a
    PSI at least ``min_delta_psi`` away from the PSI at the mean logit in some target."""
    total = np.asarray(targets, np.float64) + np.asarray(offsets, np.float64)
    observed = ~np.isnan(total)
    delta = np.abs(sigmoid(np.where(observed, total, 0.0)) - sigmoid(np.nan_to_num(offsets)))
    biggest = np.where(observed, delta, -np.inf).max(axis=1) if total.shape[1] else np.full(len(total), -np.inf)
    return (observed.sum(axis=1) >= min_observed) & (biggest >= min_delta_psi)
