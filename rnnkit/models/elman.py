"""The Elman network of the seeds, with its output layer.

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)
    y_t = W_hy h_t + b_y

for every step t. ``W_xh``, ``W_hh``, ``b_h``, ``W_hy`` and ``b_y`` are available under those names
(``b_h`` is ``bias_ih + bias_hh``: torch.nn keeps the recurrent bias as two vectors).
"""

from __future__ import annotations

from typing import Optional, Tuple

from torch import Tensor, nn

from .._checks import positive_int
from ..layers import RNN
from ..layers.sequences import check_lengths, step_mask


class ElmanRNN(nn.Module):
    """A one-layer Elman RNN plus a linear output at every step: ``forward(x, h) -> (y, h)``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: features of ``h_t``.
        output_size: features of ``y_t``.
        nonlinearity: ``"tanh"`` (the seeds' equation) or ``"relu"``.
        batch_first: ``x`` and ``y`` are ``(N, L, F)`` instead of ``(L, N, F)``.
    Shapes: ``x`` ``(L, N, input_size)``; ``h`` ``(1, N, hidden_size)``; ``y`` ``(L, N, output_size)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        nonlinearity: str = "tanh",
        batch_first: bool = False,
        *,
        engine: str = "auto",
    ) -> None:
        super().__init__()
        output_size = positive_int("output_size", output_size)
        self.rnn = RNN(input_size, hidden_size, nonlinearity=nonlinearity, batch_first=batch_first, engine=engine)
        self.out = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor, h: Optional[Tensor] = None, lengths=None) -> Tuple[Tensor, Tensor]:
        """``y`` for every step and the last ``h``; with ``lengths``, ``y`` is zero past each end."""
        hs, h_last = self.rnn(x, h, lengths=lengths)  # (L, N, H), (1, N, H)
        y = self.out(hs)  # y_t = W_hy h_t + b_y
        if lengths is not None:  # padded steps: 0, as the layer's outputs (not b_y)
            time_dim = 1 if self.rnn.batch_first else 0
            steps = y.shape[time_dim]
            checked = check_lengths(lengths, y.shape[1 - time_dim], steps)  # the layer accepted them
            if checked is not None:
                mask = step_mask(checked, steps, y.device)  # (L, N, 1)
                y = y.masked_fill(~(mask.transpose(0, 1) if time_dim else mask), 0.0)
        return y, h_last

    # the seeds' names
    @property
    def W_xh(self) -> Tensor:
        return self.rnn.weight_ih_l0

    @property
    def W_hh(self) -> Tensor:
        return self.rnn.weight_hh_l0

    @property
    def b_h(self) -> Tensor:
        return self.rnn.bias_ih_l0 + self.rnn.bias_hh_l0

    @property
    def W_hy(self) -> Tensor:
        return self.out.weight

    @property
    def b_y(self) -> Tensor:
        return self.out.bias
