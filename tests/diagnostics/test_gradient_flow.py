"""The gradient-flow recorder (rnnkit.diagnostics.gradient_flow): ||dL/dh_t|| per layer, direction
and step, against independent by-hand computations with torch.nn cells."""

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.diagnostics.gradient_flow import record_gradient_flow, trainer_gradient_flow
from rnnkit.training import TrainConfig, Trainer
from tests.training.training_helpers import Regressor, SeqDataset, mse_step


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
    assert model.rnn.step_hooks() == () and not model.rnn._forward_pre_hooks  # and its hooks removed


def test_gradient_flow_from_the_trainer_and_with_lengths():
    model = Regressor()
    trainer = Trainer(model, TrainConfig(max_steps=1), step_fn=lambda m, b: mse_step(m, b))
    ds = SeqDataset(n=4)
    flow = trainer_gradient_flow(trainer, (ds.x, ds.y))
    assert flow["rnn"].shape == (1, 6) and (flow["rnn"] > 0).all()
    lengths = torch.tensor([6, 3, 2, 6])
    flow = record_gradient_flow(model, lambda m: m(ds.x, lengths=lengths).sum())
    assert flow["rnn"].shape == (1, 6)
    ragged = record_gradient_flow(model, lambda m: m(ds.x[[1, 2]], lengths=lengths[[1, 2]]).sum())
    assert ragged["rnn"][0, 3:].eq(0).all()  # past every sequence's end: no gradient


def _hand_flow_bidirectional(layer, x, lengths, weight):
    """dL/dh_t for every layer and direction of a bidirectional, batch-first GRU, by injecting zero
    perturbations into torch.nn.GRUCell steps, each sequence alone and within its own length."""
    H, L, (B, T) = layer.hidden_size, layer.num_layers, x.shape[:2]
    cells = {}
    for k in range(L):
        for d, suffix in enumerate(("", "_reverse")):
            c = nn.GRUCell(layer.input_size if k == 0 else 2 * H, H, dtype=x.dtype)
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(c, n).data.copy_(getattr(layer, f"{n}_l{k}{suffix}"))
            cells[k, d] = c
    deltas = [[torch.zeros(B, H, dtype=x.dtype, requires_grad=True) for _ in range(T)] for _ in range(2 * L)]
    loss = 0
    for b, n in enumerate(lengths):
        inp = [x[b : b + 1, t] for t in range(n)]
        for k in range(L):
            fw, rv = [None] * n, [None] * n
            h = torch.zeros(1, H, dtype=x.dtype)
            for t in range(n):
                h = cells[k, 0](inp[t], h) + deltas[2 * k][t][b : b + 1]
                fw[t] = h
            h = torch.zeros(1, H, dtype=x.dtype)
            for t in reversed(range(n)):
                h = cells[k, 1](inp[t], h) + deltas[2 * k + 1][t][b : b + 1]
                rv[t] = h
            inp = [torch.cat([fw[t], rv[t]], dim=-1) for t in range(n)]
        loss = loss + (weight[b, :n] * torch.cat(inp)).sum()
    grads = torch.autograd.grad(loss, [d for row in deltas for d in row])
    return torch.tensor([g.norm().item() for g in grads], dtype=x.dtype).view(2 * L, T)


class _Tagger(nn.Module):
    def __init__(self, engine):
        super().__init__()
        self.rnn = rnnkit.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True, engine=engine)

    def forward(self, x, lengths=None):
        return self.rnn(x, lengths=lengths)[0]


@pytest.mark.parametrize("engine", ["fused", "auto", "loop"])
@pytest.mark.parametrize("lengths", [[5, 5, 5], [5, 2, 4]])
def test_gradient_flow_bidirectional_matches_by_hand(engine, lengths):
    model = _Tagger(engine).double()
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    weight = torch.randn(3, 5, 8, dtype=torch.float64)
    flow = record_gradient_flow(model, lambda m: (weight * m(x, lengths=lengths)).sum())
    got = flow["rnn"]
    assert got.shape == (4, 5)  # rows: l0, l0_reverse, l1, l1_reverse (h_n's order)
    torch.testing.assert_close(got, _hand_flow_bidirectional(model.rnn, x, lengths, weight), rtol=1e-9, atol=1e-12)
    if lengths == [5, 5, 5]:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True)
        again = record_gradient_flow(
            model,
            lambda m: (weight * torch.nn.utils.rnn.pad_packed_sequence(m.rnn(packed)[0], batch_first=True)[0]).sum(),
        )
        torch.testing.assert_close(again["rnn"], got, rtol=1e-9, atol=1e-12)
    assert model.rnn.step_hooks() == ()


def test_gradient_flow_with_packed_ragged_input_and_several_calls():
    model = _Tagger("auto").double()
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    weight = torch.randn(3, 5, 8, dtype=torch.float64)
    lengths = [5, 2, 4]
    want = record_gradient_flow(model, lambda m: (weight * m(x, lengths=lengths)).sum())["rnn"]
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)

    def loss(m):
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(m.rnn(packed)[0], batch_first=True, total_length=5)
        return (weight * out).sum()

    torch.testing.assert_close(record_gradient_flow(model, loss)["rnn"], want, rtol=1e-9, atol=1e-12)
    # two calls in one forward are concatenated along time (each with its own lengths)
    both = record_gradient_flow(
        model, lambda m: (weight * m(x, lengths=lengths)).sum() + (weight[:2] * m(x[:2], lengths=[3, 5])).sum()
    )["rnn"]
    assert both.shape == (4, 10)
    torch.testing.assert_close(both[:, :5], want, rtol=1e-9, atol=1e-12)
    assert both[:, 8:][[0, 1]].ne(0).all()  # the second call's second sequence runs to t = 5


def test_gradient_flow_refuses_what_it_cannot_record():
    with pytest.raises(ValueError, match=r"has no rnnkit.layers.Recurrent module"):
        record_gradient_flow(nn.Linear(2, 2), lambda m: m(torch.ones(2)).sum())
    model = _Tagger("auto")
    with pytest.raises(ValueError, match=r"no recurrent layer ran"):
        record_gradient_flow(model, lambda m: torch.zeros((), requires_grad=True) * 2)
    with pytest.raises(TypeError, match=r"loss_fn must return a scalar tensor, got a tensor of shape \(2, 5, 8\)"):
        record_gradient_flow(model, lambda m: m(torch.randn(2, 5, 3)))
    assert model.rnn.step_hooks() == () and model.training  # restored after an error too
