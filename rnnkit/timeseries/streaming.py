"""Streaming sessions for forecasters and anomaly detectors: their step adapters for
:mod:`rnnkit.serving` (``Forecaster.step_adapter`` and ``AnomalyDetector.step_adapter`` return them).

The forecaster normalises each input window by its own level (window normalisation), so a
forecast is a function of the last ``L = input_length`` values, not of a carried recurrent state:
a stream keeps those ``L`` values (O(L) memory, constant in the number of steps) and each step
runs the network over them::

    forecaster:  x_t (B, C) -> y_t = forecast of x_{t+1} from x_{t-L+1..t}          (B, C)
    detector:    x_t (B, C) -> (score_t, flag_t) of x_t against the forecast made
                 from x_{t-L..t-1} (as ``AnomalyDetector.detect``; an imputed value
                 replaces a flagged one in the window when ``impute`` is on)            (B, 2)

Until a row has seen ``L`` values its outputs are NaN (and flags 0). Models whose inputs need
timestamps (calendar features) or the user's own covariates are refused, saying why: a step here
takes values only.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError, describe
from ..serving.adapter import StateDict, StepAdapter
from .anomaly import AnomalyDetector
from .forecaster import Forecaster
from .scaling import MAX_MAGNITUDE


def _checked_forecaster(forecaster: Forecaster, what: str) -> Forecaster:
    if forecaster.net is None:
        raise InvalidValueError(f"cannot stream an unfitted {what}: fit it or load one with rnnkit.load(dir)")
    meta = forecaster.meta
    if meta["calendar_names"]:
        raise InvalidValueError(
            f"cannot stream this {what}: it derives calendar features {meta['calendar_names']} from timestamps, "
            f"and a step takes values only; train it with calendar=False to stream it"
        )
    if meta["past_names"] or meta["future_names"]:
        raise InvalidValueError(
            f"cannot stream this {what}: it reads covariates {meta['past_names'] + meta['future_names']} besides "
            f"its targets; use predict(history=...)"
        )
    return forecaster


class ForecasterStep(StepAdapter):
    """A fitted :class:`~rnnkit.timeseries.Forecaster`: newest values ``(B, C)`` -> the one-step forecast."""

    kind = "forecaster"

    def __init__(self, forecaster: Forecaster) -> None:
        super().__init__(_checked_forecaster(forecaster, "forecaster").net)
        self.forecaster = forecaster
        self.L = int(forecaster.meta["input_length"])
        self.C = len(forecaster.meta["target_names"])
        self.input_description = (
            f"values (B, {self.C}) -> one-step forecast (B, {self.C}) (NaN for the first {self.L - 1})"
        )

    def start(self, n: int) -> StateDict:
        return {
            "window": torch.zeros(n, self.L, self.C, dtype=torch.float64),
            "seen": torch.zeros(n, 1, dtype=torch.float64),
        }

    def check_input(self, x: object, n: int) -> Tensor:
        if isinstance(x, (list, tuple)):
            try:
                x = torch.tensor(x, dtype=torch.float64).reshape(n, -1)
            except (TypeError, ValueError, RuntimeError):
                raise InvalidTypeError(
                    f"a step's input must be {n} rows of {self.C} numbers, got {describe(x)}"
                ) from None
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise InvalidTypeError(f"a step's input must be a float tensor of shape ({n}, {self.C}), got {describe(x)}")
        if tuple(x.shape) != (n, self.C):
            raise InvalidValueError(f"a step's input must have shape ({n}, {self.C}), got {tuple(x.shape)}")
        if not bool((x.abs() <= MAX_MAGNITUDE).all()):
            raise InvalidValueError(f"a step's values must be finite and within +-{MAX_MAGNITUDE:g}, got {describe(x)}")
        return x.to(torch.float64)

    def example_input(self, n: int, generator=None) -> Tensor:
        if generator is None:
            return torch.zeros(n, self.C, dtype=torch.float64)
        return torch.randn(n, self.C, generator=generator, dtype=torch.float64)

    def _forecast(self, window: Tensor, seen: Tensor) -> Tensor:
        """Point forecasts ``(B, C)`` of the value after each full window; NaN where not full."""
        out = torch.full((window.shape[0], self.C), float("nan"), dtype=torch.float64)
        full = (seen[:, 0] >= self.L).nonzero().flatten()
        if len(full):
            point, _, _ = self.forecaster.predict_windows(window[full].numpy(), 1)
            out[full] = torch.from_numpy(np.ascontiguousarray(point[:, 0]))
        return out

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        window = torch.cat([state["window"][:, 1:], x.unsqueeze(1)], 1)
        seen = state["seen"] + 1
        return self._forecast(window, seen), {"window": window, "seen": seen}


class AnomalyDetectorStep(ForecasterStep):
    """A fitted :class:`~rnnkit.timeseries.AnomalyDetector`: newest values ``(B, C)`` -> ``(score, flag)``
    of each, as :meth:`AnomalyDetector.detect` scores them."""

    kind = "anomaly_detector"

    def __init__(self, detector: AnomalyDetector) -> None:
        if detector.threshold is None:
            raise InvalidValueError("cannot stream an unfitted AnomalyDetector: fit it first")
        ForecasterStep.__init__(self, _checked_forecaster(detector.forecaster, "anomaly detector"))
        self.detector = detector
        self.input_description = f"values (B, {self.C}) -> (score, flag) (B, 2) (NaN for the first {self.L})"

    def start(self, n: int) -> StateDict:
        state = super().start(n)
        state["forecast"] = torch.full((n, self.C), float("nan"), dtype=torch.float64)
        return state

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        expected = state["forecast"]  # made from the window before x
        ready = ~torch.isnan(expected[:, 0])
        y = torch.full((x.shape[0], 2), float("nan"), dtype=torch.float64)
        y[:, 1] = 0.0
        value = x.clone()
        if bool(ready.any()):
            residuals = (x[ready] - expected[ready]).numpy()
            scores = torch.from_numpy(np.asarray(self.detector._scores(residuals), dtype=np.float64).reshape(-1))
            flags = scores > self.detector.threshold
            y[ready, 0], y[ready, 1] = scores, flags.double()
            if self.detector.impute:
                rows = ready.nonzero().flatten()[flags]
                value[rows] = expected[rows]
        window = torch.cat([state["window"][:, 1:], value.unsqueeze(1)], 1)
        seen = state["seen"] + 1
        return y, {"window": window, "seen": seen, "forecast": self._forecast(window, seen)}
