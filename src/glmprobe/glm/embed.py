"""``glmprobe embed``: embed one dataset with one model into an embedding store.

The store is built in a hidden work folder beside ``--outdir`` (``.<model>.partial``) and
renamed into place when complete, so ``--outdir`` only ever holds a finished store. The
work folder survives a crash or kill: ``progress.json`` records the rows written (updated
after each chunk is flushed) and a rerun with the same cache key resumes there, ending
with a store identical to an uninterrupted run. ``--shard i/n`` embeds one slice of rows;
``--gather`` merges the shard stores into the full store.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import click
import numpy as np

from glmprobe.atomic import replace_dir
from glmprobe.data.dataset import DatasetFile
from glmprobe.errors import UserError
from glmprobe.glm.adapter import POOLINGS, ModelSpec, get_adapter
from glmprobe.glm.cache import cache_key, key_fields, spec_params, weights_sha256
from glmprobe.glm.extract import Extractor, context_limit, plan_tokens
from glmprobe.glm.store import (MANIFEST_NAME, PROGRESS_NAME, STORE_NAME, RowWriter, create_store, merge_stores,
                                pooled_name, read_json, tokens_name, write_json)
from glmprobe.record import make_record, now, read_record, write_record

log = logging.getLogger(__name__)
CHUNK_ROWS = 2048


def resolve_device(device: str) -> str:
    """``auto`` -> cuda if present else cpu; an explicit cuda request without a GPU is an error."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but no CUDA GPU is visible",
                        hint="Use --device cpu (or auto), or run on a GPU node")
    if device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"unknown device {device!r}; use auto, cpu or cuda")
    return device


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise UserError(f"--shard {text}: need 0 <= i < n")
    return i, n


def _progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="seq", file=sys.stderr, leave=False,
                disable=quiet or not sys.stderr.isatty())


