"""The datasets sheet: one CSV/TSV row per dataset, validated against ``assets/schema_datasets.json``.

Rows become :class:`DatasetRow` objects with typed options and paths resolved
against the sheet's folder. Every problem names the sheet, the line and the column.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from glmprobe.assets import asset_path
from glmprobe.data.readers import FORMATS
from glmprobe.data.readers.base import check_file, guard, open_text, sniff_delimiter
from glmprobe.errors import UserError

SCHEMA_NAME = "schema_datasets.json"


@lru_cache(maxsize=1)
def _schema() -> dict:
    return json.loads(asset_path(SCHEMA_NAME).read_text())


@dataclass(frozen=True)
class DatasetRow:
    """One validated sheet row. ``options`` holds the row exactly as written (for the cache key)."""

    id: str
    format: str
    path: Path
    sheet: Path
    line: int
    labels: Path | None = None
    genome: Path | None = None
    id_col: str | None = None
    sequence_col: str | None = None
    target_cols: tuple[str, ...] | None = None
    split_col: str | None = None
    task: str | None = None
    split: str | None = None
    split_args: str | None = None
    seed: int = 0
    width: int | None = None
    length: int | None = None
    log1p: bool = False
    allow_single_class: bool = False
    description: str = ""
    options: dict = field(default_factory=dict)

    def locate(self, column: str | None = None) -> str:
        """``line N, dataset 'id'[, column 'c']``: where in the sheet this row (and column) is."""
        return f"line {self.line}, dataset {self.id!r}" + (f", column {column!r}" if column else "")

    def error(self, message: str, column: str | None = None, hint: str | None = None) -> UserError:
        return UserError(message, path=self.sheet, where=self.locate(column), hint=hint)


def _typed(value: str, spec: dict):
    """CSV cells are strings; cast the ones the schema types (bad casts stay strings for the validator)."""
    kind = spec.get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "boolean":
        return {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}.get(value.lower(), value)
    return value


def _message(err, row: dict) -> tuple[str, str | None, str]:
    """A schema error as (message, column, hint)."""
    hint = "See assets/schema_datasets.json."
    if err.validator == "required":
        col = err.message.split("'")[1]
        context = f" for format {row.get('format')!r}" if "allOf" in err.schema_path else ""
        return f"missing value in required column {col!r}{context}", col, hint
    if err.validator == "additionalProperties":
        extra = sorted(set(row) - set(_schema()["items"]["properties"]))
        return (f"unknown column(s) {', '.join(map(repr, extra))}; allowed: "
                f"{', '.join(_schema()['items']['properties'])}"), None, hint
    col = err.path[0] if err.path else None
    if err.validator == "enum":
        if col == "format":     # a misspelled reader name: the registry suggests the closest one
            hint = FORMATS.did_you_mean(err.instance) + hint
        return f"{err.instance!r} is not one of {', '.join(err.validator_value)}", col, hint
    if err.validator == "type":
        return f"{err.instance!r} is not a valid {err.validator_value}", col, hint
    if "errorMessage" in err.schema:
        return f"{err.instance!r}: {err.schema['errorMessage']}", col, hint
    return err.message, col, hint


def read_sheet(path: str | Path) -> list[DatasetRow]:
    """Parse and validate every row of a datasets sheet."""
    path = Path(path)
    props = _schema()["items"]["properties"]
    validator = Draft202012Validator(_schema()["items"])
    check_file(path, "datasets sheet")
    with open_text(path) as fh, guard(path):
        lines = fh.read().splitlines()
    body = [(n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]
    if not body:
        raise UserError("datasets sheet has no header line", path=path,
                        hint="The first line must name the columns, e.g. id,format,path.")
    header_line, header = body[0]
    delim = sniff_delimiter(header)
    names = [h.strip() for h in next(csv.reader([header], delimiter=delim))]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"duplicate column(s) {', '.join(dupes)}", path=path, where=f"line {header_line}")
    rows, seen = [], {}
    for n, line in body[1:]:
        cells = next(csv.reader([line], delimiter=delim))
        if len(cells) > len(names):
            raise UserError(f"{len(cells)} fields but the header has {len(names)}", path=path, where=f"line {n}",
                            hint=f"Check the delimiter ({delim!r}) and quoting.")
        raw = {k: v.strip() for k, v in zip(names, cells) if k and v.strip()}
        typed = {k: _typed(v, props.get(k, {})) for k, v in raw.items()}
        errors = sorted(validator.iter_errors(typed), key=lambda e: (list(e.path), e.validator))
        if errors:
            message, col, hint = _message(errors[0], typed)
            where = f"line {n}" + (f", column {col!r}" if col else "")
            raise UserError(message, path=path, where=where, hint=hint)
        if typed["id"] in seen:
            raise UserError(f"duplicate dataset id {typed['id']!r} (first on line {seen[typed['id']]})",
                            path=path, where=f"line {n}")
        seen[typed["id"]] = n
        rows.append(_row(path, n, typed))
    if not rows:
        raise UserError("datasets sheet has a header but no rows", path=path)
    return rows


def _row(sheet: Path, line: int, v: dict) -> DatasetRow:
    base = sheet.resolve().parent

    def resolve(key: str) -> Path | None:
        return (base / v[key]) if key in v else None

    targets = tuple(t.strip() for t in v["target_cols"].split(";") if t.strip()) if "target_cols" in v else None
    return DatasetRow(
        id=v["id"], format=v["format"], path=resolve("path"), sheet=sheet, line=line,
        labels=resolve("labels"), genome=resolve("genome"), id_col=v.get("id_col"),
        sequence_col=v.get("sequence_col"), target_cols=targets, split_col=v.get("split_col"),
        task=v.get("task"), split=v.get("split"), split_args=v.get("split_args"), seed=v.get("seed", 0),
        width=v.get("width"), length=v.get("length"), log1p=v.get("log1p", bool(FORMATS[v["format"]].meta.get("log1p"))),
        allow_single_class=v.get("allow_single_class", False),
        description=v.get("description", ""), options=dict(v))


def select_rows(rows: list[DatasetRow], ids: list[str] | None, sheet: Path) -> list[DatasetRow]:
    """The rows named by ``ids`` (all when None), in the order asked for."""
    if not ids:
        return rows
    by_id = {r.id: r for r in rows}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise UserError(f"dataset id(s) {', '.join(map(repr, missing))} not in the sheet", path=sheet,
                        hint=f"Known ids: {', '.join(by_id)}.")
    return [by_id[i] for i in dict.fromkeys(ids)]
