"""Point-forecast error metrics, defined as Darts defines them.

All take ``actual`` and ``pred`` of the same shape ``(H,)`` or ``(H, C)`` (H steps, C series).
For several series each metric is computed per series and then averaged over series.

* MAE   = mean_t |y_t - ŷ_t|
* RMSE  = sqrt(mean_t (y_t - ŷ_t)^2)
* MAPE  = 100 / H * sum_t |y_t - ŷ_t| / |y_t|                (in percent; undefined if some y_t = 0)
* sMAPE = 200 / H * sum_t |y_t - ŷ_t| / (|y_t| + |ŷ_t|)      (in percent, 0..200; undefined if
  y_t = ŷ_t = 0)
* MASE  = MAE / (1 / (n - m) * sum_{t=m+1..n} |x_t - x_{t-m}|)  where ``x_1..x_n`` is the in-sample
  history (the data the model saw) and ``m`` the seasonality: the forecast's MAE relative to the
  in-sample MAE of the seasonal naive forecast (m = 1: the naive forecast). Undefined if the history
  repeats itself exactly with period m.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

from .._checks import InvalidValueError, positive_int


class UndefinedMetricError(InvalidValueError):
    """A metric is undefined on these values (e.g. MAPE with a zero actual value)."""


def _pair(actual, pred):
    y = np.asarray(actual, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if y.shape != p.shape:
        raise InvalidValueError(f"actual and pred must have the same shape, got {y.shape} and {p.shape}")
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    if y.ndim != 2 or y.shape[0] == 0:
        raise InvalidValueError(f"expected arrays of shape (H,) or (H, C) with H > 0, got {np.shape(actual)}")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise InvalidValueError("actual and pred must be finite")
    return y, p


def mae(actual, pred) -> float:
    """Mean absolute error."""
    y, p = _pair(actual, pred)
    return float(np.mean(np.abs(y - p), axis=0).mean())


def rmse(actual, pred) -> float:
    """Root mean squared error (per series, then averaged over series)."""
    y, p = _pair(actual, pred)
    return float(np.sqrt(np.mean((y - p) ** 2, axis=0)).mean())


def mape(actual, pred) -> float:
    """Mean absolute percentage error, in percent. Raises if an actual value is 0."""
    y, p = _pair(actual, pred)
    if (y == 0).any():
        raise UndefinedMetricError("MAPE is undefined: the actual series contains zeros; use sMAPE or MASE")
    return float((100.0 * np.mean(np.abs(y - p) / np.abs(y), axis=0)).mean())


def smape(actual, pred) -> float:
    """Symmetric MAPE as Darts defines it, in percent (0 to 200)."""
    y, p = _pair(actual, pred)
    denom = np.abs(y) + np.abs(p)
    if (denom == 0).any():
        raise UndefinedMetricError("sMAPE is undefined where the actual and predicted values are both 0")
    return float((200.0 * np.mean(np.abs(y - p) / denom, axis=0)).mean())


def mase(actual, pred, insample, m: int = 1) -> float:
    """Mean absolute scaled error: MAE over the in-sample MAE of the seasonal naive forecast.

    Args:
        actual, pred: ``(H,)`` or ``(H, C)``.
        insample: the history before the forecast, ``(n,)`` or ``(n, C)``, with ``n > m``.
        m: seasonality (1: scaled by the naive one-step error).
    """
    y, p = _pair(actual, pred)
    x = np.asarray(insample, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    m = positive_int("seasonality m", m)
    if x.ndim != 2 or x.shape[1] != y.shape[1]:
        raise InvalidValueError(f"insample must have {y.shape[1]} series like actual, got shape {np.shape(insample)}")
    if x.shape[0] <= m:
        raise InvalidValueError(f"MASE needs more than m = {m} in-sample points, got {x.shape[0]}")
    scale = np.mean(np.abs(x[m:] - x[:-m]), axis=0)  # (C,)
    if (scale == 0).any():
        raise UndefinedMetricError(f"MASE is undefined: the in-sample seasonal naive error (m = {m}) is 0")
    return float((np.mean(np.abs(y - p), axis=0) / scale).mean())


METRICS: Dict[str, Callable] = {"mae": mae, "rmse": rmse, "smape": smape, "mape": mape, "mase": mase}


def all_metrics(actual, pred, insample, m: int = 1) -> Dict[str, float]:
    """Every metric in :data:`METRICS`; one that is undefined here is NaN."""
    _pair(actual, pred)  # shape errors are errors, not NaN
    out = {}
    for name, fn in METRICS.items():
        try:
            out[name] = fn(actual, pred, insample, m) if name == "mase" else fn(actual, pred)
        except UndefinedMetricError:
            out[name] = float("nan")
    return out