def quiet_hf() -> None:
    """Silence transformers' own progress bars (weight loading), e.g. under --quiet or in logs."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _is_current(outdir: Path, key: str) -> bool:
    rec = outdir / "record.json"
    manifest = read_json(outdir / MANIFEST_NAME)
    return rec.exists() and bool(manifest and manifest.get("complete")) and read_record(rec).get("cache_key") == key


def _work_dir(outdir: Path) -> Path:
    return outdir.parent / f".{outdir.name}.partial"


def _check_resume(work: Path, key: str, fields: dict, force: bool) -> dict | None:
    """The progress of a resumable work folder, None to start fresh; UserError on a stale one."""
    if not work.exists():
        return None
    progress = read_json(work / PROGRESS_NAME)
    if force or progress is None:
        shutil.rmtree(work)
        return None
    if progress.get("cache_key") == key:
        return progress
    old = progress.get("fields", {})
    changed = [k for k in fields if old.get(k) != fields[k]]
    what = ("the dataset changed (checksum " f"{str(old.get('dataset_checksum'))[:12]} -> {fields['dataset_checksum'][:12]})"
            if "dataset_checksum" in changed else f"these settings changed: {', '.join(changed)}")
    raise UserError(f"an interrupted run left a partial store here, but {what}", path=work,
                    hint="Rerun with --force to discard it and start over")


def embed_step(dataset: str | os.PathLike, spec: ModelSpec, outdir: str | os.PathLike,
               shard: tuple[int, int] | str | None = None, device: str = "auto", force: bool = False, *,
               batch_size: int | None = None, chunk_rows: int = CHUNK_ROWS, quiet: bool = True) -> Path:
    """Embed ``dataset`` with ``spec`` into the store folder ``outdir``; returns ``outdir``."""
    started, t0 = now(), time.perf_counter()
    outdir = Path(outdir)
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    poolings = list(dict.fromkeys(spec.pooling))
    bad = [p for p in poolings if p not in POOLINGS]
    if bad:
        raise UserError(f"model '{spec.id}': unknown pooling {', '.join(bad)}; use {', '.join(POOLINGS)}")
    device = resolve_device(device)
    with DatasetFile(dataset) as ds:
        a, b = (ds.n * shard[0] // shard[1], ds.n * (shard[0] + 1) // shard[1]) if shard else (0, ds.n)
        adapter = get_adapter(spec, device)
        quiet = quiet or not sys.stderr.isatty()
        if quiet and spec.family != "onehot":
            quiet_hf()
        adapter.load()
        adapter.check_random_init()  # a random-init control that kept any pre-trained tensor is refused
        layers = adapter.resolve_layers(spec.layers)
        limit = context_limit(adapter, spec.max_length)
        fields = key_fields(dataset_checksum=ds.checksum, spec=spec, adapter_version=adapter.version,
                            weights=model_identity(adapter), layers=layers, poolings=poolings,
                            max_tokens=limit, rows=(a, b) if shard else None)
        key = cache_key(fields)
        if not force and _is_current(outdir, key):
            click.echo(f"{outdir}: up to date", err=True)
            return outdir
        extractor = Extractor(adapter, layers, poolings, batch_size=batch_size or spec.batch_size,
                              rc_average=spec.rc_average, device=device)
        n = b - a
        ids = ds.ids[a:b]

        def rows(lo, hi):
            for c in range(lo, hi, chunk_rows):
                yield from zip(ids[c - a:min(c + chunk_rows, hi) - a], ds.sequences(slice(c, min(c + chunk_rows, hi))))

        # Count every sequence's tokens first: refuse or window before anything is written.
        with _progress(n, f"{spec.id}: counting tokens", quiet) as bar:
            plan = plan_tokens(adapter, rows(a, b), n, limit=limit, window=spec.window,
                               rc_tokens=spec.rc_average and "tokens" in poolings, progress=bar)
        work = _work_dir(outdir)
        progress = _check_resume(work, key, fields, force)
        T = plan.max_stored if "tokens" in poolings else 0
        manifest = {
            "cache_key": key, "key_fields": fields, "complete": False,
            "model": {"id": spec.id, "source": spec.source, "family": spec.family, "revision": spec.revision,
                      "random_init": spec.random_init, "trust_remote_code": spec.trust_remote_code,
                      "weights_sha256": fields["weights_sha256"]},
            "adapter_version": adapter.version, "layers": layers, "poolings": poolings,
            "rc_average": spec.rc_average, "max_length": limit, "window": spec.window, "dtype": spec.dtype,
            "hidden_size": adapter.hidden_size, "max_tokens_stored": T,
            "dataset": {"name": ds.name, "checksum": ds.checksum, "n": n, "rows": [a, b], "total": ds.n,
                        "path": str(dataset)},
            "shard": list(shard) if shard else None,
        }
        if progress is None:
            work.mkdir(parents=True)
            create_store(work / STORE_NAME, ids=ids, split=ds._h5["split"][a:b], layers=layers, poolings=poolings,
                         hidden=adapter.hidden_size, max_tokens=T, dtype=spec.dtype)
            write_json(work / MANIFEST_NAME, manifest)
            progress = {"cache_key": key, "fields": fields, "rows_done": 0, "chunk_rows": chunk_rows}
            write_json(work / PROGRESS_NAME, progress)
        else:
            log.info("resuming %s at row %d", work, progress["rows_done"])
            click.echo(f"{outdir}: resuming at row {progress['rows_done']} of {n}", err=True)
        chunk_rows = int(progress["chunk_rows"])  # same chunks as the first attempt: identical batches
        writer = RowWriter(work / STORE_NAME)
        n_tokens, t_embed = 0, time.perf_counter()
        done0 = int(progress["rows_done"])
        with _progress(n, f"{spec.id}: embedding", quiet) as bar:
            bar.update(done0)
            for lo in range(done0, n, chunk_rows):
                hi = min(lo + chunk_rows, n)
                seqs = list(ds.sequences(slice(a + lo, a + hi)))
                wins = {r - lo: w for r, w in plan.windows.items() if lo <= r < hi}
                res = extractor.run(seqs, wins)
                n_tokens += res.n_tokens
                for (layer, kind), v in res.pooled.items():
                    writer.write(pooled_name(layer, kind), lo, v.astype(spec.dtype))
                if extractor.keep_tokens:
                    k = hi - lo
                    lengths = np.array([len(s) for s in res.spans], dtype=np.int32)
                    spans = np.full((k, T, 2), -1, np.int32)
                    for i, s in enumerate(res.spans):
                        spans[i, : len(s)] = s
                    writer.write("tokens/lengths", lo, lengths)
                    writer.write("tokens/spans", lo, spans)
                    for layer in layers:
                        block = np.zeros((k, T, adapter.hidden_size), dtype=spec.dtype)
                        for i, t in enumerate(res.tokens[layer]):
                            block[i, : len(t)] = t
                        writer.write(tokens_name(layer), lo, block)
                progress["rows_done"] = hi
                write_json(work / PROGRESS_NAME, progress)  # after the chunk is flushed: a safe resume point
                bar.update(hi - lo)
        elapsed = time.perf_counter() - t_embed
        manifest["complete"] = True
        write_json(work / MANIFEST_NAME, manifest)
        (work / PROGRESS_NAME).unlink()
        record = make_record(
            "embed", f"embeddings/{ds.name}/{spec.id}", cache_key=key, started=started,
            tags={"dataset": ds.name, "model": spec.id, "revision": spec.revision or "", "family": spec.family,
                  "task": ds.task, "stage": "embed"},
            params={**spec_params(spec), "layers_resolved": ";".join(map(str, layers)), "device": device,
                    "shard": f"{shard[0]}/{shard[1]}" if shard else "", "max_tokens": limit},
            metrics={"seq_per_s": (n - done0) / elapsed if elapsed > 0 else None, "tokens": n_tokens,
                     "max_tokens_seen": plan.max_tokens_seen, "n_truncated": 0,
                     "n_windowed": len(plan.windows), "n_windows": sum(len(w) for w in plan.windows.values())},
            n={"total": n}, artifacts={"store": STORE_NAME, "manifest": MANIFEST_NAME},
            inputs={"dataset": {"path": str(dataset), "checksum": ds.checksum},
                    "model": {"source": spec.source, "revision": spec.revision, "weights_sha256": fields["weights_sha256"],
                              "trust_remote_code": spec.trust_remote_code}},
            duration_s=time.perf_counter() - t0)
        write_record(work, record)
    replace_dir(work, outdir)
    return outdir


def model_identity(adapter) -> dict[str, str]:
    """What pins the weights in the cache key: local weight files' sha256, or the hub commit loaded."""
    weights = weights_sha256(adapter.weight_files())
    commit = getattr(adapter, "resolved_revision", None)
    if not weights and commit:
        weights = {"hub_commit": commit}
    return weights


