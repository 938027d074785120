"""Fixtures for attribution: tiny one-hot CNNs, tiny gLM probes built from config, a trained baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn


class TinyCNN(nn.Module):
    """Conv -> ReLU -> MaxPool -> Linear: every op has a DeepLIFT rule; 2 outputs."""

    def __init__(self, length: int = 24, n_targets: int = 2, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv1d(4, 6, 5, padding=2)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool1d(2)
        self.flat = nn.Flatten()
        self.out = nn.Linear(6 * (length // 2), n_targets)

    def forward(self, x):
        return self.out(self.flat(self.pool(self.act(self.conv(x)))))


def random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    codes = np.random.default_rng(seed).integers(0, 4, (n, length))
    return np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()


@pytest.fixture
def tiny_cnn():
    return TinyCNN().eval()


@pytest.fixture
def onehot():
    """random_onehot(n, length, seed) -> (n, 4, length) float32."""
    return random_onehot


@pytest.fixture
def make_probe():
    """glm_probe(folder, family, pooling=, n_targets=, seed=) -> a Trained gLM probe with a random head."""
    return glm_probe


def glm_probe(folder, family: str, *, pooling: str = "mean", n_targets: int = 2, seed: int = 0):
    """A Trained gLM probe: the tiny gLM at ``folder`` + a random linear head on its last layer."""
    from glmprobe.attribution.loader import GLMChain, Trained
    from glmprobe.glm.adapter import ModelSpec, get_adapter
    from glmprobe.heads.linear import LinearProbe

    adapter = get_adapter(ModelSpec(id=folder.name, source=str(folder), family=family), "cpu")
    adapter.load()
    rng = np.random.default_rng(seed)
    d = adapter.hidden_size
    head = LinearProbe(np.zeros(d), np.ones(d), rng.normal(size=(n_targets, d)), np.zeros(n_targets)).eval()
    chain = GLMChain(adapter, adapter.num_layers, pooling, 0, False, {})
    return Trained("glm", folder, {}, f"{folder.name}/mean-linear", None, "", head, glm=chain)


@pytest.fixture(scope="session")
def tiny_char(tmp_path_factory):
    from glmprobe.glm.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("attr_models") / "tiny_char", "char", hidden=16, layers=2,
                           heads=2, max_tokens=256)


@pytest.fixture(scope="session")
def tiny_kmer(tmp_path_factory):
    from glmprobe.glm.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("attr_models") / "tiny_kmer", "kmer6", hidden=16, layers=2,
                           heads=2, max_tokens=64)


@pytest.fixture(scope="session")
def chip_baseline(prepared_synth, tmp_path_factory):
    """A one-hot chip_cnn trained for one epoch on the small synthetic ChIP set (values, not quality)."""
    from glmprobe.train.tune import TuneOptions

    try:
        from glmprobe.steps.baseline import baseline_step
    except ImportError:
        from glmprobe.steps.baseline import baseline_step
    out = tmp_path_factory.mktemp("attr_results")
    opts = TuneOptions(trials=1, replicates=1, max_epochs=1, fixed={"width": 0.25}, device="cpu")
    record = baseline_step(prepared_synth["synth_chip"], "chip_cnn", out, opts)
    return record.parent
