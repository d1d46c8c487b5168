"""The forecaster's settings: what its network is, and how it is fitted.

* :class:`NetworkConfig` -- the network and what it reads and emits (cell, sizes, strategy, head,
  horizon, input window, window normalisation, highway, calendar features). The network is built
  from these alone (:func:`rnnkit.timeseries.network.build_network`).
* :class:`FitConfig` -- how it is trained (the linear start, epochs, Adam, clipping, early
  stopping, head warm-up, scheduled sampling, seed). These become a
  :class:`~rnnkit.training.TrainConfig` for the Trainer (:mod:`rnnkit.timeseries.fitting`).
* :class:`ForecasterConfig` -- both, as one flat dataclass, which is what a user writes
  (``ForecasterConfig(horizon=12, epochs=50)``) and what a saved forecaster records.
  ``config.network()`` and ``config.fitting()`` give the two parts.

Every field is validated where it is set, with :mod:`rnnkit._checks`: a bad value raises an error
naming the field, the value and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .._checks import boolean, choice, in_range, non_negative_float, non_negative_int, positive_float, positive_int
from ..layers import CELL_NAMES
from .heads import HEADS

CELLS = CELL_NAMES  # "lstm", "gru", "rnn", "layernorm-lstm", ... (docs/cells.md)
STRATEGIES = ("direct", "autoregressive")


@dataclass
class NetworkConfig:
    cell: str = "lstm"  # any of CELLS: LSTM's gates keep a season's worth of memory best
    hidden_size: int = 64  # small series (hundreds of points) overfit larger models
    num_layers: int = 1  # one layer suffices on univariate series; stack for richer multivariate data
    dropout: float = 0.0  # between stacked layers only (needs num_layers > 1)
    strategy: str = "direct"  # "direct" (all steps at once, no error feedback) or "autoregressive"
    head: str = "gaussian"  # "gaussian" (mean, sigma) or "quantile" (median and interval quantiles)
    level: float = 0.9  # nominal coverage of the prediction interval
    horizon: int = 12  # steps the model learns to forecast; longer predictions roll out or chain
    input_length: int = 0  # window the model reads; 0 = auto: max(2 * horizon, 2 * season, 8), capped
    window_norm: bool = True  # normalise each window by its own mean/std: extrapolates trends and levels
    level_inputs: bool = False  # window norm: also feed the window's mean and log-std; off: levels outside the
    #                             training range (a trend) would reach the RNN as inputs it never saw
    window_scale: bool = False  # window norm: also divide by the window's own std (chained blocks then compound errors)
    highway: bool = True  # direct: linear map input window -> point forecast, for trend and seasonality
    calendar: bool = True  # derive month / day-of-week / hour features as known-future covariates

    def __post_init__(self) -> None:
        self._check_network()

    def _check_network(self) -> None:
        choice("cell", self.cell, CELLS)
        choice("strategy", self.strategy, STRATEGIES)
        choice("head", self.head, tuple(HEADS))
        for name in ("hidden_size", "num_layers", "horizon"):
            positive_int(name, getattr(self, name))
        if self.input_length != 0:
            positive_int("input_length (0 = auto)", self.input_length)
        self.dropout = in_range("dropout", self.dropout, 0.0, 1.0)
        self.level = in_range("level", self.level, 0.0, 1.0, low_open=True, high_open=True)
        for name in ("window_norm", "level_inputs", "window_scale", "highway", "calendar"):
            boolean(name, getattr(self, name))


@dataclass
class FitConfig:
    highway_init: str = "ridge"  # "ridge": solve the highway by ridge regression, the RNN then learns the residual
    highway_ridge: float = 1.0  # L2 penalty of the ridge solve (in window-normalised units)
    highway_train: bool = False  # keep training the highway with the RNN (False: frozen at the ridge solution)
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
        self._check_fit()

    def _check_fit(self) -> None:
        choice("highway_init", self.highway_init, ("ridge", "random"))
        choice("select", self.select, ("point", "nll"))
        for name in ("epochs", "batch_size", "patience", "teacher_forcing_epochs"):
            positive_int(name, getattr(self, name))
        non_negative_int("head_warmup", self.head_warmup)
        non_negative_int("seed", self.seed)
        self.val_fraction = in_range("val_fraction", self.val_fraction, 0.0, 0.5)
        self.teacher_forcing_min = in_range("teacher_forcing_min", self.teacher_forcing_min, 0.0, 1.0)
        self.highway_ridge = non_negative_float("highway_ridge", self.highway_ridge)
        self.weight_decay = non_negative_float("weight_decay", self.weight_decay)
        self.lr = positive_float("lr", self.lr)
        self.clip = positive_float("clip", self.clip)
        boolean("highway_train", self.highway_train)


@dataclass
class ForecasterConfig(FitConfig, NetworkConfig):
    """Every setting of a :class:`~rnnkit.timeseries.forecaster.Forecaster`: the network's
    (:class:`NetworkConfig`, listed first) and the fit's (:class:`FitConfig`)."""

    def __post_init__(self) -> None:
        self._check_network()
        self._check_fit()

    def network(self) -> NetworkConfig:
        """The settings the network is built from."""
        return NetworkConfig(**{f.name: getattr(self, f.name) for f in fields(NetworkConfig)})

    def fitting(self) -> FitConfig:
        """The settings of the fit."""
        return FitConfig(**{f.name: getattr(self, f.name) for f in fields(FitConfig)})
