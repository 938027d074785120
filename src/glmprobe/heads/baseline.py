"""``glmprobe baseline``: one-hot models trained from scratch, tuned like every probe.

``baseline_step`` one-hot encodes a canonical dataset, tunes the chosen architecture
with the shared Optuna protocol (the study's own settings always tried first),
retrains the best configuration over replicate seeds and writes
``<outdir>/baselines/<dataset>/<arch>/`` (weights, predictions, trials, record.json).
A folder whose record has the same cache key is left alone unless ``force``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import logging
import os
import time
from pathlib import Path

import click
import numpy as np

from glmprobe import __version__
from glmprobe.data.dataset import DatasetFile
from glmprobe.data.onehot import encode
from glmprobe.errors import UserError
from glmprobe.record import make_record, now, read_record
from glmprobe.train.data import Arrays, check_split_sizes, split_arrays
from glmprobe.train.options import tune_options_from, tuning_options
from glmprobe.train.tune import TuneOptions, tune_and_replicate, with_study

log = logging.getLogger(__name__)

# arch -> (module, extra build kwargs, name of its study-settings constant). Modules are
# imported on use, so a missing one fails with a clear message instead of at import time.
ARCHS: dict[str, tuple[str, dict, str]] = {
    "resnet": ("glmprobe.heads.resnet", {}, "STUDY"),
    "mpraann": ("glmprobe.heads.mpraann", {}, "STUDY"),
    "deepstarr": ("glmprobe.heads.deepstarr", {}, "STUDY"),
    "cnn": ("glmprobe.heads.rep_cnn", {}, "STUDY_ONEHOT"),       # study rep_cnn, reduce_dim 196
    "chip_cnn": ("glmprobe.heads.chip_cnn", {"reduce": False}, "STUDY_ONEHOT"),  # no 1x1 prefix on one-hot
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


def check_targets(data: dict[str, Arrays], task: str, names: list[str], path: Path) -> None:
    """UserError for targets that cannot be trained or scored (all missing, one class, not 0/1)."""
    for split in ("train", "test"):
        y = data[split].y
        for j, name in enumerate(names):
            col = y[:, j]
            seen = col[~np.isnan(col)]
            if seen.size == 0:
                raise UserError(f"target '{name}' has no observed value in split '{split}'", path=path,
                                where=f"target={name}", hint="Drop the target or move rows into this split.")
            if task == "regression":
                continue
            bad = np.flatnonzero(~np.isnan(col) & (col != 0) & (col != 1))
            if bad.size:
                raise UserError(f"{task} target '{name}' has value {float(col[bad[0]]):g} (must be 0 or 1)", path=path,
                                where=f"id={data[split].ids[bad[0]]}", hint="Fix the labels or use task regression.")
            if np.unique(seen).size < 2:
                raise UserError(f"{task} target '{name}' has only class {int(seen[0])} in split '{split}'",
                                path=path, where=f"target={name}",
                                hint="Both classes are needed to train and to compute AUROC; re-split the data.")


def cache_key(checksum: str, arch: str, opts: TuneOptions) -> str:
    """Everything that determines the result (device and progress bars do not)."""
    tuned = {k: v for k, v in dataclasses.asdict(opts).items() if k not in ("device", "progress")}
    blob = json.dumps({"dataset": checksum, "arch": arch, "opts": tuned, "glmprobe": __version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def baseline_step(dataset: str | os.PathLike, arch: str, outdir: str | os.PathLike,
                  opts: TuneOptions = TuneOptions(), force: bool = False) -> Path:
    """Tune, replicate and write one one-hot baseline; returns its record.json path."""
    dataset = Path(dataset)
    spec = load_arch(arch)
    with DatasetFile(dataset) as f:
        name, checksum, task, names = f.name, f.checksum, f.task, list(f.target_names)
        folder = Path(outdir) / "baselines" / name / arch
        key = cache_key(checksum, arch, opts)
        record_path = folder / "record.json"
        if record_path.exists() and not force:
            try:
                if read_record(record_path).get("cache_key") == key:
                    log.info("baseline %s/%s is up to date; skipping (use --force to retrain)", name, arch)
                    return record_path
            except (OSError, ValueError):
                pass  # unreadable record: retrain
        ds = f.load()
    started, t0 = now(), time.perf_counter()
    length = max(len(s) for s in ds.sequences)
    data = split_arrays(encode(list(ds.sequences), length), ds.targets, ds.ids, ds.split)
    check_split_sizes(data, path=dataset)
    check_targets(data, task, names, dataset)
    run_opts = with_study(opts, spec.study)
    result = tune_and_replicate(lambda hp: spec.build(length, len(names), hp), spec.space, data, task, run_opts,
                                target_names=names)
    record = make_record(
        "baseline", f"baselines/{name}/{arch}", cache_key=key, started=started,
        tags={"dataset": name, "arch": arch, "task": task, "model": "onehot", "head": arch},
        inputs={"dataset": {"path": str(dataset), "checksum": checksum}},
        params={"arch": arch, "input": "onehot", "length": length, "trials": opts.trials, "timeout": opts.timeout,
                "pruner": opts.pruner, "replicates": opts.replicates, "seed": opts.seed,
                "max_epochs": opts.max_epochs, "device": run_opts.device,
                "search": "fixed" if run_opts.fixed is not None else "optuna-tpe"})
    record["duration_s"] = time.perf_counter() - t0
    from glmprobe.train.outputs import write_outputs
    return write_outputs(folder, result, {k: data[k] for k in ("train", "valid", "test")}, task, names, record)


@click.command("baseline")
@click.option("--dataset", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Canonical dataset.h5 (from `glmprobe prepare`).")
@click.option("--arch", type=click.Choice(sorted(ARCHS)), default="resnet", show_default=True,
              help="One-hot architecture to train from scratch.")
@click.option("--outdir", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Results root; writes baselines/<dataset>/<arch>/ under it.")
@click.option("--force", is_flag=True, help="Retrain even if an up-to-date record.json exists.")
@tuning_options
def baseline_command(dataset: Path, arch: str, outdir: Path, force: bool, **kwargs) -> None:
    """Train an Optuna-tuned one-hot model from scratch and write its predictions and record."""
    opts = tune_options_from(kwargs)
    path = baseline_step(dataset, arch, outdir, opts, force=force)
    click.echo(str(path))
