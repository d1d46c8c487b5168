"""The cell contract: one step of one recurrence, with its weights passed in.

A cell computes ``(h_t, state_t) = cell(x_t, state_{t-1})``. It knows nothing about time loops,
directions, layers or engines; :mod:`rnnkit.layers` runs cells over time.

**Weights are explicit.** A cell declares its weights as ordinary parameters (``nn.Parameter``
attributes, also inside nested modules, or ``register_parameter(name, None)`` for an absent one),
and its step methods receive them as an argument ``w`` instead of reading ``self``: ``w`` is a
named tuple of the cell's weights in registration order (:attr:`RecurrentCell.weight_names`;
a nested ``norm.weight`` is ``w.norm_weight``). Whoever runs the cell reads the weights once and
hands them over: a standalone cell its own parameters, a :class:`rnnkit.layers.Recurrent` layer
(which owns its cells' parameters under torch.nn's names) its weight plan. So the step is a pure
function of ``(x, state, w)`` and an engine never needs to know where weights live.

The step comes in two halves so a layer can hoist the input half out of the time loop:

* :meth:`RecurrentCell.project_input` ``(x, w)`` -- the part that depends on ``x_t`` only
  (``W_ih x_t + b_ih``). It accepts any number of leading dimensions, so a layer projects all time
  steps in one matmul.
* :meth:`RecurrentCell.recur` ``(projected_x, state, w)`` -- the part that needs the previous state.

and :meth:`RecurrentCell.step` ``(x, state, w)``, one whole step, is ``recur(project_input(x, w),
state, w)``; a cell may override it with a fused kernel (the stock cells use torch's cell kernels,
which is what a single streaming step runs). ``forward(x_t, state)`` checks its arguments, reads
:meth:`RecurrentCell.weights` and calls ``step``.

State is a tensor ``(B, S)`` or, for cells with several state tensors (LSTM: ``(h, c)``), a tuple
of them; :attr:`RecurrentCell.state_sizes` gives ``S`` for each.

Two optional protocols:

* ``gates(projected_x, state, w) -> Dict[str, Tensor]`` -- a gated cell's gate activations at one
  step, by name (:meth:`RecurrentCell.gates`; diagnostics record them).
* ``scan_coefficients(projected_x, w) -> (a, b)`` -- a cell whose recurrence is linear,
  ``h_t = a_t * h_{t-1} + b_t`` with ``a, b`` ``(..., H)`` functions of the input alone (minGRU,
  minLSTM), says so by defining it for ``projected_x`` ``(..., G)`` with any leading dimensions; its
  state is the single tensor ``h`` and its ``recur`` must equal ``a * h_prev + b``. The scan engine
  runs any such cell as a scan instead of a time loop.
"""

from __future__ import annotations

import math
from collections import namedtuple
from functools import lru_cache
from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize, prune

from .._checks import (
    InvalidTypeError,
    InvalidValueError,
    describe,
    floating_dtype,
    positive_int,
    torch_device,
)

State = Union[Tensor, Tuple[Tensor, ...]]
Weights = NamedTuple  # a cell's weights, one field per declared parameter (None where absent)


def factory_kwargs(device, dtype) -> dict:
    """``{"device": ..., "dtype": ...}`` for a cell's parameters, checked (as torch.nn's
    ``factory_kwargs``): ``device`` None, a ``torch.device``, a string or an index of a device this
    machine has; ``dtype`` None or a floating-point ``torch.dtype``."""
    return {"device": torch_device("device", device), "dtype": floating_dtype("dtype", dtype)}


@lru_cache(maxsize=None)
def weights_type(fields: Tuple[str, ...]):
    """The named-tuple class for a cell's weights with these field names (one class per tuple)."""
    return namedtuple("Weights", fields)


