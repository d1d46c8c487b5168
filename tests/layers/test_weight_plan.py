"""Explicit weights: the layer reads each weight once per forward into a plan that engines receive;
nothing is re-bound on the cells, and the fused engine gets the parameters themselves."""

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

import rnnkit
from rnnkit.layers.engines import flat_weights, fused

from .reference import INPUT_SIZE, KINDS, make_pair


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bias", [True, False])
def test_plan_holds_the_layer_parameters_in_torch_order(kind, bias):
    layer, reference = make_pair(kind, 2, True, bias=bias)
    plan = layer.weight_plan()
    assert len(plan) == 2 and all(len(row) == 2 for row in plan)
    for k in range(2):
        for d, suffix in enumerate(("", "_reverse")):
            w = plan[k][d]
            assert w._fields == layer.cell_grid()[k][d].weight_names
            for field, value in zip(w._fields, w, strict=True):
                if value is None:
                    assert not bias and field.startswith("bias") or field == "weight_hr"
                else:
                    assert value is getattr(layer, f"{field}_l{k}{suffix}")
    # flattened for torch's kernels: exactly torch.nn's _flat_weights order
    assert [id(t) for t in flat_weights(plan)] == [id(p) for p in layer.parameters()]
    assert [tuple(t.shape) for t in flat_weights(plan)] == [tuple(t.shape) for t in reference._flat_weights]


def test_fused_kernel_receives_the_parameters_uncopied(monkeypatch):
    layer, _ = make_pair("lstm_proj", 2, True)
    received = []
    real = fused._KERNELS["LSTM"]

    def spy(*args):
        received.append(next(a for a in args if isinstance(a, list)))
        return real(*args)

    monkeypatch.setitem(fused._KERNELS, "LSTM", spy)
    layer(torch.randn(4, 2, INPUT_SIZE))
    layer(torch.randn(4, 2, INPUT_SIZE), lengths=[4, 2])
    assert len(received) == 2
    for weights in received:
        assert len(weights) == len(list(layer.parameters()))
        assert all(w is p for w, p in zip(weights, layer.parameters(), strict=True))


def test_no_rebinding_cells_hold_no_weights_and_read_the_layers():
    layer = rnnkit.GRU(INPUT_SIZE, 5, num_layers=2)
    layer(torch.randn(3, 2, INPUT_SIZE))
    for cell in (c for row in layer.cell_grid() for c in row):
        assert list(cell.parameters()) == []
        assert not any(isinstance(v, Tensor) for v in vars(cell).values())
    w = layer.cell_l1.weights()
    assert all(a is b for a, b in zip(w, layer.weight_plan()[1][0], strict=True))
    assert layer.cell_l1.weight_hh is layer.weight_hh_l1
    # replacing a parameter object is seen at the next forward, with no re-binding step
    fresh = nn.Parameter(torch.zeros_like(layer.weight_hh_l1))
    layer.weight_hh_l1 = fresh
    assert layer.weight_plan()[1][0].weight_hh is fresh and layer.cell_l1.weights().weight_hh is fresh


class _Counting(nn.Module):
    """A parametrization that counts its evaluations: 2 * W."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, w):
        self.calls += 1
        return 2 * w


@pytest.mark.parametrize("engine", ["fused", "loop"])
@pytest.mark.parametrize("steps", [1, 5])
def test_a_parametrization_is_computed_once_per_forward(engine, steps):
    layer, reference = make_pair("lstm", 2, False, engine=engine)
    counter = _Counting()
    parametrize.register_parametrization(layer, "weight_hh_l1", counter)
    counter.calls = 0  # registering evaluates it once, to check its shape
    with torch.no_grad():
        reference.weight_hh_l1.mul_(2)
    x = torch.randn(steps, 3, INPUT_SIZE)
    out, _ = layer(x)
    assert counter.calls == 1
    torch.testing.assert_close(out, reference(x)[0], atol=1e-5, rtol=1e-5)
    plan = layer.weight_plan()
    assert counter.calls == 2
    torch.testing.assert_close(plan[1][0].weight_hh, 2 * layer.parametrizations.weight_hh_l1.original)


def test_step_is_fused_only_for_the_exact_stock_classes():
    class TwiceElman(rnnkit.ElmanCell):
        def recur(self, projected_x, state, w):
            h, _ = super().recur(projected_x, state, w)
            return 2 * h, 2 * h

    cell = TwiceElman(INPUT_SIZE, 5)
    plain = rnnkit.ElmanCell(INPUT_SIZE, 5)
    plain.load_state_dict(cell.state_dict())
    x, h = torch.randn(3, INPUT_SIZE), torch.randn(3, 5)
    torch.testing.assert_close(cell(x, h)[0], 2 * plain(x, h)[0])  # the subclass's own recur, not the kernel
    layer = rnnkit.Recurrent(TwiceElman, INPUT_SIZE, 5)
    one_step, _ = layer(x.unsqueeze(0))
    torch.testing.assert_close(one_step[0], layer.cell_l0(x)[0])
    by_hand = 2 * torch.tanh(x @ layer.weight_ih_l0.T + layer.bias_ih_l0 + layer.bias_hh_l0)  # from a zero state
    torch.testing.assert_close(one_step[0], by_hand)
