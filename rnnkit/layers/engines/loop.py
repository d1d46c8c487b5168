"""The loop engine: any cell, step by step, in eager PyTorch.

For each layer and direction: project the input of all T steps in one matmul
(``cell.project_input``), then run ``cell.recur`` for t = 1..T, iterating with ``unbind`` (indexing
``xp[t]`` would make every step's backward allocate a full-size gradient). With ragged lengths,
the state stops updating past each sequence's end and the outputs there are zero; the reverse
direction runs on each sequence reversed within its own length.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ...cells.base import RecurrentCell, State
from ..sequences import SequenceBatch, repack_like, reverse_padded, step_mask
from .base import Engine, LayerState


class LoopEngine(Engine):
    name = "loop"

    def unavailable_reason(self, layer, batch: SequenceBatch) -> Optional[str]:
        return None  # runs every cell

    def run(self, layer, batch: SequenceBatch, state: LayerState):
        x = batch.time_major  # (T, B, I)
        lengths = batch.lengths
        mask = None if lengths is None else step_mask(lengths, x.shape[0], x.device)  # (T, B, 1)
        finals: List[List[Tensor]] = [[] for _ in state]
        layer_input = x
        grid = layer.cell_grid()
        for k, directions in enumerate(grid):
            outputs = []
            for d, cell in enumerate(directions):
                index = k * len(directions) + d
                parts = tuple(s[index] for s in state)
                cell_state = parts if cell.state_is_tuple else parts[0]
                inp = layer_input if d == 0 else reverse_padded(layer_input, lengths)
                out, last = run_direction(cell, inp, cell_state, mask)
                outputs.append(out if d == 0 else reverse_padded(out, lengths))
                for i, s in enumerate(last if isinstance(last, tuple) else (last,)):
                    finals[i].append(s)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if layer.dropout > 0 and layer.training and k < len(grid) - 1:
                layer_input = F.dropout(layer_input, layer.dropout, training=True)
        final_state = tuple(torch.stack(f, dim=0) for f in finals)
        if batch.packed is not None:
            return repack_like(layer_input, batch.packed), final_state
        output = layer_input.transpose(0, 1) if batch.batch_first else layer_input
        return output, final_state


def run_direction(
    cell: RecurrentCell, x: Tensor, state: State, mask: Optional[Tensor]
) -> Tuple[Tensor, State]:
    """Run ``cell`` over time-major ``x`` (T, B, I) from ``state``; returns ((T, B, H_out), state)."""
    projected = cell.project_input(x)  # (T, B, G): all input matmuls at once
    outputs = []
    if mask is None:
        for xp_t in projected.unbind(0):
            h, state = cell.recur(xp_t, state)
            outputs.append(h)
    else:
        for xp_t, m_t in zip(projected.unbind(0), mask.unbind(0)):  # m_t: (B, 1)
            h, new_state = cell.recur(xp_t, state)
            state = _where(m_t, new_state, state)  # hold the state past each sequence's end
            outputs.append(torch.where(m_t, h, torch.zeros_like(h)))
    return torch.stack(outputs, dim=0), state


def _where(mask: Tensor, new: State, old: State) -> State:
    if isinstance(new, tuple):
        return tuple(torch.where(mask, n, o) for n, o in zip(new, old))
    return torch.where(mask, new, old)