class RecurrentCell(nn.Module):
    """Base class of every cell. Subclasses set the sizes and implement ``project_input``/``recur``."""

    input_size: int
    hidden_size: int

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)

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
    def project_input(self, x: Tensor, w: Weights) -> Tensor:  # (..., I) -> (..., G)
        raise NotImplementedError("abstract: a cell subclass defines project_input(x, w)")

    def recur(self, projected_x: Tensor, state: State, w: Weights) -> Tuple[Tensor, State]:
        raise NotImplementedError("abstract: a cell subclass defines recur(projected_x, state, w)")

    def step(self, x: Tensor, state: State, w: Weights) -> Tuple[Tensor, State]:
        """One whole step from ``x_t`` ``(B, I)``: ``recur(project_input(x, w), state, w)``."""
        return self.recur(self.project_input(x, w), state, w)

    def gates(self, projected_x: Tensor, state: State, w: Weights) -> Dict[str, Tensor]:
        """The cell's gate activations at one step, by name, each ``(B, H)``, from the same
        arguments as :meth:`recur` (for diagnostics: what the gates do). A gated cell overrides
        this (LSTM: ``input``, ``forget``, ``cell``, ``output``); a cell without gates raises."""
        raise InvalidValueError(f"{type(self).__name__} has no gates to record")

    # ---- weights -----------------------------------------------------------------------------
    def declare_rnn_weights(self, rows: int, recurrent_size: int, bias: bool, kw: dict) -> None:
        """Declare torch.nn's recurrent weights, in its order: ``weight_ih (rows, I)``,
        ``weight_hh (rows, recurrent_size)``, ``bias_ih`` and ``bias_hh`` ``(rows,)`` (or None
        without bias). ``rows`` is gates x H; values are left to :meth:`reset_parameters`."""
        self.weight_ih = nn.Parameter(torch.empty(rows, self.input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(rows, recurrent_size, **kw))
        for name in ("bias_ih", "bias_hh"):
            self.register_parameter(name, nn.Parameter(torch.empty(rows, **kw)) if bias else None)

    @property
    def weight_names(self) -> Tuple[str, ...]:
        """The fields of ``w``: the cell's parameters in registration order, dots as underscores.

        Fixed at the cell's first use (a layer fixes it when it takes the cell), so parametrizing
        or pruning a weight later does not change it.
        """
        return self._weight_slots()[0]

    def weights(self) -> Weights:
        """The weights ``w`` the step takes, read now through attribute access.

        A standalone cell reads its own parameters; a cell inside a :class:`rnnkit.layers.Recurrent`
        reads the layer's (``weight_ih_l0``...). Either way a parametrization or pruning mask on the
        attribute applies, and a plain parameter is handed over as itself, not copied.
        """
        fields, slots = self._weight_slots()
        held = self.__dict__.get("_held_by")
        if held is not None:
            layer, names = held
            return layer.read_weights(fields, names)
        return weights_type(fields)(
            *[getattr(self.get_submodule(path) if path else self, leaf) for path, leaf in slots]
        )

    def _weight_slots(self) -> Tuple[Tuple[str, ...], Tuple[Tuple[str, str], ...]]:
        """(field names, (module path, attribute) of each), computed once and kept."""
        found = self.__dict__.get("_weight_slots_found")
        if found is None:
            found = _find_weights(self)
            self.__dict__["_weight_slots_found"] = found
        return found

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            # A cell inside a layer holds no parameters: ``cell.weight_hh`` reads the layer's.
            held = self.__dict__.get("_held_by")
            if held is not None:
                fields = self._weight_slots()[0]
                if name in fields:
                    layer, names = held
                    layer_name = names[fields.index(name)]
                    return None if layer_name is None else getattr(layer, layer_name)
            raise

    # ---- state and the checked single step -----------------------------------------------------
    def init_state(
        self, batch_size: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """Zero state for ``batch_size`` sequences, on the weights' device and dtype by default."""
        batch_size = positive_int("batch_size", batch_size)
        device, dtype = torch_device("device", device), floating_dtype("dtype", dtype)
        ref = next((t for t in self.weights() if t is not None), None)
        if ref is None:
            ref = next(self.buffers(), None)
        device = device if device is not None else (ref.device if ref is not None else None)
        dtype = dtype if dtype is not None else (ref.dtype if ref is not None else None)
        zeros = tuple(torch.zeros(batch_size, s, device=device, dtype=dtype) for s in self.state_sizes)
        return zeros if self.state_is_tuple else zeros[0]

    def forward(self, x: Tensor, state: Optional[State] = None) -> Tuple[Tensor, State]:
        """One step. ``x``: ``(B, I)`` or unbatched ``(I,)``; ``state`` as :meth:`init_state` gives."""
        if not isinstance(x, Tensor):
            raise InvalidTypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise InvalidTypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        if x.dim() not in (1, 2):
            raise InvalidValueError(
                f"x must have 2 dims (batch, input_size) or 1 dim (input_size,), "
                f"got {x.dim()} dims with shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise InvalidValueError(
                f"x must have input_size={self.input_size} features in its last dim, got shape {tuple(x.shape)}"
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
        h, new_state = self.step(x, state, self.weights())
        if unbatched:
            h = h.squeeze(0)
            new_state = _map_state(new_state, lambda s: s.squeeze(0))
        return h, new_state

    def _check_state(self, state: State, batch: int) -> None:
        parts = state if isinstance(state, tuple) else (state,)
        if isinstance(state, tuple) != self.state_is_tuple or len(parts) != len(self.state_sizes):
            kind = f"a tuple of {len(self.state_sizes)} tensors" if self.state_is_tuple else "a tensor"
            raise InvalidValueError(f"state must be {kind} for {type(self).__name__}, got {describe(state)}")
        for i, (s, size) in enumerate(zip(parts, self.state_sizes, strict=True)):
            if not isinstance(s, Tensor) or tuple(s.shape) != (batch, size):
                label = f"state[{i}]" if self.state_is_tuple else "state"
                raise InvalidValueError(f"{label} must have shape {(batch, size)}, got {describe(s)}")

    # ---- initialisation ----------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """torch.nn's initialisation: every weight uniform in ``(-1/sqrt(H), 1/sqrt(H))``.

        Inside a layer it initialises the layer's parameters (a parametrized or pruned weight,
        computed from others, is left alone).
        """
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.weights():
            if isinstance(p, nn.Parameter):
                nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


def _find_weights(cell: nn.Module) -> Tuple[Tuple[str, ...], Tuple[Tuple[str, str], ...]]:
    """The cell's declared weights: parameters (and ``None`` registrations) in registration order."""
    fields, slots = [], []
    for path, module in cell.named_modules():
        pruned = any(isinstance(h, prune.BasePruningMethod) for h in module._forward_pre_hooks.values())
        if parametrize.is_parametrized(module) or pruned:
            raise InvalidValueError(
                f"{type(cell).__name__} has a parametrized or pruned weight in {path or 'itself'} before its "
                f"first use; parametrize or prune the layer's attribute (e.g. weight_hh_l0), or the cell "
                f"after it has run once"
            )
        for leaf in module._parameters:
            fields.append(f"{path}.{leaf}".replace(".", "_") if path else leaf)
            slots.append((path, leaf))
    bad = [f for f in fields if f.startswith("_")]
    if bad or len(set(fields)) != len(fields):
        raise InvalidValueError(
            f"{type(cell).__name__}'s parameter names must be distinct after dots become underscores "
            f"and must not start with '_', got {fields}"
        )
    return tuple(fields), tuple(slots)


def _map_state(state: State, fn) -> State:
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)
