"""Forecast pictures as PNG (matplotlib, Agg backend: no display needed).

* :func:`plot_forecast`: history, point forecast and interval band (and the actual values if known).
* :func:`plot_backtest_errors`: one bar per model for a backtest metric.
* :func:`plot_anomalies`: the series with flagged points marked (and true labels, if given).

Each writes ``path`` and returns it.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from .._checks import InvalidValueError


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _series(series):
    from .frame import as_frame

    frame = as_frame(series)
    return frame.time, frame.targets, frame.target_names


def _save(fig, path) -> str:
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise InvalidValueError(f"plots are written as PNG: path must end with .png, got {path!r}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def plot_forecast(history, forecast, path, actual=None, last: Optional[int] = None, title: str = "") -> str:
    """History (its last ``last`` points), the forecast's mean and interval band, and ``actual``.

    ``forecast`` is a :class:`rnnkit.timeseries.forecast.Forecast`; ``actual`` an array (H,) or
    (H, C) of the true future values, if known. One panel per target series.
    """
    plt = _pyplot()
    time, values, names = _series(history)
    if last is not None:
        time, values = time[-last:], values[-last:]
    mean = np.asarray(forecast.mean)
    ftime = forecast.time if forecast.time is not None else np.arange(len(time), len(time) + len(mean))
    n = values.shape[1]
    fig, axes = plt.subplots(n, 1, figsize=(9, 3.2 * n), squeeze=False)
    for c, ax in enumerate(axes[:, 0]):
        ax.plot(time, values[:, c], color="black", lw=1.2, label="history")
        ax.plot(ftime, mean[:, c], color="tab:blue", lw=1.5, label="forecast")
        if forecast.lower is not None:
            label = f"{round(100 * forecast.level)}% interval" if forecast.level else "interval"
            ax.fill_between(
                ftime, forecast.lower[:, c], forecast.upper[:, c], color="tab:blue", alpha=0.25, label=label
            )
        if actual is not None:
            act = np.asarray(actual, dtype=float).reshape(len(mean), -1)
            ax.plot(ftime, act[:, c], color="tab:orange", lw=1.2, ls="--", label="actual")
        ax.set_ylabel(names[c] if c < len(names) else f"y{c}")
        ax.legend(loc="upper left", fontsize=8)
    axes[0, 0].set_title(title or "forecast")
    return _save(fig, path)


def plot_backtest_errors(summary, path, metric: str = "mase", title: str = "") -> str:
    """Bar chart of ``metric`` per model from a backtest summary (DataFrame indexed by model)."""
    plt = _pyplot()
    if metric not in summary.columns:
        raise InvalidValueError(f"metric {metric!r} not in the summary; it has {list(summary.columns)}")
    values = summary[metric].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(values) + 2), 3.5))
    bars = ax.bar([str(m) for m in summary.index], values, color="tab:blue")
    for bar, v in zip(bars, values):
        ax.annotate(
            f"{v:.3g}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8
        )
    ax.set_ylabel(metric)
    ax.set_title(title or f"backtest {metric} per model")
    return _save(fig, path)


def plot_anomalies(series, result, path, labels=None, title: str = "") -> str:
    """The series with points flagged in ``result`` (an AnomalyResult) marked in red, and the true
    anomalies ``labels`` (T,) circled, if given; the score below with its threshold."""
    plt = _pyplot()
    time, values, names = _series(series)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    for c in range(values.shape[1]):
        ax.plot(time, values[:, c], lw=1, label=names[c])
    flagged = np.flatnonzero(result.flags)
    if len(flagged):
        ax.scatter(time[flagged], values[flagged].max(axis=1), color="red", s=25, zorder=3, label="flagged")
    if labels is not None:
        true = np.flatnonzero(np.asarray(labels, dtype=bool))
        ax.scatter(
            time[true],
            values[true].max(axis=1),
            facecolors="none",
            edgecolors="green",
            s=90,
            zorder=4,
            label="true anomaly",
        )
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "anomalies")
    ax2.plot(time, result.scores, color="gray", lw=1)
    ax2.axhline(result.threshold, color="red", ls="--", lw=1)
    ax2.set_ylabel("score")
    return _save(fig, path)
