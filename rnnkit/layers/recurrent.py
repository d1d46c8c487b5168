"""``Recurrent``: run any cell over time -- stacked, bidirectional, ragged, with dropout and state.

Shapes (torch.nn's letters): N batch, L sequence length, D = 2 if bidirectional else 1,
H_in input features, H_out the cell's output size.

* input ``(L, N, H_in)``, or ``(N, L, H_in)`` with ``batch_first=True``, or unbatched ``(L, H_in)``,
  or a ``PackedSequence``;
* state: a tensor ``(num_layers * D, N, S)`` (RNN, GRU) or a tuple of them (LSTM: ``(h, c)``);
* output ``(L, N, D * H_out)`` in the input's layout (a PackedSequence for a packed input).

The cells are submodules, ``cell_l{k}`` and ``cell_l{k}_reverse``: their buffers are in the state
dict, ``.to()``/``.double()`` move them, ``modules()``/``apply()``/``train()`` reach them. Their
*parameters* belong to the layer instead, registered as ``{name}_l{k}`` and ``{name}_l{k}_reverse``
(dots in a nested name become underscores). For the stock cells that is exactly torch.nn's naming
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``), so state dicts interchange with
``torch.nn.RNN/LSTM/GRU`` in both directions, and torch.nn's tools that act on a named parameter
(``parametrizations.weight_norm``, ``parametrize.register_parametrization``, ``prune``) work as on
torch.nn's layers.

Each forward reads every parameter once through attribute access (``getattr(layer,
"weight_hh_l0")``, so a parametrization or pruning mask applies) and binds the result to the cell
as a plain attribute (``cell.weight_hh``); a plain parameter is bound as itself, never copied.
"""

from __future__ import annotations

import warnings
from typing import Callable, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from ..cells.base import RecurrentCell, State, _describe, check_positive_int
from .engines import check_engine_name, flatten_for_cudnn, select_engine
from .sequences import LengthsLike, SequenceBatch, check_lengths

