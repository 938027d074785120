"""Global importance analysis (Koo et al. 2021): a motif's effect on its own, in neutral backgrounds.

Backgrounds are dinucleotide shuffles of real sequences (tangermeme), which keep the
composition and dinucleotide frequencies but break every motif. The motif (a consensus
string, e.g. a JASPAR consensus or one read off a map) is implanted at a fixed position in
each background and the explained output compared with and without it: the effect is the
mean paired difference (with a 95 % CI over backgrounds), and a two-sided Mann-Whitney U
test compares the two sets of predictions, as the study did. The predictor is any callable
sequences -> (N,) outputs, so one-hot models and gLM probes are analysed alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from glmprobe.data.onehot import decode, encode
from glmprobe.errors import UserError


def shuffled_backgrounds(seqs: Sequence[str], n: int, seed: int = 0) -> list[str]:
    """``n`` dinucleotide-shuffled backgrounds, drawn from ``seqs`` in turn."""
    import torch
    from tangermeme.ersatz import dinucleotide_shuffle

    rng = np.random.default_rng(seed)
    pick = [seqs[i] for i in rng.integers(0, len(seqs), n)]
    X = torch.from_numpy(encode(pick))
    shuffled = dinucleotide_shuffle(X, n=1, random_state=seed)[:, 0].numpy()
    return decode(shuffled)


def implant(seqs: Sequence[str], motif: str, position: int) -> list[str]:
    if position < 0 or position + len(motif) > min(len(s) for s in seqs):
        raise UserError(f"motif {motif} ({len(motif)} nt) does not fit at position {position}", where="--gia-position")
    return [s[:position] + motif + s[position + len(motif):] for s in seqs]


def gia(predict: Callable[[Sequence[str]], np.ndarray], backgrounds: Sequence[str], motif: str,
        position: int | None = None) -> dict:
    """Effect of implanting ``motif`` (centred unless ``position``) into ``backgrounds``."""
    motif = motif.upper()
    if not motif or set(motif) - set("ACGT"):
        raise UserError(f"GIA motif {motif!r} must be a string of A/C/G/T", where="--gia-motif")
    L = min(len(s) for s in backgrounds)
    position = (L - len(motif)) // 2 if position is None else int(position)
    without = np.asarray(predict(list(backgrounds)), dtype=float)
    with_motif = np.asarray(predict(implant(backgrounds, motif, position)), dtype=float)
    diff = with_motif - without
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    u = stats.mannwhitneyu(with_motif, without, alternative="two-sided")
    return {"motif": motif, "position": position, "n": int(len(diff)), "effect": float(diff.mean()),
            "effect_ci": [float(diff.mean() - half), float(diff.mean() + half)],
            "effect_sd_units": float(diff.mean() / without.std(ddof=1)) if without.std() > 0 else float("nan"),
            "mannwhitney_u": float(u.statistic), "mannwhitney_p": float(u.pvalue)}


def consensus(ppm: np.ndarray) -> str:
    """Most likely base per column of a (4, w) PPM."""
    return "".join("ACGT"[i] for i in np.argmax(ppm, axis=0))
