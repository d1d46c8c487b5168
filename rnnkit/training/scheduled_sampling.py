"""Teacher forcing and scheduled sampling (Bengio et al. 2015, https://arxiv.org/abs/1506.03099).

An autoregressive model trained only on ground-truth inputs (teacher forcing) never sees its own
mistakes, yet at inference it feeds on its own predictions: exposure bias. Scheduled sampling feeds,
at each step and for each sample, the ground truth with probability ``eps_i`` and the model's own
prediction otherwise, with ``eps_i`` decaying over training updates ``i`` (section 2.4):

* linear:            ``eps_i = max(eps_min, k - c * i)``          (``0 <= eps_min < 1``, ``k <= 1``, ``c > 0``)
* exponential:       ``eps_i = k ** i``                            (``0 < k < 1``)
* inverse sigmoid:   ``eps_i = k / (k + exp(i / k))``              (``k >= 1``)
* constant:          ``eps_i = ratio``  (1.0 is plain teacher forcing, 0.0 free running)

Usage inside a step function (``tf`` a :class:`TeacherForcing` given to the Trainer, which keeps
``tf.step`` equal to its update count and saves the generator with the checkpoint)::

    inp = y[:, 0]
    for t in range(T):
        pred_t, state = model.step(inp, state)
        inp = tf.mix(teacher=y[:, t + 1], predicted=pred_t.argmax(-1))   # per sample
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import Tensor

__all__ = ["linear_decay", "exponential_decay", "inverse_sigmoid_decay", "SamplingSchedule", "TeacherForcing"]


def linear_decay(i: int, k: float = 1.0, c: float = 1e-4, eps_min: float = 0.0) -> float:
    """``eps_i = max(eps_min, k - c * i)``."""
    return max(eps_min, k - c * i)


def exponential_decay(i: int, k: float = 0.999) -> float:
    """``eps_i = k ** i``."""
    return k ** i


def inverse_sigmoid_decay(i: int, k: float = 1000.0) -> float:
    """``eps_i = k / (k + exp(i / k))``; computed stably for large ``i / k``."""
    z = i / k
    if z > 700:  # exp overflows; eps is 0 to double precision
        return 0.0
    return k / (k + math.exp(z))


@dataclass
class SamplingSchedule:
    kind: str = "constant"  # constant, linear, exponential or inverse_sigmoid (Bengio et al. 2015, 2.4)
    ratio: float = 1.0  # "constant": the teacher-forcing probability
    k: float = 1.0  # the schedule's k (see the module docstring); its meaning depends on kind
    c: float = 1e-4  # "linear": the decrease per update
    eps_min: float = 0.0  # "linear": the floor

    def __post_init__(self) -> None:
        kinds = ("constant", "linear", "exponential", "inverse_sigmoid")
        if self.kind not in kinds:
            raise ValueError(f"kind must be one of {list(kinds)}, got {self.kind!r}")
        for name in ("ratio", "k", "c", "eps_min"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        if not 0 <= self.ratio <= 1:
            raise ValueError(f"ratio must be in [0, 1], got {self.ratio!r}")
        if self.kind == "linear" and not (self.c > 0 and 0 <= self.eps_min < 1 and self.eps_min <= self.k <= 1):
            raise ValueError(
                f"linear needs c > 0 and 0 <= eps_min <= k <= 1, got k={self.k}, c={self.c}, eps_min={self.eps_min}"
            )
        if self.kind == "exponential" and not 0 < self.k < 1:
            raise ValueError(f"exponential needs 0 < k < 1, got k={self.k!r}")
        if self.kind == "inverse_sigmoid" and self.k < 1:
            raise ValueError(f"inverse_sigmoid needs k >= 1, got k={self.k!r}")

    def __call__(self, i: int) -> float:
        """``eps_i``: the probability of feeding the ground truth at update ``i``."""
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise ValueError(f"the update index must be an int >= 0, got {i!r}")
        if self.kind == "constant":
            return float(self.ratio)
        if self.kind == "linear":
            return linear_decay(i, self.k, self.c, self.eps_min)
        if self.kind == "exponential":
            return exponential_decay(i, self.k)
        return inverse_sigmoid_decay(i, self.k)


class TeacherForcing:
    """Chooses, with its own seeded generator, where to feed the ground truth and where the prediction.

    ``step`` is the update index ``i`` of the schedule; the Trainer sets it before every update.
    """

    def __init__(self, schedule: Optional[SamplingSchedule] = None, seed: int = 0) -> None:
        self.schedule = schedule if schedule is not None else SamplingSchedule()
        if not isinstance(self.schedule, SamplingSchedule):
            raise TypeError(f"schedule must be a SamplingSchedule, got {type(schedule).__name__}")
        self.generator = torch.Generator().manual_seed(seed)
        self.step = 0

    @property
    def ratio(self) -> float:
        """``eps_i`` at the current step."""
        return self.schedule(self.step)

    def mask(self, shape, device=None) -> Tensor:
        """Bool tensor of ``shape``: True (use the ground truth) with probability ``eps_i``, drawn on CPU."""
        draw = torch.rand(tuple(shape), generator=self.generator)
        return (draw < self.ratio).to(device) if device is not None else draw < self.ratio

    def mix(self, teacher: Tensor, predicted: Tensor) -> Tensor:
        """Per sample (dim 0): ``teacher`` where the coin says ground truth, else ``predicted`` (detached).

        ``teacher`` and ``predicted`` have the same shape ``(B, ...)``. One call per time step gives
        Bengio et al.'s per-token choice; to choose once for a whole sequence, call :meth:`mask` once.
        """
        if not isinstance(teacher, Tensor) or not isinstance(predicted, Tensor) or teacher.shape != predicted.shape:
            raise ValueError(
                f"teacher and predicted must be tensors of the same shape, got "
                f"{getattr(teacher, 'shape', teacher)!r} and {getattr(predicted, 'shape', predicted)!r}"
            )
        m = self.mask((teacher.shape[0],), teacher.device).view((-1,) + (1,) * (teacher.dim() - 1))
        return torch.where(m, teacher, predicted.detach().to(teacher.dtype))

    def state_dict(self) -> Dict[str, object]:
        return {"generator": self.generator.get_state(), "step": self.step}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        self.generator.set_state(state["generator"].clone())
        self.step = int(state["step"])
