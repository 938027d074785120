"""What every input reader yields, and the file helpers they share.

A reader turns one datasets-sheet row into a stream of :class:`Chunk` objects:
raw sequences (cleaned later, in one place), float targets and, when the input
carries them, split names, fold numbers or genome coordinates. ``chunks()`` can be
called more than once: ``prepare`` validates everything in a first pass and only
writes in a second one, so bad input never leaves a partial file.
"""

from __future__ import annotations

import abc
import codecs
import contextlib
import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from glmprobe.errors import UserError

if TYPE_CHECKING:
    from glmprobe.data.sheet import DatasetRow

GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass
class Chunk:
    """A block of consecutive input records."""

    ids: list[str]
    sequences: list[str]
    targets: np.ndarray                      # (k, T) float64, NaN = unobserved
    path: Path                               # the file that error messages name
    locate: Callable[[int], str]             # row in chunk -> "line 17" / "record 'x'"
    split: list[str] | None = None           # split names as written in the input
    fold: np.ndarray | None = None           # fold numbers (study fold files, or a fold column)
    coords: dict[str, np.ndarray] | None = None
    offsets: np.ndarray | None = None        # (k, T) logit baselines of the targets (splicing mean logit)

    def __len__(self) -> int:
        return len(self.ids)

    def error(self, i: int, message: str, hint: str | None = None) -> UserError:
        return UserError(message, path=self.path, where=self.locate(i), hint=hint)


class Reader(abc.ABC):
    """One input format. Subclasses set ``target_names`` etc. in ``__init__``."""

    format: ClassVar[str]
    target_names: list[str]
    segments: list[int] | None = None
    has_coords: bool = False
    natural_split: str | None = None   # "column" (split names in the input), "folds", or None
    size_hint: int | None = None       # number of records when cheap to know (progress bars)
    has_offsets: bool = False          # chunks carry target offsets (dataset.h5 /target_offsets)
    task: str | None = None            # the task the format fixes (None: given in the sheet or inferred)
    task_reason: str | None = None     # why, for the record

    def __init__(self, row: DatasetRow, chunk_size: int = 65536):
        self.row = row
        self.chunk_size = chunk_size

    @abc.abstractmethod
    def sources(self) -> dict[str, Path]:
        """Input files by role (``data``, ``labels``, ``genome``), hashed for provenance."""

    @abc.abstractmethod
    def chunks(self) -> Iterator[Chunk]:
        """Yield the records in input order (every call starts from the beginning)."""


def check_file(path: Path, what: str = "input file") -> Path:
    if not path.exists():
        raise UserError(f"{what} not found", path=path, hint="Check the path in the datasets sheet "
                        "(relative paths resolve against the sheet's folder).")
    if path.is_dir():
        raise UserError(f"{what} is a directory, not a file", path=path)
    if path.stat().st_size == 0:
        raise UserError(f"{what} is empty", path=path)
    return path


def is_gzip(path: Path) -> bool:
    """Detect gzip by its magic bytes, whatever the file is called."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_text(path: Path) -> io.TextIOBase:
    """Open a text input, transparently gunzipping it; refuse UTF-16 with a clear message."""
    check_file(path)
    raw = gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # noqa: SIM115 (returned, closed by the caller)
    with guard(path):
        head = raw.peek(4096)[:4096] if hasattr(raw, "peek") else b""
    if head.startswith(_UTF16_BOMS) or (head and b"\x00" in head):
        raw.close()
        raise UserError("file looks UTF-16 (or binary) encoded, glmprobe reads UTF-8 text", path=path,
                        hint="Save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`).")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


@contextlib.contextmanager
def guard(path: Path) -> Iterator[None]:
    """Turn low-level decoding failures while reading ``path`` into UserErrors."""
    try:
        yield
    except UserError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise UserError(f"compressed file is truncated or corrupt ({exc})", path=path,
                        hint="Re-download or re-compress it.") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"not UTF-8 text (byte {exc.start} of a block: {exc.reason})", path=path,
                        hint="Save it as UTF-8.") from None


def sniff_delimiter(header: str) -> str:
    """Tab, comma or semicolon: whichever the header line uses most (comma if none)."""
    counts = {d: header.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","
