"""The peephole LSTM cell (Gers & Schmidhuber 2000, "Recurrent nets that time and count",
https://doi.org/10.1109/IJCNN.2000.861302; with Gers, Schraudolph & Schmidhuber 2002, JMLR 3).

The gates also look at the cell state through diagonal ("peephole") weights ``p_i, p_f, p_o``:
the input and forget gates at ``c_{t-1}``, the output gate at the new ``c_t``:

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi + p_i * c_{t-1})
    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf + p_f * c_{t-1})
    g_t = tanh   (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
    c_t = f_t * c_{t-1} + i_t * g_t
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho + p_o * c_t)
    h_t = o_t * tanh(c_t)

``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` are torch.nn.LSTM's (gates i, f, g, o), so an
LSTM's weights load into it (with ``strict=False``, or ``weight_ch`` given) and with the peepholes
at zero it computes exactly that LSTM. ``weight_ch`` ``(3H,)`` holds ``p_i, p_f, p_o`` in that
order. Departure from the 2000 paper: its cell had no ``tanh`` on ``g`` and ``h``'s squashing
varied; we use the now-standard form above (as Graves 2013 and TensorFlow's peephole LSTM do).
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import boolean
from .base import RecurrentCell, Weights, factory_kwargs


class PeepholeLSTMCell(RecurrentCell):
    """One peephole LSTM step; the state is ``(h, c)``.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of ``h_t`` and ``c_t`` (H).
        bias: learn ``bias_ih`` and ``bias_hh``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = boolean("bias", bias)
        kw = factory_kwargs(device, dtype)
        self.declare_rnn_weights(4 * hidden_size, hidden_size, bias, kw)  # gates i, f, g, o
        self.weight_ch = nn.Parameter(torch.empty(3 * hidden_size, **kw))  # p_i, p_f, p_o
        self.reset_parameters()

    @property
    def state_sizes(self) -> Tuple[int, int]:
        return (self.hidden_size, self.hidden_size)

    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., I) -> (..., 4H)
        return F.linear(x, w.weight_ih, w.bias_ih)

    def _gates(self, projected_x: Tensor, state: Tuple[Tensor, Tensor], w: Weights) -> Tuple[Tensor, ...]:
        h_prev, c_prev = state  # (B, H), (B, H)
        i, f, g, o = (projected_x + F.linear(h_prev, w.weight_hh, w.bias_hh)).chunk(4, dim=-1)
        p_i, p_f, p_o = w.weight_ch.chunk(3)
        i = torch.sigmoid(i + p_i * c_prev)
        f = torch.sigmoid(f + p_f * c_prev)
        g = torch.tanh(g)
        c = f * c_prev + i * g
        o = torch.sigmoid(o + p_o * c)
        return i, f, g, o, c

    def recur(
        self, projected_x: Tensor, state: Tuple[Tensor, Tensor], w: Weights
    ) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        _, _, _, o, c = self._gates(projected_x, state, w)
        h = o * torch.tanh(c)
        return h, (h, c)

    def gates(self, projected_x: Tensor, state: Tuple[Tensor, Tensor], w: Weights) -> Dict[str, Tensor]:
        i, f, g, o, _ = self._gates(projected_x, state, w)
        return {"input": i, "forget": f, "cell": g, "output": o}

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
