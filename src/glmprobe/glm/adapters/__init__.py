"""Family adapters. Importing this package registers every family in ADAPTERS.

Each family lives in its own module; add a new family by adding a module here
and importing it below.
"""

import importlib
import logging

_FAMILIES = ("onehot", "hf", "nt", "dnabert2", "hyenadna", "caduceus", "gpn", "gena", "dnabert")

for _name in _FAMILIES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # module not written yet / optional dependency missing
        if exc.name and exc.name.startswith(__name__):
            continue
        logging.getLogger(__name__).debug("family %s unavailable: %s", _name, exc)
