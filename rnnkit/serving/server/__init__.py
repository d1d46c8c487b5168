"""The streaming server: one WebSocket per stream, steps micro-batched into one model call per tick.

``rnnkit serve DIR`` runs it; :func:`create_app` builds the ASGI app for a loaded model, and
:class:`ServerThread` runs it in the background of this process. Protocol: :mod:`.protocol`;
limits: :class:`ServerConfig`; guide: docs/server.md.
"""

from .app import create_app
from .config import ServerConfig
from .run import ServerThread, bind, serve

__all__ = ["create_app", "ServerConfig", "ServerThread", "bind", "serve"]
