"""A load generator for the streaming server: N WebSocket streams on loopback, each sending one
character every ``1 / rate_hz`` seconds, with optional misbehaving clients mixed in.

Latency is the client's round trip measured from the moment a message was *due* (not from when it
was sent), so a stream that falls behind its schedule counts its lateness too (no coordinated
omission). With ``bad_clients``, malformed and oversize messages, abrupt disconnects and idle
sessions run beside the good streams, and some good streams are replayed alone afterwards: their
outputs under load must equal their outputs alone.

Bounded by construction: loopback addresses only, at most :data:`MAX_STREAMS` streams, at most
:data:`MAX_SECONDS` seconds, every wait with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import numpy as np

from .._checks import InvalidValueError, boolean, in_range, non_negative_int, positive_int
from .server.config import is_loopback

MAX_STREAMS = 5000
MAX_SECONDS = 600.0
MAX_RATE_HZ = 100.0
REPLY_TIMEOUT_S = 10.0  # a reply later than this counts as an error
CONNECT_TIMEOUT_S = 30.0
VERIFIED_STREAMS = 20  # good streams replayed alone after a --bad-clients run
MALFORMED_MESSAGES = 100
MALFORMED = [
    "not json",
    '{"input": "a"',
    "[1, 2, 3]",
    '"just a string"',
    "{}",
    '{"input": "a", "reset": true}',
    '{"inptu": "a"}',
    '{"input": 42}',
    '{"input": ""}',
    '{"input": "\\u2603"}',
    '{"input_ids": [-1]}',
    '{"generate": -5}',
    '{"generate": 3, "temperature": "hot"}',
    '{"reset": "please"}',
]


@dataclass
class LoadConfig:
    """What ``rnnkit bench serve`` runs."""

    streams: int = 100  # concurrent good WebSocket sessions
    rate_hz: float = 10.0  # messages per second per stream (one character each)
    seconds: float = 10.0  # how long the streams send, after all have connected
    bad_clients: bool = False  # mix in malformed, oversize, vanishing and idle clients
    max_message_bytes: int = 65536  # the server's limit (oversize clients send twice that)
    idle_clients: int = 20  # with bad_clients: sessions that go silent (the server should evict them)
    vanishing_clients: int = 20  # with bad_clients: sessions that drop their TCP connection mid-stream

    def __post_init__(self) -> None:
        positive_int("streams", self.streams)
        if self.streams > MAX_STREAMS:
            raise InvalidValueError(f"streams must be <= {MAX_STREAMS} (a bounded load), got {self.streams}")
        in_range("rate_hz", self.rate_hz, 0, MAX_RATE_HZ, low_open=True)
        in_range("seconds", self.seconds, 0, MAX_SECONDS, low_open=True)
        boolean("bad_clients", self.bad_clients)
        positive_int("max_message_bytes", self.max_message_bytes)
        non_negative_int("idle_clients", self.idle_clients)
        non_negative_int("vanishing_clients", self.vanishing_clients)


def check_url(url: str) -> str:
    """``url`` if it is ``ws://`` to a loopback address (the generator never loads another machine)."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "ws" or not parts.hostname or parts.port is None:
        raise InvalidValueError(f"--url must look like ws://127.0.0.1:8000/stream, got {url!r}")
    if not is_loopback(parts.hostname):
        raise InvalidValueError(f"--url must point at this machine (127.0.0.1, ::1 or localhost), got {url!r}")
    return url


@dataclass
class Stream:
    """One good stream's record."""

    text: str
    verified: bool
    sent: List[str] = field(default_factory=list)
    outputs: List[dict] = field(default_factory=list)
    latencies: List[float] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    last: float = 0.0  # when its last reply arrived (perf_counter)


def _connect(url: str, **kwargs):
    from websockets.asyncio.client import connect

    return connect(url, open_timeout=CONNECT_TIMEOUT_S, close_timeout=2, max_size=None, compression=None, **kwargs)


async def _ask(ws, message: str) -> dict:
    await ws.send(message)
    return json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT_S))


