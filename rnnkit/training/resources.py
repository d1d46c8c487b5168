"""Will it fit? The memory a training run needs, estimated before anything is allocated.

A model's parameters are counted by building it on PyTorch's ``meta`` device (shapes only, no
storage), so the count is exact for any model and costs no memory. Training then holds, per
parameter, the weight, its gradient and Adam's two moments (4 x 4 bytes in float32); the
activations kept for the backward pass come from the task, which knows its batch shape. The
estimate is compared with the memory the operating system reports as available (``MemAvailable``
of ``/proc/meminfo``), and a run that cannot fit is refused with both numbers, before torch's
allocator fails half-way with a traceback.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

import torch

from .._checks import InvalidValueError

BYTES_PER_PARAMETER_TRAINING = 4 * 4  # float32 weight, gradient, Adam's first and second moments


class InsufficientMemoryError(InvalidValueError):
    """A run would need more memory than the machine has available (the message gives both)."""


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``320 MB``, ``12 kB`` (powers of 1000, as ``free -h --si`` shows them)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def available_memory() -> Optional[int]:
    """Bytes the OS can give a new allocation without swapping (``MemAvailable``); None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def count_parameters(build: Callable[[], torch.nn.Module]) -> int:
    """Parameters of the model ``build()`` makes, counted on the ``meta`` device (nothing allocated)."""
    with torch.device("meta"):
        model = build()
    return sum(p.numel() for p in model.parameters())


def check_fits(need: float, what: str, hint: str, available: Optional[int] = None) -> None:
    """Raise :class:`InsufficientMemoryError` when ``need`` bytes exceed the available memory.

    ``what`` says what needs it ("training a 2x100000000 LSTM (1.2e+17 parameters)"), ``hint``
    how to need less. Unknown available memory: no check.
    """
    available = available_memory() if available is None else available
    if available is None or need <= available:
        return
    raise InsufficientMemoryError(
        f"{what} needs about {format_bytes(need)} of memory, but this machine has {format_bytes(available)} "
        f"available: {hint}"
    )


def training_bytes(parameters: int, activation_floats: float) -> float:
    """Bytes to train ``parameters`` with Adam in float32 and keep ``activation_floats`` for backward."""
    return parameters * BYTES_PER_PARAMETER_TRAINING + 4 * activation_floats