def gather_step(shard_dirs: Sequence[str | os.PathLike], outdir: str | os.PathLike, force: bool = False) -> Path:
    """Merge the stores of ``--shard i/n`` runs into one store, identical to an unsharded run."""
    from glmprobe.glm.store import EmbeddingStore

    started, t0 = now(), time.perf_counter()
    outdir = Path(outdir)
    manifests = []
    for d in shard_dirs:
        with EmbeddingStore(d) as s:
            manifests.append((Path(d), s.manifest))
    manifests.sort(key=lambda m: m[1]["dataset"]["rows"][0])
    first = manifests[0][1]
    fields = dict(first["key_fields"], rows=None)
    for d, m in manifests:
        if dict(m["key_fields"], rows=None) != fields:
            raise UserError("shard was embedded with different settings or data than the others", path=d,
                            hint="Gather shards of one `glmprobe embed --shard i/n` set only")
    expect = 0
    for d, m in manifests:
        lo, hi = m["dataset"]["rows"]
        if lo != expect:
            raise UserError(f"shards do not tile the dataset: rows {expect}..{lo} are missing", path=d,
                            hint="Gather every shard of the set (a missing or repeated --shard i/n)")
        expect = hi
    total = first["dataset"].get("total", expect)
    if expect != total:  # the last shard(s) missing: never publish a short store as complete
        raise UserError(f"shards do not tile the dataset: rows {expect}..{total} are missing",
                        path=manifests[-1][0], hint="Gather every shard of the set (a missing --shard i/n)")
    key = cache_key(fields)
    if not force and _is_current(outdir, key):
        click.echo(f"{outdir}: up to date", err=True)
        return outdir
    work = _work_dir(outdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        merge_stores([d for d, _ in manifests], work / STORE_NAME)
        T = max(int(m.get("max_tokens_stored") or 0) for _, m in manifests)
        manifest = dict(first, cache_key=key, key_fields=fields, shard=None, complete=True, max_tokens_stored=T,
                        dataset=dict(first["dataset"], n=expect, rows=[0, expect]))
        write_json(work / MANIFEST_NAME, manifest)
        recs = [read_record(d) for d, _ in manifests]
        metrics = {"tokens": sum(r["metrics"].get("tokens", 0) for r in recs),
                   "max_tokens_seen": max(r["metrics"].get("max_tokens_seen", 0) for r in recs),
                   "n_truncated": 0,
                   "n_windowed": sum(r["metrics"].get("n_windowed", 0) for r in recs),
                   "n_windows": sum(r["metrics"].get("n_windows", 0) for r in recs)}
        rec0 = recs[0]
        record = make_record("embed", rec0["key"], cache_key=key, started=started, tags=rec0["tags"],
                             params=dict(rec0["params"], shard="", gathered_from=len(recs)), metrics=metrics,
                             n={"total": expect}, artifacts=rec0["artifacts"], inputs=rec0["inputs"],
                             duration_s=time.perf_counter() - t0)
        write_record(work, record)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    replace_dir(work, outdir)
    return outdir


@click.command("embed")
@click.option("--dataset", type=click.Path(dir_okay=False, path_type=Path), help="dataset.h5 from `glmprobe prepare`.")
@click.option("--models", type=click.Path(dir_okay=False, path_type=Path), help="Models sheet (CSV).")
@click.option("--model", "model_id", help="Id of the sheet row to use (default: the only row).")
@click.option("--source", help="Quick run without a sheet: hub id, local model folder or 'onehot'.")
@click.option("--family", help="Quick run: model family (e.g. onehot, hf-mlm, nt).")
@click.option("--layers", help="Override layers: all, last or ';'-separated ints (negative from the end).")
@click.option("--pooling", help="Override pooling: ';'-separated cls, mean, tokens.")
@click.option("--window", type=click.Choice(["refuse", "split"]), help="Override: what to do with sequences longer than the context.")
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Store folder, conventionally embeddings/<dataset>/<model>/.")
@click.option("--shard", help="Embed only slice i of n (e.g. 0/4) for scatter-gather.")
@click.option("--gather", "gather_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Merge these finished shard stores into --outdir instead of embedding (repeat the option).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda (cuda without a GPU is an error).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Sequences per forward pass (default: the sheet's batch_size).")
@click.option("--chunk-rows", default=CHUNK_ROWS, show_default=True, type=click.IntRange(min=1),
              help="Rows written per chunk (the resume granularity).")
@click.option("--force", is_flag=True, help="Recompute even if an up-to-date store exists; discard partial runs.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def embed_command(dataset, models, model_id, source, family, layers, pooling, window, outdir, shard, gather_dirs,
                  device, batch_size, chunk_rows, force, quiet):
    """Embed DATASET with one model: every requested layer from a single forward pass."""
    if gather_dirs:
        path = gather_step(gather_dirs, outdir, force=force)
        click.echo(str(path))
        return
    if dataset is None:
        raise UserError("--dataset is required (or use --gather SHARD_DIR ...)")
    spec = _spec_from_options(models, model_id, source, family)
    overrides = {}
    if layers:
        from glmprobe.glm.models_sheet import parse_layers
        try:
            overrides["layers"] = parse_layers(layers)
        except ValueError:
            raise UserError(f"--layers {layers!r}: use all, last or ';'-separated integers") from None
    if pooling:
        from glmprobe.glm.models_sheet import parse_pooling
        overrides["pooling"] = parse_pooling(pooling)
    if window:
        overrides["window"] = window
    spec = replace(spec, **overrides)
    path = embed_step(dataset, spec, outdir, shard=shard, device=device, force=force, batch_size=batch_size,
                      chunk_rows=chunk_rows, quiet=quiet)
    click.echo(str(path))


def _spec_from_options(models: Path | None, model_id: str | None, source: str | None, family: str | None) -> ModelSpec:
    from glmprobe.glm.models_sheet import read_models_sheet, row_to_spec, select_model

    if models is not None:
        if source or family:
            raise UserError("give either --models (a sheet) or --source/--family, not both")
        return select_model(read_models_sheet(models), model_id, models)
    if not source or not family:
        raise UserError("give --models MODELS.csv --model ID, or --source and --family for a quick run")
    return row_to_spec({"id": model_id or Path(source).name or family, "source": source, "family": family}, base=Path.cwd())
