"""``glmprobe embed``: embed one dataset with one model into an embedding store.

The store is built in a hidden work folder beside ``--outdir`` (``.<model>.partial``) and
swapped into place by the step skeleton when complete, so ``--outdir`` only ever holds a
finished store. The work folder survives a crash or kill: ``progress.json`` records the
rows written (after each chunk is flushed) and a rerun with the same cache key resumes
there, ending with a store identical to an uninterrupted run. ``--shard i/n`` embeds one
slice of rows; ``--gather`` merges the shard stores into the full store. The work itself
is in :mod:`glmprobe.glm.embed`; the key's fields in :mod:`glmprobe.glm.cache`.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import click

from glmprobe.data.dataset import DatasetFile
from glmprobe.data.segments import segmented
from glmprobe.device import DEFAULT_DEVICE, resolve_device
from glmprobe.diskfull import refuse_when_full
from glmprobe.errors import UserError
from glmprobe.glm.adapter import POOLINGS, ModelSpec
from glmprobe.glm.embed import (
    CHUNK_ROWS,
    EmbedJob,
    check_resume,
    close_store,
    count_tokens,
    embed_chunks,
    open_job,
    open_store,
    work_dir,
)
from glmprobe.glm.extract import PRECISIONS, Extractor
from glmprobe.glm.store import MANIFEST_NAME, PROGRESS_NAME, STORE_NAME, merge_stores, read_json, write_json
from glmprobe.lock import locks_outdir
from glmprobe.record import read_record
from glmprobe.steps.skeleton import Task, key_of

OUTPUTS = (STORE_NAME, MANIFEST_NAME)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> ``(i, n)``; None or empty -> None (the whole dataset)."""
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise UserError(f"--shard {text}: need 0 <= i < n")
    return i, n


def spec_params(spec: ModelSpec) -> dict:
    """The model spec as flat record params (lists joined with ';')."""
    return {k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in asdict(spec).items()}


def _poolings(spec: ModelSpec) -> list[str]:
    poolings = list(dict.fromkeys(spec.pooling))
    bad = [p for p in poolings if p not in POOLINGS]
    if bad:
        raise UserError(f"model '{spec.id}': unknown pooling {', '.join(bad)}; use {', '.join(POOLINGS)}")
    return poolings


def _skipped(task: Task, force: bool) -> bool:
    if task.up_to_date(force):
        click.echo(f"{task.folder}: up to date", err=True)
        return True
    return False


def device_name(device: str) -> str:
    """What ran the forward pass, for the record (``NVIDIA H100 80GB HBM3``, ``cpu``)."""
    if not device.startswith("cuda"):
        return "cpu"
    import torch

    return torch.cuda.get_device_name(torch.device(device))


def _after_full(work: Path) -> str:
    """What a rerun does after the disk filled up: resume at the last recorded chunk, or start over."""
    progress = read_json(work / PROGRESS_NAME)
    if progress is None:       # failed while the store was created: nothing to resume, give the space back
        shutil.rmtree(work, ignore_errors=True)
        return "nothing was kept, it starts over"
    return f"it resumes at row {progress['rows_done']} (the rows done are kept in {work})"


def _task(job: EmbedJob, outdir: Path, device: str, t0: float) -> Task:
    spec, ds, shard = job.spec, job.ds, job.shard
    return Task(
        "embed", f"embeddings/{ds.name}/{spec.id}", outdir, cache_key=key_of(job.fields, versioned=False),
        outputs=OUTPUTS, t0=t0,
        tags={"dataset": ds.name, "model": spec.id, "revision": spec.revision or "", "family": spec.family,
              "task": ds.task, "stage": "embed"},
        params={**spec_params(spec), "layers_resolved": ";".join(map(str, job.layers)), "device": device,
                "device_name": device_name(device), "precision": job.precision,
                "shard": f"{shard[0]}/{shard[1]}" if shard else "", "max_tokens": job.limit},
        n={"total": job.n}, artifacts={"store": STORE_NAME, "manifest": MANIFEST_NAME},
        inputs={"dataset": {"path": str(job.dataset), "checksum": ds.checksum},
                "model": {"source": spec.source, "revision": spec.revision,
                          "weights_sha256": job.fields["weights_sha256"], "trust_remote_code": spec.trust_remote_code}})


