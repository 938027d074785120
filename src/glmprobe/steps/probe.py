"""``glmprobe probe``: fit probe heads on a frozen gLM's stored embeddings.

``probe_step`` reads one dataset and its embedding store and, for every requested
(layer, pooling, head), tunes the head on train/valid and writes
``<outdir>/L<layer>/<pooling>-<head>/`` (weights, predictions, trials, record.json), where
``outdir`` is ``probes/<dataset>/<model>/``. ``--layer all`` sweeps every stored layer.

Everything the user could get wrong is checked before anything is written: the store must
have been embedded from this dataset (checksum and ids), the layers and poolings must be in
the store, each head must be able to read its pooling, and every split must be large enough
and (binary tasks) hold both classes.

Inputs are streamed: neural heads read their batches from disk and cast fp16 -> fp32 per
batch, so memory does not grow with the number of sequences
(:class:`~glmprobe.glm.store.StoreRows`). Each probe folder is one skeleton task
(:mod:`glmprobe.steps.skeleton`); the heads themselves live in :mod:`glmprobe.heads`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import click
import numpy as np
from tqdm.auto import tqdm

from glmprobe.data.dataset import DatasetFile
from glmprobe.data.segments import segment_ids
from glmprobe.errors import UserError
from glmprobe.glm.store import MANIFEST_NAME, EmbeddingStore, StoreRows, pooled_name, tokens_name
from glmprobe.heads import segmented
from glmprobe.heads.registry import HEADS, get_head
from glmprobe.steps.paths import dataset_option, folder_option
from glmprobe.steps.skeleton import Task
from glmprobe.train.data import Arrays, check_split_sizes, check_targets
from glmprobe.train.dataset_rows import DatasetRows, dataset_rows
from glmprobe.train.fit import headline
from glmprobe.train.options import tune_options_from, tuning_options
from glmprobe.train.tune import TuneOptions, study_settings, tune_and_replicate, with_study

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")
POOLINGS = ("cls", "mean", "tokens")
N_BOOT = 1000


# ---------------------------------------------------------------------------- checks

def _check_store_matches(ds: DatasetFile, store: EmbeddingStore) -> None:
    manifest = store.folder / MANIFEST_NAME
    if store.dataset_checksum != ds.checksum:
        raise UserError(f"the store was embedded from another dataset (checksum {store.dataset_checksum[:12]}…, "
                        f"this dataset is {ds.checksum[:12]}…)", path=manifest, where="dataset.checksum",
                        hint=f"Pass the dataset the store was built from, or re-embed {ds.path} with `glmprobe embed`.")
    expected = segment_ids(ds.ids, len(ds.segments)) if ds.segments else ds.ids   # one store row per segment
    if len(store) != len(expected) or not np.array_equal(store.ids, expected):
        raise UserError(f"the store's rows ({len(store)}) do not match the dataset's ids ({len(ds)})",
                        path=manifest, where="ids", hint="Re-embed the dataset with `glmprobe embed` (a merged "
                                                         "shard set may be incomplete).")


def resolve_layers(layers: str | int | Iterable[str | int], available: Sequence[int], store: Path) -> list[int]:
    """``all`` -> every stored layer; ints as stored, negatives index the stored list (-1 = deepest)."""
    items = [layers] if isinstance(layers, (str, int)) else list(layers)
    if not items or "all" in items:
        return sorted(available)
    out = []
    for item in items:
        try:
            layer = int(item)
        except ValueError:
            raise UserError(f"layer {item!r} is not an integer or 'all'", where="--layer") from None
        if layer < 0 and -layer <= len(available):
            layer = sorted(available)[layer]
        if layer not in available:
            raise UserError(f"layer {item} is not in the store", path=store / MANIFEST_NAME, where="layers",
                            hint=f"Stored layers: {', '.join(map(str, sorted(available)))} (or use --layer all); "
                                 "re-embed with more layers to probe others.")
        if layer not in out:
            out.append(layer)
    return out


def plan_pairs(heads: Sequence[str], poolings: Sequence[str] | None, stored: Sequence[str],
               store: Path) -> list[tuple[str, str]]:
    """(pooling, head) pairs to fit. An asked-for pair that cannot work is an error;
    with no ``poolings`` given, every stored pooling a head can read is used, the rest noted."""
    for head in heads:
        get_head(head)
    if poolings:
        for p in poolings:
            if p not in stored:
                raise UserError(f"pooling {p!r} is not in the store", path=store / MANIFEST_NAME,
                                where="poolings", hint=f"Stored poolings: {', '.join(stored)}.")
        for head in heads:
            for p in poolings:
                if p not in HEADS[head].poolings:
                    raise UserError(f"head {head!r} cannot read {p!r} embeddings", where="--pooling",
                                    hint=f"{head} needs pooling {' or '.join(HEADS[head].poolings)}; "
                                         "drop this --pooling/--head pair.")
        return [(p, h) for p in poolings for h in heads]
    pairs = []
    for head in heads:
        usable = [p for p in stored if p in HEADS[head].poolings]
        if not usable:
            log.warning("skipping head %s: the store has no %s embeddings (it has %s)", head,
                        "/".join(HEADS[head].poolings), ", ".join(stored))
        pairs += [(p, head) for p in usable]
    if not pairs:
        raise UserError(f"no head among {', '.join(heads)} can read the stored poolings ({', '.join(stored)})",
                        path=store / MANIFEST_NAME, where="poolings",
                        hint="Choose --head linear/mlp for cls/mean, token_cnn/chip_cnn for tokens.")
    return pairs


# ---------------------------------------------------------------------------- one probe

def cache_blob(dataset_checksum: str, store_key: str, layer: int, pooling: str, head: str, opts: TuneOptions) -> dict:
    """Everything that determines a probe's result (device and progress bars do not)."""
    tuned = {k: v for k, v in dataclasses.asdict(opts).items() if k not in ("device", "progress")}
    return {"dataset": dataset_checksum, "store": store_key, "layer": layer, "pooling": pooling, "head": head,
            "head_options": HEADS[head].options, "opts": tuned}


