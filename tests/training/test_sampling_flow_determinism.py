import math

import pytest
import torch

from rnnkit.training import (
    SamplingSchedule,
    TeacherForcing,
    TrainConfig,
    Trainer,
    exponential_decay,
    inverse_sigmoid_decay,
    linear_decay,
)
from tests.training.training_helpers import Regressor, SeqDataset, mse_step


def test_decay_schedules_hand_computed():
    assert linear_decay(0, k=1.0, c=0.1, eps_min=0.2) == 1.0
    assert linear_decay(5, k=1.0, c=0.1, eps_min=0.2) == pytest.approx(0.5)
    assert linear_decay(50, k=1.0, c=0.1, eps_min=0.2) == 0.2
    assert exponential_decay(3, k=0.5) == 0.125
    assert inverse_sigmoid_decay(0, k=10) == pytest.approx(10 / 11)
    assert inverse_sigmoid_decay(20, k=10) == pytest.approx(10 / (10 + math.e**2))
    assert inverse_sigmoid_decay(10**9, k=10) == 0.0
    s = SamplingSchedule("inverse_sigmoid", k=10)
    assert s(20) == inverse_sigmoid_decay(20, 10)
    with pytest.raises(ValueError, match="k=0.5"):
        SamplingSchedule("inverse_sigmoid", k=0.5)
    with pytest.raises(ValueError, match="'cubic'"):
        SamplingSchedule("cubic")


def test_teacher_forcing_mix_frequency_and_reproducibility():
    tf = TeacherForcing(SamplingSchedule("linear", k=1.0, c=0.25), seed=7)
    teacher, pred = torch.ones(4000, 2), torch.zeros(4000, 2)
    tf.step = 2  # eps = 0.5
    mixed = tf.mix(teacher, pred)
    assert torch.equal(mixed[:, 0], mixed[:, 1])  # one coin per sample
    assert abs(mixed[:, 0].mean().item() - 0.5) < 0.05
    tf.step = 4  # eps = 0: free running
    assert tf.mix(teacher, pred).sum() == 0
    a = TeacherForcing(SamplingSchedule("constant", ratio=0.3), seed=1)
    state = a.state_dict()
    m1 = a.mask((10,))
    a.load_state_dict(state)
    assert torch.equal(a.mask((10,)), m1)


def test_same_seed_gives_bitwise_equal_weights():
    def run(seed):
        torch.manual_seed(0)
        model = Regressor()
        cfg = TrainConfig(max_steps=8, batch_size=5, seed=seed, log_every=100, optimizer="adam")
        Trainer(model, cfg, step_fn=mse_step).fit(SeqDataset())
        return [p.detach().clone() for p in model.parameters()]

    a, b, c = run(1), run(1), run(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))  # the seed matters (data order)
