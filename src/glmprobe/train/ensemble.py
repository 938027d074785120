"""Deep ensembles: ``members`` copies of one architecture from their own seeds, predictions averaged.

Why: on the synthetic MPRA-like task, dilres fits from different seeds score alike (test Pearson
0.611, 0.615, 0.619) but learn different filters, so their errors are nearly independent: the
mean of two scores 0.656 and of three 0.669 (``benchmarks/bench_baselines.py``, README).
Longer training (no early stop: 0.595) and weight averaging (EMA: 0.593-0.607) did not do that.

Members train one after another on an even share of the remaining budget, each with the usual
early stopping, so ``--timeout``/``--refit-timeout`` still bound the whole fit. The result is one
plain ``nn.Module`` (:class:`Ensemble`, forward = mean of the members' outputs; logits for binary
tasks), so prediction, attribution and ISM treat it as any other model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from glmprobe.train.fit import FitResult

MEMBER_SEED_STRIDE = 1_000  # member m of a fit on seed s trains on seed s + m * stride (member 0: s itself)


class Ensemble(nn.Module):
    """(N, ...) -> the mean over members of their (N, T) outputs."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)


def shell(build_one: Callable[[dict], nn.Module], hp: dict) -> nn.Module:
    """The untrained structure saved weights load into: one model, or an Ensemble of ``hp["members"]``."""
    members = int(hp.get("members", 1))
    return build_one(hp) if members == 1 else Ensemble([build_one(hp) for _ in range(members)])


def member_seeds(seed: int, members: int) -> list[int]:
    return [seed + m * MEMBER_SEED_STRIDE for m in range(members)]


def fit_members(fit_one: Callable[[int, float | None, bool], FitResult], members: int, seed: int,
                deadline: float | None, clock: Callable[[], float],
                evaluate: Callable[[nn.Module], float]) -> FitResult:
    """Fit ``members`` models via ``fit_one(seed, deadline, first)`` and join them into one result.

    ``first`` is True for member 0 only (an Optuna trial reports and prunes on it). The joined
    history runs the members back to back (epoch numbers continue; ``member`` says whose row it
    is), ``best_epoch`` is the members' mean best epoch, and ``best_val_loss`` is the ensemble's
    own validation loss from ``evaluate``.
    """
    results, history, offset = [], [], 0
    for m, member_seed in enumerate(member_seeds(seed, members)):
        share = None if deadline is None else clock() + max(deadline - clock(), 0.0) / (members - m)
        res = fit_one(member_seed, share, m == 0)
        results.append(res)
        history += [{**row, "epoch": row["epoch"] + offset, "member": m} for row in res.history]
        offset += len(res.history)
    model = Ensemble([r.model for r in results]).eval()
    stopped = ",".join(dict.fromkeys(r.stopped for r in results))
    best_epoch = round(sum(r.best_epoch for r in results) / members)
    val = evaluate(model)
    return replace(results[0], model=model, best_epoch=best_epoch, history=history, stopped=stopped,
                   best_val_loss=val if math.isfinite(val) else math.inf)