def _bootstrap_ci(result, data: dict[str, Arrays], task: str, metric: str | None = None) -> dict:
    """Linear head: one deterministic fit, so the CI comes from resampling the test set."""
    from glmprobe.train.metrics import bootstrap_ci

    metric = metric or headline(task)
    rep = result.replicates[0]
    lo, hi = bootstrap_ci(data["test"].y, rep.predictions["test"], task, metric, n_boot=N_BOOT, seed=rep.seed)
    return {f"test_{metric}": [lo, hi]}


def _fit_one(store: EmbeddingStore, layer: int, pooling: str, head: str, dr: DatasetRows, task_name: str,
             names: list[str], opts: TuneOptions, task: Task) -> Path:
    """Tune/fit one head on one (layer, pooling) and write its folder through the skeleton."""
    from glmprobe.train.outputs import write_outputs

    spec = HEADS[head]
    array = store.tokens(layer) if spec.tokens else store.pooled(layer, pooling)
    if dr.segments:   # one input per segment: pooled vectors concatenated, or (S, D, T) tokens
        data = {s: dr.arrays(s, segmented.store_inputs(array, dr.rows[s], dr.segments, spec.tokens, StoreRows))
                for s in SPLITS}
    else:
        data = {s: dr.arrays(s, StoreRows(array, dr.rows[s], channels_first=spec.tokens)) for s in SPLITS}
    try:
        input_shape = data["train"].X.shape[1:]
        params = {"input_shape": "x".join(map(str, input_shape)), **spec.options, **dr.params}
        if head == "linear":
            from glmprobe.heads import linear
            result = linear.tune(data, task_name, opts, target_names=names)
            ci = _bootstrap_ci(result, data, task_name, dr.metric)
            params["search"] = ("fixed" if opts.fixed is not None else
                                "closed-form ridge path" if task_name == "regression" else "warm-started logistic path")
            grid = result.trials["alpha"]
            params["alpha_grid"] = f"{grid.min():g}..{grid.max():g} ({len(grid)} values)"
        else:
            module = spec.load()
            # trial 0: the study's setting for this head, task and gLM family (issue 9, defect 8)
            study = study_settings(module, task_name, task.record["tags"].get("family") or None)
            run_opts = dataclasses.replace(with_study(opts, study), loss=dr.loss)
            params["search"] = "fixed" if run_opts.fixed is not None else "optuna-tpe"
            build = (segmented.build_probe(module, input_shape, len(names), dr.segments, spec.options)
                     if dr.segments else spec.builder(input_shape, len(names)))
            result = tune_and_replicate(build, module.space, data, task_name, run_opts, target_names=names)
            ci = {}
    finally:
        for arr in data.values():
            arr.X.close()
    task.record["params"].update(params)
    with task.writing() as tmp:
        write_outputs(tmp, result, data, task_name, names, task.record)
        task.record["ci"].update(ci)
    return task.record_path


def _probe_task(ds: DatasetFile, dataset: Path, store_dir: Path, model: dict, model_id: str, store_key: str,
                layer: int, pooling: str, head: str, opts: TuneOptions, folder: Path) -> Task:
    return Task(
        "probe", f"probes/{ds.name}/{model_id}/L{layer}/{pooling}-{head}", folder,
        cache_blob(ds.checksum, store_key, layer, pooling, head, opts),
        tags={"dataset": ds.name, "model": model_id, "revision": model.get("revision") or "",
              "family": model.get("family", ""), "random_init": bool(model.get("random_init", False)),
              "layer": layer, "pooling": pooling, "head": head, "task": ds.task},
        inputs={"dataset": {"path": str(dataset), "checksum": ds.checksum},
                "store": {"path": str(store_dir), "cache_key": store_key,
                          "array": tokens_name(layer) if pooling == "tokens" else pooled_name(layer, pooling)}},
        params={"layer": layer, "pooling": pooling, "head": head, "trials": opts.trials,
                "timeout": opts.timeout, "pruner": opts.pruner,
                # the linear head is one deterministic fit (its CI is a test bootstrap)
                "replicates": 1 if head == "linear" else opts.replicates,
                "seed": opts.seed, "max_epochs": opts.max_epochs, "device": opts.device})


