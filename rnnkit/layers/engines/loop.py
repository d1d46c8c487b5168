"""The one time loop: any cell, step by step, in eager PyTorch, with a per-step hook.

Everything that runs a recurrence one step at a time runs it here: the loop engine, a single time
step (streaming, generation: the fused engine sends a one-step CPU input here, as oneDNN's sequence
kernel costs ~3 ms per call), and every per-step observer through :meth:`Recurrent.register_step_hook`
(the gradient-flow recorder in :mod:`rnnkit.diagnostics.gradient_flow`, later gate heatmaps).

For each layer k and direction d, with ``w`` that cell's weights from the layer's weight plan:

    xp = cell.project_input(x, w)                 all T input matmuls at once      (T, B, G)
    for t, xp_t in enumerate(xp.unbind(0)):       ``unbind``, never ``xp[t]``: indexing makes each
        h, s = cell.recur(xp_t, s, w)             step's backward build a full-size gradient
        hook(t, k, d, h, s)                       may return a replacement (h, s)
        s = where(t < length, s, s_prev)          ragged lengths: the state holds past the end
        out_t = where(t < length, h, 0)           and the output there is zero

A single step (T == 1) calls ``cell.step(x_0, s, w)`` instead, the same function, which the stock
cells run with torch's fused cell kernels. The reverse direction runs on each sequence reversed
within its own length, so its ``t = 0`` is each sequence's last real element. Between layers,
dropout applies in training mode.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ...cells.base import RecurrentCell, State, Weights
from ..sequences import SequenceBatch, repack_like, reverse_padded, step_mask
from .base import Engine, LayerState, WeightPlan

# fn(t, layer_index, direction, h, state) -> None, or (h, state) to replace the step's result
StepHook = Callable[[int, int, int, Tensor, State], Optional[Tuple[Tensor, State]]]


class LoopEngine(Engine):
    name = "loop"

    def unavailable_reason(self, layer, batch: SequenceBatch, weights: WeightPlan) -> Optional[str]:
        return None  # runs every cell

    def run(self, layer, batch: SequenceBatch, state: LayerState, weights: WeightPlan):
        return run_layers(layer, batch, state, weights)


def run_layers(layer, batch: SequenceBatch, state: LayerState, weights: WeightPlan, direction=None):
    """Run every layer and direction of ``layer``; the :class:`Engine` ``run`` contract.

    ``direction`` runs one layer and direction: by default :func:`run_direction`, step by step; an
    engine passes its own, called as ``direction(cell, w, x, state, mask, on_step)``.
    """
    output, final_state = run_stack(
        layer.cell_grid(),
        weights,
        batch.time_major,
        state,
        batch.lengths,
        dropout=layer.dropout if layer.training else 0.0,
        hooks=layer.step_hooks(),
        direction=direction,
    )
    if batch.packed is not None:
        return repack_like(output, batch.packed), final_state
    return (output.transpose(0, 1) if batch.batch_first else output), final_state


def run_stack(
    cells: Sequence[Sequence[RecurrentCell]],
    weights: WeightPlan,
    x: Tensor,
    state: LayerState,
    lengths: Optional[Tensor],
    *,
    dropout: float = 0.0,
    hooks: Sequence[StepHook] = (),
    direction=None,
) -> Tuple[Tensor, LayerState]:
    """Stacked (and bidirectional) layers over time-major ``x`` (T, B, I).

    ``state``: each tensor ``(num_layers * D, B, S_i)``; returns the last layer's output
    ``(T, B, D * H_out)`` and the final state in the same layout as ``state``. ``direction``
    (default :func:`run_direction`) runs one layer and direction, with run_direction's arguments.
    """
    direction = run_direction if direction is None else direction
    mask = None if lengths is None else step_mask(lengths, x.shape[0], x.device)  # (T, B, 1)
    finals: List[List[Tensor]] = [[] for _ in state]
    layer_input = x
    for k, (row, row_weights) in enumerate(zip(cells, weights, strict=True)):
        outputs = []
        for d, (cell, w) in enumerate(zip(row, row_weights, strict=True)):
            index = k * len(row) + d
            parts = tuple(s[index] for s in state)
            inp = layer_input if d == 0 else reverse_padded(layer_input, lengths)
            on_step = _bind_hooks(hooks, k, d)
            out, last = direction(cell, w, inp, parts if cell.state_is_tuple else parts[0], mask, on_step)
            outputs.append(out if d == 0 else reverse_padded(out, lengths))
            for i, s in enumerate(last if isinstance(last, tuple) else (last,)):
                finals[i].append(s)
        layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
        if dropout > 0 and k < len(cells) - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    return layer_input, tuple(torch.stack(f, dim=0) for f in finals)


def run_direction(
    cell: RecurrentCell,
    w: Weights,
    x: Tensor,
    state: State,
    mask: Optional[Tensor] = None,
    on_step: Optional[Callable[[int, Tensor, State], Optional[Tuple[Tensor, State]]]] = None,
) -> Tuple[Tensor, State]:
    """Run ``cell`` over time-major ``x`` (T, B, I) from ``state``; returns ((T, B, H_out), state).

    ``mask`` (T, B, 1) marks real steps; ``on_step(t, h, state)`` sees every step's output and new
    state (before masking) and may return a replacement ``(h, state)``.
    """
    if x.shape[0] == 1:  # one step: the cell's whole step (a fused cell kernel for the stock cells)
        advance, inputs = cell.step, x.unbind(0)
    else:
        advance, inputs = cell.recur, cell.project_input(x, w).unbind(0)  # (T, B, G): one matmul
    masks = (None,) * x.shape[0] if mask is None else mask.unbind(0)  # each (B, 1)
    outputs = []
    for t, (in_t, m_t) in enumerate(zip(inputs, masks, strict=True)):
        h, new_state = advance(in_t, state, w)
        if on_step is not None:
            replaced = on_step(t, h, new_state)
            if replaced is not None:
                h, new_state = replaced
        if m_t is None:
            state = new_state
        else:  # hold the state past each sequence's end; zero output there
            state = _where(m_t, new_state, state)
            h = torch.where(m_t, h, torch.zeros_like(h))
        outputs.append(h)
    return torch.stack(outputs, dim=0), state


def sequence_direction(run_all: Callable[..., Tuple[Tensor, State]]):
    """A ``direction`` for :func:`run_stack` from ``run_all(cell, w, x, state, mask)``, which runs a
    whole sequence at once and returns ((T, B, H) states, held past each sequence's end; final
    state). One-step inputs take the one time loop (the cell's fused step); outputs past each end
    are zeroed here, as the loop does.
    """

    def direction(cell, w, x, state, mask=None, on_step=None):
        if x.shape[0] == 1 or on_step is not None:
            return run_direction(cell, w, x, state, mask, on_step)
        out, last = run_all(cell, w, x, state, mask)
        if mask is not None:
            out = torch.where(mask, out, torch.zeros((), dtype=out.dtype, device=out.device))
        return out, last

    return direction


def _bind_hooks(hooks: Sequence[StepHook], k: int, d: int):
    """One ``on_step(t, h, state)`` calling every hook with this layer index and direction."""
    if not hooks:
        return None

    def on_step(t: int, h: Tensor, state: State):
        result = None
        for hook in hooks:
            replaced = hook(t, k, d, h, state)
            if replaced is not None:
                h, state = replaced
                result = replaced
        return result

    return on_step


def _where(mask: Tensor, new: State, old: State) -> State:
    if isinstance(new, tuple):
        return tuple(torch.where(mask, n, o) for n, o in zip(new, old, strict=True))
    return torch.where(mask, new, old)
