"""The layer's cells are real submodules: buffers, device/dtype moves, modules() and apply() reach
them, while parameters keep torch.nn's names on the layer and the fused engine reads them uncopied."""

import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from rnnkit.cells import RecurrentCell
from rnnkit.layers.engines.fused import flat_weights

from .reference import INPUT_SIZE, make_pair


class ReservoirCell(RecurrentCell):
    """An echo-state cell: a learned input map, a fixed random recurrent matrix held as a buffer.

    h_t = tanh(W_ih x_t + b + R h_{t-1})      R fixed (a buffer, not trained)
    """

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size) * 0.3)
        self.bias = nn.Parameter(torch.zeros(hidden_size))
        self.register_buffer("reservoir", torch.randn(hidden_size, hidden_size) * 0.2)

    def project_input(self, x, w):
        return F.linear(x, w.weight_ih, w.bias)

    def recur(self, projected_x, state, w):
        h = torch.tanh(projected_x + F.linear(state, self.reservoir))  # F.linear demands one dtype
        return h, h


def _by_hand(layer, x):
    """The reservoir layer (1 layer, uni, time-major) computed from its state dict."""
    sd = layer.state_dict()
    h = torch.zeros(x.shape[1], layer.hidden_size, dtype=x.dtype)
    outs = []
    for x_t in x.unbind(0):
        h = torch.tanh(x_t @ sd["weight_ih_l0"].T + sd["bias_l0"] + h @ sd["cell_l0.reservoir"].T)
        outs.append(h)
    return torch.stack(outs)


def test_custom_cell_buffer_is_in_state_dict_and_follows_double():
    layer = rnnkit.Recurrent(ReservoirCell, 3, 5, num_layers=2, bidirectional=True)
    keys = list(layer.state_dict())
    for suffix in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        assert f"weight_ih{suffix}" in keys and f"bias{suffix}" in keys
        assert f"cell{suffix}.reservoir" in keys
    assert {n for n, _ in layer.named_buffers()} == {
        "cell_l0.reservoir",
        "cell_l0_reverse.reservoir",
        "cell_l1.reservoir",
        "cell_l1_reverse.reservoir",
    }
    # parameters are named once, on the layer: no duplicates under the cells
    assert [n for n, _ in layer.named_parameters()] == [n for n in keys if "reservoir" not in n]

    layer.double()
    assert all(b.dtype == torch.float64 for b in layer.buffers())
    assert all(p.dtype == torch.float64 for p in layer.parameters())
    out, h = layer(torch.randn(6, 2, 3, dtype=torch.float64))
    assert out.dtype == torch.float64 and out.shape == (6, 2, 10)


def test_custom_cell_buffer_values_and_state_dict_round_trip():
    layer = rnnkit.Recurrent(ReservoirCell, 3, 5).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0], _by_hand(layer, x))
    twin = rnnkit.Recurrent(ReservoirCell, 3, 5).double()
    twin.load_state_dict(layer.state_dict(), strict=True)  # the buffer travels with the state dict
    assert torch.equal(twin.cell_l0.reservoir, layer.cell_l0.reservoir)
    torch.testing.assert_close(twin(x)[0], layer(x)[0], atol=0, rtol=0)


def test_modules_apply_and_train_mode_reach_cells():
    layer = rnnkit.LSTM(4, 5, num_layers=2, bidirectional=True)
    cells = [m for m in layer.modules() if isinstance(m, RecurrentCell)]
    assert len(cells) == 4
    assert [c for row in layer.cell_grid() for c in row] == cells
    seen = []
    layer.apply(lambda m: seen.append(m))
    assert all(any(c is s for s in seen) for c in cells)
    layer.eval()
    assert not any(c.training for c in cells)


def test_stock_layers_keep_torch_names_and_fused_engine_reads_parameters_uncopied():
    ours, reference = make_pair("lstm_proj", 2, True)
    assert list(ours.state_dict()) == list(reference.state_dict())  # cells add no keys
    assert list(dict(ours.named_buffers())) == []
    ours(torch.randn(3, 2, INPUT_SIZE))
    params = dict(ours.named_parameters())
    weights = flat_weights(ours.weight_plan())
    assert len(weights) == len(params)
    assert all(w is p for w, p in zip(weights, params.values())), "fused weights must be the parameters"
    assert ours.cell_l1_reverse.weight_hr is ours.weight_hr_l1_reverse


def test_cell_reset_parameters_reaches_the_layer_parameters():
    layer = rnnkit.GRU(4, 5)
    with torch.no_grad():
        for p in layer.parameters():
            p.fill_(7.0)
    layer.cell_l0.reset_parameters()
    assert all(bool((p.abs() <= 5**-0.5).all()) for p in layer.parameters())


class RunningSumCell(RecurrentCell):
    """No parameters at all: ``h_t = h_{t-1} + x_t`` (hidden_size must equal input_size)."""

    def project_input(self, x, w):
        return x

    def recur(self, projected_x, state, w):
        h = state + projected_x
        return h, h


def test_cell_without_parameters_runs_and_takes_dtype_from_the_input():
    layer = rnnkit.Recurrent(RunningSumCell, 3, 3, bidirectional=True, batch_first=True)
    assert list(layer.parameters()) == []
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(2, 5, 3, dtype=dtype)
        out, h = layer(x, lengths=[5, 3])
        assert out.dtype == dtype
        torch.testing.assert_close(out[0, :, :3], x[0].cumsum(0))
        torch.testing.assert_close(out[1, :3, :3], x[1, :3].cumsum(0))
        torch.testing.assert_close(out[1, :3, 3:], x[1, :3].flip(0).cumsum(0).flip(0))  # reverse, within length
        assert torch.count_nonzero(out[1, 3:]) == 0
        torch.testing.assert_close(h[0], torch.stack([x[0].sum(0), x[1, :3].sum(0)]))
    state = layer.init_state(4)
    assert state.shape == (2, 4, 3) and state.dtype == torch.get_default_dtype()
    assert layer.init_state(1, dtype=torch.float64).dtype == torch.float64
    layer.double()  # nothing to convert; still runs
    assert layer(torch.randn(2, 5, 3))[0].shape == (2, 5, 6)