def probe_step(dataset: str | os.PathLike, store: str | os.PathLike, outdir: str | os.PathLike,
               layers: str | int | Sequence[str | int] = "all", poolings: Sequence[str] | None = None,
               heads: Sequence[str] = ("linear",), opts: TuneOptions = TuneOptions(),
               force: bool = False) -> list[Path]:
    """Fit every (layer, pooling, head) on one embedding store.

    Parameters
    ----------
    dataset
        Canonical ``dataset.h5`` the store was embedded from (checksum and ids are checked).
    store
        Embedding store folder from ``glmprobe embed``.
    outdir
        ``probes/<dataset>/<model>/``; each probe lands in ``L<layer>/<pooling>-<head>/``.
    layers
        Stored layer numbers (negative count from the deepest stored layer) or ``"all"``.
    poolings
        Poolings to probe; ``None``: every stored pooling each head can read.
    heads
        Probe head names (:data:`glmprobe.heads.registry.HEADS`).
    opts
        The shared tuning budget and seeds.
    force
        Refit even when a probe's record says it is up to date.

    Returns
    -------
    list of Path
        One ``record.json`` path per probe (fitted or already up to date).
    """
    dataset, store_dir, outdir = Path(dataset), Path(store), Path(outdir)
    heads = list(dict.fromkeys([heads] if isinstance(heads, str) else heads))
    poolings = list(dict.fromkeys([poolings] if isinstance(poolings, str) else poolings)) if poolings else None
    with DatasetFile(dataset) as ds, EmbeddingStore(store_dir) as st:
        _check_store_matches(ds, st)
        layer_list = resolve_layers(layers, st.layers, store_dir)
        pairs = plan_pairs(heads, poolings, st.poolings, store_dir)
        for _, head in pairs:
            segmented.check_head(head, ds.segments, dataset)
        task_name, names = ds.task, list(ds.target_names)
        dr = dataset_rows(ds)   # rows per split (splicing: the study's filtered test set), loss, segments
        labels = {s: Arrays(dr.y[s], dr.y[s], dr.ids[s]) for s in SPLITS}   # targets only: checked before any fit
        check_split_sizes(labels, path=dataset)
        check_targets(labels, task_name, names, dataset)

        model = st.manifest.get("model", {})
        model_id = model.get("id") or store_dir.name
        store_key = st.manifest.get("cache_key", "")
        jobs = [(layer, pooling, head) for layer in layer_list for pooling, head in pairs]
        out: list[Path] = []
        bar = tqdm(jobs, desc=f"probe {ds.name}/{model_id}", unit="probe", file=sys.stderr,
                   disable=not opts.progress or not sys.stderr.isatty())
        for layer, pooling, head in bar:
            bar.set_postfix_str(f"L{layer} {pooling}-{head}")
            task = _probe_task(ds, dataset, store_dir, model, model_id, store_key, layer, pooling, head, opts,
                               outdir / f"L{layer}" / f"{pooling}-{head}")
            if task.up_to_date(force):
                out.append(task.record_path)
                continue
            out.append(_fit_one(st, layer, pooling, head, dr, task_name, names, opts, task))
        bar.close()
    return out


@click.command("probe")
@dataset_option("Canonical dataset.h5 the store was embedded from.")
@folder_option("--store", "Embedding store folder (embeddings/<dataset>/<model>/ from `glmprobe embed`).")
@folder_option("--outdir", "Probe folder for this dataset and model (probes/<dataset>/<model>/).")
@click.option("--layer", "layers", multiple=True, default=("all",), show_default=True,
              help="Layer to probe (repeatable): a stored layer number, negative to count from the deepest "
                   "stored layer, or 'all' for a layer sweep.")
@click.option("--pooling", "poolings", multiple=True, type=click.Choice(POOLINGS),
              help="Pooling to probe (repeatable). Default: every stored pooling each head can read.")
@click.option("--head", "heads", multiple=True, type=click.Choice(list(HEADS)), default=("linear",),
              show_default=True, help="Probe head (repeatable): linear/mlp read cls/mean, token_cnn/chip_cnn tokens; "
                                      "on a segmented dataset (splicing) two_tower reads each half's tokens.")
@click.option("--force", is_flag=True, help="Refit even if an up-to-date record.json exists.")
@tuning_options
def probe_command(dataset: Path, store: Path, outdir: Path, layers: tuple[str, ...], poolings: tuple[str, ...],
                  heads: tuple[str, ...], force: bool, **kwargs) -> None:
    """Fit probe heads on stored embeddings; print one record.json path per probe."""
    opts = tune_options_from(kwargs)
    for path in probe_step(dataset, store, outdir, layers=list(layers), poolings=list(poolings) or None,
                           heads=list(heads), opts=opts, force=force):
        click.echo(str(path))
