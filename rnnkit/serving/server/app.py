"""The ASGI application: ``/stream`` (one WebSocket = one session row), ``/predict``, ``/health``, ``/metrics``.

Each WebSocket connection owns one row of one shared :class:`~rnnkit.serving.session.StreamSession`:
its state is its own from the first message to the last (a new connection starts from the model's
start state, a row is freed when its connection ends), and the rows of all connections are
stepped together by the :class:`~.batcher.MicroBatcher`. A connection handles its messages in
order; an error in one message is answered on that connection and changes no state.

Limits (see :class:`~.config.ServerConfig`): a message over ``max_message_bytes`` is answered with
an error (a frame 16 times over closes the socket with 1009); a connection beyond
``max_sessions`` is told the server is full and closed with 1013; a session silent for
``idle_timeout`` seconds is told so and closed with 4408.
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations (WebSocket, Request), imported lazily

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from ..session import stream
from .batcher import MicroBatcher
from .config import ServerConfig
from .kinds import endpoint_for
from .metrics import Metrics
from .protocol import (
    CLOSE_IDLE,
    CLOSE_INTERNAL,
    CLOSE_NORMAL,
    CLOSE_TRY_AGAIN_LATER,
    FULL,
    IDLE,
    INTERNAL,
    TOO_BIG,
    ClientError,
    decode_message,
    encode,
)

log = logging.getLogger("rnnkit.serve")


class Disconnected(Exception):
    """The client went away (closed, vanished, or was closed by the server)."""


class Connection:
    """One WebSocket session: its row, its step count, its last output."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.row: Optional[int] = None
        self.steps = 0
        self.last = None  # the last step's result: what generation continues from
        self.tail = ""  # the end of the text fed so far (where generated text joins it)
        self.seen = time.monotonic()
        self.busy = False
        self.closing = False

    async def send(self, reply: Dict[str, Any]) -> None:
        if self.closing:
            raise Disconnected()
        try:
            await self.ws.send_text(encode(reply))
        except (OSError, RuntimeError) as err:  # the peer is gone (uvicorn) or the socket closed (starlette)
            raise Disconnected() from err
        except Exception as err:
            if type(err).__name__ in ("WebSocketDisconnect", "ConnectionClosed", "ClientDisconnected"):
                raise Disconnected() from err
            raise

    async def close(self, code: int, reason: str = "") -> None:
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(Exception):  # already gone: nothing to close
            await self.ws.close(code=code, reason=reason[:120])


