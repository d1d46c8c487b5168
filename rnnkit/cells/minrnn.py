"""minGRU and minLSTM (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?",
https://arxiv.org/abs/2410.01201, sections 3.1.3 and 3.2.3; lucidrains/minGRU-pytorch's equations).

The gates read only the input, never ``h_{t-1}``, so each step is a *linear* recurrence

    h_t = a_t * h_{t-1} + b_t            a_t, b_t (B, H) functions of x_t alone

which a whole sequence can run as a scan (sequential elementwise on a CPU, parallel on a GPU) instead
of a time loop of matmuls. :meth:`scan_coefficients` gives ``(a, b)`` for all steps at once, and
:meth:`recur` is exactly ``a * h_prev + b`` from them (the scan engine relies on that).

**minGRU** (projection ``weight_ih (2H, I)``, rows ``[hidden; gate]`` as lucidrains')::

    z_t = sigmoid(W_z x_t + b_z)                     update gate
    h~_t = g(W_h x_t + b_h)                          candidate
    h_t = (1 - z_t) * h_{t-1} + z_t * h~_t           a_t = 1 - z_t,  b_t = z_t * h~_t

**minLSTM** (``weight_ih (3H, I)``, rows ``[hidden; forget; input]``)::

    f_t = sigmoid(W_f x_t + b_f),  i_t = sigmoid(W_i x_t + b_i)
    f'_t = f_t / (f_t + i_t),      i'_t = i_t / (f_t + i_t)        normalised: time-independent scale
    h~_t = g(W_h x_t + b_h)
    h_t = f'_t * h_{t-1} + i'_t * h~_t               a_t = f'_t,  b_t = i'_t * h~_t

Choice of activation: ``g(v) = v + 0.5 if v >= 0 else sigmoid(v)``, the paper's for its log-space
scan (section 3.3, appendix B), applied on every path. It keeps ``h~_t > 0``, so with a
non-negative starting state every ``h_t`` is positive and ``log h`` exists: a log-space parallel
scan (Heinsen 2023) and the plain linear-space scan compute the same function. Without it (the
paper's "vanilla" version, ``h~_t = W_h x_t``) only the linear-space scan would be valid.
Departures from lucidrains' module: no expansion factor or output projection (a layer's
``hidden_size`` is the width; models add their own output layer), and ``bias=True`` by default as
in the paper's pseudo-code (lucidrains: no bias).
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import boolean
from .base import RecurrentCell, Weights, factory_kwargs


def g(v: Tensor) -> Tensor:
    """The paper's positive activation: ``v + 0.5`` for ``v >= 0``, ``sigmoid(v)`` below (continuous at 0)."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


class _MinCell(RecurrentCell):
    """A cell whose whole step is ``h_t = a_t * h_{t-1} + b_t`` with ``a, b`` from ``x_t`` alone."""

    num_parts: int

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = boolean("bias", bias)
        kw = factory_kwargs(device, dtype)
        self.weight_ih = nn.Parameter(torch.empty(self.num_parts * hidden_size, input_size, **kw))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(self.num_parts * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
        self.reset_parameters()

    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., I) -> (..., P*H)
        return F.linear(x, w.weight_ih, w.bias_ih)

    def scan_coefficients(self, projected_x: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        """``(a, b)``, each ``(..., H)``, of ``h_t = a_t * h_{t-1} + b_t`` from ``projected_x`` ``(..., P*H)``
        with any leading dimensions (all time steps at once)."""
        raise NotImplementedError("abstract: a linear-recurrence cell gives its coefficients")

    def recur(self, projected_x: Tensor, state: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        a, b = self.scan_coefficients(projected_x, w)
        h = a * state + b  # (B, H)
        return h, h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class MinGRUCell(_MinCell):
    """One minGRU step, ``h_t = (1 - z_t) * h_{t-1} + z_t * g(W_h x_t + b_h)``; the state is ``h``.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of ``h_t`` (H).
        bias: learn ``bias_ih``.
    """

    num_parts = 2

    def scan_coefficients(self, projected_x: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        hidden, gate = projected_x.chunk(2, dim=-1)
        z = torch.sigmoid(gate)
        return 1 - z, z * g(hidden)

    def gates(self, projected_x: Tensor, state: Tensor, w: Weights) -> Dict[str, Tensor]:
        return {"update": torch.sigmoid(projected_x.chunk(2, dim=-1)[1])}


class MinLSTMCell(_MinCell):
    """One minLSTM step, ``h_t = f'_t * h_{t-1} + i'_t * g(W_h x_t + b_h)``; the state is ``h``.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of ``h_t`` (H).
        bias: learn ``bias_ih``.
    """

    num_parts = 3

    def _normalised_gates(self, projected_x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        hidden, f, i = projected_x.chunk(3, dim=-1)
        # f / (f + i) with f = sigmoid(u), i = sigmoid(v) is sigmoid(log f - log i): stable for any u, v
        diff = F.softplus(-i) - F.softplus(-f)  # log f - log i
        return hidden, torch.sigmoid(diff), torch.sigmoid(-diff)

    def scan_coefficients(self, projected_x: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        hidden, f_norm, i_norm = self._normalised_gates(projected_x)
        return f_norm, i_norm * g(hidden)

    def gates(self, projected_x: Tensor, state: Tensor, w: Weights) -> Dict[str, Tensor]:
        _, f_norm, i_norm = self._normalised_gates(projected_x)
        return {"forget": f_norm, "input": i_norm}
