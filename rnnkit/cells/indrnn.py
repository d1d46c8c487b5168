"""The independently recurrent cell, IndRNN (Li, Li, Cook, Zhu & Gao 2018, "Independently Recurrent
Neural Network (IndRNN): Building A Longer and Deeper RNN", https://arxiv.org/abs/1803.04831, eq. 2).

Each unit recurs only on itself: the recurrent weight is a vector ``u`` and the product elementwise,

    h_t = act(W_ih x_t + b_ih + u * h_{t-1})          act relu (the paper's) or tanh

so gradients through time are ``prod_t u * act'(.)`` per unit, and with relu a unit keeps (|u| = 1)
or forgets (|u| < 1) its value over thousands of steps. Units talk to each other only across
stacked layers (the paper stacks many). ``weight_ih (H, I)``, ``weight_hh (H,)`` (``u``),
``bias_ih (H,)``.

Initialisation follows the paper: ``u`` uniform in ``[0, 1]``, the input weights as torch.nn.
Departure: the paper clips ``|u|`` to ``[0, 2^(1/T)]`` for sequences of length T during training
(a constraint of the optimiser, not of the step); rnnkit leaves that to the user
(e.g. ``weight_hh.data.clamp_(-m, m)`` after each update).
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import InvalidValueError, boolean
from .base import RecurrentCell, Weights, factory_kwargs

NONLINEARITIES = {"relu": torch.relu, "tanh": torch.tanh}


class IndRNNCell(RecurrentCell):
    """``h_t = act(W_ih x_t + b_ih + weight_hh * h_{t-1})``; the state is ``h``.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of ``h_t`` (H).
        bias: learn ``bias_ih``.
        nonlinearity: ``"relu"`` (the paper's) or ``"tanh"``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "relu",
        *,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
            raise InvalidValueError(f"nonlinearity must be 'relu' or 'tanh', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.bias = boolean("bias", bias)
        kw = factory_kwargs(device, dtype)
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, **kw))  # u: one recurrent weight per unit
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``weight_hh`` uniform in ``[0, 1]`` (the paper's); the rest uniform in ``+-1/sqrt(H)``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        w = self.weights()
        with torch.no_grad():
            for name, p in zip(w._fields, w, strict=True):
                if isinstance(p, nn.Parameter):
                    p.uniform_(0.0, 1.0) if name == "weight_hh" else p.uniform_(-bound, bound)

    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., I) -> (..., H)
        return F.linear(x, w.weight_ih, w.bias_ih)

    def recur(self, projected_x: Tensor, state: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        h = NONLINEARITIES[self.nonlinearity](projected_x + w.weight_hh * state)  # (B, H)
        return h, h

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        if self.nonlinearity != "relu":
            extra += f", nonlinearity={self.nonlinearity!r}"
        return f"{self.input_size}, {self.hidden_size}{extra}"
