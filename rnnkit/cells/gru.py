"""The GRU cell (Cho et al. 2014), in torch.nn's variant.

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))     candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Gates are stacked r, z, n in ``weight_ih`` ``(3H, I)``, ``weight_hh`` ``(3H, H)`` and the biases.
Note the departure from the paper, shared with torch.nn and cuDNN: the reset gate multiplies
``W_hn h_{t-1} + b_hn`` *after* the hidden matmul, instead of ``W_hn (r_t * h_{t-1})``. That keeps
the hidden matmul of all three gates in one GEMM, and makes weights interchange with torch.nn.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import boolean
from .base import RecurrentCell, Weights, factory_kwargs


class GRUCell(RecurrentCell):
    """One GRU step; the state is ``h``.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of ``h_t`` (H).
        bias: learn ``bias_ih`` and ``bias_hh``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = boolean("bias", bias)
        kw = factory_kwargs(device, dtype)
        self.declare_rnn_weights(3 * hidden_size, hidden_size, bias, kw)  # gates r, z, n
        self.reset_parameters()

    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., I) -> (..., 3H)
        return F.linear(x, w.weight_ih, w.bias_ih)

    def recur(self, projected_x: Tensor, state: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        hp = F.linear(state, w.weight_hh, w.bias_hh)  # (B, 3H)
        x_r, x_z, x_n = projected_x.chunk(3, dim=-1)
        h_r, h_z, h_n = hp.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = n + z * (state - n)  # == (1 - z) * n + z * h_{t-1}
        return h, h

    def gates(self, projected_x: Tensor, state: Tensor, w: Weights) -> Dict[str, Tensor]:
        """``reset`` r_t, ``update`` z_t and ``new`` (the candidate n_t), each ``(B, H)``."""
        x_r, x_z, x_n = projected_x.chunk(3, dim=-1)
        h_r, h_z, h_n = F.linear(state, w.weight_hh, w.bias_hh).chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        return {"reset": r, "update": torch.sigmoid(x_z + h_z), "new": torch.tanh(x_n + r * h_n)}

    def step(self, x: Tensor, state: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        """One whole step; torch's fused GRU cell kernel (what ``nn.GRUCell`` runs) for this exact class."""
        if type(self) is not GRUCell:  # a subclass may change the step
            return super().step(x, state, w)
        h = torch._VF.gru_cell(x, state, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
        return h, h

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{extra}"