async def _good_stream(url: str, s: Stream, start: float, period: float, end: float, ready: asyncio.Event) -> None:
    try:
        async with _connect(url) as ws:
            ready.set()
            k = 0
            while True:
                due = start + k * period
                if due >= end:
                    break
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                ch = s.text[k % len(s.text)]
                msg = {"input": ch, "logprobs": True} if s.verified else {"input": ch}
                reply = await _ask(ws, json.dumps(msg))
                s.last = time.perf_counter()
                s.latencies.append(s.last - due)
                if "error" in reply:
                    s.errors.append(f"{reply.get('code')}: {reply['error']}")
                    if reply.get("code") in ("full", "idle"):
                        return
                else:
                    s.sent.append(ch)
                    if s.verified:
                        s.outputs.append(reply["output"])
                k += 1
    except Exception as err:  # a refused, dropped or silent connection: an error of this stream
        s.errors.append(f"{type(err).__name__}: {err}"[:200])
    finally:
        ready.set()


async def _alone(url: str, s: Stream) -> List[dict]:
    """The same characters through a fresh session with nobody else sending."""
    out = []
    async with _connect(url) as ws:
        for ch in s.sent:
            reply = await _ask(ws, json.dumps({"input": ch, "logprobs": True}))
            out.append(reply["output"])
    return out


def _max_difference(a: List[dict], b: List[dict]) -> float:
    if len(a) != len(b) or any(x["next"] != y["next"] for x, y in zip(a, b)):
        return float("inf")
    if not a:
        return 0.0
    return float(np.abs(np.array([x["logprobs"] for x in a]) - np.array([y["logprobs"] for y in b])).max())


# ---- misbehaving clients ------------------------------------------------------------------------


async def _malformed_client(url: str, messages: List[str], spread: float, tally: Dict[str, int]) -> None:
    try:
        async with _connect(url) as ws:
            for m in messages:
                await asyncio.sleep(spread * random.random())
                reply = await _ask(ws, m)
                tally["malformed_answered" if reply.get("error") else "malformed_unanswered"] += 1
    except Exception:
        tally["malformed_client_failed"] += 1


async def _oversize_client(url: str, size: int, tally: Dict[str, int]) -> None:
    try:
        async with _connect(url) as ws:
            reply = await _ask(ws, json.dumps({"input": "a" * size}))
            tally["oversize_answered" if reply.get("code") == "too_big" else "oversize_unanswered"] += 1
            reply = await _ask(ws, json.dumps({"input": "a"}))  # the session goes on
            tally["oversize_then_ok" if "output" in reply else "oversize_then_broken"] += 1
    except Exception:
        tally["oversize_client_failed"] += 1


async def _vanishing_client(url: str, text: str, after: float, tally: Dict[str, int]) -> None:
    try:
        ws = await _connect(url)
        for ch in text[:5]:
            await _ask(ws, json.dumps({"input": ch}))
        await asyncio.sleep(after)
        await ws.send(json.dumps({"input": text[:30]}))  # a message in flight, then the TCP connection drops
        ws.transport.abort()
        tally["vanished"] += 1
    except Exception as err:
        tally[f"vanishing_client_failed_{type(err).__name__}"] += 1


async def _idle_client(url: str, wait: float, tally: Dict[str, int]) -> None:
    try:
        async with _connect(url) as ws:
            await _ask(ws, json.dumps({"input": "a"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), wait))  # only the eviction notice comes
            tally["idle_evicted" if reply.get("code") == "idle" else "idle_other_reply"] += 1
    except asyncio.TimeoutError:
        tally["idle_not_evicted"] += 1
    except Exception:
        tally["idle_client_failed"] += 1


