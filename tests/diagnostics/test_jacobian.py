"""Spectral norms of the recurrent Jacobian against torch.autograd.functional.jacobian of the cell step."""

import pytest
import torch

import rnnkit
from rnnkit._checks import InvalidValueError
from rnnkit.diagnostics.jacobian import recurrent_jacobian_norms


def _reference(layer, x, k=0):
    """||d s_t / d s_{t-1}||_2 by torch.autograd.functional.jacobian of one step, state by state."""
    cell, w = layer.cell_grid()[k][0], layer.weight_plan()[k][0]
    B, T, _ = x.shape
    sizes = cell.state_sizes
    out = torch.zeros(B, T - 1, dtype=x.dtype)
    for b in range(B):
        s = cell.init_state(1, dtype=x.dtype)
        for t in range(T):
            xp = cell.project_input(x[b : b + 1, t], w)

            def step(flat, xp=xp):
                parts = tuple(flat.split(sizes)) if cell.state_is_tuple else (flat,)
                state = tuple(p.unsqueeze(0) for p in parts) if cell.state_is_tuple else parts[0].unsqueeze(0)
                _, new = cell.recur(xp, state, w)
                new = new if isinstance(new, tuple) else (new,)
                return torch.cat([n[0] for n in new])

            flat = torch.cat([p[0] for p in (s if isinstance(s, tuple) else (s,))]).detach()
            if t > 0:
                J = torch.autograd.functional.jacobian(step, flat)
                out[b, t - 1] = torch.linalg.matrix_norm(J, ord=2)
            with torch.no_grad():
                _, s = cell.recur(xp, s, w)
    return out


@pytest.mark.parametrize("layer_type", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_spectral_norms_match_autograd_functional_jacobian(layer_type):
    torch.manual_seed(0)
    layer = layer_type(3, 5, batch_first=True).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    got = recurrent_jacobian_norms(layer, lambda m: m(x))[""][(0, 0)]
    assert got.shape == (2, 5)
    torch.testing.assert_close(got, _reference(layer, x))


def test_a_scaled_orthogonal_elman_rnn_has_the_scale_as_its_norm_near_zero_activity():
    layer = rnnkit.RNN(2, 4, batch_first=True, bias=False).double()
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64))
    with torch.no_grad():
        layer.weight_hh_l0.copy_(0.5 * q)
        layer.weight_ih_l0.zero_()
    got = recurrent_jacobian_norms(layer, lambda m: m(torch.zeros(1, 5, 2, dtype=torch.float64)))[""][(0, 0)]
    torch.testing.assert_close(got, torch.full((1, 4), 0.5, dtype=torch.float64))  # tanh'(0) = 1


def test_stacked_layers_and_refusals():
    layer = rnnkit.LSTM(3, 4, num_layers=2, batch_first=True)
    norms = recurrent_jacobian_norms(layer, lambda m: m(torch.randn(2, 4, 3)))[""]
    assert set(norms) == {(0, 0), (1, 0)} and norms[(1, 0)].shape == (2, 3)
    with pytest.raises(InvalidValueError, match="full-length"):
        recurrent_jacobian_norms(layer, lambda m: m(torch.randn(2, 4, 3), lengths=[4, 2]))
    with torch.no_grad():  # the states are taken again with autograd on
        again = recurrent_jacobian_norms(layer, lambda m: m(torch.randn(2, 4, 3)))[""]
    assert again[(0, 0)].shape == (2, 3)
