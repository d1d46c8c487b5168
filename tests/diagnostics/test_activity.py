"""Gate and hidden-state recordings against the cell equations computed by hand."""

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit._checks import InvalidValueError
from rnnkit.diagnostics.activity import gate_saturation, record_activity


def _lstm_by_hand(layer, x, k_weights, reverse=False):
    """LSTM equations step by step from the layer's weights: returns h (B, T, H) and gates."""
    W_ih, W_hh, b_ih, b_hh = k_weights
    B, T, _ = x.shape
    H = W_hh.shape[1]
    h = c = torch.zeros(B, H, dtype=x.dtype)
    hs, gates = [None] * T, {n: [None] * T for n in ("input", "forget", "cell", "output")}
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        z = x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = (
            torch.sigmoid(z[:, :H]),
            torch.sigmoid(z[:, H : 2 * H]),
            torch.tanh(z[:, 2 * H : 3 * H]),
            torch.sigmoid(z[:, 3 * H :]),
        )
        c = f * c + i * g
        h = o * torch.tanh(c)
        hs[t] = h
        for n, v in zip(("input", "forget", "cell", "output"), (i, f, g, o), strict=True):
            gates[n][t] = v
    return torch.stack(hs, 1), {n: torch.stack(v, 1) for n, v in gates.items()}


def _weights(layer, k, suffix=""):
    return [getattr(layer, f"{n}_l{k}{suffix}").detach() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def test_lstm_gates_equal_the_equations_two_layers_bidirectional():
    torch.manual_seed(0)
    layer = rnnkit.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    act = record_activity(layer, lambda m: m(x))[""]
    h0f, g0f = _lstm_by_hand(layer, x, _weights(layer, 0))
    h0r, g0r = _lstm_by_hand(layer, x, _weights(layer, 0, "_reverse"), reverse=True)
    x1 = torch.cat([h0f, h0r], dim=-1)
    h1f, g1f = _lstm_by_hand(layer, x1, _weights(layer, 1))
    h1r, g1r = _lstm_by_hand(layer, x1, _weights(layer, 1, "_reverse"), reverse=True)
    for key, (h, g) in {(0, 0): (h0f, g0f), (0, 1): (h0r, g0r), (1, 0): (h1f, g1f), (1, 1): (h1r, g1r)}.items():
        torch.testing.assert_close(act.hidden[key], h)
        for name in g:
            torch.testing.assert_close(act.gates[key][name], g[name], msg=f"{key} {name}")
    out, _ = layer(x)  # the recording did not change what the layer computes
    torch.testing.assert_close(torch.cat([act.hidden[(1, 0)], act.hidden[(1, 1)]], -1), out)


def test_gru_gates_equal_the_equations_with_a_given_state():
    torch.manual_seed(1)
    layer = rnnkit.GRU(3, 4, batch_first=True).double()
    x, h0 = torch.randn(2, 6, 3, dtype=torch.float64), torch.randn(1, 2, 4, dtype=torch.float64)
    act = record_activity(layer, lambda m: m(x, h0))[""]
    W_ih, W_hh, b_ih, b_hh = _weights(layer, 0)
    h = h0[0]
    for t in range(6):
        xr, xz, xn = (x[:, t] @ W_ih.T + b_ih).chunk(3, -1)
        hr, hz, hn = (h @ W_hh.T + b_hh).chunk(3, -1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        for name, want in (("reset", r), ("update", z), ("new", n)):
            torch.testing.assert_close(act.gates[(0, 0)][name][:, t], want)
        torch.testing.assert_close(act.hidden[(0, 0)][:, t], h)


def test_lengths_mark_the_real_steps_and_the_reverse_direction_starts_at_each_end():
    torch.manual_seed(2)
    layer = rnnkit.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    act = record_activity(layer, lambda m: m(x, lengths=[5, 3]))[""]
    assert act.mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    _, g = _lstm_by_hand(layer, x[1:, :3], _weights(layer, 0, "_reverse"), reverse=True)  # the short one alone
    torch.testing.assert_close(act.gates[(0, 1)]["forget"][1:, :3], g["forget"])


def test_saturation_fractions_count_values_beyond_the_thresholds():
    torch.manual_seed(3)
    layer = rnnkit.LSTM(2, 3, batch_first=True)
    act = record_activity(layer, lambda m: m(torch.randn(4, 7, 2) * 20))[""]  # large inputs saturate
    sat = gate_saturation(act)[(0, 0)]
    f = act.gates[(0, 0)]["forget"]
    left, right = sat["forget"]
    torch.testing.assert_close(left, (f < 0.1).float().mean(dim=(0, 1)))
    torch.testing.assert_close(right, (f > 0.9).float().mean(dim=(0, 1)))
    assert float(left.mean() + right.mean()) > 0.3
    g = act.gates[(0, 0)]["cell"]  # tanh-valued: thresholds -0.8 and 0.8
    torch.testing.assert_close(sat["cell"][1], (g > 0.8).float().mean(dim=(0, 1)))


def test_elman_has_hidden_states_but_no_gates():
    layer = rnnkit.RNN(2, 3, batch_first=True)
    act = record_activity(layer, lambda m: m(torch.randn(1, 4, 2)))[""]
    assert act.hidden[(0, 0)].shape == (1, 4, 3) and not act.gates
    with pytest.raises(InvalidValueError, match="no gates"):
        gate_saturation(act)
    with pytest.raises(InvalidValueError, match="no rnnkit.layers.Recurrent"):
        record_activity(nn.Linear(2, 2), lambda m: m(torch.zeros(1, 2)))
