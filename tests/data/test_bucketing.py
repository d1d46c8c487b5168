"""Bucketed batches: every index once, deterministic with a generator, far less padding than random."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from rnnkit._checks import InvalidTypeError, InvalidValueError
from rnnkit.data.bucketing import BucketBatchSampler, pad_batch, padding_fraction


def skewed_lengths(n=5000, seed=0):
    """Log-normal lengths like review texts: many short, a long tail (median ~20, some > 500)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, generator=g) * 1.0 + 3.0).exp().ceil().long().clamp(1, 2000).tolist()


def test_bucketing_cuts_padding_on_a_skewed_distribution():
    lengths = skewed_lengths()
    g = torch.Generator().manual_seed(1)
    random_batches = list(BatchSampler(RandomSampler(lengths, generator=g), batch_size=32, drop_last=False))
    bucketed = list(BucketBatchSampler(lengths, 32, generator=torch.Generator().manual_seed(1)))
    random_pad = padding_fraction(lengths, random_batches)
    bucket_pad = padding_fraction(lengths, bucketed)
    assert random_pad > 0.7  # random batches of this distribution are mostly padding
    assert bucket_pad < 0.5 * random_pad, (bucket_pad, random_pad)
    # larger pools, closer lengths: one pool of everything is as good as sorting globally
    whole = BucketBatchSampler(lengths, 32, generator=torch.Generator().manual_seed(1), bucket_size_multiplier=200)
    sorted_pad = padding_fraction(lengths, BucketBatchSampler(lengths, 32, shuffle=False))
    assert padding_fraction(lengths, whole) == pytest.approx(sorted_pad)
    assert sorted_pad < 0.1 * random_pad


def test_deterministic_with_a_generator_and_epochs_differ():
    lengths = skewed_lengths(1000)
    a = BucketBatchSampler(lengths, 16, generator=torch.Generator().manual_seed(7), bucket_size_multiplier=4)
    b = BucketBatchSampler(lengths, 16, generator=torch.Generator().manual_seed(7), bucket_size_multiplier=4)
    epoch1_a, epoch1_b = list(a), list(b)
    assert epoch1_a == epoch1_b
    assert list(a) == list(b)  # the second epochs agree too
    assert list(a) != epoch1_a  # and differ from the first
    c = BucketBatchSampler(lengths, 16, generator=torch.Generator().manual_seed(8), bucket_size_multiplier=4)
    assert list(c) != epoch1_a


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 50), min_size=1, max_size=120),
    batch_size=st.integers(1, 9),
    multiplier=st.integers(1, 5),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_every_index_exactly_once_per_epoch(lengths, batch_size, multiplier, shuffle, seed):
    sampler = BucketBatchSampler(
        lengths,
        batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
        bucket_size_multiplier=multiplier,
    )
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in batches)


def test_unshuffled_batches_are_sorted_by_length_stably():
    lengths = [5, 1, 3, 1, 5, 2]
    assert list(BucketBatchSampler(lengths, 2, shuffle=False)) == [[1, 3], [5, 2], [0, 4]]


def test_works_as_a_dataloader_batch_sampler():
    seqs = [list(range(n)) for n in [3, 1, 4, 1, 5, 9, 2, 6]]
    loader = DataLoader(
        seqs, batch_sampler=BucketBatchSampler([len(s) for s in seqs], 3, shuffle=False), collate_fn=pad_batch
    )
    shapes = [tuple(x.shape) for x, _ in loader]
    assert shapes == [(3, 2), (3, 5), (2, 9)]


def test_without_generator_each_epoch_is_a_fresh_draw():
    torch.manual_seed(0)
    sampler = BucketBatchSampler(list(range(200)), 4, bucket_size_multiplier=2)
    assert list(sampler) != list(sampler)


def test_pad_batch():
    padded, lengths = pad_batch([[1, 2, 3], [4], torch.tensor([5, 6])], pad_value=0)
    assert padded.tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 0]] and padded.dtype == torch.int64
    assert lengths.tolist() == [3, 1, 2] and lengths.dtype == torch.int64
    feats, lengths = pad_batch([torch.ones(2, 3), torch.ones(1, 3)], pad_value=-1.0)
    assert feats.shape == (2, 2, 3) and feats[1, 1].tolist() == [-1.0, -1.0, -1.0]
    assert feats[0].eq(1).all()


def test_pad_batch_errors():
    with pytest.raises(InvalidTypeError, match="non-empty list of sequences"):
        pad_batch([], 0)
    with pytest.raises(InvalidValueError, match=r"sequences\[1\] has shape \(2, 4\)"):
        pad_batch([torch.ones(2, 3), torch.ones(2, 4)], 0)
    with pytest.raises(InvalidValueError, match="cannot pad integer sequences"):
        pad_batch([[1, 2], [3]], 0.5)
    with pytest.raises(InvalidValueError, match="time dimension"):
        pad_batch([torch.tensor(1)], 0)


def test_padding_fraction_by_hand():
    lengths = [4, 2, 3, 3]
    # batch [0, 1]: 2*4 = 8 positions, 6 real; batch [2, 3]: 6 positions, 6 real -> 2 / 14
    assert padding_fraction(lengths, [[0, 1], [2, 3]]) == pytest.approx(2 / 14)
    assert padding_fraction(lengths, []) == 0.0
    with pytest.raises(InvalidValueError, match="batch 0 holds an index outside 0..3"):
        padding_fraction(lengths, [[4]])


def test_sampler_argument_errors():
    with pytest.raises(InvalidValueError, match="lengths is empty"):
        BucketBatchSampler([], 4)
    with pytest.raises(InvalidValueError, match=r"lengths\[1\] must be an int >= 0"):
        BucketBatchSampler([1, -2], 4)
    with pytest.raises(InvalidValueError, match="batch_size must be an int >= 1"):
        BucketBatchSampler([1, 2], 0)
    with pytest.raises(InvalidTypeError, match="generator must be None or a torch.Generator"):
        BucketBatchSampler([1, 2], 1, generator=3)
    with pytest.raises(InvalidTypeError, match="1-D integer tensor"):
        BucketBatchSampler(torch.ones(3), 1)
