"""The load generator and the two commands, end to end on loopback (bounded: seconds, not minutes)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("websockets")

from typer.testing import CliRunner  # noqa: E402

from rnnkit.cli import app  # noqa: E402
from rnnkit.data.vocab import Vocabulary  # noqa: E402
from rnnkit.models import LanguageModel, LanguageModelConfig  # noqa: E402
from rnnkit.serving.loadgen import LoadConfig, run_load  # noqa: E402
from rnnkit.serving.server import ServerConfig, ServerThread, create_app  # noqa: E402

TEXT = "the quick brown fox jumps over the lazy dog\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch.manual_seed(2)
    vocab = Vocabulary.from_text(TEXT)
    config = LanguageModelConfig(vocab_size=len(vocab), hidden_size=16, embedding_size=8, num_layers=1)
    path = tmp_path_factory.mktemp("lm") / "lm"
    LanguageModel(config, vocab).eval().save_pretrained(path)
    return path


def test_load_with_bad_clients_leaves_good_sessions_exact(folder):
    import rnnkit

    limits = ServerConfig(idle_timeout=1.2, max_message_bytes=1024, tick_ms=5)
    load = LoadConfig(
        streams=5,
        rate_hz=10,
        seconds=1.0,
        bad_clients=True,
        max_message_bytes=1024,
        idle_clients=2,
        vanishing_clients=3,
    )
    with ServerThread(create_app(rnnkit.load(folder), limits)) as server:
        result = asyncio.run(
            asyncio.wait_for(
                run_load(server.ws_url, TEXT, load, idle_timeout=1.2, metrics_url=server.http_url + "/metrics"), 60
            )
        )
    assert result["errors"] == 0, result["error_examples"]
    assert result["replies"] == result["expected_replies"] == 5 * 10
    assert result["latency_ms"]["p95"] > 0
    bad = result["bad_clients"]
    assert bad["malformed_answered"] == 100 and "malformed_unanswered" not in bad
    assert bad["oversize_answered"] == 10 and bad["oversize_then_ok"] == 10
    assert bad["vanished"] == 3 and bad["idle_evicted"] == 2
    assert result["verified_streams"] == 5 and result["verified_max_abs_logprob_difference"] <= 1e-5
    assert result["server_metrics"]["internal_errors"] == 0


def test_bench_serve_against_a_running_server(folder, tmp_path):
    import rnnkit

    out = tmp_path / "figures.json"
    with ServerThread(create_app(rnnkit.load(folder))) as server:
        argv = ["bench", "serve", "--url", server.ws_url, "--streams", "4", "--seconds", "1", "--json", str(out)]
        result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "p95" in result.output and "errors: 0" in result.output
    figures = json.loads(out.read_text())
    assert figures["streams"] == 4 and figures["replies"] == 40 and figures["errors"] == 0


def test_serve_refuses_a_port_in_use_before_serving(folder):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", str(folder), "--port", str(port)])
    assert result.exit_code == 2
    assert f"error: cannot listen on 127.0.0.1:{port}" in result.output


@pytest.mark.slow
def test_bench_serve_starts_and_stops_its_own_server(folder):
    result = CliRunner().invoke(app, ["bench", "serve", str(folder), "--streams", "3", "--seconds", "1"])
    assert result.exit_code == 0, result.output
    assert "errors: 0" in result.output and "internal errors 0" in result.output
