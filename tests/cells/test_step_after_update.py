"""A step in inference sees every weight update, however it was written (regression: a cached
copy of the weights went stale after a fused Adam step, which writes in place without bumping the
parameters' version counters, and a seq2seq model decoded with its initial weights)."""

import pytest
import torch

import rnnkit
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell


@pytest.mark.parametrize("optimizer", ["fused", "foreach", "sgd"])
@pytest.mark.parametrize("cell_type", [LSTMCell, GRUCell, ElmanCell])
def test_inference_step_uses_the_updated_weights(cell_type, optimizer):
    torch.manual_seed(0)
    cell = cell_type(5, 7)
    x, state = torch.randn(3, 5), cell.init_state(3)
    with torch.no_grad():
        before, _ = cell(x, state)
    opt = {
        "fused": lambda p: torch.optim.Adam(p, lr=0.5, fused=True),
        "foreach": lambda p: torch.optim.Adam(p, lr=0.5, foreach=True),
        "sgd": lambda p: torch.optim.SGD(p, lr=0.5),
    }[optimizer](cell.parameters())
    cell(x, state)[0].sum().backward()
    opt.step()
    with torch.no_grad():
        after, _ = cell(x, state)
    fresh = cell_type(5, 7)
    fresh.load_state_dict(cell.state_dict())
    with torch.no_grad():
        expected, _ = fresh(x, state)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected, rtol=0, atol=0)


def test_layer_single_step_after_fused_adam_equals_a_fresh_copy():
    torch.manual_seed(0)
    layer = rnnkit.LSTM(4, 6, num_layers=2, batch_first=True)
    x = torch.randn(2, 1, 4)
    opt = torch.optim.Adam(layer.parameters(), lr=0.5, fused=True)
    layer(x)[0].sum().backward()
    opt.step()
    layer.eval()
    fresh = rnnkit.LSTM(4, 6, num_layers=2, batch_first=True)
    fresh.load_state_dict(layer.state_dict())
    fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(layer(x)[0], fresh(x)[0], rtol=0, atol=0)
