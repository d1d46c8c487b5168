"""Sliding windows over a series, for training sequence models.

``sliding_windows(x, length, stride)`` returns every ``length``-long slice of ``x`` along its first
axis, ``stride`` rows apart, as a read-only view ``(N, length, C)`` (no copy). A forecaster takes
windows of ``input_length + horizon`` rows and splits each into the input and the target part.
"""

from __future__ import annotations

import numpy as np

from .._checks import InvalidValueError, positive_int


def count_windows(n_rows: int, length: int, stride: int = 1) -> int:
    """How many windows of ``length`` rows, ``stride`` apart, fit in ``n_rows`` rows."""
    return 0 if n_rows < length else (n_rows - length) // stride + 1


def sliding_windows(x, length: int, stride: int = 1) -> np.ndarray:
    """Windows ``(N, length, C)`` of a ``(T, C)`` (or ``(T,)`` -> ``(N, length)``) array.

    Window ``i`` is ``x[i * stride : i * stride + length]``; the last window ends at or before the
    last row (windows are aligned to the start). Raises :class:`~rnnkit._checks.InvalidValueError` if not even one fits.
    """
    arr = np.asarray(x)
    length, stride = positive_int("length", length), positive_int("stride", stride)
    if arr.ndim not in (1, 2):
        raise InvalidValueError(f"sliding_windows expects an array (T,) or (T, C), got shape {arr.shape}")
    n = count_windows(arr.shape[0], length, stride)
    if n == 0:
        raise InvalidValueError(f"series has {arr.shape[0]} rows, fewer than one window of {length}")
    view = np.lib.stride_tricks.sliding_window_view(arr, length, axis=0)  # (T-length+1, [C,] length)
    view = view[::stride]
    if arr.ndim == 2:
        view = np.swapaxes(view, 1, 2)  # (N, length, C)
    return view


def split_windows(x, input_length: int, horizon: int, stride: int = 1):
    """``(inputs (N, input_length, C), targets (N, horizon, C))`` from windows of both lengths.

    Raises a ``ValueError`` naming the lengths if the series is shorter than one window.
    """
    arr = np.asarray(x)
    need = input_length + horizon
    if arr.shape[0] < need:
        raise InvalidValueError(
            f"series has {arr.shape[0]} points, shorter than one window of input_length + horizon = "
            f"{input_length} + {horizon} = {need}"
        )
    w = sliding_windows(arr, need, stride)
    return w[:, :input_length], w[:, input_length:]