def embed_step(dataset: str | os.PathLike, spec: ModelSpec, outdir: str | os.PathLike,
               shard: tuple[int, int] | str | None = None, device: str = DEFAULT_DEVICE, force: bool = False, *,
               batch_size: int | None = None, chunk_rows: int = CHUNK_ROWS, quiet: bool = True,
               precision: str = "auto") -> Path:
    """Embed ``dataset`` with ``spec`` into the store folder ``outdir``.

    Parameters
    ----------
    dataset
        Canonical ``dataset.h5`` from ``glmprobe prepare``.
    spec
        The model (a models-sheet row): source, family, layers, poolings, windowing, dtype.
    outdir
        Store folder, conventionally ``embeddings/<dataset>/<model>/``.
    shard
        ``(i, n)`` or ``"i/n"``: embed only slice ``i`` of ``n`` (gather them with :func:`gather_step`).
    device
        ``auto``, ``cpu`` or ``cuda``; its kind (cpu/cuda) enters the cache key.
    force
        Recompute even when an up-to-date store exists; discard a partial one.
    batch_size
        Sequences per forward pass (default: the spec's).
    chunk_rows
        Rows written per chunk, the resume granularity.
    quiet
        No progress bars.
    precision
        The forward pass's arithmetic: ``auto`` (fp32 on CPU, bf16 autocast on CUDA, fp16 where
        bf16 is unsupported), ``fp32``, ``bf16`` or ``fp16``; recorded and in the cache key.

    Returns
    -------
    Path
        ``outdir`` (embedded, resumed or already up to date).
    """
    t0 = time.perf_counter()
    outdir = Path(outdir)
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    poolings = _poolings(spec)
    device = resolve_device(device)
    quiet = quiet or not sys.stderr.isatty()
    with DatasetFile(dataset) as ds:
        # a segmented dataset (splicing halves) is embedded one segment at a time: S*N store rows
        job = open_job(Path(dataset), segmented(ds), spec, shard, device, poolings, quiet, precision)
        if ds.segments:    # a store of another shape: another cache key (docs/splicing.md)
            job.fields["segments"] = list(ds.segments)
        task = _task(job, outdir, device, t0)
        if _skipped(task, force):
            return outdir
        extractor = Extractor(job.adapter, job.layers, poolings, batch_size=batch_size or spec.batch_size,
                              rc_average=spec.rc_average, device=device, precision=job.precision,
                              dtype=spec.dtype)
        plan = count_tokens(job, chunk_rows)
        work = work_dir(outdir)
        progress = check_resume(work, task.cache_key, job.fields, force)
        if progress is not None:
            click.echo(f"{outdir}: resuming at row {progress['rows_done']} of {job.n}", err=True)
        with refuse_when_full(outdir / STORE_NAME, "the store", lambda: _after_full(work)), \
                task.writing(work=work) as tmp:
            manifest, progress = open_store(job, tmp, task.cache_key, plan, progress, chunk_rows)
            done0, t_embed = int(progress["rows_done"]), time.perf_counter()
            n_tokens = embed_chunks(job, extractor, plan, tmp, progress, manifest["max_tokens_stored"])
            elapsed = time.perf_counter() - t_embed
            close_store(tmp, manifest)
            task.record["metrics"] = {
                "seq_per_s": (job.n - done0) / elapsed if elapsed > 0 else None, "tokens": n_tokens,
                "max_tokens_seen": plan.max_tokens_seen, "n_truncated": 0, "n_windowed": len(plan.windows),
                "n_windows": sum(len(w) for w in plan.windows.values())}
    return outdir


def _shard_manifests(shard_dirs: Sequence[str | os.PathLike]) -> list[tuple[Path, dict]]:
    """The shards' manifests in row order, checked to be one set that tiles the whole dataset."""
    from glmprobe.glm.store import EmbeddingStore

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
    return manifests


def _sum_metrics(records: list[dict]) -> dict:
    def total(name):
        return sum(r["metrics"].get(name, 0) for r in records)
    return {"tokens": total("tokens"), "max_tokens_seen": max(r["metrics"].get("max_tokens_seen", 0) for r in records),
            "n_truncated": 0, "n_windowed": total("n_windowed"), "n_windows": total("n_windows")}


def gather_step(shard_dirs: Sequence[str | os.PathLike], outdir: str | os.PathLike, force: bool = False) -> Path:
    """Merge the stores of ``--shard i/n`` runs into one store, identical to an unsharded run.

    Parameters
    ----------
    shard_dirs
        Finished shard store folders of one ``--shard i/n`` set, in any order.
    outdir
        The merged store folder.
    force
        Merge again even when an up-to-date merged store exists.

    Returns
    -------
    Path
        ``outdir``.
    """
    t0 = time.perf_counter()
    outdir = Path(outdir)
    manifests = _shard_manifests(shard_dirs)
    first = manifests[0][1]
    fields = dict(first["key_fields"], rows=None)
    n = manifests[-1][1]["dataset"]["rows"][1]
    recs = [read_record(d) for d, _ in manifests]
    rec0 = recs[0]
    task = Task("embed", rec0["key"], outdir, cache_key=key_of(fields, versioned=False), outputs=OUTPUTS,
                t0=t0, tags=rec0["tags"], params=dict(rec0["params"], shard="", gathered_from=len(recs)),
                metrics=_sum_metrics(recs), n={"total": n}, artifacts=rec0["artifacts"], inputs=rec0["inputs"])
    if _skipped(task, force):
        return outdir
    with refuse_when_full(outdir / STORE_NAME, "the merged store", lambda: "it merges the shards again"), \
            task.writing() as tmp:
        merge_stores([d for d, _ in manifests], tmp / STORE_NAME)
        max_stored = max(int(m.get("max_tokens_stored") or 0) for _, m in manifests)
        write_json(tmp / MANIFEST_NAME, dict(first, cache_key=task.cache_key, key_fields=fields, shard=None,
                                             complete=True, max_tokens_stored=max_stored,
                                             dataset=dict(first["dataset"], n=n, rows=[0, n])))
    return outdir


