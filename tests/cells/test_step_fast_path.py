"""The streaming step's fast path (rnnkit.cells.step_cache): equal to torch's LSTM cell kernel,
taken only in inference, rebuilt whenever a weight changes."""

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.cells import LSTMCell

TOL = dict(atol=1e-6, rtol=1e-5)
I, H = 6, 8


def _pair(bias=True):
    reference = nn.LSTMCell(I, H, bias=bias)
    ours = LSTMCell(I, H, bias=bias)
    ours.load_state_dict(reference.state_dict())
    return ours, reference


def _count_kernel(monkeypatch, module):
    """Calls of torch's LSTM cell kernel with ``module``'s weights (not the reference's)."""
    calls, ours = [], {id(p) for p in module.parameters()}
    real = torch._VF.lstm_cell

    def counted(*args):
        if id(args[2]) in ours:
            calls.append(1)
        return real(*args)

    monkeypatch.setattr(torch._VF, "lstm_cell", counted)
    return calls


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_fast_step_equals_torch_lstm_cell(batch, bias, monkeypatch):
    ours, reference = _pair(bias)
    x, h, c = torch.randn(batch, I), torch.randn(batch, H), torch.randn(batch, H)
    calls = _count_kernel(monkeypatch, ours)
    with torch.no_grad():
        for _ in range(3):  # stepping: the state feeds back, the cached weights are reused
            out, (h_new, c_new) = ours(x, (h, c))
            h_ref, c_ref = reference(x, (h, c))
            torch.testing.assert_close(out, h_ref, **TOL)
            torch.testing.assert_close(h_new, h_ref, **TOL)
            torch.testing.assert_close(c_new, c_ref, **TOL)
            h, c = h_ref, c_ref
    assert calls == [], "inference must take the cached-GEMM step, not the cell kernel"
    with torch.inference_mode():
        torch.testing.assert_close(ours(x, (h, c))[0], reference(x, (h, c))[0], **TOL)
    assert calls == []


def test_training_step_takes_the_kernel_and_its_gradients(monkeypatch):
    ours, reference = _pair()
    calls = _count_kernel(monkeypatch, ours)
    x = torch.randn(2, I, requires_grad=True)
    out, _ = ours(x)
    assert calls == [1]
    h_ref, _ = nn.LSTMCell.forward(reference, x)
    g = torch.autograd.grad(out.square().sum(), [x, *ours.parameters()])
    g_ref = torch.autograd.grad(h_ref.square().sum(), [x, *reference.parameters()])
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_cache_follows_every_kind_of_weight_change():
    ours, reference = _pair()
    x, state = torch.randn(1, I), (torch.randn(1, H), torch.randn(1, H))

    def check():
        with torch.no_grad():
            torch.testing.assert_close(ours(x, state)[0], reference(x, state)[0], **TOL)

    check()
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.5)  # an in-place optimizer step
    reference(x, state)[0].sum().backward()
    optimizer.step()
    with torch.no_grad():
        stale = ours(x, state)[0]
    ours.load_state_dict(reference.state_dict())  # copy_ in place: same tensors, new versions
    check()
    assert not torch.allclose(stale, ours(x, state)[0].detach())
    with torch.no_grad():
        reference.bias_hh.add_(1.0)
        ours.bias_hh.add_(1.0)
    check()
    ours.weight_hh = nn.Parameter(torch.randn(4 * H, H))  # a new tensor
    reference.weight_hh = nn.Parameter(ours.weight_hh.detach().clone())
    check()
    ours.double()  # .data replaced: new storage and dtype
    reference.double()
    x, state = x.double(), tuple(s.double() for s in state)
    check()


def test_layer_single_step_uses_it_and_equals_torch_nn(monkeypatch):
    reference = nn.LSTM(I, H, num_layers=2, bidirectional=True)
    layer = rnnkit.LSTM(I, H, num_layers=2, bidirectional=True)
    layer.load_state_dict(reference.state_dict())
    calls = _count_kernel(monkeypatch, layer)
    state = (torch.randn(4, 1, H), torch.randn(4, 1, H))
    with torch.no_grad():
        for _ in range(3):
            x = torch.randn(1, 1, I)
            out, state_new = layer(x, state)
            out_ref, state_ref = reference(x, state)
            torch.testing.assert_close(out, out_ref, **TOL)
            for a, b in zip(state_new, state_ref, strict=True):
                torch.testing.assert_close(a, b, **TOL)
            state = state_ref
    assert calls == []


def test_parametrized_weight_takes_the_kernel(monkeypatch):
    layer = rnnkit.LSTM(I, H)
    reference = nn.LSTM(I, H)
    reference.load_state_dict(layer.state_dict())
    torch.nn.utils.parametrizations.weight_norm(layer, "weight_hh_l0")
    torch.nn.utils.parametrizations.weight_norm(reference, "weight_hh_l0")
    calls = _count_kernel(monkeypatch, layer)
    x = torch.randn(1, 2, I)
    with torch.no_grad():
        torch.testing.assert_close(layer(x)[0], reference(x)[0], **TOL)
    assert calls == [1]