CellFactory = Callable[[int, int], RecurrentCell]


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
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
        self.dropout = float(dropout)
        if self.dropout > 0 and num_layers == 1:
            warnings.warn(
                f"dropout={dropout} has no effect with num_layers=1: it applies between stacked layers "
                f"(after every layer but the last)",
                stacklevel=2,
            )
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.engine = check_engine_name(engine)

        directions = 2 if bidirectional else 1
        grid: List[Tuple[str, ...]] = []  # names of the cell submodules, [layer][direction]
        # (module that computes with it, its name there, its name on the layer), one per parameter
        self._param_links: List[Tuple[nn.Module, str, str]] = []
        layer_input = input_size
        for k in range(num_layers):
            row = []
            for d in range(directions):
                cell = cell_factory(layer_input, hidden_size)
                if not isinstance(cell, RecurrentCell):
                    raise TypeError(
                        f"cell_factory must return a rnnkit.cells.RecurrentCell, got {type(cell).__name__}"
                    )
                suffix = f"_l{k}" + ("_reverse" if d else "")
                for name, param in list(cell.named_parameters(remove_duplicate=False)):
                    here = name.replace(".", "_") + suffix
                    owner, _, leaf = name.rpartition(".")
                    module = cell.get_submodule(owner) if owner else cell
                    # The layer owns the parameter (torch.nn's name); the cell keeps a plain
                    # attribute of the same name, bound to the layer's value before each use.
                    del module._parameters[leaf]
                    module.__dict__[leaf] = param
                    self.register_parameter(here, param)
                    self._param_links.append((module, leaf, here))
                self.add_module("cell" + suffix, cell)
                row.append("cell" + suffix)
            grid.append(tuple(row))
            layer_input = self._modules[row[0]].output_size * directions
        self._cell_names = tuple(grid)
        self._cell_grid = tuple(tuple(self._modules[name] for name in row) for row in grid)  # a view
        self._binding_depth = 0  # > 0 while a forward holds the parameters bound
        self.proj_size = getattr(self._modules[grid[0][0]], "proj_size", 0)

    # ---- cells -------------------------------------------------------------------------------
    def cell_grid(self) -> Tuple[Tuple[RecurrentCell, ...], ...]:
        """The cells, ``[layer][direction]``, bound to this layer's current parameters.

        Outside a forward every call re-reads the parameters through attribute access, so the cells
        compute with what the layer holds now: parameters replaced by ``load_state_dict(assign=True)``,
        ``.to()`` or ``functional_call``, a parametrized weight (``weight_norm``), a pruned one.
        Within a forward the parameters are read once, at its start, and every engine call sees those.
        """
        if self._binding_depth == 0:
            self._bind_parameters()
        return self._cells()

    def _cells(self) -> Tuple[Tuple[RecurrentCell, ...], ...]:
        return self._cell_grid  # the submodules cell_l{k}[_reverse], fixed at construction

    def _bind_parameters(self) -> None:
        params = self._parameters
        for module, leaf, here in self._param_links:
            value = params.get(here)  # a plain parameter (or one swapped in by functional_call)
            if value is None:  # parametrized or pruned: attribute access computes it
                value = getattr(self, here)
            module.__dict__[leaf] = value

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features of the output: D * H_out."""
        return self._cells()[-1][0].output_size * self.num_directions

    # ---- state -------------------------------------------------------------------------------
    def init_state(self, batch_size: int, *, device=None, dtype=None) -> State:
        """Zero state: ``(num_layers * D, N, S)`` per state tensor (a tuple for LSTM).

        Device and dtype default to the parameters' (or, for a cell without parameters, its
        buffers'; else torch's defaults).
        """
        ref = next(self.parameters(), None)
        if ref is None:
            ref = next(self.buffers(), None)
        if ref is not None:
            device = device if device is not None else ref.device
            dtype = dtype if dtype is not None else ref.dtype
        cell = self._cells()[0][0]
        n = self.num_layers * self.num_directions
        zeros = tuple(torch.zeros(n, batch_size, s, device=device, dtype=dtype) for s in self._state_sizes())
        return zeros if cell.state_is_tuple else zeros[0]

    def _state_sizes(self) -> Tuple[int, ...]:
        return self._cells()[0][0].state_sizes

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
                raise ValueError("lengths must be None for a PackedSequence input (it carries its lengths)")
            self._check_features(input.data, expected_dims="a PackedSequence")
            padded, lens = pad_packed_sequence(input, batch_first=self.batch_first)
            batch = SequenceBatch(padded, self.batch_first, check_lengths(lens, lens.numel(), padded.shape[1 if self.batch_first else 0]), input)
            batch_size = lens.numel()
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"input must be a torch.Tensor or PackedSequence, got {type(input).__name__}")
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"input must have 3 dims ({'N, L' if self.batch_first else 'L, N'}, H_in) or 2 dims "
                    f"(L, H_in) when unbatched, got {input.dim()} dims with shape {tuple(input.shape)}"
                )
            self._check_features(input, expected_dims=None)
            unbatched = input.dim() == 2
            if unbatched:
                if lengths is not None:
                    raise ValueError("lengths needs a batched (3-D) input; got an unbatched 2-D input")
                input = input.unsqueeze(0 if self.batch_first else 1)
                if state is not None:
                    state = self._unsqueeze_state(state)
            batch_size = input.shape[0 if self.batch_first else 1]
            steps = input.shape[1 if self.batch_first else 0]
            if steps == 0:
                raise ValueError(f"input has no time steps: shape {tuple(input.shape)}")
            checked = None if lengths is None else check_lengths(lengths, batch_size, steps)
            batch = SequenceBatch(input, self.batch_first, checked)

        parts = self._checked_state(state, batch_size, batch.data)
        self._bind_parameters()  # once per forward: a parametrization computes once
        self._binding_depth += 1
        try:
            engine = select_engine(self, batch, self.engine)
            output, final = engine.run(self, batch, parts)
        finally:
            self._binding_depth -= 1

        if unbatched:
            output = output.squeeze(0 if self.batch_first else 1)
            final = tuple(s.squeeze(1) for s in final)
        return output, (final if self._cells()[0][0].state_is_tuple else final[0])

    # ---- checks ------------------------------------------------------------------------------
    def _check_features(self, x: Tensor, expected_dims: Optional[str]) -> None:
        if not x.is_floating_point():
            raise TypeError(f"input must be a floating-point tensor, got dtype {x.dtype}")
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"input must have input_size={self.input_size} features in its last dim, "
                f"got shape {tuple(x.shape)}"
            )
        ref = next(iter(self._parameters.values()), None)
        if ref is None:  # all parametrized, or a cell without parameters
            ref = next(self.parameters(), None)
        if ref is not None and x.dtype != ref.dtype:  # no parameters at all: the input sets the dtype
            raise TypeError(
                f"input dtype {x.dtype} does not match the layer's parameters ({ref.dtype}); "
                f"convert one with .to(dtype)"
            )

    def _unsqueeze_state(self, state: State) -> State:
        parts = state if isinstance(state, tuple) else (state,)
        for i, s in enumerate(parts):
            if not isinstance(s, Tensor) or s.dim() != 2:
                raise ValueError(
                    f"for an unbatched 2-D input, state[{i}] must be 2-D (num_layers * D, S), got {_describe(s)}"
                )
        out = tuple(s.unsqueeze(1) for s in parts)
        return out if isinstance(state, tuple) else out[0]

    def _checked_state(self, state: Optional[State], batch_size: int, x: Tensor) -> Tuple[Tensor, ...]:
        sizes = self._state_sizes()
        n = self.num_layers * self.num_directions
        if state is None:
            return tuple(torch.zeros(n, batch_size, s, device=x.device, dtype=x.dtype) for s in sizes)
        is_tuple = self._cells()[0][0].state_is_tuple
        parts = state if isinstance(state, (tuple, list)) else (state,)
        if isinstance(state, (tuple, list)) != is_tuple or len(parts) != len(sizes):
            kind = f"a tuple of {len(sizes)} tensors" if is_tuple else "a tensor"
            raise ValueError(f"state must be {kind} for this layer, got {_describe(state)}")
        for i, (s, size) in enumerate(zip(parts, sizes)):
            want = (n, batch_size, size)
            if not isinstance(s, Tensor) or tuple(s.shape) != want:
                label = f"state[{i}]" if is_tuple else "state"
                raise ValueError(f"{label} must have shape {want} (num_layers * D, N, S), got {_describe(s)}")
            if s.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
                raise TypeError(f"state dtype {s.dtype} does not match the input dtype {x.dtype}")
        if torch.is_autocast_enabled(x.device.type):  # a state carried out of an autocast region
            parts = tuple(s.to(x.dtype) for s in parts)
        return tuple(parts)

    # ---- device moves ------------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self.cell_grid()
        flatten_for_cudnn(self)
        return result

    def flatten_parameters(self) -> None:
        """Lay the weights out in one buffer for cuDNN (a no-op on CPU), as torch.nn does."""
        self.cell_grid()
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
        return s
