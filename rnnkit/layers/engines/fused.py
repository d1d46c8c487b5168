"""The fused engine: torch.nn's own RNN kernels run on our parameters.

These are the kernels behind ``torch.nn.RNN/LSTM/GRU`` (``torch._VF.*``): oneDNN's fused LSTM on
CPU and cuDNN on CUDA. The layer's parameters are passed as they are -- nothing is copied -- in
torch.nn's flat order (per layer, per direction: ``weight_ih, weight_hh, bias_ih, bias_hh``
and ``weight_hr`` for a projected LSTM). It serves only the stock cells (exactly
:class:`ElmanCell`, :class:`LSTMCell`, :class:`GRUCell`, not subclasses, which may change the step)
with one configuration across all layers.

A single time step on CPU (streaming, generation) takes torch's fused *cell* kernels instead
(``torch._VF.lstm_cell`` etc., what ``torch.nn.LSTMCell`` runs), layer by layer: oneDNN's
sequence kernel has a fixed cost per call (about 3 ms for a 2x256 LSTM here) that dwarfs one step.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ...cells import ElmanCell, GRUCell, LSTMCell
from ...cells.base import RecurrentCell
from ..sequences import SequenceBatch
from .base import Engine, LayerState

_VF = torch._VF

_PARAM_ORDER = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


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
_CELL_KERNELS = {"GRU": _VF.gru_cell, "RNN_TANH": _VF.rnn_tanh_cell, "RNN_RELU": _VF.rnn_relu_cell}


def _signature(cell: RecurrentCell) -> tuple:
    return (kernel_mode(cell), cell.hidden_size, cell.bias, getattr(cell, "proj_size", 0))


def flat_weights(layer) -> List[Tensor]:
    """The layer's parameters in torch.nn's flat order (the same tensors, not copies)."""
    weights = []
    for directions in layer.cell_grid():
        for cell in directions:
            for name in _PARAM_ORDER:
                p = getattr(cell, name, None)
                if p is not None:
                    weights.append(p)
    return weights


class FusedEngine(Engine):
    name = "fused"

    def unavailable_reason(self, layer, batch: SequenceBatch) -> Optional[str]:
        cells = [c for directions in layer.cell_grid() for c in directions]
        first = cells[0]
        if kernel_mode(first) is None:
            return (
                f"it runs only the stock cells (ElmanCell, LSTMCell, GRUCell), "
                f"not {type(first).__name__}"
            )
        if any(_signature(c) != _signature(first) for c in cells):
            return "its layers do not all use the same cell configuration"
        dtypes = {w.dtype for w in flat_weights(layer)}  # as bound for this forward (parametrized too)
        if len(dtypes) > 1:
            return f"its parameters mix dtypes {sorted(str(d) for d in dtypes)}"
        return None

    def run(self, layer, batch: SequenceBatch, state: LayerState):
        cells = layer.cell_grid()
        first = cells[0][0]
        if batch.packed is None and batch.data.device.type == "cpu" and batch.data.shape[1 if batch.batch_first else 0] == 1:
            return _single_step(layer, cells, batch, state)
        kernel = _KERNELS[kernel_mode(first)]
        weights = flat_weights(layer)
        args = (first.bias, len(cells), float(layer.dropout), layer.training, len(cells[0]) == 2)

        if batch.packed is None and batch.lengths is None:
            hx = state if first.state_is_tuple else state[0]
            result = kernel(batch.data, hx, weights, *args, batch.batch_first)
            return result[0], tuple(result[1:])

        packed = batch.packed
        if packed is None:
            packed = pack_padded_sequence(batch.data, batch.lengths, batch.batch_first, enforce_sorted=False)
        if packed.sorted_indices is not None:
            state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
        hx = state if first.state_is_tuple else state[0]
        result = kernel(packed.data, packed.batch_sizes, hx, weights, *args)
        final = tuple(result[1:])
        if packed.unsorted_indices is not None:
            final = tuple(s.index_select(1, packed.unsorted_indices) for s in final)
        out = PackedSequence(result[0], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        if batch.packed is not None:
            return out, final
        total = batch.data.shape[1 if batch.batch_first else 0]
        padded, _ = pad_packed_sequence(out, batch.batch_first, total_length=total)
        return padded, final


def _single_step(layer, cells, batch: SequenceBatch, state: LayerState):
    """One time step through every layer and direction with torch's fused cell kernels."""
    time_dim = 1 if batch.batch_first else 0
    x = batch.data.squeeze(time_dim)  # (B, I)
    mode = kernel_mode(cells[0][0])
    directions = len(cells[0])
    finals = [[] for _ in state]
    for k, row in enumerate(cells):
        outs = []
        for d, cell in enumerate(row):
            i = k * directions + d
            if mode == "LSTM":
                if cell.weight_hr is None:
                    h, c = _VF.lstm_cell(x, (state[0][i], state[1][i]), cell.weight_ih, cell.weight_hh,
                                         cell.bias_ih, cell.bias_hh)
                else:  # lstm_cell has no projection: the cell's own step, the same equations
                    h, (_, c) = cell.recur(cell.project_input(x), (state[0][i], state[1][i]))
                finals[0].append(h)
                finals[1].append(c)
            else:
                h = _CELL_KERNELS[mode](x, state[0][i], cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
                finals[0].append(h)
            outs.append(h)
        x = outs[0] if directions == 1 else torch.cat(outs, dim=-1)
        if layer.dropout > 0 and layer.training and k < len(cells) - 1:
            x = torch.nn.functional.dropout(x, layer.dropout, training=True)
    return x.unsqueeze(time_dim), tuple(torch.stack(f, dim=0) for f in finals)


def flatten_for_cudnn(layer) -> None:
    """Make the parameters views into one contiguous buffer, as cuDNN wants (CUDA only).

    The same step as ``torch.nn.RNNBase.flatten_parameters``: without it cuDNN copies the weights
    into one buffer on every call. A no-op on CPU or for configurations the fused engine cannot run.
    """
    cells = [c for directions in layer.cell_grid() for c in directions]
    mode = kernel_mode(cells[0])
    if mode is None or any(_signature(c) != _signature(cells[0]) for c in cells):
        return
    weights = flat_weights(layer)
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
