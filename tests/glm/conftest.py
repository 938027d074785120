"""Fixtures for the embedding engine: tiny datasets and tiny ESM models saved locally."""

from __future__ import annotations

import numpy as np
import pytest

from glmprobe.data.dataset import Dataset, write_dataset


def make_dataset(path, n=40, lengths=(30, 37), seed=0, name="toy", alphabet="ACGT"):
    rng = np.random.default_rng(seed)
    lo, hi = lengths
    seqs = ["".join(rng.choice(list(alphabet), int(rng.integers(lo, hi + 1)))) for _ in range(n)]
    split = np.array((["train"] * 8 + ["valid", "test"]) * (n // 10 + 1), dtype=object)[:n]
    ds = Dataset(name, np.array([f"{name}_{i}" for i in range(n)], dtype=object), np.array(seqs, dtype=object),
                 rng.normal(size=(n, 1)).astype("f4"), ["y"], "regression", split)
    write_dataset(path, ds)
    return path


@pytest.fixture
def dataset_factory():
    """make_dataset(path, n=, lengths=(lo, hi), seed=, alphabet=) -> path of a toy dataset.h5."""
    return make_dataset


@pytest.fixture
def toy_h5(tmp_path):
    return make_dataset(tmp_path / "toy.h5")


@pytest.fixture(scope="session")
def tiny_char(tmp_path_factory):
    from glmprobe.glm.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny_char", "char", hidden=16, layers=2, heads=2,
                           max_tokens=128)


@pytest.fixture(scope="session")
def tiny_kmer(tmp_path_factory):
    from glmprobe.glm.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny_kmer", "kmer6", hidden=16, layers=3, heads=2,
                           max_tokens=64)
