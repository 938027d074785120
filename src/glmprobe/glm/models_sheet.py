"""The models sheet (CSV): one row per gLM -> :class:`glmprobe.glm.adapter.ModelSpec`.

Columns and their types are defined once, in ``assets/schema_models.json``; this module
converts CSV strings to those types, validates each row against the schema and reports
problems as ``<sheet> (line N): ...``. A relative ``source`` that names an existing path
resolves against the sheet's folder, so a sheet and its local models travel together.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from glmprobe.assets import asset_path
from glmprobe.errors import UserError
from glmprobe.glm.adapter import ModelSpec

_TRUE, _FALSE = {"true", "yes", "1", "y", "t"}, {"false", "no", "0", "n", "f", ""}


def _schema() -> dict:
    return json.loads(asset_path("schema_models.json").read_text())


def parse_layers(text: str) -> str | list[int]:
    """``all`` | ``last`` | ``"1;-1"`` -> "all" / "last" / [1, -1] (ValueError on anything else)."""
    text = str(text).strip().lower() or "last"
    if text in ("all", "last"):
        return text
    return [int(part) for part in text.replace(",", ";").split(";") if part.strip()]


def parse_pooling(text: str | list[str]) -> list[str]:
    parts = text if isinstance(text, list) else str(text).replace(",", ";").split(";")
    out = [p.strip().lower() for p in parts if p.strip()] or ["mean"]
    return list(dict.fromkeys(out))  # unique, order kept


def _convert(row: dict, props: dict, sheet: Path, line: int) -> dict:
    """CSV strings -> the schema's JSON types (so the schema can check them)."""
    out = {}
    for key, raw in row.items():
        if key is None:
            raise UserError("row has more fields than the header", path=sheet, where=f"line {line}",
                            hint="Quote values that contain commas")
        key = key.strip()
        value = (raw or "").strip()
        if value == "":
            continue  # empty cell = the default
        kind = props.get(key, {}).get("type")
        if kind == "boolean":
            if value.lower() not in _TRUE | _FALSE:
                raise UserError(f"column '{key}' must be true or false, got {value!r}", path=sheet, where=f"line {line}")
            out[key] = value.lower() in _TRUE
        elif kind == "integer":
            try:
                out[key] = int(value)
            except ValueError:
                raise UserError(f"column '{key}' must be an integer, got {value!r}", path=sheet,
                                where=f"line {line}") from None
        else:
            out[key] = value
    return out


def row_to_spec(row: dict, base: Path | None = None) -> ModelSpec:
    """A schema-valid row (JSON types) -> ModelSpec; relative local sources resolve against ``base``."""
    source = row["source"]
    if base is not None and source != "onehot" and not Path(source).is_absolute() and (base / source).exists():
        source = str((base / source).resolve())
    fields = {k: v for k, v in row.items() if k not in ("layers", "pooling", "source")}
    return ModelSpec(source=source, layers=parse_layers(row.get("layers", "last")),
                     pooling=parse_pooling(row.get("pooling", "mean")), **fields)


def read_models_sheet(path: str | os.PathLike) -> list[ModelSpec]:
    """Read and validate a models sheet; every problem names the sheet and its line."""
    import jsonschema

    path = Path(path)
    if not path.is_file():
        raise UserError("models sheet not found", path=path)
    schema = _schema()
    props = schema["items"]["properties"]
    validator = jsonschema.Draft202012Validator(schema["items"])
    from glmprobe.data.readers.base import guard, open_text

    with open_text(path) as fh, guard(path):  # same encoding/gzip handling as the datasets sheet
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        unknown = [h for h in header if h not in props]
        if unknown:
            raise UserError(f"unknown column(s) {', '.join(unknown)}", path=path, where="line 1",
                            hint=f"Known columns: {', '.join(props)}")
        missing = [c for c in schema["items"]["required"] if c not in header]
        if missing:
            raise UserError(f"missing column(s) {', '.join(missing)}", path=path, where="line 1")
        specs, seen = [], set()
        for row in reader:
            line = reader.line_num
            first = next(iter(row.values()), "") or ""
            if first.lstrip().startswith("#") or not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # comment or blank row
            data = _convert(row, props, path, line)
            errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
            if errors:
                err = errors[0]
                column = err.path[0] if err.path else None
                message = props.get(column, {}).get("errorMessage") if column else None
                raise UserError(message or err.message, path=path,
                                where=f"line {line}" + (f", column {column}" if column else ""))
            if data["id"] in seen:
                raise UserError(f"duplicate model id {data['id']!r}", path=path, where=f"line {line}")
            seen.add(data["id"])
            specs.append(row_to_spec(data, base=path.parent))
    if not specs:
        raise UserError("models sheet has no rows", path=path)
    return specs


def select_model(specs: list[ModelSpec], model_id: str | None, sheet: Path) -> ModelSpec:
    """Pick one row by id (or the only row)."""
    if model_id is None:
        if len(specs) == 1:
            return specs[0]
        raise UserError(f"the sheet lists {len(specs)} models; choose one with --model "
                        f"({', '.join(s.id for s in specs)})", path=sheet)
    for spec in specs:
        if spec.id == model_id:
            return spec
    raise UserError(f"no model with id {model_id!r}; the sheet lists {', '.join(s.id for s in specs)}", path=sheet)
