"""A trained model from its record folder: one-hot baselines and gLM probes, rebuilt for attribution.

Both kinds are stored the same way by :func:`glmprobe.train.outputs.write_outputs`:
``record.json`` (tags, the best hyper-parameters in ``params``, the dataset checksum in
``inputs``) beside ``model_seed<S>.safetensors``. A baseline is rebuilt from its arch
module; a probe from its head module plus the gLM named in the embedding store's manifest
(family, source, revision), so the whole chain sequence -> tokens -> gLM -> pooling -> head
can be re-run on edited sequences.

Everything a user can get wrong raises :class:`~glmprobe.errors.UserError`: a folder that
is not a trained model, missing weights, a record from another dataset, a store that moved.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glmprobe.errors import UserError
from glmprobe.record import RECORD_NAME, read_record


@dataclass
class Trained:
    """A rebuilt model and what attribution needs to know about it."""

    kind: str                      # "onehot" | "glm"
    folder: Path
    record: dict
    name: str                      # model id for tables: the arch, or "<gLM>/L<layer>/<pooling>-<head>"
    length: int | None             # one-hot input length (None for gLM probes: any length the gLM takes)
    dataset_checksum: str
    module: object = None        # torch module: one-hot (N, 4, L) -> (N, T), or the probe head
    glm: GLMChain | None = None  # for gLM probes: the tokenizer -> gLM -> pooling part
    seed: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class GLMChain:
    """What turns sequences into the head's input, exactly as ``glmprobe embed`` stored it."""

    adapter: object
    layer: int
    pooling: str                   # cls | mean | tokens
    max_tokens: int                # stored token width T (token heads read a fixed (D, T))
    rc_average: bool
    manifest: dict


def _arch_loader():
    """``load_arch`` from wherever the baseline step lives (heads/ today, steps/ after issue 8)."""
    for path in ("glmprobe.steps.baseline", "glmprobe.heads.baseline"):
        try:
            return importlib.import_module(path).load_arch
        except (ImportError, AttributeError):
            continue
    raise UserError("the baseline step is not available in this installation")


def _weights(folder: Path, record: dict, seed: int | None) -> tuple[Path, int]:
    artifacts = record.get("artifacts") or {}
    if seed is None:
        name = artifacts.get("model")
        seeds = [r.get("seed") for r in record.get("replicates") or []]
        seed = int(seeds[0]) if seeds and seeds[0] is not None else 0
    else:
        name = artifacts.get(f"model_seed{seed}")
    if not name:
        known = sorted(k.removeprefix("model_seed") for k in artifacts if k.startswith("model_seed"))
        raise UserError(f"no trained weights{'' if seed is None else f' for seed {seed}'} in the record",
                        path=folder / RECORD_NAME, where="artifacts",
                        hint=f"Seeds with weights: {', '.join(known)}." if known else
                        "Train it first with `glmprobe baseline` or `glmprobe probe`.")
    path = folder / name
    if not path.exists():
        raise UserError(f"weights file {name} is missing", path=folder,
                        hint="The folder is incomplete; retrain it with --force.")
    return path, int(seed)


def _load_state(module, path: Path, folder: Path):
    import torch
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
        module.load_state_dict(state)
    except (RuntimeError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise UserError(f"the weights do not fit the model described by its record ({first})", path=path,
                        hint="The record and weights are from different runs; retrain with --force.") from None
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    torch.set_grad_enabled(True)
    return module


def read_trained_record(folder: str | os.PathLike) -> dict:
    folder = Path(folder)
    try:
        record = read_record(folder / RECORD_NAME)
    except FileNotFoundError:
        raise UserError("not a trained model folder (no record.json)", path=folder,
                        hint="Pass a baselines/<dataset>/<arch>/ or probes/<dataset>/<model>/L<l>/<pooling>-<head>/ "
                             "folder.") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"unreadable record.json ({exc})", path=folder) from None
    if record.get("step") not in ("baseline", "probe"):
        raise UserError(f"the record is from step {record.get('step')!r}, not a trained baseline or probe",
                        path=folder / RECORD_NAME, where="step",
                        hint="Pass a folder written by `glmprobe baseline` or `glmprobe probe`.")
    return record


