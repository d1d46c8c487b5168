"""The one time loop (rnnkit.layers.engines.loop): the loop engine, single-step execution and the
step hook (and so the gradient-flow recorder) all run through it, and agree with each other and with
the fused engine, values and gradients."""

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from rnnkit.cells import RecurrentCell
from rnnkit.diagnostics.gradient_flow import record_gradient_flow
from rnnkit.layers.engines import fused, select_engine
from rnnkit.layers.sequences import SequenceBatch

from .reference import INPUT_SIZE, KINDS, as_tuple, initial_state, make_pair

T, B = 5, 3
RAGGED = [5, 2, 4]
TOL = dict(atol=1e-10, rtol=1e-10)  # float64 throughout


class LayerNormElmanCell(RecurrentCell):
    """A cell written the explicit-weights way, with a nested module's parameters:

    h_t = tanh(LN(W_ih x_t + W_hh h_{t-1}; gamma, beta))       LN over the H features
    """

    def __init__(self, input_size, hidden_size, dtype=None):
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size, dtype=dtype) * 0.5)
        self.weight_hh = nn.Parameter(torch.randn(hidden_size, hidden_size, dtype=dtype) * 0.5)
        self.norm = nn.LayerNorm(hidden_size, dtype=dtype)  # its weight and bias are w.norm_weight, w.norm_bias
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.5, 0.5)

    def project_input(self, x, w):
        return F.linear(x, w.weight_ih)

    def recur(self, projected_x, state, w):
        pre = projected_x + F.linear(state, w.weight_hh)
        h = torch.tanh(F.layer_norm(pre, (self.hidden_size,), w.norm_weight, w.norm_bias))
        return h, h


def _layer(kind, num_layers=2, bidirectional=False, batch_first=False, engine="auto"):
    """A float64 layer of ``kind`` (a stock kind of reference.KINDS, or "custom")."""
    if kind == "custom":
        torch.manual_seed(1)
        factory = functools.partial(LayerNormElmanCell, dtype=torch.float64)
        return rnnkit.Recurrent(
            factory,
            INPUT_SIZE,
            5,
            num_layers,
            batch_first,
            bidirectional=bidirectional,
            engine="loop" if engine == "fused" else engine,
        )
    layer, _ = make_pair(kind, num_layers, bidirectional, batch_first, engine=engine, dtype=torch.float64)
    return layer


