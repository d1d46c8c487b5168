"""The server over the other kinds it serves: a running classifier and a tagger, one token per step."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("websockets")

from websockets.asyncio.client import connect  # noqa: E402

from rnnkit._checks import InvalidValueError  # noqa: E402
from rnnkit.data.vocab import Vocabulary  # noqa: E402
from rnnkit.models import ClassifierConfig, SequenceClassifier, SequenceTagger, TaggerConfig  # noqa: E402
from rnnkit.serving.loadgen import http_json  # noqa: E402
from rnnkit.serving.server import ServerThread, create_app  # noqa: E402

TEXT = "alice likes rome and bob likes paris"
WAIT = 10.0


def vocab():
    return Vocabulary.from_text(TEXT, "word", specials=("<pad>", "<unk>"))


def classifier(bidirectional=False):
    torch.manual_seed(3)
    v = vocab()
    config = ClassifierConfig(
        vocab_size=len(v), embedding_size=6, hidden_size=8, bidirectional=bidirectional, dropout=0.0,
        labels=["neg", "pos"], pooling="mean",
    )  # fmt: skip
    return SequenceClassifier(config, v).eval()


def tagger():
    torch.manual_seed(4)
    v = vocab()
    config = TaggerConfig(
        vocab_size=len(v), embedding_size=6, hidden_size=8, bidirectional=False, dropout=0.0, tags=["O", "PER", "LOC"]
    )
    return SequenceTagger(config, v).eval()


async def session(url, messages):
    async with connect(url, open_timeout=WAIT) as ws:
        out = []
        for m in messages:
            await ws.send(json.dumps(m))
            out.append(json.loads(await asyncio.wait_for(ws.recv(), WAIT)))
        return out


def test_a_classifier_streams_its_running_prediction():
    model = classifier()
    words = TEXT.split()
    with ServerThread(create_app(model)) as server:
        replies = asyncio.run(session(server.ws_url, [{"input": w} for w in words] + [{"generate": 3}]))
        whole = http_json(server.http_url + "/predict", json.dumps({"input": TEXT}).encode())
    ids = torch.tensor([model.vocab.encode(TEXT)])
    for t, reply in enumerate(replies[:-1]):
        want = model.predict_proba(ids[:, : t + 1])[0]
        got = torch.tensor([reply["output"]["probs"][n] for n in ("neg", "pos")])
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        assert reply["output"]["label"] == ["neg", "pos"][int(want.argmax())] and reply["step"] == t + 1
    assert replies[-1]["code"] == "bad_message" and "does not generate" in replies[-1]["error"]
    assert whole[0] == 200 and whole[1]["output"] == replies[-2]["output"]


def test_a_tagger_tags_each_token_as_it_arrives():
    model = tagger()
    with ServerThread(create_app(model)) as server:
        replies = asyncio.run(session(server.ws_url, [{"input": "alice likes"}, {"input": "rome"}]))
        whole = http_json(server.http_url + "/predict", json.dumps({"input": "alice likes rome"}).encode())
    scores = model(torch.tensor([model.vocab.encode("alice likes rome")]))[0]  # (T, K)
    want = [["O", "PER", "LOC"][int(i)] for i in scores.argmax(-1)]  # per token: the emissions' argmax
    assert replies[0]["output"] == {"tags": want[:2]} and replies[0]["step"] == 2
    assert replies[1]["output"] == {"tags": want[2:]} and replies[1]["step"] == 3
    joint = model.decode(torch.tensor([model.vocab.encode("alice likes rome")]))[0]  # the CRF's Viterbi
    assert model.crf is not None and whole[1]["output"] == {"tags": [["O", "PER", "LOC"][t] for t in joint]}


def test_a_model_that_reads_the_future_is_refused_before_serving():
    with pytest.raises(InvalidValueError, match="bidirectional"):
        create_app(classifier(bidirectional=True))
