"""The forecaster's network: an encoder RNN and a linear output map, one class per strategy.

Shapes: B batch, L input steps, H horizon, C targets, P past covariates, F known-future covariates
(the user's and the calendar's), K head parameters per value (channel 0 the location).

A window ``w`` of ``L + H`` rows holds, per row, the standard-scaled targets (C), past covariates
(P) and future covariates (F). Window normalisation (as RevIN / DeepAR's scaling) centres each
window's targets on the mean of its own input part (``window_scale`` also divides by its standard
deviation)::

    loc = mean_{t < L} z_t,   scale = std_{t < L} z_t (or 1),   zn_t = (z_t - loc) / scale

so trends and level shifts outside the training range look familiar; ``level_inputs`` also feeds
``(loc, log scale)`` (2C values) to the RNN.

Every strategy (:class:`ForecastNet` subclass) answers the same three questions:

* ``outputs(w, teacher)`` -> ``(raw, target)``: the head's raw outputs for a batch of windows and
  the normalised values they predict -- what the loss compares (``teacher``: scheduled sampling);
* ``forecast(z_in, past_in, fut_in, fut_out, horizon)`` -> point, lower, upper: a rollout of any
  length from input windows, in the scaler's units;
* ``check_series(frame)``: refuse a series the strategy cannot forecast.

:func:`build_network` builds the strategy's network from a :class:`NetworkConfig` alone.
"""

from __future__ import annotations

from typing import Dict, Tuple, Type

import torch
from torch import Tensor, nn

from ..layers import recurrent_layer
from .config import NetworkConfig
from .heads import HEADS


class ForecastNet(nn.Module):
    """Encoder RNN + output map ``out``; a subclass adds its strategy (see the module docstring).

    Inputs per step: window-normalised targets (C), past covariates (P), known-future covariates
    (F), and the window's level features (2C) with window_norm and level_inputs on.
    """

    strategy = ""  # its name in NetworkConfig.strategy
    uses_teacher_forcing = False  # whether training feeds it a TeacherForcing (scheduled sampling)

    def __init__(self, cfg: NetworkConfig, input_length: int, n_targets: int, n_past: int, n_future: int) -> None:
        super().__init__()
        self.cfg, self.L, self.C, self.P, self.F = cfg, input_length, n_targets, n_past, n_future
        self.head = HEADS[cfg.head](cfg.level)
        self.K = self.head.n_params
        self.n_level = 2 * n_targets if cfg.window_norm and cfg.level_inputs else 0
        self.rnn = recurrent_layer(cfg.cell, self.rnn_inputs, cfg.hidden_size, cfg.num_layers, cfg.dropout)

    @property
    def rnn_inputs(self) -> int:
        return self.C + self.P + self.F + self.n_level

    def location_rows(self) -> Tensor:
        """Bool ``(out_features,)``: the rows of ``out`` that produce the location (channel 0 of every K)."""
        return torch.arange(self.out.out_features) % self.K == 0

    def normalise(self, z_in: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Window normalisation of inputs ``z_in`` (B, L, C): ``loc``, ``scale`` (B, 1, C) and the
        level features (B, 2C) (or (B, 0))."""
        B, _, C = z_in.shape
        if not self.cfg.window_norm:
            return torch.zeros(B, 1, C), torch.ones(B, 1, C), torch.zeros(B, 0)
        loc = z_in.mean(dim=1, keepdim=True)
        scale = z_in.std(dim=1, keepdim=True, unbiased=False).clamp_min(1e-2)
        if not self.cfg.window_scale:
            scale = torch.ones_like(scale)
        level = torch.cat([loc[:, 0], scale[:, 0].log()], dim=-1) if self.cfg.level_inputs else torch.zeros(B, 0)
        return loc, scale, level

    def split(self, w: Tensor):
        """A batch of windows ``w`` (B, L+H, C+P+F) -> normalised targets zn (B, L+H, C), past (B, L+H, P),
        future covariates (B, L+H, F), level features (B, 2C)."""
        L, C, P = self.L, self.C, self.P
        loc, scale, level = self.normalise(w[:, :L, :C])
        return (w[..., :C] - loc) / scale, w[..., C : C + P], w[..., C + P :], level

    # the strategy's interface ----------------------------------------------------------------
    @classmethod
    def check_series(cls, frame) -> None:
        """Raise if this strategy cannot forecast ``frame`` (a TimeSeriesFrame)."""

    def outputs(self, w: Tensor, teacher=None) -> Tuple[Tensor, Tensor]:
        raise NotImplementedError("abstract: a strategy computes its outputs for a batch of windows")

    def forecast(self, z_in: Tensor, past_in: Tensor, fut_in: Tensor, fut_out: Tensor, horizon: int):
        raise NotImplementedError("abstract: a strategy rolls its forecasts out")


def strategy_class(name: str) -> Type[ForecastNet]:
    """The network class of strategy ``name`` ("direct" or "autoregressive")."""
    from .autoregressive import AutoregressiveNet
    from .direct import DirectNet

    classes: Dict[str, Type[ForecastNet]] = {"direct": DirectNet, "autoregressive": AutoregressiveNet}
    return classes[name]


def build_network(
    cfg: NetworkConfig,
    input_length: int,
    n_targets: int,
    n_past: int,
    n_future: int,
) -> ForecastNet:
    """The network of ``cfg.strategy`` for these dimensions (built from the network settings only)."""
    if not isinstance(cfg, NetworkConfig):
        from .._checks import InvalidTypeError, describe

        raise InvalidTypeError(f"cfg must be a NetworkConfig (ForecasterConfig.network()), got {describe(cfg)}")
    return strategy_class(cfg.strategy)(cfg, input_length, n_targets, n_past, n_future)


def window_loss(net: ForecastNet, w: Tensor, teacher=None, point: bool = False) -> Tensor:
    """The head's loss on a batch of windows ``w``, or (``point=True``) the MSE of the point
    forecast, in normalised units. ``teacher``: scheduled sampling (autoregressive; None: free running)."""
    raw, target = net.outputs(w, teacher)
    return ((net.head.point(raw) - target) ** 2).mean() if point else net.head.loss(raw, target)


def pad_future(block: Tensor, H: int) -> Tensor:
    """Pad a (B, h, F) block of future covariates to H steps (the model always takes H; the
    padded steps' outputs are discarded)."""
    if block.shape[1] == H:
        return block
    if block.shape[1]:
        pad = block[:, -1:].expand(-1, H - block.shape[1], -1)
    else:
        pad = torch.zeros(block.shape[0], H, block.shape[2])
    return torch.cat([block, pad], dim=1)


__all__ = ["ForecastNet", "build_network", "strategy_class", "window_loss", "pad_future"]
