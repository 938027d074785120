"""The pipeline's thread helpers: order kept, memory bounded, every error re-raised in the caller."""

import threading
import time

import pytest

from glmprobe.glm.pipeline import Ahead, Behind


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_ahead_yields_everything_in_order(depth):
    assert list(Ahead(range(50), depth=depth)) == list(range(50))


def test_ahead_stays_bounded_and_reraises_the_producers_error():
    made = []

    def items():
        for i in range(100):
            made.append(i)
            if i == 5:
                raise ValueError("bad record 5")
            yield i

    it = Ahead(items(), depth=2)
    assert next(it) == 0
    time.sleep(0.2)
    assert len(made) <= 5  # at most depth (+ one being made) ahead of the consumer
    with pytest.raises(ValueError, match="bad record 5"):
        list(it)


def test_ahead_close_stops_the_producer():
    it = Ahead(iter(range(10**9)), depth=2)
    next(it)
    it.close()
    assert not any(t.name == "glmprobe-ahead" and t.is_alive() for t in threading.enumerate())


def test_behind_applies_in_order_and_reraises_at_submit_or_close():
    seen = []
    with Behind(seen.append, depth=2) as b:
        for i in range(20):
            b.submit(i)
    assert seen == list(range(20))

    def fail(x):
        if x == 3:
            raise OSError("disk full")
        seen.append(x)

    seen.clear()
    b = Behind(fail, depth=1)
    with pytest.raises(OSError, match="disk full"):
        for i in range(1000):
            b.submit(i)
            time.sleep(0.001)
        b.close()
    assert seen == [0, 1, 2]
