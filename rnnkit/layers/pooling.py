"""Pooling over time: a sequence of outputs ``(B, T, D)`` to one vector ``(B, D)``, padding ignored.

The many-to-one mapping reads a whole sequence and answers once; these are the usual ways to
summarise the per-step outputs ``h_1 .. h_L`` of a sequence of length ``L`` (steps past ``L``
are padding and never count):

* ``last``:   the final state -- ``h_L`` of the forward direction, and for a bidirectional layer
  the backward direction's output at step 1 (which has read the whole sequence), concatenated;
* ``mean``:   ``(1/L) sum_t h_t``;
* ``max``:    ``max_t h_t`` per feature;
* ``attention`` (Yang et al. 2016, "Hierarchical Attention Networks"; Lin et al. 2017)::

      u_t = tanh(W h_t + b)            # (B, T, A)
      e_t = v^T u_t                    # (B, T)   one learned score per step
      a_t = softmax_t(e_t)             # (B, T)   masked: a_t = 0 exactly for t > L
      pooled = sum_t a_t h_t           # (B, D)

  The weights ``a`` are returned, so a user can plot which steps the decision rested on.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .._checks import InvalidValueError, choice, positive_int

POOLINGS = ("last", "mean", "max", "attention")


def step_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)`` bool: True at the real steps ``t < lengths[b]``."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def last_outputs(outputs: Tensor, lengths: Tensor, bidirectional: bool) -> Tensor:
    """``(B, D)``: the forward half at step ``L - 1``; the backward half (if any) at step 0."""
    B = outputs.shape[0]
    rows = torch.arange(B, device=outputs.device)
    at_end = outputs[rows, (lengths - 1).clamp(min=0)]  # (B, D)
    if not bidirectional:
        return at_end
    half = outputs.shape[-1] // 2
    return torch.cat([at_end[:, :half], outputs[:, 0, half:]], dim=-1)


class TimePooling(nn.Module):
    """``forward(outputs (B, T, D), lengths (B,)) -> (pooled (B, D), weights (B, T) or None)``.

    ``weights`` are the attention weights for ``pooling="attention"`` and None otherwise.
    """

    def __init__(self, pooling: str, features: int, bidirectional: bool = False, attention_size: int = 0) -> None:
        super().__init__()
        self.pooling = choice("pooling", pooling, POOLINGS)
        self.features = positive_int("features", features)
        self.bidirectional = bool(bidirectional)
        if pooling == "attention":
            size = attention_size or features
            positive_int("attention_size", size)
            self.project = nn.Linear(features, size)  # W, b
            self.score = nn.Linear(size, 1, bias=False)  # v

    def forward(self, outputs: Tensor, lengths: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor]]:
        if outputs.dim() != 3 or outputs.shape[-1] != self.features:
            raise InvalidValueError(
                f"outputs must have shape (batch, steps, {self.features}), got {tuple(outputs.shape)}"
            )
        B, T, _ = outputs.shape
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=outputs.device)
        lengths = lengths.to(outputs.device)
        mask = step_mask(lengths, T)  # (B, T)
        if self.pooling == "last":
            return last_outputs(outputs, lengths, self.bidirectional), None
        if self.pooling == "mean":
            total = (outputs * mask.unsqueeze(-1)).sum(1)
            return total / lengths.clamp(min=1).unsqueeze(-1).to(outputs.dtype), None
        if self.pooling == "max":
            filled = outputs.masked_fill(~mask.unsqueeze(-1), float("-inf"))
            pooled = filled.max(1).values
            return torch.where(torch.isfinite(pooled), pooled, torch.zeros_like(pooled)), None
        scores = self.score(torch.tanh(self.project(outputs))).squeeze(-1)  # (B, T)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        weights = torch.nan_to_num(weights, nan=0.0)  # a length-0 row: all weights 0
        return torch.bmm(weights.unsqueeze(1), outputs).squeeze(1), weights
