"""One-hot maps checked against plain autograd, brute-force ISM, tangermeme and captum on small inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glmprobe.attribution.onehot_maps import Explained, onehot_maps

X = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (5, 24))].transpose(0, 2, 1).copy()


def _grad(model, X, target):
    x = torch.tensor(X, requires_grad=True)
    Explained(model, target)(x).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("target", [0, 1, None])
def test_saliency_is_the_input_gradient_and_gxi_the_corrected_gradient_at_the_observed_base(tiny_cnn, target):
    g = _grad(tiny_cnn, X, target)
    sal = onehot_maps(tiny_cnn, X, "saliency", target=target)
    np.testing.assert_allclose(sal.hypothetical, g, rtol=1e-5, atol=1e-6)
    gxi = onehot_maps(tiny_cnn, X, "gxi", target=target)
    corrected = g - g.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(gxi.hypothetical, corrected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gxi.projected, corrected * X, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gxi.scores, (corrected * X).sum(1), rtol=1e-5, atol=1e-6)


def test_sum_target_is_the_sum_of_the_per_target_maps(tiny_cnn):
    both = onehot_maps(tiny_cnn, X, "gxi", target=None).projected
    parts = onehot_maps(tiny_cnn, X, "gxi", target=0).projected + onehot_maps(tiny_cnn, X, "gxi", target=1).projected
    np.testing.assert_allclose(both, parts, rtol=1e-5, atol=1e-6)


def test_ism_equals_brute_force_substitution(tiny_cnn):
    maps = onehot_maps(tiny_cnn, X, "ism", target=1)
    with torch.no_grad():
        f = lambda x: tiny_cnn(torch.from_numpy(x))[:, 1].numpy()
        ref = f(X)
        delta = np.zeros_like(X)
        for p in range(X.shape[2]):
            for b in range(4):
                Xm = X.copy()
                Xm[:, :, p] = 0
                Xm[:, b, p] = 1
                delta[:, b, p] = f(Xm) - ref
    expected = delta - delta.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(maps.hypothetical, expected, rtol=1e-4, atol=1e-5)


def test_deeplift_matches_tangermeme_and_records_convergence_deltas(tiny_cnn):
    from tangermeme.deep_lift_shap import deep_lift_shap

    maps = onehot_maps(tiny_cnn, X, "deeplift", target=0, n_shuffles=4, seed=3, batch_size=8)
    direct = deep_lift_shap(Explained(tiny_cnn, 0), torch.from_numpy(X), target=0, n_shuffles=4, hypothetical=True,
                            random_state=3, batch_size=8, device="cpu").numpy()
    np.testing.assert_allclose(maps.hypothetical, direct, rtol=1e-5, atol=1e-6)
    deltas = maps.extra["convergence_delta"]
    assert deltas.shape == (5,) and np.all(deltas < 1e-4)   # ReLU/MaxPool nets sum to delta exactly


def test_integrated_gradients_matches_captum(tiny_cnn):
    from captum.attr import IntegratedGradients
    from tangermeme.ersatz import dinucleotide_shuffle

    maps = onehot_maps(tiny_cnn, X, "ig", target=1, ig_steps=16, seed=2)
    Xt = torch.from_numpy(X)
    base = dinucleotide_shuffle(Xt, n=1, random_state=2)[:, 0].float()
    attr = IntegratedGradients(Explained(tiny_cnn, 1)).attribute(Xt, baselines=base, target=0, n_steps=16)
    np.testing.assert_allclose(maps.hypothetical, attr.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps.scores, attr.detach().numpy().sum(1), rtol=1e-5, atol=1e-6)
    assert maps.extra["convergence_delta"].shape == (5,)


def test_reverse_complement_averaged_models_are_attributed_per_strand(tiny_cnn):
    from glmprobe.heads.augment import RCAugment

    model = RCAugment(tiny_cnn).eval()
    g = _grad(model, X, 0)
    gxi = onehot_maps(model, X, "gxi", target=0)
    np.testing.assert_allclose(gxi.hypothetical, g - g.mean(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    dl = onehot_maps(model, X, "deeplift", target=0, n_shuffles=3)
    with torch.no_grad():
        assert np.isfinite(dl.hypothetical).all() and np.all(dl.extra["convergence_delta"] < 1e-3)


def test_deeplift_applies_the_rescale_rule_to_glmprobes_exp_activation():
    """dilres scans with an exponential activation; tangermeme treats unknown modules as linear."""
    from tangermeme.deep_lift_shap import deep_lift_shap
    from torch import nn

    from glmprobe.heads.layers import Exp

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(4, 6, 5, padding=2), Exp(), nn.AdaptiveAvgPool1d(4), nn.Flatten(),
                        nn.Linear(24, 1)).eval()
    with torch.no_grad():
        net[0].weight.mul_(3.0)            # a strongly curved exp, as a trained scanner is
    maps = onehot_maps(net, X, "deeplift", target=0, n_shuffles=4, seed=3, batch_size=8)
    assert np.all(maps.extra["convergence_delta"] < 1e-3)
    plain = deep_lift_shap(Explained(net, 0), torch.from_numpy(X), target=0, n_shuffles=4, random_state=3,
                           batch_size=8, device="cpu", warning_threshold=1e9).numpy()
    # without the rule the attributions do not sum to the change in output
    assert not np.allclose(plain, maps.projected, atol=1e-3)


def test_deeplift_through_the_default_dilres_ensemble_sums_to_the_output_change():
    """dilres as `glmprobe baseline` builds it (an ensemble of reverse-complement-averaged, shift-wrapped
    nets with exp scanners and a global max): every module has a DeepLIFT rule, so the attributions add
    up to f(x) - f(reference) (its global max was once an AdaptiveMaxPool1d, treated as linear: deltas ~0.3)."""
    from glmprobe.heads.baseline import load_arch
    from glmprobe.train.ensemble import shell

    arch = load_arch("dilres")
    hp = {**arch.study_for("regression"), "members": 2}
    torch.manual_seed(0)
    model = shell(lambda h: arch.build(64, 3, h), hp).eval()
    Xd = np.eye(4, dtype=np.float32)[np.random.default_rng(2).integers(0, 4, (4, 64))].transpose(0, 2, 1).copy()
    for target in (None, 1):
        maps = onehot_maps(model, Xd, "deeplift", target=target, n_shuffles=3, seed=1)
        assert np.all(maps.extra["convergence_delta"] < 1e-3) and np.all(maps.extra["tangermeme_warnings"] == 0)
