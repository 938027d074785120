"""dilres, the default CPU one-hot baseline: it must learn a planted motif from a few hundred sequences."""

from __future__ import annotations

import numpy as np
import torch

from glmprobe.heads import dilres
from glmprobe.heads.layers import Exp
from glmprobe.train.data import Arrays
from glmprobe.train.fit import fit, predict
from glmprobe.train.seeding import seed_everything
from glmprobe.train.tune import TuneOptions, fit_config, with_study

MOTIF = np.array([2, 0, 3, 0, 0, 3, 1, 2])  # GATAATCG
DECOY = [3, 1, 6, 0, 7, 2, 5, 4]            # the same bases reordered: AAGGGTTC
LENGTH = 64


def _planted(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random ACGT with 3 sites each: the motif (y += 1) or a decoy of the same bases in another order
    (y += 0), either strand; so base composition carries no signal."""
    seqs = rng.integers(0, 4, (n, LENGTH))
    y = np.zeros(n)
    for i in range(n):
        for slot in range(3):
            real = rng.random() < 0.5
            site = MOTIF.copy() if real else MOTIF[DECOY]
            if rng.random() < 0.5:
                site = 3 - site[::-1]
            start = slot * 20 + int(rng.integers(0, 20 - len(site)))
            seqs[i, start:start + len(site)] = site
            y[i] += float(real)
    X = np.eye(4, dtype=np.float32)[seqs].transpose(0, 2, 1).copy()
    return X, (y + rng.normal(0, 0.2, n)).astype(np.float32)[:, None]


def _arrays(X, y):
    return Arrays(X, y, np.arange(len(X)))


def test_dilres_learns_a_planted_motif_far_above_a_composition_control():
    rng = np.random.default_rng(0)
    X, y = _planted(900, rng)
    tr, va, te = slice(0, 700), slice(700, 800), slice(800, 900)
    opts = with_study(TuneOptions(fixed={"batch_size": 32}, replicates=1, max_epochs=12), dilres.study("regression"))
    seed_everything(0)
    model = dilres.build(4, LENGTH, 1, opts.fixed)
    res = fit(model, _arrays(X[tr], y[tr]), _arrays(X[va], y[va]), "regression", fit_config(opts.fixed, opts, 0, "cpu"))
    r_cnn = np.corrcoef(predict(res.model, X[te])[:, 0], y[te, 0])[0, 1]
    # control: least squares on base composition (the study's mean-nucleotide control), blind to order
    def comp(x):
        return np.c_[x.mean(2), np.ones(len(x))]
    w, *_ = np.linalg.lstsq(comp(X[tr]), y[tr, 0], rcond=None)
    r_ctl = np.corrcoef(comp(X[te]) @ w, y[te, 0])[0, 1]
    assert r_cnn > 0.85, (r_cnn, [round(h["val_pearson"], 3) for h in res.history])
    assert r_cnn > r_ctl + 0.5, (r_cnn, r_ctl)


def test_dilres_scans_with_an_exponential_first_layer_and_defaults_to_a_cosine_schedule():
    net = dilres.build(4, 230, 3, {})
    assert isinstance(net.scan[0], torch.nn.Conv1d) and net.scan[0].kernel_size == (dilres.KERNEL,)
    assert isinstance(net.scan[-1], Exp)
    s = dilres.study("regression")
    assert s["schedule"] == "cosine" and s["weight_decay"] == 1e-2 and s["lr"] == 3e-3 and s["rc"]
    assert s["members"] == dilres.MEMBERS > 1 and s["shift"] == dilres.SHIFT > 0 and 0 < s["mutate"] == dilres.MUTATE < 0.1
    assert dilres.study("binary")["rc"] and dilres.study("binary")["weight_decay"] == 1e-2
    assert net(torch.zeros(2, 4, 230)).shape == (2, 3)


def test_dilres_through_its_arch_is_augmented_and_trials_keep_members_and_augmentation():
    import optuna

    from glmprobe.heads.augment import MutateAugment, ShiftAugment
    from glmprobe.heads.baseline import load_arch

    arch = load_arch("dilres")
    net = arch.build(230, 3, arch.study_for("regression"))
    assert isinstance(net, MutateAugment) and isinstance(net.model, ShiftAugment)
    assert isinstance(arch.build(230, 3, {}), dilres.DilRes)            # no augmentation asked, no wrapper
    hp = arch.space(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask())
    assert hp["members"] == dilres.MEMBERS and hp["shift"] == dilres.SHIFT and hp["mutate"] == dilres.MUTATE
