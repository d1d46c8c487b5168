"""Streaming sessions: stepping equals the full run; rows join, leave, reset; state saves exactly."""

import pytest
import torch

import rnnkit
from rnnkit._checks import FileFormatError, InvalidTypeError, InvalidValueError, MissingFileError
from rnnkit.layers import STOCK_LAYERS
from rnnkit.layers.engines import ENGINES
from rnnkit.layers.sequences import SequenceBatch
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.serving import StreamSession, stream

V = 13


def lm(cell="lstm", layers=2, **kw):
    config = LanguageModelConfig(vocab_size=V, cell=cell, embedding_size=8, hidden_size=12, num_layers=layers, **kw)
    return LanguageModel(config).eval()


def engines_for(layer, x):
    """The engines (by name) that can run ``layer`` on ``x``, read from the registry."""
    batch = SequenceBatch(x, layer.batch_first, None)
    return [n for n, e in ENGINES.items() if e.unavailable_reason(layer, batch, layer.weight_plan()) is None]


@pytest.mark.parametrize("cell", sorted(STOCK_LAYERS))
def test_language_model_steps_equal_the_full_run_for_every_engine(cell):
    model = lm(cell)
    tokens = torch.randint(0, V, (3, 24))
    names = engines_for(model.rnn, model.embedding(tokens))
    assert "loop" in names
    for name in names:
        model.rnn.engine = name
        full, final = model(tokens)
        session = stream(model, batch_size=3)
        steps = session.run(tokens)
        assert steps.shape == full.shape
        torch.testing.assert_close(steps, full, atol=1e-6, rtol=0, msg=f"{cell}/{name}")
        h = session.state["rnn.0"].transpose(0, 1)
        torch.testing.assert_close(h, final[0] if isinstance(final, tuple) else final, atol=1e-6, rtol=0)


def test_stream_is_exported_at_the_top_level():
    assert rnnkit.stream is stream
    assert isinstance(rnnkit.stream(lm(), 2), StreamSession)


def test_the_session_hands_out_the_model_vocabulary():
    from rnnkit.data.vocab import Vocabulary

    vocab = Vocabulary.from_text("abcdefghijk")
    model = LanguageModel(LanguageModelConfig(vocab_size=len(vocab), hidden_size=8), vocab).eval()
    session = stream(model)
    ids = session.tokenizer.encode("cab")
    for i in ids:
        session.step(torch.tensor([i]))
    assert session.tokenizer.decode(ids) == "cab" and session.steps == {0: 3}
    assert stream(lm()).tokenizer is None


def test_reset_of_one_row_leaves_the_others_unchanged():
    model = lm("gru")
    tokens = torch.randint(0, V, (3, 12))
    session = stream(model, batch_size=3)
    session.run(tokens[:, :6])
    session.reset([1])
    assert session.steps == {0: 6, 1: 0, 2: 6}
    out = session.run(tokens[:, 6:])
    full, _ = model(tokens)
    torch.testing.assert_close(out[[0, 2]], full[[0, 2], 6:], atol=1e-6, rtol=0)
    alone, _ = model(tokens[1:2, 6:])  # row 1 started again at step 6
    torch.testing.assert_close(out[1:2], alone, atol=1e-6, rtol=0)


def test_stepping_some_rows_leaves_the_others_alone():
    model = lm()
    tokens = torch.randint(0, V, (2, 8))
    session = stream(model, batch_size=2)
    ys = [session.step(tokens[1, t : t + 1], rows=[1]) for t in range(8)]
    assert session.steps == {0: 0, 1: 8}
    full, _ = model(tokens[1:2])
    torch.testing.assert_close(torch.stack(ys, 1), full, atol=1e-6, rtol=0)
    first = session.step(tokens[:, 0])  # row 0 is still at its start
    torch.testing.assert_close(first[0], model(tokens[0:1, :1])[0][0, 0], atol=1e-6, rtol=0)


