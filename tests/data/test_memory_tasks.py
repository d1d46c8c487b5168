"""The long-range memory generators against their definitions (Bai, Kolter & Koltun 2018; TCN)."""

import math

import pytest
import torch

from rnnkit._checks import InvalidTypeError, InvalidValueError
from rnnkit.data.memory_tasks import ADDING_BASELINE_MSE, adding_problem, copy_baseline_loss, copy_memory


def test_adding_shapes_mask_and_target():
    x, y = adding_problem(300, 25, seed=3)
    assert x.shape == (300, 25, 2) and y.shape == (300,)
    assert x.dtype == torch.float32 and y.dtype == torch.float32
    values, mask = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert (mask.sum(dim=1) == 2).all()  # exactly two marked positions per sequence
    for n in range(300):  # target = the sum of the two marked values, computed from the positions
        i, j = torch.nonzero(mask[n]).flatten().tolist()
        assert y[n].item() == pytest.approx(values[n, i].item() + values[n, j].item(), abs=1e-6)


def test_adding_marks_are_spread_over_the_whole_sequence():
    _, _ = adding_problem(1, 2)  # the shortest sequence: both steps marked
    x, _ = adding_problem(4000, 10, seed=0)
    counts = x[..., 1].sum(dim=0)  # how often each position is marked
    assert (counts > 0.6 * 800).all()  # uniform: 2 * 4000 / 10 = 800 each


def test_adding_baseline_is_the_mse_of_always_answering_one():
    _, y = adding_problem(200_000, 5, seed=1)
    assert ADDING_BASELINE_MSE == pytest.approx(1 / 6)
    assert float(((y - 1) ** 2).mean()) == pytest.approx(ADDING_BASELINE_MSE, abs=3e-3)


def test_copy_layout_matches_the_tcn_generator():
    T = 30
    x, y = copy_memory(50, T, seed=2)
    assert x.shape == y.shape == (50, T + 20) and x.dtype == y.dtype == torch.int64
    digits = x[:, :10]
    assert ((digits >= 1) & (digits <= 8)).all()
    assert (x[:, 10 : 10 + T - 1] == 0).all()  # T - 1 blanks
    assert (x[:, T + 9 :] == 9).all() and x[:, T + 9 :].shape[1] == 11  # eleven 9s, the first a delimiter
    assert (y[:, : T + 10] == 0).all()
    assert torch.equal(y[:, T + 10 :], digits)  # the digits come back at the end


def test_copy_baseline_loss_is_the_memoryless_strategy():
    T = 1000
    assert copy_baseline_loss(T) == pytest.approx(10 * math.log(8) / (T + 20))
    assert round(copy_baseline_loss(1000), 4) == 0.0204  # Bai et al.'s figure
    # the memoryless strategy's cross-entropy on generated data: 0 for blanks, ln 8 for the digits
    _, y = copy_memory(100, 40, seed=0)
    logits = torch.full((100, 60, 10), -1e9)
    logits[:, :50, 0] = 0.0
    logits[:, 50:, 1:9] = 0.0
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 10), y.reshape(-1))
    assert float(loss) == pytest.approx(copy_baseline_loss(40), rel=1e-5)


def test_same_seed_same_data_other_seed_other_data():
    assert torch.equal(adding_problem(10, 8, seed=5)[0], adding_problem(10, 8, seed=5)[0])
    assert not torch.equal(adding_problem(10, 8, seed=5)[0], adding_problem(10, 8, seed=6)[0])
    assert torch.equal(copy_memory(10, 8, seed=5)[0], copy_memory(10, 8, seed=5)[0])


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: adding_problem(0, 10), InvalidValueError),
        (lambda: adding_problem(5, 1), InvalidValueError),
        (lambda: adding_problem(5, 2.5), InvalidTypeError),
        (lambda: adding_problem(5, 10, seed=-1), InvalidValueError),
        (lambda: copy_memory(5, 0), InvalidValueError),
        (lambda: copy_memory(5, 10, memory=0), InvalidValueError),
        (lambda: copy_baseline_loss("10"), InvalidTypeError),
    ],
)
def test_bad_arguments_are_named(call, error):
    with pytest.raises(error):
        call()
