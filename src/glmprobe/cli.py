"""The ``glmprobe`` command line: one thin Click command per pipeline step.

Commands are imported lazily so ``glmprobe --help`` and light steps do not pay
for torch/transformers/mlflow imports. Each command lives in the module that owns
its step and is registered in :data:`COMMANDS` as ``"module:function"``.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from glmprobe import __version__
from glmprobe.errors import UserError

# name -> (import path, one-line help shown by `glmprobe --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("glmprobe.data.synth:synth_command", "Write the synthetic benchmark with planted JASPAR motifs."),
    "prepare": ("glmprobe.steps.prepare:prepare_command", "Read datasets-sheet rows into canonical dataset.h5 files."),
    "embed": ("glmprobe.steps.embed:embed_command", "Embed a dataset with a gLM: several layers from one pass."),
    "pretrain": ("glmprobe.steps.pretrain:pretrain_command", "Pre-train a small masked-LM gLM (offline demo model)."),
    "probe": ("glmprobe.steps.probe:probe_command", "Fit Optuna-tuned probe heads on stored embeddings."),
    "baseline": ("glmprobe.steps.baseline:baseline_command", "Train Optuna-tuned one-hot models from scratch."),
    "attribute": ("glmprobe.steps.attribute:attribute_command",
                  "Nucleotide-level attribution maps, scored against planted sites and JASPAR motifs."),
    "variants": ("glmprobe.steps.variants:variants_command",
                 "Score variants zero-shot (gLM) or with a trained model; correlate with measured effects."),
    "plan": ("glmprobe.plan:plan_command", "Expand a params file into the list of tasks."),
    "run": ("glmprobe.runner:run_command", "Run a whole benchmark on one machine (no Nextflow)."),
    "track": ("glmprobe.tracking.mlflow_writer:track_command", "Log step records to MLflow (single writer)."),
    "report": ("glmprobe.report.build:report_command", "Write results.csv, figures and index.html."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        target, _ = COMMANDS[name]
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:  # step not available in this install
            reason = str(exc)   # `exc` is unbound once the except block ends

            @click.command(name, help=COMMANDS[name][1])
            def unavailable():
                raise UserError(f"command '{name}' is not available in this installation ({reason})")
            return unavailable

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="glmprobe")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """glmprobe: probe frozen gLM embeddings against one-hot baselines.

    Every step reads and writes explicit files and leaves a record.json beside
    its outputs. `glmprobe run PARAMS.yaml` runs a whole benchmark on one machine.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, prog_name="glmprobe", standalone_mode=False)
    except UserError as exc:
        click.echo(f"glmprobe: error: {exc}", err=True)
        if getattr(exc, "skip_teardown", False):    # glmprobe.diskfull: HDF5 may crash closing an unflushable file
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(2)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("glmprobe: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("glmprobe: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
