"""FASTA sequences plus a labels table keyed by id (format ``fasta``).

The record id is the first word of the header line. Every FASTA record needs a
row in the labels table and every labels row needs a record; both directions are
checked and the offending ids are named. The labels table is held in memory (it
is small next to the sequences); the FASTA file streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from glmprobe.data.readers import FORMATS
from glmprobe.data.readers.base import Chunk, Reader, check_file, guard, open_text
from glmprobe.data.readers.table import load_labels
from glmprobe.errors import UserError

_SHOW = 5


def _some(ids: list[str]) -> str:
    more = f" and {len(ids) - _SHOW} more" if len(ids) > _SHOW else ""
    return ", ".join(map(repr, ids[:_SHOW])) + more


def iter_fasta(path: Path) -> Iterator[tuple[str, str, int]]:
    """(id, sequence, header line number) for every record."""
    name, line_no, parts = None, 0, []
    with open_text(path) as fh, guard(path):
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    yield name, "".join(parts), line_no
                words = line[1:].split()
                if not words:
                    raise UserError("FASTA header without a name", path=path, where=f"line {n}",
                                    hint="Write '>name' before each sequence.")
                name, line_no, parts = words[0], n, []
            elif line and not line.startswith(";"):
                if name is None:
                    raise UserError("sequence before the first '>' header: not a FASTA file", path=path,
                                    where=f"line {n}", hint="Each record starts with a '>name' line.")
                parts.append(line)
    if name is None:
        raise UserError("no FASTA records ('>name' lines) found", path=path)
    yield name, "".join(parts), line_no


@FORMATS.register("fasta", help="FASTA sequences plus a labels table (CSV/TSV) keyed by record name")
class FastaReader(Reader):
    format = "fasta"

    def __init__(self, row, chunk_size: int = 65536):
        super().__init__(row, chunk_size)
        self.path = check_file(row.path, "FASTA file")
        self.labels = load_labels(check_file(row.labels, "labels table"), row, chunk_size)
        self.target_names = self.labels.target_names
        self.natural_split = "column" if self.labels.split is not None else None
        self.size_hint = len(self.labels.index)

    def sources(self) -> dict[str, Path]:
        return {"data": self.path, "labels": self.labels.path}

    def chunks(self) -> Iterator[Chunk]:
        lab = self.labels
        seen = np.zeros(len(lab.index), dtype=bool)
        missing: list[str] = []
        buf: list[tuple[str, str, int]] = []
        for rec in iter_fasta(self.path):
            i = lab.index.get(rec[0])
            if i is None:
                missing.append(rec[0])
                continue
            if seen[i]:
                raise UserError(f"duplicate record id {rec[0]!r}", path=self.path, where=f"line {rec[2]}",
                                hint="Each FASTA record needs a unique name.")
            seen[i] = True
            if missing:  # already doomed: keep scanning only to name every missing id
                continue
            buf.append(rec)
            if len(buf) == self.chunk_size:
                yield self._chunk(buf)
                buf = []
        if missing:
            raise UserError(f"{len(missing)} FASTA record(s) have no row in the labels table: {_some(missing)}",
                            path=self.path, hint=f"Add them to {lab.path.name} or remove them from the FASTA file.")
        if not seen.all():
            names = list(lab.index)
            extra = [names[i] for i in np.flatnonzero(~seen)[: _SHOW + 1]]
            raise UserError(f"{int((~seen).sum())} labels row(s) have no FASTA record: {_some(extra)}",
                            path=lab.path, hint=f"Remove them or add the sequences to {self.path.name}.")
        if buf:
            yield self._chunk(buf)

    def _chunk(self, buf: list[tuple[str, str, int]]) -> Chunk:
        lab = self.labels
        ids = [r[0] for r in buf]
        rows = np.fromiter((lab.index[i] for i in ids), dtype=np.int64, count=len(ids))
        lines = [r[2] for r in buf]
        return Chunk(ids=ids, sequences=[r[1] for r in buf], targets=lab.targets[rows], path=self.path,
                     locate=lambda i: f"record {ids[i]!r} (line {lines[i]})",
                     split=[lab.split[r] for r in rows] if lab.split is not None else None)
