"""A seq2seq session: the decoder stepped after its encoder equals the teacher-forced run."""

import pytest
import torch

import rnnkit
from rnnkit._checks import InvalidValueError
from rnnkit.models.seq2seq import BOS, Seq2Seq, Seq2SeqConfig


def model(cell="lstm", **kw):
    base = dict(source_vocab_size=12, target_vocab_size=10, embedding_size=8, hidden_size=6, dropout=0.0, cell=cell)
    base.update(kw)
    return Seq2Seq(Seq2SeqConfig(**base)).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("attention, feeding", [("bahdanau", False), ("general", True), ("none", False)])
def test_decoder_steps_equal_the_teacher_forced_run(cell, attention, feeding):
    m = model(cell, attention=attention, input_feeding=feeding, num_layers=2)
    src, lengths = torch.randint(4, 12, (3, 7)), torch.tensor([7, 3, 5])
    tgt_in = torch.cat([torch.full((3, 1), BOS), torch.randint(4, 10, (3, 5))], 1)
    full = m(src, lengths, tgt_in)
    session = rnnkit.stream(m, 3, source=src, source_lengths=lengths)
    torch.testing.assert_close(session.run(tgt_in), full, atol=1e-6, rtol=0)


def test_streams_with_other_sources_join_and_reset():
    m = model()
    a, b = torch.randint(4, 12, (1, 4)), torch.randint(4, 12, (1, 9))
    tgt = torch.cat([torch.full((1, 1), BOS), torch.randint(4, 10, (1, 4))], 1)
    session = rnnkit.stream(m, 1, source=a)
    session.run(tgt[:, :2])
    (new,) = session.add(1, source=b)  # a longer source: the first row's memory is padded, masked out
    session.reset([0])
    out = session.run(torch.cat([tgt, tgt]))
    torch.testing.assert_close(out[0:1], m(a, None, tgt), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1:2], m(b, None, tgt), atol=1e-6, rtol=0)


def test_save_restore_and_a_missing_source(tmp_path):
    m = model("gru")
    src = torch.randint(4, 12, (2, 5))
    session = rnnkit.stream(m, 2, source=src)
    session.step(torch.full((2,), BOS))
    session.save_state(tmp_path / "s.safetensors")
    expected = session.step(torch.tensor([5, 6]))
    other = rnnkit.stream(m, 1, source=src[:1])
    other.restore(tmp_path / "s.safetensors")
    torch.testing.assert_close(other.step(torch.tensor([5, 6])), expected, atol=1e-6, rtol=0)
    with pytest.raises(InvalidValueError, match="starts from its source"):
        rnnkit.stream(m, 1)
