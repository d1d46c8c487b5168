"""The GRU engine (rnnkit.layers.engines.gru): torch.nn.GRU's function, values and gradients, on the
parity grid; its autograd function under gradcheck; chosen by engine="auto" on CPU."""

import itertools

import pytest
import torch

import rnnkit
from rnnkit.layers.engines import select_engine
from rnnkit.layers.engines.gru import GRUSequence
from rnnkit.layers.sequences import SequenceBatch, step_mask

from .reference import INPUT_SIZE, as_tuple, initial_state, make_pair
from .test_parity import RAGGED, TOL, B, T, _run_ours, _run_reference

GRID = list(itertools.product([1, 2], [False, True], [False, True], ["equal", "lengths", "packed"], [True, False]))


@pytest.mark.parametrize("case", GRID, ids=[f"L{a}-bi{b}-bf{c}-{d}-bias{e}" for a, b, c, d, e in GRID])
def test_gru_engine_equals_torch_nn(case):
    num_layers, bidirectional, batch_first, mode, bias = case
    ours, reference = make_pair("gru", num_layers, bidirectional, batch_first, engine="gru", bias=bias)
    x = torch.randn(*((B, T, INPUT_SIZE) if batch_first else (T, B, INPUT_SIZE)), requires_grad=True)
    h0 = initial_state("gru", ours, B)
    lengths = RAGGED if mode != "equal" else None
    out_ref, hn_ref = _run_reference(reference, x, h0, lengths, batch_first, mode)
    out, hn = _run_ours(ours, x, h0, lengths, batch_first, mode)
    torch.testing.assert_close(out, out_ref, **TOL)
    torch.testing.assert_close(hn, hn_ref, **TOL)
    w_out, w_h = torch.randn_like(out), torch.randn_like(hn)
    params = list(ours.parameters())
    g_ours = torch.autograd.grad((w_out * out).sum() + (w_h * hn).sum(), [x, h0, *params])
    g_ref = torch.autograd.grad((w_out * out_ref).sum() + (w_h * hn_ref).sum(), [x, h0, *reference.parameters()])
    names = ["input", "h0"] + [n for n, _ in ours.named_parameters()]
    for name, a, b in zip(names, g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")


@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_sequence_gradcheck_float64(with_mask, bias):
    steps, batch, hidden = 5, 3, 4
    xp = torch.randn(steps, batch, 3 * hidden, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3 * hidden, hidden, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3 * hidden, dtype=torch.float64, requires_grad=True) if bias else None
    mask = step_mask(torch.tensor([5, 2, 4]), steps, xp.device) if with_mask else None
    inputs = (xp, h0, w, b, mask)
    assert torch.autograd.gradcheck(GRUSequence.apply, inputs)


def test_gru_engine_equals_loop_engine_in_double():
    fast, _ = make_pair("gru", 2, True, True, engine="gru", dtype=torch.float64)
    loop, _ = make_pair("gru", 2, True, True, engine="loop", dtype=torch.float64)
    loop.load_state_dict(fast.state_dict())
    x = torch.randn(B, T, INPUT_SIZE, dtype=torch.float64)
    for lengths in (None, RAGGED):
        a, ha = fast(x, lengths=lengths)
        b, hb = loop(x, lengths=lengths)
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(ha, hb, atol=1e-12, rtol=1e-12)


def test_auto_picks_the_gru_engine_on_cpu_and_not_for_other_cells():
    layer, _ = make_pair("gru", 1)
    batch = SequenceBatch(torch.randn(T, B, INPUT_SIZE), False, None)
    assert select_engine(layer, batch, "auto").name == "gru"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert select_engine(layer, batch, "auto").name != "gru"

    class LeakyGRU(rnnkit.cells.GRUCell):  # a subclass may change the step: not served
        def recur(self, projected_x, state, w):
            h, _ = super().recur(projected_x, state, w)
            return 0.5 * h, 0.5 * h

    custom = rnnkit.Recurrent(LeakyGRU, INPUT_SIZE, 5)
    assert select_engine(custom, batch, "auto").name != "gru"
    with pytest.raises(ValueError, match=r"engine='gru' cannot run this layer: .*LeakyGRU"):
        rnnkit.Recurrent(LeakyGRU, INPUT_SIZE, 5, engine="gru")(torch.randn(T, B, INPUT_SIZE))
    lstm, _ = make_pair("lstm", 1)
    with pytest.raises(ValueError, match=r"engine='gru' cannot run this layer"):
        lstm.engine = "gru"
        lstm(torch.randn(T, B, INPUT_SIZE))


def test_one_step_input_takes_the_cell_kernel(monkeypatch):
    calls = []
    real = torch._VF.gru_cell
    monkeypatch.setattr(torch._VF, "gru_cell", lambda *a: calls.append(1) or real(*a))
    layer, reference = make_pair("gru", 2, engine="gru")
    x = torch.randn(1, B, INPUT_SIZE)
    h0 = initial_state("gru", layer, B)
    out, hn = layer(x, h0)
    assert calls == [1, 1]
    out_ref, hn_ref = reference(x, h0)
    torch.testing.assert_close(out, out_ref, **TOL)
    for a, b in zip(as_tuple(hn), as_tuple(hn_ref)):
        torch.testing.assert_close(a, b, **TOL)
