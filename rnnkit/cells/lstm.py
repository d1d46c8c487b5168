"""The LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g_t = tanh   (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)      candidate
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)                  (and h_t = W_hr h_t when proj_size > 0)

Gates are stacked in torch.nn's order i, f, g, o in ``weight_ih`` ``(4H, I)``, ``weight_hh``
``(4H, P)`` and the biases ``(4H,)``, where P = proj_size or H. With ``proj_size > 0`` (Sak et al.
2014) ``weight_hr`` ``(P, H)`` projects the output, as in ``torch.nn.LSTM``; the state is
``(h, c)`` with ``h`` of size P and ``c`` of size H.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, boolean, describe, is_int
from .base import RecurrentCell, Weights, factory_kwargs


class LSTMCell(RecurrentCell):
    """One LSTM step; the state is ``(h, c)``.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of the cell state ``c_t`` (H).
        bias: learn ``bias_ih`` and ``bias_hh``.
        proj_size: if > 0, ``h_t`` is projected to this size by ``weight_hr`` (must be < H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        proj_size: int = 0,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if not is_int(proj_size):
            raise InvalidTypeError(f"proj_size must be an int, got {describe(proj_size)}")
        if proj_size < 0 or proj_size >= hidden_size:
            raise InvalidValueError(
                f"proj_size must be 0 (no projection) or in [1, hidden_size={hidden_size}), got {proj_size}"
            )
        self.proj_size = int(proj_size)
        self.bias = boolean("bias", bias)
        out = proj_size or hidden_size
        kw = factory_kwargs(device, dtype)
        self.declare_rnn_weights(4 * hidden_size, out, bias, kw)  # gates i, f, g, o
        if proj_size:
            self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size, **kw))
        else:
            self.register_parameter("weight_hr", None)
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    @property
    def state_sizes(self) -> Tuple[int, int]:
        return (self.output_size, self.hidden_size)

    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., I) -> (..., 4H)
        return F.linear(x, w.weight_ih, w.bias_ih)

    def recur(
        self, projected_x: Tensor, state: Tuple[Tensor, Tensor], w: Weights
    ) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        h_prev, c_prev = state  # (B, P), (B, H)
        gates = projected_x + F.linear(h_prev, w.weight_hh, w.bias_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if w.weight_hr is not None:
            h = F.linear(h, w.weight_hr)  # (B, P)
        return h, (h, c)

    def gates(self, projected_x: Tensor, state: Tuple[Tensor, Tensor], w: Weights) -> Dict[str, Tensor]:
        """``input`` i_t, ``forget`` f_t, ``cell`` (the candidate g_t) and ``output`` o_t, each ``(B, H)``."""
        i, f, g, o = (projected_x + F.linear(state[0], w.weight_hh, w.bias_hh)).chunk(4, dim=-1)
        return {
            "input": torch.sigmoid(i),
            "forget": torch.sigmoid(f),
            "cell": torch.tanh(g),
            "output": torch.sigmoid(o),
        }

    def step(self, x: Tensor, state: Tuple[Tensor, Tensor], w: Weights) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        """One whole step; torch's fused LSTM cell kernel (what ``nn.LSTMCell`` runs) where it applies.

        No cached concatenation of the weights: it measured no faster (the batch-1 step is bound by
        reading the weights) and a cache cannot see every weight update (a fused optimizer writes
        parameters in place without bumping their version counter)."""
        if type(self) is not LSTMCell or w.weight_hr is not None:  # a subclass may change the step
            return super().step(x, state, w)
        h, c = torch._VF.lstm_cell(x, state, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
        return h, (h, c)

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        if self.proj_size:
            extra += f", proj_size={self.proj_size}"
        return f"{self.input_size}, {self.hidden_size}{extra}"
