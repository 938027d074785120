"""Device resolution, one rule for every step: ``auto`` picks cuda when present, else cpu.

An explicit cuda request without a visible GPU is an error rather than a silent CPU run
(study bug §8.15): a benchmark that was meant for a GPU must not quietly take days.
"""

from __future__ import annotations

from glmprobe.errors import UserError

DEVICES = ("auto", "cpu", "cuda")
DEFAULT_DEVICE = "auto"     # what a step, `glmprobe run` and the pipeline ask for when not told


def resolve_device(name: str | None) -> str:
    """``auto`` (or empty) -> ``cuda`` when a GPU is visible, else ``cpu``; ``cuda[:N]`` needs a GPU."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but no CUDA GPU is visible", where="--device",
                        hint="Use --device cpu (or auto), or run on a GPU node.")
    if name not in DEVICES and not name.startswith("cuda:"):
        raise UserError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}", where="--device")
    return name
