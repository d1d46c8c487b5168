"""Teacher forcing and scheduled sampling: re-exported from :mod:`rnnkit.models.scheduled_sampling`.

The implementation lives in ``models`` so that models (language model, forecaster, seq2seq) can use
it without importing ``training`` (a lower folder never imports a higher one). This module keeps
``from rnnkit.training.scheduled_sampling import ...`` working.
"""

from ..models.scheduled_sampling import (
    SamplingSchedule,
    TeacherForcing,
    exponential_decay,
    inverse_sigmoid_decay,
    linear_decay,
    mix_inputs,
    teacher_mask,
)

__all__ = [
    "linear_decay",
    "exponential_decay",
    "inverse_sigmoid_decay",
    "SamplingSchedule",
    "TeacherForcing",
    "teacher_mask",
    "mix_inputs",
]
