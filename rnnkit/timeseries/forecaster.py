"""``Forecaster``: an RNN that forecasts time series -- ``fit(series)``, ``predict(horizon)``.

Pipeline (all fitted on the series given to :meth:`Forecaster.fit`, i.e. training data only):

1. Per-series standard scaling (:class:`rnnkit.timeseries.scaling.StandardScaler`) of targets and
   covariates; inverted on output.
2. Sliding windows of ``input_length + horizon`` rows (:mod:`rnnkit.timeseries.windows`).
3. Window normalisation (as RevIN / DeepAR's scaling): each window's targets are centred on the
   mean of its own input part (``window_scale=True`` also divides by its std; ``level_inputs=True``
   also feeds the window's level to the RNN, off by default). Trends and level shifts outside the
   training range then look familiar.
4. An rnnkit recurrent layer (LSTM by default, GRU or RNN) and a probabilistic head
   (:mod:`rnnkit.timeseries.heads`: Gaussian by default, or quantiles).

Two strategies:

* ``"direct"`` (default): the encoder reads the input window; from its last hidden state (and the
  known-future covariates of the horizon) one linear map emits all ``horizon`` steps at once. A
  linear "highway" from the input window to the point forecast (LSTNet's autoregressive component)
  carries the linear part: it is solved first by ridge regression over all training windows
  (``highway_init="ridge"``), the RNN's location output starts at zero, a short warm-up fits the
  interval part of the head, and the RNN then learns the residual. Early stopping on the last
  ``val_fraction`` of the windows (point-forecast MSE) keeps whichever is better on them -- the
  linear start or what training made of it -- so on a short series the RNN has to earn its place.
  Longer forecasts chain blocks, feeding the means back.
* ``"autoregressive"``: one step at a time; the hidden state is carried through the rollout and each
  prediction is fed back as the next input. Training uses teacher forcing with scheduled sampling
  (:mod:`rnnkit.models.scheduled_sampling`): the probability of feeding the true value decays
  linearly from 1 to ``teacher_forcing_min`` over the epochs.

Intervals: the head's per-step distribution, ``level`` nominal coverage (default 90%). In a rollout
(autoregressive, or chained direct blocks) each step's interval is conditional on the fed-back
point forecasts, so it does not include the uncertainty those carry (it is too narrow far out).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from ..data.atomic import atomic_write
from .scaling import StandardScaler
from .calendar import calendar_features
from .frame import TimeSeriesFrame, as_frame
from .frequency import extend_index
from .windows import sliding_windows
from ..layers import GRU, LSTM, RNN
from .heads import HEADS
from .forecast_training import train_network
from .forecast import Forecast, check_horizon
from ..models.scheduled_sampling import mix_inputs

FORMAT = "rnnkit.forecaster"
FORMAT_VERSION = 2
# Fields added in version 2, with the values version-1 models were trained with (their defaults
# then), so a model saved before still forecasts as it did.
_V1_MISSING = {"window_scale": True, "highway_init": "random", "highway_ridge": 1.0, "highway_train": True,
               "select": "nll", "head_warmup": 0}
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
STRATEGIES = ("direct", "autoregressive")


@dataclass
class ForecasterConfig:
    # model
    cell: str = "lstm"  # "lstm" | "gru" | "rnn": LSTM's gates keep a season's worth of memory best
    hidden_size: int = 64  # small series (hundreds of points) overfit larger models
    num_layers: int = 1  # one layer suffices on univariate series; stack for richer multivariate data
    dropout: float = 0.0  # between stacked layers only (needs num_layers > 1)
    strategy: str = "direct"  # "direct" (all steps at once, no error feedback) or "autoregressive"
    head: str = "gaussian"  # "gaussian" (mean, sigma) or "quantile" (median and interval quantiles)
    level: float = 0.9  # nominal coverage of the prediction interval
    # windows
    horizon: int = 12  # steps the model learns to forecast; longer predictions roll out or chain
    input_length: int = 0  # window the model reads; 0 = auto: max(2 * horizon, 2 * season, 8), capped
    window_norm: bool = True  # normalise each window by its own mean/std: extrapolates trends and levels
    level_inputs: bool = False  # window norm: also feed the window's mean and log-std; off: levels outside the
    #                             training range (a trend) would reach the RNN as inputs it never saw
    window_scale: bool = False  # window norm: also divide by the window's own std (chained blocks then compound errors)
    highway: bool = True  # direct: linear map input window -> point forecast, for trend and seasonality
    highway_init: str = "ridge"  # "ridge": solve the highway by ridge regression, the RNN then learns the residual
    highway_ridge: float = 1.0  # L2 penalty of the ridge solve (in window-normalised units)
    highway_train: bool = False  # keep training the highway with the RNN (False: frozen at the ridge solution)
    calendar: bool = True  # derive month / day-of-week / hour features as known-future covariates
    # training (see train_network)
    epochs: int = 300  # upper bound; early stopping usually ends sooner
    batch_size: int = 32  # small batches = more updates per epoch on short series
    lr: float = 1e-3  # Adam; the RNN refines a solved linear forecast, so small steps
    weight_decay: float = 1e-5  # a touch of L2 against overfitting small series
    clip: float = 1.0  # gradient-norm clipping keeps BPTT stable on long windows
    val_fraction: float = 0.2  # share of windows at the tail that judge the RNN (early stopping; 0: none)
    patience: int = 10  # epochs without validation improvement before stopping: small series overfit fast
    select: str = "point"  # early stopping on "point" (MSE of the point forecast) or "nll" (the head's loss)
    head_warmup: int = 20  # ridge highway: epochs training only the interval part of the head first (0: none)
    teacher_forcing_min: float = 0.5  # autoregressive: final probability of feeding the true value
    teacher_forcing_epochs: int = 30  # epochs over which it decays from 1 (early stopping ends most fits by ~50)
    seed: int = 0  # model initialisation, shuffling and scheduled sampling are seeded: fits repeat exactly

    def __post_init__(self) -> None:
        _choice("cell", self.cell, tuple(CELLS))
        _choice("strategy", self.strategy, STRATEGIES)
        _choice("head", self.head, tuple(HEADS))
        _choice("highway_init", self.highway_init, ("ridge", "random"))
        _choice("select", self.select, ("point", "nll"))
        for name in ("hidden_size", "num_layers", "horizon", "epochs", "batch_size", "patience", "teacher_forcing_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(self.head_warmup, bool) or not isinstance(self.head_warmup, int) or self.head_warmup < 0:
            raise ValueError(f"head_warmup must be a non-negative int, got {self.head_warmup!r}")
        if isinstance(self.input_length, bool) or not isinstance(self.input_length, int) or self.input_length < 0:
            raise ValueError(f"input_length must be a non-negative int (0 = auto), got {self.input_length!r}")
        for name, lo, hi in (("level", 0.0, 1.0), ("val_fraction", 0.0, 0.5), ("dropout", 0.0, 1.0),
                             ("teacher_forcing_min", 0.0, 1.0)):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not (lo < value < hi if name == "level" else lo <= value <= hi):
                raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
        if not isinstance(self.highway_ridge, (int, float)) or isinstance(self.highway_ridge, bool) or self.highway_ridge < 0:
            raise ValueError(f"highway_ridge must be a non-negative number, got {self.highway_ridge!r}")
        for name in ("lr", "clip"):
            if not isinstance(getattr(self, name), (int, float)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")


def _choice(name, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")


def season_from_index(time) -> int:
    """The calendar period implied by the index spacing: 24 hourly, 7 daily, 52 weekly, 12 monthly,
    4 quarterly, 1 otherwise (yearly, integer index)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return 1
    if not isinstance(time, pd.DatetimeIndex) or len(time) < 2:
        return 1
    days = float(np.median(np.diff(time.to_numpy())) / np.timedelta64(1, "D"))
    for limit, period in ((1 / 24 * 1.5, 24), (1.5, 7), (8, 52), (32, 12), (93, 4)):
        if days <= limit:
            return period
    return 1


