"""Classical baselines with the forecaster interface: ``fit(history)``, ``predict(horizon, history=None)``.

* :class:`NaiveForecaster`: repeat the last value, ``ŷ_{n+h} = y_n``.
* :class:`SeasonalNaiveForecaster`: repeat the last season, ``ŷ_{n+h} = y_{n+h-m*ceil(h/m)}``.
* :class:`ETSForecaster`: Holt-Winters exponential smoothing (statsmodels ``ExponentialSmoothing``),
  additive trend and additive seasonality by default, parameters by maximum likelihood -- the
  configuration of Darts' ``ExponentialSmoothing`` default. Seasonality is dropped when the history
  holds fewer than two full seasons (statsmodels cannot initialise it).
* :class:`ARIMAForecaster`: statsmodels ``ARIMA``. Default order ``(1, 1, 1)`` with a seasonal
  ``(0, 1, 1, m)`` part when ``m > 1`` and the history holds at least three seasons -- a small,
  fixed order that works on trending and seasonal series. ``order="auto"`` instead picks
  ``(p, d, q)`` with p, q in {0, 1, 2} and d in {0, 1} by AIC (18 fits; slower).

Several series (``(T, C)``) are fitted independently, one model per column. ``predict(horizon,
history=...)`` refits on the given history (these models are cheap to fit), so backtests can use
them with any retrain policy. statsmodels is imported only when ETS or ARIMA is used.
"""

from __future__ import annotations

import itertools
import warnings
from typing import List, Optional, Tuple, Union

import numpy as np

from .._checks import InvalidValueError, MissingOptionalDependency, boolean, choice, in_range, positive_int
from .forecast import Forecast, check_horizon


