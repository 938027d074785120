"""Input readers, one module per input format; :data:`FORMATS` maps a sheet row's ``format`` to its reader.

Every reader module registers the format name(s) it reads next to its class, with the facts
the rest of glmprobe reads from the registry instead of keeping its own list:

``help``
    one line saying what the format is (documentation and the datasets-sheet schema test);
``log1p`` (optional, default false)
    the study always trained this format's targets as log(y + 1), so the sheet's ``log1p``
    defaults to true for it (:mod:`glmprobe.data.sheet`).

``fasta``/``table``/``bed`` have a module each; the study's HDF5 layouts share
:class:`~glmprobe.data.readers.hdf5.Hdf5Reader` and register one name per layout. The
datasets-sheet schema's ``format`` enum lists exactly :data:`FORMATS` (tests/core/test_registries.py).
"""

from __future__ import annotations

from glmprobe.data.readers.base import Chunk, Reader
from glmprobe.registry import Registry

READER_MODULES = ("table", "fasta", "bed", "hdf5")
FORMATS = Registry("input format", where="datasets sheet",
                   modules=tuple(f"glmprobe.data.readers.{m}" for m in READER_MODULES))


def open_reader(row, chunk_size: int = 65536) -> Reader:
    """The reader for ``row.format`` (opening it checks headers, keys and shapes)."""
    cls = FORMATS.get(row.format, path=row.sheet, where=row.locate("format")).obj
    return cls(row, chunk_size)


__all__ = ["Chunk", "Reader", "FORMATS", "open_reader"]