def http_json(url: str, body: Optional[bytes] = None, timeout: float = REPLY_TIMEOUT_S) -> Tuple[int, dict]:
    """``(status, JSON reply)`` of a GET (or a POST of ``body``) to the server: the standard library's
    client, so the generator needs nothing beyond the server's own extra."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


async def _metrics(url: str) -> dict:
    return (await asyncio.to_thread(http_json, url))[1]


# ---- the run ------------------------------------------------------------------------------------


def startup_seconds(streams: int) -> float:
    """How long after the first connection the streams start sending (all connect first): a server's
    idle timeout must be longer, or it evicts the streams that wait."""
    return 0.5 + streams / 250.0


def _percentiles(latencies: List[float]) -> Dict[str, Optional[float]]:
    if not latencies:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ms = np.array(latencies) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50": round(p50, 2), "p95": round(p95, 2), "p99": round(p99, 2), "max": round(float(ms.max()), 2)}


async def run_load(
    url: str, text: str, config: LoadConfig, idle_timeout: Optional[float] = None, metrics_url: Optional[str] = None
) -> dict:
    """Drive the server at ``url`` (loopback) with ``config``'s streams; the measured figures.

    ``text``: what the streams send (stream i starts at a different offset, so no two streams send
    the same characters). ``idle_timeout``: the server's, when known (idle clients wait for it).
    ``metrics_url``: the server's /metrics, read when the load ends (before any replay)."""
    check_url(url)
    if not text:
        raise InvalidValueError("text must be non-empty: it is what the streams send")
    period = 1.0 / config.rate_hz
    rng = random.Random(0)
    verified = min(config.streams, VERIFIED_STREAMS) if config.bad_clients else 0
    streams = [
        Stream(text=(text[o:] + text[:o]), verified=i < verified)
        for i, o in enumerate(rng.randrange(len(text)) for _ in range(config.streams))
    ]
    load_before = os.getloadavg()
    # everyone connects first, in waves, then the clock starts; each stream has its own phase
    t0 = time.perf_counter() + startup_seconds(config.streams)
    end = t0 + config.seconds
    readies = [asyncio.Event() for _ in streams]
    tasks = []
    for i, s in enumerate(streams):
        phase = (i / config.streams) * period
        tasks.append(asyncio.ensure_future(_good_stream(url, s, t0 + phase, period, end, readies[i])))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    tally: Dict[str, int] = {}
    bad_tasks = []
    if config.bad_clients:
        from collections import Counter

        tally = Counter()
        per = 10
        messages = [MALFORMED[i % len(MALFORMED)] for i in range(MALFORMED_MESSAGES)]
        for j in range(0, MALFORMED_MESSAGES, per):
            bad_tasks.append(_malformed_client(url, messages[j : j + per], config.seconds / per, tally))
        for _ in range(10):
            bad_tasks.append(_oversize_client(url, 2 * config.max_message_bytes, tally))
        quiet = min(config.seconds, idle_timeout if idle_timeout is not None else config.seconds) / 2
        for j in range(config.vanishing_clients):  # they vanish before the server would evict them as idle
            bad_tasks.append(_vanishing_client(url, streams[j % len(streams)].text, quiet * rng.random(), tally))
        wait = (idle_timeout if idle_timeout is not None else config.seconds) + 5.0
        for _ in range(config.idle_clients):
            bad_tasks.append(_idle_client(url, wait, tally))
    bad = asyncio.ensure_future(asyncio.gather(*bad_tasks)) if bad_tasks else None
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    if bad is not None:
        await bad
    wall = time.perf_counter() - started
    load_after = os.getloadavg()
    server_metrics = await _metrics(metrics_url) if metrics_url else None  # before the replays below

    latencies = [x for s in streams for x in s.latencies]
    errors = [e for s in streams for e in s.errors]
    result = {
        "streams": config.streams,
        "rate_hz": config.rate_hz,
        "seconds": config.seconds,
        "replies": len(latencies),
        "expected_replies": int(round(config.streams * config.seconds * config.rate_hz)),
        # replies over the time they took: from the first due message to the last reply
        "steps_per_second": round(len(latencies) / max(max((s.last for s in streams), default=t0) - t0, 1e-9), 1),
        "latency_ms": _percentiles(latencies),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "wall_seconds": round(wall, 1),
    }
    if server_metrics is not None:
        result["server_metrics"] = server_metrics
    if config.bad_clients:
        diffs = []
        for s in streams[:verified]:
            diffs.append(_max_difference(s.outputs, await _alone(url, s)))
        result["bad_clients"] = dict(tally)
        result["verified_streams"] = verified
        result["verified_max_abs_logprob_difference"] = max(diffs) if diffs else None
    return result
