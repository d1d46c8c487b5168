"""``Recurrent``: run any cell over time -- stacked, bidirectional, ragged, with dropout and state.

Shapes (torch.nn's letters): N batch, L sequence length, D = 2 if bidirectional else 1,
H_in input features, H_out the cell's output size.

* input ``(L, N, H_in)``, or ``(N, L, H_in)`` with ``batch_first=True``, or unbatched ``(L, H_in)``,
  or a ``PackedSequence``;
* state: a tensor ``(num_layers * D, N, S)`` (RNN, GRU) or a tuple of them (LSTM: ``(h, c)``);
* output ``(L, N, D * H_out)`` in the input's layout (a PackedSequence for a packed input).

The cells are submodules, ``cell_l{k}`` and ``cell_l{k}_reverse``: their buffers are in the state
dict, ``.to()``/``.double()`` move them, ``modules()``/``apply()``/``train()`` reach them. Their
*parameters* belong to the layer instead, registered once, at construction, as ``{name}_l{k}`` and
``{name}_l{k}_reverse`` (dots in a nested name become underscores). For the stock cells that is
exactly torch.nn's naming (``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``), so state
dicts interchange with ``torch.nn.RNN/LSTM/GRU`` in both directions, and torch.nn's tools that act
on a named parameter (``parametrizations.weight_norm``, ``parametrize.register_parametrization``,
``prune``) work as on torch.nn's layers.

Weights are handed to engines explicitly. Each forward reads every weight once through attribute
access (``weight_hh_l0``, so a parametrization or pruning mask applies; a plain parameter is the
parameter itself, never a copy) into a weight plan, ``plan[k][d]`` the named tuple of the cell's
weights (:meth:`Recurrent.weight_plan`), and the engine runs the cells' steps with it. A cell
called by hand (``layer.cell_l0(x_t, state)``) reads the layer's weights the same way.

A step hook (:meth:`Recurrent.register_step_hook`) sees every step of every layer and direction
from inside the one time loop (:mod:`rnnkit.layers.engines.loop`).
"""

from __future__ import annotations

import inspect
import warnings
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence
from torch.utils.hooks import RemovableHandle

from .._checks import (
    InvalidTypeError,
    InvalidValueError,
    boolean,
    describe,
    floating_dtype,
    in_range,
    positive_int,
    torch_device,
)
from ..cells.base import RecurrentCell, State, Weights, weights_type
from .engines import StepHook, WeightPlan, check_engine_name, flatten_for_cudnn, run_stack, select_engine
from .regularizers import Regularizers, check_weight_drop, drop_weights, masked_direction, masked_grid
from .sequences import LengthsLike, SequenceBatch, check_lengths, repack_like

CellFactory = Callable[[int, int], RecurrentCell]


def check_cell_factory(cell_factory: object) -> None:
    """Refuse a ``cell_factory`` that cannot be called as ``cell_factory(input_size, hidden_size)``,
    naming it (a factory that can be called but returns no cell is refused when it is called)."""
    if not callable(cell_factory):
        raise InvalidTypeError(
            "cell_factory (the first argument) must be a cell class or a factory called as "
            "cell_factory(input_size, hidden_size) that returns a rnnkit.cells.RecurrentCell, "
            f"such as rnnkit.cells.LSTMCell, got {describe(cell_factory)}"
        )
    try:
        signature = inspect.signature(cell_factory)
    except (TypeError, ValueError):  # a builtin without a signature: its call will tell
        return
    try:
        signature.bind(1, 1)
    except TypeError as err:
        name = getattr(cell_factory, "__qualname__", None) or describe(cell_factory)
        raise InvalidTypeError(
            f"cell_factory {name} cannot be called as cell_factory(input_size, hidden_size): {err}; "
            f"use functools.partial for further cell options"
        ) from None


