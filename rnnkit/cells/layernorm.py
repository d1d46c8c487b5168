"""Layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016, "Layer Normalization",
https://arxiv.org/abs/1607.06450, section 3.1 and supplementary "Layer-normalized LSTM").

Layer norm of a vector ``a`` of n features with gain ``alpha`` and bias ``beta`` (eps 1e-5):

    LN(a; alpha, beta) = alpha * (a - mean(a)) / sqrt(var(a) + eps) + beta

**LSTM** -- the paper's variant: the input and the recurrent pre-activations are normalised
separately, and the cell state is normalised where it feeds the output (not where it is carried):

    (i, f, g, o) = LN(W_ih x_t; a_ih, b_ih) + LN(W_hh h_{t-1}; a_hh, b_hh)     (4H), torch's gate order
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(LN(c_t; a_c, b_c))

The layer-norm biases stand in for the gates' biases (the paper's ``b`` is their sum). torch's
``benchmarks/fastrnns/custom_lstms.py`` ``LayerNormLSTMCell`` carries ``LN(c_t)`` as the next cell
state instead of ``c_t``; from the same state both give the same ``h_t`` (the tests check that),
over several steps they differ. We carry ``c_t`` as the paper does: the cell state keeps its
magnitude, which is what lets an LSTM count and remember.

**GRU** -- torch.nn's GRU (reset gate after the recurrent matmul) with the two projections
normalised as in the LSTM above (the form of Ba et al.'s layer-normalised GRU for skip-thoughts):

    (x_r, x_z, x_n) = LN(W_ih x_t; a_ih, b_ih)            (h_r, h_z, h_n) = LN(W_hh h_{t-1}; a_hh, b_hh)
    r = sigmoid(x_r + h_r)      z = sigmoid(x_z + h_z)      n = tanh(x_n + r * h_n)
    h_t = (1 - z) * n + z * h_{t-1}

In both the input half ``LN(W_ih x_t)`` depends on ``x_t`` only, so :meth:`project_input` normalises
it too and a layer does it for all time steps at once. Initialisation: the matrices as torch.nn
(uniform in ``+-1/sqrt(H)``), gains 1, biases 0.
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import RecurrentCell, Weights, factory_kwargs

EPS = 1e-5  # nn.LayerNorm's default


def _norm(a: Tensor, gain: Tensor, bias: Tensor) -> Tensor:
    return F.layer_norm(a, a.shape[-1:], gain, bias, EPS)


class _LayerNormCell(RecurrentCell):
    """Shared parameters: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, the layer norms' gains and
    biases ``ln_ih_*`` and ``ln_hh_*`` ``(G*H,)``, with ``G`` gates."""

    num_gates: int

    def __init__(self, input_size: int, hidden_size: int, *, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size)
        kw = factory_kwargs(device, dtype)
        rows = self.num_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **kw))
        self.ln_ih_weight = nn.Parameter(torch.empty(rows, **kw))
        self.ln_ih_bias = nn.Parameter(torch.empty(rows, **kw))
        self.ln_hh_weight = nn.Parameter(torch.empty(rows, **kw))
        self.ln_hh_bias = nn.Parameter(torch.empty(rows, **kw))

    def reset_parameters(self) -> None:
        """Matrices uniform in ``(-1/sqrt(H), 1/sqrt(H))`` as torch.nn; layer-norm gains 1, biases 0."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        w = self.weights()
        with torch.no_grad():
            for name, p in zip(w._fields, w, strict=True):
                if not isinstance(p, nn.Parameter):
                    continue
                if name.startswith("ln_"):
                    p.fill_(1.0 if name.endswith("_weight") else 0.0)
                else:
                    p.uniform_(-bound, bound)

    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., I) -> (..., G*H)
        return _norm(F.linear(x, w.weight_ih), w.ln_ih_weight, w.ln_ih_bias)

    def _recurrent(self, h_prev: Tensor, w: Weights) -> Tensor:  # (B, H) -> (B, G*H)
        return _norm(F.linear(h_prev, w.weight_hh), w.ln_hh_weight, w.ln_hh_bias)


class LayerNormLSTMCell(_LayerNormCell):
    """One layer-normalised LSTM step (Ba et al. 2016); the state is ``(h, c)``.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of ``h_t`` and ``c_t`` (H).

    Parameters: ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``ln_ih_weight/bias``,
    ``ln_hh_weight/bias`` ``(4H,)``, ``ln_c_weight/bias`` ``(H,)``; gates in torch's order i, f, g, o.
    """

    num_gates = 4

    def __init__(self, input_size: int, hidden_size: int, *, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, device=device, dtype=dtype)
        kw = factory_kwargs(device, dtype)
        self.ln_c_weight = nn.Parameter(torch.empty(hidden_size, **kw))
        self.ln_c_bias = nn.Parameter(torch.empty(hidden_size, **kw))
        self.reset_parameters()

    @property
    def state_sizes(self) -> Tuple[int, int]:
        return (self.hidden_size, self.hidden_size)

    def _preactivations(self, projected_x: Tensor, h_prev: Tensor, w: Weights) -> Tuple[Tensor, ...]:
        return (projected_x + self._recurrent(h_prev, w)).chunk(4, dim=-1)  # i, f, g, o: each (B, H)

    def recur(
        self, projected_x: Tensor, state: Tuple[Tensor, Tensor], w: Weights
    ) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        h_prev, c_prev = state  # (B, H), (B, H)
        i, f, g, o = self._preactivations(projected_x, h_prev, w)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)  # carried un-normalised
        h = torch.sigmoid(o) * torch.tanh(_norm(c, w.ln_c_weight, w.ln_c_bias))
        return h, (h, c)

    def gates(self, projected_x: Tensor, state: Tuple[Tensor, Tensor], w: Weights) -> Dict[str, Tensor]:
        i, f, g, o = self._preactivations(projected_x, state[0], w)
        return {
            "input": torch.sigmoid(i),
            "forget": torch.sigmoid(f),
            "cell": torch.tanh(g),
            "output": torch.sigmoid(o),
        }


class LayerNormGRUCell(_LayerNormCell):
    """One layer-normalised GRU step (torch.nn's GRU variant, both projections normalised); state ``h``.

    Args:
        input_size: features of ``x_t`` (I).
        hidden_size: features of ``h_t`` (H).

    Parameters: ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``ln_ih_weight/bias`` and
    ``ln_hh_weight/bias`` ``(3H,)``; gates in torch's order r, z, n.
    """

    num_gates = 3

    def __init__(self, input_size: int, hidden_size: int, *, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, device=device, dtype=dtype)
        self.reset_parameters()

    def _gates(self, projected_x: Tensor, h_prev: Tensor, w: Weights) -> Tuple[Tensor, Tensor, Tensor]:
        x_r, x_z, x_n = projected_x.chunk(3, dim=-1)
        h_r, h_z, h_n = self._recurrent(h_prev, w).chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return r, z, n

    def recur(self, projected_x: Tensor, state: Tensor, w: Weights) -> Tuple[Tensor, Tensor]:
        _, z, n = self._gates(projected_x, state, w)
        h = n + z * (state - n)  # == (1 - z) * n + z * h_{t-1}
        return h, h

    def gates(self, projected_x: Tensor, state: Tensor, w: Weights) -> Dict[str, Tensor]:
        r, z, n = self._gates(projected_x, state, w)
        return {"reset": r, "update": z, "new": n}
