"""Progress bars: on a terminal only, never in logs, and other libraries' bars silenced."""

from __future__ import annotations

import os
import sys


def bar(total: int | None, desc: str, quiet: bool = False, unit: str = "seq"):
    """A tqdm bar on stderr, shown only when stderr is a terminal and ``quiet`` is off."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                disable=quiet or not sys.stderr.isatty())


def quiet_hf() -> None:
    """Silence transformers' own progress bars (weight loading), e.g. under --quiet or in logs."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
