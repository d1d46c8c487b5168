"""Non-finite safety: a NaN or Inf loss or gradient never reaches the weights.

The Trainer asks :meth:`NonFiniteGuard.check` after the backward pass (and after unscaling under
fp16) and before the optimizer step. A bad update is skipped -- no optimizer step, no scheduler step,
gradients zeroed -- counted, and reported with a warning. After ``max_consecutive`` bad updates in a
row, :class:`NonFiniteError` stops the run, naming the step. (Under fp16 loss scaling an overflow
is expected now and then; it is skipped the same way and the scaler lowers its scale.)
"""

from __future__ import annotations

import math
import warnings
from typing import Dict, Optional

import torch
from torch import Tensor

from .._checks import InvalidValueError, UserError

__all__ = ["NonFiniteError", "NonFiniteGuard", "NonFiniteWarning"]


class NonFiniteError(UserError, RuntimeError):
    """Too many consecutive updates with a non-finite loss or gradient."""


class NonFiniteWarning(RuntimeWarning):
    """One update was skipped because its loss or gradient was not finite."""


class NonFiniteGuard:
    def __init__(self, max_consecutive: int = 5) -> None:
        if isinstance(max_consecutive, bool) or not isinstance(max_consecutive, int) or max_consecutive < 1:
            raise InvalidValueError(f"max_consecutive must be a positive int, got {max_consecutive!r}")
        self.max_consecutive = max_consecutive
        self.consecutive = 0  # bad updates in a row, now
        self.total = 0  # bad updates in the whole run

    @staticmethod
    def is_finite(value: Optional[Tensor]) -> bool:
        if value is None:
            return True
        if isinstance(value, Tensor):
            return bool(torch.isfinite(value).all())
        return math.isfinite(value)

    def check(self, step: int, loss: Optional[Tensor], grad_norm: Optional[Tensor] = None) -> bool:
        """True if the update may proceed; False (and a warning) if it must be skipped.

        Raises :class:`NonFiniteError` when this makes ``max_consecutive`` bad updates in a row.
        """
        loss_ok, grad_ok = self.is_finite(loss), self.is_finite(grad_norm)
        if loss_ok and grad_ok:
            self.consecutive = 0
            return True
        self.consecutive += 1
        self.total += 1
        what = "loss" if not loss_ok else "gradient norm"
        value = loss if not loss_ok else grad_norm
        if self.consecutive >= self.max_consecutive:
            raise NonFiniteError(
                f"stopping at step {step}: {self.consecutive} consecutive updates had a non-finite loss or "
                f"gradient (the last: {what} = {float(value)}); the weights are those from before the "
                f"first of them. Lower the learning rate, clip gradients (clip_norm), check the data, or "
                f"set detect_anomaly=True to find the operation that produced it"
            )
        warnings.warn(
            f"step {step}: non-finite {what} ({float(value)}); update skipped, weights unchanged "
            f"({self.consecutive} in a row, {self.total} in total)",
            NonFiniteWarning,
            stacklevel=3,
        )
        return False

    def state_dict(self) -> Dict[str, int]:
        return {"consecutive": self.consecutive, "total": self.total}

    def load_state_dict(self, state: Dict[str, int]) -> None:
        self.consecutive, self.total = int(state["consecutive"]), int(state["total"])