def _spec_from_options(models: Path | None, model_id: str | None, source: str | None, family: str | None) -> ModelSpec:
    from glmprobe.glm.models_sheet import read_models_sheet, row_to_spec, select_model

    if models is not None:
        if source or family:
            raise UserError("give either --models (a sheet) or --source/--family, not both")
        return select_model(read_models_sheet(models), model_id, models)
    if not source or not family:
        raise UserError("give --models MODELS.csv --model ID, or --source and --family for a quick run")
    return row_to_spec({"id": model_id or Path(source).name or family, "source": source, "family": family},
                       base=Path.cwd())


def _overrides(layers: str | None, pooling: str | None, window: str | None) -> dict:
    """Command-line overrides of the sheet row's layers, pooling and window."""
    from glmprobe.glm.models_sheet import parse_layers, parse_pooling

    out = {}
    if layers:
        try:
            out["layers"] = parse_layers(layers)
        except ValueError:
            raise UserError(f"--layers {layers!r}: use all, last or ';'-separated integers") from None
    if pooling:
        out["pooling"] = parse_pooling(pooling)
    if window:
        out["window"] = window
    return out


@click.command("embed")
@click.option("--dataset", type=click.Path(dir_okay=False, path_type=Path), help="dataset.h5 from `glmprobe prepare`.")
@click.option("--models", type=click.Path(dir_okay=False, path_type=Path), help="Models sheet (CSV).")
@click.option("--model", "model_id", help="Id of the sheet row to use (default: the only row).")
@click.option("--source", help="Quick run without a sheet: hub id, local model folder or 'onehot'.")
@click.option("--family", help="Quick run: model family (e.g. onehot, hf-mlm, nt).")
@click.option("--layers", help="Override layers: all, last or ';'-separated ints (negative from the end).")
@click.option("--pooling", help="Override pooling: ';'-separated cls, mean, tokens.")
@click.option("--window", type=click.Choice(["refuse", "split"]),
              help="Override: what to do with sequences longer than the context.")
@click.option("--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Store folder, conventionally embeddings/<dataset>/<model>/.")
@click.option("--shard", help="Embed only slice i of n (e.g. 0/4) for scatter-gather.")
@click.option("--gather", "gather_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Merge these finished shard stores into --outdir instead of embedding (repeat the option).")
@click.option("--device", default=DEFAULT_DEVICE, show_default=True, help="auto, cpu or cuda (cuda without a GPU is an error).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="Forward-pass arithmetic: auto = fp32 on CPU, bf16 autocast on CUDA (fp16 without bf16); "
                   "recorded and part of the cache key.")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="Sequences per forward pass (default: the sheet's batch_size).")
@click.option("--chunk-rows", default=CHUNK_ROWS, show_default=True, type=click.IntRange(min=1),
              help="Rows written per chunk (the resume granularity).")
@click.option("--force", is_flag=True, help="Recompute even if an up-to-date store exists; discard partial runs.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@locks_outdir("glmprobe embed")   # a second embed on the same store refuses (glmprobe.lock)
def embed_command(dataset, models, model_id, source, family, layers, pooling, window, outdir, shard, gather_dirs,
                  device, precision, batch_size, chunk_rows, force, quiet):
    """Embed DATASET with one model: every requested layer from a single forward pass."""
    if gather_dirs:
        click.echo(str(gather_step(gather_dirs, outdir, force=force)))
        return
    if dataset is None:
        raise UserError("--dataset is required (or use --gather SHARD_DIR ...)")
    spec = replace(_spec_from_options(models, model_id, source, family), **_overrides(layers, pooling, window))
    path = embed_step(dataset, spec, outdir, shard=shard, device=device, force=force, batch_size=batch_size,
                      chunk_rows=chunk_rows, quiet=quiet, precision=precision)
    click.echo(str(path))
