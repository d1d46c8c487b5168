"""The cell contract: one step of one recurrence.

A cell computes ``(h_t, state_t) = cell(x_t, state_{t-1})``. It knows nothing about time loops,
directions, layers or engines; :mod:`rnnkit.layers` runs cells over time.

The step is split in two so a layer can hoist the input half out of the time loop:

* :meth:`RecurrentCell.project_input` -- the part that depends on ``x_t`` only (``W_ih x_t + b_ih``).
  It accepts any number of leading dimensions, so a layer projects all time steps in one matmul.
* :meth:`RecurrentCell.recur` -- the part that depends on the previous state, given the projection.

``forward(x_t, state)`` is ``recur(project_input(x_t), state)`` with argument checks.

State is a tensor ``(B, S)`` or, for cells with several state tensors (LSTM: ``(h, c)``), a tuple
of them; :attr:`RecurrentCell.state_sizes` gives ``S`` for each.
"""

from __future__ import annotations

import math
from typing import Tuple, Union

import torch
from torch import Tensor, nn

State = Union[Tensor, Tuple[Tensor, ...]]


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1, else raise naming the value."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


class RecurrentCell(nn.Module):
    """Base class of every cell. Subclasses set the sizes and implement ``project_input``/``recur``."""

    input_size: int
    hidden_size: int

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def output_size(self) -> int:
        """Size of ``h_t``, the tensor passed to the next layer."""
        return self.hidden_size

    @property
    def state_sizes(self) -> Tuple[int, ...]:
        """Feature size of each state tensor, in order."""
        return (self.hidden_size,)

    @property
    def state_is_tuple(self) -> bool:
        """True when the state is a tuple of tensors (e.g. LSTM's ``(h, c)``)."""
        return len(self.state_sizes) > 1

    # ---- the step ----------------------------------------------------------------------------
    def project_input(self, x: Tensor) -> Tensor:  # (..., I) -> (..., G)
        raise NotImplementedError("abstract: a cell subclass defines project_input")

    def recur(self, projected_x: Tensor, state: State) -> Tuple[Tensor, State]:
        raise NotImplementedError("abstract: a cell subclass defines recur")

    def init_state(
        self, batch_size: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """Zero state for ``batch_size`` sequences, on the parameters' device and dtype by default."""
        ref = next(self.parameters(), None)
        device = device if device is not None else (ref.device if ref is not None else None)
        dtype = dtype if dtype is not None else (ref.dtype if ref is not None else None)
        zeros = tuple(torch.zeros(batch_size, s, device=device, dtype=dtype) for s in self.state_sizes)
        return zeros if self.state_is_tuple else zeros[0]

    def forward(self, x: Tensor, state: State | None = None) -> Tuple[Tensor, State]:
        """One step. ``x``: ``(B, I)`` or unbatched ``(I,)``; ``state`` as :meth:`init_state` gives."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        if x.dim() not in (1, 2):
            raise ValueError(
                f"x must have 2 dims (batch, input_size) or 1 dim (input_size,), "
                f"got {x.dim()} dims with shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have input_size={self.input_size} features in its last dim, "
                f"got shape {tuple(x.shape)}"
            )
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            if state is not None:
                state = _map_state(state, lambda s: s.unsqueeze(0))
        batch = x.shape[0]
        if state is None:
            state = self.init_state(batch, device=x.device, dtype=x.dtype)
        else:
            self._check_state(state, batch)
        h, new_state = self.recur(self.project_input(x), state)
        if unbatched:
            h = h.squeeze(0)
            new_state = _map_state(new_state, lambda s: s.squeeze(0))
        return h, new_state

    def _check_state(self, state: State, batch: int) -> None:
        parts = state if isinstance(state, tuple) else (state,)
        if isinstance(state, tuple) != self.state_is_tuple or len(parts) != len(self.state_sizes):
            kind = f"a tuple of {len(self.state_sizes)} tensors" if self.state_is_tuple else "a tensor"
            raise ValueError(f"state must be {kind} for {type(self).__name__}, got {_describe(state)}")
        for i, (s, size) in enumerate(zip(parts, self.state_sizes)):
            if not isinstance(s, Tensor) or tuple(s.shape) != (batch, size):
                raise ValueError(
                    f"state[{i}] must have shape {(batch, size)}, got {_describe(s)}"
                    if self.state_is_tuple
                    else f"state must have shape {(batch, size)}, got {_describe(s)}"
                )

    # ---- initialisation ----------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """torch.nn's initialisation: every parameter uniform in ``(-1/sqrt(H), 1/sqrt(H))``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in _parameters_held(self):
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


def _parameters_held(cell: nn.Module):
    """The cell's parameters, also those a layer has taken over.

    A :class:`rnnkit.layers.Recurrent` layer registers its cells' parameters on itself (torch.nn's
    names) and leaves each cell a plain attribute pointing at the same tensor; those count too.
    """
    seen = set()
    for module in cell.modules():
        for value in (*module._parameters.values(), *vars(module).values()):
            if isinstance(value, nn.Parameter) and id(value) not in seen:
                seen.add(id(value))
                yield value


def _map_state(state: State, fn) -> State:
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, tuple):
        return "a tuple of (" + ", ".join(_describe(v) for v in value) + ")"
    return f"{type(value).__name__} {value!r}"
