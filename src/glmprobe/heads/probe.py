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
batch, so memory does not grow with the number of sequences (:class:`StoreRows`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sys
import time
import weakref
from pathlib import Path
from typing import Iterable, Sequence

import click
import numpy as np
from tqdm.auto import tqdm

from glmprobe import __version__
from glmprobe.atomic import atomic_dir
from glmprobe.data.dataset import DatasetFile
from glmprobe.errors import UserError
from glmprobe.glm.store import MANIFEST_NAME, EmbeddingStore, pooled_name, tokens_name
from glmprobe.heads.baseline import check_targets
from glmprobe.heads.registry import HEADS, get_head
from glmprobe.record import make_record, now, read_record, write_record
from glmprobe.train.data import Arrays, check_split_sizes
from glmprobe.train.options import tune_options_from, tuning_options
from glmprobe.train.tune import TuneOptions, tune_and_replicate, with_study

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")
POOLINGS = ("cls", "mean", "tokens")
HEADLINE = {"regression": "pearson", "binary": "auroc", "multilabel": "auroc"}
N_BOOT = 1000


class StoreRows:
    """Rows ``rows`` of one store array, read from disk on demand as float32.

    The store's arrays are memory-mappable, but indexing an ``np.memmap`` leaves every page
    it touched resident, so one epoch over a token array would pull the whole file into the
    process's RSS. Here each batch is read with ``preadv`` straight into a fresh buffer
    (consecutive rows in one call), so memory stays at one batch whatever N is.
    ``channels_first`` turns (N, T, D) token rows into the (N, D, T) layout CNNs take.
    """

    def __init__(self, array, rows: np.ndarray, *, channels_first: bool = False):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.channels_first = channels_first
        self.row_shape = tuple(array.shape[1:])
        self.dtype = np.dtype(array.dtype)
        self._array, self._fd = array, None
        if isinstance(array, np.memmap) and array.offset is not None:
            self._path, self._offset = array.filename, int(array.offset)
            self._row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def shape(self) -> tuple[int, ...]:
        row = self.row_shape[::-1] if self.channels_first else self.row_shape
        return (len(self.rows), *row)

    def __len__(self) -> int:
        return len(self.rows)

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, idx) -> np.ndarray:
        if isinstance(idx, (int, np.integer)):
            return self[np.array([idx])][0]
        if isinstance(idx, slice):
            idx = np.arange(len(self.rows))[idx]
        src = self.rows[np.asarray(idx, dtype=np.int64)]
        order = np.argsort(src, kind="stable")
        block = np.empty((len(src), *self.row_shape), dtype=self.dtype)
        block[order] = self._read(src[order])
        out = block.astype(np.float32)
        return np.ascontiguousarray(out.transpose(0, 2, 1)) if self.channels_first else out

    def _read(self, rows: np.ndarray) -> np.ndarray:
        """Sorted store rows, as stored (fp16)."""
        if not hasattr(self, "_path"):            # h5py dataset (chunked store): its own reader
            return np.asarray(self._array[rows])
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDONLY)
            self._closer = weakref.finalize(self, os.close, self._fd)   # closed when collected, or at exit
        out = np.empty((len(rows), *self.row_shape), dtype=self.dtype)
        flat = out.reshape(len(rows), -1).view(np.uint8)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):   # runs of consecutive rows
            view = memoryview(flat[lo:hi].reshape(-1))
            pos, offset = 0, self._offset + int(rows[lo]) * self._row_bytes
            while pos < len(view):
                got = os.preadv(self._fd, [view[pos:]], offset + pos)
                if got <= 0:
                    raise OSError(f"{self._path}: short read at byte {offset + pos}")
                pos += got
        return out

    def close(self) -> None:
        if self._fd is not None:
            self._closer()
            self._fd = None


# ---------------------------------------------------------------------------- checks

def _check_store_matches(ds: DatasetFile, store: EmbeddingStore) -> None:
    manifest = store.folder / MANIFEST_NAME
    if store.dataset_checksum != ds.checksum:
        raise UserError(f"the store was embedded from another dataset (checksum {store.dataset_checksum[:12]}…, "
                        f"this dataset is {ds.checksum[:12]}…)", path=manifest, where="dataset.checksum",
                        hint=f"Pass the dataset the store was built from, or re-embed {ds.path} with `glmprobe embed`.")
    if len(store) != len(ds) or not np.array_equal(store.ids, ds.ids):
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

