"""CSV/TSV tables (delimiter sniffed, gzip detected by content).

Format ``table``: one row per sequence with a sequence column, target columns
and optionally an id and a split column. The same parsing reads the labels table
of format ``fasta`` (:func:`load_labels`). Reading is chunked with pandas' C
parser, so a million-row table never sits in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from glmprobe.data.readers import FORMATS
from glmprobe.data.readers.base import Chunk, Reader, guard, open_text, sniff_delimiter
from glmprobe.errors import UserError

# Columns never taken as targets by default (coordinates and free text are not labels).
_NOT_TARGETS = {"chrom", "chr", "start", "end", "strand", "name", "description", "fold"}
_PEEK = 2000


@dataclass
class Columns:
    id: str | None          # None: ids are generated from the row number
    sequence: str | None    # None for a labels table
    targets: list[str]
    split: str | None


def read_header(path: Path) -> tuple[list[str], str]:
    with open_text(path) as fh, guard(path):
        first = fh.readline().rstrip("\r\n")
    if not first.strip():
        raise UserError("file has no header line", path=path, where="line 1",
                        hint="The first line must name the columns.")
    delim = sniff_delimiter(first)
    names = [c.strip().strip('"') for c in first.split(delim)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"duplicate column name(s) {', '.join(map(repr, dupes))}", path=path, where="line 1")
    return names, delim


def _numeric_share(values: pd.Series) -> float:
    present = values.dropna()
    if present.empty:
        return 0.0
    return float(pd.to_numeric(present, errors="coerce").notna().mean())


def resolve_columns(path: Path, names: list[str], delim: str, row, *, need_sequence: bool) -> Columns:
    """Apply the sheet options (or their defaults) to a header; errors name what is missing."""
    def need(col: str, what: str, option: str) -> str:
        if col not in names:
            raise UserError(f"header has no {what} column {col!r} (columns: {', '.join(names)})", path=path,
                            where="line 1", hint=f"Set '{option}' in the datasets sheet to the right column.")
        return col

    seq = need(row.sequence_col or "sequence", "sequence", "sequence_col") if need_sequence else None
    if row.id_col:
        id_col = need(row.id_col, "id", "id_col")
    elif "id" in names:
        id_col = "id"
    else:
        id_col = None if need_sequence else names[0]   # a labels table is keyed by its first column
    split = need(row.split_col, "split", "split_col") if row.split_col else ("split" if "split" in names else None)
    if row.target_cols:
        targets = [need(c, "target", "target_cols") for c in row.target_cols]
    else:
        used = {seq, id_col, split}
        candidates = [c for c in names if c not in used and c.lower() not in _NOT_TARGETS]
        head = next(iter_frames(path, delim, candidates, _PEEK), (None, 0))[0]
        if head is None:
            raise UserError("table has a header but no rows", path=path, hint="Add data rows.")
        # "numeric" = most present values parse; a stray typo later in the column is then an error, not a
        # silently dropped target.
        targets = [c for c in candidates if _numeric_share(head[c]) >= 0.5] if candidates else []
    if not targets:
        raise UserError("no numeric target columns found", path=path, where="line 1",
                        hint="Add label columns or name them with 'target_cols' in the datasets sheet.")
    return Columns(id_col, seq, targets, split)


def parse_targets(df: pd.DataFrame, cols: list[str], path: Path, line0: int) -> np.ndarray:
    """Target columns -> float64 (k, T); text that is not a number is an error naming line and column."""
    out = np.empty((len(df), len(cols)), dtype=np.float64)
    for j, c in enumerate(cols):
        raw = df[c]
        num = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(num.isna().to_numpy() & raw.notna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise UserError(f"column {c!r}: {raw.iloc[i]!r} is not a number", path=path, where=f"line {line0 + i}",
                            hint="Targets must be numbers; leave the cell empty (or NaN) for an unobserved value.")
        out[:, j] = num.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def iter_frames(path: Path, delim: str, usecols: list[str], chunk_size: int) -> Iterator[tuple[pd.DataFrame, int]]:
    """(frame, line number of its first row); blank lines are skipped but keep line numbers right."""
    with open_text(path) as fh, guard(path):
        try:
            # no usecols: with it pandas silently ignores lines with too many fields. dtype=object keeps
            # plain Python strings (2x faster here than the arrow-backed str dtype).
            frames = pd.read_csv(fh, sep=delim, dtype=object, chunksize=chunk_size, skip_blank_lines=False, engine="c")
            for df in frames:
                if df.empty:
                    continue
                line0 = int(df.index[0]) + 2
                blank = df.isna().all(axis=1).to_numpy()
                df = df[usecols].reset_index(drop=True)
                if blank.any():
                    keep = np.flatnonzero(~blank)
                    # line numbers of kept rows are no longer consecutive: process them one block at a time
                    for block in np.split(keep, np.flatnonzero(np.diff(keep) != 1) + 1):
                        if block.size:
                            yield df.iloc[block].reset_index(drop=True), line0 + int(block[0])
                else:
                    yield df, line0
        except pd.errors.ParserError as exc:
            raise UserError(f"cannot parse the table ({str(exc).strip()})", path=path,
                            hint="Every line needs as many fields as the header; check the delimiter and quotes."
                            ) from None


def _lines(line0: int):
    return lambda i: f"line {line0 + i}"


@FORMATS.register("table", help="CSV/TSV table: a sequence column, target columns, optional id and split columns")
class TableReader(Reader):
    format = "table"

    def __init__(self, row, chunk_size: int = 65536):
        super().__init__(row, chunk_size)
        self.path = row.path
        names, self.delim = read_header(self.path)
        self.cols = resolve_columns(self.path, names, self.delim, row, need_sequence=True)
        self.target_names = list(self.cols.targets)
        self.natural_split = "column" if self.cols.split else None

    def sources(self) -> dict[str, Path]:
        return {"data": self.path}

    def chunks(self) -> Iterator[Chunk]:
        c = self.cols
        use = [x for x in (c.id, c.sequence, c.split) if x] + c.targets
        for df, line0 in iter_frames(self.path, self.delim, list(dict.fromkeys(use)), self.chunk_size):
            locate = _lines(line0)
            seqs = df[c.sequence]
            missing = np.flatnonzero(seqs.isna().to_numpy())
            if missing.size:
                raise UserError(f"empty {c.sequence!r} cell", path=self.path, where=locate(int(missing[0])),
                                hint="Every row needs a sequence.")
            if c.id:
                ids = df[c.id]
                if ids.isna().any():
                    i = int(np.flatnonzero(ids.isna().to_numpy())[0])
                    raise UserError(f"empty {c.id!r} cell", path=self.path, where=locate(i), hint="Every row needs an id.")
                ids = ids.str.strip().tolist()
            else:
                ids = [f"{self.row.id}_{line0 + i - 2}" for i in range(len(df))]
            split = None
            if c.split:
                split = df[c.split].fillna("").str.strip().tolist()
            yield Chunk(ids=ids, sequences=seqs.str.strip().tolist(),
                        targets=parse_targets(df, c.targets, self.path, line0),
                        path=self.path, locate=locate, split=split)


@dataclass
class Labels:
    """A labels table held in memory, keyed by id (format ``fasta``)."""

    path: Path
    index: dict[str, int]
    targets: np.ndarray
    target_names: list[str]
    split: list[str] | None
    lines: np.ndarray


def load_labels(path: Path, row, chunk_size: int = 65536) -> Labels:
    names, delim = read_header(path)
    cols = resolve_columns(path, names, delim, row, need_sequence=False)
    use = list(dict.fromkeys([cols.id] + ([cols.split] if cols.split else []) + cols.targets))
    index: dict[str, int] = {}
    blocks, splits, lines = [], [], []
    for df, line0 in iter_frames(path, delim, use, chunk_size):
        ids = df[cols.id]
        for i, key in enumerate(ids.tolist()):
            if not isinstance(key, str) or not key.strip():
                raise UserError(f"empty {cols.id!r} cell", path=path, where=f"line {line0 + i}")
            key = key.strip()
            if key in index:
                raise UserError(f"duplicate id {key!r} (first on line {lines_at(lines, index[key])})", path=path,
                                where=f"line {line0 + i}", hint="Each id may appear once in the labels table.")
            index[key] = len(index)
        blocks.append(parse_targets(df, cols.targets, path, line0))
        lines.append(np.arange(line0, line0 + len(df)))
        if cols.split:
            splits.extend(df[cols.split].fillna("").str.strip().tolist())
    if not index:
        raise UserError("labels table has a header but no rows", path=path)
    return Labels(path, index, np.concatenate(blocks), list(cols.targets), splits if cols.split else None,
                  np.concatenate(lines))


def lines_at(blocks: list[np.ndarray], i: int) -> int:
    return int(np.concatenate(blocks)[i]) if blocks else i + 2
