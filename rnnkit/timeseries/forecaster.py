"""``Forecaster``: an RNN that forecasts time series -- ``fit(series)``, ``predict(horizon)``.

Pipeline (all fitted on the series given to :meth:`Forecaster.fit`, i.e. training data only):

1. Per-series standard scaling (:class:`~rnnkit.timeseries.scaling.StandardScaler`) of targets and
   covariates; inverted on output. With ``calendar=True``, month / day-of-week / hour features
   derived from the dates join the known-future covariates (:mod:`~rnnkit.timeseries.calendar`).
2. Sliding windows of ``input_length + horizon`` rows (:mod:`~rnnkit.timeseries.windows`);
   ``input_length=0`` picks ``max(2 * horizon, 2 * season, 8)``, capped so that enough windows
   remain, with the season from the frequency (:func:`~rnnkit.timeseries.frequency.seasonal_period`).
3. The network of the chosen strategy, built from the network settings alone
   (:mod:`~rnnkit.timeseries.network`: window normalisation, an rnnkit LSTM/GRU/RNN and a
   probabilistic head, :mod:`~rnnkit.timeseries.heads`): :mod:`~rnnkit.timeseries.direct` (all
   steps at once on a ridge-solved linear highway, the default) or
   :mod:`~rnnkit.timeseries.autoregressive` (one step at a time, scheduled sampling).
4. Training on the one :class:`~rnnkit.training.Trainer` (:mod:`~rnnkit.timeseries.fitting`): the
   linear start scored first, early stopping on the last ``val_fraction`` of the windows, the best
   weights kept; with a checkpoint folder, an interrupted fit resumes exactly.

Intervals: the head's per-step distribution, ``level`` nominal coverage (default 90%). In a rollout
(autoregressive, or chained direct blocks) each step's interval is conditional on the fed-back
point forecasts, so it does not include the uncertainty those carry (it is too narrow far out).

Saved folders use the one model format (:mod:`~rnnkit.timeseries.saving`); ``rnnkit.load(dir)``
returns a Forecaster.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .._checks import InvalidTypeError, InvalidValueError, MissingFileError, describe, positive_int
from ..models.format import ModelFolder, read_model
from ..training.checkpoint import capture_rng, restore_rng
from .calendar import calendar_features
from .config import ForecasterConfig
from .fitting import fit_network
from .forecast import Forecast, check_horizon
from .frame import TimeSeriesFrame, as_frame
from .frequency import extend_index, seasonal_period
from .network import ForecastNet, build_network, strategy_class
from .saving import (
    MODEL_TYPE,
    check_folder,
    is_datetime,
    read_config,
    read_meta,
    read_network,
    read_preprocessing,
    save_forecaster,
)
from .scaling import StandardScaler
from .windows import sliding_windows

__all__ = ["Forecaster", "ForecasterConfig", "resolve_input_length"]


def resolve_input_length(config: ForecasterConfig, n_rows: int, season: int) -> int:
    """The input window: ``config.input_length``, or (0) ``max(2 * horizon, 2 * season, 8)`` capped
    so that at least ``max(16, n_rows // 4)`` windows remain."""
    H = config.horizon
    if config.input_length:
        L = config.input_length
        if n_rows < L + H:
            raise InvalidValueError(
                f"series has {n_rows} points, shorter than one window of input_length + horizon = {L} + {H} = {L + H}"
            )
        return L
    want = max(2 * H, 2 * season, 8)
    cap = n_rows - H - max(16, n_rows // 4) + 1  # leave enough windows to learn from
    L = min(want, cap)
    if L < 4:
        raise InvalidValueError(
            f"series has {n_rows} points, too short to train a horizon of {H}: needs at least "
            f"{H + 4 + 15} (4 input steps and 16 windows); shorten the horizon or give more data"
        )
    return L


class Forecaster:
    """Fit an RNN forecaster on a series and forecast ``horizon`` steps with intervals.

    >>> fc = Forecaster(ForecasterConfig(horizon=12)).fit(frame)   # frame: TimeSeriesFrame or array
    >>> out = fc.predict(12)          # Forecast: .mean, .lower, .upper (H, C), .time
    >>> fc.save_pretrained("runs/fc"); rnnkit.load("runs/fc")     # the same forecasts
    """

    def __init__(self, config: Optional[ForecasterConfig] = None) -> None:
        if config is not None and not isinstance(config, ForecasterConfig):
            raise InvalidTypeError(f"config must be a ForecasterConfig, got {describe(config)}")
        self.config = config or ForecasterConfig()
        self.net: Optional[ForecastNet] = None
        self.meta: Dict[str, Any] = {}
        self.scalers: Dict[str, StandardScaler] = {}
        self.tail: Optional[TimeSeriesFrame] = None  # last input_length rows of the training series
        self.log: List[Dict[str, float]] = []  # one row per validation: epoch (-1: the scored start), val_loss
        self.epochs = 0  # epochs the last fit ran (over its resumes)
        self.resumed_from: Optional[int] = None  # the epoch the last fit resumed from, if it did

    # ---- fit ---------------------------------------------------------------------------------
    def fit(
        self,
        series,
        *,
        checkpoint_dir=None,
        resume: bool = False,
        checkpoint_every: int = 1,
        settings: Optional[Mapping[str, Any]] = None,
        progress: Optional[bool] = False,
        callbacks: Sequence[Callable] = (),
    ) -> "Forecaster":
        """Train on ``series`` (a :class:`TimeSeriesFrame`, an array ``(T,)``/``(T, C)`` or a pandas
        Series/DataFrame). Refitting starts from scratch. The caller's random generators are left as
        they were.

        Args:
            checkpoint_dir: a folder where the Trainer writes ``last/`` every ``checkpoint_every``
                epochs (and its logs); ``fit(series, checkpoint_dir=..., resume=True)`` on the same
                series and config then continues from it and ends with exactly the weights of an
                uninterrupted fit (other settings or another series are refused, each named).
            settings: more settings recorded with the checkpoints and checked on resume.
            progress: a progress bar (None: only on a terminal).
            callbacks: called as ``callback(trainer)`` after every update.
        """
        cfg = self.config
        checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
        frame = as_frame(series)
        strategy_class(cfg.strategy).check_series(frame)
        L = resolve_input_length(cfg, len(frame), seasonal_period(frame.freq))
        cal, cal_names = calendar_features(frame.time) if cfg.calendar else (np.zeros((len(frame), 0)), ())
        meta = {
            "target_names": list(frame.target_names),
            "past_names": list(frame.past_names),
            "future_names": list(frame.future_names),
            "calendar_names": list(cal_names),
            "input_length": L,
            "freq": frame.freq,
        }
        scalers = {"target": StandardScaler().fit(frame.targets)}
        if frame.past_covariates is not None:
            scalers["past"] = StandardScaler().fit(frame.past_covariates)
        if frame.future_covariates is not None:
            scalers["future"] = StandardScaler().fit(frame.future_covariates)
        self.meta, self.scalers = meta, scalers
        z, past, fut = self._features(frame, cal)  # (T, C), (T, P), (T, F)
        windows = torch.from_numpy(
            np.ascontiguousarray(sliding_windows(np.concatenate([z, past, fut], axis=1), L + cfg.horizon))
        ).float()  # (N, L+H, C+P+F)

        caller_rng = capture_rng()  # the Trainer seeds the global generators; give the caller's back
        try:
            torch.manual_seed(cfg.seed)
            self.net = build_network(cfg.network(), L, z.shape[1], past.shape[1], fut.shape[1])
            result = fit_network(
                self.net,
                windows,
                cfg,
                checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
                resume=resume,
                checkpoint_every=checkpoint_every,
                settings=settings,
                progress=progress,
                callbacks=callbacks,
            )
        finally:
            restore_rng(caller_rng)
        self.log, self.epochs, self.resumed_from = result.log, result.epochs, result.resumed_from
        self.tail = frame.slice(len(frame) - L, None)
        return self

    def _features(self, frame: TimeSeriesFrame, cal: np.ndarray):
        """Scaled targets (T, C), past covariates (T, P) and future covariates with the calendar (T, F)."""
        z = self.scalers["target"].transform(frame.targets)
        if "past" in self.scalers:
            past = self.scalers["past"].transform(frame.past_covariates)
        else:
            past = np.zeros((len(frame), 0))
        fut = [cal]
        if "future" in self.scalers:
            fut.insert(0, self.scalers["future"].transform(frame.future_covariates))
        return z, past, np.concatenate(fut, axis=1)

    # ---- predict -----------------------------------------------------------------------------
    def predict(self, horizon: int, history=None, future_covariates=None) -> Forecast:
        """Forecast ``horizon`` steps after the training series, or after ``history`` if given.

        Args:
            horizon: number of steps (> 0).
            history: a series with the training columns (at least ``input_length`` rows); its last
                ``input_length`` rows are the model's input. Default: the end of the training series.
            future_covariates: ``(horizon, F)`` values of the user's known-future covariates, when
                the model was trained with some (calendar features are derived, never passed).
        Returns:
            :class:`Forecast` with ``mean``, ``lower``, ``upper`` of shape ``(horizon, C)``.
        """
        horizon = check_horizon(horizon)
        self._check_fitted()
        frame = self.tail if history is None else self._check_history(as_frame(history))
        L = self.meta["input_length"]
        frame = frame.slice(len(frame) - L, None)
        times = extend_index(frame.time, horizon, self.meta["freq"])
        n_user = len(self.meta["future_names"])
        if n_user:
            if future_covariates is None:
                raise InvalidValueError(
                    f"this model uses known-future covariates {self.meta['future_names']}: pass "
                    f"future_covariates= with shape ({horizon}, {n_user})"
                )
            if np.size(future_covariates) != horizon * n_user:
                raise InvalidValueError(
                    f"future_covariates must have shape ({horizon}, {n_user}), got {np.shape(future_covariates)}"
                )
            fc = np.asarray(future_covariates, dtype=np.float64).reshape(horizon, -1)
        if self.meta["calendar_names"]:
            cal_in, cal_out = calendar_features(frame.time)[0], calendar_features(frame.time.append(times))[0][L:]
        else:
            cal_in, cal_out = np.zeros((L, 0)), np.zeros((horizon, 0))
        z, past, fut_in = self._features(frame, cal_in)
        fut_out = cal_out if not n_user else np.concatenate([self.scalers["future"].transform(fc), cal_out], axis=1)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]  # noqa: E731  (1, T, .)
        point, lo, hi = self.net.forecast(t(z), t(past), t(fut_in), t(fut_out), horizon)
        inv = self.scalers["target"]
        return Forecast(
            mean=inv.inverse_transform(point[0].double().numpy()),
            lower=inv.inverse_transform(lo[0].double().numpy()),
            upper=inv.inverse_transform(hi[0].double().numpy()),
            level=self.config.level,
            time=times,
            names=tuple(self.meta["target_names"]),
        )

    def calendar_for(self, time) -> np.ndarray:
        """The calendar features this model derives, for the timestamps ``time`` -> ``(T, F)``
        (``(T, 0)`` for a model without them). Raises if the timestamps give other features (another
        frequency than the model was trained on)."""
        self._check_fitted()
        names = self.meta["calendar_names"]
        if not names:
            return np.zeros((len(time), 0))
        if not is_datetime(time):
            raise InvalidValueError(
                f"the model uses calendar features {names}: give timestamps (a date index), not {type(time).__name__}"
            )
        cal, got = calendar_features(time)
        if list(got) != list(names):
            raise InvalidValueError(
                f"these timestamps give calendar features {list(got)}, the model was trained "
                f"with {names}: is the series at the model's frequency ({self.meta['freq']})?"
            )
        return cal

    def step_adapter(self):
        """How ``rnnkit.stream(forecaster)`` steps it (:mod:`rnnkit.timeseries.streaming`)."""
        from .streaming import ForecasterStep

        return ForecasterStep(self)

    def predict_windows(
        self, values: np.ndarray, horizon: int = 1, calendar: Optional[np.ndarray] = None
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Batched forecasts from raw target windows ``(N, input_length, C)`` -> point, lower, upper
        ``(N, horizon, C)`` in data units (used by anomaly detection).

        For a model with calendar features, ``calendar`` holds them for each window's rows and the
        ``horizon`` rows after it: ``(N, input_length + horizon, F)`` (slide :meth:`calendar_for` over
        the series). Models with the user's own covariates are not served here: use :meth:`predict`.
        """
        self._check_fitted()
        horizon = check_horizon(horizon)
        if self.meta["past_names"] or self.meta["future_names"]:
            raise InvalidValueError(
                "predict_windows serves models without the user's own covariates; this one uses "
                f"{self.meta['past_names'] + self.meta['future_names']}: use predict(history=...)"
            )
        arr = np.asarray(values, dtype=np.float64)
        L, C, F = self.meta["input_length"], len(self.meta["target_names"]), len(self.meta["calendar_names"])
        if arr.ndim != 3 or arr.shape[1:] != (L, C):
            raise InvalidValueError(f"windows must have shape (N, {L}, {C}), got {arr.shape}")
        if F:
            if calendar is None:
                raise InvalidValueError(
                    f"the model derives calendar features {self.meta['calendar_names']}: pass "
                    f"calendar= with shape ({arr.shape[0]}, {L + horizon}, {F}) (see calendar_for)"
                )
            cal = np.asarray(calendar, dtype=np.float64)
            if cal.shape != (arr.shape[0], L + horizon, F):
                raise InvalidValueError(
                    f"calendar must have shape ({arr.shape[0]}, {L + horizon}, {F}), got {cal.shape}"
                )
        else:
            cal = np.zeros((arr.shape[0], L + horizon, 0))
        z = torch.from_numpy(self.scalers["target"].transform(arr)).float()
        cal_t = torch.from_numpy(np.ascontiguousarray(cal)).float()
        empty = torch.zeros(arr.shape[0], L, 0)
        point, lo, hi = self.net.forecast(z, empty, cal_t[:, :L], cal_t[:, L:], horizon)
        inv = self.scalers["target"].inverse_transform
        return inv(point.double().numpy()), inv(lo.double().numpy()), inv(hi.double().numpy())

    def _check_fitted(self) -> None:
        if self.net is None:
            raise InvalidValueError(
                "the Forecaster is not fitted: call fit(series), or load one with "
                "from_pretrained(dir) / rnnkit.load(dir)"
            )

    def _check_history(self, frame: TimeSeriesFrame) -> TimeSeriesFrame:
        m = self.meta
        got = (list(frame.target_names), list(frame.past_names), list(frame.future_names))
        unnamed = tuple(got[0]) in (("y",), tuple(f"y{i}" for i in range(frame.n_targets)))  # a plain array
        if frame.n_targets != len(m["target_names"]) or (got[0] != m["target_names"] and not unnamed):
            raise InvalidValueError(f"history has targets {got[0]}, the model was trained on {m['target_names']}")
        if is_datetime(frame.time) and frame.freq and m.get("freq") and str(frame.freq) != str(m["freq"]):
            raise InvalidValueError(f"history has frequency {frame.freq!r}, the model was trained at {m['freq']!r}")
        if len(got[1]) != len(m["past_names"]) or len(got[2]) != len(m["future_names"]):
            raise InvalidValueError(
                f"history has covariates {got[1]} / {got[2]}, the model was trained on "
                f"{m['past_names']} / {m['future_names']}"
            )
        if len(frame) < m["input_length"]:
            raise InvalidValueError(
                f"history has {len(frame)} points, fewer than the model's input_length {m['input_length']}"
            )
        if m["calendar_names"] and not is_datetime(frame.time):
            raise InvalidValueError(
                f"the model uses calendar features {m['calendar_names']}: history needs a date "
                "index, "
                "not a plain array (pass a TimeSeriesFrame, or train with calendar=False)"
            )
        return frame

    # ---- save / load -------------------------------------------------------------------------
    def save_pretrained(self, directory, *, files: Optional[Mapping[str, Union[str, bytes]]] = None) -> None:
        """Write the model folder (the one model format, version 3): ``config.json``,
        ``model.safetensors``, ``preprocessing.json`` (the scalers and the last ``input_length``
        rows of the training series) and ``files`` (more task files: name -> content), saved as one
        atomic set over any model saved there before (:func:`rnnkit.models.format.save_model`).
        No pickle."""
        self._check_fitted()
        save_forecaster(directory, self.config, self.meta, self.net, self.scalers, self.tail, files=files)

    @classmethod
    def from_folder(cls, folder: ModelFolder, **kwargs) -> "Forecaster":
        """A forecaster from a model folder read by :func:`rnnkit.models.format.read_model` (any of the
        forecaster's format versions); a problem with its files is a ``FileFormatError`` naming the file.
        A forecaster loads on the CPU and takes no options (``kwargs`` must be empty)."""
        if kwargs:
            raise InvalidTypeError(f"a forecaster loads without options, got {sorted(kwargs)}")
        check_folder(folder)
        self = cls(read_config(folder))
        self.meta = read_meta(folder)
        self.scalers, self.tail = read_preprocessing(folder, self.meta)
        self.net = read_network(folder, self.config, self.meta)
        return self

    @classmethod
    def from_pretrained(cls, directory) -> "Forecaster":
        """Load a forecaster written by :meth:`save_pretrained` (or an earlier rnnkit)."""
        try:
            folder = read_model(directory, expected=MODEL_TYPE)
        except MissingFileError as err:
            raise MissingFileError(f"{err}: not a saved Forecaster") from None
        return cls.from_folder(folder)
