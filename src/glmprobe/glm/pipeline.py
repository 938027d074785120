"""Two thread helpers for the embedding pipeline: run a producer ahead, run a consumer behind.

Threads, not processes: the tokenizers (Rust), torch and memmap copies release the GIL, so
a thread overlaps them with the forward pass without pickling or copying the batches.
Both queues are bounded, so memory stays flat whatever N, and an exception raised in
either thread is re-raised in the caller (at the next item, or at ``close``), never lost.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_END = object()


class Ahead:
    """Iterate ``items`` in a background thread, at most ``depth`` items ahead of the consumer.

    ``depth=0`` runs the producer inline (no thread): the same items, in the same order.
    """

    def __init__(self, items: Iterable, depth: int = 2, name: str = "glmprobe-ahead"):
        self._inline = iter(items) if depth <= 0 else None
        self._finished = False
        if self._inline is None:
            self._q: queue.Queue = queue.Queue(maxsize=depth)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._fill, args=(items,), name=name, daemon=True)
            self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False  # the consumer closed early

    def _fill(self, items: Iterable) -> None:
        try:
            for item in items:
                if not self._put((True, item)):
                    return
            self._put((True, _END))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            self._put((False, exc))

    def __iter__(self) -> Iterator:
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        if self._inline is not None:
            return next(self._inline)
        ok, item = self._q.get()
        if not ok or item is _END:
            self.close()
            if not ok:
                raise item
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the producer (after the item it is working on) and wait for it."""
        self._finished = True
        if self._inline is None:
            self._stop.set()
            self._thread.join()

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Behind:
    """Apply ``fn`` to submitted items in order, in a background thread, at most ``depth`` queued.

    The first exception ``fn`` raises is re-raised by the next :meth:`submit` or by
    :meth:`close`; items after it are dropped (not applied). ``depth=0`` applies inline.
    """

    def __init__(self, fn: Callable[[Any], None], depth: int = 2, name: str = "glmprobe-behind"):
        self._fn = fn
        self._error: BaseException | None = None
        self._thread = None
        if depth > 0:
            self._q: queue.Queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._drain, name=name, daemon=True)
            self._thread.start()

    def _drain(self) -> None:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if self._error is None:
                try:
                    self._fn(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the submitting thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, item) -> None:
        self._raise()
        if self._thread is None:
            self._fn(item)
        else:
            self._q.put(item)

    def close(self) -> None:
        """Wait until every submitted item is applied; re-raise the first error."""
        if self._thread is not None and self._thread.is_alive():
            self._q.put(_END)
            self._thread.join()
        self._raise()

    def __enter__(self) -> Behind:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # already failing: finish the queued writes (each is a valid row range), keep the first error
            self.close()
        except BaseException:  # noqa: BLE001
            pass
