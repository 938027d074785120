"""The step skeleton: everything a step does around its own work, written once.

Every ``glmprobe <step>`` produces one output folder per task. Around the step's own
work the skeleton does the same five things for all of them:

1. **cache key**: a sha256 of a JSON blob holding everything that determines the result
   (input checksums, options, the glmprobe version) — never device, paths or progress bars;
2. **up-to-date check**: the folder's ``record.json`` carries the same key and the step's
   main outputs exist, so the task is skipped (unless forced);
3. **temporary folder**: outputs are written into a hidden sibling folder (or a persistent
   work folder, for steps that resume) and swapped into place only when complete;
4. **timing**: ``started``, ``finished`` and ``duration_s`` in the record;
5. **record.json**: written last, inside the temporary folder, so a folder with a record
   is always complete.

A step module is then: parse inputs, build a :class:`Task`, return early when it is
:meth:`~Task.up_to_date`, and do the work inside :meth:`~Task.writing`::

    task = Task("attribute", key=f"attribution/{ds}/{model}", folder=out,
                blob={"dataset": checksum, "model": model_key, "method": method},
                outputs=("maps.h5",), tags={...}, params={...}, inputs={...})
    if task.up_to_date(force):
        return task.record_path
    with task.writing() as tmp:
        write_maps(tmp / "maps.h5", ...)
        task.record["metrics"].update(scores)
        task.record["artifacts"]["maps"] = "maps.h5"
    return task.record_path
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from glmprobe import __version__
from glmprobe.atomic import replace_dir
from glmprobe.record import RECORD_NAME, make_record, now, read_record, write_record

log = logging.getLogger(__name__)


def key_of(blob: dict, *, versioned: bool = True) -> str:
    """sha256 of ``blob`` as canonical JSON; ``versioned`` adds the glmprobe version."""
    payload = {**blob, "glmprobe": __version__} if versioned else blob
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def up_to_date(folder: str | os.PathLike, key: str, outputs: Sequence[str] = ()) -> bool:
    """Whether ``folder`` holds a complete result with cache key ``key``."""
    folder = Path(folder)
    try:
        record = read_record(folder / RECORD_NAME)
    except (OSError, ValueError):
        return False  # missing or unreadable record: redo
    return record.get("cache_key") == key and all((folder / name).exists() for name in outputs)


class Task:
    """One task of one step: its identity, its cache key and its record under construction.

    Parameters
    ----------
    step
        Step name (``prepare``, ``embed``, ``probe``, ...), the record's ``step`` field.
    key
        Unique task id, the output folder's path under the results root.
    folder
        Final output folder.
    blob
        Everything that determines the result; hashed into the cache key (ignored when
        ``cache_key`` is given).
    outputs
        File names inside ``folder`` that must exist for the task to count as done.
    cache_key
        A precomputed key, for steps whose key has its own documented fields (embed).
    t0
        ``time.perf_counter()`` when the task's work began, for steps that must open their
        inputs before they can build the task (default: now).
    **fields
        Record fields (``tags``, ``params``, ``inputs``, ``n``, ...), see :mod:`glmprobe.record`.
    """

    def __init__(self, step: str, key: str, folder: str | os.PathLike, blob: dict | None = None, *,
                 outputs: Sequence[str] = (), cache_key: str | None = None, t0: float | None = None,
                 **fields):
        self.step, self.key, self.folder = step, key, Path(folder)
        self.blob, self.outputs = blob, tuple(outputs)
        if cache_key is None and blob is None:
            raise ValueError("Task needs a blob or a cache_key")
        self.cache_key = cache_key if cache_key is not None else key_of(blob)
        self._t0 = time.perf_counter() if t0 is None else t0
        started = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=time.perf_counter() - self._t0)
        self.record = make_record(step, key, cache_key=self.cache_key,
                                  started=started.isoformat(timespec="seconds"), **fields)

    @property
    def record_path(self) -> Path:
        return self.folder / RECORD_NAME

    def up_to_date(self, force: bool = False) -> bool:
        """True (and logged) when the folder already holds this exact result and ``force`` is off."""
        if force or not up_to_date(self.folder, self.cache_key, self.outputs):
            return False
        log.info("%s: up to date (same inputs and options), skipped; use --force to redo", self.folder)
        return True

    @contextlib.contextmanager
    def writing(self, work: str | os.PathLike | None = None) -> Iterator[Path]:
        """Yield the folder to write outputs into; on success write the record and swap it in.

        ``work`` is a persistent folder for steps that resume after a kill (it is kept when
        the body fails); by default a fresh hidden folder beside ``folder`` that is removed
        on failure, so nothing half-written ever appears at ``folder``.
        """
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        if work is None:
            tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".tmp", dir=self.folder.parent))
            tmp.chmod(0o755)   # mkdtemp is private; outputs are read by other users (pipeline containers)
        else:
            tmp = Path(work)
            tmp.mkdir(parents=True, exist_ok=True)
        try:
            yield tmp
            self.finish(tmp)
            replace_dir(tmp, self.folder)
        finally:
            if work is None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def finish(self, folder: str | os.PathLike) -> Path:
        """Stamp the timing into the record and write it into ``folder`` (the last write)."""
        self.record["finished"] = now()
        self.record["duration_s"] = time.perf_counter() - self._t0
        path = write_record(folder, self.record)
        path.chmod(0o644)   # written through a private temporary file
        return path
