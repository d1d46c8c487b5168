"""rnnkit serve and rnnkit bench serve: the streaming server and its load generator (issue 15).

Every option is checked, and the model folder read, before a port is bound or a process started:
a malformed command never leaves a server running.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import typer

from .._checks import InvalidValueError
from ..serving.server.config import ServerConfig, check_host, check_port
from .app import app, bench_app
from .errors import user_errors_as_one_line
from .language_model import load_language_model
from .options import config_default, output_file

SERVER_START_TIMEOUT_S = 60.0


def _limit(name: str, help: str):
    return typer.Option(config_default(ServerConfig, name), "--" + name.replace("_", "-"), help=help)


def _server_config(**values) -> ServerConfig:
    """The limits as a :class:`ServerConfig`, its errors naming the options as typed."""
    return _config_from_options(ServerConfig, values)


def _config_from_options(config_type, values: dict):
    """``config_type(**values)``; a bad value's error names the option as typed (``--max-batch``)."""
    try:
        return config_type(**values)
    except (InvalidValueError, TypeError) as err:
        text = str(err)
        for name in values:
            if text.startswith(name):
                text = "--" + name.replace("_", "-") + text[len(name) :]
        raise InvalidValueError(text) from None


@app.command()
@user_errors_as_one_line
def serve(
    model_dir: Path = typer.Argument(
        ..., help="A folder written by `rnnkit train lm` (or a unidirectional `train classify` / `train tag`)."
    ),
    port: int = typer.Option(8000, "--port", help="TCP port (0: any free port; the one chosen is printed)."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on; 0.0.0.0 serves other machines too (no authentication)."
    ),
    max_sessions: int = _limit("max_sessions", "Open WebSocket sessions at most; more are refused with a reason."),
    idle_timeout: float = _limit("idle_timeout", "Seconds without a message before a session is closed."),
    max_message_bytes: int = _limit("max_message_bytes", "Largest message (WebSocket frame or POST body) served."),
    tick_ms: float = _limit("tick_ms", "Milliseconds a step waits for others to share its model call."),
    max_batch: int = _limit("max_batch", "Steps per model call at most."),
    threads: int = _limit("threads", "Torch threads of the model worker (the event loop needs a core too)."),
    engine: str = _limit(
        "engine", "torch, or onnx: steps run the exported step graph in onnxruntime (less CPU per step)."
    ),
) -> None:
    """Serve a model to many streaming clients: one WebSocket per stream at /stream.

    Messages are JSON: {"input": "text"} -> {"output": {"next": ..., "prob": ...}, "step": n};
    {"generate": N} streams N sampled tokens; {"reset": true}; {"close": true}. Also GET /health,
    GET /metrics and POST /predict (one-shot). Steps of all sessions are batched into one model
    call per tick. Guide: docs/server.md."""
    from ..models.format import describe_type
    from ..serving.server import bind, create_app
    from ..serving.server import serve as run_server
    from ..serving.server.run import import_server_packages

    config = _server_config(
        max_sessions=max_sessions,
        idle_timeout=idle_timeout,
        max_message_bytes=max_message_bytes,
        tick_ms=tick_ms,
        max_batch=max_batch,
        threads=threads,
        engine=engine,
    )
    host, port = _option(check_host, host), _option(check_port, port)
    import_server_packages()
    model = load_servable(model_dir)
    app_ = create_app(model, config)  # refuses a model that cannot stream (bidirectional), saying why
    sock = bind(host, port)  # last: everything else is known good
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"serving {model_dir} ({describe_type(app_.state.server.endpoint.kind)}, {config.engine} steps)")
    typer.echo(f"  ws://{shown}:{bound}/stream   http://{shown}:{bound}/health /metrics /predict")
    typer.echo(
        f"  limits: {config.max_sessions} sessions, idle {config.idle_timeout:g} s, "
        f"{config.max_message_bytes:,} bytes; batching: {config.tick_ms:g} ms tick, {config.max_batch} steps; "
        f"Ctrl-C stops"
    )
    sys.stdout.flush()
    run_server(app_, sock, config)


SERVED_KINDS = ("language_model", "sequence_classifier", "sequence_tagger")


