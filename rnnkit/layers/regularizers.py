"""Recurrent regularisers that work with every cell: variational dropout, weight drop, zoneout.

A :class:`~rnnkit.layers.Recurrent` layer takes them as keyword arguments (all 0 by default, so a
layer is torch.nn's unless asked):

* ``input_dropout=p`` -- variational dropout on each layer's input (Gal & Ghahramani 2016, "A
  Theoretically Grounded Application of Dropout in Recurrent Neural Networks",
  https://arxiv.org/abs/1512.05287): one mask ``m_x ~ Bernoulli(1-p)/(1-p)`` of shape ``(B, I_k)``
  per sequence, layer and direction, the same at every time step: ``x_t -> m_x * x_t``.
* ``recurrent_dropout=p`` -- Gal's mask on the recurrent input: ``h_{t-1} -> m_h * h_{t-1}`` (the
  first state tensor, ``h``; an LSTM's ``c`` is left alone), one ``(B, H)`` mask per sequence.
  For an LSTM, Elman RNN or IndRNN ``h_{t-1}`` feeds only the recurrent product, so this is Gal's
  scheme exactly; for a GRU (or minGRU, layer-norm GRU) ``h_{t-1}`` is also the carried value in
  ``(1 - z) * n + z * h_{t-1}``, which the mask then scales too (Gal's GRU masks only the products:
  a departure, which the cell contract -- ``recur(x, h, w)`` -- makes the general rule).
* ``weight_drop=p`` -- DropConnect on the recurrent matrices (Merity, Keskar & Socher 2017, "Regularizing
  and Optimizing LSTM Language Models", https://arxiv.org/abs/1708.02182, AWD-LSTM): each forward
  uses ``W_hh * M / (1-p)`` with one ``M ~ Bernoulli(1-p)`` per forward. It changes only the weights
  handed to the engine (the weight plan), not the recurrence, so the stock cells still run on the
  fused oneDNN/cuDNN kernel. A cell's recurrent weights are those named in its
  ``recurrent_weight_names`` attribute, by default ``weight_hh``.
* ``zoneout=p`` -- zoneout (Krueger et al. 2016, "Zoneout: Regularizing RNNs by Randomly Preserving
  Hidden Activations", https://arxiv.org/abs/1606.01305): each unit of each state tensor keeps its
  previous value with probability ``p``: ``s_t = d_t * s_{t-1} + (1 - d_t) * s~_t``, ``d_t ~
  Bernoulli(p)`` per step and unit (the paper's), and the step's output is the zoned ``h`` (the first
  state tensor). In evaluation the expectation, ``s_t = p * s_{t-1} + (1-p) * s~_t``, as the paper.

Masks are drawn once per forward (per sequence, per TBPTT window) -- zoneout's ``T`` masks in one
draw -- from torch's default generator on the input's device, which the Trainer's checkpoints save,
so an exact resume draws the same masks. Evaluation mode is deterministic: dropout masks are off,
zoneout uses its expectation, weight drop is off.

While ``input_dropout``, ``recurrent_dropout`` (training) or ``zoneout`` (always) is active the
layer runs the one time loop with the cells wrapped by :class:`MaskedStep` -- with ``engine="auto"``,
through the fast engine's direction (:func:`~rnnkit.layers.engines.fast.run_fast_direction`: one
weight-gradient GEMM per sequence) where every cell qualifies (:func:`masked_direction`); an engine
able to serve them can build the same wrapped cells with :func:`masked_grid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import InvalidValueError, choice, in_range
from ..cells.base import RecurrentCell, State, Weights

KINDS = ("input_dropout", "recurrent_dropout", "weight_drop", "zoneout")


@dataclass(frozen=True)
class Regularizers:
    """A layer's recurrent regularisers, each a probability in [0, 1)."""

    input_dropout: float = 0.0  # Gal's variational dropout on each layer's input, one mask per sequence
    recurrent_dropout: float = 0.0  # Gal's variational dropout on h_{t-1}, one mask per sequence
    weight_drop: float = 0.0  # DropConnect on the recurrent matrices, one mask per forward
    zoneout: float = 0.0  # keep each state unit's previous value with this probability

    def __post_init__(self) -> None:
        for name in KINDS:
            object.__setattr__(self, name, in_range(name, getattr(self, name), 0.0, 1.0, high_open=True))

    def masks_steps(self, training: bool) -> bool:
        """Whether a forward must run the masked time loop (not a fused kernel)."""
        return bool(self.zoneout or (training and (self.input_dropout or self.recurrent_dropout)))

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in KINDS)

    def describe(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)}" for name in KINDS if getattr(self, name))


def recurrent_weight_names(cell: RecurrentCell) -> Tuple[str, ...]:
    """The fields of the cell's weights that weight drop masks: ``cell.recurrent_weight_names`` if
    the cell says, else ``("weight_hh",)`` when it has that weight, else none."""
    declared = getattr(type(cell), "recurrent_weight_names", None)
    if declared is not None:
        return tuple(declared)
    return ("weight_hh",) if "weight_hh" in cell.weight_names else ()


def check_weight_drop(cells: Sequence[RecurrentCell]) -> None:
    """Refuse weight drop for a cell without recurrent weights (minGRU, minLSTM), naming it."""
    for cell in cells:
        if not recurrent_weight_names(cell):
            raise InvalidValueError(
                f"weight_drop needs a cell with recurrent weights (weight_hh); {type(cell).__name__} has none "
                f"(its gates read only the input): use recurrent_dropout or zoneout instead"
            )


