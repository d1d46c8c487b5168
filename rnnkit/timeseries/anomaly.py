"""Anomaly detection from forecast residuals, offline over a series or streaming one point at a time.

Score. For each point ``y_t`` after the first ``input_length``, a fitted
:class:`~rnnkit.timeseries.forecaster.Forecaster` forecasts it one step ahead from the previous
``input_length`` points; the residual ``r_t = y_t - ŷ_t`` becomes a robust z-score

    score_t = max_c |r_{t,c} - median_c| / (1.4826 * MAD_c)

with the median and MAD (median absolute deviation) of the residuals on the *training* series, per
target c (1.4826 * MAD estimates a standard deviation for Gaussian residuals; the max is over
targets).

Threshold, chosen on the training series: ``method="robust_z"`` flags ``score > z`` (default 4: a
4-sigma residual), ``method="quantile"`` flags scores above the ``q``-quantile (default 0.995) of
the training scores.

Offline, :meth:`AnomalyDetector.detect` scores a whole series in one batch. Streaming,
:class:`StreamingDetector` keeps only the last ``input_length`` values (constant memory) and
returns ``(score, is_anomaly)`` per new value -- the same numbers as offline on the same series.

A flagged value is replaced by its forecast in the input window (``impute=True``, the default), in
both modes, so one spike does not disturb the forecasts (and scores) of the points after it.
Offline this costs one batched pass per flagged point.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from .._checks import InvalidTypeError, InvalidValueError, boolean, choice, describe, positive_float
from .forecaster import Forecaster
from .frame import as_frame
from .scaling import MAX_MAGNITUDE
from .windows import sliding_windows

MAD_TO_SIGMA = 1.4826  # 1 / Phi^-1(3/4): MAD of a normal sample times this estimates its sigma
METHODS = ("robust_z", "quantile")


@dataclass(frozen=True)
class AnomalyResult:
    """``scores`` (T,) with NaN for the first ``input_length`` points (no forecast for them),
    ``flags`` (T,) bool, the ``threshold`` used, and the series' ``time`` index (or None)."""

    scores: np.ndarray
    flags: np.ndarray
    threshold: float
    time: object = None

    @property
    def positions(self) -> np.ndarray:
        return np.flatnonzero(self.flags)


class AnomalyDetector:
    """Residual-based anomaly detector around a :class:`Forecaster` (derived calendar features are
    fine; the user's own covariates are not).

    Args:
        forecaster: the model whose one-step forecasts give the residuals (fitted by :meth:`fit`
            unless ``fit(..., fit_forecaster=False)``).
        method: ``"robust_z"`` or ``"quantile"`` (see the module docstring).
        threshold: the z cutoff (robust_z, default 4.0) or the quantile level in (0, 1)
            (quantile, default 0.995).
        impute: replace flagged values by their forecast in later input windows.
    """

    def __init__(
        self, forecaster, method: str = "robust_z", threshold: Optional[float] = None, impute: bool = True
    ) -> None:
        if not isinstance(forecaster, Forecaster):
            raise InvalidTypeError(f"forecaster must be a rnnkit.timeseries.Forecaster, got {describe(forecaster)}")
        self.impute = boolean("impute", impute)
        choice("method", method, METHODS)
        if threshold is None:
            threshold = 4.0 if method == "robust_z" else 0.995
        threshold = positive_float("threshold", threshold)
        if method == "quantile" and not 0 < threshold < 1:
            raise InvalidValueError(
                f"for method='quantile' the threshold is a quantile level in (0, 1), got {threshold!r}"
            )
        self.forecaster, self.method, self.threshold_param = forecaster, method, float(threshold)
        self.center: Optional[np.ndarray] = None  # (C,) median training residual
        self.spread: Optional[np.ndarray] = None  # (C,) 1.4826 * MAD of training residuals
        self.threshold: Optional[float] = None  # cutoff on the score

    @property
    def input_length(self) -> int:
        return int(self.forecaster.meta["input_length"])

    def fit(self, series, fit_forecaster: bool = True) -> "AnomalyDetector":
        """Fit the forecaster (unless told not to) and the score's scale and threshold on ``series``."""
        frame = as_frame(series)
        if fit_forecaster:
            self.forecaster.fit(frame)
        residuals = self._residuals(frame.targets, frame.time)  # (T - L, C)
        self.center = np.median(residuals, axis=0)
        mad = np.median(np.abs(residuals - self.center), axis=0)
        self.spread = np.maximum(MAD_TO_SIGMA * mad, 1e-12 + 1e-9 * np.abs(residuals).max(axis=0))
        scores = self._scores(residuals)
        self.threshold = (
            self.threshold_param if self.method == "robust_z" else float(np.quantile(scores, self.threshold_param))
        )
        return self

    def detect(self, series) -> AnomalyResult:
        """Score and flag every point of ``series`` (the first ``input_length`` get NaN / False)."""
        self._check_fitted()
        frame = as_frame(series)
        L = self.input_length
        if len(frame) <= L:
            raise InvalidValueError(f"series has {len(frame)} points; scoring needs more than input_length = {L}")
        values = frame.targets.copy()  # flagged values are imputed here as the scan goes
        scores = np.full(len(frame), np.nan)
        flags = np.zeros(len(frame), dtype=bool)
        done = L  # points before `done` are final
        while done < len(values):
            residuals, point = self._residuals(values[done - L :], frame.time[done - L :], with_point=True)  # done..T-1
            part = self._scores(residuals)
            above = np.flatnonzero(part > self.threshold)
            stop = len(part) if not (self.impute and len(above)) else above[0] + 1
            scores[done : done + stop] = part[:stop]
            flags[done : done + stop] = part[:stop] > self.threshold
            if self.impute and len(above):
                values[done + above[0]] = point[above[0]]
            done += stop
        return AnomalyResult(scores=scores, flags=flags, threshold=self.threshold, time=frame.time)

    def step_adapter(self):
        """How ``rnnkit.stream(detector)`` steps it (:mod:`rnnkit.timeseries.streaming`)."""
        from .streaming import AnomalyDetectorStep

        return AnomalyDetectorStep(self)

    def stream(self) -> "StreamingDetector":
        """A fresh streaming detector sharing this one's model and threshold."""
        self._check_fitted()
        return StreamingDetector(self)

    # internals
    def _residuals(self, values: np.ndarray, time, with_point: bool = False):
        L = self.input_length
        if values.shape[0] <= L:
            raise InvalidValueError(f"series has {values.shape[0]} points; scoring needs more than input_length = {L}")
        windows = sliding_windows(values, L)[:-1]  # (T - L, L, C): the window before each scored point
        calendar = sliding_windows(self.forecaster.calendar_for(time), L + 1)  # (T - L, L + 1, F)
        point, _, _ = self.forecaster.predict_windows(
            np.ascontiguousarray(windows), 1, calendar=np.ascontiguousarray(calendar)
        )
        residuals = values[L:] - point[:, 0]
        return (residuals, point[:, 0]) if with_point else residuals

    def _scores(self, residuals: np.ndarray) -> np.ndarray:
        return np.max(np.abs(residuals - self.center) / self.spread, axis=-1)

    def _check_fitted(self) -> None:
        if self.threshold is None:
            raise InvalidValueError("the AnomalyDetector is not fitted: call fit(train_series) first")


