"""The extended cells (layer-norm LSTM/GRU, peephole LSTM, IndRNN, minGRU, minLSTM): each against
a reference written from its paper's equations, stepped by hand against the layer, state-dict round
trips, gates, and gradcheck in float64."""

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from rnnkit import Recurrent
from rnnkit.cells import (
    IndRNNCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    MinGRUCell,
    MinLSTMCell,
    PeepholeLSTMCell,
)

I, H, B, T = 4, 5, 3, 6
CELLS = {
    "layernorm_lstm": LayerNormLSTMCell,
    "layernorm_gru": LayerNormGRUCell,
    "peephole_lstm": PeepholeLSTMCell,
    "indrnn": IndRNNCell,
    "indrnn_tanh": functools.partial(IndRNNCell, nonlinearity="tanh"),
    "mingru": MinGRUCell,
    "minlstm": MinLSTMCell,
}
GATES = {
    "layernorm_lstm": {"input", "forget", "cell", "output"},
    "layernorm_gru": {"reset", "update", "new"},
    "peephole_lstm": {"input", "forget", "cell", "output"},
    "mingru": {"update"},
    "minlstm": {"forget", "input"},
}


def _randomize(module: nn.Module) -> nn.Module:
    """Every parameter random (so layer-norm gains and biases, peepholes are not at their init)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return module


def _state(cell, batch=B, dtype=torch.float32):
    parts = tuple(torch.randn(batch, s, dtype=dtype) for s in cell.state_sizes)
    return parts if cell.state_is_tuple else parts[0]


# ---- equations written out, independent of the cells' code --------------------------------------


def _ln(a, gain, bias):
    mu = a.mean(-1, keepdim=True)
    var = a.var(-1, unbiased=False, keepdim=True)
    return gain * (a - mu) / torch.sqrt(var + 1e-5) + bias


def _ref_layernorm_lstm(p, x, h, c):
    """Ba et al. 2016: LN on each projection and on c_t where it feeds h_t; c_t carried as is."""
    z = _ln(x @ p["weight_ih"].T, p["ln_ih_weight"], p["ln_ih_bias"]) + _ln(
        h @ p["weight_hh"].T, p["ln_hh_weight"], p["ln_hh_bias"]
    )
    i, f, g, o = z.chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * _ln(c, p["ln_c_weight"], p["ln_c_bias"]).tanh()
    return h, c


class _CustomLSTMsLayerNormLSTMCell(nn.Module):
    """torch's benchmarks/fastrnns/custom_lstms.py ``LayerNormLSTMCell``, written from its equations."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.randn(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, hidden_size))
        self.layernorm_i = nn.LayerNorm(4 * hidden_size)
        self.layernorm_h = nn.LayerNorm(4 * hidden_size)
        self.layernorm_c = nn.LayerNorm(hidden_size)

    def forward(self, x, state):
        hx, cx = state
        gates = self.layernorm_i(torch.mm(x, self.weight_ih.t())) + self.layernorm_h(torch.mm(hx, self.weight_hh.t()))
        i, f, g, o = gates.chunk(4, 1)
        cy = self.layernorm_c(f.sigmoid() * cx + i.sigmoid() * g.tanh())
        hy = o.sigmoid() * torch.tanh(cy)
        return hy, (hy, cy)


