"""The fused engine: torch.nn's own RNN kernels run on the layer's weight plan.

These are the kernels behind ``torch.nn.RNN/LSTM/GRU`` (``torch._VF.*``): oneDNN's fused LSTM on
CPU and cuDNN on CUDA. The weight plan is flattened into torch.nn's order (per layer, per
direction: ``weight_ih, weight_hh, bias_ih, bias_hh`` and ``weight_hr`` for a projected LSTM) and
passed as it is -- a plain parameter is the parameter itself, nothing is copied. It serves only the
stock cells (exactly :class:`ElmanCell`, :class:`LSTMCell`, :class:`GRUCell`, not subclasses,
which may change the step) with one configuration across all layers.

A single time step on CPU (streaming, generation) goes to the one time loop
(:func:`rnnkit.layers.engines.loop.run_layers`), where the stock cells step with torch's fused
*cell* kernels (``torch._VF.lstm_cell`` etc., what ``torch.nn.LSTMCell`` runs): oneDNN's sequence
kernel has a fixed cost per call (about 3 ms for a 2x256 LSTM here) that dwarfs one step.

Under CPU autocast, oneDNN may be unable to build its kernel for the low-precision type (an AVX2
machine without AVX512-BF16 fails for the LSTM under bf16 autocast, as ``torch.nn.LSTM`` does);
the engine tries that once per configuration and type, and is unavailable where it fails, so
``engine="auto"`` falls back to the loop.
"""

from __future__ import annotations

import warnings
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ...cells import ElmanCell, GRUCell, LSTMCell
from ...cells.base import RecurrentCell
from ..sequences import SequenceBatch
from . import loop
from .base import Engine, LayerState, WeightPlan

_VF = torch._VF

_PARAM_ORDER = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")  # torch.nn's, per cell


def kernel_mode(cell: RecurrentCell) -> Optional[str]:
    """torch.nn's mode name for a stock cell (``LSTM``, ``GRU``, ``RNN_TANH``, ``RNN_RELU``), else None."""
    kind = type(cell)
    if kind is LSTMCell:
        return "LSTM"
    if kind is GRUCell:
        return "GRU"
    if kind is ElmanCell:
        return "RNN_TANH" if cell.nonlinearity == "tanh" else "RNN_RELU"
    return None


