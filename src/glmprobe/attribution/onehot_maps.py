"""Attribution maps of one-hot models: saliency, grad x input, ISM, DeepLIFT/SHAP, integrated gradients.

Every method returns a :class:`Maps` with ``hypothetical`` (N, 4, L) scores for every base
(what modisco-lite reads) and ``projected``, the scores at the observed bases (hypothetical
x one-hot, what is scored against the planted sites). The work is done by the field
libraries; this module only adapts the model and records what they report:

* ``saliency``: the plain input gradient (tangermeme ``saliency``, no correction);
* ``gxi``: gradient x input with the gradient correction (subtract the per-position mean
  over the four bases before projecting; tangermeme ``gradient_correction=True``), the
  study's saliency score;
* ``ism``: every single-base substitution (tangermeme ``saturation_mutagenesis``), the
  change centred over the four bases;
* ``deeplift``: DeepLIFT/SHAP against dinucleotide-shuffled references (tangermeme
  ``deep_lift_shap``); the convergence delta |sum(attr) - (f(x) - mean f(ref))| is
  recomputed per sequence and recorded;
* ``ig``: integrated gradients from a dinucleotide-shuffled baseline (captum), with
  captum's convergence delta recorded (no hypothetical form: modisco is not run on it).

The explained output is one target's raw output (a logit for binary tasks, as in the
study) or the sum over targets (``target=None``): every planted motif drives the sum.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

METHODS = ("saliency", "gxi", "ism", "deeplift", "ig")


@dataclass
class Maps:
    hypothetical: np.ndarray           # (N, 4, L) float32
    projected: np.ndarray              # (N, 4, L) float32, zero off the observed base
    extra: dict = field(default_factory=dict)   # per-sequence arrays (e.g. convergence deltas)

    @property
    def scores(self) -> np.ndarray:
        """(N, L) signed attribution at the observed base."""
        return self.projected.sum(axis=1)


class Explained(nn.Module):
    """(N, 4, L) -> (N, 1): one target's raw output, or the sum over targets when ``target`` is None."""

    def __init__(self, model: nn.Module, target: int | None):
        super().__init__()
        self.model, self.target = model, target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        y = y.sum(dim=1, keepdim=True) if self.target is None else y[:, self.target:self.target + 1]
        return y


def strands(model: nn.Module) -> list[tuple[nn.Module, bool]]:
    """(module, reverse) pairs whose average is ``model``'s output.

    A reverse-complement-averaged model (:class:`glmprobe.heads.augment.RCAugment`) calls its
    inner network twice; DeepLIFT's hooks need each module called once per pass, so the two
    strands are attributed separately and averaged (the map of the reverse pass flipped back).
    """
    inner = getattr(model, "model", None)
    if type(model).__name__ == "RCAugment" and isinstance(inner, nn.Module):
        return [(inner, False), (inner, True)]
    return [(model, False)]


def _rc(x: torch.Tensor | np.ndarray):
    return x.flip(1, 2) if isinstance(x, torch.Tensor) else x[:, ::-1, ::-1].copy()


def _per_strand(model: nn.Module, X: torch.Tensor, target: int | None,
                fn: Callable[[nn.Module, torch.Tensor], tuple[np.ndarray, dict]]) -> tuple[np.ndarray, dict]:
    parts, extras = [], []
    pairs = strands(model)
    for module, reverse in pairs:
        net = Explained(module, target).eval()
        hyp, extra = fn(net, _rc(X) if reverse else X)
        parts.append(_rc(hyp) if reverse else hyp)
        extras.append(extra)
    hyp = np.mean(parts, axis=0)
    extra = {k: np.max([e[k] for e in extras], axis=0) for k in extras[0]}
    return hyp.astype(np.float32), extra


def _tangermeme_saliency(corrected: bool, batch_size: int, device: str):
    from tangermeme.saliency import saliency

    def fn(net, X):
        hyp = saliency(net, X, target=0, batch_size=batch_size, hypothetical=True,
                       gradient_correction=corrected, device=device)
        return hyp.float().numpy(), {}
    return fn


def _tangermeme_ism(batch_size: int, device: str):
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    def fn(net, X):
        hyp = saturation_mutagenesis(net, X, batch_size=batch_size, target=0, hypothetical=True, device=device)
        return hyp.float().numpy(), {}
    return fn