class Recurrent(nn.Module):
    """Run cells made by ``cell_factory(input_size, hidden_size)`` over time.

    Args:
        cell_factory: called as ``cell_factory(layer_input_size, hidden_size)`` once per layer and
            direction; must return a :class:`rnnkit.cells.RecurrentCell`. Use
            ``functools.partial`` for further cell options.
        input_size: features of the input (H_in).
        hidden_size: passed to the factory (H).
        num_layers: stacked layers; layer k > 0 reads layer k-1's output.
        batch_first: input and output are ``(N, L, F)`` instead of ``(L, N, F)`` (default False,
            as torch.nn, so our layers drop in for theirs).
        dropout: dropout on the output of every layer but the last, in training mode.
        bidirectional: add a reverse direction per layer; outputs are concatenated [forward, reverse].
        engine: ``"auto"`` (fused torch.nn kernels where they serve, else the loop), ``"fused"``
            (raises if it cannot serve) or ``"loop"``; see :mod:`rnnkit.layers.engines`.
        input_dropout, recurrent_dropout, weight_drop, zoneout: recurrent regularisers, each a
            probability in [0, 1), default 0 (see :mod:`rnnkit.layers.regularizers`): variational
            dropout on each layer's input and on ``h_{t-1}`` (one mask per sequence), DropConnect on
            the recurrent weights (the fused kernels still run), zoneout of the state.
    """

    def __init__(
        self,
        cell_factory: CellFactory,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        engine: str = "auto",
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__()
        check_cell_factory(cell_factory)
        self.regularizers = Regularizers(input_dropout, recurrent_dropout, weight_drop, zoneout)
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.num_layers = positive_int("num_layers", num_layers)
        self.dropout = in_range("dropout", dropout, 0, 1)
        if self.dropout > 0 and num_layers == 1:
            warnings.warn(
                f"dropout={dropout} has no effect with num_layers=1: it applies between stacked layers "
                f"(after every layer but the last)",
                stacklevel=2,
            )
        self.batch_first = boolean("batch_first", batch_first)
        self.bidirectional = boolean("bidirectional", bidirectional)
        self.engine = check_engine_name(engine)
        self._step_hooks: Dict[int, StepHook] = OrderedDict()

        directions = 2 if bidirectional else 1
        grid: List[Tuple[str, ...]] = []  # names of the cell submodules, [layer][direction]
        # per cell: (its weight fields, the layer attribute holding each, or None where absent)
        layout: List[Tuple[Tuple[Tuple[str, ...], Tuple[Optional[str], ...]], ...]] = []
        layer_input = input_size
        for k in range(num_layers):
            row, row_layout = [], []
            for d in range(directions):
                cell = cell_factory(layer_input, hidden_size)
                if not isinstance(cell, RecurrentCell):
                    raise InvalidTypeError(
                        f"cell_factory must return a rnnkit.cells.RecurrentCell, got {type(cell).__name__}"
                    )
                suffix = f"_l{k}" + ("_reverse" if d else "")
                row_layout.append(self._take_weights(cell, suffix))
                self.add_module("cell" + suffix, cell)
                row.append("cell" + suffix)
            grid.append(tuple(row))
            layout.append(tuple(row_layout))
            layer_input = self._modules[row[0]].output_size * directions
        self._cell_grid = tuple(tuple(self._modules[name] for name in row) for row in grid)
        self._weight_layout = tuple(layout)
        self.proj_size = getattr(self._modules[grid[0][0]], "proj_size", 0)
        if self.regularizers.weight_drop:
            check_weight_drop([c for row in self._cell_grid for c in row])

    def _take_weights(self, cell: RecurrentCell, suffix: str):
        """Move ``cell``'s parameters onto this layer as ``{field}{suffix}``, once, for good.

        The cell keeps a reference to the layer, so ``cell.weights()`` (and ``cell(x, state)``,
        ``cell.weight_hh``, ``cell.reset_parameters()``) reads the layer's weights.
        """
        if "_held_by" in cell.__dict__:
            raise InvalidValueError(
                f"cell_factory returned a {type(cell).__name__} that a layer already holds; "
                f"it must return a new cell at each call"
            )
        fields, slots = cell._weight_slots()
        names = []
        for field, (path, leaf) in zip(fields, slots, strict=True):
            module = cell.get_submodule(path) if path else cell
            param = module._parameters.pop(leaf)
            if param is None:  # declared absent (e.g. bias=False): always None in the plan
                names.append(None)
                continue
            self.register_parameter(field + suffix, param)
            names.append(field + suffix)
        cell.__dict__["_held_by"] = (self, tuple(names))
        return fields, tuple(names)

    # ---- cells and weights -------------------------------------------------------------------
    def cell_grid(self) -> Tuple[Tuple[RecurrentCell, ...], ...]:
        """The cells, ``[layer][direction]`` (the submodules ``cell_l{k}[_reverse]``).

        A cell computes with this layer's weights: ``layer.cell_grid()[k][d](x_t, state)`` is one
        step of layer k, direction d, as the layer runs it (see :meth:`weight_plan`).
        """
        return self._cell_grid

    def weight_plan(self) -> WeightPlan:
        """Every cell's weights, read now: ``plan[k][d]`` is the named tuple layer k, direction d
        steps with (fields in the cell's declared order, e.g. ``plan[0][0].weight_hh``).

        Each weight is read once through attribute access, so a parametrization (``weight_norm``)
        computes once per call and a pruning mask applies; a plain parameter is handed over as
        itself (no copy), and one swapped in by ``functional_call`` or ``load_state_dict(assign=True)``
        is the one read.
        """
        return tuple(tuple(self.read_weights(fields, names) for fields, names in row) for row in self._weight_layout)

    def read_weights(self, fields: Tuple[str, ...], names: Tuple[Optional[str], ...]) -> Weights:
        """One cell's weights: the layer attributes ``names`` as the named tuple with ``fields``."""
        params = self._parameters
        values = []
        for name in names:
            if name is None:
                values.append(None)
                continue
            value = params.get(name)  # a plain parameter: the dict, faster than nn.Module.__getattr__
            values.append(value if value is not None else getattr(self, name))  # parametrized, pruned
        return weights_type(fields)(*values)

    # ---- step hooks --------------------------------------------------------------------------
    def register_step_hook(self, hook: StepHook) -> RemovableHandle:
        """Call ``hook(t, layer_index, direction, h, state)`` at every step of every layer and direction.

        ``h`` is the step's output and ``state`` the cell's new state (before ragged-length masking:
        past a sequence's end they are computed but not used). ``t`` counts the steps a direction
        takes, so in the reverse direction ``t = 0`` is each sequence's last real element. The hook
        observes; it may also return ``(h, state)`` to replace the step's result. Hooks run in
        registration order, from inside the one time loop, so while any is registered this layer
        runs the loop engine, whatever ``engine`` says. Returns a handle: ``handle.remove()``.
        """
        if not callable(hook):
            raise InvalidTypeError(
                f"hook must be callable as hook(t, layer_index, direction, h, state), got {describe(hook)}"
            )
        handle = RemovableHandle(self._step_hooks)
        self._step_hooks[handle.id] = hook
        return handle

    def step_hooks(self) -> Tuple[StepHook, ...]:
        """The registered step hooks, in the order they run."""
        return tuple(self._step_hooks.values())

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features of the output: D * H_out."""
        return self._cell_grid[-1][0].output_size * self.num_directions

    # ---- state -------------------------------------------------------------------------------
    def init_state(self, batch_size: int, *, device=None, dtype=None) -> State:
        """Zero state: ``(num_layers * D, N, S)`` per state tensor (a tuple for LSTM).

        Device and dtype default to the parameters' (or, for a cell without parameters, its
        buffers'; else torch's defaults).
        """
        batch_size = positive_int("batch_size", batch_size)
        device, dtype = torch_device("device", device), floating_dtype("dtype", dtype)
        ref = next(self.parameters(), None)
        if ref is None:
            ref = next(self.buffers(), None)
        if ref is not None:
            device = device if device is not None else ref.device
            dtype = dtype if dtype is not None else ref.dtype
        cell = self._cell_grid[0][0]
        n = self.num_layers * self.num_directions
        zeros = tuple(torch.zeros(n, batch_size, s, device=device, dtype=dtype) for s in self._state_sizes())
        return zeros if cell.state_is_tuple else zeros[0]

    def _state_sizes(self) -> Tuple[int, ...]:
        return self._cell_grid[0][0].state_sizes

    # ---- forward -----------------------------------------------------------------------------
    def forward(
        self,
        input: Union[Tensor, PackedSequence],
        state: Optional[State] = None,
        lengths: Optional[LengthsLike] = None,
    ) -> Tuple[Union[Tensor, PackedSequence], State]:
        """Run the layer. Returns ``(output, state)``; see the module docstring for shapes.

        ``lengths`` (a list or an integer tensor on any device, one per sequence) marks padding:
        outputs past each length are zero, the final state is the state at each sequence's last
        real step, and the reverse direction starts at each sequence's last real element.
        """
        unbatched = False
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise InvalidValueError("lengths must be None for a PackedSequence input (it carries its lengths)")
            self._check_features(input.data, expected_dims="a PackedSequence")
            padded, lens = pad_packed_sequence(input, batch_first=self.batch_first)
            steps = padded.shape[1 if self.batch_first else 0]
            batch = SequenceBatch(padded, self.batch_first, check_lengths(lens, lens.numel(), steps), input)
            batch_size = lens.numel()
        else:
            if not isinstance(input, Tensor):
                raise InvalidTypeError(f"input must be a torch.Tensor or PackedSequence, got {type(input).__name__}")
            if input.dim() not in (2, 3):
                raise InvalidValueError(
                    f"input must have 3 dims ({'N, L' if self.batch_first else 'L, N'}, H_in) or 2 dims "
                    f"(L, H_in) when unbatched, got {input.dim()} dims with shape {tuple(input.shape)}"
                )
            self._check_features(input, expected_dims=None)
            unbatched = input.dim() == 2
            if unbatched:
                if lengths is not None:
                    raise InvalidValueError("lengths needs a batched (3-D) input; got an unbatched 2-D input")
                input = input.unsqueeze(0 if self.batch_first else 1)
                if state is not None:
                    state = self._unsqueeze_state(state)
            batch_size = input.shape[0 if self.batch_first else 1]
            steps = input.shape[1 if self.batch_first else 0]
            if steps == 0:
                raise InvalidValueError(f"input has no time steps: shape {tuple(input.shape)}")
            checked = None if lengths is None else check_lengths(lengths, batch_size, steps)
            batch = SequenceBatch(input, self.batch_first, checked)

        parts = self._checked_state(state, batch_size, batch.data)
        weights = self.weight_plan()  # once per forward: a parametrization computes once
        reg = self.regularizers
        if reg.weight_drop and self.training:  # DropConnect: new weights, the same recurrence
            weights = drop_weights(self._cell_grid, weights, reg.weight_drop)
        if reg.masks_steps(self.training):
            output, final = self._run_masked(batch, parts, weights)
        else:
            engine = select_engine(self, batch, self.engine, weights)
            output, final = engine.run(self, batch, parts, weights)

        if unbatched:
            output = output.squeeze(0 if self.batch_first else 1)
            final = tuple(s.squeeze(1) for s in final)
        return output, (final if self._cell_grid[0][0].state_is_tuple else final[0])

    def _run_masked(self, batch, parts, weights):
        """The one time loop with this forward's dropout / zoneout masks (:mod:`.regularizers`)."""
        if self.engine not in ("auto", "loop"):
            raise InvalidValueError(
                f"engine={self.engine!r} cannot run {self.regularizers.describe()}: they mask every step; "
                f"use engine='auto' or 'loop'"
            )
        x = batch.time_major
        output, final = run_stack(
            masked_grid(self, x),
            weights,
            x,
            parts,
            batch.lengths,
            dropout=self.dropout if self.training else 0.0,
            hooks=self.step_hooks(),
            direction=masked_direction(self, weights, x),
        )
        if batch.packed is not None:
            return repack_like(output, batch.packed), final
        return (output.transpose(0, 1) if batch.batch_first else output), final

    # ---- checks ------------------------------------------------------------------------------
    def _check_features(self, x: Tensor, expected_dims: Optional[str]) -> None:
        if not x.is_floating_point():
            raise InvalidTypeError(f"input must be a floating-point tensor, got dtype {x.dtype}")
        if x.shape[-1] != self.input_size:
            raise InvalidValueError(
                f"input must have input_size={self.input_size} features in its last dim, got shape {tuple(x.shape)}"
            )
        ref = next(iter(self._parameters.values()), None)
        if ref is None:  # all parametrized, or a cell without parameters
            ref = next(self.parameters(), None)
        if ref is not None and x.dtype != ref.dtype:  # no parameters at all: the input sets the dtype
            raise InvalidTypeError(
                f"input dtype {x.dtype} does not match the layer's parameters ({ref.dtype}); "
                f"convert one with .to(dtype)"
            )

    def _unsqueeze_state(self, state: State) -> State:
        parts = state if isinstance(state, tuple) else (state,)
        for i, s in enumerate(parts):
            if not isinstance(s, Tensor) or s.dim() != 2:
                raise InvalidValueError(
                    f"for an unbatched 2-D input, state[{i}] must be 2-D (num_layers * D, S), got {describe(s)}"
                )
        out = tuple(s.unsqueeze(1) for s in parts)
        return out if isinstance(state, tuple) else out[0]

    def _checked_state(self, state: Optional[State], batch_size: int, x: Tensor) -> Tuple[Tensor, ...]:
        sizes = self._state_sizes()
        n = self.num_layers * self.num_directions
        if state is None:
            return tuple(torch.zeros(n, batch_size, s, device=x.device, dtype=x.dtype) for s in sizes)
        is_tuple = self._cell_grid[0][0].state_is_tuple
        parts = state if isinstance(state, (tuple, list)) else (state,)
        if isinstance(state, (tuple, list)) != is_tuple or len(parts) != len(sizes):
            kind = f"a tuple of {len(sizes)} tensors" if is_tuple else "a tensor"
            raise InvalidValueError(f"state must be {kind} for this layer, got {describe(state)}")
        for i, (s, size) in enumerate(zip(parts, sizes, strict=True)):
            want = (n, batch_size, size)
            if not isinstance(s, Tensor) or tuple(s.shape) != want:
                label = f"state[{i}]" if is_tuple else "state"
                raise InvalidValueError(f"{label} must have shape {want} (num_layers * D, N, S), got {describe(s)}")
            if s.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
                raise InvalidTypeError(f"state dtype {s.dtype} does not match the input dtype {x.dtype}")
        if torch.is_autocast_enabled(x.device.type):  # a state carried out of an autocast region
            parts = tuple(s.to(x.dtype) for s in parts)
        return tuple(parts)

    # ---- device moves ------------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        flatten_for_cudnn(self)
        return result

    def flatten_parameters(self) -> None:
        """Lay the weights out in one buffer for cuDNN (a no-op on CPU), as torch.nn does."""
        flatten_for_cudnn(self)

    def extra_repr(self) -> str:
        s = f"input_size={self.input_size}, hidden_size={self.hidden_size}, num_layers={self.num_layers}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.engine != "auto":
            s += f", engine={self.engine!r}"
        if self.regularizers:
            s += ", " + self.regularizers.describe()
        return s
