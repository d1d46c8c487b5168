"""Build an rnnkit layer and its torch.nn twin with the same weights, for parity tests."""

from __future__ import annotations

import torch
from torch import nn

import rnnkit

# name -> (rnnkit class, torch class, extra constructor arguments)
KINDS = {
    "rnn_tanh": (rnnkit.RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnnkit.LSTM, nn.LSTM, {}),
    "lstm_proj": (rnnkit.LSTM, nn.LSTM, {"proj_size": 3}),
    "gru": (rnnkit.GRU, nn.GRU, {}),
}

INPUT_SIZE, HIDDEN_SIZE = 4, 5


def make_pair(kind, num_layers=1, bidirectional=False, batch_first=False, engine="auto", dtype=torch.float32, **extra):
    ours_cls, torch_cls, kw = KINDS[kind]
    kw = {**kw, **extra}
    reference = torch_cls(
        INPUT_SIZE,
        HIDDEN_SIZE,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        dtype=dtype,
        **kw,
    )
    ours = ours_cls(
        INPUT_SIZE,
        HIDDEN_SIZE,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        engine=engine,
        dtype=dtype,
        **kw,
    )
    ours.load_state_dict(reference.state_dict(), strict=True)
    return ours, reference


def initial_state(kind, layer, batch, dtype=torch.float32):
    """A random initial state (requires grad) of the right shapes for ``layer``."""
    d = 2 if layer.bidirectional else 1
    n = layer.num_layers * d
    out = layer.proj_size or layer.hidden_size
    if kind.startswith("lstm"):
        return (
            torch.randn(n, batch, out, dtype=dtype, requires_grad=True),
            torch.randn(n, batch, layer.hidden_size, dtype=dtype, requires_grad=True),
        )
    return torch.randn(n, batch, out, dtype=dtype, requires_grad=True)


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)