class Server:
    """The shared state behind the routes: the model's session, its batcher, the connections."""

    def __init__(self, model, config: ServerConfig) -> None:
        self.config = config
        self.endpoint = endpoint_for(model)
        self._graph_dir: Optional[tempfile.TemporaryDirectory] = None
        if config.engine == "onnx":  # the session's bookkeeping in torch, its steps in onnxruntime
            from ..session import StreamSession
            from .onnx_step import OnnxStep

            self._graph_dir = tempfile.TemporaryDirectory(prefix="rnnkit-serve-")
            adapter = OnnxStep(model, Path(self._graph_dir.name) / "step.onnx")
            self.session = StreamSession(adapter, 0)
        else:
            self.session = stream(model, batch_size=0)
        self.metrics = Metrics()
        self.connections: Dict[int, Connection] = {}
        self.ready = False
        self.batcher: Optional[MicroBatcher] = None
        self.oneshot: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._reaper: Optional[asyncio.Task] = None

    # ---- life --------------------------------------------------------------------------------
    async def start(self) -> None:
        threads = self.config.threads
        self.batcher = MicroBatcher(
            lambda rows, xs: self.endpoint.batch_step(self.session, rows, xs),
            self.config.tick_seconds,
            self.config.max_batch,
            self.metrics,
            on_worker_start=lambda: torch.set_num_threads(threads),
        )
        self.batcher.start()
        self.oneshot = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-predict")
        await self._warm_up()
        self._reaper = asyncio.get_running_loop().create_task(self._evict_idle(), name="rnnkit-idle-reaper")
        self.ready = True

    async def _warm_up(self) -> None:
        """One step of a throwaway row, so the first client does not pay for the first call."""
        rows = await self.batcher.call(self.session.add, 1)
        try:
            await self.batcher.call(self.endpoint.batch_step, self.session, rows, [0])
        finally:
            await self.batcher.call(self.session.remove, rows)

    async def stop(self) -> None:
        self.ready = False
        if self._reaper is not None:
            self._reaper.cancel()
        for conn in list(self.connections.values()):
            await conn.close(1001, "server shutting down")
        if self.batcher is not None:
            await self.batcher.stop()
        if self.oneshot is not None:
            self.oneshot.shutdown(wait=True)
        if self._graph_dir is not None:
            self._graph_dir.cleanup()

    async def _evict_idle(self) -> None:
        timeout = self.config.idle_timeout
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = time.monotonic()
            for conn in list(self.connections.values()):
                if not conn.busy and not conn.closing and now - conn.seen > timeout:
                    self.metrics.count("evicted_idle")
                    with contextlib.suppress(Disconnected):
                        await conn.send(
                            {"error": f"idle for over {timeout:g} s (--idle-timeout): session closed", "code": IDLE}
                        )
                    await conn.close(CLOSE_IDLE, "idle timeout")

    # ---- one WebSocket -----------------------------------------------------------------------
    async def handle(self, ws) -> None:
        await ws.accept()
        conn = Connection(ws)
        if len(self.connections) >= self.config.max_sessions or not self.ready:
            self.metrics.count("refused_full")
            limit = self.config.max_sessions
            reason = f"server full: {limit} sessions open (--max-sessions {limit}); try again later"
            if not self.ready:
                reason = "server not ready (starting or stopping); try again later"
            with contextlib.suppress(Disconnected):
                await conn.send({"error": reason, "code": FULL})
            await conn.close(CLOSE_TRY_AGAIN_LATER, "server full")
            return
        key = id(conn)
        self.connections[key] = conn  # counted before the first await: no race past the limit
        self.metrics.count("sessions")
        self.metrics.sessions_open = len(self.connections)
        try:
            conn.row = (await self.batcher.call(self.session.add, 1))[0]
            await self._serve(conn)
        except Disconnected:
            pass
        except Exception:  # a bug: logged with its traceback, this connection ends, the others go on
            log.exception("internal error on a /stream connection")
            self.metrics.count("internal_errors")
            with contextlib.suppress(Disconnected):
                await conn.send({"error": "internal error (logged by the server)", "code": INTERNAL})
            await conn.close(CLOSE_INTERNAL, "internal error")
        finally:
            await conn.close(CLOSE_NORMAL)
            try:
                if conn.row is not None:
                    await self.batcher.call(self.session.remove, [conn.row])
            except RuntimeError:  # the worker is already shut down (the server is stopping)
                if self.ready:
                    raise
            finally:  # counted as open until its row is gone
                self.connections.pop(key, None)
                self.metrics.sessions_open = len(self.connections)

    async def _serve(self, conn: Connection) -> None:
        limit = self.config.max_message_bytes
        while True:
            try:
                message = await conn.ws.receive()
            except (OSError, RuntimeError) as err:
                raise Disconnected() from err
            if message["type"] == "websocket.disconnect":
                raise Disconnected()
            conn.seen = time.monotonic()
            conn.busy = True
            try:
                msg = decode_message(message.get("text", message.get("bytes")), limit)
                if "close" in msg:
                    await conn.send({"closed": True, "step": conn.steps})
                    await conn.close(CLOSE_NORMAL, "closed by the client")
                    return
                await self._act(conn, msg)
            except ClientError as err:
                self.metrics.count("client_errors")
                if err.code == TOO_BIG:
                    self.metrics.count("oversize")
                await conn.send(err.reply())
            finally:
                conn.busy = False
                conn.seen = time.monotonic()

    async def _act(self, conn: Connection, msg: Dict[str, Any]) -> None:
        endpoint = self.endpoint
        if "reset" in msg:
            await self.batcher.call(self.session.reset, [conn.row])
            conn.steps, conn.last, conn.tail = 0, None, ""
            await conn.send({"reset": True, "step": 0})
        elif "generate" in msg:
            if not endpoint.can_generate:
                raise ClientError(f"a {endpoint.kind.replace('_', ' ')} does not generate; send input")
            await self._generate(conn, msg)
        else:
            ids = endpoint.inputs(msg)  # every token checked before the first step
            results = []
            for i in ids:
                results.append(await self.batcher.step(conn.row, i))
                conn.steps += 1
            conn.last = results[-1]
            if "input" in msg:
                conn.tail = (conn.tail + msg["input"])[-64:]
            reply = {"output": endpoint.output(results, msg.get("logprobs") is True), "step": conn.steps}
            if len(ids) > 1:
                reply["tokens"] = len(ids)
            await conn.send(reply)

    async def _generate(self, conn: Connection, msg: Dict[str, Any]) -> None:
        """Sample N tokens, sending each as it is made; each is stepped into the state."""
        endpoint = self.endpoint
        n, temperature, top_k, top_p, seed = endpoint.generation(msg)
        generator = torch.Generator().manual_seed(seed if seed is not None else secrets.randbits(63))
        cont = endpoint.continuation(conn.tail)
        pieces = []
        for _ in range(n):
            nxt = endpoint.sample(conn.last, temperature, top_k, top_p, generator)
            piece = cont.push(endpoint.vocab.token_of(nxt))
            conn.last = await self.batcher.step(conn.row, nxt)
            conn.steps += 1
            pieces.append(piece)
            await conn.send({"token": piece, "step": conn.steps})
        pieces.append(cont.flush())
        text = "".join(pieces)
        conn.tail = (conn.tail + text)[-64:]
        await conn.send({"generated": text, "step": conn.steps, "done": True, "output": endpoint.output([conn.last])})

    # ---- HTTP --------------------------------------------------------------------------------
    def check_size(self, size: int) -> None:
        limit = self.config.max_message_bytes
        if size > limit:
            raise ClientError(f"request of {size:,} bytes is over the limit of {limit:,} bytes", TOO_BIG)

    async def predict(self, body: bytes) -> Dict[str, Any]:
        self.metrics.count("predict")
        self.check_size(len(body))
        try:
            msg = json.loads(body)
        except ValueError as err:
            raise ClientError(f"the request body is not JSON ({err})", "bad_json") from None
        if not isinstance(msg, dict):
            raise ClientError('the request body is a JSON object such as {"input": "text"}')
        # its own thread: a long text (or a long generation) never holds up the streams' ticks; it
        # reads the model's weights only, with a fresh state, so it shares nothing with the session
        return await asyncio.get_running_loop().run_in_executor(self.oneshot, self.endpoint.predict, msg)


def create_app(model, config: Optional[ServerConfig] = None):
    """The FastAPI application serving ``model`` (in eval mode) under ``config``."""
    from fastapi import FastAPI, Request, WebSocket
    from fastapi.responses import JSONResponse

    config = config if config is not None else ServerConfig()
    server = Server(model, config)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(title="rnnkit serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = server

    @app.websocket("/stream")
    async def stream_route(ws: WebSocket) -> None:
        await server.handle(ws)

    @app.get("/health")
    async def health() -> JSONResponse:
        body = {"status": "ready" if server.ready else "starting", **server.endpoint.describe()}
        return JSONResponse(body, status_code=200 if server.ready else 503)

    @app.get("/metrics")
    async def metrics() -> JSONResponse:
        return JSONResponse(server.metrics.snapshot())

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        try:
            declared = request.headers.get("content-length", "0")
            server.check_size(int(declared) if declared.isdigit() else 0)  # before reading a huge body
            return JSONResponse(await server.predict(await request.body()))
        except ClientError as err:
            server.metrics.count("client_errors")
            return JSONResponse(err.reply(), status_code=413 if err.code == TOO_BIG else 400)

    return app
