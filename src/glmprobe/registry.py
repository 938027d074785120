"""One registry idiom for everything glmprobe looks up by name.

Model families, probe heads, one-hot architectures, input formats, variant formats and losses
each keep one :class:`Registry`. An entry is registered once, next to its code, with the facts
other parts need (which poolings a head reads, which format defaults to log1p, ...), so the plan,
the CLI choices, the schema enums and the tests all read the same table::

    HEADS = Registry("probe head", where="--head")

    @HEADS.register("mlp", poolings=("cls", "mean"))
    def build(...): ...

An entry whose module cannot be imported (an optional dependency is missing) is recorded
with the reason, so asking for it says *why* it is unavailable instead of "unknown"; a
misspelled name gets "Did you mean ...".

The CLI's command table (``cli.COMMANDS``) stays a plain dict of import paths: registering a
command would mean importing its step module, which ``glmprobe --help`` must not pay for.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from glmprobe.errors import UserError


@dataclass(frozen=True)
class Entry:
    """A registered object (class, function or module) and the facts registered with it."""

    name: str
    obj: Any
    meta: dict = field(default_factory=dict)

    def __getattr__(self, item):  # entry.poolings reads meta["poolings"], else the object's own attribute
        if item.startswith("__"):     # copy/pickle probes: never forward dunders
            raise AttributeError(item)
        try:
            return self.meta[item]
        except KeyError:
            return getattr(self.obj, item)


class Registry:
    """Name -> :class:`Entry`, with clear errors for unknown and unavailable names."""

    def __init__(self, kind: str, *, where: str | None = None, modules: tuple[str, ...] = ()):
        self.kind, self.where = kind, where
        self._modules = modules            # imported on first lookup: each registers itself
        self._loaded = not modules
        self._entries: dict[str, Entry] = {}
        self._unavailable: dict[str, str] = {}

    # ------------------------------------------------------------------ registration
    def register(self, name: str, obj: Any = None, **meta) -> Callable:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator."""
        def add(target):
            if name in self._entries and self._entries[name].obj is not target:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, target, dict(meta))
            self._unavailable.pop(name, None)
            return target
        return add(obj) if obj is not None else add

    def mark_unavailable(self, name: str, reason: str) -> None:
        """Record that ``name`` exists but cannot be used here, and why."""
        if name not in self._entries:
            self._unavailable[name] = reason

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._modules:
            try:
                importlib.import_module(module)
            except ImportError as exc:     # an optional dependency: remember why
                self.mark_unavailable(module.rsplit(".", 1)[-1], f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ lookup
    def get(self, name: str, *, where: str | None = None, path: object | None = None) -> Entry:
        """The entry for ``name``; ``where`` (e.g. the sheet row asking) overrides the registry's,
        ``path`` names the file that asked (a sheet)."""
        self._load()
        if name in self._entries:
            return self._entries[name]
        where = where or self.where
        if name in self._unavailable:
            raise UserError(f"{self.kind} {name!r} is not available in this installation: "
                            f"{self._unavailable[name]}", path=path, where=where)
        raise UserError(f"unknown {self.kind} {name!r}", path=path, where=where,
                        hint=f"{self.did_you_mean(name)}Use one of: {', '.join(self.names())}.")

    def did_you_mean(self, name: str) -> str:
        """``"Did you mean 'x'? "`` for the registered name closest to ``name``, else ``""``."""
        close = difflib.get_close_matches(str(name), self.names(), n=1)
        return f"Did you mean {close[0]!r}? " if close else ""

    def __getitem__(self, name: str) -> Entry:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def unavailable(self) -> dict[str, str]:
        self._load()
        return dict(self._unavailable)

    def select(self, **meta) -> list[str]:
        """Names whose registered facts match ``meta`` (a value in a tuple fact counts as a match)."""
        def ok(entry: Entry, key: str, want) -> bool:
            have = entry.meta.get(key)
            return want in have if isinstance(have, (tuple, list, set, frozenset)) else have == want
        return [e.name for e in self.entries() if all(ok(e, k, v) for k, v in meta.items())]