def cache_key(dataset_checksum: str, store_key: str, layer: int, pooling: str, head: str, opts: TuneOptions) -> str:
    """Everything that determines a probe's result (device and progress bars do not)."""
    tuned = {k: v for k, v in dataclasses.asdict(opts).items() if k not in ("device", "progress")}
    blob = {"dataset": dataset_checksum, "store": store_key, "layer": layer, "pooling": pooling, "head": head,
            "head_options": HEADS[head].options, "opts": tuned, "glmprobe": __version__}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def _up_to_date(record_path: Path, key: str) -> bool:
    try:
        return record_path.exists() and read_record(record_path).get("cache_key") == key
    except (OSError, ValueError):
        return False  # unreadable record: refit


def _bootstrap_ci(result, data: dict[str, Arrays], task: str) -> dict:
    """Linear head: one deterministic fit, so the CI comes from resampling the test set."""
    from glmprobe.train.metrics import bootstrap_ci

    metric = HEADLINE[task]
    rep = result.replicates[0]
    lo, hi = bootstrap_ci(data["test"].y, rep.predictions["test"], task, metric, n_boot=N_BOOT, seed=rep.seed)
    return {f"test_{metric}": [lo, hi]}


def _fit_one(store: EmbeddingStore, layer: int, pooling: str, head: str, rows: dict[str, np.ndarray],
             y: dict[str, np.ndarray], ids: dict[str, np.ndarray], task: str, names: list[str],
             opts: TuneOptions, folder: Path, record: dict) -> Path:
    """Tune/fit one head on one (layer, pooling) and write its folder atomically."""
    from glmprobe.train.outputs import write_outputs

    t0 = time.perf_counter()
    spec = HEADS[head]
    array = store.tokens(layer) if spec.tokens else store.pooled(layer, pooling)
    data = {s: Arrays(StoreRows(array, rows[s], channels_first=spec.tokens), y[s], ids[s]) for s in SPLITS}
    try:
        input_shape = data["train"].X.shape[1:]
        params = {"input_shape": "x".join(map(str, input_shape)), **spec.options}
        if head == "linear":
            from glmprobe.heads import linear
            result = linear.tune(data, task, opts, target_names=names)
            ci = _bootstrap_ci(result, data, task)
            params["search"] = ("fixed" if opts.fixed is not None else
                                "closed-form ridge path" if task == "regression" else "warm-started logistic path")
            grid = result.trials["alpha"]
            params["alpha_grid"] = f"{grid.min():g}..{grid.max():g} ({len(grid)} values)"
        else:
            module = spec.load()
            run_opts = with_study(opts, module.STUDY)
            params["search"] = "fixed" if run_opts.fixed is not None else "optuna-tpe"
            result = tune_and_replicate(spec.builder(input_shape, len(names)), module.space, data, task, run_opts,
                                        target_names=names)
            ci = {}
    finally:
        for arr in data.values():
            arr.X.close()
    record["params"].update(params)
    with atomic_dir(folder) as tmp:   # write_outputs fills tmp; the step's own fields are added, then it appears
        write_outputs(tmp, result, data, task, names, record)
        final = read_record(tmp)
        final["ci"] = {**final.get("ci", {}), **ci}
        final["duration_s"] = time.perf_counter() - t0
        write_record(tmp, final)
    return folder / "record.json"


