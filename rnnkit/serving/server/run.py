"""Running the server: bind first (a taken port is one clear error), then hand the socket to uvicorn.

:func:`serve` blocks until Ctrl-C (``rnnkit serve``); :class:`ServerThread` runs the same server
in a background thread of this process and stops it on exit (tests, notebooks).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Optional

from ..._checks import InvalidValueError, MissingOptionalDependency
from .config import ServerConfig, check_host, check_port

STARTUP_TIMEOUT_S = 60.0
GRACEFUL_SHUTDOWN_S = 3  # open sessions are told the server is going away, then closed


def import_server_packages():
    """FastAPI and uvicorn, or a clear error naming the extra that brings them."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
        import websockets  # noqa: F401
    except ImportError as err:
        raise MissingOptionalDependency(
            f"the streaming server needs FastAPI, uvicorn and websockets ({err.name} is missing): "
            f"pip install 'rnnkit[serve]'"
        ) from None
    return uvicorn


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; a port in use or a foreign address is an OSError
    naming it (the CLI prints it as one line)."""
    host, port = check_host(host), check_port(port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _uvicorn_server(app, config: ServerConfig, log_level: str):
    uvicorn = import_server_packages()
    settings = uvicorn.Config(
        app,
        log_level=log_level,
        ws_max_size=config.frame_limit,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        backlog=2048,
        lifespan="on",
    )
    return uvicorn.Server(settings)


def serve(app, sock: socket.socket, config: ServerConfig, log_level: str = "warning") -> None:
    """Serve ``app`` on the bound ``sock`` until interrupted."""
    _uvicorn_server(app, config, log_level).run(sockets=[sock])


class ServerThread:
    """``with ServerThread(app) as s: ... s.ws_url ...``: the server on a free loopback port, in a
    background thread, ready when the ``with`` body starts and stopped when it ends. ``config``
    (default: the one ``app`` was created with) sets uvicorn's frame limit."""

    def __init__(self, app, config: Optional[ServerConfig] = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app  # app.state.server: the sessions, batcher and metrics behind the routes
        own = getattr(getattr(getattr(app, "state", None), "server", None), "config", None)  # create_app's
        self.config = config if config is not None else own if own is not None else ServerConfig()
        self.sock = bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.server = _uvicorn_server(app, self.config, "warning")
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stream"

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise InvalidValueError("the server did not start (see its log above)")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=GRACEFUL_SHUTDOWN_S + 10)
        self.sock.close()

    def __exit__(self, *exc) -> None:
        self.stop()
