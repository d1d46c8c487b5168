"""Choosing the next token from the model's scores: greedy, temperature, top-k and top-p sampling.

Definitions (``z`` are the logits of one position, ``V`` the vocabulary size):

* temperature ``tau``: sample from ``softmax(z / tau)``. ``tau < 1`` sharpens the distribution,
  ``tau > 1`` flattens it, and ``tau = 0`` is greedy decoding: ``argmax z`` (the limit tau -> 0).
* top-k: keep only the ``k`` highest-scoring tokens (exactly ``k``; ties broken by ``torch.topk``),
  renormalise, sample among them.
* top-p (nucleus sampling, Holtzman et al. 2020): keep the smallest set of tokens whose cumulative
  probability is ``>= p`` (the most probable first), renormalise, sample among them.

Top-k is applied first, then top-p on what remains, both after the temperature. The chosen ids are
always in ``[0, V)``: they are indices into the logits.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError


def check_sampling_args(temperature: float, top_k: Optional[int], top_p: Optional[float]) -> None:
    """Raise :class:`~rnnkit._checks.InvalidValueError` naming a bad temperature, top_k or top_p."""
    number = not isinstance(temperature, bool) and isinstance(temperature, (int, float))
    if not number or not math.isfinite(temperature) or temperature < 0:
        raise InvalidValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InvalidValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise InvalidValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")


def filter_logits(logits: Tensor, top_k: Optional[int] = None, top_p: Optional[float] = None) -> Tensor:
    """Logits ``(..., V)`` with every token outside the top-k / top-p set set to ``-inf``.

    ``top_k`` larger than ``V`` keeps everything. The most probable token always survives.
    """
    check_sampling_args(1.0, top_k, top_p)
    v = logits.shape[-1]
    if top_k is not None and top_k < v:
        values, indices = torch.topk(logits, top_k, dim=-1)  # (..., k)
        logits = torch.full_like(logits, float("-inf")).scatter(-1, indices, values)
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # probability mass strictly above each token
        drop_sorted = before >= top_p  # the set already reached p without this token
        drop_sorted[..., 0] = False
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    top_p: Optional[float] = None,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """Choose one token id per row of ``logits`` ``(B, V)`` (or ``(V,)``).

    Args:
        temperature: ``0`` is greedy (argmax; top_k/top_p then change nothing); otherwise the
            logits are divided by it before the softmax.
        top_k: sample only among the ``k`` most likely tokens.
        top_p: sample only from the smallest set whose cumulative probability is ``>= p``.
        generator: a ``torch.Generator`` on the logits' device, for reproducible samples.
    Returns:
        int64 ids of shape ``(B,)`` (or a 0-dim tensor for ``(V,)`` logits), each in ``[0, V)``.
    """
    check_sampling_args(temperature, top_k, top_p)
    if not isinstance(logits, Tensor) or logits.dim() not in (1, 2) or logits.shape[-1] == 0:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise InvalidValueError(f"logits must be a tensor (B, V) or (V,) with V >= 1, got {shape}")
    if not logits.is_floating_point():
        raise InvalidTypeError(f"logits must be floating point, got dtype {logits.dtype}")
    if bool((torch.isnan(logits) | (logits == float("inf"))).any()):
        raise InvalidValueError("logits contain NaN or +inf; the model's output is broken (diverged training?)")
    if bool((logits == float("-inf")).all(dim=-1).any()):
        raise InvalidValueError("a row of logits is all -inf: no token can be chosen")
    if temperature == 0:
        return logits.argmax(dim=-1)
    z = logits.float()
    z = (z - z.max(dim=-1, keepdim=True).values) / temperature  # max 0: a tiny temperature cannot overflow
    scores = filter_logits(z, top_k, top_p)
    probs = torch.softmax(scores, dim=-1)  # (B, V) or (V,)
    flat = probs.reshape(-1, probs.shape[-1])
    ids = torch.multinomial(flat, 1, generator=generator).squeeze(-1)  # (B,)
    return ids.reshape(logits.shape[:-1])
