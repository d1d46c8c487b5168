"""The scan engine (rnnkit.layers.engines.scan) against the loop engine: values, final states and
every gradient on the parity grid's shapes; both scans under gradcheck; engine choice."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.cells.base import RecurrentCell
from rnnkit.layers.engines import select_engine
from rnnkit.layers.engines.scan import SequentialScan, parallel_scan, scan
from rnnkit.layers.sequences import SequenceBatch

from .test_parity import RAGGED, TOL, B, T

I, H = 4, 5


class DecayCell(RecurrentCell):
    """A linear recurrence for the tests: ``h_t = sigmoid(u_t) * h_{t-1} + tanh(v_t)``, [u; v] = W x_t + b."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(2 * hidden_size, input_size))
        self.bias_ih = nn.Parameter(torch.empty(2 * hidden_size))
        self.reset_parameters()

    def project_input(self, x, w):
        return F.linear(x, w.weight_ih, w.bias_ih)

    def scan_coefficients(self, projected_x, w):
        u, v = projected_x.chunk(2, dim=-1)
        return torch.sigmoid(u), torch.tanh(v)

    def recur(self, projected_x, state, w):
        a, b = self.scan_coefficients(projected_x, w)
        h = a * state + b
        return h, h


def _cells():
    cells = [DecayCell]
    try:
        from rnnkit.cells.minrnn import MinGRUCell, MinLSTMCell
    except ImportError:  # pragma: no cover - until the minRNN cells land
        print("rnnkit.cells.minrnn absent: scan engine tested on DecayCell only")
    else:
        cells += [MinGRUCell, MinLSTMCell]
    return cells


GRID = [  # the full grid for DecayCell; the library's cells stacked and bidirectional
    p
    for p in itertools.product(
        _cells(), [1, 2], [False, True], [False, True], ["equal", "lengths", "packed"], ["scan", "scan-parallel"]
    )
    if p[0] is DecayCell or (p[1] == 2 and p[2])
]


def _id(p):
    cell, layers, bi, bf, mode, engine = p
    return f"{cell.__name__}-L{layers}-{'bi' if bi else 'uni'}-{'bf' if bf else 'tf'}-{mode}-{engine}"


def _run(layer, x, h0, mode, batch_first):
    if mode == "equal":
        return layer(x, h0)
    if mode == "lengths":
        return layer(x, h0, lengths=RAGGED)
    packed = pack_padded_sequence(x, torch.tensor(RAGGED), batch_first=batch_first, enforce_sorted=False)
    out, hn = layer(packed, h0)
    out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return out, hn


@pytest.mark.parametrize("case", GRID, ids=[_id(p) for p in GRID])
def test_scan_engine_equals_loop_engine(case):
    cell, num_layers, bidirectional, batch_first, mode, engine = case
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    ours = rnnkit.Recurrent(cell, I, H, engine=engine, **kw)
    loop = rnnkit.Recurrent(cell, I, H, engine="loop", **kw)
    loop.load_state_dict(ours.state_dict())
    x = torch.randn(*((B, T, I) if batch_first else (T, B, I)), requires_grad=True)
    h0 = torch.randn(num_layers * (2 if bidirectional else 1), B, H).abs().requires_grad_()
    out, hn = _run(ours, x, h0, mode, batch_first)
    out_ref, hn_ref = _run(loop, x, h0, mode, batch_first)
    torch.testing.assert_close(out, out_ref, **TOL)
    torch.testing.assert_close(hn, hn_ref, **TOL)
    w_out, w_h = torch.randn_like(out), torch.randn_like(hn)
    g = torch.autograd.grad((w_out * out).sum() + (w_h * hn).sum(), [x, h0, *ours.parameters()])
    g_ref = torch.autograd.grad((w_out * out_ref).sum() + (w_h * hn_ref).sum(), [x, h0, *loop.parameters()])
    names = ["input", "h0"] + [n for n, _ in ours.named_parameters()]
    for name, a, b in zip(names, g, g_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")


@pytest.mark.parametrize("steps", [1, 2, 5, 8])
def test_both_scans_pass_gradcheck_in_float64(steps):
    a = torch.rand(steps, 3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(steps, 3, 4, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SequentialScan.apply, (a, b, h0))
    assert torch.autograd.gradcheck(parallel_scan, (a, b, h0))


@pytest.mark.parametrize("steps", [1, 3, 7, 16, 33])
def test_parallel_scan_equals_the_recurrence_written_out(steps):
    a, b = torch.rand(steps, 2, 3, dtype=torch.float64), torch.randn(steps, 2, 3, dtype=torch.float64)
    h = torch.randn(2, 3, dtype=torch.float64)
    h0, expected = h, []
    for t in range(steps):
        h = a[t] * h + b[t]
        expected.append(h)
    expected = torch.stack(expected)
    for method in ("sequential", "parallel", "auto"):
        torch.testing.assert_close(scan(a, b, h0, method), expected, atol=1e-12, rtol=1e-12)


def test_auto_picks_the_scan_engine_for_linear_cells_only():
    batch = SequenceBatch(torch.randn(T, B, I), False, None)
    assert select_engine(rnnkit.Recurrent(DecayCell, I, H), batch, "auto").name == "scan"
    assert select_engine(rnnkit.LSTM(I, H), batch, "auto").name == "fused"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert select_engine(rnnkit.Recurrent(DecayCell, I, H), batch, "auto").name == "loop"
    with pytest.raises(ValueError, match=r"engine='scan' cannot run this layer: .*not LSTMCell"):
        rnnkit.LSTM(I, H, engine="scan")(torch.randn(T, B, I))


def test_unbatched_and_single_step_inputs():
    layer = rnnkit.Recurrent(DecayCell, I, H, engine="scan")
    loop = rnnkit.Recurrent(DecayCell, I, H, engine="loop")
    loop.load_state_dict(layer.state_dict())
    for x in (torch.randn(T, I), torch.randn(1, B, I)):
        out, hn = layer(x)
        out_ref, hn_ref = loop(x)
        torch.testing.assert_close(out, out_ref, **TOL)
        torch.testing.assert_close(hn, hn_ref, **TOL)
