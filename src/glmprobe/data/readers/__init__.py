"""Input readers, one module per input format; :func:`open_reader` picks one for a sheet row."""

from __future__ import annotations

from glmprobe.data.readers.base import Chunk, Reader

FORMATS = ("fasta", "table", "bed", "lentimpra_h5", "lentimpra_folds_h5", "chip_h5", "eclip_h5", "insert_h5",
           "splicing_h5")


def open_reader(row, chunk_size: int = 65536) -> Reader:
    """The reader for ``row.format`` (opening it checks headers, keys and shapes)."""
    if row.format == "table":
        from glmprobe.data.readers.table import TableReader as cls
    elif row.format == "fasta":
        from glmprobe.data.readers.fasta import FastaReader as cls
    elif row.format == "bed":
        from glmprobe.data.readers.bed import BedReader as cls
    elif row.format in FORMATS:
        from glmprobe.data.readers.hdf5 import Hdf5Reader as cls
    else:
        raise row.error(f"unknown format {row.format!r}; use one of {', '.join(FORMATS)}", "format")
    return cls(row, chunk_size)


__all__ = ["Chunk", "Reader", "FORMATS", "open_reader"]