def load_servable(model_dir: Path):
    """The model in ``model_dir`` if the server serves its kind; a user error naming the folder otherwise."""
    from ..models.format import load, read_model

    kind = read_model(model_dir, expected=SERVED_KINDS).model_type
    return load_language_model(model_dir) if kind == "language_model" else load(model_dir)


def _option(check, value):
    """``check(value)``, its error naming the option as typed (``--port must be ...``)."""
    try:
        return check(value)
    except (InvalidValueError, TypeError) as err:
        raise InvalidValueError(f"--{err}") from None


# ---- rnnkit bench serve -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU seconds of process ``pid`` (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    from ..serving.loadgen import http_json

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise InvalidValueError(f"the server exited with status {proc.returncode}: {' | '.join(tail)}")
        try:
            if http_json(url + "/health", timeout=2)[0] == 200:
                return
        except OSError:  # not listening yet
            pass
        time.sleep(0.2)
    raise InvalidValueError(f"the server did not become ready within {SERVER_START_TIMEOUT_S:g} s")


def start_server_process(model_dir: Path, config: ServerConfig, log: Path):
    """``rnnkit serve`` in a child process on a free loopback port: ``(process, ws url, http url)``."""
    port = _free_port()
    argv = [sys.executable, "-m", "rnnkit", "serve", str(model_dir), "--port", str(port)]
    for name in ("max_sessions", "idle_timeout", "max_message_bytes", "tick_ms", "max_batch", "threads", "engine"):
        argv += ["--" + name.replace("_", "-"), str(getattr(config, name))]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    http = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(http, proc, log)
    except BaseException:
        stop_server_process(proc)
        raise
    return proc, f"ws://127.0.0.1:{port}/stream", http


def stop_server_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def bench_server(
    model_dir: Optional[Path],
    load,
    url: Optional[str] = None,
    config: Optional[ServerConfig] = None,
    text: Optional[str] = None,
) -> dict:
    """Run the load generator against ``url``, or against a server started for the run (from
    ``model_dir``, with ``config``); the measured figures, with the server's own /metrics."""
    import asyncio

    from ..serving.loadgen import run_load

    proc = None
    with tempfile.TemporaryDirectory(prefix="rnnkit-bench-serve-") as tmp:
        if url is None:
            proc, url, http = start_server_process(model_dir, config, Path(tmp) / "server.log")
        else:
            http = "http://" + url.split("://", 1)[1].split("/", 1)[0]
        try:
            if text is None:
                text = _stream_text(http)
            cpu0, own0, t0 = (_cpu_seconds(proc.pid) if proc else None), time.process_time(), time.perf_counter()
            idle = config.idle_timeout if proc is not None and config is not None else None
            result = asyncio.run(run_load(url, text, load, idle_timeout=idle, metrics_url=http + "/metrics"))
            cpu1, own1, t1 = (_cpu_seconds(proc.pid) if proc else None), time.process_time(), time.perf_counter()
            steps = max(result["replies"], 1)
            if cpu0 is not None and cpu1 is not None:
                result["server_cpu_percent"] = round(100 * (cpu1 - cpu0) / (t1 - t0), 1)
                result["server_cpu_us_per_step"] = round(1e6 * (cpu1 - cpu0) / steps)
            result["loadgen_cpu_percent"] = round(100 * (own1 - own0) / (t1 - t0), 1)
            result["loadgen_cpu_us_per_step"] = round(1e6 * (own1 - own0) / steps)
        finally:
            if proc is not None:
                stop_server_process(proc)
    return result


def _stream_text(http: str) -> str:
    """Characters the served model knows, to send: asked from /predict's vocabulary via /health."""
    from ..serving.loadgen import http_json

    info = http_json(http + "/health")[1]
    if info.get("level") != "char":
        raise InvalidValueError("rnnkit bench serve sends characters: serve a character-level language model")
    sample = "the quick brown fox jumps over the lazy dog and then some more text to send along"
    ok = [ch for ch in sample if http_json(http + "/predict", json.dumps({"input": ch}).encode())[0] == 200]
    if not ok:
        raise InvalidValueError("the served model knows none of the characters a-z and space")
    return "".join(ok)


