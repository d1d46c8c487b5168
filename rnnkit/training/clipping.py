"""Gradient clipping, by global norm and by value, and the pre-clip global norm that is logged.

With ``g`` all gradients of the model concatenated into one vector:

* global norm: ``||g||_2 = sqrt(sum_p sum_i g_{p,i}^2)``, measured *before* any clipping and logged
  every update (so exploding gradients are visible even while clipping hides them from the weights);
* by value (first, if set): ``g_i <- clamp(g_i, -v, v)``;
* by norm (then, if set): ``g <- g * min(1, c / (||g||_2 + 1e-6))``, torch's ``clip_grad_norm_`` rule,
  with ``||g||_2`` taken after value clipping.
"""

from __future__ import annotations

from typing import Iterable, List, Optional

import torch
from torch import Tensor, nn

from .._checks import InvalidValueError


def global_grad_norm(params: Iterable[nn.Parameter]) -> Tensor:
    """``||g||_2`` over every parameter that has a gradient (0 if none); inf/nan if any is non-finite."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach(), 2.0) for g in grads]), 2.0)


def clip_gradients(
    params: Iterable[nn.Parameter], clip_norm: Optional[float] = None, clip_value: Optional[float] = None
) -> Tensor:
    """Clip gradients in place; returns the global L2 norm measured before clipping."""
    for name, v in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
            raise InvalidValueError(f"{name} must be None or a number > 0, got {v!r}")
    params: List[nn.Parameter] = [p for p in params if p.grad is not None]
    norm = global_grad_norm(params)
    if clip_value is not None:
        torch.nn.utils.clip_grad_value_(params, clip_value)
    if clip_norm is not None:
        # after value clipping the norm changed; without it, reuse the one just measured
        current = norm if clip_value is None else global_grad_norm(params)
        scale = torch.clamp(clip_norm / (current + 1e-6), max=1.0)
        for p in params:
            p.grad.detach().mul_(scale.to(p.grad.device, p.grad.dtype))
    return norm
