"""Click options for the paths every step reads and writes, declared once.

``dataset_option`` is a required ``dataset.h5`` file; ``folder_option`` a required folder
(a model, a store, an output folder). Each step gives its own help text.
"""

from __future__ import annotations

from pathlib import Path

import click


def dataset_option(help: str):
    """``--dataset FILE`` (required): the canonical dataset.h5 a step reads."""
    return click.option("--dataset", required=True, type=click.Path(dir_okay=False, path_type=Path), help=help)


def folder_option(name: str, help: str):
    """A required folder option (``--model``, ``--store``, ``--outdir``...)."""
    return click.option(name, required=True, type=click.Path(file_okay=False, path_type=Path), help=help)
