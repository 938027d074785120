"""One-hot architectures: shapes, Keras port details, length limits, shared search space."""

from __future__ import annotations

import optuna
import pytest
import torch
from torch import nn

from glmprobe.errors import UserError
from glmprobe.heads import deepstarr, dilres, layers, mpraann, resnet
from glmprobe.heads.baseline import ARCHS, load_arch

OWN = {"resnet": resnet, "mpraann": mpraann, "deepstarr": deepstarr, "dilres": dilres}


@pytest.mark.parametrize("name", sorted(OWN))
@pytest.mark.parametrize("length,targets", [(230, 1), (101, 3)])
def test_build_gives_n_targets_outputs(name, length, targets):
    mod = OWN[name]
    net = mod.build(4, length, targets, {"width": 0.5, "dropout": 1.0}).eval()
    out = net(torch.rand(3, 4, length))
    assert out.shape == (3, targets) and torch.isfinite(out).all()


def test_batchnorm_settings_and_glorot_init():
    torch.manual_seed(0)
    net = resnet.build(4, 230, 1, resnet.STUDY)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d)]
    assert bns and all(m.momentum == 0.1 and m.eps == 1e-3 for m in bns)
    first = net.stem[0]
    bound = (6 / (first.in_channels * 19 + first.out_channels * 19)) ** 0.5  # Glorot-uniform limit
    assert first.weight.abs().max() <= bound and first.weight.abs().max() > 0.9 * bound
    assert torch.all(first.bias == 0)


def test_resnet_matches_the_study_layout():
    net = resnet.build(4, 230, 1, resnet.STUDY)
    convs = [m for m in net.residual.body if isinstance(m, nn.Conv1d)]
    assert [c.dilation[0] for c in convs] == [1, 1, 2, 4, 8, 16]
    assert all(c.bias is None and c.kernel_size == (3,) for c in convs)
    assert net.stem[0].out_channels == 196 and net.stem[0].kernel_size == (19,)
    # 230 -> pool 5 -> 46 -> pool 5 -> 9 -> avgpool 2 -> 4 positions x 256
    assert [m for m in net.trunk if isinstance(m, nn.Linear)][0].in_features == 4 * 256
    assert sum(p.numel() for p in resnet.build(4, 230, 1, {"width": 2.0}).parameters()) > 3 * sum(
        p.numel() for p in net.parameters())


def test_mpraann_valid_padding_and_channel_softmax():
    net = mpraann.build(4, 230, 1, mpraann.STUDY)
    # valid convs k7, k8, pool 2, k3, k2: 230 -> 224 -> 217 -> 108 -> 106 -> 105
    assert mpraann.out_length(230) == 105
    assert [m for m in net.net if isinstance(m, nn.Linear)][0].in_features == 100 * 105
    x = torch.randn(2, 5, 7)
    assert torch.allclose(layers.ChannelSoftmax()(x).sum(1), torch.ones(2, 7))


def test_exp_runs_in_fp32_without_overflow():
    y = layers.Exp()(torch.tensor([100.0], dtype=torch.float16))
    assert y.dtype == torch.float32 and torch.isfinite(y).all()


def test_dropout_scale_multiplies_rates():
    net = resnet.build(4, 230, 1, {"dropout": 0.5})
    rates = sorted({m.p for m in net.modules() if isinstance(m, nn.Dropout)})
    assert rates == pytest.approx([0.05, 0.1, 0.25])


@pytest.mark.parametrize("name,short", [("resnet", 49), ("mpraann", 18), ("deepstarr", 15), ("dilres", 31)])
def test_too_short_sequences_are_a_user_error(name, short):
    with pytest.raises(UserError, match=f"too short for '{name}'"):
        OWN[name].build(4, short, 1, {})


def test_own_archs_search_the_shared_space_and_study_is_inside_it():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    keys = {name: set(mod.space(study.ask())) for name, mod in OWN.items()}
    searched = {"lr", "weight_decay", "batch_size", "schedule", "dropout", "width", "rc"}
    # dilres also fixes its ensemble size and augmentation in every trial (not searched)
    assert all(k == searched | ({"members", "shift", "mutate"} if name == "dilres" else set())
               for name, k in keys.items())
    from glmprobe.train import tune
    for mod in OWN.values():
        s = mod.STUDY
        assert tune.LR_RANGE[0] <= s["lr"] <= tune.LR_RANGE[1] and s["batch_size"] in tune.BATCH_SIZES
        assert s["weight_decay"] in tune.WEIGHT_DECAYS and s["width"] in tune.WIDTHS


def test_registry_covers_every_contract_arch_and_rejects_unknown():
    assert set(ARCHS) == {"resnet", "mpraann", "cnn", "chip_cnn", "deepstarr", "mtsplice", "dilres",
                          "kmer", "mononuc", "dinuc", "dinuc_mlp"}
    with pytest.raises(UserError, match="unknown arch 'vgg'"):
        load_arch("vgg")


def test_missing_arch_module_fails_clearly(monkeypatch):
    import glmprobe.heads.baseline as b
    from glmprobe.registry import Registry
    monkeypatch.setattr(b, "ARCHS", Registry("arch", where="--arch"))
    b._arch("ghost", "glmprobe.heads.no_such_module")
    with pytest.raises(UserError, match="needs module glmprobe.heads.no_such_module"):
        load_arch("ghost")


def test_cnn_and_chip_cnn_baselines_search_rc_and_take_the_tasks_study_loop():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for name in ("cnn", "chip_cnn", "resnet", "dilres"):
        assert "rc" in load_arch(name).space(study.ask())
    # binary tasks: the study's one-hot ChIP/eCLIP loop (batch 256), regression: lentiMPRA's (batch 128)
    assert load_arch("resnet").study_for("binary")["batch_size"] == 256
    assert load_arch("resnet").study_for("regression")["batch_size"] == 128
    assert load_arch("cnn").study_for("regression")["reduce_dim"] == 196