# ---- the network -----------------------------------------------------------------------------


class ForecastNet(nn.Module):
    """Encoder RNN + output map. Shapes: B batch, L input steps, H horizon, C targets, K head params.

    Inputs per step: window-normalised targets (C), past covariates (P), known-future covariates
    (F), and the window's level features (2C: mean and log-scale) with window_norm and level_inputs on.
    """

    def __init__(self, cfg: ForecasterConfig, input_length: int, n_targets: int, n_past: int, n_future: int) -> None:
        super().__init__()
        self.cfg, self.L, self.C, self.P, self.F = cfg, input_length, n_targets, n_past, n_future
        self.K = HEADS[cfg.head].n_params
        self.n_level = 2 * n_targets if cfg.window_norm and cfg.level_inputs else 0
        rnn_in = n_targets + n_past + n_future + self.n_level
        self.rnn = CELLS[cfg.cell](rnn_in, cfg.hidden_size, cfg.num_layers, batch_first=True,
                                   dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        H = cfg.horizon
        if cfg.strategy == "direct":
            self.out = nn.Linear(cfg.hidden_size + H * n_future + self.n_level, H * n_targets * self.K)
            self.highway = nn.Linear(input_length, H) if cfg.highway else None
        else:
            self.out = nn.Linear(cfg.hidden_size, n_targets * self.K)
            self.highway = None

    def direct(self, z: Tensor, past: Tensor, fut_in: Tensor, fut_out: Tensor, level: Tensor) -> Tensor:
        """z (B, L, C) normalised; past (B, L, P); fut_in (B, L, F); fut_out (B, H, F); level (B, 2C)
        -> raw (B, H, C, K)."""
        B, L, _ = z.shape
        x = torch.cat([z, past, fut_in, level[:, None, :].expand(B, L, -1)], dim=-1)  # (B, L, in)
        out, _ = self.rnn(x)  # (B, L, hidden)
        feat = torch.cat([out[:, -1], fut_out.flatten(1), level], dim=-1)
        raw = self.out(feat).view(B, self.cfg.horizon, self.C, self.K)
        if self.highway is not None:
            hw = self.highway(z.transpose(1, 2)).transpose(1, 2)  # (B, H, C)
            raw = torch.cat([raw[..., :1] + hw[..., None], raw[..., 1:]], dim=-1)
        return raw

    def step(self, z: Tensor, fut_next: Tensor, level: Tensor, state=None):
        """Autoregressive: z (B, T, C) values at t, fut_next (B, T, F) covariates at t+1
        -> raw (B, T, C, K) for the values at t+1, and the carried state."""
        B, T, _ = z.shape
        x = torch.cat([z, fut_next, level[:, None, :].expand(B, T, -1)], dim=-1)
        out, state = self.rnn(x, state)  # (B, T, hidden)
        return self.out(out).view(B, T, self.C, self.K), state


# ---- the forecaster --------------------------------------------------------------------------


class Forecaster:
    """Fit an RNN forecaster on a series and forecast ``horizon`` steps with intervals.

    >>> fc = Forecaster(ForecasterConfig(horizon=12)).fit(frame)   # frame: TimeSeriesFrame or array
    >>> out = fc.predict(12)          # Forecast: .mean, .lower, .upper (H, C), .time
    """

    def __init__(self, config: Optional[ForecasterConfig] = None) -> None:
        if config is not None and not isinstance(config, ForecasterConfig):
            raise TypeError(f"config must be a ForecasterConfig, got {type(config).__name__}")
        self.config = config or ForecasterConfig()
        self.net: Optional[ForecastNet] = None
        self.meta: Dict = {}
        self.scalers: Dict[str, StandardScaler] = {}
        self.tail: Optional[TimeSeriesFrame] = None  # last input_length rows of the training series
        self.log: List[Dict[str, float]] = []

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, series, *, resume_state: Optional[Dict] = None,
            on_epoch: Optional[Callable[[Dict], None]] = None) -> "Forecaster":
        """Train on ``series`` (a :class:`TimeSeriesFrame`, an array ``(T,)``/``(T, C)`` or a pandas
        Series/DataFrame). Refitting starts from scratch.

        ``on_epoch(state)`` is called after every training epoch with a resume point (a nested dict of
        tensors and numbers); ``fit(series, resume_state=state)`` on the same series and config
        continues from it and ends with exactly the weights of an uninterrupted fit."""
        cfg = self.config
        frame = as_frame(series)
        if frame.past_covariates is not None and cfg.strategy == "autoregressive":
            raise ValueError("past covariates are unknown beyond the present, so the autoregressive strategy "
                             f"cannot roll out with them (got {list(frame.past_names)}); use strategy='direct'")
        L = self._resolve_input_length(len(frame), season_from_index(frame.time))
        cal, cal_names = calendar_features(frame.time) if cfg.calendar else (np.zeros((len(frame), 0)), ())
        self.meta = {
            "target_names": list(frame.target_names), "past_names": list(frame.past_names),
            "future_names": list(frame.future_names), "calendar_names": list(cal_names),
            "input_length": L, "freq": frame.freq,
        }
        self.scalers = {"target": StandardScaler().fit(frame.targets)}
        if frame.past_covariates is not None:
            self.scalers["past"] = StandardScaler().fit(frame.past_covariates)
        if frame.future_covariates is not None:
            self.scalers["future"] = StandardScaler().fit(frame.future_covariates)
        z, past, fut = self._features(frame, cal)  # (T, C), (T, P), (T, F)

        H = cfg.horizon
        windows = torch.from_numpy(np.ascontiguousarray(
            sliding_windows(np.concatenate([z, past, fut], axis=1), L + H))).float()  # (N, L+H, C+P+F)
        n_val = int(round(cfg.val_fraction * len(windows)))
        n_val = n_val if len(windows) - n_val >= 1 else 0
        train = (windows[: len(windows) - n_val],)
        val = (windows[len(windows) - n_val:],) if n_val else None

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.net = ForecastNet(cfg, L, z.shape[1], past.shape[1], fut.shape[1])
            ridge = self.net.highway is not None and cfg.highway_init == "ridge"
            if ridge:
                self._solve_highway(windows)
            self.log = train_network(self.net, self._loss, train, val, cfg, warmup=cfg.head_warmup if ridge else 0,
                                     state=resume_state, on_epoch=on_epoch)
        self.tail = frame.slice(len(frame) - L, None)
        return self

    @torch.no_grad()
    def _solve_highway(self, w: Tensor) -> None:
        """Set the highway to the ridge-regression forecast of the windows ``w`` (B, L+H, ...), the
        RNN's output map to constants (location 0, spread fitted to the ridge residuals): training
        starts from the best linear forecaster with calibrated intervals, and the RNN learns what it
        misses.

        In window-normalised units, for every window and target: ``y = W x + b`` with ``x`` the L
        inputs and ``y`` the H future values, ``[W b] = argmin |y - W x - b|^2 + ridge |W|^2``.
        """
        net, cfg = self.net, self.config
        L, C, H = net.L, net.C, cfg.horizon
        loc, scale, _ = self._normalise(w[:, :L, :C])
        zn = ((w[..., :C] - loc) / scale).double()  # (N, L+H, C)
        x = zn[:, :L].transpose(1, 2).reshape(-1, L)  # one row per (window, target)
        y = zn[:, L:].transpose(1, 2).reshape(-1, H)
        xa = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)  # (N*C, L+1)
        penalty = torch.diag(torch.cat([torch.full((L,), float(cfg.highway_ridge)), torch.zeros(1)])).double()
        coef = torch.linalg.lstsq(xa.T @ xa + penalty, xa.T @ y).solution  # (L+1, H)
        net.highway.weight.copy_(coef[:L].T)
        net.highway.bias.copy_(coef[L])
        net.highway.requires_grad_(cfg.highway_train)
        # the RNN's outputs start as constants: location 0 (the ridge forecast stands), spread fitted to
        # the ridge residuals per step and target, so the start has calibrated intervals
        residuals = (y - xa @ coef).view(-1, C, H).transpose(1, 2)  # (N, H, C)
        spread = HEADS[cfg.head](cfg.level).spread_from_residuals(residuals)  # (H, C, K-1)
        net.out.weight.zero_()
        net.out.bias.view(H, C, net.K)[..., 0] = 0.0
        net.out.bias.view(H, C, net.K)[..., 1:] = spread.float()

    def _resolve_input_length(self, n_rows: int, season: int) -> int:
        cfg = self.config
        H = cfg.horizon
        if cfg.input_length:
            L = cfg.input_length
            if n_rows < L + H:
                raise ValueError(f"series has {n_rows} points, shorter than one window of input_length + horizon = "
                                 f"{L} + {H} = {L + H}")
            return L
        want = max(2 * H, 2 * season, 8)
        cap = n_rows - H - max(16, n_rows // 4) + 1  # leave enough windows to learn from
        L = min(want, cap)
        if L < 4:
            raise ValueError(f"series has {n_rows} points, too short to train a horizon of {H}: needs at least "
                             f"{H + 4 + 15} (4 input steps and 16 windows); shorten the horizon or give more data")
        return L

    def _features(self, frame: TimeSeriesFrame, cal: np.ndarray):
        z = self.scalers["target"].transform(frame.targets)
        past = self.scalers["past"].transform(frame.past_covariates) if "past" in self.scalers else np.zeros((len(frame), 0))
        fut = [cal]
        if "future" in self.scalers:
            fut.insert(0, self.scalers["future"].transform(frame.future_covariates))
        return z, past, np.concatenate(fut, axis=1)

    # ---- the model in normalised units -------------------------------------------------------
    def _normalise(self, z_in: Tensor):
        """Window normalisation: (loc, scale) (B, 1, C) from the input part, and level features (B, 2C)."""
        B, _, C = z_in.shape
        if not self.config.window_norm:
            return torch.zeros(B, 1, C), torch.ones(B, 1, C), torch.zeros(B, 0)
        loc = z_in.mean(dim=1, keepdim=True)
        scale = z_in.std(dim=1, keepdim=True, unbiased=False).clamp_min(1e-2)
        if not self.config.window_scale:
            scale = torch.ones_like(scale)
        level = torch.cat([loc[:, 0], scale[:, 0].log()], dim=-1) if self.config.level_inputs else torch.zeros(B, 0)
        return loc, scale, level

    def _loss(self, net: ForecastNet, batch: Tuple[Tensor], p_truth: float, point: bool = False) -> Tensor:
        """The head's loss on a batch of windows, or (``point=True``) the MSE of the point forecast;
        in normalised units. ``p_truth``: teacher-forcing probability (autoregressive strategy)."""
        (w,) = batch  # (B, L+H, C+P+F)
        L, C, P = net.L, net.C, net.P
        head = HEADS[self.config.head](self.config.level)
        loc, scale, level = self._normalise(w[:, :L, :C])
        zn = (w[..., :C] - loc) / scale  # (B, L+H, C)
        fut = w[..., C + P:]
        if self.config.strategy == "direct":
            raw = net.direct(zn[:, :L], w[:, :L, C:C + P], fut[:, :L], fut[:, L:], level)
            target = zn[:, L:]
        else:
            target = zn[:, 1:]
            if p_truth >= 1.0:  # teacher forcing throughout: one fused pass
                raw, _ = net.step(zn[:, :-1], fut[:, 1:], level)
            else:  # scheduled sampling: encoder on the truth, then step by step
                raw_enc, state = net.step(zn[:, :L], fut[:, 1:L + 1], level)
                raws, prev = [raw_enc], head.point(raw_enc[:, -1])
                for t in range(L, w.shape[1] - 1):
                    x = mix_inputs(zn[:, t], prev, p_truth)
                    raw_t, state = net.step(x[:, None], fut[:, t + 1:t + 2], level, state)
                    raws.append(raw_t)
                    prev = head.point(raw_t[:, 0])
                raw = torch.cat(raws, dim=1)
        return ((head.point(raw) - target) ** 2).mean() if point else head.loss(raw, target)

    @torch.no_grad()
    def _rollout(self, z_in: Tensor, past_in: Tensor, fut_in: Tensor, fut_out: Tensor, horizon: int):
        """Normalised forecasts: point, lower, upper (B, horizon, C) in the scaler's units."""
        net, cfg = self.net, self.config
        head = HEADS[cfg.head](cfg.level)
        C, L, H = net.C, net.L, cfg.horizon
        points, lows, highs = [], [], []
        if cfg.strategy == "direct":
            done = 0
            while done < horizon:
                if done and net.P:
                    raise ValueError(f"with past covariates the direct strategy forecasts at most horizon={H} steps, "
                                     f"got {horizon}")
                loc, scale, level = self._normalise(z_in)
                fut_block = _pad_future(fut_out[:, done:done + H], H)
                raw = net.direct((z_in - loc) / scale, past_in, fut_in, fut_block, level)  # (B, H, C, K)
                lo, hi = head.interval(raw)
                take = min(H, horizon - done)
                point = head.point(raw)[:, :take] * scale + loc
                points.append(point)
                lows.append(lo[:, :take] * scale + loc)
                highs.append(hi[:, :take] * scale + loc)
                z_in = torch.cat([z_in, point], dim=1)[:, -L:]
                fut_in = torch.cat([fut_in, fut_block[:, :take]], dim=1)[:, -L:]
                done += take
        else:
            loc, scale, level = self._normalise(z_in)
            fut_all = torch.cat([fut_in, fut_out], dim=1)  # (B, L+horizon, F)
            raw, state = net.step((z_in - loc) / scale, fut_all[:, 1:L + 1], level)
            raw = raw[:, -1:]
            for t in range(horizon):
                lo, hi = head.interval(raw)
                point = head.point(raw)  # (B, 1, C)
                points.append(point * scale + loc)
                lows.append(lo * scale + loc)
                highs.append(hi * scale + loc)
                if t + 1 < horizon:
                    raw, state = net.step(point, fut_all[:, L + t + 1:L + t + 2], level, state)
        return torch.cat(points, 1), torch.cat(lows, 1), torch.cat(highs, 1)

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
                raise ValueError(f"this model uses known-future covariates {self.meta['future_names']}: pass "
                                 f"future_covariates= with shape ({horizon}, {n_user})")
            fc = np.asarray(future_covariates, dtype=np.float64).reshape(horizon, -1) if np.size(future_covariates) == horizon * n_user else None
            if fc is None:
                raise ValueError(f"future_covariates must have shape ({horizon}, {n_user}), got {np.shape(future_covariates)}")
        cal_in = calendar_features(frame.time)[0] if self.meta["calendar_names"] else np.zeros((L, 0))
        cal_out = calendar_features(frame.time.append(times))[0][L:] if self.meta["calendar_names"] else np.zeros((horizon, 0))
        z, past, fut_in = self._features(frame, cal_in)
        fut_out = cal_out if not n_user else np.concatenate([self.scalers["future"].transform(fc), cal_out], axis=1)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]
        point, lo, hi = self._rollout(t(z), t(past), t(fut_in), t(fut_out), horizon)
        inv = self.scalers["target"]
        return Forecast(mean=inv.inverse_transform(point[0].double().numpy()),
                        lower=inv.inverse_transform(lo[0].double().numpy()),
                        upper=inv.inverse_transform(hi[0].double().numpy()),
                        level=self.config.level, time=times, names=tuple(self.meta["target_names"]))

    def calendar_for(self, time) -> np.ndarray:
        """The calendar features this model derives, for the timestamps ``time`` -> ``(T, F)``
        (``(T, 0)`` for a model without them). Raises if the timestamps give other features (another
        frequency than the model was trained on)."""
        self._check_fitted()
        names = self.meta["calendar_names"]
        if not names:
            return np.zeros((len(time), 0))
        if not _is_datetime(time):
            raise ValueError(f"the model uses calendar features {names}: give timestamps (a date index), "
                             f"not {type(time).__name__}")
        cal, got = calendar_features(time)
        if list(got) != list(names):
            raise ValueError(f"these timestamps give calendar features {list(got)}, the model was trained with {names}: "
                             f"is the series at the model's frequency ({self.meta['freq']})?")
        return cal

    def predict_windows(self, values: np.ndarray, horizon: int = 1,
                        calendar: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Batched forecasts from raw target windows ``(N, input_length, C)`` -> point, lower, upper
        ``(N, horizon, C)`` in data units (used by anomaly detection).

        For a model with calendar features, ``calendar`` holds them for each window's rows and the
        ``horizon`` rows after it: ``(N, input_length + horizon, F)`` (slide :meth:`calendar_for` over
        the series). Models with the user's own covariates are not served here: use :meth:`predict`.
        """
        self._check_fitted()
        horizon = check_horizon(horizon)
        if self.meta["past_names"] or self.meta["future_names"]:
            raise ValueError("predict_windows serves models without the user's own covariates; this one uses "
                             f"{self.meta['past_names'] + self.meta['future_names']}: use predict(history=...)")
        arr = np.asarray(values, dtype=np.float64)
        L, C, F = self.meta["input_length"], len(self.meta["target_names"]), len(self.meta["calendar_names"])
        if arr.ndim != 3 or arr.shape[1:] != (L, C):
            raise ValueError(f"windows must have shape (N, {L}, {C}), got {arr.shape}")
        if F:
            if calendar is None:
                raise ValueError(f"the model derives calendar features {self.meta['calendar_names']}: pass calendar= "
                                 f"with shape ({arr.shape[0]}, {L + horizon}, {F}) (see calendar_for)")
            cal = np.asarray(calendar, dtype=np.float64)
            if cal.shape != (arr.shape[0], L + horizon, F):
                raise ValueError(f"calendar must have shape ({arr.shape[0]}, {L + horizon}, {F}), got {cal.shape}")
        else:
            cal = np.zeros((arr.shape[0], L + horizon, 0))
        z = torch.from_numpy(self.scalers["target"].transform(arr)).float()
        cal_t = torch.from_numpy(np.ascontiguousarray(cal)).float()
        empty = torch.zeros(arr.shape[0], L, 0)
        point, lo, hi = self._rollout(z, empty, cal_t[:, :L], cal_t[:, L:], horizon)
        inv = self.scalers["target"].inverse_transform
        return inv(point.double().numpy()), inv(lo.double().numpy()), inv(hi.double().numpy())

    def _check_fitted(self) -> None:
        if self.net is None:
            raise ValueError("the Forecaster is not fitted: call fit(series) or from_pretrained(dir) first")

    def _check_history(self, frame: TimeSeriesFrame) -> TimeSeriesFrame:
        m = self.meta
        got = (list(frame.target_names), list(frame.past_names), list(frame.future_names))
        unnamed = tuple(got[0]) in (("y",), tuple(f"y{i}" for i in range(frame.n_targets)))  # a plain array
        if frame.n_targets != len(m["target_names"]) or (got[0] != m["target_names"] and not unnamed):
            raise ValueError(f"history has targets {got[0]}, the model was trained on {m['target_names']}")
        if _is_datetime(frame.time) and frame.freq and m.get("freq") and str(frame.freq) != str(m["freq"]):
            raise ValueError(f"history has frequency {frame.freq!r}, the model was trained at {m['freq']!r}")
        if len(got[1]) != len(m["past_names"]) or len(got[2]) != len(m["future_names"]):
            raise ValueError(f"history has covariates {got[1]} / {got[2]}, the model was trained on "
                             f"{m['past_names']} / {m['future_names']}")
        if len(frame) < m["input_length"]:
            raise ValueError(f"history has {len(frame)} points, fewer than the model's input_length {m['input_length']}")
        if m["calendar_names"] and not _is_datetime(frame.time):
            raise ValueError(f"the model uses calendar features {m['calendar_names']}: history needs a date index, "
                             "not a plain array (pass a TimeSeriesFrame, or train with calendar=False)")
        return frame

    # ---- save / load -------------------------------------------------------------------------
    def save_pretrained(self, directory) -> None:
        """Write ``config.json``, ``model.safetensors`` and ``preprocessing.json`` (scalers and the
        last ``input_length`` rows of the training series), each atomically. No pickle."""
        from safetensors.torch import save

        self._check_fitted()
        os.makedirs(directory, exist_ok=True)
        config = {"format": FORMAT, "version": FORMAT_VERSION, "config": asdict(self.config), "meta": self.meta}
        tail = self.tail
        prep = {
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "tail": {
                "time": [str(t) for t in tail.time] if _is_datetime(tail.time) else [int(t) for t in tail.time],
                "time_kind": "datetime" if _is_datetime(tail.time) else "int",
                "targets": tail.targets.tolist(),
                "past": None if tail.past_covariates is None else tail.past_covariates.tolist(),
                "future": None if tail.future_covariates is None else tail.future_covariates.tolist(),
            },
        }
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        atomic_write(os.path.join(directory, "model.safetensors"), save(state))
        atomic_write(os.path.join(directory, "preprocessing.json"), json.dumps(prep, indent=1))
        atomic_write(os.path.join(directory, "config.json"), json.dumps(config, indent=2))

    @classmethod
    def from_pretrained(cls, directory) -> "Forecaster":
        """Load a forecaster written by :meth:`save_pretrained`."""
        from safetensors.torch import load_file

        paths = {n: os.path.join(directory, n) for n in ("config.json", "model.safetensors", "preprocessing.json")}
        for name, path in paths.items():
            if not os.path.exists(path):
                raise FileNotFoundError(f"{name} not found in {os.fspath(directory)!r}: not a saved Forecaster")
        with open(paths["config.json"]) as f:
            config = json.load(f)
        if config.get("format") != FORMAT or config.get("version") not in (1, FORMAT_VERSION):
            raise ValueError(f"{paths['config.json']} is not a {FORMAT} v1-v{FORMAT_VERSION} file "
                             f"(format {config.get('format')!r}, version {config.get('version')!r})")
        if config["version"] == 1:
            config["config"] = {**_V1_MISSING, "teacher_forcing_epochs": config["config"].get("epochs", 300),
                                **config["config"]}
        known = {f.name for f in fields(ForecasterConfig)}
        unknown = set(config["config"]) - known
        if unknown:
            raise ValueError(f"config.json has unknown fields {sorted(unknown)}")
        self = cls(ForecasterConfig(**config["config"]))
        self.meta = config["meta"]
        with open(paths["preprocessing.json"]) as f:
            prep = json.load(f)
        self.scalers = {k: StandardScaler.from_state_dict(v) for k, v in prep["scalers"].items()}
        self.tail = _tail_from_json(prep["tail"], self.meta)
        m = self.meta
        n_future = len(m["future_names"]) + len(m["calendar_names"])
        self.net = ForecastNet(self.config, m["input_length"], len(m["target_names"]), len(m["past_names"]), n_future)
        self.net.load_state_dict(load_file(paths["model.safetensors"]), strict=True)
        self.net.eval()
        return self


def _pad_future(block: Tensor, H: int) -> Tensor:
    """Pad a (B, h, F) block of future covariates to H steps (the model always takes H; the
    padded steps' outputs are discarded)."""
    if block.shape[1] == H:
        return block
    pad = block[:, -1:].expand(-1, H - block.shape[1], -1) if block.shape[1] else torch.zeros(block.shape[0], H, block.shape[2])
    return torch.cat([block, pad], dim=1)


def _is_datetime(index) -> bool:
    return getattr(index, "dtype", None) is not None and index.dtype.kind == "M"


def _tail_from_json(tail: Dict, meta: Dict) -> TimeSeriesFrame:
    import pandas as pd

    time = pd.DatetimeIndex(tail["time"]) if tail["time_kind"] == "datetime" else pd.Index(tail["time"], dtype=np.int64)
    arr = lambda a: None if a is None else np.asarray(a, dtype=np.float64)
    return TimeSeriesFrame(time=time, targets=arr(tail["targets"]), target_names=tuple(meta["target_names"]),
                           past_covariates=arr(tail["past"]), past_names=tuple(meta["past_names"]),
                           future_covariates=arr(tail["future"]), future_names=tuple(meta["future_names"]),
                           freq=meta["freq"], filled={})