def _predict(net: nn.Module, X: torch.Tensor, batch_size: int, device: str) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([net(X[a:a + batch_size].to(device)).float().cpu().numpy()[:, 0]
                               for a in range(0, len(X), batch_size)])


def nonlinear_rules() -> dict:
    """DeepLIFT rules for glmprobe's own element-wise activations, which tangermeme does not know.

    A module missing from tangermeme's table is treated as linear: its plain gradient is used
    instead of the rescale rule, and the attributions stop summing to f(x) - f(ref) (the
    exponential first layer of ``dilres`` gave convergence deltas of ~10 on synthetic MPRA
    logits). ``Exp`` is element-wise, so the rescale rule tangermeme uses for ReLU/GELU is exact.
    """
    from tangermeme.deep_lift_shap import _nonlinear

    from glmprobe.heads.layers import Exp
    return {Exp: _nonlinear}


def _tangermeme_deeplift(n_shuffles: int, seed: int, batch_size: int, device: str):
    from tangermeme.deep_lift_shap import deep_lift_shap

    def fn(net, X):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hyp, refs = deep_lift_shap(net, X, target=0, batch_size=batch_size, n_shuffles=n_shuffles,
                                       hypothetical=True, return_references=True, random_state=seed,
                                       additional_nonlinear_ops=nonlinear_rules(), device=device)
        hyp = hyp.float()
        # DeepLIFT's summation-to-delta, per sequence over its references (tangermeme only warns)
        fx = _predict(net, X, batch_size, device)
        fr = _predict(net, refs.reshape(-1, *X.shape[1:]).float(), batch_size, device).reshape(len(X), -1)
        total = (hyp * X).sum(dim=(1, 2)).numpy()
        delta = np.abs(total - (fx - fr.mean(axis=1)))
        n_warn = sum(1 for w in caught if "onvergence" in str(w.message))
        return hyp.numpy(), {"convergence_delta": delta, "tangermeme_warnings": np.full(len(X), n_warn)}
    return fn


def _captum_ig(steps: int, seed: int, batch_size: int, device: str):
    from captum.attr import IntegratedGradients
    from tangermeme.ersatz import dinucleotide_shuffle

    def fn(net, X):
        base = dinucleotide_shuffle(X, n=1, random_state=seed)[:, 0].float()
        ig = IntegratedGradients(net)
        attrs, deltas = [], []
        for a in range(0, len(X), batch_size):
            x, b = X[a:a + batch_size].to(device), base[a:a + batch_size].to(device)
            attr, delta = ig.attribute(x, baselines=b, target=0, n_steps=steps, internal_batch_size=batch_size,
                                       return_convergence_delta=True)
            attrs.append(attr.detach().cpu())
            deltas.append(delta.detach().abs().cpu())
        # IG has no hypothetical form: the raw (N, 4, L) attributions (negative at the
        # baseline's bases); the projection puts each position's sum on the observed base
        return torch.cat(attrs).numpy(), {"convergence_delta": torch.cat(deltas).numpy()}
    return fn


def onehot_maps(model: nn.Module, X: np.ndarray, method: str, *, target: int | None = None, seed: int = 0,
                n_shuffles: int = 20, ig_steps: int = 50, batch_size: int = 64, device: str = "cpu") -> Maps:
    """Maps of ``method`` for one-hot sequences ``X`` (N, 4, L) under ``model``."""
    if method not in METHODS:
        raise ValueError(f"unknown one-hot method {method!r}")
    Xt = torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32)
    fn = {"saliency": lambda: _tangermeme_saliency(False, batch_size, device),
          "gxi": lambda: _tangermeme_saliency(True, batch_size, device),
          "ism": lambda: _tangermeme_ism(batch_size, device),
          "deeplift": lambda: _tangermeme_deeplift(n_shuffles, seed, batch_size, device),
          "ig": lambda: _captum_ig(ig_steps, seed, batch_size, device)}[method]()
    hyp, extra = _per_strand(model, Xt, target, fn)
    projected = hyp * X if method != "ig" else X * hyp.sum(axis=1, keepdims=True)
    return Maps(hyp, projected.astype(np.float32), extra)
