"""Rolling-origin backtests: refit (or not) at each origin, forecast, score, compare models.

For origins ``start, start + stride, ...`` (each leaving ``horizon`` points after it), every model
sees only the history before the origin and forecasts the next ``horizon`` points; the forecast is
scored with MAE, RMSE, sMAPE, MAPE and MASE (:mod:`rnnkit.timeseries.metrics`, MASE scaled by
the in-sample seasonal naive error of that history, as Darts does). Metrics are averaged over
origins. Any object with ``fit(history)`` and ``predict(horizon, history=None) -> Forecast`` works:
the rnnkit :class:`~rnnkit.timeseries.forecaster.Forecaster` and the :mod:`~rnnkit.timeseries.baselines`.

Retrain policy: ``retrain=True`` fits at every origin; ``False`` fits once at the first origin and
then only forecasts from the growing history (``predict(horizon, history=...)``); an int ``k``
refits every k-th origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Union

import numpy as np

from .._checks import InvalidTypeError, InvalidValueError, positive_int
from .forecast import check_horizon
from .frame import as_frame
from .metrics import all_metrics


@dataclass
class BacktestResult:
    """``summary``: one row per model, metrics averaged over origins (a DataFrame indexed by model).
    ``windows``: one row per (model, origin) with that window's metrics. ``forecasts``: model ->
    list of point forecasts ``(horizon, C)``, one per origin; ``origins``: row positions."""

    summary: object
    windows: object
    origins: List[int]
    forecasts: Dict[str, List[np.ndarray]] = field(default_factory=dict)


def backtest_origins(n_rows: int, start: Union[int, float], horizon: int, stride: int = 1) -> List[int]:
    """Positions of the forecast origins: the first forecast predicts row ``origin``.

    ``start`` is a row position (int; negative counts from the end) or a fraction in (0, 1) of the
    series. The last origin leaves a full ``horizon`` after it.
    """
    horizon = check_horizon(horizon)
    stride = positive_int("stride", stride)
    if isinstance(start, float) and not isinstance(start, bool):
        if not 0 < start < 1:
            raise InvalidValueError(f"a fractional start must be in (0, 1), got {start}")
        first = int(round(start * n_rows))
    elif isinstance(start, (int, np.integer)) and not isinstance(start, bool):
        first = start + n_rows if start < 0 else int(start)
    else:
        raise InvalidTypeError(f"start must be an int position or a float fraction, got {start!r}")
    if first < 1 or first + horizon > n_rows:
        raise InvalidValueError(
            f"start {start!r} gives origin {first}: it needs history before it and {horizon} points "
            f"after it in a series of {n_rows}"
        )
    return list(range(first, n_rows - horizon + 1, stride))


def backtest(
    models: Dict[str, object],
    series,
    start: Union[int, float],
    horizon: int,
    stride: int = 1,
    season_length: int = 1,
    retrain: Union[bool, int] = True,
    verbose: bool = False,
) -> BacktestResult:
    """Rolling-origin evaluation of several models on the same windows.

    Args:
        models: name -> model with ``fit`` and ``predict``.
        series: a :class:`TimeSeriesFrame` (or array); its targets are forecast.
        start: first origin (row position, negative from the end, or fraction of the series).
        horizon: steps forecast from each origin.
        stride: rows between origins.
        season_length: m for MASE's seasonal naive scale.
        retrain: True (every origin), False (first origin only) or an int k (every k-th origin).
    """
    import pandas as pd

    if not models:
        raise InvalidValueError("models is empty: give at least one name -> model")
    if not (isinstance(retrain, bool) or (isinstance(retrain, int) and retrain >= 1)):
        raise InvalidValueError(f"retrain must be True, False or a positive int, got {retrain!r}")
    frame = as_frame(series)
    origins = backtest_origins(len(frame), start, horizon, stride)
    rows, forecasts = [], {}
    for name, model in models.items():
        if not (hasattr(model, "fit") and hasattr(model, "predict")):
            raise InvalidTypeError(f"model {name!r} has no fit/predict methods: got {type(model).__name__}")
        forecasts[name] = []
        for i, origin in enumerate(origins):
            history = frame.slice(0, origin)
            actual = frame.targets[origin : origin + horizon]
            refit = retrain is True or i == 0 or (not isinstance(retrain, bool) and i % retrain == 0)
            if refit:
                model.fit(history)
                pred = model.predict(horizon)
            else:
                pred = model.predict(horizon, history=history)
            point = np.asarray(pred.mean, dtype=np.float64).reshape(actual.shape)
            forecasts[name].append(point)
            scores = all_metrics(actual, point, history.targets, season_length)
            rows.append({"model": name, "origin": origin, "time": frame.time[origin], **scores})
            if verbose:
                print(f"{name} origin {origin}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()), flush=True)
    windows = pd.DataFrame(rows)
    summary = windows.drop(columns=["origin", "time"]).groupby("model", sort=False).mean()
    return BacktestResult(summary=summary, windows=windows, origins=origins, forecasts=forecasts)


def holdout(models: Dict[str, object], series, test_size: int, season_length: int = 1) -> BacktestResult:
    """One origin: fit on all but the last ``test_size`` points, forecast them (a backtest with one window)."""
    frame = as_frame(series)
    return backtest(models, frame, len(frame) - check_horizon(test_size), test_size, 1, season_length)
