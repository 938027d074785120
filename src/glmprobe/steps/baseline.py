"""``glmprobe baseline``: one-hot models trained from scratch, tuned like every probe.

``baseline_step`` one-hot encodes a canonical dataset, tunes the chosen architecture
(:mod:`glmprobe.heads.baseline`) with the shared Optuna protocol (the study's own settings
always tried first), retrains the best configuration over replicate seeds and writes
``<outdir>/baselines/<dataset>/<arch>/`` (weights, predictions, trials, record.json) through
the step skeleton. A folder whose record has the same cache key is left alone unless ``force``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click

from glmprobe.data.dataset import SPLITS, DatasetFile
from glmprobe.data.onehot import encode
from glmprobe.heads import segmented
from glmprobe.heads.baseline import ARCHS, load_arch
from glmprobe.steps.skeleton import Task
from glmprobe.train.data import check_split_sizes, check_targets
from glmprobe.train.dataset_rows import dataset_rows
from glmprobe.train.options import tune_options_from, tuning_options
from glmprobe.train.tune import TuneOptions, refit_budget, tune_and_replicate, with_study


def cache_blob(checksum: str, arch: str, opts: TuneOptions) -> dict:
    """Everything that determines the result (device and progress bars do not)."""
    tuned = {k: v for k, v in dataclasses.asdict(opts).items() if k not in ("device", "progress")}
    return {"dataset": checksum, "arch": arch, "opts": tuned}


def baseline_step(dataset: str | os.PathLike, arch: str, outdir: str | os.PathLike,
                  opts: TuneOptions = TuneOptions(), force: bool = False) -> Path:
    """Tune, replicate and write one one-hot baseline.

    Parameters
    ----------
    dataset
        Canonical ``dataset.h5`` from ``glmprobe prepare``.
    arch
        One-hot architecture name (:data:`glmprobe.heads.baseline.ARCHS`).
    outdir
        Results root; the baseline goes to ``outdir/baselines/<dataset>/<arch>/``.
    opts
        The shared tuning budget and seeds (the same as the probes').
    force
        Retrain even when the record says it is up to date.

    Returns
    -------
    Path
        The baseline's ``record.json`` (trained or already up to date).
    """
    dataset = Path(dataset)
    spec = load_arch(arch)
    with DatasetFile(dataset) as f:
        name, checksum, task_name, names = f.name, f.checksum, f.task, list(f.target_names)
        segmented.check_arch(arch, f.segments, dataset)
        task = Task("baseline", f"baselines/{name}/{arch}", Path(outdir) / "baselines" / name / arch,
                    cache_blob(checksum, arch, opts),
                    tags={"dataset": name, "arch": arch, "task": task_name, "model": "onehot", "head": arch,
                          "kind": ARCHS[arch].kind},
                    inputs={"dataset": {"path": str(dataset), "checksum": checksum}})
        if task.up_to_date(force):
            return task.record_path
        dr = dataset_rows(f)   # rows per split (splicing: the study's filtered test set), loss, segments
        ds = f.load()
    if dr.segments:   # one tower per segment: (N, S, 4, L_max), each segment encoded alone
        X, length = segmented.onehot_inputs(ds.sequences, dr.segments)
        spec = dataclasses.replace(spec, build_kwargs={**spec.build_kwargs, "segments": len(dr.segments)})
    else:
        length = max(len(s) for s in ds.sequences)
        X = encode(list(ds.sequences), length)
    data = {s: dr.arrays(s, X[dr.rows[s]]) for s in SPLITS}
    check_split_sizes(data, path=dataset)
    check_targets(data, task_name, names, dataset)
    run_opts = dataclasses.replace(with_study(opts, spec.study_for(task_name)), loss=dr.loss)
    if hasattr(spec.module, "tune"):   # closed-form controls (kmer): their own path over k and penalty
        result = spec.module.tune(data, task_name, run_opts, target_names=names)
    else:
        result = tune_and_replicate(lambda hp: spec.build(length, len(names), hp), spec.space, data, task_name,
                                    run_opts, target_names=names)
    task.record["params"] = {
        "arch": arch, "input": "onehot", "length": length, "trials": opts.trials, "timeout": opts.timeout,
        "pruner": opts.pruner, "replicates": opts.replicates, "seed": opts.seed, "max_epochs": opts.max_epochs,
        "refit_timeout": refit_budget(opts), "device": run_opts.device,
        "search": ("fixed" if run_opts.fixed is not None else "closed-form path over k and penalty"
                   if hasattr(spec.module, "tune") else "optuna-tpe"), **dr.params}
    from glmprobe.train.outputs import write_outputs
    with task.writing() as tmp:
        write_outputs(tmp, result, {k: data[k] for k in SPLITS}, task_name, names, task.record)
    return task.record_path


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
