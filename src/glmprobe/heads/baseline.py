"""One-hot architectures by name: which module builds each, with which study settings.

The step that trains them is :mod:`glmprobe.steps.baseline`.
"""

from __future__ import annotations

import dataclasses
import importlib

from glmprobe.errors import UserError


# arch -> (module, extra build kwargs, name of its study-settings constant). Modules are
# imported on use, so a missing one fails with a clear message instead of at import time.
ARCHS: dict[str, tuple[str, dict, str]] = {
    "resnet": ("glmprobe.heads.resnet", {}, "STUDY"),
    "mpraann": ("glmprobe.heads.mpraann", {}, "STUDY"),
    "deepstarr": ("glmprobe.heads.deepstarr", {}, "STUDY"),
    "cnn": ("glmprobe.heads.rep_cnn", {}, "STUDY_ONEHOT"),       # study rep_cnn, reduce_dim 196
    "chip_cnn": ("glmprobe.heads.chip_cnn", {"reduce": False}, "STUDY_ONEHOT"),  # no 1x1 prefix on one-hot
    "mtsplice": ("glmprobe.heads.two_tower", {"reduce": False}, "STUDY_ONEHOT"),  # segmented (splicing) only
}


@dataclasses.dataclass
class Arch:
    name: str
    module: object
    build_kwargs: dict
    study: dict

    def build(self, length: int, n_targets: int, hp: dict):
        return self.module.build(4, length, n_targets, hp, **self.build_kwargs)

    def space(self, trial) -> dict:
        return self.module.space(trial)


def load_arch(name: str) -> Arch:
    if name not in ARCHS:
        raise UserError(f"unknown arch {name!r}; use one of {', '.join(sorted(ARCHS))}", where="--arch")
    path, kwargs, study_attr = ARCHS[name]
    try:
        module = importlib.import_module(path)
    except ImportError as exc:
        raise UserError(f"arch {name!r} needs module {path}, which is not available ({exc})", where="--arch",
                        hint="Reinstall glmprobe or choose another --arch.") from None
    study = getattr(module, study_attr, None) or getattr(module, "STUDY")
    return Arch(name, module, kwargs, dict(study))
