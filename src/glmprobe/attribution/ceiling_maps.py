"""The attribution ceiling: ISM maps of the PWM-ceiling predictor, scored like any model's maps.

``glmprobe synth``'s answer key marks every base of a planted site, but no map read off a
sequence model can be perfect: a model sees motif matches, not which of them were planted, and
a motif's low-information columns barely move any output. The predictor of
:mod:`glmprobe.data.ceiling` knows the generator's true PWMs, coefficients and rules and reads
only the sequence (the PWM ceiling of ``truth.json``); its in-silico mutagenesis map, through
:func:`~glmprobe.attribution.glm_ism.glm_ism`, is what the best sequence model's map could look
like, so its ground-truth AUROC is the reachable target for the maps of trained models.

* ``synth_mpra``: the posterior-weighted activity per cell (the MPRA PWM ceiling itself);
* ``synth_chip``: the posterior-weighted CTCF strength, ``intercept + slope x`` the expected
  match score of every window (the soft form of ``truth.json``'s best-match scan, whose ISM
  map moves one window only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

DATASETS = ("synth_mpra", "synth_chip")
CEILING = "pwm_ceiling"   # its rows in ground_truth.csv


def chip_expected_strength(sequences: Sequence[str], motif, background: Sequence[float], params, *,
                           scan=None) -> np.ndarray:
    """Logit of the generator's label rule on the posterior-weighted CTCF match score (N,)."""
    from glmprobe.data import motifs as jaspar
    from glmprobe.data.ceiling import codes_of, window_log_odds

    scan = scan or window_log_odds
    codes = codes_of(sequences)
    lo = motif.log_odds(background)
    lo_min, lo_max = jaspar.score_range(lo)
    n_win = codes.shape[1] - lo.shape[1] + 1
    prior = (params.full_rate + params.partial_rate) / (2 * n_win)
    strength = np.zeros(len(codes))
    for strand in "+-":
        raw = scan(codes, lo, strand)
        post = 1.0 / (1.0 + (1 - prior) / (prior * np.exp2(raw)))
        strength += (post * (raw - lo_min) / (lo_max - lo_min)).sum(axis=1)
    return params.intercept + params.slope * strength


def ceiling_predictor(dataset: str, *, edits: bool = False) -> Callable[[Sequence[str]], np.ndarray]:
    """sequences -> (N, T) outputs of the PWM-ceiling predictor of a ``glmprobe synth`` dataset.

    ``edits``: every call passes a reference and single-base edits of it (ISM, one sequence per
    call), scanned incrementally (:func:`~glmprobe.data.ceiling.edit_window_log_odds`; same values).
    """
    from glmprobe.data import ceiling
    from glmprobe.data import motifs as jaspar
    from glmprobe.data.synth import BASE_FREQ, MPRA_CELLS, MPRA_RULES, ChipParams, MpraParams

    scan = ceiling.edit_window_log_odds if edits else ceiling.window_log_odds
    if dataset == "synth_mpra":
        motifs = jaspar.fetch_motifs(r.matrix_id for r in MPRA_RULES)

        def mpra(seqs: Sequence[str]) -> np.ndarray:
            pred = ceiling.mpra_prediction(seqs, MPRA_RULES, motifs, MpraParams(), BASE_FREQ, MPRA_CELLS, scan=scan)
            return np.stack([pred[c] for c in MPRA_CELLS], axis=1)
        return mpra
    if dataset == "synth_chip":
        params = ChipParams()
        motif = jaspar.fetch_motif(params.motif)
        return lambda seqs: chip_expected_strength(seqs, motif, BASE_FREQ, params, scan=scan)[:, None]
    raise ValueError(f"no PWM-ceiling predictor for dataset {dataset!r} (only {', '.join(DATASETS)})")


def ceiling_maps(dataset: str, seqs: Sequence[str], targets: Sequence[int | None] = (None,)) -> list:
    """ISM :class:`~glmprobe.attribution.onehot_maps.Maps` of the PWM-ceiling predictor, one per
    explained output (a target index, or None for the sum over targets), all from one ISM pass.

    One sequence per predictor call (``chunk=1``: the reference first, then its edits), so the
    windows are rescanned only where an edit lands.
    """
    from glmprobe.attribution.glm_ism import glm_ism_targets

    return glm_ism_targets(ceiling_predictor(dataset, edits=True), seqs, list(targets), chunk=1)


def synth_answer_key(sites: str | os.PathLike, dataset: str) -> bool:
    """Whether ``sites`` is a ``glmprobe synth`` answer key (its ``truth.json`` beside it names the
    generator) for a dataset this module has a predictor for: then the ceiling can be scored."""
    truth = Path(sites).with_name("truth.json")
    if dataset not in DATASETS or not truth.exists():
        return False
    try:
        meta = json.loads(truth.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("generator") == "glmprobe.data.synth" and dataset in (meta.get("datasets") or {})


def target_names(dataset: str) -> list[str]:
    """The outputs of a dataset's PWM-ceiling predictor, in order."""
    from glmprobe.data.synth import MPRA_CELLS, ChipParams

    return list(MPRA_CELLS) if dataset == "synth_mpra" else [ChipParams().target]


def ceiling_scores(dataset: str, seqs: Sequence[str], targets: Sequence[str | None]) -> dict[str | None, np.ndarray]:
    """{target: (N, L) signed ceiling map at the observed bases} for each explained output (a target
    name, or None for the sum over targets), from one ISM pass."""
    names = target_names(dataset)
    index = [None if t is None or len(names) == 1 else names.index(t) for t in targets]
    return {t: m.scores for t, m in zip(targets, ceiling_maps(dataset, seqs, index))}