def test_streams_join_and_leave_without_disturbing_the_others():
    model = lm()
    a, b = torch.randint(0, V, (1, 10)), torch.randint(0, V, (1, 6))
    session = stream(model, batch_size=2)
    session.run(torch.cat([a[:, :4], a[:, :4]]))
    session.remove([0])
    (new,) = session.add(1)
    assert session.rows == [1, new] and new == 2
    out = session.run(torch.cat([a[:, 4:10], b]))
    torch.testing.assert_close(out[0:1], model(a)[0][:, 4:], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1:2], model(b)[0], atol=1e-6, rtol=0)
    session.remove([1, new])
    assert len(session) == 0
    with pytest.raises(InvalidValueError, match="no rows"):
        session.step(torch.zeros(0, dtype=torch.long))


def test_save_and_restore_continue_exactly(tmp_path):
    model = lm()
    tokens = torch.randint(0, V, (2, 16))
    session = stream(model, batch_size=3)
    session.remove([0])
    session.run(tokens[:, :9])
    path = tmp_path / "s.safetensors"
    session.save_state(path)
    expected = session.run(tokens[:, 9:])
    other = stream(model, batch_size=1)
    other.restore(path)
    assert other.rows == [1, 2] and other.steps == {1: 9, 2: 9}
    assert torch.equal(other.run(tokens[:, 9:]), expected)
    assert other.add(1) == [3]  # ids continue after the restored ones


def test_load_state_sets_the_live_rows():
    model = lm("rnn", layers=1)
    tokens = torch.randint(0, V, (2, 5))
    a = stream(model, 2)
    a.run(tokens)
    b = stream(model, 2)
    b.load_state(a.state)
    assert torch.equal(b.step(tokens[:, 0]), a.step(tokens[:, 0]))
    with pytest.raises(InvalidValueError, match=r"state\['rnn.0'\] must be"):
        b.load_state({"rnn.0": torch.zeros(3, 1, 12)})
    with pytest.raises(InvalidValueError, match="keys"):
        b.load_state({"h": torch.zeros(2, 1, 12)})


def test_memory_is_the_state_only():
    """No history is kept: the state's size does not depend on the steps taken."""
    session = stream(lm(), 2)
    before = {k: v.shape for k, v in session.state.items()}
    session.run(torch.randint(0, V, (2, 50)))
    assert {k: v.shape for k, v in session.state.items()} == before


def test_user_errors_name_the_problem(tmp_path):
    model = lm()
    session = stream(model, 2)
    with pytest.raises(InvalidValueError, match=r"shape \(2,\)"):
        session.step(torch.zeros(3, dtype=torch.long))
    with pytest.raises(InvalidTypeError, match="token ids"):
        session.step(torch.zeros(2))
    with pytest.raises(InvalidValueError, match="outside the vocabulary"):
        session.step(torch.tensor([0, V]))
    with pytest.raises(InvalidValueError, match=r"\[5\] are not rows"):
        session.step(torch.zeros(1, dtype=torch.long), rows=[5])
    with pytest.raises(InvalidTypeError, match="single id"):
        session.reset(0)
    with pytest.raises(InvalidValueError, match="repeat"):
        session.remove([0, 0])
    with pytest.raises(InvalidValueError, match="training mode"):
        stream(lm().train())
    with pytest.raises(InvalidTypeError, match="cannot stream a Linear"):
        stream(torch.nn.Linear(2, 2).eval())
    with pytest.raises(MissingFileError):
        session.restore(tmp_path / "none.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(FileFormatError, match="bad.safetensors"):
        session.restore(tmp_path / "bad.safetensors")
    other = stream(lm(layers=1), 1)
    other.save_state(tmp_path / "small.safetensors")
    with pytest.raises(FileFormatError, match="does not fit"):
        session.restore(tmp_path / "small.safetensors")
    assert session.rows == [0, 1]  # a failed restore leaves the session as it was


def test_bidirectional_layers_are_refused_with_the_reason():
    layer = rnnkit.LSTM(3, 4, bidirectional=True, batch_first=True).eval()
    with pytest.raises(InvalidValueError, match="bidirectional.*future|not seen yet"):
        stream(layer)
