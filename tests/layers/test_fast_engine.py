"""The fast engine for custom cells (rnnkit.layers.engines.fast) against the loop engine: values,
final states and every gradient on the parity grid's shapes; gradcheck in float64; which cells it
serves."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.cells import ElmanCell
from rnnkit.layers.engines import select_engine
from rnnkit.layers.engines.fast import probe
from rnnkit.layers.sequences import SequenceBatch

from .test_parity import RAGGED, TOL, B, T

I, H = 4, 5


class LeakyElman(ElmanCell):
    """A custom cell: ``h_t = 0.5 h_{t-1} + 0.5 tanh(x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``."""

    def recur(self, projected_x, state, w):
        h = 0.5 * state + 0.5 * torch.tanh(projected_x + F.linear(state, w.weight_hh, w.bias_hh))
        return h, h


class TwiceUsed(ElmanCell):
    """Uses weight_hh twice per step: the fast engine must refuse it."""

    def recur(self, projected_x, state, w):
        h = torch.tanh(projected_x + F.linear(F.linear(state, w.weight_hh), w.weight_hh))
        return h, h


class MatmulUsed(ElmanCell):
    """Uses weight_hh outside F.linear: refused too."""

    def recur(self, projected_x, state, w):
        h = torch.tanh(projected_x + state @ w.weight_hh.t())
        return h, h


def _cells():
    cells = [LeakyElman]
    try:
        from rnnkit.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
        from rnnkit.cells.peephole import PeepholeLSTMCell
    except ImportError:  # pragma: no cover - until the extended cells land
        print("layer-norm / peephole cells absent: fast engine tested on LeakyElman only")
    else:
        cells += [LayerNormLSTMCell, LayerNormGRUCell, PeepholeLSTMCell]
    return cells


GRID = [
    p
    for p in itertools.product(_cells(), [1, 2], [False, True], [False, True], ["equal", "lengths", "packed"])
    if p[0] is LeakyElman or (p[1] == 2 and p[2])
]


def _id(p):
    cell, layers, bi, bf, mode = p
    return f"{cell.__name__}-L{layers}-{'bi' if bi else 'uni'}-{'bf' if bf else 'tf'}-{mode}"


def _run(layer, x, h0, mode, batch_first):
    if mode == "equal":
        return layer(x, h0)
    if mode == "lengths":
        return layer(x, h0, lengths=RAGGED)
    packed = pack_padded_sequence(x, torch.tensor(RAGGED), batch_first=batch_first, enforce_sorted=False)
    out, hn = layer(packed, h0)
    out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return out, hn


def _as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


@pytest.mark.parametrize("case", GRID, ids=[_id(p) for p in GRID])
def test_fast_engine_equals_loop_engine(case):
    cell, num_layers, bidirectional, batch_first, mode = case
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    ours = rnnkit.Recurrent(cell, I, H, engine="fast", **kw)
    loop = rnnkit.Recurrent(cell, I, H, engine="loop", **kw)
    loop.load_state_dict(ours.state_dict())
    with torch.no_grad():  # layer-norm gains and biases away from 1 and 0, so their gradients matter
        for p in ours.parameters():
            p.add_(0.1 * torch.randn_like(p))
    loop.load_state_dict(ours.state_dict())
    x = torch.randn(*((B, T, I) if batch_first else (T, B, I)), requires_grad=True)
    n = num_layers * (2 if bidirectional else 1)
    h0 = tuple(torch.randn(n, B, s, requires_grad=True) for s in ours.cell_l0.state_sizes)
    h0 = h0 if len(h0) > 1 else h0[0]
    out, hn = _run(ours, x, h0, mode, batch_first)
    out_ref, hn_ref = _run(loop, x, h0, mode, batch_first)
    torch.testing.assert_close(out, out_ref, **TOL)
    for a, b in zip(_as_tuple(hn), _as_tuple(hn_ref), strict=True):
        torch.testing.assert_close(a, b, **TOL)
    w_out = torch.randn_like(out)
    w_h = [torch.randn_like(s) for s in _as_tuple(hn)]

    def loss(o, h):
        return (w_out * o).sum() + sum((w * s).sum() for w, s in zip(w_h, _as_tuple(h), strict=True))

    inputs = [x, *_as_tuple(h0)]
    g = torch.autograd.grad(loss(out, hn), inputs + list(ours.parameters()))
    g_ref = torch.autograd.grad(loss(out_ref, hn_ref), inputs + list(loop.parameters()))
    names = ["input"] + [f"h0[{i}]" for i in range(len(_as_tuple(h0)))] + [k for k, _ in ours.named_parameters()]
    for name, a, b in zip(names, g, g_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")


@pytest.mark.parametrize("cell", [c for c in _cells() if "LayerNorm" not in c.__name__])  # (LN: slow, same path)
def test_fast_engine_gradcheck_float64(cell):
    layer = rnnkit.Recurrent(cell, 3, 2, bidirectional=True, engine="fast").double()
    names = [k for k, _ in layer.named_parameters()]
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]

    def f(x, *params):
        out, state = torch.func.functional_call(layer, dict(zip(names, params, strict=True)), (x,), {"lengths": [4, 3]})
        return (out, *_as_tuple(state))

    assert torch.autograd.gradcheck(f, (x, *params), fast_mode=True)


def test_auto_takes_the_fast_engine_for_custom_cells_it_can_serve():
    batch = SequenceBatch(torch.randn(T, B, I), False, None)
    assert select_engine(rnnkit.Recurrent(LeakyElman, I, H), batch, "auto").name == "fast"
    assert select_engine(rnnkit.LSTM(I, H), batch, "auto").name == "fused"
    for cell, pattern in ((TwiceUsed, r"2 time\(s\) as F.linear"), (MatmulUsed, r"1 time\(s\) otherwise")):
        layer = rnnkit.Recurrent(cell, I, H)
        assert select_engine(layer, batch, "auto").name == "loop"
        reason = probe(layer.cell_l0, layer.weight_plan()[0][0], torch.float32, torch.device("cpu"))
        assert reason is not None and __import__("re").search(pattern, reason), reason
        with pytest.raises(ValueError, match=r"engine='fast' cannot run this layer: .*" + cell.__name__):
            rnnkit.Recurrent(cell, I, H, engine="fast")(torch.randn(T, B, I))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert select_engine(rnnkit.Recurrent(LeakyElman, I, H), batch, "auto").name == "loop"
    with pytest.raises(ValueError, match=r"engine='fast' cannot run this layer: the stock LSTMCell"):
        rnnkit.LSTM(I, H, engine="fast")(torch.randn(T, B, I))


def test_two_forwards_then_one_backward_keep_their_gradients_apart():
    layer = rnnkit.Recurrent(LeakyElman, I, H, engine="fast")
    loop = rnnkit.Recurrent(LeakyElman, I, H, engine="loop")
    loop.load_state_dict(layer.state_dict())
    x1, x2 = torch.randn(T, B, I), torch.randn(3, B, I)
    (layer(x1)[0].sum() + 2 * layer(x2)[0].sum()).backward()
    (loop(x1)[0].sum() + 2 * loop(x2)[0].sum()).backward()
    for a, b in zip(layer.parameters(), loop.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, **TOL)
    assert isinstance(layer.cell_l0, nn.Module)


@pytest.mark.slow
def test_bench_cells_quick_mode_runs_every_section(tmp_path):
    """benchmarks/bench_cells.py --quick: tiny sizes, every table and the targets, written atomically."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cells.py"
    spec = importlib.util.spec_from_file_location("bench_cells", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "cells.md"
    text = bench.main(["--quick", "--threads", "1", "--out", str(out)])
    assert out.read_text() == text
    for title in ("vs nn.LSTM", "GRU vs nn.GRU", "Linear recurrences", "One inference step", "Targets"):
        assert title in text
    for what, _, _ in bench.TARGETS:
        row = next(line for line in text.splitlines() if line.startswith(f"| {what} |"))
        assert "not measured" not in row, row