def _history(history) -> Tuple[np.ndarray, object, Tuple[str, ...]]:
    """``(values (T, C), frame or None, names)`` from a TimeSeriesFrame or an array."""
    from .frame import TimeSeriesFrame

    if isinstance(history, TimeSeriesFrame):
        return history.targets, history, history.target_names
    arr = np.asarray(history, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InvalidValueError(
            f"history must be a TimeSeriesFrame or an array (T,) or (T, C), got shape {np.shape(history)}"
        )
    if not np.isfinite(arr).all():
        raise InvalidValueError("history must not contain missing or infinite values")
    return arr, None, tuple(f"y{i}" for i in range(arr.shape[1]))


def _statsmodels(module: str, name: str):
    """``statsmodels.<module>.<name>``; :class:`MissingOptionalDependency` saying how to install it if absent."""
    import importlib

    try:
        return getattr(importlib.import_module(f"statsmodels.{module}"), name)
    except ImportError:
        raise MissingOptionalDependency(
            f"the {name} baseline needs statsmodels: pip install 'rnnkit[timeseries]'"
        ) from None


class _Baseline:
    """Shared plumbing: keep the history, refit on demand, build the :class:`Forecast`."""

    name = "baseline"

    def __init__(self) -> None:
        self._values: Optional[np.ndarray] = None
        self._frame = None
        self._names: Tuple[str, ...] = ()

    def fit(self, history) -> "_Baseline":
        values, frame, names = _history(history)
        self._check_length(values.shape[0])
        self._values, self._frame, self._names = values, frame, names
        self._fit_columns(values)
        return self

    def predict(self, horizon: int, history=None) -> Forecast:
        horizon = check_horizon(horizon)
        if history is not None:
            self.fit(history)
        if self._values is None:
            raise InvalidValueError(f"{type(self).__name__}: call fit(history) before predict()")
        mean, lower, upper, level = self._predict_columns(horizon)
        time = self._frame.future_times(horizon) if self._frame is not None else None
        return Forecast(mean=mean, lower=lower, upper=upper, level=level, time=time, names=self._names)

    # subclasses
    def _check_length(self, n: int) -> None:
        if n < 1:
            raise InvalidValueError(f"{self.name} needs at least 1 point, got {n}")

    def _fit_columns(self, values: np.ndarray) -> None:
        pass

    def _predict_columns(self, horizon: int):
        raise NotImplementedError("abstract: a baseline subclass forecasts its columns")


class NaiveForecaster(_Baseline):
    """``ŷ_{n+h} = y_n`` for every h."""

    name = "naive"

    def _predict_columns(self, horizon):
        return np.repeat(self._values[-1:], horizon, axis=0), None, None, None


class SeasonalNaiveForecaster(_Baseline):
    """``ŷ_{n+h} = y_{n+h-m*ceil(h/m)}``: the last observed season, repeated."""

    name = "seasonal_naive"

    def __init__(self, season_length: int) -> None:
        super().__init__()
        self.season_length = positive_int("season_length", season_length)

    def _check_length(self, n):
        if n < self.season_length:
            raise InvalidValueError(
                f"seasonal naive with season_length {self.season_length} needs that many points, got {n}"
            )

    def _predict_columns(self, horizon):
        m = self.season_length
        last = self._values[-m:]  # (m, C)
        reps = -(-horizon // m)
        return np.tile(last, (reps, 1))[:horizon], None, None, None


class ETSForecaster(_Baseline):
    """Holt-Winters exponential smoothing (statsmodels), one model per series.

    Args:
        season_length: seasonal period m (1: no seasonality).
        trend: ``"add"``, ``"mul"`` or None.
        seasonal: ``"add"``, ``"mul"`` or None (ignored when m = 1).
        damped_trend: damp the trend towards flat.
    """

    name = "ets"

    def __init__(
        self,
        season_length: int = 1,
        trend: Optional[str] = "add",
        seasonal: Optional[str] = "add",
        damped_trend: bool = False,
    ) -> None:
        super().__init__()
        self.season_length = positive_int("season_length", season_length)
        self.trend = choice("trend", trend, ("add", "mul", None))
        self.seasonal = choice("seasonal", seasonal, ("add", "mul", None))
        self.damped_trend = boolean("damped_trend", damped_trend)
        self._fits: List[object] = []

    def _check_length(self, n):
        if n < 4:
            raise InvalidValueError(f"ETS needs at least 4 points, got {n}")

    def _fit_columns(self, values):
        ExponentialSmoothing = _statsmodels("tsa.holtwinters", "ExponentialSmoothing")

        m = self.season_length
        seasonal = self.seasonal if m > 1 and values.shape[0] >= 2 * m else None
        self._fits = []
        for c in range(values.shape[1]):
            model = ExponentialSmoothing(
                values[:, c],
                trend=self.trend,
                damped_trend=self.damped_trend if self.trend else False,
                seasonal=seasonal,
                seasonal_periods=m if seasonal else None,
                initialization_method="estimated",
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._fits.append(model.fit())

    def _predict_columns(self, horizon):
        mean = np.stack([np.asarray(f.forecast(horizon)) for f in self._fits], axis=1)
        return mean, None, None, None


class ARIMAForecaster(_Baseline):
    """statsmodels ARIMA, one model per series, with prediction intervals.

    Args:
        season_length: m; a seasonal ``(0, 1, 1, m)`` part is added when m > 1 and the history
            holds at least 3 seasons.
        order: ``(p, d, q)``, or ``"auto"`` to choose p, q in {0,1,2}, d in {0,1} by AIC.
        level: nominal coverage of the intervals.
    """

    name = "arima"

    def __init__(
        self, season_length: int = 1, order: Union[Tuple[int, int, int], str] = (1, 1, 1), level: float = 0.9
    ) -> None:
        super().__init__()
        season_length = positive_int("season_length", season_length)
        if order != "auto" and not (
            isinstance(order, (tuple, list)) and len(order) == 3 and all(isinstance(k, int) and k >= 0 for k in order)
        ):
            raise InvalidValueError(f"order must be a (p, d, q) tuple of non-negative ints or 'auto', got {order!r}")
        self.season_length, self.order = season_length, order
        self.level = in_range("level", level, 0.0, 1.0, low_open=True, high_open=True)
        self._fits: List[object] = []

    def _check_length(self, n):
        if n < 8:
            raise InvalidValueError(f"ARIMA needs at least 8 points, got {n}")

    def _fit_one(self, y, order, seasonal_order):
        ARIMA = _statsmodels("tsa.arima.model", "ARIMA")

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ARIMA(y, order=order, seasonal_order=seasonal_order).fit()

    def _fit_columns(self, values):
        m = self.season_length
        seasonal_order = (0, 1, 1, m) if m > 1 and values.shape[0] >= 3 * m else (0, 0, 0, 0)
        self._fits = []
        for c in range(values.shape[1]):
            y = values[:, c]
            if self.order == "auto":
                best = None
                for p, d, q in itertools.product((0, 1, 2), (0, 1), (0, 1, 2)):
                    try:
                        fit = self._fit_one(y, (p, d, q), seasonal_order)
                    except (ValueError, np.linalg.LinAlgError):
                        continue
                    if best is None or fit.aic < best.aic:
                        best = fit
                if best is None:
                    raise InvalidValueError("ARIMA: no order in the search grid could be fitted")
                self._fits.append(best)
            else:
                self._fits.append(self._fit_one(y, tuple(self.order), seasonal_order))

    def _predict_columns(self, horizon):
        means, lows, highs = [], [], []
        for f in self._fits:
            fc = f.get_forecast(horizon)
            ci = np.asarray(fc.conf_int(alpha=1 - self.level))
            means.append(np.asarray(fc.predicted_mean))
            lows.append(ci[:, 0])
            highs.append(ci[:, 1])
        return np.stack(means, 1), np.stack(lows, 1), np.stack(highs, 1), self.level
