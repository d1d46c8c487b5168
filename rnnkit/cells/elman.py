"""The Elman cell: the plain recurrent step from the seeds.

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)      the cell
    y_t = W_hy h_t + b_y                          the output layer of rnnkit.models.ElmanRNN

(or ``relu`` in place of ``tanh``). The seeds' names map to parameters as follows (I input,
H hidden, O output features):

=========  ===========================================================  ======
seed name  parameter                                                    shape
=========  ===========================================================  ======
W_xh       ``weight_ih`` (in ElmanRNN: ``rnn.weight_ih_l0``)            (H, I)
W_hh       ``weight_hh`` (in ElmanRNN: ``rnn.weight_hh_l0``)            (H, H)
b_h        ``bias_ih + bias_hh`` (``rnn.bias_ih_l0 + rnn.bias_hh_l0``)  (H,)
W_hy       ``ElmanRNN.out.weight`` (not part of the cell)               (O, H)
b_y        ``ElmanRNN.out.bias`` (not part of the cell)                 (O,)
=========  ===========================================================  ======

torch.nn keeps two bias vectors where the equation has one (their sum is ``b_h``); we keep both so
that state dicts interchange with ``torch.nn.RNNCell`` / ``torch.nn.RNN``. The output layer
``y_t = W_hy h_t + b_y`` is not part of the cell but of :class:`rnnkit.models.ElmanRNN`, which also
exposes all five names as attributes (``model.W_xh``, ..., ``model.b_y``).
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import InvalidValueError, boolean
from .base import RecurrentCell, Weights, factory_kwargs

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}
CELL_KERNELS = {"tanh": torch._VF.rnn_tanh_cell, "relu": torch._VF.rnn_relu_cell}  # nn.RNNCell's


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
        if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
            raise InvalidValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.bias = boolean("bias", bias)
        kw = factory_kwargs(device, dtype)
        self.declare_rnn_weights(hidden_size, hidden_size, bias, kw)  # W_xh, W_hh, b_ih, b_hh
        self.reset_parameters()

    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., I) -> (..., H)
        return F.linear(x, w.weight_ih, w.bias_ih)

    def recur(self, projected_x: Tensor, state: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        pre = projected_x + F.linear(state, w.weight_hh, w.bias_hh)  # (B, H)
        h = NONLINEARITIES[self.nonlinearity](pre)
        return h, h

    def step(self, x: Tensor, state: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        """One whole step; torch's fused RNN cell kernel (what ``nn.RNNCell`` runs) for this exact class."""
        if type(self) is not ElmanCell:  # a subclass may change the step
            return super().step(x, state, w)
        h = CELL_KERNELS[self.nonlinearity](x, state, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
        return h, h

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}{extra}"
