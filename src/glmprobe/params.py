"""The params file: load the YAML, validate it against ``nextflow_schema.json``, fill defaults.

One file serves ``glmprobe run`` and ``nextflow run . -params-file``. Like nf-schema we
validate with JSON Schema draft 2020-12 (nf-schema's own keywords such as ``format``,
``exists``, ``mimetype`` and ``fa_icon`` are tolerated; ``exists`` is checked here),
warn about unknown params, and take defaults from the schema. Relative paths are
resolved against the params file's folder, so a params file and its sheets travel together.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from glmprobe.assets import asset_path
from glmprobe.errors import UserError

log = logging.getLogger(__name__)

PATH_FORMATS = {"file-path", "directory-path", "path"}
PATH_KEYS = {"input", "models", "outdir"}          # paths even if an older schema lacks "format"
LIST_KEYS = ("datasets", "heads", "baselines")     # comma-separated strings (docs/CONTRACTS.md)
# Runner params; the schema declares them too (these are fallbacks for an older schema).
RUNNER_DEFAULTS = {"synth": False, "synth_small": False, "pretrain": False, "pretrain_steps": None,
                   "pretrain_dataset": None}
SYNTH_SHEET = Path("synth") / "datasets.csv"       # where `synth: true` writes the benchmark, under outdir


@dataclass
class Params:
    """Validated params: ``values`` has defaults filled in and absolute paths."""

    values: dict
    path: Path | None = None
    unknown: list[str] = field(default_factory=list)

    def __getitem__(self, key: str):
        return self.values[key]

    def get(self, key: str, default=None):
        value = self.values.get(key)
        return default if value is None else value

    def list(self, key: str) -> list[str]:
        """A comma-separated param as a list (``"linear,mlp"`` -> ``["linear", "mlp"]``)."""
        value = self.values.get(key)
        if value in (None, ""):
            return []
        return [part.strip() for part in str(value).split(",") if part.strip()]

    @property
    def outdir(self) -> Path:
        return Path(self.values["outdir"])


def schema_properties(schema: dict) -> dict:
    """Every param's schema, from the nf-schema ``$defs`` groups and top-level ``properties``."""
    props = dict(schema.get("properties", {}))
    for group in schema.get("$defs", schema.get("definitions", {})).values():
        props.update(group.get("properties", {}))
    return props


def load_schema(path: str | os.PathLike | None = None) -> dict:
    import json

    path = Path(path) if path else asset_path("nextflow_schema.json")
    if not path.is_file():
        raise UserError("params schema not found in this installation", path=path,
                        hint="Reinstall glmprobe (pip install -e .)")
    return json.loads(path.read_text())


def _read_yaml(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise UserError("params file not found", path=path, hint="Pass a YAML file, e.g. conf/demo.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise UserError(f"not valid YAML ({getattr(exc, 'problem', exc)})", path=path, where=where) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError("must be a YAML mapping of param: value", path=path, where="line 1")
    return data


def _line_of(path: Path | None, key: str) -> str:
    """'line N' of ``key:`` in the params file, for error messages."""
    if path is None or not path.is_file():
        return f"param '{key}'"
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.split(":", 1)[0].strip() == key:
            return f"line {i}, param '{key}'"
    return f"param '{key}'"


def _resolve(value: str, base: Path) -> str:
    if "://" in value:        # URIs (s3://, http://) are left alone
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def validate(values: dict, schema: dict, path: Path | None = None) -> None:
    """Raise a UserError naming the param (and its line) for the first schema violation."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(values), key=lambda e: (list(e.path), e.message))
    if not errors:
        return
    err = errors[0]
    props = schema_properties(schema)
    if err.validator == "required":
        key = err.message.split("'")[1] if "'" in err.message else "?"
        raise UserError(f"required param '{key}' is missing", path=path,
                        hint=props.get(key, {}).get("description", ""))
    key = str(err.path[0]) if err.path else "?"
    spec = props.get(key, {})
    message = spec.get("errorMessage") or err.message
    hint = spec.get("description", "")
    if key in LIST_KEYS and isinstance(values.get(key), list):
        message = f"'{key}' must be a comma-separated string, not a YAML list"
        hint = f"Write it as {key}: {','.join(map(str, values[key]))}"
    elif "enum" in spec:
        hint = f"Choose one of: {', '.join(map(str, spec['enum']))}"
    raise UserError(message, path=path, where=_line_of(path, key), hint=hint)


def load_params(path: str | os.PathLike | None, overrides: dict | None = None, *,
                schema_path: str | os.PathLike | None = None, cwd: str | os.PathLike | None = None) -> Params:
    """Read, resolve, default and validate a params file.

    ``overrides`` (e.g. ``--outdir`` from the command line) win over the file; their
    relative paths resolve against ``cwd`` (default: the current directory), the file's
    against the file's folder.
    """
    schema = load_schema(schema_path)
    props = schema_properties(schema)
    path = Path(path) if path is not None else None
    raw = _read_yaml(path) if path is not None else {}
    base = path.resolve().parent if path is not None else Path.cwd()
    cwd = Path(cwd) if cwd else Path.cwd()
    path_keys = PATH_KEYS | {k for k, p in props.items() if p.get("format") in PATH_FORMATS}

    values = {k: v for k, v in raw.items()}
    for k, v in list(values.items()):
        if k in path_keys and isinstance(v, str) and v:
            values[k] = _resolve(v, base)
    for k, v in (overrides or {}).items():
        if v is not None:
            values[k] = _resolve(str(v), cwd) if k in path_keys and isinstance(v, (str, os.PathLike)) else v
    given = set(values)
    for k, p in props.items():
        if k not in values and "default" in p:
            values[k] = p["default"]
    for k, v in RUNNER_DEFAULTS.items():
        values.setdefault(k, v)
    values["outdir"] = _resolve(str(values.get("outdir") or "results"), base if "outdir" in raw else cwd)

    if values.get("synth") and "input" in given:
        raise UserError("set either 'input' (a datasets sheet) or 'synth: true', not both", path=path,
                        where=_line_of(path, "input"))
    validate({k: v for k, v in values.items() if v is not None}, schema, path)
    if values.get("synth"):
        values["input"] = str(Path(values["outdir"]) / SYNTH_SHEET)   # written by the synth task
    for k in sorted(given):
        if props.get(k, {}).get("exists") and isinstance(values[k], str) and not Path(values[k]).exists():
            raise UserError(f"file not found: {values[k]}", path=path, where=_line_of(path, k),
                            hint="Paths are relative to the params file's folder")
    unknown = sorted(k for k in raw if k not in props and k not in RUNNER_DEFAULTS)
    for k in unknown:
        log.warning("%s: unknown param '%s' (not in nextflow_schema.json) is ignored", path, k)
    return Params(values=values, path=path, unknown=unknown)
