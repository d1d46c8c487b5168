"""The micro-batcher alone: results go back to the right caller, batches respect the cap, the tick
gathers concurrent steps, a failing call fails only its own waiters."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rnnkit.serving.server.batcher import MicroBatcher
from rnnkit.serving.server.metrics import Metrics


class Recorder:
    """A stand-in model call: the output of row r for input x is (r, x); records every call."""

    def __init__(self, fail_on=None):
        self.calls = []
        self.threads = set()
        self.fail_on = fail_on

    def __call__(self, rows, xs):
        self.threads.add(threading.get_ident())
        self.calls.append(list(rows))
        if self.fail_on is not None and self.fail_on in xs:
            raise RuntimeError("model call failed")
        return [(r, x) for r, x in zip(rows, xs)]


def with_batcher(record, tick=0.02, max_batch=8):
    async def go(body):
        batcher = MicroBatcher(record, tick, max_batch, Metrics())
        batcher.start()
        try:
            return await asyncio.wait_for(body(batcher), 20)
        finally:
            await batcher.stop()

    return go


def test_concurrent_steps_are_batched_under_the_cap_and_routed_back():
    record = Recorder()

    async def body(batcher):
        async def stream(row):
            return [await batcher.step(row, (row, k)) for k in range(5)]

        return await asyncio.gather(*(stream(r) for r in range(30)))

    results = asyncio.run(with_batcher(record)(body))
    for row, got in enumerate(results):
        assert got == [(row, (row, k)) for k in range(5)]  # each caller gets its own row's output, in order
    assert max(len(c) for c in record.calls) <= 8
    assert all(len(set(c)) == len(c) for c in record.calls)  # a row at most once per call
    assert len(record.calls) < 150 / 2  # gathered, not one call per step
    assert len(record.threads) == 1 and threading.get_ident() not in record.threads  # one worker, not the loop


def test_a_lone_step_waits_at_most_about_one_tick():
    record = Recorder()

    async def body(batcher):
        loop = asyncio.get_running_loop()
        t = loop.time()
        await batcher.step(0, "x")
        return loop.time() - t

    waited = asyncio.run(with_batcher(record, tick=0.05)(body))
    assert 0.04 <= waited < 2.0 and record.calls == [[0]]


def test_a_failing_call_fails_its_own_waiters_and_the_next_call_runs():
    record = Recorder(fail_on="boom")

    async def body(batcher):
        bad = asyncio.gather(batcher.step(0, "boom"), batcher.step(1, "ok"), return_exceptions=True)
        first = await bad
        later = await batcher.step(2, "fine")
        return first, later

    (a, b), later = asyncio.run(with_batcher(record)(body))
    assert isinstance(a, RuntimeError) and isinstance(b, RuntimeError)
    assert later == (2, "fine")


def test_calls_run_in_order_with_the_steps():
    record = Recorder()
    order = []

    async def body(batcher):
        step = asyncio.ensure_future(batcher.step(0, "a"))
        await asyncio.sleep(0)
        await batcher.call(order.append, "added")
        await step
        await batcher.call(order.append, "after")
        return order

    assert asyncio.run(with_batcher(record)(body)) == ["added", "after"]


@pytest.mark.parametrize("max_batch", [1, 3])
def test_a_full_batch_does_not_wait_for_the_tick(max_batch):
    record = Recorder()

    async def body(batcher):
        loop = asyncio.get_running_loop()
        t = loop.time()
        await asyncio.gather(*(batcher.step(r, r) for r in range(max_batch)))
        return loop.time() - t

    waited = asyncio.run(with_batcher(record, tick=5.0, max_batch=max_batch)(body))
    assert waited < 4.0  # far less than the 5-s tick
