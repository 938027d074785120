"""Embedding one slice of a dataset with one model into a store (the work behind ``glmprobe embed``).

:class:`EmbedJob` holds what one run needs (dataset rows, loaded adapter, resolved layers,
poolings, context limit); :func:`count_tokens` sizes the store before anything is written;
:func:`open_store` creates the store in a work folder or resumes an interrupted one; and
:func:`embed_chunks` is the per-chunk extraction loop: extract a chunk, write it, record the
rows done (``progress.json``) so a killed run resumes at the last flushed chunk and ends
with a store identical to an uninterrupted run. :mod:`glmprobe.steps.embed` wraps this in
the step skeleton.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glmprobe.data.dataset import DatasetFile
from glmprobe.errors import UserError
from glmprobe.glm.adapter import Adapter, ModelSpec
from glmprobe.glm.cache import key_fields, model_identity
from glmprobe.glm.extract import (
    Chunk,
    ChunkDone,
    Extractor,
    TokenPlan,
    TokenRows,
    context_limit,
    plan_tokens,
    resolve_precision,
)
from glmprobe.glm.pipeline import Behind
from glmprobe.glm.store import (
    MANIFEST_NAME,
    PROGRESS_NAME,
    STORE_NAME,
    RowWriter,
    create_store,
    pooled_name,
    read_json,
    tokens_name,
    write_json,
)
from glmprobe.progress import bar

log = logging.getLogger(__name__)
CHUNK_ROWS = 2048


@dataclass
class EmbedJob:
    """Rows ``rows`` of dataset ``ds`` embedded with ``adapter`` (loaded): the facts every part reads."""

    dataset: Path
    ds: DatasetFile
    spec: ModelSpec
    adapter: Adapter
    rows: tuple[int, int]
    shard: tuple[int, int] | None
    layers: list[int]
    poolings: list[str]
    limit: int | None
    quiet: bool = True
    device: str = "cpu"
    precision: str = "fp32"          # the forward pass's arithmetic (resolve_precision): in the key
    fields: dict = field(init=False)

    def __post_init__(self):
        a, b = self.rows
        self.fields = key_fields(dataset_checksum=self.ds.checksum, spec=self.spec,
                                 adapter_version=self.adapter.version, weights=model_identity(self.adapter),
                                 layers=self.layers, poolings=self.poolings, max_tokens=self.limit,
                                 rows=(a, b) if self.shard else None, device=self.device,
                                 precision=self.precision)

    @property
    def n(self) -> int:
        return self.rows[1] - self.rows[0]

    @property
    def keeps_tokens(self) -> bool:
        return "tokens" in self.poolings

    def ids(self, lo: int, hi: int) -> np.ndarray:
        """Record ids of job rows ``lo..hi``, read from the file for just those rows: the whole
        id column (64 MB of str at N = 1M) is never held, so memory stays flat in N."""
        a = self.rows[0]
        h5 = getattr(self.ds, "_h5", None)
        if h5 is not None and "ids" in h5:
            return h5["ids"].asstr()[a + lo:a + hi]
        return self.ds.ids[a + lo:a + hi]  # a view without the file's id column (segments)

    def sequences(self, lo: int, hi: int, chunk_rows: int):
        """(id, sequence) for job rows ``lo..hi`` (0-based within the slice), read chunk by chunk."""
        a = self.rows[0]
        for c in range(lo, hi, chunk_rows):
            end = min(c + chunk_rows, hi)
            yield from zip(self.ids(c, end), self.ds.sequences(slice(a + c, a + end)))

    def manifest(self, key: str, max_stored: int) -> dict:
        spec, ds, (a, b) = self.spec, self.ds, self.rows
        return {
            "cache_key": key, "key_fields": self.fields, "complete": False,
            "model": {"id": spec.id, "source": spec.source, "family": spec.family, "revision": spec.revision,
                      "random_init": spec.random_init, "trust_remote_code": spec.trust_remote_code,
                      "weights_sha256": self.fields["weights_sha256"]},
            "adapter_version": self.adapter.version, "layers": self.layers, "poolings": self.poolings,
            "rc_average": spec.rc_average, "max_length": self.limit, "window": spec.window, "dtype": spec.dtype,
            "hidden_size": self.adapter.hidden_size, "max_tokens_stored": max_stored,
            "dataset": {"name": ds.name, "checksum": ds.checksum, "n": self.n, "rows": [a, b], "total": ds.n,
                        "path": str(self.dataset)},
            "shard": list(self.shard) if self.shard else None,
        }


def open_job(dataset: Path, ds: DatasetFile, spec: ModelSpec, shard: tuple[int, int] | None, device: str,
             poolings: list[str], quiet: bool, precision: str = "auto") -> EmbedJob:
    """Load the model and resolve what it will embed (layers, context limit, rows of the shard)."""
    from glmprobe.glm.adapter import get_adapter
    from glmprobe.progress import quiet_hf

    rows = (ds.n * shard[0] // shard[1], ds.n * (shard[0] + 1) // shard[1]) if shard else (0, ds.n)
    adapter = get_adapter(spec, device)
    if quiet and spec.family != "onehot":
        quiet_hf()
    adapter.load()
    adapter.check_random_init()  # a random-init control that kept any pre-trained tensor is refused
    return EmbedJob(dataset, ds, spec, adapter, rows, shard, adapter.resolve_layers(spec.layers), poolings,
                    context_limit(adapter, spec.max_length), quiet, device,
                    resolve_precision(device, precision))


def count_tokens(job: EmbedJob, chunk_rows: int) -> TokenPlan:
    """Every sequence's tokens, counted first: refuse or window before anything is written."""
    with bar(job.n, f"{job.spec.id}: counting tokens", job.quiet) as b:
        return plan_tokens(job.adapter, job.sequences(0, job.n, chunk_rows), job.n, limit=job.limit,
                           window=job.spec.window, rc_tokens=job.spec.rc_average and job.keeps_tokens, progress=b)


