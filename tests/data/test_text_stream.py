"""TextStream: B contiguous streams, TBPTT chunks in order, resume, errors."""

import pytest
import torch

from rnnkit.data.text_stream import TextStream, as_id_tensor


def test_layout_is_contiguous_rows_like_batchify():
    s = TextStream(list(range(23)), batch_size=3, seq_len=2)
    assert s.data.tolist() == [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12, 13], [14, 15, 16, 17, 18, 19, 20]]
    assert s.data.dtype == torch.long and s.stream_length == 7
    assert len(s) == 3  # ceil((7 - 1) / 2)
    assert s.num_targets == 18


def test_chunks_are_shifted_by_one_and_continue_each_other():
    ids = torch.arange(40)
    s = TextStream(ids, batch_size=4, seq_len=3)  # rows of 10, chunks 3, 3, 3
    chunks = list(s)
    assert len(chunks) == len(s) == 3
    for x, y in chunks:
        assert x.shape == y.shape == (4, 3)
        assert torch.equal(y, x + 1)  # arange: the target is the next id
    # chunk i+1 starts where chunk i's inputs stopped, so a carried state sees the text in order
    rows = torch.cat([x for x, _ in chunks], dim=1)
    assert torch.equal(rows, s.data[:, :9])
    assert torch.equal(torch.cat([y for _, y in chunks], dim=1), s.data[:, 1:])


def test_last_chunk_may_be_shorter_and_every_target_is_seen_once():
    s = TextStream(torch.arange(30), batch_size=2, seq_len=4)  # rows of 15, 14 targets: 4, 4, 4, 2
    lengths = [x.shape[1] for x, _ in s]
    assert lengths == [4, 4, 4, 2]
    targets = torch.cat([y for _, y in s], dim=1)
    assert targets.shape == (2, 14) and sum(lengths) * 2 == s.num_targets


def test_resume_from_a_chunk_index():
    s = TextStream(torch.arange(50), batch_size=2, seq_len=3)
    all_chunks = list(s)
    resumed = list(s.chunks(start=2))
    assert len(resumed) == len(all_chunks) - 2
    for (x1, y1), (x2, y2) in zip(all_chunks[2:], resumed, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert list(s.chunks(start=len(s))) == []
    assert torch.equal(s[-1][0], all_chunks[-1][0])


def test_exactly_one_window_is_enough():
    s = TextStream(list(range(10)), batch_size=2, seq_len=4)  # 2 * (4 + 1)
    assert len(s) == 1


def test_too_short_corpus_names_the_lengths():
    with pytest.raises(
        ValueError,
        match=r"too short for one training window: 9 tokens.*batch_size=2.*seq_len=4"
        r".*at least 10 tokens",
    ):
        TextStream(list(range(9)), batch_size=2, seq_len=4)


def test_argument_errors():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        TextStream(list(range(10)), batch_size=0, seq_len=2)
    with pytest.raises(TypeError, match="seq_len must be an int >= 1, got float 2.0"):
        TextStream(list(range(10)), batch_size=1, seq_len=2.0)
    with pytest.raises(ValueError, match=r"ids must be 1-D, got shape \(2, 5\)"):
        TextStream(torch.zeros(2, 5, dtype=torch.long), batch_size=1, seq_len=2)
    with pytest.raises(TypeError, match="integer token ids, got dtype torch.float32"):
        TextStream(torch.zeros(10), batch_size=1, seq_len=2)
    with pytest.raises(ValueError, match="ids must be >= 0, got the id -3"):
        TextStream([1, 2, -3, 4], batch_size=1, seq_len=2)
    with pytest.raises(ValueError, match="ids must be < vocab_size=5, got the id 7"):
        TextStream([1, 2, 7, 4], batch_size=1, seq_len=2, vocab_size=5)
    s = TextStream(list(range(10)), batch_size=1, seq_len=3)
    with pytest.raises(IndexError, match="chunk index 3 is out of range for 3 chunks"):
        s.chunk(3)
    with pytest.raises(ValueError, match=r"start must be an int chunk index in \[0, 3\], got 4"):
        list(s.chunks(start=4))


def test_as_id_tensor_accepts_lists_and_int_tensors():
    assert as_id_tensor([3, 1]).dtype == torch.long
    assert as_id_tensor(torch.tensor([3, 1], dtype=torch.int32)).tolist() == [3, 1]
    with pytest.raises(TypeError, match="got dtype torch.bool"):
        as_id_tensor(torch.tensor([True]))
