"""Neural probe heads: study layouts, Keras-port details, short token sequences, the registry."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from glmprobe.errors import UserError
from glmprobe.heads import chip_cnn, mlp, registry, rep_cnn
from glmprobe.train.tune import shared_space


def _layers(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


def test_mlp_is_the_study_rep_mlp_with_width_and_dropout_scale():
    model = mlp.build(40, 3, {"width": 2.0, "dropout": 0.5})
    dims = [(m.in_features, m.out_features) for m in _layers(model, nn.Linear)]
    assert dims == [(40, 1024), (1024, 512), (512, 3)]
    assert [m.p for m in _layers(model, nn.Dropout)] == [0.25, 0.25]
    bn = _layers(model, nn.BatchNorm1d)
    assert len(bn) == 2 and all(b.momentum == 0.1 and b.eps == 1e-3 for b in bn)
    w = torch.cat([m.weight.flatten() for m in _layers(model, nn.Linear)])
    assert w.std().item() == pytest.approx(0.005, rel=0.05)     # Keras RandomNormal(0, 0.005)
    assert model(torch.randn(5, 40, dtype=torch.float16)).dtype == torch.float32


@pytest.mark.parametrize("length", [1, 7, 34, 41, 200, 1000])
def test_rep_cnn_builds_for_every_token_count_and_one_hot(length):
    for channels in (4, 24):   # one-hot DNA and token embeddings share the module
        model = rep_cnn.build(channels, length, 2, rep_cnn.STUDY).eval()
        assert model(torch.randn(3, channels, length)).shape == (3, 2)


def test_rep_cnn_matches_the_study_layout():
    model = rep_cnn.build(64, 41, 1, {"width": 1.0, "reduce_dim": 128})
    convs = [(m.in_channels, m.out_channels, m.kernel_size[0]) for m in _layers(model, nn.Conv1d)]
    assert convs == [(64, 128, 1), (128, 196, 7), (196, 256, 7)]
    pools = [m.kernel_size for m in _layers(model, nn.MaxPool1d)]
    assert pools == [5, 4]                              # 41 -> 8 -> 2 positions
    assert _layers(model, nn.Linear)[0].in_features == 256 * 2
    assert [m.out_features for m in _layers(model, nn.Linear)] == [512, 256, 1]
    assert isinstance(model.reduce[0], nn.BatchNorm1d)  # BN before the 1x1 reduction


def test_rep_cnn_pools_shrink_to_short_inputs():
    model = rep_cnn.build(8, 3, 1, {})
    assert [m.kernel_size for m in _layers(model, nn.MaxPool1d)] == [3, 1]


def test_rep_cnn_exp_stays_finite_on_huge_fp16_inputs():
    model = rep_cnn.build(4, 50, 1, {}).eval()
    x = torch.full((2, 4, 50), 6e4, dtype=torch.float16)
    assert torch.isfinite(model(x)).all()


def test_chip_cnn_applies_the_reduction_prefix_unless_told_not_to():
    with_prefix = chip_cnn.build(256, 36, 1, chip_cnn.STUDY)
    convs = [(m.in_channels, m.out_channels, m.kernel_size[0]) for m in _layers(with_prefix, nn.Conv1d)]
    assert convs == [(256, 512, 1), (512, 64, 7), (64, 96, 5), (96, 128, 5)]
    bare = chip_cnn.build(4, 200, 1, chip_cnn.STUDY_ONEHOT, reduce=False)
    assert _layers(bare, nn.Conv1d)[0].in_channels == 4 and isinstance(bare.reduce, nn.Identity)
    assert bare.eval()(torch.randn(2, 4, 200)).shape == (2, 1)
    assert registry.HEADS["chip_cnn"].options == {"reduce": True}   # probes always reduce (bug §8.3)


def test_chip_cnn_first_conv_is_he_uniform():
    torch.manual_seed(0)
    model = chip_cnn.build(4, 200, 1, {}, reduce=False)
    bound = (6 / (4 * 7)) ** 0.5
    w = model.first.weight
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.9 * bound


@pytest.mark.parametrize("module", [mlp, rep_cnn, chip_cnn])
def test_heads_search_the_shared_space_and_the_study_setting_is_inside_it(module):
    study = optuna.create_study()
    study.enqueue_trial(module.STUDY)
    trial = study.ask()
    hp = module.space(trial)
    ref = shared_space(optuna.create_study().ask())
    assert set(hp) == set(ref)
    assert {k: hp[k] for k in hp} == {k: module.STUDY[k] for k in hp}   # enqueued values taken as-is


def test_registry_maps_heads_to_poolings_and_builds_models():
    assert registry.fits("linear", "mean") and registry.fits("mlp", "cls")
    assert not registry.fits("token_cnn", "mean") and registry.fits("chip_cnn", "tokens")
    build = registry.HEADS["token_cnn"].builder((16, 20), 2)
    assert build(rep_cnn.STUDY).eval()(torch.randn(2, 16, 20)).shape == (2, 2)
    build = registry.HEADS["mlp"].builder((16,), 3)
    assert build(mlp.STUDY).eval()(torch.randn(2, 16)).shape == (2, 3)
    with pytest.raises(UserError, match="unknown probe head 'svm'"):
        registry.get_head("svm")
    assert np.isclose(rep_cnn.STUDY["lr"], 1e-4) and rep_cnn.STUDY_ONEHOT["lr"] == 1e-3
