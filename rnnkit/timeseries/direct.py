"""The direct strategy: the encoder reads the input window, one linear map emits all H steps at once.

From the encoder's last hidden state ``h_L`` (and the known-future covariates of the horizon, and
the level features) one linear map gives the head's raw outputs for every step and target::

    raw = W_out [h_L ; f_{L+1..L+H} ; level] + b_out                      # (B, H, C, K)
    raw[..., 0] += highway(zn_{1..L})                                      # location only

The linear "highway" from the input window to the point forecast (LSTNet's autoregressive
component) carries the linear part. It is solved first, by ridge regression over all training
windows (:meth:`DirectNet.solve_highway`); the RNN's location output then starts at zero and the
RNN learns the residual. Longer forecasts chain blocks, feeding the means back (each step's
interval is then conditional on the fed-back means: too narrow far out).
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

from .._checks import InvalidValueError
from .config import NetworkConfig
from .network import ForecastNet, pad_future


class DirectNet(ForecastNet):
    strategy = "direct"
    uses_teacher_forcing = False  # every step is predicted from the true input window

    def __init__(self, cfg: NetworkConfig, input_length: int, n_targets: int, n_past: int, n_future: int) -> None:
        super().__init__(cfg, input_length, n_targets, n_past, n_future)
        H = cfg.horizon
        self.out = nn.Linear(cfg.hidden_size + H * n_future + self.n_level, H * n_targets * self.K)
        self.highway = nn.Linear(input_length, H) if cfg.highway else None

    def forward(self, z: Tensor, past: Tensor, fut_in: Tensor, fut_out: Tensor, level: Tensor) -> Tensor:
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

    def outputs(self, w: Tensor, teacher=None) -> Tuple[Tensor, Tensor]:
        """Windows (B, L+H, C+P+F) -> raw (B, H, C, K) and the normalised targets (B, H, C)."""
        zn, past, fut, level = self.split(w)
        L = self.L
        return self(zn[:, :L], past[:, :L], fut[:, :L], fut[:, L:], level), zn[:, L:]

    @torch.no_grad()
    def forecast(self, z_in: Tensor, past_in: Tensor, fut_in: Tensor, fut_out: Tensor, horizon: int):
        """Point, lower, upper (B, horizon, C) in the scaler's units, chaining blocks of H steps."""
        L, H = self.L, self.cfg.horizon
        points, lows, highs = [], [], []
        done = 0
        while done < horizon:
            if done and self.P:
                raise InvalidValueError(
                    f"with past covariates the direct strategy forecasts at most horizon={H} steps, got {horizon}"
                )
            loc, scale, level = self.normalise(z_in)
            fut_block = pad_future(fut_out[:, done : done + H], H)
            raw = self((z_in - loc) / scale, past_in, fut_in, fut_block, level)  # (B, H, C, K)
            lo, hi = self.head.interval(raw)
            take = min(H, horizon - done)
            point = self.head.point(raw)[:, :take] * scale + loc
            points.append(point)
            lows.append(lo[:, :take] * scale + loc)
            highs.append(hi[:, :take] * scale + loc)
            z_in = torch.cat([z_in, point], dim=1)[:, -L:]
            fut_in = torch.cat([fut_in, fut_block[:, :take]], dim=1)[:, -L:]
            done += take
        return torch.cat(points, 1), torch.cat(lows, 1), torch.cat(highs, 1)

    @torch.no_grad()
    def solve_highway(self, w: Tensor, ridge: float, trainable: bool = False) -> None:
        """Set the highway to the ridge-regression forecast of the windows ``w`` (N, L+H, ...), and the
        output map to constants (location 0, spread fitted to the ridge residuals): training starts
        from the best linear forecaster with calibrated intervals, and the RNN learns what it misses.

        In window-normalised units, for every window and target: ``y = W x + b`` with ``x`` the L
        inputs and ``y`` the H future values, ``[W b] = argmin |y - W x - b|^2 + ridge |W|^2``.
        ``trainable``: whether the highway keeps training with the RNN (else it is frozen).
        """
        L, C, H = self.L, self.C, self.cfg.horizon
        loc, scale, _ = self.normalise(w[:, :L, :C])
        zn = ((w[..., :C] - loc) / scale).double()  # (N, L+H, C)
        x = zn[:, :L].transpose(1, 2).reshape(-1, L)  # one row per (window, target)
        y = zn[:, L:].transpose(1, 2).reshape(-1, H)
        xa = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)  # (N*C, L+1)
        penalty = torch.diag(torch.cat([torch.full((L,), float(ridge)), torch.zeros(1)])).double()
        coef = torch.linalg.lstsq(xa.T @ xa + penalty, xa.T @ y).solution  # (L+1, H)
        self.highway.weight.copy_(coef[:L].T)
        self.highway.bias.copy_(coef[L])
        self.highway.requires_grad_(trainable)
        # the RNN's outputs start as constants: location 0 (the ridge forecast stands), spread fitted to
        # the ridge residuals per step and target, so the start has calibrated intervals
        residuals = (y - xa @ coef).view(-1, C, H).transpose(1, 2)  # (N, H, C)
        spread = self.head.spread_from_residuals(residuals)  # (H, C, K-1)
        self.out.weight.zero_()
        self.out.bias.view(H, C, self.K)[..., 0] = 0.0
        self.out.bias.view(H, C, self.K)[..., 1:] = spread.float()
