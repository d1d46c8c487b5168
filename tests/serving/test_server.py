"""The streaming server end to end: a real uvicorn on a free loopback port, real WebSocket clients.

Every test starts its own server (``ServerThread``) and stops it at the end; every client wait is
bounded by a timeout. Reference outputs come from the model's own full-sequence run, not from the
server.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
websockets = pytest.importorskip("websockets")

from websockets.asyncio.client import connect  # noqa: E402

from rnnkit.data.vocab import Vocabulary  # noqa: E402
from rnnkit.models import LanguageModel, LanguageModelConfig  # noqa: E402
from rnnkit.serving.loadgen import http_json  # noqa: E402
from rnnkit.serving.server import ServerConfig, ServerThread, create_app  # noqa: E402

TEXT = "the quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs!\n"
WAIT = 10.0  # seconds any one client operation may take


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    vocab = Vocabulary.from_text(TEXT)
    config = LanguageModelConfig(vocab_size=len(vocab), hidden_size=24, embedding_size=12, num_layers=2)
    return LanguageModel(config, vocab).eval()


def reference(model, text: str) -> torch.Tensor:
    """Log-probs of the next token after each prefix of ``text``: the model run alone, whole sequence."""
    ids = torch.tensor([model.vocab.encode(text)])
    with torch.no_grad():
        logits, _ = model(ids)
    return torch.log_softmax(logits[0], -1)  # (T, V)


async def sessions_closed(state, seconds: float = 5.0) -> None:
    """Wait (at most ``seconds``) until the server has freed every session: it frees a row just
    after the client's close handshake or abort, so a client that has finished may see it open."""
    for _ in range(int(seconds / 0.02)):
        if state.metrics.sessions_open == 0:
            return
        await asyncio.sleep(0.02)


def served(model, **limits) -> ServerThread:
    return ServerThread(create_app(model, ServerConfig(**limits)))


async def ask(ws, message) -> dict:
    await asyncio.wait_for(ws.send(message if isinstance(message, str) else json.dumps(message)), WAIT)
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT))


async def feed(url: str, text: str, **extra) -> list:
    """One session: ``text`` sent one character per message; the log-probs of each reply."""
    async with connect(url, open_timeout=WAIT) as ws:
        out = []
        for ch in text:
            reply = await ask(ws, {"input": ch, "logprobs": True, **extra})
            out.append(reply)
        return out


def post(url: str, body: dict):
    return http_json(url, json.dumps(body).encode(), timeout=WAIT)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_twenty_concurrent_sessions_equal_twenty_sessions_run_alone(model, engine):
    if engine == "onnx":
        pytest.importorskip("onnxruntime", reason="the onnx engine needs onnxruntime (rnnkit's 'export' extra)")
    texts = [TEXT[i : i + 12 + i % 5] for i in range(20)]  # different texts and lengths: a leak would show
    with served(model, tick_ms=20, engine=engine) as server:

        async def all_at_once():
            replies = await asyncio.gather(*(feed(server.ws_url, t) for t in texts))
            await sessions_closed(server.app.state.server)
            return replies

        replies = run(all_at_once())
        stats = server.app.state.server.metrics.snapshot()
    for text, got in zip(texts, replies):
        want = reference(model, text)
        assert [r["step"] for r in got] == list(range(1, len(text) + 1))
        logp = torch.tensor([r["output"]["logprobs"] for r in got])
        torch.testing.assert_close(logp, want, atol=1e-5, rtol=0)
        assert [r["output"]["next"] for r in got] == [model.vocab.token_of(int(i)) for i in want.argmax(-1)]
    # the steps really were batched: fewer model calls than steps
    assert stats["steps_total"] == sum(len(t) for t in texts)
    assert stats["model_calls_total"] < stats["steps_total"]
    assert stats["internal_errors"] == 0 and stats["sessions_open"] == 0


def test_a_multi_token_message_and_reset(model):
    with served(model) as server:

        async def session():
            async with connect(server.ws_url, open_timeout=WAIT) as ws:
                first = await ask(ws, {"input": "the quick", "logprobs": True})
                reset = await ask(ws, {"reset": True})
                again = await ask(ws, {"input": "the quick", "logprobs": True})
                more = await ask(ws, {"input_ids": model.vocab.encode(" brown"), "logprobs": True})
                return first, reset, again, more

        first, reset, again, more = run(session())
    want = reference(model, "the quick brown")
    assert first["step"] == 9 and first["tokens"] == 9
    assert reset == {"reset": True, "step": 0}
    assert again["step"] == 9 and more["step"] == 15
    torch.testing.assert_close(torch.tensor(first["output"]["logprobs"]), want[8], atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(again["output"]["logprobs"]), want[8], atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(more["output"]["logprobs"]), want[14], atol=1e-5, rtol=0)


