"""Argument checks and the error types a user can cause: one home for every layer of rnnkit.

Every public entry point validates what it is given and raises an error that names the bad value
and what was expected. Errors a *user* causes (a bad argument, a malformed file, an optional
package not installed) are the project's own types, all subclasses of :class:`UserError`, so the
command line prints one ``error:`` line for them and keeps the traceback for anything else (a
bug). Each also subclasses the built-in exception a Python user expects, so ``except ValueError``
keeps working:

=============================  ======================  ==========================================
type                           also a                  raised for
=============================  ======================  ==========================================
:class:`InvalidValueError`     ``ValueError``          a value out of range, a bad shape, a bad choice
:class:`InvalidTypeError`      ``TypeError``           an argument of the wrong type
:class:`FileFormatError`       ``ValueError``          a file that exists but cannot be read as
                                                       what it should be (names the file)
:class:`MissingFileError`      ``FileNotFoundError``   a file or folder that is not there
:class:`NotAFolderError`       ``NotADirectoryError``  a file given where a folder belongs
:class:`NotAFileError`         ``IsADirectoryError``   a folder given where a file belongs
:class:`MissingOptionalDependency`  ``ImportError``    an optional extra that is not installed
=============================  ======================  ==========================================

The checks return the value they accept (converted where that is harmless: an int where a float is
expected), so a constructor reads ``self.size = positive_int("size", size)``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Optional, Sequence, TypeVar

T = TypeVar("T")

__all__ = [
    "UserError",
    "InvalidValueError",
    "InvalidTypeError",
    "FileFormatError",
    "MissingFileError",
    "NotAFolderError",
    "NotAFileError",
    "MissingOptionalDependency",
    "describe",
    "is_int",
    "positive_int",
    "non_negative_int",
    "positive_float",
    "non_negative_float",
    "in_range",
    "choice",
    "boolean",
    "optional",
    "floating_dtype",
    "torch_device",
]


# ---- error types -------------------------------------------------------------------------------


class UserError(Exception):
    """Base of every error a user of rnnkit can cause. The CLI prints these as one line."""


class InvalidValueError(UserError, ValueError):
    """An argument or setting has a value that is not allowed (the message names it)."""


class InvalidTypeError(UserError, TypeError):
    """An argument has the wrong type (the message names the type received and the one expected)."""


class FileFormatError(UserError, ValueError):
    """A file exists but cannot be read as what it should be: malformed, truncated, of another kind."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder that is needed is not there."""


class NotAFolderError(FileFormatError, NotADirectoryError):
    """A file was given where a folder belongs (a model folder, a run's output folder)."""


class NotAFileError(UserError, IsADirectoryError):
    """A folder was given where a file belongs (a text file, a CSV)."""


class MissingOptionalDependency(UserError, ImportError):
    """An optional package (an extra of rnnkit) is needed and not installed; the message says how to get it."""


# ---- describing values -------------------------------------------------------------------------


def describe(value: Any, limit: int = 60) -> str:
    """A short description of ``value`` for an error message: tensors by shape and dtype, tuples
    element-wise, anything else by type and (shortened) repr."""
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if isinstance(value, tuple):
        return "a tuple of (" + ", ".join(describe(v, limit) for v in value) + ")"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


# ---- checks ------------------------------------------------------------------------------------


def is_int(value: object) -> bool:
    """True for a Python or NumPy integer, False for bool (``True`` is not a size)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iu"


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and (
        isinstance(value, (int, float))
        or is_int(value)
        or (type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind == "f")
    )


def positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1; else :class:`InvalidTypeError` (not an int) or
    :class:`InvalidValueError` (< 1), naming ``name`` and the value."""
    if not is_int(value):
        raise InvalidTypeError(f"{name} must be an int >= 1, got {describe(value)}")
    if value < 1:
        raise InvalidValueError(f"{name} must be an int >= 1, got {value}")
    return int(value)


def non_negative_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 0."""
    if not is_int(value):
        raise InvalidTypeError(f"{name} must be an int >= 0, got {describe(value)}")
    if value < 0:
        raise InvalidValueError(f"{name} must be an int >= 0, got {value}")
    return int(value)


def positive_float(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number > 0."""
    if not _is_number(value):
        raise InvalidTypeError(f"{name} must be a number > 0, got {describe(value)}")
    if not (math.isfinite(value) and value > 0):
        raise InvalidValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def non_negative_float(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number >= 0."""
    if not _is_number(value):
        raise InvalidTypeError(f"{name} must be a number >= 0, got {describe(value)}")
    if not (math.isfinite(value) and value >= 0):
        raise InvalidValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def in_range(
    name: str, value: object, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> float:
    """``value`` as a float if it lies in the interval from ``low`` to ``high`` (closed unless
    ``low_open``/``high_open``); NaN is refused."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if not _is_number(value):
        raise InvalidTypeError(f"{name} must be a number in {interval}, got {describe(value)}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):  # NaN fails both
        raise InvalidValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def choice(name: str, value: object, choices: Iterable[T]) -> T:
    """``value`` if it is one of ``choices``; else :class:`InvalidValueError` listing them."""
    options: Sequence[Any] = list(choices)
    if value not in options:
        raise InvalidValueError(f"{name} must be one of {options}, got {value!r}")
    return value  # type: ignore[return-value]


def boolean(name: str, value: object) -> bool:
    """``value`` if it is a bool (``0``/``1`` and strings are refused: they hide mistakes)."""
    if not isinstance(value, bool):
        raise InvalidTypeError(f"{name} must be True or False, got {describe(value)}")
    return value


def optional(check, name: str, value: Optional[object], *args, **kwargs):
    """``None`` if ``value`` is None, else ``check(name, value, ...)``."""
    return None if value is None else check(name, value, *args, **kwargs)


def floating_dtype(name: str, value: object):
    """``value`` if it is None or a floating-point ``torch.dtype`` (learned parameters must be floats);
    :class:`InvalidTypeError` for anything that is not a dtype, :class:`InvalidValueError` for an
    integer or bool dtype."""
    if value is None:
        return None
    import torch

    if not isinstance(value, torch.dtype):
        raise InvalidTypeError(
            f"{name} must be a floating-point torch.dtype such as torch.float32, got {describe(value)}"
        )
    if not value.is_floating_point:
        raise InvalidValueError(
            f"{name} must be a floating-point torch.dtype (parameters are learned by gradients), got {value}"
        )
    return value


def torch_device(name: str, value: object):
    """``value`` as a ``torch.device`` if it is None (kept), a device, a string such as ``"cpu"`` or
    ``"cuda:1"``, or a device index, and the device can hold a tensor on this machine."""
    if value is None:
        return None
    import torch

    if isinstance(value, bool) or not (isinstance(value, (str, torch.device)) or is_int(value)):
        raise InvalidTypeError(
            f"{name} must be a torch.device, a string such as 'cpu' or 'cuda:0', or a device index, "
            f"got {describe(value)}"
        )
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError) as err:
        raise InvalidValueError(
            f"{name} {value!r} is not a torch device ('cpu', 'cuda', 'cuda:1', ...): {err}"
        ) from None
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as err:  # no such accelerator, or torch built without it
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidValueError(f"{name} {value!r} is not available on this machine: {first}") from None
    return device
