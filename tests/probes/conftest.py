"""Tiny dataset + embedding store pairs with a planted linear signal, built by hand.

The store follows docs/CONTRACTS.md exactly (store.h5 written with the store module's own
allocator and row writer, manifest.json by hand), so the probes are tested without a gLM.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glmprobe.data.dataset import Dataset, write_dataset
from glmprobe.glm.store import MANIFEST_NAME, STORE_NAME, RowWriter, create_store, pooled_name, tokens_name


def make_inputs(root: Path, *, task: str = "regression", n: int = 90, n_targets: int = 1, layers=(1, 2),
                poolings=("cls", "mean", "tokens"), hidden: int = 8, tokens: int = 12, seed: int = 0,
                split_counts: tuple[int, int, int] | None = None, labels: np.ndarray | None = None,
                name: str = "toy") -> tuple[Path, Path]:
    """Write ``root/dataset.h5`` and ``root/store/`` whose deepest layer predicts the targets."""
    rng = np.random.default_rng(seed)
    tr, va, te = split_counts or (n - 2 * (n // 5), n // 5, n // 5)
    n = tr + va + te
    split = np.array(["train"] * tr + ["valid"] * va + ["test"] * te)
    ids = np.array([f"s{i}" for i in range(n)])
    seqs = np.array(["".join(rng.choice(list("ACGT"), 20)) for _ in range(n)])
    tok = rng.normal(size=(n, tokens, hidden)).astype(np.float32)
    signal = tok[:, :, 0].mean(1) * 4 + 0.5 * tok[:, 0, 1]   # mostly in mean; some in cls (token 0)
    if labels is None:
        score = np.stack([signal + 0.1 * t for t in range(n_targets)], 1) + 0.3 * rng.normal(size=(n, n_targets))
        labels = score if task == "regression" else (score > np.median(score, 0)).astype(np.float32)
    ds = Dataset(name, ids, seqs, np.asarray(labels, np.float32).reshape(n, -1),
                 [f"t{j}" for j in range(n_targets)], task, split)
    checksum = write_dataset(root / "dataset.h5", ds)

    store = root / "store"
    store.mkdir(parents=True)
    create_store(store / STORE_NAME, ids=lambda lo, hi: np.asarray(ids)[lo:hi], split=np.array([{"train": 0, "valid": 1, "test": 2}[s] for s in split]),
                 layers=layers, poolings=poolings, hidden=hidden, max_tokens=tokens, dtype="float16")
    w = RowWriter(store / STORE_NAME)
    for i, layer in enumerate(layers):
        # shallower layers carry a weaker copy of the signal
        x = tok * (0.2 + 0.8 * (i + 1) / len(layers)) + rng.normal(size=tok.shape) * 0.5 * (len(layers) - i - 1)
        x = x.astype(np.float16)
        if "cls" in poolings:
            w.write(pooled_name(layer, "cls"), 0, x[:, 0])
        if "mean" in poolings:
            w.write(pooled_name(layer, "mean"), 0, x.mean(1))
        if "tokens" in poolings:
            w.write(tokens_name(layer), 0, x)
    if "tokens" in poolings:
        w.write("tokens/lengths", 0, np.full(n, tokens, np.int32))
        spans = np.stack([np.arange(tokens), np.arange(tokens) + 1], -1)
        w.write("tokens/spans", 0, np.broadcast_to(spans, (n, tokens, 2)).astype(np.int32))
    manifest = {
        "cache_key": f"store-{seed}-{task}", "complete": True,
        "model": {"id": "toy-glm", "source": "local", "family": "hf-mlm", "revision": "abc123",
                  "random_init": False, "trust_remote_code": False, "weights_sha256": {}},
        "adapter_version": "1", "layers": list(layers), "poolings": list(poolings), "rc_average": False,
        "max_length": None, "dtype": "float16", "hidden_size": hidden, "max_tokens_stored": tokens,
        "dataset": {"name": name, "checksum": checksum, "n": n},
    }
    (store / MANIFEST_NAME).write_text(json.dumps(manifest))
    return root / "dataset.h5", store


@pytest.fixture
def probe_inputs(tmp_path):
    """Factory: ``probe_inputs(**make_inputs kwargs) -> (dataset.h5, store dir)`` under tmp_path."""
    count = iter(range(1000))

    def make(**kwargs):
        return make_inputs(tmp_path / f"in{next(count)}", **kwargs)
    return make