MALFORMED = [
    ("not json", "bad_json"),
    ('{"input": "a"', "bad_json"),
    ("[1, 2]", "bad_message"),
    ('"a"', "bad_message"),
    ("{}", "bad_message"),
    ('{"input": "a", "reset": true}', "bad_message"),
    ('{"inptu": "a"}', "bad_message"),
    ('{"input": 5}', "bad_message"),
    ('{"input": ""}', "bad_message"),
    ('{"input": "\\u00e9"}', "unknown_token"),
    ('{"input_ids": [0, 999]}', "unknown_token"),
    ('{"input_ids": "abc"}', "bad_message"),
    ('{"input_ids": [1.5]}', "bad_message"),
    ('{"reset": "yes"}', "bad_message"),
    ('{"generate": 0}', "bad_message"),
    ('{"generate": 100000}', "bad_message"),
    ('{"generate": 3, "temperature": -1}', "bad_message"),
    ('{"generate": 3, "top_p": 2}', "bad_message"),
    ('{"generate": 3, "seed": -4}', "bad_message"),
]


def test_malformed_messages_are_answered_and_change_nothing(model):
    with served(model, max_message_bytes=256) as server:

        async def session():
            async with connect(server.ws_url, open_timeout=WAIT) as ws:
                nothing = await ask(ws, {"generate": 3})  # no input yet: nothing to continue
                errors = []
                for i, (bad, _) in enumerate(MALFORMED):
                    ok = await ask(ws, {"input": TEXT[i], "logprobs": True})  # good steps in between
                    errors.append((await ask(ws, bad), ok))
                binary = await asyncio.wait_for(ws.send(b"\x00\x01"), WAIT)
                binary = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                big = await ask(ws, {"input": "a" * 300})
                last = await ask(ws, {"input": TEXT[len(MALFORMED)], "logprobs": True})
                return nothing, errors, binary, big, last

        nothing, errors, binary, big, last = run(session())
        stats = server.app.state.server.metrics.snapshot()
    assert nothing["code"] == "nothing_to_continue"
    want = reference(model, TEXT[: len(MALFORMED) + 1])
    for i, ((bad, code), (error, ok)) in enumerate(zip(MALFORMED, errors)):
        assert error.get("code") == code, (bad, error)
        assert error["error"]  # a sentence saying what is wrong
        assert ok["step"] == i + 1  # the error took no step
        torch.testing.assert_close(torch.tensor(ok["output"]["logprobs"]), want[i], atol=1e-5, rtol=0)
    assert binary["code"] == "bad_message" and "text frames" in binary["error"]
    assert big["code"] == "too_big" and "256" in big["error"]
    assert last["step"] == len(MALFORMED) + 1
    torch.testing.assert_close(torch.tensor(last["output"]["logprobs"]), want[-1], atol=1e-5, rtol=0)
    assert stats["client_errors"] == len(MALFORMED) + 3 and stats["internal_errors"] == 0


def test_a_frame_far_over_the_limit_closes_only_its_own_connection(model):
    with served(model, max_message_bytes=64) as server:  # frames over 1 MiB close the socket
        limit = server.config.frame_limit

        async def two():
            async with (
                connect(server.ws_url, open_timeout=WAIT) as good,
                connect(server.ws_url, open_timeout=WAIT, max_size=None) as bad,
            ):
                before = await ask(good, {"input": "th", "logprobs": True})
                await bad.send(json.dumps({"input": "a" * (limit + 10)}))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(bad.recv(), WAIT)
                after = await ask(good, {"input": "e", "logprobs": True})
                return before, closed.value.rcvd, after

        before, rcvd, after = run(two())
    assert rcvd is not None and rcvd.code == 1009  # message too big
    assert after["step"] == 3
    torch.testing.assert_close(torch.tensor(after["output"]["logprobs"]), reference(model, "the")[2], atol=1e-5, rtol=0)


def test_sessions_over_the_limit_are_refused_with_a_reason(model):
    with served(model, max_sessions=2) as server:
        state = server.app.state.server

        async def crowd():
            async with connect(server.ws_url) as a, connect(server.ws_url) as b:
                await ask(a, {"input": "t"})
                await ask(b, {"input": "t"})
                async with connect(server.ws_url) as c:
                    refusal = json.loads(await asyncio.wait_for(c.recv(), WAIT))
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await asyncio.wait_for(c.recv(), WAIT)
            await sessions_closed(state)  # the server frees a and b's rows just after their close handshakes
            async with connect(server.ws_url) as d:  # a and b have left: room again
                fresh = await ask(d, {"input": "t", "logprobs": True})
            return refusal, closed.value.rcvd.code, fresh

        refusal, code, fresh = run(crowd())
        stats = server.app.state.server.metrics.snapshot()
    assert refusal["code"] == "full" and "--max-sessions 2" in refusal["error"]
    assert code == 1013
    assert fresh["step"] == 1  # a new session starts from the start state, not a previous row's
    torch.testing.assert_close(torch.tensor(fresh["output"]["logprobs"]), reference(model, "t")[0], atol=1e-5, rtol=0)
    assert stats["refused_full"] == 1


