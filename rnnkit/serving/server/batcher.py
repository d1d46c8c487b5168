"""Micro-batching: the steps of every connection gathered into one model call per tick.

A connection awaits :meth:`MicroBatcher.step` for its row. The first step that finds the queue
empty starts a tick: the batcher waits ``tick`` seconds (or until ``max_batch`` steps are queued,
whichever comes first), then runs all queued steps as **one** batched call of the session on the
single model worker thread, and hands each connection its own row of the result. While that call
runs, new steps queue up for the next one, so under load the model call itself is the batching
window and the tick adds nothing.

Each row appears at most once per call (a connection awaits its step before it sends the next),
and every call of the session -- steps, and the adding, resetting and removing of rows -- runs on
the one worker thread in the order it was asked for, so no two calls ever touch the state at the
same time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any, Callable, List, Optional, Tuple

from .metrics import Metrics

BatchStep = Callable[[List[int], List[Any]], List[Any]]  # (rows, one input per row) -> one output per row


class MicroBatcher:
    """Queue single steps, run them batched on one worker thread.

    Args:
        batch_step: runs one model call for ``rows`` with one input each and returns one result
            per row (called on the worker thread only).
        tick: seconds the first queued step waits for company.
        max_batch: the most steps per model call.
        metrics: receives each call's size and its steps' queue-to-result latencies.
        on_worker_start: called once on the worker thread before anything else (thread settings).
    """

    def __init__(
        self,
        batch_step: BatchStep,
        tick: float,
        max_batch: int,
        metrics: Metrics,
        on_worker_start: Optional[Callable[[], None]] = None,
    ) -> None:
        self.batch_step = batch_step
        self.tick = tick
        self.max_batch = max_batch
        self.metrics = metrics
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="rnnkit-model", initializer=on_worker_start
        )
        self._queue: List[Tuple[int, Any, asyncio.Future, float]] = []
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._task: Optional[asyncio.Task] = None

    # ---- life ------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rnnkit-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for _, _, fut, _ in self._queue:
            if not fut.done():
                fut.cancel()
        self._queue.clear()
        self.executor.shutdown(wait=True)

    # ---- what connections call -------------------------------------------------------------
    async def call(self, fn: Callable, *args) -> Any:
        """Run ``fn(*args)`` on the model worker, in order with the steps (for adding, resetting,
        removing rows, and one-shot requests)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def step(self, row: int, x: Any) -> Any:
        """The result of one step of ``row`` with input ``x``, computed in the next batched call."""
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((row, x, fut, time.perf_counter()))
        self._wake.set()
        if len(self._queue) >= self.max_batch:
            self._full.set()
        return await fut

    # ---- the loop --------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            waited = time.perf_counter() - self._queue[0][3]
            if len(self._queue) < self.max_batch and waited < self.tick:
                self._full.clear()
                try:
                    await asyncio.wait_for(self._full.wait(), self.tick - waited)
                except asyncio.TimeoutError:
                    pass
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            live = [item for item in batch if not item[2].done()]  # a cancelled waiter's step is dropped
            if not live:
                continue
            rows = [row for row, _, _, _ in live]
            xs = [x for _, x, _, _ in live]
            try:
                results = await loop.run_in_executor(self.executor, self.batch_step, rows, xs)
            except Exception as err:  # a bug in the model call: every waiter of this call gets it
                for _, _, fut, _ in live:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            now = time.perf_counter()
            self.metrics.batch(len(live), [now - t for _, _, _, t in live])
            for (_, _, fut, _), result in zip(live, results):
                if not fut.done():
                    fut.set_result(result)
