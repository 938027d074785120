"""One-hot architectures by name: which module builds each, with which study settings.

The step that trains them is :mod:`glmprobe.steps.baseline`.
"""

from __future__ import annotations

import dataclasses
import importlib

from glmprobe.errors import UserError
from glmprobe.registry import Registry

# arch -> its module ("module:object" names an object with tune() or build/space), extra build kwargs
# and the name of its study-settings constant. Modules are imported on use, so a missing one fails
# with a clear message instead of at import time.
ARCHS = Registry("arch", where="--arch")


def _arch(name: str, path: str, study_attr: str = "STUDY", kind: str = "one-hot", **kwargs) -> None:
    ARCHS.register(name, path, kwargs=kwargs, study_attr=study_attr, kind=kind)


_arch("resnet", "glmprobe.heads.resnet")
_arch("mpraann", "glmprobe.heads.mpraann")
_arch("deepstarr", "glmprobe.heads.deepstarr")
_arch("cnn", "glmprobe.heads.rep_cnn", "STUDY_ONEHOT")                        # study rep_cnn, reduce_dim 196
_arch("chip_cnn", "glmprobe.heads.chip_cnn", "STUDY_ONEHOT", reduce=False)     # no 1x1 prefix on one-hot
_arch("mtsplice", "glmprobe.heads.two_tower", "STUDY_ONEHOT", reduce=False)    # segmented (splicing) only
_arch("dilres", "glmprobe.heads.dilres")                                      # compact CPU baseline (not in the study)
# the study's simple controls: tagged kind=control in records (the report's "control" contestants),
# not explained by attribution (their counts have no useful gradient)
for _name, _cls in (("kmer", "Kmer"), ("mononuc", "Mononuc"), ("dinuc", "Dinuc"), ("dinuc_mlp", "DinucMLP")):
    _arch(_name, f"glmprobe.heads.kmer:{_cls}", "study", kind="control")
CONTROLS = tuple(ARCHS.select(kind="control"))


@dataclasses.dataclass
class Arch:
    name: str
    module: object
    build_kwargs: dict
    study: dict

    def build(self, length: int, n_targets: int, hp: dict):
        from glmprobe.heads.augment import with_mutate, with_shift

        # shift jitter (hp "shift", bases) and substitutions (hp "mutate", per base) work for any
        # one-hot arch; dilres sets both by default
        return with_mutate(with_shift(self.module.build(4, length, n_targets, hp, **self.build_kwargs), hp), hp)

    def space(self, trial) -> dict:
        # one-hot input also searches reverse-complement augmentation where the module offers it
        return getattr(self.module, "space_onehot", self.module.space)(trial)

    def study_for(self, task: str) -> dict:
        """The study's setting for this arch on ``task`` (trial 0 and ``--fixed study``)."""
        from glmprobe.train.tune import study_settings
        return study_settings(self.module, task, "onehot") if hasattr(self.module, "study") else dict(self.study)


def load_arch(name: str) -> Arch:
    entry = ARCHS.get(name)
    path, _, obj = entry.obj.partition(":")
    try:
        module = importlib.import_module(path)
    except ImportError as exc:
        raise UserError(f"arch {name!r} needs module {path}, which is not available ({exc})", where="--arch",
                        hint="Reinstall glmprobe or choose another --arch.") from None
    module = getattr(module, obj) if obj else module
    study = getattr(module, entry.study_attr, None) or getattr(module, "STUDY", None)
    study = study("regression") if callable(study) else study
    return Arch(name, module, dict(entry.kwargs), dict(study))
