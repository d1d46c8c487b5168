"""The Elman cell: the plain recurrent step from the seeds.

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)

(or ``relu`` in place of ``tanh``). The seeds' names map to torch.nn's parameters:

=========  ==========================  ===============
seed name  parameter                   shape
=========  ==========================  ===============
W_xh       ``weight_ih``               (H, I)
W_hh       ``weight_hh``               (H, H)
b_h        ``bias_ih + bias_hh``       (H,)
=========  ==========================  ===============

torch.nn keeps two bias vectors where the equation has one (their sum is ``b_h``); we keep both so
that state dicts interchange with ``torch.nn.RNNCell`` / ``torch.nn.RNN``. The output layer
``y_t = W_hy h_t + b_y`` is not part of the cell: see :class:`rnnkit.models.ElmanRNN`.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import RecurrentCell

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class ElmanCell(RecurrentCell):
    """``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` with ``act`` tanh (default) or relu.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of ``h_t`` (H).
        bias: learn ``b_ih`` and ``b_hh`` (torch.nn's default: True).
        nonlinearity: ``"tanh"`` or ``"relu"``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.bias = bool(bias)
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **kw))  # W_xh
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size, **kw))  # W_hh
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size, **kw))
            self.bias_hh = nn.Parameter(torch.empty(hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def project_input(self, x: Tensor) -> Tensor:  # (..., I) -> (..., H)
        return F.linear(x, self.weight_ih, self.bias_ih)

    def recur(self, projected_x: Tensor, state: Tensor) -> Tuple[Tensor, Tensor]:
        pre = projected_x + F.linear(state, self.weight_hh, self.bias_hh)  # (B, H)
        h = NONLINEARITIES[self.nonlinearity](pre)
        return h, h

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}{extra}"