class StreamingDetector:
    """One point at a time, constant memory: ``update(value) -> (score, is_anomaly)``.

    Holds the last ``input_length`` values (and, for a model with calendar features, their
    timestamps) in fixed-size buffers; until they are full, ``update`` returns ``(nan, False)``.
    ``value`` is a number (one target) or a sequence of C numbers; ``time`` its timestamp, needed
    when the model derives calendar features.
    """

    def __init__(self, detector: AnomalyDetector) -> None:
        self.detector = detector
        self.n_targets = len(detector.forecaster.meta["target_names"])
        self.needs_time = bool(detector.forecaster.meta["calendar_names"])
        self.window: deque = deque(maxlen=detector.input_length)
        self.times: deque = deque(maxlen=detector.input_length)

    def update(self, value, time=None) -> Tuple[float, bool]:
        try:
            x = np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise InvalidTypeError(f"update expects {self.n_targets} finite number(s), got {describe(value)}") from None
        if x.shape[0] != self.n_targets or not (np.abs(x) <= MAX_MAGNITUDE).all():
            raise InvalidValueError(
                f"update expects {self.n_targets} finite number(s) within +-{MAX_MAGNITUDE:g} (see "
                f"rnnkit.timeseries.scaling), got {value!r}"
            )
        if self.needs_time and time is None:
            raise InvalidValueError(
                "this model derives calendar features from dates: pass update(value, time=timestamp)"
            )
        score, flag = float("nan"), False
        if len(self.window) == self.window.maxlen:
            window = np.stack(self.window)[None]  # (1, L, C)
            calendar = None
            if self.needs_time:
                import pandas as pd

                calendar = self.detector.forecaster.calendar_for(pd.DatetimeIndex([*self.times, time]))[None]
            point, _, _ = self.detector.forecaster.predict_windows(window, 1, calendar=calendar)
            score = float(self.detector._scores((x - point[0, 0])[None])[0])
            flag = bool(score > self.detector.threshold)
            if flag and self.detector.impute:
                x = point[0, 0]
        self.window.append(x)
        if self.needs_time:
            self.times.append(time)
        return score, flag

    def reset(self) -> None:
        self.window.clear()
        self.times.clear()


def precision_recall_f1(flags, labels) -> Dict[str, float]:
    """Point-wise precision, recall and F1 of predicted ``flags`` against true ``labels`` (both (T,) bool).

    An undefined ratio (no predicted or no true anomalies) is 0.
    """
    f = np.asarray(flags, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    if f.shape != y.shape or f.ndim != 1:
        raise InvalidValueError(f"flags and labels must be 1-D of the same length, got shapes {f.shape} and {y.shape}")
    tp = int(np.sum(f & y))
    precision = tp / int(f.sum()) if f.any() else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": int(f.sum()) - tp,
        "fn": int(y.sum()) - tp,
    }


def inject_spikes(values, n: int, magnitude: float = 6.0, start: int = 0, seed: int = 0, min_gap: int = 5):
    """Add ``n`` spikes of ``+/- magnitude`` standard deviations to a copy of ``values`` (T,) or (T, C).

    Positions are drawn at random (seeded) at or after ``start``, at least ``min_gap`` apart.
    Returns ``(values with spikes, labels (T,) bool)``.
    """
    arr = np.array(values, dtype=np.float64)
    two_d = arr.ndim == 2
    arr2 = arr if two_d else arr[:, None]
    rng = np.random.default_rng(seed)
    candidates = np.arange(start, arr2.shape[0])
    chosen = []
    for pos in rng.permutation(candidates):
        if all(abs(pos - c) >= min_gap for c in chosen):
            chosen.append(int(pos))
        if len(chosen) == n:
            break
    if len(chosen) < n:
        raise InvalidValueError(
            f"cannot place {n} spikes {min_gap} apart after position {start} in {arr2.shape[0]} points"
        )
    std = arr2.std(axis=0)
    labels = np.zeros(arr2.shape[0], dtype=bool)
    for pos in chosen:
        arr2[pos] += rng.choice([-1.0, 1.0]) * magnitude * std
        labels[pos] = True
    return (arr2 if two_d else arr2[:, 0]), labels
