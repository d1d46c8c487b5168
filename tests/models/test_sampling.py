"""sample_next / filter_logits: greedy, temperature, top-k, top-p, reproducibility, errors."""

import math

import pytest
import torch

from rnnkit.models.sampling import filter_logits, sample_next


def random_logits(rows=64, v=17, seed=0):
    return torch.randn(rows, v, generator=torch.Generator().manual_seed(seed)) * 3


def test_temperature_zero_is_greedy():
    logits = random_logits()
    assert torch.equal(sample_next(logits, temperature=0), logits.argmax(-1))
    assert sample_next(logits[0], temperature=0).shape == ()


def test_temperature_towards_zero_equals_greedy():
    logits = random_logits(rows=256)
    g = torch.Generator().manual_seed(1)
    for t in (1e-3, 1e-6, 1e-30):
        assert torch.equal(sample_next(logits, temperature=t, generator=g), logits.argmax(-1))


def test_temperature_one_samples_the_softmax():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    n = 20000
    ids = sample_next(logits.expand(n, 4), generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(ids, minlength=4).float() / n
    torch.testing.assert_close(freq, torch.softmax(logits, -1), atol=0.015, rtol=0)
    # a high temperature flattens the distribution
    hot = sample_next(logits.expand(n, 4), temperature=10.0, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(hot, minlength=4).min() > 0.2 * n


def test_top_k_never_samples_outside_the_top_k():
    logits = random_logits(rows=2000, v=30)
    top = torch.topk(logits, 5, dim=-1).indices
    ids = sample_next(logits, top_k=5, temperature=2.0, generator=torch.Generator().manual_seed(0))
    assert (top == ids.unsqueeze(-1)).any(-1).all()
    assert len(set(ids.tolist())) > 5  # it does sample, across rows
    assert torch.equal(sample_next(logits, top_k=1, generator=torch.Generator()), logits.argmax(-1))


def test_top_k_keeps_exactly_k_even_with_ties():
    logits = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0])
    assert torch.isfinite(filter_logits(logits, top_k=2)).sum() == 2
    assert torch.equal(filter_logits(logits, top_k=99), logits)  # k >= V keeps everything


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625])
    logits = probs.log()
    kept = lambda p: torch.isfinite(filter_logits(logits, top_p=p)).nonzero().flatten().tolist()
    assert kept(0.5) == [0]  # 0.5 alone reaches 0.5
    assert kept(0.6) == [0, 1]
    assert kept(0.75) == [0, 1]
    assert kept(0.8) == [0, 1, 2]
    assert kept(1.0) == [0, 1, 2, 3, 4]
    assert kept(1e-9) == [0]  # the most probable token always survives
    # the order of the vocabulary does not matter
    perm = torch.tensor([3, 0, 4, 2, 1])
    assert sorted(torch.isfinite(filter_logits(logits[perm], top_p=0.8)).nonzero().flatten().tolist()) == [1, 3, 4]


def test_top_p_samples_stay_in_the_nucleus():
    logits = random_logits(rows=1000, v=20, seed=3)
    sorted_p, order = torch.softmax(logits, -1).sort(-1, descending=True)
    ids = sample_next(logits, top_p=0.7, generator=torch.Generator().manual_seed(0))
    for row in range(logits.shape[0]):
        cum = sorted_p[row].cumsum(0)
        size = int((cum < 0.7).sum()) + 1  # smallest prefix whose sum >= 0.7
        assert ids[row] in order[row, :size]


def test_top_k_then_top_p_combined():
    logits = torch.tensor([[3.0, 2.9, 2.8, 0.0, -1.0]])
    f = filter_logits(logits, top_k=2, top_p=0.99)
    assert torch.isfinite(f).sum() == 2


def test_same_generator_seed_same_samples():
    logits = random_logits()
    a = sample_next(logits, generator=torch.Generator().manual_seed(7), top_p=0.9)
    b = sample_next(logits, generator=torch.Generator().manual_seed(7), top_p=0.9)
    c = sample_next(logits, generator=torch.Generator().manual_seed(8), top_p=0.9)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_ids_are_always_inside_the_vocabulary():
    logits = torch.full((500, 9), float("-inf"))
    logits[:, 8] = 0.0  # only the last id is possible
    logits[:, 3] = 0.0
    ids = sample_next(logits, generator=torch.Generator().manual_seed(0))
    assert set(ids.tolist()) == {3, 8}
    extreme = torch.tensor([[1e30, -1e30, 0.0]])
    assert sample_next(extreme, temperature=5.0).item() == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(temperature=-1.0), ValueError, "temperature must be a finite number >= 0.*got -1.0"),
        (dict(temperature=math.inf), ValueError, "temperature.*got inf"),
        (dict(temperature="hot"), ValueError, "temperature.*got 'hot'"),
        (dict(top_k=0), ValueError, "top_k must be None or an int >= 1, got 0"),
        (dict(top_k=2.5), ValueError, "top_k.*got 2.5"),
        (dict(top_p=0.0), ValueError, r"top_p must be None or a number in \(0, 1\], got 0.0"),
        (dict(top_p=1.5), ValueError, "top_p.*got 1.5"),
    ],
)
def test_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        sample_next(torch.zeros(2, 3), **kwargs)


def test_logits_errors():
    with pytest.raises(ValueError, match=r"logits must be a tensor \(B, V\) or \(V,\).*got \(1, 2, 3\)"):
        sample_next(torch.zeros(1, 2, 3))
    with pytest.raises(TypeError, match="floating point, got dtype torch.int64"):
        sample_next(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        sample_next(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="all -inf"):
        sample_next(torch.full((1, 3), float("-inf")))
