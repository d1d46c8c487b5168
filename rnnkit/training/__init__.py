"""Training: one loop for full and truncated BPTT, with clipping, scheduled sampling, exact resume.

Start with :class:`Trainer` and :class:`TrainConfig`; ``docs/training.md`` walks through it.
Lightning (for multi-process training) is imported only when ``devices > 1``.
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
from .checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    find_checkpoint,
    load_model_weights,
    load_training_state,
    save_checkpoint,
)
from .clipping import clip_gradients, global_grad_norm
from .config import TrainConfig
from .data import ShuffledBatches, StreamDataset
from .nan_guard import NonFiniteError, NonFiniteGuard, NonFiniteWarning
from .optim import build_optimizer, build_scheduler, lr_factor
from .tbptt import WindowedTBPTT, detach_state, reset_state, split_time
from .trainer import Trainer, seed_everything

__all__ = [
    "Trainer",
    "TrainConfig",
    "seed_everything",
    "ShuffledBatches",
    "StreamDataset",
    "detach_state",
    "reset_state",
    "split_time",
    "WindowedTBPTT",
    "clip_gradients",
    "global_grad_norm",
    "build_optimizer",
    "build_scheduler",
    "lr_factor",
    "SamplingSchedule",
    "TeacherForcing",
    "linear_decay",
    "exponential_decay",
    "inverse_sigmoid_decay",
    "mix_inputs",
    "teacher_mask",
    "save_checkpoint",
    "load_model_weights",
    "load_training_state",
    "find_checkpoint",
    "atomic_write_bytes",
    "CheckpointError",
    "NonFiniteError",
    "NonFiniteGuard",
    "NonFiniteWarning",
]
