"""The embedding store's cache key: a sha256 of everything that determines its contents.

Two runs with the same key produce the same arrays, so a rerun reuses the store and a
killed run may resume into it. Anything that changes the numbers belongs here: the
dataset (by checksum, not path), the model source, revision and weight-file hashes,
the adapter version, layers, poolings, reverse-complement averaging, context length,
windowing, storage dtype, the rows (shard) covered, and the device kind (cpu/cuda) with the
forward pass's precision (fp32, or bf16/fp16 autocast): those change the numbers. Batch size
does not enter (padding is masked; it changes speed only).

The key itself is :func:`glmprobe.steps.skeleton.key_of` over :func:`key_fields`, without
the glmprobe version (``KEY_VERSION`` pins the layout instead), so a release that does not
change embeddings keeps every store valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from glmprobe.atomic import sha256_file
from glmprobe.glm.adapter import RANDOM_INIT_SEED, ModelSpec

KEY_VERSION = 2  # 2: device kind and precision


def weights_sha256(files: Sequence[Path]) -> dict[str, str]:
    """{file name: sha256} for the adapter's weight files (sorted by name)."""
    return {Path(f).name: sha256_file(f) for f in sorted(files, key=lambda p: Path(p).name)}


def model_identity(adapter) -> dict[str, str]:
    """What pins the weights in the key: local weight files' sha256, or the hub commit loaded."""
    weights = weights_sha256(adapter.weight_files())
    commit = getattr(adapter, "resolved_revision", None)
    if not weights and commit:
        weights = {"hub_commit": commit}
    return weights


def key_fields(*, dataset_checksum: str, spec: ModelSpec, adapter_version: str, weights: dict[str, str],
               layers: Sequence[int], poolings: Sequence[str], max_tokens: int | None,
               rows: tuple[int, int] | None, device: str = "cpu", precision: str = "fp32") -> dict:
    """The fields hashed into the key (also stored in the manifest for humans)."""
    return {
        "key_version": KEY_VERSION,
        "dataset_checksum": dataset_checksum,
        "source": spec.source, "family": spec.family, "revision": spec.revision,
        "weights_sha256": dict(weights),
        "random_init": spec.random_init, "random_init_seed": RANDOM_INIT_SEED if spec.random_init else None,
        "trust_remote_code": spec.trust_remote_code,
        "adapter_version": adapter_version,
        "layers": sorted(int(x) for x in layers), "poolings": sorted(poolings),
        "rc_average": spec.rc_average, "max_tokens": max_tokens, "window": spec.window,
        "dtype": spec.dtype, "rows": list(rows) if rows else None,
        # the arithmetic changes the numbers (bf16 autocast on CUDA vs fp32 on CPU): kind only, not the index
        "device": "cuda" if str(device).startswith("cuda") else "cpu", "precision": precision,
    }
