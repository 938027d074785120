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
    "dilres": ("glmprobe.heads.dilres", {}, "STUDY"),        # compact CPU baseline (not in the study)
    # the study's simple controls; "module:object" names an object with tune() (or build/space)
    "kmer": ("glmprobe.heads.kmer:Kmer", {}, "study"),
    "mononuc": ("glmprobe.heads.kmer:Mononuc", {}, "study"),
    "dinuc": ("glmprobe.heads.kmer:Dinuc", {}, "study"),
    "dinuc_mlp": ("glmprobe.heads.kmer:DinucMLP", {}, "study"),
}
# the simple controls among them: tagged kind=control in records (the report's "control" contestants),
# not explained by attribution (their counts have no useful gradient)
CONTROLS = ("kmer", "mononuc", "dinuc", "dinuc_mlp")


@dataclasses.dataclass
class Arch:
    name: str
    module: object
    build_kwargs: dict
    study: dict

    def build(self, length: int, n_targets: int, hp: dict):
        return self.module.build(4, length, n_targets, hp, **self.build_kwargs)

    def space(self, trial) -> dict:
        # one-hot input also searches reverse-complement augmentation where the module offers it
        return getattr(self.module, "space_onehot", self.module.space)(trial)

    def study_for(self, task: str) -> dict:
        """The study's setting for this arch on ``task`` (trial 0 and ``--fixed study``)."""
        from glmprobe.train.tune import study_settings
        return study_settings(self.module, task, "onehot") if hasattr(self.module, "study") else dict(self.study)


def load_arch(name: str) -> Arch:
    if name not in ARCHS:
        raise UserError(f"unknown arch {name!r}; use one of {', '.join(sorted(ARCHS))}", where="--arch")
    path, kwargs, study_attr = ARCHS[name]
    path, _, obj = path.partition(":")
    try:
        module = importlib.import_module(path)
    except ImportError as exc:
        raise UserError(f"arch {name!r} needs module {path}, which is not available ({exc})", where="--arch",
                        hint="Reinstall glmprobe or choose another --arch.") from None
    module = getattr(module, obj) if obj else module
    study = getattr(module, study_attr, None) or getattr(module, "STUDY", None)
    study = study("regression") if callable(study) else study
    return Arch(name, module, kwargs, dict(study))
