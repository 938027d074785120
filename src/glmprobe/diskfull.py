"""A full disk while an output is written: one line saying what to free and how to resume.

The error arrives as an ``OSError`` (ENOSPC, EDQUOT, or EFBIG under a file-size limit) from
Python's own writes, or as an h5py error whose message carries HDF5's C errno
(``errno = 28``, sometimes as a ``RuntimeError``). :func:`refuse_when_full` turns any of
them into a :class:`DiskFull` (a :class:`~glmprobe.errors.UserError`); every other error passes through.
Steps write into a hidden folder swapped in only when complete, so nothing half-written
reaches the final path either way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
from collections.abc import Callable, Iterator

from glmprobe.errors import UserError

FULL = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
        errno.EFBIG: "the file size limit was reached"}


def full_errno(exc: BaseException) -> int | None:
    """The errno of ``exc`` when it says the disk (or quota, or size limit) is full, else None."""
    code = getattr(exc, "errno", None)
    if code not in FULL:
        found = re.search(r"errno = (\d+)", str(exc))   # h5py: "... errno = 28, error message = ..."
        code = int(found.group(1)) if found else None
    return code if code in FULL else None


class DiskFull(UserError):
    """A full disk. HDF5 cannot close a file it cannot flush (h5py#914): every later attempt,
    down to interpreter teardown, fails again and may crash, so the CLI exits without one."""

    skip_teardown = True


def _quiet_unraisable(unraisable, _default=sys.unraisablehook) -> None:
    """Drop the same full-disk error that HDF5 raises again in each object's finaliser."""
    if unraisable.exc_value is None or full_errno(unraisable.exc_value) is None:
        _default(unraisable)


def _quiet_excepthook(kind, value, tb, _default=sys.excepthook) -> None:
    """The same, printed through ``sys.excepthook`` (h5py's finalisers print the full traceback first)."""
    if full_errno(value) is None:
        _default(kind, value, tb)


@contextlib.contextmanager
def refuse_when_full(path: str | os.PathLike, what: str, then: Callable[[], str]) -> Iterator[None]:
    """Re-raise a full-disk error in the block as a :class:`DiskFull` naming ``path``.

    ``then`` runs after the failure (it may clean up) and returns what a rerun does, e.g.
    ``"it resumes at row 400"``; it goes into the hint.
    """
    previous = sys.unraisablehook, sys.excepthook
    sys.unraisablehook, sys.excepthook = _quiet_unraisable, _quiet_excepthook
    try:
        yield
    except (OSError, RuntimeError) as exc:
        code = full_errno(exc)
        if code is None:
            raise
        previous = _quiet_unraisable, _quiet_excepthook    # the unclosable file's finalisers fail the same way
        raise DiskFull(f"the disk filled up while {what} was written ({FULL[code]})", path=path,
                       hint=f"Free space there (or give another --outdir) and rerun the same command: "
                            f"{then()}") from None
    finally:
        sys.unraisablehook, sys.excepthook = previous