_KERNELS = {"LSTM": _VF.lstm, "GRU": _VF.gru, "RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu}


def _signature(cell: RecurrentCell) -> tuple:
    return (kernel_mode(cell), cell.hidden_size, cell.bias, getattr(cell, "proj_size", 0))


def flat_weights(weights: WeightPlan) -> List[Tensor]:
    """A stock layer's weight plan in torch.nn's flat order (the same tensors, not copies)."""
    flat = []
    for row in weights:
        for w in row:
            for name in _PARAM_ORDER:
                t = getattr(w, name, None)
                if t is not None:
                    flat.append(t)
    return flat


class FusedEngine(Engine):
    name = "fused"

    def unavailable_reason(self, layer, batch: SequenceBatch, weights: WeightPlan) -> Optional[str]:
        cells = [c for directions in layer.cell_grid() for c in directions]
        first = cells[0]
        mode = kernel_mode(first)
        if mode is None:
            return f"it runs only the stock cells (ElmanCell, LSTMCell, GRUCell), not {type(first).__name__}"
        if any(_signature(c) != _signature(first) for c in cells):
            return "its layers do not all use the same cell configuration"
        dtypes = {t.dtype for row in weights for w in row for t in w if t is not None}
        if len(dtypes) > 1:
            return f"its weights mix dtypes {sorted(str(d) for d in dtypes)}"
        if batch.data.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            return _cpu_autocast_failure(mode, bool(getattr(first, "proj_size", 0)), torch.get_autocast_dtype("cpu"))
        return None

    def run(self, layer, batch: SequenceBatch, state: LayerState, weights: WeightPlan):
        if batch.data.device.type == "cpu" and batch.data.shape[1 if batch.batch_first else 0] == 1:
            return loop.run_layers(layer, batch, state, weights)  # one step: the cells' fused cell kernels
        cells = layer.cell_grid()
        first = cells[0][0]
        kernel = _KERNELS[kernel_mode(first)]
        flat = flat_weights(weights)
        args = (first.bias, len(cells), float(layer.dropout), layer.training, len(cells[0]) == 2)

        if batch.packed is None and batch.lengths is None:
            hx = state if first.state_is_tuple else state[0]
            result = kernel(batch.data, hx, flat, *args, batch.batch_first)
            return result[0], tuple(result[1:])

        packed = batch.packed
        if packed is None:
            packed = pack_padded_sequence(batch.data, batch.lengths, batch.batch_first, enforce_sorted=False)
        if packed.sorted_indices is not None:
            state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
        hx = state if first.state_is_tuple else state[0]
        result = kernel(packed.data, packed.batch_sizes, hx, flat, *args)
        final = tuple(result[1:])
        if packed.unsorted_indices is not None:
            final = tuple(s.index_select(1, packed.unsorted_indices) for s in final)
        out = PackedSequence(result[0], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        if batch.packed is not None:
            return out, final
        total = batch.data.shape[1 if batch.batch_first else 0]
        padded, _ = pad_packed_sequence(out, batch.batch_first, total_length=total)
        return padded, final


_AUTOCAST_TRIED: Dict[Tuple[str, bool, torch.dtype], Optional[str]] = {}


def _cpu_autocast_failure(mode: str, projected: bool, dtype: torch.dtype) -> Optional[str]:
    """Why torch's fused ``mode`` kernel cannot run under CPU autocast to ``dtype`` here, or None.

    Tried once per (mode, projection, dtype) on a tiny input, inference and training, and kept.
    """
    key = (mode, projected, dtype)
    if key not in _AUTOCAST_TRIED:
        gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
        out = 1 if projected else 2
        rows = gates * 2  # hidden size 2
        weights = [torch.zeros(rows, 2), torch.zeros(rows, out), torch.zeros(rows), torch.zeros(rows)]
        if projected:
            weights.append(torch.zeros(1, 2))
        hx = torch.zeros(1, 1, out)
        hx = (hx, torch.zeros(1, 1, 2)) if mode == "LSTM" else hx
        reason = None
        try:
            with torch.autocast("cpu", dtype=dtype):
                for training in (False, True):
                    x = torch.zeros(2, 1, 2, requires_grad=training)
                    with torch.set_grad_enabled(training):
                        _KERNELS[mode](x, hx, weights, True, 1, 0.0, training, False, False)
        except RuntimeError as error:
            reason = (
                f"torch's fused {mode} kernel fails under CPU autocast to {dtype} on this machine "
                f"({str(error).splitlines()[0]})"
            )
            warnings.warn(f"{reason}; engine='auto' runs the loop engine instead", stacklevel=2)
        _AUTOCAST_TRIED[key] = reason
    return _AUTOCAST_TRIED[key]


def flatten_for_cudnn(layer) -> None:
    """Make the parameters views into one contiguous buffer, as cuDNN wants (CUDA only).

    The same step as ``torch.nn.RNNBase.flatten_parameters``: without it cuDNN copies the weights
    into one buffer on every call. A no-op on CPU or for configurations the fused engine cannot run.
    """
    cells = [c for directions in layer.cell_grid() for c in directions]
    mode = kernel_mode(cells[0])
    if mode is None or any(_signature(c) != _signature(cells[0]) for c in cells):
        return
    weights = flat_weights(layer.weight_plan())
    first = weights[0]
    if not all(isinstance(w, torch.nn.Parameter) for w in weights):
        return  # a parametrized or pruned weight is computed at each forward: nothing to lay out
    if not all(w.is_cuda and w.dtype == first.dtype for w in weights):
        return
    if not torch.backends.cudnn.is_acceptable(first):
        return
    if len({w.data_ptr() for w in weights}) != len(weights):
        return
    import torch.backends.cudnn.rnn as cudnn_rnn

    with torch.cuda.device_of(first), torch.no_grad():
        if torch._use_cudnn_rnn_flatten_weight():
            per_cell = (4 if cells[0].bias else 2) + (1 if getattr(cells[0], "proj_size", 0) else 0)
            torch._cudnn_rnn_flatten_weight(
                weights,
                per_cell,
                layer.input_size,
                cudnn_rnn.get_cudnn_mode(mode),
                cells[0].hidden_size,
                getattr(cells[0], "proj_size", 0),
                layer.num_layers,
                layer.batch_first,
                layer.bidirectional,
            )
