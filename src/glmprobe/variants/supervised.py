"""Supervised variant scores: prediction(alt) - prediction(ref) of a trained model.

Any folder written by ``glmprobe baseline`` (one-hot model) or ``glmprobe probe`` (a head on
a frozen gLM) is rebuilt by :func:`glmprobe.attribution.loader.load_trained` (shared with the
attribution step) and run on the ref and alt windows at the model's own input length (the
"matched" length of the study's task-1 models, 230 nt). Every replicate seed's weights are
used and their scores averaged; with ``rc_average`` each score is also averaged over both
strands, ``(f(alt) - f(ref) + f(rc alt) - f(rc ref)) / 2``. Each distinct ref window is
predicted once per chunk. One score column per target: ``pred_<target>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from glmprobe.data.onehot import encode, reverse_complement
from glmprobe.errors import UserError
from glmprobe.variants.windows import SiteChunk


def target_names(folder: Path) -> list[str]:
    """Target names in training order (the order of the first rows of predictions.csv)."""
    path = Path(folder) / "predictions.csv"
    try:
        names = pd.read_csv(path, usecols=["target"], nrows=4096)["target"].astype(str)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot read the target names from predictions.csv ({exc})", path=path,
                        hint="The trained-model folder is incomplete; retrain it with --force") from None
    return list(dict.fromkeys(names))


def _seeds(record: dict) -> list[int | None]:
    seeds = [r.get("seed") for r in record.get("replicates") or [] if r.get("seed") is not None]
    artifacts = record.get("artifacts") or {}
    seeds = [int(s) for s in seeds if f"model_seed{int(s)}" in artifacts]
    return seeds or [None]


def dataset_length(record: dict) -> int | None:
    """Sequence length of the dataset a model was trained on, when its dataset.h5 is at hand."""
    from glmprobe.data.dataset import DatasetFile

    path = ((record.get("inputs") or {}).get("dataset") or {}).get("path")
    if not path or not Path(path).exists():
        return None
    with DatasetFile(path) as ds:
        return len(ds.sequences(slice(0, 1))[0]) if len(ds) else None


class SupervisedScorer:
    """alt - ref predictions of one trained model folder (all replicate seeds averaged)."""

    def __init__(self, folder: str | Path, *, rc_average: bool = False, batch_size: int = 256,
                 device: str = "cpu", store: str | Path | None = None):
        from glmprobe.attribution.loader import load_trained

        self.folder = Path(folder)
        self.targets = target_names(self.folder)
        first = load_trained(self.folder, len(self.targets), device=device, store=store)
        seeds = _seeds(first.record)
        self.models = [first] + [load_trained(self.folder, len(self.targets), seed=s, device=device, store=store)
                                 for s in seeds[1:]]
        self.record, self.kind, self.name = first.record, first.kind, first.name
        self.length = first.length or dataset_length(first.record)
        self.rc_average, self.batch_size, self.device = rc_average, max(1, int(batch_size)), device
        self._features = self._glm_features(first) if first.kind == "glm" else self._onehot

    # ------------------------------------------------------------------ inputs
    def _onehot(self, seqs: Sequence[str]):
        import torch

        return torch.from_numpy(encode(list(seqs), self.length))

    def _glm_features(self, first) -> Callable:
        from glmprobe.attribution.glm_ism import GLMPredictor

        predictor = GLMPredictor(first, batch_size=self.batch_size, device=self.device)
        self.glm_adapter = first.glm.adapter
        return predictor.features   # the gLM runs once; every replicate head reads the same features

    def predict(self, seqs: Sequence[str]) -> np.ndarray:
        """Raw outputs (N, T), averaged over replicate models."""
        import torch

        out = np.zeros((len(seqs), len(self.targets)))
        for a in range(0, len(seqs), self.batch_size):
            x = self._features(seqs[a:a + self.batch_size]).to(self.device)
            with torch.inference_mode():
                for m in self.models:
                    out[a:a + len(x)] += m.module(x).double().cpu().numpy()
        return out / len(self.models)

    # ------------------------------------------------------------------ scores
    def columns(self) -> list[str]:
        return [f"pred_{t}" for t in self.targets]

    def score(self, chunk: SiteChunk) -> dict[str, np.ndarray]:
        if self.length is not None and len(chunk.ref[0]) != self.length:
            raise UserError(f"windows are {len(chunk.ref[0])} nt but the model takes {self.length} nt",
                            where="--length", hint="Leave --length unset to use the model's input length")
        strands = [lambda s: s] + ([reverse_complement] if self.rc_average else [])
        delta = np.zeros((len(chunk), len(self.targets)))
        for f in strands:
            pred = self.predict([f(s) for s in chunk.ref + chunk.alt])
            n_ref = len(chunk.ref)
            delta += pred[n_ref:] - pred[:n_ref][chunk.site]
        delta /= len(strands)
        return {col: delta[:, j] for j, col in enumerate(self.columns())}


def model_tags(scorer: SupervisedScorer) -> dict:
    tags = scorer.record.get("tags") or {}
    return {"model": scorer.name, "kind": "baseline" if scorer.kind == "onehot" else "probe",
            "trained_on": tags.get("dataset", ""), "head": tags.get("head", ""), "layer": tags.get("layer", ""),
            "replicates": len(scorer.models), "length": scorer.length if scorer.length else math.nan}
