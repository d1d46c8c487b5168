"""Teacher forcing and scheduled sampling (Bengio et al. 2015, https://arxiv.org/abs/1506.03099).

An autoregressive model trained only on ground-truth inputs (teacher forcing) never sees its own
mistakes, yet at inference it feeds on its own predictions: exposure bias. Scheduled sampling feeds,
at each step and for each sample, the ground truth with probability ``eps_i`` and the model's own
prediction otherwise, with ``eps_i`` decaying over training updates ``i`` (section 2.4):

* linear:            ``eps_i = max(eps_min, k - c * i)``          (``0 <= eps_min < 1``, ``k <= 1``, ``c > 0``)
* exponential:       ``eps_i = k ** i``                            (``0 < k < 1``)
* inverse sigmoid:   ``eps_i = k / (k + exp(i / k))``              (``k >= 1``)
* constant:          ``eps_i = ratio``  (1.0 is plain teacher forcing, 0.0 free running)

This is the one implementation the language model, the forecaster and seq2seq use; it lives in
``models`` so models can import it (``rnnkit.training`` re-exports it). Randomness is drawn from an
explicit ``torch.Generator`` (on CPU) wherever one is given, so a run repeats exactly and a checkpoint
can save the generator.

Functional use (``i`` an update or epoch index you keep)::

    p = linear_decay(i, k=1.0, c=1e-3, eps_min=0.5)
    inp = mix_inputs(teacher=y[:, t], predicted=pred_t, p_teacher=p, generator=g)   # per sample

Stateful use inside a Trainer step function (``tf`` a :class:`TeacherForcing` given to the Trainer,
which keeps ``tf.step`` equal to its update count and saves the generator with the checkpoint)::

    inp = y[:, 0]
    for t in range(T):
        pred_t, state = model.step(inp, state)
        inp = tf.mix(teacher=y[:, t + 1], predicted=pred_t.argmax(-1))   # per sample
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError

__all__ = [
    "linear_decay",
    "exponential_decay",
    "inverse_sigmoid_decay",
    "SamplingSchedule",
    "TeacherForcing",
    "teacher_mask",
    "mix_inputs",
]


def linear_decay(i: int, k: float = 1.0, c: float = 1e-4, eps_min: float = 0.0) -> float:
    """``eps_i = max(eps_min, k - c * i)``."""
    return max(eps_min, k - c * i)


def exponential_decay(i: int, k: float = 0.999) -> float:
    """``eps_i = k ** i``."""
    return k**i


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
            raise InvalidValueError(f"kind must be one of {list(kinds)}, got {self.kind!r}")
        for name in ("ratio", "k", "c", "eps_min"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InvalidValueError(f"{name} must be a finite number, got {v!r}")
        if not 0 <= self.ratio <= 1:
            raise InvalidValueError(f"ratio must be in [0, 1], got {self.ratio!r}")
        if self.kind == "linear" and not (self.c > 0 and 0 <= self.eps_min < 1 and self.eps_min <= self.k <= 1):
            raise InvalidValueError(
                f"linear needs c > 0 and 0 <= eps_min <= k <= 1, got k={self.k}, c={self.c}, eps_min={self.eps_min}"
            )
        if self.kind == "exponential" and not 0 < self.k < 1:
            raise InvalidValueError(f"exponential needs 0 < k < 1, got k={self.k!r}")
        if self.kind == "inverse_sigmoid" and self.k < 1:
            raise InvalidValueError(f"inverse_sigmoid needs k >= 1, got k={self.k!r}")

    def __call__(self, i: int) -> float:
        """``eps_i``: the probability of feeding the ground truth at update ``i``."""
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise InvalidValueError(f"the update index must be an int >= 0, got {i!r}")
        if self.kind == "constant":
            return float(self.ratio)
        if self.kind == "linear":
            return linear_decay(i, self.k, self.c, self.eps_min)
        if self.kind == "exponential":
            return exponential_decay(i, self.k)
        return inverse_sigmoid_decay(i, self.k)


def _check_generator(generator: Optional[torch.Generator]) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InvalidTypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _check_probability(name: str, p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:  # NaN fails 0 <= p
        raise InvalidValueError(f"{name} must be a number in [0, 1], got {p!r}")


def teacher_mask(
    shape: Sequence[int], p_teacher: float, generator: Optional[torch.Generator] = None, device=None
) -> Tensor:
    """Bool tensor of ``shape``: True (feed the ground truth) with probability ``p_teacher``.

    Drawn on CPU from ``generator`` (torch's global generator if None), then moved to ``device``.
    """
    _check_probability("p_teacher", p_teacher)
    _check_generator(generator)
    mask = torch.rand(tuple(shape), generator=generator) < p_teacher
    return mask if device is None else mask.to(device)


def mix_inputs(
    teacher: Tensor, predicted: Tensor, p_teacher: float, generator: Optional[torch.Generator] = None
) -> Tensor:
    """Per sample (dim 0): ``teacher`` with probability ``p_teacher``, else ``predicted`` (detached).

    ``teacher`` and ``predicted`` have the same shape ``(B, ...)``; one coin per sample, drawn as
    :func:`teacher_mask` draws it (``B`` numbers from ``generator``, or torch's global generator if
    None). ``p_teacher >= 1`` returns ``teacher`` itself and draws nothing. One call per time step gives
    Bengio et al.'s per-token choice.
    """
    if not isinstance(teacher, Tensor) or not isinstance(predicted, Tensor) or teacher.shape != predicted.shape:
        raise InvalidValueError(
            f"teacher and predicted must be tensors of the same shape, got "
            f"{getattr(teacher, 'shape', teacher)!r} and {getattr(predicted, 'shape', predicted)!r}"
        )
    _check_probability("p_teacher", p_teacher)
    _check_generator(generator)
    if teacher.dim() == 0:
        raise InvalidValueError("teacher and predicted need a batch dim (B, ...), got 0-d tensors")
    if p_teacher >= 1:
        return teacher
    keep = teacher_mask((teacher.shape[0],), p_teacher, generator, teacher.device)
    keep = keep.view((-1,) + (1,) * (teacher.dim() - 1))  # (B, 1, ...)
    return torch.where(keep, teacher, predicted.detach().to(teacher.dtype))


class TeacherForcing:
    """Chooses, with its own generator, where to feed the ground truth and where the prediction.

    ``step`` is the update index ``i`` of the schedule; the Trainer sets it before every update.
    ``generator`` (a CPU ``torch.Generator``) is used if given; otherwise a new one seeded with ``seed``.
    """

    def __init__(
        self, schedule: Optional[SamplingSchedule] = None, seed: int = 0, generator: Optional[torch.Generator] = None
    ) -> None:
        self.schedule = schedule if schedule is not None else SamplingSchedule()
        if not isinstance(self.schedule, SamplingSchedule):
            raise InvalidTypeError(f"schedule must be a SamplingSchedule, got {type(schedule).__name__}")
        _check_generator(generator)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(seed)
        self.step = 0

    @property
    def ratio(self) -> float:
        """``eps_i`` at the current step."""
        return self.schedule(self.step)

    def mask(self, shape, device=None) -> Tensor:
        """Bool tensor of ``shape``: True (use the ground truth) with probability ``eps_i``, drawn on CPU."""
        return teacher_mask(shape, self.ratio, self.generator, device)

    def mix(self, teacher: Tensor, predicted: Tensor) -> Tensor:
        """:func:`mix_inputs` at the current ``eps_i`` with this object's generator.

        To choose once for a whole sequence instead of per step, call :meth:`mask` once.
        """
        return mix_inputs(teacher, predicted, self.ratio, self.generator)

    def state_dict(self) -> Dict[str, object]:
        return {"generator": self.generator.get_state(), "step": self.step}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        self.generator.set_state(state["generator"].clone())
        self.step = int(state["step"])
