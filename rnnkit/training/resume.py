"""Resume rules: one statement of what a resumed run may change, for the Trainer and every task.

A resumed run must continue the run it resumes, so everything that decides *what the model learns*
-- the data, the model's shape, the optimizer and its hyperparameters, the schedule's shape, the
seed, the batch size -- must equal the saved value. What may change is listed in
:data:`RESUME_MAY_CHANGE`: how long the run goes on, when it validates, saves and logs, and
switches that act from the next update on without touching the state the checkpoint restores.
``TrainConfig``, the language-model recipe and the forecasting recipe all check their saved
settings with :func:`check_resume`; a conflict names each setting with its saved and given value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Mapping, Optional

from .._checks import InvalidValueError

RESUME_MAY_CHANGE = frozenset(
    {
        # how long the run goes on
        "max_steps",
        "max_epochs",
        "time_budget",
        # when it validates, saves and logs, and where
        "val_every",
        "val_every_epochs",
        "checkpoint_every",
        "checkpoint_every_epochs",
        "log_every",
        "out_dir",
        "out",
        "resume",
        "early_stopping_patience",
        "min_delta",
        "monitor",
        "monitor_mode",  # a changed monitor forgets the best value so far
        # act from the next update on; the saved state stays valid
        "clip_norm",
        "clip_value",
        "max_bad_steps",
        "detect_anomaly",
        "accelerator",
        "threads",
        # reporting only
        "progress",
        "tensorboard",
        "throughput_unit",
        "sample_length",
    }
)


@dataclass(frozen=True)
class Conflict:
    name: str  # the setting
    saved: Any  # its value in the run being resumed
    given: Any  # the value given now


class ResumeConflict(InvalidValueError):
    """Resuming was asked with a setting that differs from the run's own; ``conflicts`` lists them."""

    def __init__(self, message: str, conflicts: List[Conflict]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


def same_value(a: Any, b: Any) -> bool:
    """Equal, with numbers compared to 1e-12 (a float written to JSON and read back is the same)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def resume_conflicts(
    saved: Mapping[str, Any], given: Mapping[str, Any], may_change: Iterable[str] = RESUME_MAY_CHANGE
) -> List[Conflict]:
    """The settings in both ``saved`` and ``given`` that differ and may not change on resume.

    A setting only one side knows (a run saved by another version) is not compared.
    """
    allowed = set(may_change)
    return [
        Conflict(name, saved[name], value)
        for name, value in given.items()
        if name not in allowed and name in saved and not same_value(saved[name], value)
    ]


def check_resume(
    saved: Mapping[str, Any],
    given: Mapping[str, Any],
    where: str,
    *,
    label: Callable[[str], str] = str,
    show: Callable[[str, Any], str] = lambda n, v: repr(v),
    how_to: Optional[str] = None,
    may_change: Iterable[str] = RESUME_MAY_CHANGE,
) -> None:
    """Raise :class:`ResumeConflict` if ``given`` changes a setting of the run in ``where`` that
    may not change. ``label`` names a setting as the caller's user knows it (``--hidden-size``),
    ``show`` formats a value, ``how_to`` ends the message (what to do instead)."""
    conflicts = resume_conflicts(saved, given, may_change)
    if not conflicts:
        return
    parts = [
        f"{label(c.name)} {show(c.name, c.given)} (the run was started with {show(c.name, c.saved)})" for c in conflicts
    ]
    how_to = how_to or (
        "resume without them (the run keeps its own settings), or start a new run elsewhere; "
        f"what may change on resume: {', '.join(sorted(label(n) for n in RESUME_MAY_CHANGE))}"
    )
    raise ResumeConflict(
        f"cannot resume the run in {where}: {'; '.join(parts)} would change what it learns; {how_to}", conflicts
    )