def drop_weights(cells, plan, p: float):
    """The weight plan with every recurrent weight DropConnect-ed: ``W * M / (1-p)``, ``M`` drawn now."""
    out = []
    for row, row_w in zip(cells, plan, strict=True):
        new_row = []
        for cell, w in zip(row, row_w, strict=True):
            names = recurrent_weight_names(cell)
            new_row.append(w._replace(**{n: F.dropout(getattr(w, n), p, training=True) for n in names}))
        out.append(tuple(new_row))
    return tuple(out)


def check_regularizers(cell: str, **probabilities: float) -> Regularizers:
    """Check regulariser ``probabilities`` (names of :class:`Regularizers`) for the cell named ``cell``
    (a :data:`~rnnkit.layers.CELL_NAMES` entry) before anything is built: each in [0, 1), and no
    weight drop for a cell without recurrent weights. Raises errors naming the value."""
    from .stock import CELL_TYPES  # the registry sits above this module

    choice("cell", cell, list(CELL_TYPES))
    regs = Regularizers(**probabilities)
    if regs.weight_drop:
        check_weight_drop([CELL_TYPES[cell](1, 1, device="meta")])  # meta: no memory, no random draws
    return regs


def _variational_mask(like: Tensor, shape, p: float) -> Tensor:
    keep = 1.0 - p
    return torch.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(keep).div_(keep)


class MaskedStep:
    """A cell's step with its regularisers' masks for one forward (the cell contract, duck-typed).

    ``project_input`` masks the input (``input_mask`` ``(B, I)``, broadcast over time), ``recur``
    masks ``h_{t-1}`` (``state_mask`` ``(B, S_0)``) and zones the new state out (``zoneout_masks``:
    one tuple of ``(B, S_i)`` keep-masks per step, or the rate ``p`` in evaluation).
    """

    def __init__(
        self,
        cell: RecurrentCell,
        input_mask: Optional[Tensor],
        state_mask: Optional[Tensor],
        zoneout_masks: Optional[Sequence[Tuple[Tensor, ...]]],
        zoneout_rate: float,
    ) -> None:
        self.cell = cell
        self.state_is_tuple = cell.state_is_tuple
        self.input_mask = input_mask
        self.state_mask = state_mask
        self.zoneout_masks = zoneout_masks
        self.zoneout_rate = zoneout_rate
        self._t = 0

    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., B, I) -> (..., B, G)
        return self.cell.project_input(x if self.input_mask is None else x * self.input_mask, w)

    def step(self, x: Tensor, state: State, w: Weights) -> Tuple[Tensor, State]:
        return self.recur(self.project_input(x, w), state, w)

    def recur(self, projected_x: Tensor, state: State, w: Weights) -> Tuple[Tensor, State]:
        prev = state
        if self.state_mask is not None:
            if isinstance(state, tuple):
                state = (state[0] * self.state_mask, *state[1:])
            else:
                state = state * self.state_mask
        h, new = self.cell.recur(projected_x, state, w)
        if not self.zoneout_rate:
            return h, new
        t, self._t = self._t, self._t + 1
        olds = prev if isinstance(prev, tuple) else (prev,)
        news = new if isinstance(new, tuple) else (new,)
        if self.zoneout_masks is None:  # evaluation: the expectation
            p = self.zoneout_rate
            zoned = tuple(n + p * (o - n) for o, n in zip(olds, news, strict=True))
        else:
            zoned = tuple(torch.where(d, o, n) for d, o, n in zip(self.zoneout_masks[t], olds, news, strict=True))
        return zoned[0], (zoned if isinstance(new, tuple) else zoned[0])


def masked_direction(layer, weights, x: Tensor):
    """The ``direction`` for :func:`~rnnkit.layers.engines.loop.run_stack` that runs the masked cells:
    the fast engine's where the layer's engine is ``"auto"`` and every cell's ``recur`` uses
    ``weight_hh`` once as ``F.linear``'s weight (its probe), else None (the plain time loop)."""
    from .engines.fast import probe, run_fast_direction

    if layer.engine != "auto" or torch.is_autocast_enabled(x.device.type):
        return None
    for row, row_w in zip(layer.cell_grid(), weights, strict=True):
        for cell, w in zip(row, row_w, strict=True):
            if getattr(w, "weight_hh", None) is None or probe(cell, w, x.dtype, x.device) is not None:
                return None
    return run_fast_direction


def masked_grid(layer, x: Tensor) -> Tuple[Tuple[MaskedStep, ...], ...]:
    """The layer's cells wrapped with this forward's masks (drawn now) for time-major ``x`` (T, B, I)."""
    reg: Regularizers = layer.regularizers
    training = layer.training
    steps, batch = x.shape[0], x.shape[1]
    grid = []
    layer_input = layer.input_size
    for row in layer.cell_grid():
        wrapped = []
        for cell in row:
            input_mask = state_mask = zone = None
            if training and reg.input_dropout:
                input_mask = _variational_mask(x, (batch, layer_input), reg.input_dropout)
            if training and reg.recurrent_dropout:
                state_mask = _variational_mask(x, (batch, cell.state_sizes[0]), reg.recurrent_dropout)
            if training and reg.zoneout:
                draws = [
                    torch.rand(steps, batch, s, device=x.device).lt(reg.zoneout).unbind(0) for s in cell.state_sizes
                ]
                zone = list(zip(*draws, strict=True))  # [t] -> (d_0, d_1...): True keeps the old value
            wrapped.append(MaskedStep(cell, input_mask, state_mask, zone, reg.zoneout))
        grid.append(tuple(wrapped))
        layer_input = row[0].output_size * len(row)
    return tuple(grid)
