"""The streaming server's settings: limits and batching, each checked where it enters.

Every field is validated by :class:`ServerConfig` itself, so ``rnnkit serve`` refuses a bad value
with one line before it loads a model or binds a port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..._checks import InvalidTypeError, InvalidValueError, choice, describe, is_int, positive_float, positive_int

ENGINES = ("torch", "onnx")
MAX_GENERATE = 10_000  # tokens one {"generate": N} message may ask for: bounds the time one message holds a session
LOOPBACK_NAMES = ("localhost",)


@dataclass
class ServerConfig:
    """Limits and batching of :func:`~rnnkit.serving.server.create_app` (``rnnkit serve``'s options)."""

    max_sessions: int = 2000  # open WebSocket sessions; one more is refused with a reason (each holds O(1) state)
    idle_timeout: float = 300.0  # seconds without a message before a session is closed and its state freed
    max_message_bytes: int = 65536  # largest JSON message (WebSocket text frame or POST body) answered normally
    tick_ms: float = 5.0  # how long the first waiting step waits for others to share its model call
    max_batch: int = 256  # steps per model call at most; a full batch runs without waiting for the tick
    threads: int = 1  # torch threads of the one model worker; the event loop needs the other core
    engine: str = "torch"  # "onnx": steps run the exported step graph in onnxruntime (1.4-2.3x less CPU per call)

    def __post_init__(self) -> None:
        positive_int("max_sessions", self.max_sessions)
        positive_float("idle_timeout", self.idle_timeout)
        positive_int("max_message_bytes", self.max_message_bytes)
        if self.max_message_bytes < 64:
            raise InvalidValueError(
                f"max_message_bytes must be >= 64 (room for one JSON message), got {self.max_message_bytes}"
            )
        positive_float("tick_ms", self.tick_ms)
        if self.tick_ms > 1000:
            raise InvalidValueError(f"tick_ms must be <= 1000 (a tick delays every step), got {self.tick_ms!r}")
        positive_int("max_batch", self.max_batch)
        positive_int("threads", self.threads)
        choice("engine", self.engine, ENGINES)

    @property
    def tick_seconds(self) -> float:
        return self.tick_ms / 1000.0

    @property
    def frame_limit(self) -> int:
        """The WebSocket frame size at which the connection itself is closed (code 1009).

        Messages above ``max_message_bytes`` but below this are answered with an error and the
        session stays open; only a frame 16 times over the limit (at least 1 MiB) ends it, so an
        oversize message costs its sender the message, not the session, without letting a client
        make the server buffer gigabytes."""
        return max(16 * self.max_message_bytes, 1 << 20)


def check_port(port: object) -> int:
    """``port`` if it is an int in [0, 65535] (0: any free port)."""
    if not is_int(port):
        raise InvalidTypeError(f"port must be an int in [0, 65535], got {describe(port)}")
    if not 0 <= port <= 65535:
        raise InvalidValueError(f"port must be an int in [0, 65535] (0: any free port), got {port}")
    return int(port)


def check_host(host: object) -> str:
    """``host`` if it is an IP address or ``localhost`` (a name would be resolved at bind time)."""
    if not isinstance(host, str) or not host:
        raise InvalidValueError(f"host must be an IP address such as 127.0.0.1, got {describe(host)}")
    if host in LOOPBACK_NAMES:
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InvalidValueError(f"host must be an IP address such as 127.0.0.1 or 0.0.0.0, got {host!r}") from None
    return host


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