def load_trained(folder: str | os.PathLike, n_targets: int, *, seed: int | None = None, device: str = "cpu",
                 store: str | os.PathLike | None = None) -> Trained:
    """Rebuild the model in ``folder`` (weights of replicate ``seed``; default the first)."""
    folder = Path(folder)
    record = read_trained_record(folder)
    checksum = ((record.get("inputs") or {}).get("dataset") or {}).get("checksum", "")
    path, seed = _weights(folder, record, seed)
    params = dict(record.get("params") or {})
    if record["step"] == "baseline":
        from glmprobe.train.ensemble import shell

        arch = params.get("arch") or record["tags"].get("arch")
        spec = _arch_loader()(arch)
        length = int(params["length"])
        module = _load_state(shell(lambda hp: spec.build(length, n_targets, hp), params), path, folder).to(device)
        return Trained("onehot", folder, record, arch, length, checksum, module, seed=seed)
    return _load_probe(folder, record, params, path, seed, n_targets, checksum, device, store)


def _store_folder(record: dict, folder: Path, store: str | os.PathLike | None) -> Path:
    if store is not None:
        return Path(store)
    given = Path(((record.get("inputs") or {}).get("store") or {}).get("path", ""))
    candidates = [given]
    if not given.is_absolute():  # recorded relative to the run's working folder: try the results root
        candidates += [parent / given for parent in folder.parents]
    for c in candidates:
        if (c / "manifest.json").exists():
            return c
    raise UserError(f"the embedding store {given} of this probe is not found", path=folder / RECORD_NAME,
                    where="inputs.store.path", hint="Pass --store embeddings/<dataset>/<model>/.")


def _load_probe(folder, record, params, path, seed, n_targets, checksum, device, store) -> Trained:
    import torch

    from glmprobe.glm.adapter import ModelSpec, get_adapter
    from glmprobe.glm.store import read_json
    from glmprobe.heads.registry import get_head
    from glmprobe.train.ensemble import shell

    tags = record.get("tags") or {}
    head, layer, pooling = tags.get("head"), int(tags.get("layer")), tags.get("pooling")
    store_dir = _store_folder(record, folder, store)
    manifest = read_json(store_dir / "manifest.json") or {}
    m = manifest.get("model") or {}
    spec = ModelSpec(id=m.get("id", store_dir.name), source=m.get("source", ""), family=m.get("family", ""),
                     revision=m.get("revision"), random_init=bool(m.get("random_init", False)),
                     trust_remote_code=bool(m.get("trust_remote_code", False)),
                     rc_average=bool(manifest.get("rc_average", False)), max_length=manifest.get("max_length"))
    adapter = get_adapter(spec, device)
    adapter.load()
    shape = tuple(int(x) for x in str(params.get("input_shape", "")).split("x") if x)
    hs = get_head(head)
    if head == "linear":
        from glmprobe.heads.linear import LinearProbe
        (d,) = shape
        module = LinearProbe(np.zeros(d), np.ones(d), np.zeros((n_targets, d)), np.zeros(n_targets))
    else:
        module = shell(hs.builder(shape, n_targets), params)
    module = _load_state(module, path, folder).to(device)
    T = shape[1] if hs.tokens else int(manifest.get("max_tokens_stored") or 0)
    chain = GLMChain(adapter, layer, pooling, T, spec.rc_average, manifest)
    torch.set_grad_enabled(True)
    return Trained("glm", folder, record, f"{spec.id}/L{layer}/{pooling}-{head}", None, checksum, module,
                   glm=chain, seed=seed)


def check_dataset(folder: Path, record: dict, checksum: str, dataset: Path) -> None:
    """A model is only explained on the dataset it was trained on (its sites and splits); checked
    from the record, before the weights are loaded."""
    trained_on = ((record.get("inputs") or {}).get("dataset") or {}).get("checksum", "")
    if trained_on and trained_on != checksum:
        raise UserError(f"the model was trained on another dataset (checksum {trained_on[:12]}…, "
                        f"this dataset is {checksum[:12]}…)", path=Path(folder) / RECORD_NAME,
                        where="inputs.dataset.checksum", hint=f"Pass the dataset the model was trained on, not {dataset}.")


def check_lengths(trained: Trained, seqs: Sequence[str], ids: Sequence[str]) -> None:
    if trained.length is None:
        return
    for rid, s in zip(ids, seqs):
        if len(s) != trained.length:
            raise UserError(f"record '{rid}' is {len(s)} nt but the model takes {trained.length} nt",
                            where=f"id={rid}", hint="Attribute sequences of the length the model was trained on.")
