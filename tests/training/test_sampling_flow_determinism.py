import math

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.training import (SamplingSchedule, TeacherForcing, TrainConfig, Trainer, exponential_decay,
                             inverse_sigmoid_decay, linear_decay, record_gradient_flow)
from training_helpers import Regressor, SeqDataset, mse_step


def test_decay_schedules_hand_computed():
    assert linear_decay(0, k=1.0, c=0.1, eps_min=0.2) == 1.0
    assert linear_decay(5, k=1.0, c=0.1, eps_min=0.2) == pytest.approx(0.5)
    assert linear_decay(50, k=1.0, c=0.1, eps_min=0.2) == 0.2
    assert exponential_decay(3, k=0.5) == 0.125
    assert inverse_sigmoid_decay(0, k=10) == pytest.approx(10 / 11)
    assert inverse_sigmoid_decay(20, k=10) == pytest.approx(10 / (10 + math.e ** 2))
    assert inverse_sigmoid_decay(10 ** 9, k=10) == 0.0
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


def _hand_flow(layer, head, x):
    """dL/dh_t by injecting zero perturbations d_t into h_t of torch.nn.LSTMCell steps (independent path)."""
    cells = []
    for k in range(layer.num_layers):
        c = nn.LSTMCell(layer.input_size if k == 0 else layer.hidden_size, layer.hidden_size)
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(c, n).data.copy_(getattr(layer, f"{n}_l{k}"))
        cells.append(c)
    B, T = x.shape[0], x.shape[1]
    deltas = [[torch.zeros(B, layer.hidden_size, requires_grad=True) for _ in range(T)] for _ in cells]
    inp = list(x.unbind(1))
    for k, c in enumerate(cells):
        h = cx = torch.zeros(B, layer.hidden_size)
        outs = []
        for t in range(T):
            h, cx = c(inp[t], (h, cx))
            h = h + deltas[k][t]
            outs.append(h)
        inp = outs
    loss = head(inp[-1]).pow(2).sum()  # the loss sees the last step only
    grads = torch.autograd.grad(loss, [d for row in deltas for d in row])
    return torch.tensor([g.norm().item() for g in grads]).view(len(cells), T)


class _LastStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = rnnkit.LSTM(3, 5, num_layers=2, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def test_gradient_flow_matches_autograd_by_hand():
    model = _LastStep()
    x = torch.randn(4, 6, 3)
    flow = record_gradient_flow(model, lambda m: m(x).pow(2).sum())
    got = flow["rnn"]
    assert got.shape == (2, 6)
    want = _hand_flow(model.rnn, model.head, x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)
    assert (got[:, :-1] > 0).all()  # the recurrent path reaches early steps (not just the output's gradient)
    assert all(p.grad is None for p in model.parameters())  # parameter gradients untouched
    assert model.rnn.forward.__func__ is rnnkit.LSTM.forward  # the layer is restored


def test_gradient_flow_from_the_trainer_and_with_lengths():
    model = Regressor()
    trainer = Trainer(model, TrainConfig(max_steps=1), step_fn=lambda m, b: mse_step(m, b))
    ds = SeqDataset(n=4)
    flow = trainer.gradient_flow((ds.x, ds.y))
    assert flow["rnn"].shape == (1, 6) and (flow["rnn"] > 0).all()
    lengths = torch.tensor([6, 3, 2, 6])
    flow = record_gradient_flow(model, lambda m: m(ds.x, lengths=lengths).sum())
    assert flow["rnn"].shape == (1, 6)
    ragged = record_gradient_flow(model, lambda m: m(ds.x[[1, 2]], lengths=lengths[[1, 2]]).sum())
    assert ragged["rnn"][0, 3:].eq(0).all()  # past every sequence's end: no gradient


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
