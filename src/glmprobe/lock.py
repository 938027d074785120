"""One writer per output folder.

``glmprobe run`` and ``glmprobe embed`` hold an advisory lock (``filelock``: ``flock`` on
POSIX) on a hidden file beside their output folder while they write it, so a second
process started on the same folder refuses at once with a clear message instead of
interleaving writes. The operating system drops the lock when the holder exits, even
when it is killed, so a crash never leaves a stale lock to delete by hand.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from glmprobe.errors import UserError


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of ``folder``: a hidden sibling (the folder itself may be swapped in atomically)."""
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.lock"


@contextlib.contextmanager
def hold(folder: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold ``folder``'s lock for the block; refuse (UserError) if another process holds it."""
    path = lock_path(folder)
    created = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise UserError(f"another glmprobe process is writing this folder (lock {path.name} is held)",
                        path=Path(folder), hint=f"Wait for it to finish, or give this `{command}` another "
                        "--outdir; nothing was written. The lock is released when that process exits.") from None
    try:
        yield path
    finally:
        # leave no trace (a command refused for bad input must not leave folders behind); unlink while
        # still holding, so a process that opens the path afterwards gets a fresh file
        path.unlink(missing_ok=True)
        lock.release()
        for p in created:              # deepest first; only if still empty
            try:
                p.rmdir()
            except OSError:
                break


def locks_outdir(command: str, param: str = "outdir"):
    """Decorator for a Click command: hold the lock of its ``--outdir`` while it runs."""
    def decorate(fn):
        @functools.wraps(fn)
        def locked(*args, **kwargs):
            with hold(kwargs[param], command):
                return fn(*args, **kwargs)
        return locked
    return decorate
