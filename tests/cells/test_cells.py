"""Cells: parity with torch.nn's cells, state-dict interchange, equations, and a cell stepped by hand."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

import rnnkit
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell

I, H = 4, 6


def _pairs():
    yield "elman_tanh", ElmanCell(I, H), nn.RNNCell(I, H)
    yield "elman_relu", ElmanCell(I, H, nonlinearity="relu"), nn.RNNCell(I, H, nonlinearity="relu")
    yield "lstm", LSTMCell(I, H), nn.LSTMCell(I, H)
    yield "gru", GRUCell(I, H), nn.GRUCell(I, H)
    yield "gru_nobias", GRUCell(I, H, bias=False), nn.GRUCell(I, H, bias=False)


@pytest.mark.parametrize("name,ours,ref", list(_pairs()), ids=[p[0] for p in _pairs()])
def test_cell_matches_torch_cell(name, ours, ref):
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(3, I, requires_grad=True)
    if isinstance(ours, LSTMCell):
        state = (torch.randn(3, H, requires_grad=True), torch.randn(3, H, requires_grad=True))
        h, (h2, c) = ours(x, state)
        h_ref, c_ref = ref(x, state)
        torch.testing.assert_close(c, c_ref)
        outs, refs, inputs = (h, c), (h_ref, c_ref), [x, *state]
    else:
        state = torch.randn(3, H, requires_grad=True)
        h, _ = ours(x, state)
        h_ref = ref(x, state)
        outs, refs, inputs = (h,), (h_ref,), [x, state]
    torch.testing.assert_close(h, h_ref)
    w = [torch.randn_like(o) for o in outs]
    g = torch.autograd.grad(sum((a * b).sum() for a, b in zip(w, outs)), inputs + list(ours.parameters()))
    g_ref = torch.autograd.grad(sum((a * b).sum() for a, b in zip(w, refs)), inputs + list(ref.parameters()))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


def test_lstm_equations_by_hand():
    cell = LSTMCell(I, H).double()
    x, h0, c0 = torch.randn(2, I).double(), torch.randn(2, H).double(), torch.randn(2, H).double()
    W, U, b = cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh
    z = x @ W.T + h0 @ U.T + b
    i, f, g, o = z[:, :H].sigmoid(), z[:, H : 2 * H].sigmoid(), z[:, 2 * H : 3 * H].tanh(), z[:, 3 * H :].sigmoid()
    c = f * c0 + i * g
    h = o * c.tanh()
    h_ours, (_, c_ours) = cell(x, (h0, c0))
    torch.testing.assert_close(h_ours, h)
    torch.testing.assert_close(c_ours, c)


def test_gru_equations_by_hand():
    cell = GRUCell(I, H).double()
    x, h0 = torch.randn(2, I).double(), torch.randn(2, H).double()
    xi = x @ cell.weight_ih.T + cell.bias_ih
    hh = h0 @ cell.weight_hh.T + cell.bias_hh
    r = (xi[:, :H] + hh[:, :H]).sigmoid()
    z = (xi[:, H : 2 * H] + hh[:, H : 2 * H]).sigmoid()
    n = (xi[:, 2 * H :] + r * hh[:, 2 * H :]).tanh()  # reset after the hidden matmul, as torch.nn
    torch.testing.assert_close(cell(x, h0)[0], (1 - z) * n + z * h0)


def test_lstm_projection_sizes():
    cell = LSTMCell(I, H, proj_size=2)
    h, (h2, c) = cell(torch.randn(3, I))
    assert h.shape == (3, 2) and c.shape == (3, H) and cell.weight_hr.shape == (2, H)
    assert cell.state_sizes == (2, H) and cell.output_size == 2


@pytest.mark.parametrize("engine", ["fused", "loop"])
@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"])
def test_cell_stepped_by_hand_equals_layer(kind, engine):
    """A layer is its cell applied step by step (forward and reverse directions, ragged), on each engine."""
    cls, kw = {
        "rnn_tanh": (rnnkit.RNN, {}),
        "rnn_relu": (rnnkit.RNN, {"nonlinearity": "relu"}),
        "lstm": (rnnkit.LSTM, {}),
        "lstm_proj": (rnnkit.LSTM, {"proj_size": 3}),
        "gru": (rnnkit.GRU, {}),
    }[kind]
    layer = cls(I, H, bidirectional=True, batch_first=True, engine=engine, **kw)
    P = kw.get("proj_size") or H  # size of h_t (the output)
    cells = layer.cell_grid()[0]
    x = torch.randn(2, 5, I)
    lengths = [5, 3]
    out, hn = layer(x, lengths=lengths)
    assert out.shape == (2, 5, 2 * P)
    for b, n in enumerate(lengths):
        for d, cell in enumerate(cells):
            state = None
            steps = range(n) if d == 0 else reversed(range(n))
            for t in steps:
                h, state = cell(x[b, t], state)  # unbatched step
                torch.testing.assert_close(out[b, t, d * P : (d + 1) * P], h, atol=1e-6, rtol=1e-6)
            for s_layer, s_cell in zip(
                hn if isinstance(hn, tuple) else (hn,), state if isinstance(state, tuple) else (state,)
            ):
                torch.testing.assert_close(s_layer[d, b], s_cell, atol=1e-6, rtol=1e-6)
        assert torch.count_nonzero(out[b, n:]) == 0


def test_elman_docstring_maps_seed_names():
    doc = rnnkit.cells.elman.__doc__
    rows = {
        line.split()[0]: line
        for line in doc.splitlines()
        if line.strip() and line.split()[0] in {"W_xh", "W_hh", "b_h", "W_hy", "b_y"}
    }
    for seed_name, param in [
        ("W_xh", "weight_ih"),
        ("W_hh", "weight_hh"),
        ("b_h", "bias_ih + bias_hh"),
        ("W_hy", "ElmanRNN.out.weight"),
        ("b_y", "ElmanRNN.out.bias"),
    ]:
        assert seed_name in rows, f"{seed_name} has no row in the Elman docstring's table"
        assert param in rows[seed_name], f"{seed_name} is not mapped to {param}: {rows[seed_name]!r}"
    # and the names resolve to those parameters on the model
    model = rnnkit.ElmanRNN(3, 5, 2)
    assert model.W_xh is model.rnn.weight_ih_l0 and model.W_hh is model.rnn.weight_hh_l0
    assert model.W_hy is model.out.weight and model.b_y is model.out.bias
    torch.testing.assert_close(model.b_h, model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0)


def test_elman_rnn_equals_numpy_seed_equations():
    """y_t = W_hy h_t + b_y with h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), straight from the seeds."""
    model = rnnkit.ElmanRNN(3, 5, 2, batch_first=True).double()
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    h0 = torch.randn(1, 4, 5, dtype=torch.float64)
    y, h = model(x, h0)

    W_xh, W_hh, b_h = model.W_xh.detach().numpy(), model.W_hh.detach().numpy(), model.b_h.detach().numpy()
    W_hy, b_y = model.W_hy.detach().numpy(), model.b_y.detach().numpy()
    xs, h_t = x.numpy(), h0[0].numpy()
    ys = []
    for t in range(xs.shape[1]):
        h_t = np.tanh(h_t @ W_hh.T + xs[:, t] @ W_xh.T + b_h)
        ys.append(h_t @ W_hy.T + b_y)
    np.testing.assert_allclose(y.detach().numpy(), np.stack(ys, axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h[0].detach().numpy(), h_t, rtol=1e-12, atol=1e-12)


def test_elman_rnn_relu_and_loop_engine_agree():
    a = rnnkit.ElmanRNN(3, 5, 2, nonlinearity="relu")
    b = rnnkit.ElmanRNN(3, 5, 2, nonlinearity="relu", engine="loop")
    b.load_state_dict(a.state_dict())
    x = torch.randn(6, 2, 3)
    torch.testing.assert_close(a(x)[0], b(x)[0])


@pytest.mark.parametrize("engine", ["fused", "loop"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_elman_rnn_outputs_are_zero_past_each_length(engine, batch_first):
    """y_t past a sequence's end is 0 (not b_y), as the layer's outputs are; real steps are unchanged."""
    model = rnnkit.ElmanRNN(3, 5, 2, batch_first=batch_first, engine=engine)
    with torch.no_grad():
        model.out.bias.fill_(0.5)  # a nonzero b_y, so the padding cannot be 0 by accident
    lengths = [7, 2, 4]
    x = torch.randn(3, 7, 3) if batch_first else torch.randn(7, 3, 3)
    for lens in (lengths, torch.tensor(lengths), np.array(lengths)):
        y, h = model(x, lengths=lens)
        for b, n in enumerate(lengths):
            y_b = y[b] if batch_first else y[:, b]
            assert torch.count_nonzero(y_b[n:]) == 0
            x_b = x[b : b + 1, :n] if batch_first else x[:n, b : b + 1]
            y_alone, h_alone = model(x_b)
            torch.testing.assert_close(y_b[:n], y_alone[0] if batch_first else y_alone[:, 0])
            torch.testing.assert_close(h[:, b], h_alone[:, 0])
    # gradients do not flow from the padded positions
    x.requires_grad_(True)
    y, _ = model(x, lengths=lengths)
    y.sum().backward()
    grad = x.grad[1] if batch_first else x.grad[:, 1]
    assert torch.count_nonzero(grad[2:]) == 0


def _stock_cells():
    yield "elman_tanh", ElmanCell(I, H)
    yield "elman_relu_nobias", ElmanCell(I, H, bias=False, nonlinearity="relu")
    yield "lstm", LSTMCell(I, H)
    yield "lstm_nobias", LSTMCell(I, H, bias=False)
    yield "lstm_proj", LSTMCell(I, H, proj_size=2)
    yield "gru", GRUCell(I, H)


@pytest.mark.parametrize("name,cell", list(_stock_cells()), ids=[p[0] for p in _stock_cells()])
def test_fused_step_equals_project_then_recur(name, cell):
    """``step`` (torch's fused cell kernel for the stock cells) is ``recur(project_input(x))``."""
    cell = cell.double()
    w = cell.weights()
    x = torch.randn(3, I, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(3, s, dtype=torch.float64, requires_grad=True) for s in cell.state_sizes)
    state = state if cell.state_is_tuple else state[0]
    a_h, a_s = cell.step(x, state, w)
    b_h, b_s = cell.recur(cell.project_input(x, w), state, w)
    outs_a, outs_b = (a_h, *(a_s if cell.state_is_tuple else (a_s,))), (b_h, *(b_s if cell.state_is_tuple else (b_s,)))
    inputs = [x, *(state if cell.state_is_tuple else (state,)), *cell.parameters()]
    weights = [torch.randn_like(o) for o in outs_a]
    for a, b in zip(outs_a, outs_b, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)
    ga = torch.autograd.grad(sum((v * o).sum() for v, o in zip(weights, outs_a, strict=True)), inputs)
    gb = torch.autograd.grad(sum((v * o).sum() for v, o in zip(weights, outs_b, strict=True)), inputs)
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_stock_cells_declare_torch_order_and_absent_weights():
    assert LSTMCell(I, H, proj_size=2).weight_names == ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    w = GRUCell(I, H, bias=False).weights()
    assert w._fields == ("weight_ih", "weight_hh", "bias_ih", "bias_hh") and w.bias_ih is None and w.bias_hh is None
    cell = ElmanCell(I, H)
    assert all(a is b for a, b in zip(cell.weights(), cell.parameters(), strict=True))  # the parameters, uncopied


def test_standalone_cell_parametrized_like_torch_cell():
    ours, ref = GRUCell(I, H), nn.GRUCell(I, H)
    ours.load_state_dict(ref.state_dict())
    for cell in (ours, ref):
        weight_norm(cell, "weight_hh")
        with torch.no_grad():
            cell.parametrizations.weight_hh.original0.mul_(1.5)
    x, h = torch.randn(3, I), torch.randn(3, H)
    torch.testing.assert_close(ours(x, h)[0], ref(x, h))


def test_custom_cell_parametrized_before_first_use_is_refused():
    class Plain(rnnkit.cells.RecurrentCell):
        def __init__(self, i, h):
            super().__init__(i, h)
            self.weight = nn.Parameter(torch.randn(h, i + h))

        def project_input(self, x, w):
            return x

        def recur(self, x, state, w):
            h = torch.tanh(F.linear(torch.cat([x, state], -1), w.weight))
            return h, h

    cell = Plain(I, H)
    weight_norm(cell, "weight")
    with pytest.raises(ValueError, match=r"Plain has a parametrized or pruned weight in itself before its first use"):
        cell(torch.randn(2, I))