@bench_app.command("serve")
@user_errors_as_one_line
def bench_serve(
    model_dir: Optional[Path] = typer.Argument(
        None, help="A character language model folder to serve for the run (or give --url)."
    ),
    streams: int = typer.Option(100, "--streams", help="Concurrent WebSocket streams (at most 5,000)."),
    rate_hz: float = typer.Option(10.0, "--rate-hz", help="Characters per second per stream (at most 100)."),
    seconds: float = typer.Option(10.0, "--seconds", help="How long the streams send (at most 600)."),
    url: Optional[str] = typer.Option(
        None, "--url", help="A running server's ws://127.0.0.1:PORT/stream instead of starting one."
    ),
    bad_clients: bool = typer.Option(
        False,
        "--bad-clients",
        help="Mix in 100 malformed messages, oversize messages, abrupt disconnects and idle sessions, and "
        "check that good sessions' outputs equal the same session run alone.",
    ),
    tick_ms: float = _limit("tick_ms", "The started server's batching tick (ms)."),
    max_batch: int = _limit("max_batch", "The started server's batch cap."),
    threads: int = _limit("threads", "The started server's torch threads."),
    engine: str = _limit("engine", "The started server's engine: torch or onnx."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
) -> None:
    """Load-test the streaming server on loopback: N streams, each sending a character every
    1/rate seconds; prints round-trip latency percentiles, errors and steps/s."""
    from ..data.atomic import atomic_write
    from ..serving.loadgen import LoadConfig, check_url, startup_seconds

    load = _load_config(streams=streams, rate_hz=rate_hz, seconds=seconds, bad_clients=bad_clients)
    json_out = output_file(json_out, "--json")
    if (model_dir is None) == (url is None):
        raise InvalidValueError("give a model folder to serve for the run, or --url of a running server (one of them)")
    config = None
    if url is not None:
        check_url(url)
    else:
        idle = config_default(ServerConfig, "idle_timeout")
        if bad_clients:  # idle clients should be evicted during the run, waiting streams not
            idle = startup_seconds(streams) + max(2.0, min(seconds / 3, 10.0))
        config = _server_config(
            max_sessions=streams + 200,
            idle_timeout=idle,
            tick_ms=tick_ms,
            max_batch=max_batch,
            threads=threads,
            engine=engine,
        )
        load_language_model(model_dir)  # the folder is checked here, before a process starts
    load = LoadConfig(**{**load.__dict__, "max_message_bytes": config_default(ServerConfig, "max_message_bytes")})
    typer.echo(f"{streams} streams x {rate_hz:g} Hz for {seconds:g} s" + (" with bad clients" if bad_clients else ""))
    result = bench_server(model_dir, load, url=url, config=config)
    _print_result(result)
    if json_out is not None:
        atomic_write(json_out, json.dumps(result, indent=2) + "\n")
        typer.echo(f"figures: {json_out}")
    if result["errors"] or result["server_metrics"].get("internal_errors"):
        raise typer.Exit(1)


def _load_config(**values):
    from ..serving.loadgen import LoadConfig

    return _config_from_options(LoadConfig, values)


def _print_result(r: dict) -> None:
    lat = r["latency_ms"]
    typer.echo(
        f"round trip (ms): p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}   "
        f"errors: {r['errors']}   steps/s: {r['steps_per_second']:,} ({r['replies']:,} of {r['expected_replies']:,})"
    )
    m = r["server_metrics"]
    typer.echo(
        f"server: step p50 {m['step_latency_ms']['p50']} ms, p95 {m['step_latency_ms']['p95']} ms, "
        f"mean batch {m['mean_batch']}, internal errors {m['internal_errors']}"
        + (
            f", CPU {r['server_cpu_percent']}% ({r['server_cpu_us_per_step']} us/step)"
            if "server_cpu_percent" in r
            else ""
        )
        + f"; load generator CPU {r['loadgen_cpu_percent']}% ({r['loadgen_cpu_us_per_step']} us/step)"
    )
    typer.echo(f"load average: {r['load_average_before'][0]} before, {r['load_average_after'][0]} after")
    for example in r["error_examples"]:
        typer.echo(f"  error: {example}")
    if "bad_clients" in r:
        typer.echo(f"bad clients: {json.dumps(r['bad_clients'], sort_keys=True)}")
        typer.echo(
            f"good sessions replayed alone: {r['verified_streams']}, max |log-prob difference| "
            f"{r['verified_max_abs_logprob_difference']}"
        )
