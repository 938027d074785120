"""Task-specific training losses, by name, for datasets whose targets need more than MSE/BCE.

The fit loop's default is the task's loss (MSE, or BCE-with-logits). A dataset can call for
another one; today that is the splicing layout (``dataset.h5`` with ``/target_offsets``), whose
targets are logit offsets from each exon's mean logit and whose study loss is ``diff_KL``
(paper.md §3, ``alternative-splicing/custom_model.py``).

A loss registered here takes ``(out, y, reduction)`` with ``y`` of shape (B, T, 2): the targets
stacked with their offsets (the study's ``y[..., 0:2]``; :class:`glmprobe.train.data.Feeder`
stacks them when the split carries offsets). ``reduction="sum"`` returns the summed loss over
observed entries, ``"mean"`` divides by their count. Each entry says which metric is its
task's headline (what the fit loop records per epoch).
"""

from __future__ import annotations

import torch

from glmprobe.registry import Registry

LOSSES = Registry("training loss", where="loss")
PSI_CLIP = 1e-5   # the study clips both probabilities to [1e-5, 1 - 1e-5]


@LOSSES.register("diff_kl", headline="spearman")
def diff_kl(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """KL(Bernoulli(PSI_true) || Bernoulli(sigmoid(out + offset))), masked where PSI is unobserved.

    PSI_true = sigmoid(target + offset). Unobserved entries are zeroed *before* any arithmetic,
    so a NaN target never reaches the gradient. The mean is over observed entries (the study's
    Keras loss averaged over every entry, observed or not: a documented deviation).
    """
    delta, offset = y[..., 0], y[..., 1]
    mask = ~torch.isnan(delta)
    out = out.float().reshape(delta.shape)
    offset = torch.where(mask, offset, torch.zeros_like(offset))
    p = torch.sigmoid(torch.where(mask, delta, torch.zeros_like(delta)) + offset).clamp(PSI_CLIP, 1 - PSI_CLIP)
    q = torch.sigmoid(out + offset).clamp(PSI_CLIP, 1 - PSI_CLIP)
    kl = p * (torch.log(p) - torch.log(q)) + (1 - p) * (torch.log1p(-p) - torch.log1p(-q))
    total = (kl * mask).sum()
    if reduction == "sum":
        return total
    return total / mask.sum().clamp(min=1)


def observed(y: torch.Tensor, loss: str | None) -> torch.Tensor:
    """Mask of the observed targets of a batch (``y`` stacked with offsets when ``loss`` is set)."""
    return ~torch.isnan(y[..., 0] if loss else y)


def loss_for(offsets) -> str | None:
    """The loss a dataset calls for: ``diff_kl`` when its targets carry offsets, else the task's own."""
    return "diff_kl" if offsets is not None else None
