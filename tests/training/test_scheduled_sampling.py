"""Scheduled sampling lives in rnnkit.models (the models use it); rnnkit.training re-exports it.

(The module is rnnkit/models/scheduled_sampling.py; its tests sit here with the Trainer's, which
drives it.)
"""

import ast
from pathlib import Path

import pytest
import torch

import rnnkit.models.scheduled_sampling as ss
import rnnkit.training as training

PUBLIC = [
    "linear_decay",
    "exponential_decay",
    "inverse_sigmoid_decay",
    "SamplingSchedule",
    "TeacherForcing",
    "mix_inputs",
    "teacher_mask",
]


def test_one_implementation_reexported_by_training():
    for name in PUBLIC:
        assert getattr(training, name) is getattr(ss, name), name


def test_models_module_imports_nothing_from_higher_layers():
    tree = ast.parse(Path(ss.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = ("." * node.level) + (node.module or "")
            assert not any(part in mod for part in ("training", "diagnostics", "serving", "tasks", "cli")), mod
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("rnnkit."), alias.name


def test_teacher_mask_uses_the_given_generator():
    a = ss.teacher_mask((1000,), 0.3, generator=torch.Generator().manual_seed(4))
    b = ss.teacher_mask((1000,), 0.3, generator=torch.Generator().manual_seed(4))
    assert a.dtype == torch.bool and torch.equal(a, b)
    assert abs(a.float().mean().item() - 0.3) < 0.05
    # the global generator is left alone when a generator is given
    torch.manual_seed(0)
    want = torch.rand(3)
    torch.manual_seed(0)
    ss.teacher_mask((50,), 0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.rand(3), want)


def test_mix_inputs_per_sample_with_a_generator():
    teacher, pred = torch.ones(2000, 3), torch.zeros(2000, 3, requires_grad=True)
    g = torch.Generator().manual_seed(0)
    mixed = ss.mix_inputs(teacher, pred, 0.25, generator=g)
    assert torch.equal(mixed[:, 0], mixed[:, 1]) and torch.equal(mixed[:, 0], mixed[:, 2])  # one coin per sample
    assert abs(mixed[:, 0].mean().item() - 0.25) < 0.04
    assert not mixed.requires_grad  # the prediction is fed back detached
    # the same draws as teacher_mask from the same generator state
    mask = ss.teacher_mask((2000,), 0.25, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mixed[:, 0].bool(), mask)
    assert ss.mix_inputs(teacher, pred, 1.0, generator=g) is teacher  # plain teacher forcing: no draw
    assert ss.mix_inputs(teacher, pred, 0.0, generator=g).sum() == 0  # free running


def test_mix_inputs_without_a_generator_draws_from_torch_global_one():
    truth, pred = torch.zeros(1000, 1), torch.ones(1000, 1)
    torch.manual_seed(0)
    a = ss.mix_inputs(truth, pred, 0.7)
    torch.manual_seed(0)
    keep = torch.rand(1000, 1) < 0.7
    assert torch.equal(a, torch.where(keep, truth, pred))


@pytest.mark.parametrize(
    "bad,match",
    [
        (dict(p_teacher=1.5), "p_teacher must be a number in \\[0, 1\\], got 1.5"),
        (dict(p_teacher=float("nan")), "p_teacher"),
        (dict(predicted=torch.zeros(3, 2)), "same shape"),
        (dict(generator="seed"), "generator must be a torch.Generator or None, got str"),
    ],
)
def test_mix_inputs_validates(bad, match):
    args = dict(teacher=torch.zeros(4, 2), predicted=torch.zeros(4, 2), p_teacher=0.5, generator=None)
    args.update(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        ss.mix_inputs(**args)


def test_teacher_forcing_accepts_a_generator_and_round_trips():
    g = torch.Generator().manual_seed(9)
    tf = ss.TeacherForcing(ss.SamplingSchedule("exponential", k=0.5), generator=g)
    assert tf.generator is g
    tf.step = 1
    assert tf.ratio == 0.5
    state = tf.state_dict()
    m1 = tf.mask((20,))
    tf.load_state_dict(state)
    assert torch.equal(tf.mask((20,)), m1)
    with pytest.raises(TypeError, match="generator"):
        ss.TeacherForcing(generator=3)