def work_dir(outdir: Path) -> Path:
    """The resumable work folder beside ``outdir`` (kept when a run is killed)."""
    return outdir.parent / f".{outdir.name}.partial"


def check_resume(work: Path, key: str, fields: dict, force: bool) -> dict | None:
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


def open_store(job: EmbedJob, work: Path, key: str, plan: TokenPlan, progress: dict | None,
               chunk_rows: int) -> tuple[dict, dict]:
    """Create the empty store, manifest and progress in ``work`` (or keep the resumed ones).

    Returns the manifest and the progress (``rows_done``, ``chunk_rows``).
    """
    manifest = job.manifest(key, plan.max_stored if job.keeps_tokens else 0)
    if progress is None:
        a, b = job.rows
        create_store(work / STORE_NAME, ids=job.ids, split=job.ds._h5["split"][a:b], layers=job.layers,
                     poolings=job.poolings, hidden=job.adapter.hidden_size,
                     max_tokens=manifest["max_tokens_stored"], dtype=job.spec.dtype)
        write_json(work / MANIFEST_NAME, manifest)
        progress = {"cache_key": key, "fields": job.fields, "rows_done": 0, "chunk_rows": chunk_rows}
        write_json(work / PROGRESS_NAME, progress)
    else:
        log.info("resuming %s at row %d", work, progress["rows_done"])
    return manifest, progress


def embed_chunks(job: EmbedJob, extractor: Extractor, plan: TokenPlan, work: Path, progress: dict,
                 max_stored: int) -> int:
    """The extraction loop: embed and write every chunk not yet done; returns the tokens embedded.

    The extractor tokenises ahead in a thread; writes go to a background writer (bounded
    queue; its errors surface here). ``progress.json`` is rewritten after each chunk is
    synced to disk (a safe resume point); the chunk size is the first attempt's, so a
    resumed run sees identical batches.
    """
    a = job.rows[0]
    chunk_rows = int(progress["chunk_rows"])
    writer = RowWriter(work / STORE_NAME)
    done0 = int(progress["rows_done"])

    def chunks():
        for lo in range(done0, job.n, chunk_rows):
            hi = min(lo + chunk_rows, job.n)
            yield Chunk(lo, list(job.ds.sequences(slice(a + lo, a + hi))),
                        {r - lo: w for r, w in plan.windows.items() if lo <= r < hi}, plan.n_tokens[lo:hi], job.ids(lo, hi))

    def write_tokens(rows: TokenRows) -> None:
        writer.scatter("tokens/lengths", rows.rows, rows.lengths)
        writer.scatter("tokens/spans", rows.rows, rows.spans, fill=-1)
        for layer, v in rows.states.items():
            writer.scatter(tokens_name(layer), rows.rows, v)

    def write(item) -> None:  # runs in the writer thread, in order
        if isinstance(item, TokenRows):
            return write_tokens(item)
        for (layer, kind), v in item.pooled.items():
            writer.scatter(pooled_name(layer, kind), np.arange(item.lo, item.lo + item.k), v)
        for rows in item.tokens:
            write_tokens(rows)
        writer.sync()
        progress["rows_done"] = item.lo + item.k
        write_json(work / PROGRESS_NAME, progress)
        b.update(item.k)

    n_tokens = 0
    with bar(job.n, f"{job.spec.id}: embedding", job.quiet) as b, Behind(write, depth=4, name="glmprobe-write") as out:
        b.update(done0)
        for item in extractor.stream(chunks()):
            if isinstance(item, ChunkDone):
                n_tokens += item.n_tokens
            out.submit(item)
    return n_tokens


def close_store(work: Path, manifest: dict) -> None:
    """Mark the finished store complete and drop the resume point."""
    manifest["complete"] = True
    write_json(work / MANIFEST_NAME, manifest)
    (work / PROGRESS_NAME).unlink()
