"""A tiny synthetic splicing set in the study's ``delta_logit.h5`` layout (paper.md §1.1).

x: (N, 800, 4) one-hot, NLC: ``seql`` (400 nt around the exon start) ‖ ``seqr`` (400 nt around
its end). y: (N, T, 2): ``y[..., 0]`` = logit(PSI_t) − mean logit (NaN where unobserved),
``y[..., 1]`` = the mean logit. The planted signal: the mean logit follows the left half's GC
content, each tissue's offset from it follows a tissue-specific weight on (GC left − GC right),
so a model must read both halves, each from its own tower.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from glmprobe.cli import main
from glmprobe.data.onehot import encode

HALF = 400


def splicing_arrays(n: int, tissues: int, seed: int, missing: float = 0.15) -> tuple[np.ndarray, np.ndarray, list]:
    rng = np.random.default_rng(seed)
    gc_l, gc_r = rng.uniform(0.3, 0.7, n), rng.uniform(0.3, 0.7, n)
    seqs = []
    for a, b in zip(gc_l, gc_r):
        halves = [rng.choice(list("ACGT"), HALF, p=[(1 - g) / 2, g / 2, g / 2, (1 - g) / 2]) for g in (a, b)]
        seqs.append("".join(halves[0]) + "".join(halves[1]))
    x = encode(seqs, 2 * HALF).transpose(0, 2, 1)                     # NLC, as published
    weights = np.linspace(-2.0, 2.0, tissues)
    mean = 6.0 * (gc_l - 0.5)
    delta = 8.0 * np.outer(gc_l - gc_r, weights) + 0.2 * rng.normal(size=(n, tissues))
    delta[rng.random((n, tissues)) < missing] = np.nan
    y = np.stack([delta, np.broadcast_to(mean[:, None], (n, tissues))], -1).astype(np.float32)
    return x.astype(np.float32), y, seqs


def write_splicing_h5(path: Path, n: tuple[int, int, int] = (48, 16, 24), tissues: int = 12,
                      seed: int = 0) -> dict:
    """Write ``x_{split}``/``y_{split}``; returns {split: (x, y, sequences)}."""
    out = {}
    with h5py.File(path, "w") as h5:
        for k, (split, m) in enumerate(zip(("train", "valid", "test"), n)):
            x, y, seqs = splicing_arrays(m, tissues, seed + k)
            h5[f"x_{split}"], h5[f"y_{split}"] = x, y
            out[split] = (x, y, seqs)
    return out


@pytest.fixture
def splicing_h5(tmp_path):
    """(path to a tiny delta_logit.h5, its arrays by split)."""
    path = tmp_path / "delta_logit.h5"
    return path, write_splicing_h5(path)


@pytest.fixture
def splicing_dataset(tmp_path, splicing_h5):
    """``dataset.h5`` prepared from the tiny splicing file through `glmprobe prepare` (the CLI)."""
    path, arrays = splicing_h5
    sheet = tmp_path / "datasets.csv"
    sheet.write_text(f"id,format,path\nsplice,splicing_h5,{path.name}\n")
    glmprobe_cli("prepare", sheet, "--outdir", tmp_path / "results", "--quiet")
    found = sorted((tmp_path / "results").rglob("dataset.h5"))
    assert found, "prepare wrote no dataset.h5"
    return found[0], arrays


def glmprobe_cli(*args):
    """Run `glmprobe ARGS` through the real entry point; a non-zero exit fails the test."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        assert not exc.code, f"glmprobe {args[0]} exited {exc.code}"


@pytest.fixture(scope="session")
def tiny_nt(tmp_path_factory):
    from glmprobe.glm.tiny import save_tiny_model

    # 6-mer tokens: a 400-nt half is 71 tokens (fits 96), the whole 800 nt (135) would not
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny_nt", "kmer6", hidden=8, layers=1, heads=2,
                           max_tokens=96)


def embed_splicing(tmp_path, dataset, model):
    """`glmprobe embed` of a splicing dataset with a tiny model (mean + tokens, last layer)."""
    store = tmp_path / "embeddings" / "splice" / "tiny"
    glmprobe_cli("embed", "--dataset", dataset, "--source", model, "--family", "nt", "--model", "tiny",
                 "--layers", "last", "--pooling", "mean;tokens", "--outdir", store, "--device", "cpu", "--quiet")
    return store
