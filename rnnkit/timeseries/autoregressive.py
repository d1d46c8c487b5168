"""The autoregressive strategy: one step at a time, the hidden state carried through the rollout.

Each step reads the value at ``t`` (and the known-future covariates of ``t + 1``) and predicts
``t + 1``; in a forecast every prediction is fed back as the next input::

    h_t = RNN([zn_t ; f_{t+1} ; level], h_{t-1}),   raw_{t+1} = W_out h_t + b_out      # (B, C, K)

Training uses teacher forcing with scheduled sampling (Bengio et al. 2015,
https://arxiv.org/abs/1506.03099): past the input window, each sample is fed the true value with
probability ``p`` and its own point forecast otherwise, ``p`` decaying linearly from 1 to
``teacher_forcing_min`` over ``teacher_forcing_epochs`` epochs (:func:`teacher_forcing_schedule`,
a :class:`~rnnkit.models.scheduled_sampling.SamplingSchedule` the Trainer steps by epoch). Past
covariates are unknown beyond the present, so this strategy refuses a series that has them.
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

from .._checks import InvalidValueError
from ..models.scheduled_sampling import SamplingSchedule
from .config import NetworkConfig
from .network import ForecastNet


def teacher_forcing_schedule(epochs: int, final: float) -> SamplingSchedule:
    """Linear decay of the teacher-forcing probability over epochs: 1 at epoch 0, ``final`` from
    epoch ``epochs - 1`` on (``eps_i = max(final, 1 - c i)``, ``c = (1 - final) / (epochs - 1)``)."""
    if epochs <= 1:
        return SamplingSchedule("constant", ratio=final)
    if final >= 1:
        return SamplingSchedule("constant", ratio=1.0)
    return SamplingSchedule("linear", k=1.0, c=(1.0 - final) / (epochs - 1), eps_min=final)


def teacher_forcing_probability(epoch: int, epochs: int, final: float) -> float:
    """The probability of feeding the true value at ``epoch`` (see :func:`teacher_forcing_schedule`)."""
    return teacher_forcing_schedule(epochs, final)(epoch)


class AutoregressiveNet(ForecastNet):
    strategy = "autoregressive"
    uses_teacher_forcing = True  # trained on its own predictions too (scheduled sampling)

    def __init__(self, cfg: NetworkConfig, input_length: int, n_targets: int, n_past: int, n_future: int) -> None:
        super().__init__(cfg, input_length, n_targets, n_past, n_future)
        self.out = nn.Linear(cfg.hidden_size, n_targets * self.K)
        self.highway = None

    @classmethod
    def check_series(cls, frame) -> None:
        if frame.past_covariates is not None:
            raise InvalidValueError(
                "past covariates are unknown beyond the present, so the autoregressive strategy "
                f"cannot roll out with them (got {list(frame.past_names)}); use strategy='direct'"
            )

    def forward(self, z: Tensor, fut_next: Tensor, level: Tensor, state=None):
        """z (B, T, C) values at t, fut_next (B, T, F) covariates at t+1, level (B, 2C)
        -> raw (B, T, C, K) for the values at t+1, and the carried state."""
        B, T, _ = z.shape
        x = torch.cat([z, fut_next, level[:, None, :].expand(B, T, -1)], dim=-1)
        out, state = self.rnn(x, state)  # (B, T, hidden)
        return self.out(out).view(B, T, self.C, self.K), state

    def outputs(self, w: Tensor, teacher=None) -> Tuple[Tensor, Tensor]:
        """Windows (B, L+H, C+P+F) -> raw (B, L+H-1, C, K) predicting steps 1..L+H-1, and those
        normalised values. ``teacher``: a :class:`~rnnkit.models.scheduled_sampling.TeacherForcing`
        (its ``ratio`` and generator decide what is fed past the input window), or None to feed
        the model's own forecasts (free running, as in a forecast)."""
        zn, _, fut, level = self.split(w)
        L = self.L
        if teacher is not None and teacher.ratio >= 1.0:  # teacher forcing throughout: one fused pass
            raw, _ = self(zn[:, :-1], fut[:, 1:], level)
            return raw, zn[:, 1:]
        raw_enc, state = self(zn[:, :L], fut[:, 1 : L + 1], level)  # the input window: always the truth
        raws, prev = [raw_enc], self.head.point(raw_enc[:, -1])
        for t in range(L, w.shape[1] - 1):
            x = prev.detach() if teacher is None else teacher.mix(zn[:, t], prev)  # (B, C)
            raw_t, state = self(x[:, None], fut[:, t + 1 : t + 2], level, state)
            raws.append(raw_t)
            prev = self.head.point(raw_t[:, 0])
        return torch.cat(raws, dim=1), zn[:, 1:]

    @torch.no_grad()
    def forecast(self, z_in: Tensor, past_in: Tensor, fut_in: Tensor, fut_out: Tensor, horizon: int):
        """Point, lower, upper (B, horizon, C) in the scaler's units, one step at a time."""
        L = self.L
        points, lows, highs = [], [], []
        loc, scale, level = self.normalise(z_in)
        fut_all = torch.cat([fut_in, fut_out], dim=1)  # (B, L+horizon, F)
        raw, state = self((z_in - loc) / scale, fut_all[:, 1 : L + 1], level)
        raw = raw[:, -1:]
        for t in range(horizon):
            lo, hi = self.head.interval(raw)
            point = self.head.point(raw)  # (B, 1, C)
            points.append(point * scale + loc)
            lows.append(lo * scale + loc)
            highs.append(hi * scale + loc)
            if t + 1 < horizon:
                raw, state = self(point, fut_all[:, L + t + 1 : L + t + 2], level, state)
        return torch.cat(points, 1), torch.cat(lows, 1), torch.cat(highs, 1)