def _random_state(kind, layer, batch):
    if kind == "custom":
        return torch.randn(
            layer.num_layers * layer.num_directions, batch, layer.hidden_size, dtype=torch.float64, requires_grad=True
        )
    return initial_state(kind, layer, batch, dtype=torch.float64)


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize("kind", [*KINDS, "custom"])
@pytest.mark.parametrize("engine", ["fused", "loop"])
def test_stepping_one_element_at_a_time_equals_the_full_run(kind, engine):
    """Streaming: the layer fed one element at a time, state carried, is the full-sequence run."""
    layer = _layer(kind, engine=engine)
    x = torch.randn(T, B, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    h0 = _random_state(kind, layer, B)
    out, hn = layer(x, h0)
    state, outs = h0, []
    for x_t in x.split(1):  # (1, B, I): single-step execution
        o, state = layer(x_t, state)
        outs.append(o)
    stepped = torch.cat(outs)
    torch.testing.assert_close(stepped, out, **TOL)
    for a, b in zip(as_tuple(state), as_tuple(hn), strict=True):
        torch.testing.assert_close(a, b, **TOL)

    w_out, w_state = torch.randn_like(out), [torch.randn_like(s) for s in as_tuple(hn)]

    def loss(o, h):
        return (w_out * o).sum() + sum((w * s).sum() for w, s in zip(w_state, as_tuple(h), strict=True))

    inputs = [x, *as_tuple(h0), *layer.parameters()]
    for a, b in zip(_grads(loss(stepped, state), inputs), _grads(loss(out, hn), inputs), strict=False):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", [*KINDS, "custom"])
@pytest.mark.parametrize("engine", ["fused", "loop"])
def test_stepping_each_sequence_alone_equals_the_ragged_run(kind, engine):
    layer = _layer(kind, batch_first=True, engine=engine)
    x = torch.randn(B, T, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    h0 = _random_state(kind, layer, B)
    out, hn = layer(x, h0, lengths=RAGGED)
    w_out, w_state = torch.randn_like(out), [torch.randn_like(s) for s in as_tuple(hn)]
    loss_full = (w_out * out).sum() + sum((w * s).sum() for w, s in zip(w_state, as_tuple(hn), strict=True))
    loss_steps = 0
    for b, n in enumerate(RAGGED):
        state = tuple(s[:, b : b + 1] for s in as_tuple(h0))
        state = state if len(state) > 1 else state[0]
        for t in range(n):
            o, state = layer(x[b : b + 1, t : t + 1], state)
            torch.testing.assert_close(o[0, 0], out[b, t], **TOL)
            loss_steps = loss_steps + (w_out[b, t] * o[0, 0]).sum()
        assert torch.count_nonzero(out[b, n:]) == 0
        for w, a, s in zip(w_state, as_tuple(hn), as_tuple(state), strict=True):
            torch.testing.assert_close(s[:, 0], a[:, b], **TOL)
            loss_steps = loss_steps + (w[:, b] * s[:, 0]).sum()
    inputs = [x, *as_tuple(h0), *layer.parameters()]
    for a, b in zip(_grads(loss_steps, inputs), _grads(loss_full, inputs), strict=False):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", [*KINDS, "custom"])
def test_recorder_loop_engine_and_single_steps_agree(kind):
    """One loss three ways: the loop engine, single steps, and the recorder (the step hook); the
    recorder's ||dL/dh_t|| is the norm of dL/d(output_t) + dL/d(state carried out of step t)."""
    layer = _layer(kind, num_layers=1, engine="loop")
    fused_twin = _layer(kind, num_layers=1, engine="fused")
    fused_twin.load_state_dict(layer.state_dict())
    x = torch.randn(T, B, INPUT_SIZE, dtype=torch.float64)
    w_out = torch.randn(T, B, layer.output_size, dtype=torch.float64)

    def loss_of(m):
        out, hn = m(x)
        return (w_out * out).sum() + as_tuple(hn)[0].square().sum()

    loss_loop, loss_fused = loss_of(layer), loss_of(fused_twin)
    flow = record_gradient_flow(nn.ModuleDict({"rnn": layer}), lambda m: loss_of(m["rnn"]))

    state, outs, carried = None, [], []
    for x_t in x.split(1):
        o, state = layer(x_t, state)
        outs.append(o)
        carried.append(as_tuple(state)[0])  # h_t as carried into the next step
    loss_steps = (w_out * torch.cat(outs)).sum() + carried[-1].square().sum()
    g_out = torch.autograd.grad(loss_steps, outs + carried)
    by_steps = torch.stack([(a[0] + b[0]).norm() for a, b in zip(g_out[:T], g_out[T:], strict=True)])

    for value in (loss_fused.item(), loss_steps.item(), flow.loss):
        assert value == pytest.approx(loss_loop.item(), rel=1e-10)
    assert flow["rnn"].shape == (1, T)
    torch.testing.assert_close(flow["rnn"][0], by_steps, **TOL)


@pytest.mark.parametrize("steps", [1, 4])
def test_step_hook_sees_every_step_of_every_layer_and_direction_in_order(steps, monkeypatch):
    layer, _ = make_pair("lstm", 2, True, True, dtype=torch.float64)  # engine="auto": fused without hooks
    H = layer.hidden_size
    x = torch.randn(B, steps, INPUT_SIZE, dtype=torch.float64)
    lengths = None if steps == 1 else [4, 2, 3]
    seen = []

    def hook(t, layer_index, direction, h, state):
        seen.append((t, layer_index, direction, h.detach().clone(), tuple(s.detach().clone() for s in state)))

    kernels = []
    real = fused._KERNELS["LSTM"]
    monkeypatch.setitem(fused._KERNELS, "LSTM", lambda *a: kernels.append(1) or real(*a))
    handle = layer.register_step_hook(hook)
    batch = SequenceBatch(x, True, None)
    assert select_engine(layer, batch, "auto").name == "loop"
    assert select_engine(layer, batch, "fused").name == "loop"  # a hook wins over an asked-for engine
    out, (hn, cn) = layer(x, lengths=lengths)
    assert kernels == []
    order = [(t, k, d) for k in range(2) for d in range(2) for t in range(steps)]  # layer, direction, time
    assert [(t, k, d) for t, k, d, _, _ in seen] == order
    n = lengths or [steps] * B
    for t, k, d, h, (h_state, c_state) in seen:
        assert h.shape == (B, H) and c_state.shape == (B, H)
        torch.testing.assert_close(h_state, h, atol=0, rtol=0)  # LSTM: the state is (h, c)
        if k == 1:  # the top layer's h is the output: forward at t, reverse at length - 1 - t
            for b in range(B):
                if t < n[b]:
                    pos = t if d == 0 else n[b] - 1 - t
                    torch.testing.assert_close(h[b], out[b, pos, d * H : (d + 1) * H], atol=1e-12, rtol=1e-12)

    handle.remove()
    assert layer.step_hooks() == ()
    assert select_engine(layer, batch, "auto").name == "fused"  # removing it restores the fused engine
    seen.clear()
    again, _ = layer(x, lengths=lengths)
    assert seen == [] and kernels == ([] if steps == 1 else [1])  # one step runs the loop (cell kernels)
    torch.testing.assert_close(again, out, atol=1e-12, rtol=1e-12)


def test_step_hook_may_replace_the_state_and_hooks_run_in_order():
    layer, _ = make_pair("rnn_tanh", 1, False, False, dtype=torch.float64)
    x = torch.randn(T, B, INPUT_SIZE, dtype=torch.float64)
    plain, _ = layer(x)
    order = []

    def reset_at_2(t, k, d, h, state):
        order.append("reset")
        if t == 2:
            return h, torch.zeros_like(state)  # the output stays, the carried state is zeroed

    handles = [
        layer.register_step_hook(reset_at_2),
        layer.register_step_hook(lambda t, k, d, h, state: order.append("after") or None),
    ]
    out, hn = layer(x)
    for handle in handles:
        handle.remove()
    assert order == ["reset", "after"] * T
    torch.testing.assert_close(out[:3], plain[:3], atol=0, rtol=0)
    fresh, fresh_hn = layer(x[3:])  # from a zero state after step 2
    torch.testing.assert_close(out[3:], fresh, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(hn, fresh_hn, atol=1e-12, rtol=1e-12)
    with pytest.raises(TypeError, match=r"hook must be callable .* got int 3"):
        layer.register_step_hook(3)


def test_custom_cell_runs_on_the_loop_engine_and_matches_its_equation_by_hand():
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(
        functools.partial(LayerNormElmanCell, dtype=torch.float64),
        INPUT_SIZE,
        5,
        num_layers=2,
        batch_first=True,
        bidirectional=True,
    )
    assert layer.cell_l0.weight_names == ("weight_ih", "weight_hh", "norm_weight", "norm_bias")
    names = [n for n, _ in layer.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "norm_weight_l0", "norm_bias_l0"]
    assert list(layer.cell_l0.parameters()) == []  # the layer owns them
    x = torch.randn(B, T, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    assert select_engine(layer, SequenceBatch(x, True, None), "auto").name == "fast"  # the loop, one dW GEMM
    out, hn = layer(x, lengths=RAGGED)

    params = {n: p.detach().clone().requires_grad_() for n, p in layer.named_parameters()}
    want_out, want_hn = _layer_norm_elman_by_hand(params, x, RAGGED, layers=2)
    torch.testing.assert_close(out, want_out, **TOL)
    torch.testing.assert_close(hn, want_hn, **TOL)
    w_out, w_hn = torch.randn_like(out), torch.randn_like(hn)
    got = torch.autograd.grad((w_out * out).sum() + (w_hn * hn).sum(), [x, *layer.parameters()])
    want = torch.autograd.grad((w_out * want_out).sum() + (w_hn * want_hn).sum(), [x, *(params[n] for n in names)])
    for name, a, b in zip(["x", *names], got, want, strict=True):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")

    # a layer's cell stepped by hand computes with the layer's weights
    h = torch.zeros(5, dtype=torch.float64)
    for t in range(RAGGED[1]):
        h, _ = layer.cell_l0(x[1, t], h)
    torch.testing.assert_close(hn[0, 1], h, **TOL)
    # and a standalone cell with its own parameters
    cell = LayerNormElmanCell(INPUT_SIZE, 5, dtype=torch.float64)
    x_t, h_prev = torch.randn(2, INPUT_SIZE, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    want_h = torch.tanh(
        F.layer_norm(x_t @ cell.weight_ih.T + h_prev @ cell.weight_hh.T, (5,), cell.norm.weight, cell.norm.bias)
    )
    torch.testing.assert_close(cell(x_t, h_prev)[0], want_h, **TOL)


def _layer_norm_elman_by_hand(p, x, lengths, layers):
    """The bidirectional LayerNormElman stack from its parameter dict, one sequence at a time."""
    T_ = x.shape[1]
    rows_out, rows_final = [], []
    for b, n in enumerate(lengths):
        inp = [x[b, t] for t in range(n)]
        fin = []
        for k in range(layers):
            dirs = []
            for suffix, order in (("", range(n)), ("_reverse", reversed(range(n)))):
                s = f"_l{k}{suffix}"
                h = torch.zeros(5, dtype=x.dtype)
                hs = [None] * n
                for t in order:
                    pre = p["weight_ih" + s] @ inp[t] + p["weight_hh" + s] @ h
                    mu, var = pre.mean(), pre.var(unbiased=False)
                    h = torch.tanh((pre - mu) / torch.sqrt(var + 1e-5) * p["norm_weight" + s] + p["norm_bias" + s])
                    hs[t] = h
                dirs.append(hs)
                fin.append(h)
            inp = [torch.cat([dirs[0][t], dirs[1][t]]) for t in range(n)]
        rows_out.append(torch.cat([torch.stack(inp), torch.zeros(T_ - n, 10, dtype=x.dtype)]))
        rows_final.append(torch.stack(fin))
    return torch.stack(rows_out), torch.stack(rows_final, dim=1)
