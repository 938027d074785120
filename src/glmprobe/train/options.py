"""Click options shared by every training command (``baseline``, ``probe``).

``@tuning_options`` adds the same flags to each command, and
:func:`tune_options_from` turns them into a :class:`TuneOptions`, so one-hot
baselines and probes are always tuned under the same budget (study bug §8.11).
The defaults are :class:`TuneOptions`' own (:data:`DEFAULTS`): the flags, ``glmprobe run``
(:func:`tune_options_from_params`) and nextflow_schema.json (checked in tests/core/test_defaults.py)
all read them from there.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from glmprobe.device import DEFAULT_DEVICE, DEVICES, resolve_device  # noqa: F401 (re-exported: the one rule)
from glmprobe.errors import UserError
from glmprobe.train.tune import PRUNERS, STUDY_PRESET, TuneOptions

DEFAULTS = TuneOptions()   # the one set of tuning defaults
# params-file (nextflow_schema.json) name -> TuneOptions field, for `glmprobe run` and the schema test
PARAM_FIELDS = {"trials": "trials", "tune_timeout": "timeout", "pruner": "pruner", "replicates": "replicates",
                "seed": "seed", "max_epochs": "max_epochs", "members": "members"}

_KEYS = ("trials", "timeout", "refit_timeout", "pruner", "replicates", "seed", "max_epochs", "members", "device",
         "fixed", "quiet")
_GIVEN = ("trials", "timeout", "refit_timeout", "pruner", "replicates", "seed", "max_epochs", "members")


def parse_fixed(value: str | None) -> dict | str | None:
    """``--fixed``: 'study', a JSON object, or a path to a JSON file."""
    if value is None or value == "":
        return None
    if value == STUDY_PRESET:
        return STUDY_PRESET
    source = "--fixed"
    text = value
    if not value.lstrip().startswith("{") and Path(value).is_file():
        source, text = value, Path(value).read_text()
    try:
        fixed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", path=source,
                        hint='Give a JSON object such as \'{"lr": 0.001, "batch_size": 128}\' or "study".') from None
    if not isinstance(fixed, dict):
        raise UserError("must be a JSON object of hyper-parameters", path=source,
                        hint='For example \'{"lr": 0.001, "batch_size": 128}\', or "study".')
    return fixed


def tuning_options(f):
    """Add --trials --timeout --refit-timeout --pruner --replicates --seed --max-epochs --members --device --fixed
    --quiet."""
    options = [
        click.option("--trials", type=click.IntRange(min=1), default=DEFAULTS.trials, show_default=True,
                     help="Optuna trials per model (the study's settings are always trial 0)."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULTS.timeout,
                     help="Wall-time budget of the search in seconds (on top of --trials): no trial starts "
                          "after it, and a running trial stops at the next epoch boundary that would pass it."),
        click.option("--refit-timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULTS.refit_timeout,
                     help="Wall-time budget in seconds for each replicate refit of the best configuration "
                          "(stopped at an epoch boundary, best weights kept). Default: --timeout, else none."),
        click.option("--pruner", type=click.Choice(PRUNERS), default=DEFAULTS.pruner, show_default=True,
                     help="Stop unpromising trials early on validation loss."),
        click.option("--replicates", type=click.IntRange(min=1), default=DEFAULTS.replicates, show_default=True,
                     help="Retrain the best configuration with seeds SEED, SEED+1, ..."),
        click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True,
                     help="Seed for the sampler, model initialisation and data order."),
        click.option("--max-epochs", type=click.IntRange(min=1), default=DEFAULTS.max_epochs, show_default=True,
                     help="Epoch cap per fit (early stopping usually ends sooner)."),
        click.option("--members", type=click.IntRange(min=1), default=DEFAULTS.members,
                     help="Train every fit as a deep ensemble of this many members (own seeds, an even share "
                          "of the budget each, predictions averaged). Default: each architecture's own "
                          "(dilres: 5, every other head and arch: 1)."),
        click.option("--device", type=click.Choice(DEVICES), default=DEFAULT_DEVICE, show_default=True,
                     help="Where to train; 'cuda' fails if no GPU is visible."),
        click.option("--fixed", default=None, metavar="JSON|study|FILE",
                     help="Skip the search: 'study' for the study's exact settings, or a JSON object "
                          "(or file) of hyper-parameters overriding them. One-hot baselines also take "
                          "the augmentations: rc (true/false), shift (bases) and mutate (per-base "
                          "substitution rate; dilres: true, 8, 0.05), e.g. '{\"mutate\": 0}'."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def tune_options_from(kwargs: dict) -> TuneOptions:
    """Pop the tuning flags out of a command's ``kwargs`` into a TuneOptions (device resolved)."""
    vals = {k: kwargs.pop(k) for k in _KEYS if k in kwargs}
    quiet = vals.pop("quiet", False)
    given = {k: vals[k] for k in _GIVEN if k in vals}
    return dataclasses.replace(DEFAULTS, **given, device=resolve_device(vals.get("device", DEFAULT_DEVICE)),
                               fixed=parse_fixed(vals.get("fixed")), progress=not quiet and sys.stderr.isatty())


def tune_options_from_params(params, *, progress: bool = False) -> TuneOptions:
    """TuneOptions from a params file (``glmprobe run``: one budget for every head and baseline);
    a param left out keeps the :data:`DEFAULTS` the flags have."""
    given = {f: params.get(name) for name, f in PARAM_FIELDS.items() if params.get(name) is not None}
    for f in ("trials", "replicates", "seed", "max_epochs", "members"):
        if f in given:
            given[f] = int(given[f])
    return dataclasses.replace(DEFAULTS, **given, device=resolve_device(params.get("device", DEFAULT_DEVICE)),
                               progress=progress)
