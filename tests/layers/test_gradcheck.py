"""torch.autograd.gradcheck in float64 on the loop engine: every cell, bidirectional and ragged."""

import pytest
import torch

from .reference import INPUT_SIZE, KINDS, as_tuple, initial_state, make_pair


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("ragged", [False, True])
def test_gradcheck_loop_engine(kind, ragged):
    layer, _ = make_pair(kind, 2, True, True, engine="loop", dtype=torch.float64)
    x = torch.randn(2, 4, INPUT_SIZE, dtype=torch.float64, requires_grad=True)
    h0 = initial_state(kind, layer, 2, dtype=torch.float64)
    lengths = [4, 2] if ragged else None
    params = list(layer.parameters())

    def fn(x, *rest):
        state = tuple(rest[: len(as_tuple(h0))])
        out, hn = layer(x, state if len(state) > 1 else state[0], lengths=lengths)
        return (out, *as_tuple(hn))

    assert torch.autograd.gradcheck(fn, (x, *as_tuple(h0)), eps=1e-6, atol=1e-5)
    # and with respect to the parameters, through functional_call
    from torch.func import functional_call

    names = [n for n, _ in layer.named_parameters()]

    def fn_params(*ps):
        out, hn = functional_call(layer, dict(zip(names, ps)), (x.detach(),), {"lengths": lengths})
        return (out, *as_tuple(hn))

    # fast_mode checks a random projection of the Jacobian: the same bug-finding power per
    # direction, and the parameter Jacobian is too wide for the full check to be quick.
    params_in = tuple(p.detach().requires_grad_() for p in params)
    assert torch.autograd.gradcheck(fn_params, params_in, eps=1e-6, atol=1e-5, fast_mode=True)