def _ref_layernorm_gru(p, x, h):
    xr, xz, xn = _ln(x @ p["weight_ih"].T, p["ln_ih_weight"], p["ln_ih_bias"]).chunk(3, -1)
    hr, hz, hn = _ln(h @ p["weight_hh"].T, p["ln_hh_weight"], p["ln_hh_bias"]).chunk(3, -1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h


def _ref_peephole(p, x, h, c):
    z = x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
    zi, zf, zg, zo = z.chunk(4, -1)
    pi, pf, po = p["weight_ch"].chunk(3)
    i, f = (zi + pi * c).sigmoid(), (zf + pf * c).sigmoid()
    c = f * c + i * zg.tanh()
    o = (zo + po * c).sigmoid()
    return o * c.tanh(), c


def _g(v):
    return torch.where(v >= 0, v + 0.5, v.sigmoid())


def _log_g(v):
    return torch.where(v >= 0, (F.relu(v) + 0.5).log(), -F.softplus(-v))


def _heinsen_scan_log(log_coeffs, log_values):
    """lucidrains' ``heinsen_associative_scan_log``: h_t = a_t h_{t-1} + b_t in log space, over dim 1."""
    a_star = log_coeffs.cumsum(dim=1)
    log_h0_plus_b_star = (log_values - a_star).logcumsumexp(dim=1)
    return (a_star + log_h0_plus_b_star).exp()


def _ref_mingru_parallel(weight, x):
    """lucidrains' minGRU forward over a whole sequence from h_0 = 0 (bias-free projection)."""
    hidden, gate = (x @ weight.T).chunk(2, dim=-1)
    return _heinsen_scan_log(-F.softplus(gate), -F.softplus(-gate) + _log_g(hidden))


def _ref_mingru_step(weight, x, h):
    hidden, gate = (x @ weight.T).chunk(2, dim=-1)
    return torch.lerp(h, _g(hidden), gate.sigmoid())


def _ref_minlstm_parallel(weight, x):
    hidden, f_gate, i_gate = (x @ weight.T).chunk(3, dim=-1)
    diff = F.softplus(-f_gate) - F.softplus(-i_gate)
    return _heinsen_scan_log(-F.softplus(diff), -F.softplus(-diff) + _log_g(hidden))


def _ref_minlstm_step(weight, x, h):
    hidden, f, i = (x @ weight.T).chunk(3, dim=-1)
    f, i = f.sigmoid(), i.sigmoid()
    return h * f / (f + i) + _g(hidden) * i / (f + i)


# ---- references ------------------------------------------------------------------------------------


def test_layernorm_lstm_matches_ba_et_al_over_a_sequence():
    cell = _randomize(LayerNormLSTMCell(I, H)).double()
    p = dict(cell.named_parameters())
    x = torch.randn(T, B, I, dtype=torch.double)
    h, c = _state(cell, dtype=torch.double)
    state = (h, c)
    for t in range(T):
        out, state = cell(x[t], state)
        h, c = _ref_layernorm_lstm(p, x[t], h, c)
        torch.testing.assert_close(out, h)
        torch.testing.assert_close(state[1], c)


def test_layernorm_lstm_step_matches_custom_lstms_cell():
    """From the same state, torch's custom_lstms cell gives our h_t, and its carried c is LN(our c_t)."""
    ours, ref = LayerNormLSTMCell(I, H), _CustomLSTMsLayerNormLSTMCell(I, H)
    _randomize(ref)
    with torch.no_grad():
        ours.weight_ih.copy_(ref.weight_ih)
        ours.weight_hh.copy_(ref.weight_hh)
        for mine, theirs in (("ln_ih", ref.layernorm_i), ("ln_hh", ref.layernorm_h), ("ln_c", ref.layernorm_c)):
            getattr(ours, mine + "_weight").copy_(theirs.weight)
            getattr(ours, mine + "_bias").copy_(theirs.bias)
    x, state = torch.randn(B, I), _state(ours)
    h, (_, c) = ours(x, state)
    h_ref, (_, c_ref) = ref(x, state)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(F.layer_norm(c, (H,), ours.ln_c_weight, ours.ln_c_bias), c_ref)


def test_layernorm_gru_matches_equations():
    cell = _randomize(LayerNormGRUCell(I, H)).double()
    p = dict(cell.named_parameters())
    x, h = torch.randn(B, I, dtype=torch.double), torch.randn(B, H, dtype=torch.double)
    torch.testing.assert_close(cell(x, h)[0], _ref_layernorm_gru(p, x, h))


def test_layernorm_init_is_unit_gain_zero_bias():
    cell = LayerNormLSTMCell(I, H)
    for name in ("ln_ih", "ln_hh", "ln_c"):
        assert torch.equal(getattr(cell, name + "_weight"), torch.ones_like(getattr(cell, name + "_weight")))
        assert torch.equal(getattr(cell, name + "_bias"), torch.zeros_like(getattr(cell, name + "_bias")))


def test_peephole_matches_equations():
    cell = _randomize(PeepholeLSTMCell(I, H)).double()
    p = dict(cell.named_parameters())
    x, (h, c) = torch.randn(B, I, dtype=torch.double), _state(cell, dtype=torch.double)
    out, (_, c_out) = cell(x, (h, c))
    h_ref, c_ref = _ref_peephole(p, x, h, c)
    torch.testing.assert_close(out, h_ref)
    torch.testing.assert_close(c_out, c_ref)


def test_peephole_with_zero_peepholes_is_torch_lstm():
    ref = nn.LSTM(I, H, num_layers=2)
    layer = Recurrent(PeepholeLSTMCell, I, H, num_layers=2)
    missing, unexpected = layer.load_state_dict(ref.state_dict(), strict=False)
    assert sorted(missing) == ["weight_ch_l0", "weight_ch_l1"] and not unexpected
    with torch.no_grad():
        layer.weight_ch_l0.zero_()
        layer.weight_ch_l1.zero_()
    x = torch.randn(T, B, I)
    out, (h, c) = layer(x)
    out_ref, (h_ref, c_ref) = ref(x)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(c, c_ref)


def test_indrnn_is_an_elman_rnn_with_a_diagonal_recurrent_matrix():
    for nonlinearity in ("relu", "tanh"):
        layer = Recurrent(functools.partial(IndRNNCell, nonlinearity=nonlinearity), I, H)
        ref = nn.RNN(I, H, nonlinearity=nonlinearity)
        with torch.no_grad():
            ref.weight_ih_l0.copy_(layer.weight_ih_l0)
            ref.bias_ih_l0.copy_(layer.bias_ih_l0)
            ref.bias_hh_l0.zero_()
            ref.weight_hh_l0.copy_(torch.diag(layer.weight_hh_l0))
        x, h0 = torch.randn(T, B, I), torch.rand(1, B, H)
        torch.testing.assert_close(layer(x, h0)[0], ref(x, h0)[0])


def test_indrnn_init_recurrent_weights_in_unit_interval():
    u = IndRNNCell(I, 200).weight_hh.detach()
    assert float(u.min()) >= 0.0 and float(u.max()) <= 1.0 and float(u.max()) > 0.5


@pytest.mark.parametrize(
    "cls,parallel,step",
    [(MinGRUCell, _ref_mingru_parallel, _ref_mingru_step), (MinLSTMCell, _ref_minlstm_parallel, _ref_minlstm_step)],
)
def test_min_cells_match_lucidrains_equations(cls, parallel, step):
    """The layer (time loop) equals lucidrains' log-space parallel scan from h_0 = 0, and one step
    from a positive state equals lucidrains' sequential path."""
    layer = Recurrent(functools.partial(cls, bias=False), I, H, batch_first=True).double()
    x = torch.randn(B, T, I, dtype=torch.double) * 2
    out, h_last = layer(x)
    ref = parallel(layer.weight_ih_l0, x)
    torch.testing.assert_close(out, ref)
    h = torch.rand(B, H, dtype=torch.double)
    cell = layer.cell_grid()[0][0]
    torch.testing.assert_close(cell(x[:, 0], h)[0], step(layer.weight_ih_l0, x[:, 0], h))


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_scan_coefficients_reproduce_the_layer(cls):
    """recur() is a * h + b from scan_coefficients, for all steps at once: a cumulative linear scan
    from the coefficients equals the layer's output, and a lies in (0, 1), b > 0 (log-space safe)."""
    layer = _randomize(Recurrent(cls, I, H)).double()
    cell, w = layer.cell_grid()[0][0], layer.weight_plan()[0][0]
    x, h = torch.randn(T, B, I, dtype=torch.double), torch.rand(B, H, dtype=torch.double)
    a, b = cell.scan_coefficients(cell.project_input(x, w), w)  # (T, B, H)
    assert a.shape == b.shape == (T, B, H)
    assert bool((a > 0).all() and (a < 1).all() and (b > 0).all())
    outs, hs = [], h
    for t in range(T):
        hs = a[t] * hs + b[t]
        outs.append(hs)
    out, last = layer(x, h.unsqueeze(0))
    torch.testing.assert_close(out, torch.stack(outs))
    torch.testing.assert_close(last[0], outs[-1])


def test_minlstm_normalised_gates_are_stable_for_large_preactivations():
    cell = MinLSTMCell(1, 1, bias=False).double()
    hidden, f, i = torch.tensor([[0.0, 200.0, -200.0]], dtype=torch.double).chunk(3, -1)
    a, b = cell.scan_coefficients(torch.cat([hidden, f, i], -1), cell.weights())
    assert torch.isfinite(a).all() and torch.isfinite(b).all()
    torch.testing.assert_close(a, torch.ones_like(a))


# ---- every cell: hand-stepped == layer, round trips, gates, gradcheck ------------------------------


@pytest.mark.parametrize("name", list(CELLS))
def test_cell_stepped_by_hand_equals_layer(name):
    layer = _randomize(Recurrent(CELLS[name], I, H, num_layers=2, bidirectional=True))
    x = torch.randn(T, B, I)
    out, final = layer(x)
    grid, layer_input, finals = layer.cell_grid(), x, []
    for row in grid:
        outs = []
        for d, cell in enumerate(row):
            state = cell.init_state(B)
            steps = []
            for x_t in layer_input.flip(0) if d else layer_input:
                h, state = cell(x_t, state)
                steps.append(h)
            outs.append(torch.stack(steps[::-1] if d else steps))
            finals.append(state)
        layer_input = torch.cat(outs, -1)
    torch.testing.assert_close(out, layer_input)
    first = [s[0] if isinstance(s, tuple) else s for s in finals]
    torch.testing.assert_close(final[0] if isinstance(final, tuple) else final, torch.stack(first))


@pytest.mark.parametrize("name", list(CELLS))
def test_state_dict_round_trip(name, tmp_path):
    from safetensors.torch import load_file, save_file

    cell = _randomize(CELLS[name](I, H))
    again = CELLS[name](I, H)
    again.load_state_dict(cell.state_dict(), strict=True)
    x, state = torch.randn(B, I), _state(cell)
    torch.testing.assert_close(again(x, state)[0], cell(x, state)[0])

    layer = _randomize(Recurrent(CELLS[name], I, H, num_layers=2, batch_first=True))
    save_file(layer.state_dict(), str(tmp_path / "w.safetensors"))
    copy = Recurrent(CELLS[name], I, H, num_layers=2, batch_first=True)
    copy.load_state_dict(load_file(str(tmp_path / "w.safetensors")), strict=True)
    xs = torch.randn(B, T, I)
    torch.testing.assert_close(copy(xs)[0], layer(xs)[0])


@pytest.mark.parametrize("name", list(CELLS))
def test_gradcheck_float64(name):
    layer = _randomize(Recurrent(CELLS[name], 3, 3, num_layers=1)).double()
    x = torch.randn(4, 2, 3, dtype=torch.double, requires_grad=True)
    params = tuple(layer.parameters())

    def run(x, *weights):
        out, _ = torch.func.functional_call(layer, dict(zip([n for n, _ in layer.named_parameters()], weights)), (x,))
        return out

    assert torch.autograd.gradcheck(run, (x, *params), eps=1e-6, atol=1e-5, fast_mode=True)


@pytest.mark.parametrize("name", list(GATES))
def test_gates_named_and_bounded(name):
    cell = _randomize(CELLS[name](I, H))
    w, state = cell.weights(), _state(cell)
    gates = cell.gates(cell.project_input(torch.randn(B, I), w), state, w)
    assert set(gates) == GATES[name]
    for value in gates.values():
        assert value.shape == (B, H)
        assert bool((value >= -1).all() and (value <= 1).all())


def test_indrnn_has_no_gates():
    cell = IndRNNCell(I, H)
    with pytest.raises(ValueError, match="no gates"):
        cell.gates(torch.zeros(B, H), torch.zeros(B, H), cell.weights())


def test_exported_at_top_level():
    for cls in CELLS.values():
        cls = getattr(cls, "func", cls)
        assert getattr(rnnkit, cls.__name__) is cls


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="nonlinearity"):
        IndRNNCell(I, H, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="bias"):
        MinGRUCell(I, H, bias="yes")
    with pytest.raises(ValueError, match="hidden_size"):
        LayerNormLSTMCell(I, 0)
