"""BED regions plus a reference genome (format ``bed``), fetched with pyfaidx.

Columns: BED3 (chrom, start, end) or BED6 (+ name, score, strand), followed by
label columns. A ``#chrom start end ...`` header names the columns; without one,
column 6 is taken as the strand when it holds +/-/., and everything after the BED
part is a label (``label`` or ``label_1``, ``label_2``, ...). Regions on ``-`` are
reverse-complemented; with ``width`` they are re-centred first. Coordinates are
0-based half-open, as in BED, and stored with the dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from glmprobe.data.onehot import reverse_complement
from glmprobe.data.readers import FORMATS
from glmprobe.data.readers.base import Chunk, Reader, check_file, guard, is_gzip, open_text
from glmprobe.errors import UserError

_BED6 = ["chrom", "start", "end", "name", "score", "strand"]


def _fields(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


@FORMATS.register("bed", help="BED regions with target columns, sequences fetched from a reference genome")
class BedReader(Reader):
    format = "bed"
    has_coords = True

    def __init__(self, row, chunk_size: int = 65536):
        super().__init__(row, chunk_size)
        self.path = check_file(row.path, "BED file")
        self.genome_path = check_file(row.genome, "reference genome")
        self.columns = self._layout()
        labels = [c for c in self.columns[3:] if c not in ("name", "score", "strand")]
        if row.target_cols:
            unknown = [c for c in row.target_cols if c not in labels]
            if unknown:
                raise row.error(f"target column(s) {', '.join(map(repr, unknown))} not among the BED label "
                                f"columns ({', '.join(labels) or 'none'})", "target_cols")
        split = row.split_col or ("split" if "split" in labels else None)
        if split and split not in labels:
            raise row.error(f"split column {split!r} not among the BED label columns", "split_col")
        self.split_col = split
        self.target_names = list(row.target_cols) if row.target_cols else [c for c in labels if c != split]
        if not self.target_names:
            raise UserError("BED file has no label columns after the region columns", path=self.path,
                            hint="Add one label column per target after chrom/start/end(/name/score/strand).")
        self.natural_split = "column" if split else None
        self._genome = None

    def sources(self) -> dict[str, Path]:
        return {"data": self.path, "genome": self.genome_path}

    # -- layout -------------------------------------------------------------
    def _data_lines(self) -> Iterator[tuple[int, str]]:
        with open_text(self.path) as fh, guard(self.path):
            for n, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if line.strip() and not line.startswith(("#", "track", "browser")):
                    yield n, line

    def _layout(self) -> list[str]:
        header = None
        with open_text(self.path) as fh, guard(self.path):
            for line in fh:
                fields = _fields(line.lstrip("#").strip()) if line.startswith("#") else []
                # a header names chrom/start/end; any other '#' line is a comment
                if len(fields) >= 3 and fields[0].lower() in ("chrom", "chr"):
                    header = fields
                    break
                if line.strip() and not line.startswith(("#", "track", "browser")):
                    break
        first = next(self._data_lines(), None)
        if first is None:
            raise UserError("BED file has no regions", path=self.path)
        n_first = len(_fields(first[1]))
        if header:
            if [h.lower() for h in header[:3]] not in (["chrom", "start", "end"], ["chr", "start", "end"]):
                raise UserError("BED header must start with chrom, start, end", path=self.path, where="header")
            return ["chrom"] + header[1:]
        if n_first < 3:
            raise UserError(f"{n_first} column(s); a BED line needs at least chrom, start, end", path=self.path,
                            where=f"line {first[0]}")
        n_bed = 6 if n_first >= 6 and _fields(first[1])[5] in ("+", "-", ".") else 3
        n_labels = n_first - n_bed
        labels = ["label"] if n_labels == 1 else [f"label_{i}" for i in range(1, n_labels + 1)]
        return _BED6[:n_bed] + labels

    # -- genome -------------------------------------------------------------
    def genome(self):
        if self._genome is None:
            import pyfaidx

            path = self.genome_path
            if is_gzip(path):
                with open(path, "rb") as fh:
                    bgzf = fh.read(16)[12:14] == b"BC"
                if not bgzf:
                    raise UserError("reference genome is gzip- but not bgzip-compressed", path=path,
                                    hint="Decompress it (gunzip) or recompress with `bgzip`.")
            try:
                self._genome = pyfaidx.Fasta(str(path), as_raw=True, sequence_always_upper=False,
                                             rebuild=False, build_index=True)
            except Exception as exc:  # pyfaidx raises many types for unreadable genomes
                raise UserError(f"cannot index the reference genome ({type(exc).__name__}: {exc})", path=path,
                                hint="It must be a FASTA file (plain or bgzip) in a writable folder "
                                     "(pyfaidx writes a .fai index beside it).") from None
        return self._genome

    # -- records ------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        cols = self.columns
        pos = {c: i for i, c in enumerate(cols)}
        target_idx = [pos[c] for c in self.target_names]
        split_idx = pos.get(self.split_col) if self.split_col else None
        self._name_idx, self._strand_idx = pos.get("name"), pos.get("strand")
        batch: list[tuple] = []
        for n, line in self._data_lines():
            batch.append(self._record(n, _fields(line), len(cols), target_idx, split_idx))
            if len(batch) == self.chunk_size:
                yield self._chunk(batch)
                batch = []
        if batch:
            yield self._chunk(batch)

    def _record(self, n: int, f: list[str], ncol: int, target_idx, split_idx) -> tuple:
        where = f"line {n}"
        if len(f) != ncol:
            raise UserError(f"{len(f)} columns, expected {ncol} ({', '.join(self.columns)})", path=self.path,
                            where=where, hint="Every BED line needs the same columns.")
        chrom = f[0]
        try:
            start, end = int(f[1]), int(f[2])
        except ValueError:
            raise UserError(f"start/end {f[1]!r}/{f[2]!r} are not integers", path=self.path, where=where) from None
        if start < 0 or start >= end:
            raise UserError(f"bad region {chrom}:{start}-{end} (need 0 <= start < end)", path=self.path, where=where,
                            hint="BED is 0-based half-open; check for swapped start and end.")
        strand = f[self._strand_idx] if self._strand_idx is not None else "+"
        if strand not in ("+", "-", "."):
            raise UserError(f"strand {strand!r} must be +, - or .", path=self.path, where=where)
        if self.row.width:
            centre = (start + end) // 2
            start = centre - self.row.width // 2
            end = start + self.row.width
        genome = self.genome()
        if chrom not in genome:
            known = list(genome.keys())
            raise UserError(f"chromosome {chrom!r} is not in the reference genome", path=self.path, where=where,
                            hint=f"Genome {self.genome_path.name} has {', '.join(known[:5])}"
                                 f"{' ...' if len(known) > 5 else ''}; check the assembly and chromosome names.")
        size = len(genome[chrom])
        if start < 0 or end > size:
            raise UserError(f"region {chrom}:{start}-{end} is outside the chromosome (length {size})"
                            + (f" after re-centring to width {self.row.width}" if self.row.width else ""),
                            path=self.path, where=where, hint="Drop or trim regions near chromosome ends.")
        seq = genome[chrom][start:end]
        if strand == "-":
            seq = reverse_complement(seq)
        name = f[self._name_idx] if self._name_idx is not None else ""
        rid = name if name and name != "." else f"{chrom}:{start}-{end}" + (f"({strand})" if strand != "." else "")
        return (rid, seq, [f[i] for i in target_idx], f[split_idx] if split_idx is not None else None,
                chrom, start, end, strand, n)

    def _chunk(self, batch: list[tuple]) -> Chunk:
        lines = [b[8] for b in batch]
        locate = (lambda i: f"line {lines[i]}")
        targets = np.empty((len(batch), len(self.target_names)), dtype=np.float64)
        for i, b in enumerate(batch):
            for j, v in enumerate(b[2]):
                try:
                    targets[i, j] = float(v) if v not in ("", "NA", "NaN", "nan", ".") else np.nan
                except ValueError:
                    raise UserError(f"label {self.target_names[j]!r}: {v!r} is not a number", path=self.path,
                                    where=locate(i)) from None
        return Chunk(ids=[b[0] for b in batch], sequences=[b[1] for b in batch], targets=targets, path=self.path,
                     locate=locate, split=[b[3] for b in batch] if self.split_col else None,
                     coords={"chrom": np.array([b[4] for b in batch], dtype=object),
                             "start": np.array([b[5] for b in batch], dtype=np.int64),
                             "end": np.array([b[6] for b in batch], dtype=np.int64),
                             "strand": np.array([b[7] for b in batch], dtype=object)})
