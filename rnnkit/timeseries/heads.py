"""Probabilistic output heads for the forecaster: raw network outputs -> point, interval, loss.

A head reads ``raw`` of shape ``(..., K)``; channel 0 is always the location (the point forecast),
so a linear "highway" can add to it. All values are in the model's normalised units; the caller
maps them back with an increasing affine map (which keeps quantiles and scales standard deviations).

* :class:`GaussianHead` (K = 2): ``N(mu, sigma^2)`` with ``sigma = softplus(s) + 1e-3``; trained by
  the Gaussian negative log-likelihood ``log sigma + (y - mu)^2 / (2 sigma^2)`` (constant dropped);
  interval ``mu -/+ z * sigma`` with ``z`` the standard normal quantile at ``(1 + level) / 2``.
* Both give ``spread_from_residuals``: the spread channels of a constant interval fitted to the
  residuals of a known point forecast (the forecaster's starting point, before training).
* :class:`QuantileHead` (K = 3): the median and the ``(1 -/+ level) / 2`` quantiles, kept ordered as
  ``median -/+ softplus(.)``; trained by the pinball (quantile) loss summed over the three quantiles.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def softplus_inverse(y: Tensor) -> Tensor:
    """``x`` with ``softplus(x) = y`` (``y > 0``), computed stably: ``y + log(-expm1(-y))``."""
    return y + torch.log(-torch.expm1(-y))


class GaussianHead:
    n_params = 2

    def __init__(self, level: float) -> None:
        self.level = level
        self.z = NormalDist().inv_cdf((1 + level) / 2)

    @staticmethod
    def sigma(raw: Tensor) -> Tensor:
        return F.softplus(raw[..., 1]) + 1e-3

    def loss(self, raw: Tensor, target: Tensor) -> Tensor:
        mu, sigma = raw[..., 0], self.sigma(raw)
        return (torch.log(sigma) + 0.5 * ((target - mu) / sigma) ** 2).mean()

    def point(self, raw: Tensor) -> Tensor:
        return raw[..., 0]

    def interval(self, raw: Tensor) -> Tuple[Tensor, Tensor]:
        mu, sigma = raw[..., 0], self.sigma(raw)
        return mu - self.z * sigma, mu + self.z * sigma

    def spread_from_residuals(self, residuals: Tensor) -> Tensor:
        """Raw spread channels for residuals ``(N, ...)`` of a point forecast: the maximum-likelihood
        constant ``sigma = sqrt(mean r^2)`` per position -> ``(..., 1)``."""
        sigma = residuals.pow(2).mean(dim=0).sqrt().clamp_min(2e-3)
        return softplus_inverse(sigma - 1e-3)[..., None]


class QuantileHead:
    n_params = 3

    def __init__(self, level: float) -> None:
        self.level = level
        self.quantiles = ((1 - level) / 2, 0.5, (1 + level) / 2)

    def _quantiles(self, raw: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        med = raw[..., 0]
        return med - F.softplus(raw[..., 1]), med, med + F.softplus(raw[..., 2])

    def loss(self, raw: Tensor, target: Tensor) -> Tensor:
        total = 0.0
        for q, pred in zip(self.quantiles, self._quantiles(raw)):
            err = target - pred
            total = total + torch.maximum(q * err, (q - 1) * err).mean()
        return total

    def point(self, raw: Tensor) -> Tensor:
        return raw[..., 0]

    def interval(self, raw: Tensor) -> Tuple[Tensor, Tensor]:
        lo, _, hi = self._quantiles(raw)
        return lo, hi

    def spread_from_residuals(self, residuals: Tensor) -> Tensor:
        """Raw offset channels for residuals ``(N, ...)`` of a point forecast: the empirical
        ``(1 -/+ level) / 2`` quantiles of the residuals per position -> ``(..., 2)``."""
        lo = torch.quantile(residuals, self.quantiles[0], dim=0).neg().clamp_min(1e-3)
        hi = torch.quantile(residuals, self.quantiles[2], dim=0).clamp_min(1e-3)
        return softplus_inverse(torch.stack([lo, hi], dim=-1))


HEADS = {"gaussian": GaussianHead, "quantile": QuantileHead}
