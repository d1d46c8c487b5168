"""Time series in one place: read a series, forecast it with intervals, backtest, flag anomalies.

=====================  =====================================================================
module                 what
=====================  =====================================================================
``frame``              :class:`TimeSeriesFrame`; reading CSV/Parquet/DataFrames/arrays, missing values
``frequency``          frequencies: inference, regular grids, :func:`seasonal_period`
``calendar``           calendar features derived from dates (known-future covariates)
``datasets``           the registry of bundled series (airline, sunspots, co2, ...), offline
``scaling``            per-series standard scaling, fitted on training data only
``windows``            sliding windows over a series
``forecast``           :class:`Forecast`, what every forecaster returns
``heads``              probabilistic output heads (Gaussian, quantile)
``config``             :class:`ForecasterConfig` = network settings + fit settings
``network``            the forecaster's network, built from its network settings only
``direct``             the direct strategy: all steps at once, ridge-solved linear highway
``autoregressive``     the autoregressive strategy: one step at a time, scheduled sampling
``fitting``            how a forecaster's network is trained: on :class:`rnnkit.training.Trainer`
``forecaster``         :class:`Forecaster`: ``fit(series)``, ``predict(horizon)``, save and load
``saving``             the forecaster's model folder (the one model format, versions 1-3)
``baselines``          naive, seasonal naive, ETS, ARIMA with the same interface
``metrics``            MAE, RMSE, MAPE, sMAPE, MASE
``backtest``           rolling-origin backtests
``anomaly``            anomaly detection from forecast residuals, offline and streaming
``plots``              forecast, backtest and anomaly pictures
=====================  =====================================================================

The names below are importable from here; each loads its module (and pandas, torch) on first use.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "TimeSeriesFrame": "frame",
    "read_series": "frame",
    "from_dataframe": "frame",
    "from_array": "frame",
    "as_frame": "frame",
    "MissingValuesError": "frame",
    "IrregularTimestampsError": "frequency",
    "seasonal_period": "frequency",
    "calendar_features": "calendar",
    "load_dataset": "datasets",
    "DATASETS": "datasets",
    "StandardScaler": "scaling",
    "sliding_windows": "windows",
    "Forecast": "forecast",
    "ForecasterConfig": "config",
    "Forecaster": "forecaster",
    "NaiveForecaster": "baselines",
    "SeasonalNaiveForecaster": "baselines",
    "ETSForecaster": "baselines",
    "ARIMAForecaster": "baselines",
    "AnomalyDetector": "anomaly",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