def test_idle_sessions_are_evicted_and_active_ones_kept(model):
    with served(model, idle_timeout=1.0) as server:

        async def two():
            async with connect(server.ws_url) as idle, connect(server.ws_url) as active:
                await ask(idle, {"input": "t"})
                for ch in "the quick brown":  # ~1.5 s of activity, a message every 0.1 s (margin for a busy machine)
                    await ask(active, {"input": ch})
                    await asyncio.sleep(0.1)
                notice = json.loads(await asyncio.wait_for(idle.recv(), WAIT))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(idle.recv(), WAIT)
                still = await ask(active, {"input": " "})
                return notice, closed.value.rcvd.code, still

        notice, code, still = run(two())
        stats = server.app.state.server.metrics.snapshot()
    assert notice["code"] == "idle" and "idle" in notice["error"]
    assert code == 4408
    assert still["step"] == 16
    assert stats["evicted_idle"] == 1


def test_abrupt_disconnects_free_their_rows_and_disturb_nobody(model):
    with served(model, tick_ms=10) as server:
        state = server.app.state.server

        async def rude(i):
            ws = await connect(server.ws_url)
            await ask(ws, {"input": "t"})
            await ws.send(json.dumps({"input": "the quick brown"}))  # then vanish mid-message
            ws.transport.abort()

        async def mixed():
            good = asyncio.ensure_future(feed(server.ws_url, TEXT[:20]))
            await asyncio.gather(*(rude(i) for i in range(5)))
            got = await good
            await sessions_closed(state)  # the server notices the aborts
            return got

        got = run(mixed())
        assert state.metrics.sessions_open == 0 and len(state.session) == 0
        assert state.metrics.counters["internal_errors"] == 0
    logp = torch.tensor([r["output"]["logprobs"] for r in got])
    torch.testing.assert_close(logp, reference(model, TEXT[:20]), atol=1e-5, rtol=0)


def test_generation_streams_tokens_and_matches_predict(model):
    with served(model) as server:

        async def session():
            async with connect(server.ws_url) as ws:
                await ask(ws, {"input": "the "})
                await ws.send(json.dumps({"generate": 6, "seed": 3, "temperature": 0.8}))
                return [json.loads(await asyncio.wait_for(ws.recv(), WAIT)) for _ in range(7)]

        replies = run(session())
        predict = server.http_url + "/predict"
        one_shot = post(predict, {"input": "the ", "generate": 6, "seed": 3, "temperature": 0.8})
        bad = http_json(predict, b"{nope")
        unknown = post(predict, {"input": "\u00e9"})
        big = post(predict, {"input": "a" * 70_000})
    tokens, done = replies[:6], replies[6]
    assert [r["step"] for r in tokens] == [5, 6, 7, 8, 9, 10]
    assert done["done"] is True and done["step"] == 10
    assert done["generated"] == "".join(r["token"] for r in tokens)
    assert one_shot[0] == 200
    assert one_shot[1]["generated"] == done["generated"]  # same seed, same model, same text
    assert bad[0] == 400 and bad[1]["code"] == "bad_json"
    assert unknown[0] == 400 and unknown[1]["code"] == "unknown_token"
    assert big[0] == 413 and big[1]["code"] == "too_big"


def test_health_metrics_and_predict(model):
    with served(model) as server:
        run(feed(server.ws_url, "the quick"))
        health = http_json(server.http_url + "/health")
        metrics = http_json(server.http_url + "/metrics")[1]
        predict = post(server.http_url + "/predict", {"input": "the quick", "logprobs": True})
    assert health[0] == 200
    assert health[1]["status"] == "ready" and health[1]["model_type"] == "language_model"
    assert metrics["sessions_total"] == 1 and metrics["steps_total"] == 9 and metrics["steps_per_second"] > 0
    assert (
        metrics["step_latency_ms"]["p50"] > 0 and metrics["step_latency_ms"]["p95"] >= metrics["step_latency_ms"]["p50"]
    )
    torch.testing.assert_close(
        torch.tensor(predict[1]["output"]["logprobs"]), reference(model, "the quick")[-1], atol=1e-5, rtol=0
    )
    assert predict[0] == 200 and predict[1]["tokens"] == 9


def test_the_port_is_free_again_after_the_server_stops(model):
    with served(model) as server:
        port = server.port
    probe = socket.socket()
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    finally:
        probe.close()
