"""What ``/metrics`` reports: sessions, steps per second and step latency over a recent window.

Step latency is measured inside the server, from the moment a step is queued to the moment its
result is ready (the wait for the tick plus the batched model call); a client's round trip adds
the network and JSON on both sides (``rnnkit bench serve`` measures that one).
"""

from __future__ import annotations

import collections
import time
from typing import Deque, Dict, Tuple

import numpy as np

WINDOW_S = 10.0  # steps/s and latency percentiles cover the last this many seconds
KEPT_LATENCIES = 20_000  # at most this many recent step latencies are kept for the percentiles


class Metrics:
    """Counters and recent windows; every method runs on the event loop (no locks needed)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.counters: Dict[str, int] = collections.Counter()
        self.sessions_open = 0
        self._latencies: Deque[Tuple[float, float]] = collections.deque(maxlen=KEPT_LATENCIES)  # (t, seconds)
        self._batches: Deque[Tuple[float, int]] = collections.deque()  # (t, steps in the model call)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def batch(self, size: int, latencies) -> None:
        """A model call of ``size`` steps finished; ``latencies`` are its steps' queue-to-result times."""
        now = time.monotonic()
        self._batches.append((now, size))
        self._latencies.extend((now, lat) for lat in latencies)
        self.counters["steps"] += size
        self.counters["model_calls"] += 1
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._batches and self._batches[0][0] < now - WINDOW_S:
            self._batches.popleft()
        while self._latencies and self._latencies[0][0] < now - WINDOW_S:
            self._latencies.popleft()

    def snapshot(self) -> dict:
        now = time.monotonic()
        self._trim(now)
        span = min(WINDOW_S, max(now - self.started, 1e-9))
        steps = sum(n for _, n in self._batches)
        lat = np.array([x for _, x in self._latencies]) * 1000.0
        pct = (
            {f"p{q}": round(float(v), 3) for q, v in zip((50, 95, 99), np.percentile(lat, [50, 95, 99]))}
            if lat.size
            else {"p50": None, "p95": None, "p99": None}
        )
        c = self.counters
        return {
            "sessions_open": self.sessions_open,
            "sessions_total": c["sessions"],
            "steps_total": c["steps"],
            "steps_per_second": round(steps / span, 1),
            "mean_batch": round(steps / len(self._batches), 2) if self._batches else None,
            "step_latency_ms": pct,
            "window_s": WINDOW_S,
            "model_calls_total": c["model_calls"],
            "refused_full": c["refused_full"],
            "evicted_idle": c["evicted_idle"],
            "client_errors": c["client_errors"],
            "internal_errors": c["internal_errors"],
            "predict_requests": c["predict"],
            "uptime_s": round(now - self.started, 1),
        }
