"""Tuning defaults live in one place (TuneOptions): the Click flags, `glmprobe run` and
nextflow_schema.json agree with them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from glmprobe.device import DEFAULT_DEVICE
from glmprobe.params import load_params
from glmprobe.runner import Context
from glmprobe.steps.baseline import baseline_command
from glmprobe.steps.probe import probe_command
from glmprobe.train.options import DEFAULTS, PARAM_FIELDS, tune_options_from
from glmprobe.train.tune import TuneOptions

ASSETS = Path(__file__).resolve().parents[2] / "src" / "glmprobe" / "assets"


def _schema_params() -> dict:
    schema = json.loads((ASSETS / "nextflow_schema.json").read_text())
    out = dict(schema.get("properties", {}))
    for group in (schema.get("$defs") or schema.get("definitions") or {}).values():
        out.update(group.get("properties", {}))
    return out


def test_defaults_are_the_tune_options_defaults():
    assert TuneOptions() == DEFAULTS
    assert (DEFAULTS.trials, DEFAULTS.pruner, DEFAULTS.replicates, DEFAULTS.seed, DEFAULTS.max_epochs,
            DEFAULTS.timeout) == (20, "median", 3, 0, 100, None)


def test_nextflow_schema_defaults_are_the_tune_options_defaults():
    params = _schema_params()
    for name, field in PARAM_FIELDS.items():
        assert params[name].get("default") == getattr(DEFAULTS, field), name   # absent default == None
    assert params["device"]["default"] == DEFAULT_DEVICE


@pytest.mark.parametrize("command", [probe_command, baseline_command], ids=["probe", "baseline"])
def test_click_flag_defaults_are_the_tune_options_defaults(command):
    flags = {p.name: p.default for p in command.params}
    for field in ("trials", "timeout", "refit_timeout", "pruner", "replicates", "seed", "max_epochs", "members"):
        assert flags[field] == getattr(DEFAULTS, field), field
    assert flags["device"] == DEFAULT_DEVICE
    kwargs = {**flags, "device": "cpu", "quiet": True}
    assert tune_options_from(kwargs) == dataclasses.replace(DEFAULTS, device="cpu")
    assert "trials" not in kwargs and "quiet" not in kwargs       # the tuning flags are popped


def test_runner_tune_options_fill_the_same_defaults(tmp_path):
    (tmp_path / "d.csv").write_text("id,format,path\nd,table,t.tsv\n")
    (tmp_path / "p.yaml").write_text("input: d.csv\ndevice: cpu\n")
    params = load_params(tmp_path / "p.yaml", {"outdir": tmp_path / "out"})
    ctx = Context(params=params, outdir=params.outdir, quiet=True)
    assert ctx.tune_options() == dataclasses.replace(DEFAULTS, device="cpu")
    (tmp_path / "p.yaml").write_text("input: d.csv\ndevice: cpu\ntrials: 4\ntune_timeout: 9.5\nmax_epochs: 7\n")
    params = load_params(tmp_path / "p.yaml", {"outdir": tmp_path / "out"})
    opts = Context(params=params, outdir=params.outdir, quiet=True).tune_options()
    assert opts == dataclasses.replace(DEFAULTS, device="cpu", trials=4, timeout=9.5, max_epochs=7)


def test_every_device_flag_has_the_one_default():
    """Every step that takes --device asks for DEFAULT_DEVICE when not told (one rule, glmprobe.device)."""
    import importlib

    from glmprobe.cli import COMMANDS

    seen = []
    for name, (target, _help) in COMMANDS.items():
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        for p in command.params:
            if p.name == "device":
                assert p.default == DEFAULT_DEVICE, name
                seen.append(name)
    assert {"embed", "probe", "baseline", "attribute", "variants"} <= set(seen), seen