def probe_step(dataset: str | os.PathLike, store: str | os.PathLike, outdir: str | os.PathLike,
               layers: str | int | Sequence[str | int] = "all", poolings: Sequence[str] | None = None,
               heads: Sequence[str] = ("linear",), opts: TuneOptions = TuneOptions(),
               force: bool = False) -> list[Path]:
    """Fit every (layer, pooling, head); return the record.json paths (fitted or up to date).

    ``outdir`` is ``probes/<dataset>/<model>/``; each probe lands in ``L<layer>/<pooling>-<head>/``.
    """
    dataset, store_dir, outdir = Path(dataset), Path(store), Path(outdir)
    heads = list(dict.fromkeys([heads] if isinstance(heads, str) else heads))
    poolings = list(dict.fromkeys([poolings] if isinstance(poolings, str) else poolings)) if poolings else None
    with DatasetFile(dataset) as ds, EmbeddingStore(store_dir) as st:
        _check_store_matches(ds, st)
        layer_list = resolve_layers(layers, st.layers, store_dir)
        pairs = plan_pairs(heads, poolings, st.poolings, store_dir)
        task, names = ds.task, list(ds.target_names)
        split, targets, all_ids = ds.split, ds.targets, ds.ids
        rows = {s: np.flatnonzero(split == s) for s in SPLITS}
        y = {s: targets[rows[s]] for s in SPLITS}
        ids = {s: all_ids[rows[s]] for s in SPLITS}
        labels = {s: Arrays(y[s], y[s], ids[s]) for s in SPLITS}   # targets only: checked before any fit
        check_split_sizes(labels, path=dataset)
        check_targets(labels, task, names, dataset)

        model = st.manifest.get("model", {})
        model_id = model.get("id") or store_dir.name
        store_key = st.manifest.get("cache_key", "")
        jobs = [(layer, pooling, head) for layer in layer_list for pooling, head in pairs]
        out: list[Path] = []
        bar = tqdm(jobs, desc=f"probe {ds.name}/{model_id}", unit="probe", file=sys.stderr,
                   disable=not opts.progress or not sys.stderr.isatty())
        for layer, pooling, head in bar:
            bar.set_postfix_str(f"L{layer} {pooling}-{head}")
            folder = outdir / f"L{layer}" / f"{pooling}-{head}"
            key = cache_key(ds.checksum, store_key, layer, pooling, head, opts)
            if not force and _up_to_date(folder / "record.json", key):
                log.info("%s is up to date; skipping (use --force to refit)", folder)
                out.append(folder / "record.json")
                continue
            record = make_record(
                "probe", f"probes/{ds.name}/{model_id}/L{layer}/{pooling}-{head}", cache_key=key, started=now(),
                tags={"dataset": ds.name, "model": model_id, "revision": model.get("revision") or "",
                      "family": model.get("family", ""), "random_init": bool(model.get("random_init", False)),
                      "layer": layer, "pooling": pooling, "head": head, "task": task},
                inputs={"dataset": {"path": str(dataset), "checksum": ds.checksum},
                        "store": {"path": str(store_dir), "cache_key": store_key,
                                  "array": tokens_name(layer) if pooling == "tokens" else pooled_name(layer, pooling)}},
                params={"layer": layer, "pooling": pooling, "head": head, "trials": opts.trials,
                        "timeout": opts.timeout, "pruner": opts.pruner,
                        # the linear head is one deterministic fit (its CI is a test bootstrap)
                        "replicates": 1 if head == "linear" else opts.replicates,
                        "seed": opts.seed, "max_epochs": opts.max_epochs, "device": opts.device})
            out.append(_fit_one(st, layer, pooling, head, rows, y, ids, task, names, opts, folder, record))
        bar.close()
    return out


@click.command("probe")
@click.option("--dataset", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Canonical dataset.h5 the store was embedded from.")
@click.option("--store", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Embedding store folder (embeddings/<dataset>/<model>/ from `glmprobe embed`).")
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Probe folder for this dataset and model (probes/<dataset>/<model>/).")
@click.option("--layer", "layers", multiple=True, default=("all",), show_default=True,
              help="Layer to probe (repeatable): a stored layer number, negative to count from the deepest "
                   "stored layer, or 'all' for a layer sweep.")
@click.option("--pooling", "poolings", multiple=True, type=click.Choice(POOLINGS),
              help="Pooling to probe (repeatable). Default: every stored pooling each head can read.")
@click.option("--head", "heads", multiple=True, type=click.Choice(list(HEADS)), default=("linear",),
              show_default=True, help="Probe head (repeatable): linear/mlp read cls/mean, token_cnn/chip_cnn tokens.")
@click.option("--force", is_flag=True, help="Refit even if an up-to-date record.json exists.")
@tuning_options
def probe_command(dataset: Path, store: Path, outdir: Path, layers: tuple[str, ...], poolings: tuple[str, ...],
                  heads: tuple[str, ...], force: bool, **kwargs) -> None:
    """Fit probe heads on stored embeddings; print one record.json path per probe."""
    opts = tune_options_from(kwargs)
    for path in probe_step(dataset, store, outdir, layers=list(layers), poolings=list(poolings) or None,
                           heads=list(heads), opts=opts, force=force):
        click.echo(str(path))
