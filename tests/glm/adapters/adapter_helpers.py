"""Helpers for the adapter tests (a uniquely named module: `conftest` names collide across folders)."""

from __future__ import annotations

import random

import numpy as np

BASES = "ACGT"


def random_dna(n: int, length: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(BASES) for _ in range(length)) for _ in range(n)]


def make_adapter(family: str, source, load: bool = True, **spec):
    from glmprobe.glm.adapter import ModelSpec, get_adapter

    spec.setdefault("trust_remote_code", family in {"dnabert2", "gena", "hyenadna", "caduceus"})
    adapter = get_adapter(ModelSpec(id=f"tiny-{family}", source=str(source), family=family, **spec))
    if load:
        adapter.load()
    return adapter


def load_standin(family: str, folder, **spec):
    """A loaded adapter on a family's stand-in; Caduceus loads through the plain HF path, because
    CaduceusAdapter.load refuses the CPU (mamba_ssm kernels) and the stand-in is plain PyTorch."""
    from glmprobe.glm.adapters.hf import HFAdapter

    adapter = make_adapter(family, folder, load=False, **spec)
    if family == "caduceus":
        HFAdapter.load(adapter)
    else:
        adapter.load()
    return adapter


def count_forwards(module):
    """Attach a counter of forward calls (counted as they start: a pass that stops early after
    the deepest requested layer never returns from the model); returns the list it appends to."""
    calls = []
    module.register_forward_pre_hook(lambda *args: calls.append(1))
    return calls


def assert_exact_cover(batch, seqs):
    """Every base of every sequence is in exactly one non-special token (non-overlapping tokenizers)."""
    import numpy as np

    for i, seq in enumerate(seqs):
        cover = np.zeros(len(seq), dtype=int)
        for a, b in batch.spans[i][~batch.special_mask[i]]:
            assert 0 <= a < b <= len(seq)
            cover[a:b] += 1
        assert (cover == 1).all(), f"sequence {i} coverage {cover.tolist()}"
        assert (batch.spans[i][batch.special_mask[i]] == -1).all()


def assert_same_batch(fast, ref) -> None:
    """Two TokenBatches are identical: every field, values and dtypes."""
    for f in ("input_ids", "attention_mask", "special_mask", "spans", "lengths"):
        a, b = getattr(fast, f), getattr(ref, f)
        assert a.dtype == b.dtype, f
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f)
