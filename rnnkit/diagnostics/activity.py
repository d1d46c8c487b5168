"""Gate and hidden-state activity: what every unit of every recurrent layer did at every step.

:func:`record_activity` runs ``run_fn(model)`` once with a step hook on every
:class:`rnnkit.layers.Recurrent` module (so the layers run the one time loop) and returns, per layer
module, layer index k and direction d:

    hidden[(k, d)]          (B, T, H_out)   h_t at its time position (the reverse direction put back)
    gates[(k, d)][name]     (B, T, H)       the cell's gate values, ``cell.gates(W_ih x_t + b_ih, s_{t-1}, w)``
    mask                    (B, T)          True at real steps (all True without ``lengths``)

The gates are not re-run from scratch: the hook keeps each step's state ``s_t`` as the loop made it,
and the gates of step t are evaluated from the previous state the loop held (``s_{t-1}``, or the
state the layer was called with at t = 0) and the projection of the step's input (the layer's input
for k = 0; layer k-1's recorded outputs, directions concatenated, for k > 0 -- in eval mode there is
no dropout between layers). A cell without gates (Elman) gives hidden states only.

Saturation (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks",
section 4.2): a gate value is *left-saturated* below 0.1 and *right-saturated* above 0.9.
:func:`gate_saturation` gives each unit's two fractions over the real steps; tanh-valued gates
(LSTM ``cell``, GRU ``new``) are first mapped to [0, 1] by (v + 1) / 2, so for them the thresholds
are -0.8 and 0.8.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._checks import InvalidValueError, in_range
from ..layers import Recurrent
from ..layers.sequences import check_lengths, reverse_padded, step_mask

__all__ = ["LayerActivity", "record_activity", "gate_saturation", "TANH_GATES"]

TANH_GATES = frozenset({"cell", "new"})  # gate names whose values lie in [-1, 1] (candidates)


@dataclass
class LayerActivity:
    """One Recurrent module's activity over one call; see the module docstring for shapes."""

    hidden: Dict[Tuple[int, int], Tensor] = field(default_factory=dict)
    gates: Dict[Tuple[int, int], Dict[str, Tensor]] = field(default_factory=dict)
    mask: Optional[Tensor] = None  # (B, T) bool


@dataclass
class _Call:
    x: Tensor  # time-major padded input (T, B, I)
    state: Optional[Tuple[Tensor, ...]]  # as given, each (num_layers * D, B, S), or None (zeros)
    lengths: Optional[Tensor]
    steps: Dict[Tuple[int, int], List[Tuple[Tensor, object]]] = field(default_factory=dict)


def record_activity(
    model: nn.Module, run_fn: Callable[[nn.Module], object], gates: bool = True
) -> Dict[str, LayerActivity]:
    """Run ``run_fn(model)`` under ``torch.no_grad`` in eval mode; return each Recurrent module's
    activity (by module name; a module called several times: its last call)."""
    layers, calls = record_calls(model, run_fn, grad=False)
    with torch.no_grad():
        return {name: _activity(layers[name], call, gates) for name, call in calls.items()}


def record_calls(
    model: nn.Module, run_fn: Callable[[nn.Module], object], grad: bool
) -> Tuple[Dict[str, Recurrent], Dict[str, "_Call"]]:
    """Run ``run_fn(model)`` once in eval mode with a step hook on every Recurrent module; return the
    modules and the last call of each that ran (its input, initial state, lengths and every step)."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, Recurrent)}
    if not layers:
        raise InvalidValueError(f"the model ({type(model).__name__}) has no rnnkit.layers.Recurrent module to record")
    calls: Dict[str, List[_Call]] = {name: [] for name in layers}
    handles = []
    was_training = model.training
    model.eval()
    try:
        for name, layer in layers.items():
            handles.append(layer.register_forward_pre_hook(partial(_start_call, calls[name]), with_kwargs=True))
            handles.append(layer.register_step_hook(partial(_keep_step, calls[name])))
        with torch.set_grad_enabled(grad):
            run_fn(model)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    ran = {name: per_layer[-1] for name, per_layer in calls.items() if per_layer}
    if not ran:
        raise InvalidValueError("no recurrent layer ran in run_fn: nothing to record")
    return layers, ran


def _start_call(record: List[_Call], layer: Recurrent, args, kwargs) -> None:
    inp = args[0] if args else kwargs.get("input")
    state = args[1] if len(args) > 1 else kwargs.get("state")
    lengths = args[2] if len(args) > 2 else kwargs.get("lengths")
    if isinstance(inp, PackedSequence):
        inp, lengths = pad_packed_sequence(inp)  # time-major
        lengths = check_lengths(lengths, lengths.numel(), int(lengths.max()))
    else:
        if inp.dim() == 2:  # unbatched (L, H_in)
            inp = inp.unsqueeze(1)
            state = None if state is None else tuple(s.unsqueeze(1) for s in _parts(state))
        elif layer.batch_first:
            inp = inp.transpose(0, 1)
        lengths = None if lengths is None else check_lengths(lengths, inp.shape[1], inp.shape[0])
    record.append(_Call(inp, None if state is None else _parts(state), lengths))


def _keep_step(record: List[_Call], t: int, k: int, d: int, h: Tensor, state) -> None:
    record[-1].steps.setdefault((k, d), []).append((h, state))


def _parts(state) -> Tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


@dataclass
class Replay:
    """What one direction of one layer did at each step, in its own step order: the cell and its
    weights, the projected input ``xp[t]`` (B, G), the state it started from ``prev[t]`` and the
    output ``h[t]``; ``placed`` maps a (T, B, F) tensor in step order to time positions."""

    cell: object
    w: object
    xp: List[Tensor]
    prev: List[object]
    h: List[Tensor]
    placed: Callable[[Tensor], Tensor]


def replay(layer: Recurrent, call: _Call) -> Tuple[Dict[Tuple[int, int], Replay], Optional[Tensor]]:
    """Each (layer, direction)'s steps rebuilt from a recorded call; and the (T, B, 1) mask or None."""
    T = call.x.shape[0]
    mask = None if call.lengths is None else step_mask(call.lengths, T, call.x.device)  # (T, B, 1)
    plan, cells, D = layer.weight_plan(), layer.cell_grid(), layer.num_directions
    out = {}
    layer_input = call.x
    for k in range(layer.num_layers):
        outputs = []
        for d in range(D):
            cell, w = cells[k][d], plan[k][d]
            steps = call.steps[(k, d)]
            hs = torch.stack([h for h, _ in steps])  # (T, B, H_out) in the direction's step order
            if mask is not None:
                hs = torch.where(mask, hs, torch.zeros_like(hs))
            place = (lambda t: t) if d == 0 else partial(reverse_padded, lengths=call.lengths)
            outputs.append(place(hs))
            inp = layer_input if d == 0 else reverse_padded(layer_input, call.lengths)
            prev, states = [], _initial_state(cell, call, k * D + d, call.x.shape[1])
            for t, (_h, new_state) in enumerate(steps):
                prev.append(states)
                states = _advance(states, new_state, None if mask is None else mask[t])
            xp = list(cell.project_input(inp, w).unbind(0))  # T x (B, G)
            out[(k, d)] = Replay(cell, w, xp, prev, [h for h, _ in steps], place)
        layer_input = outputs[0] if D == 1 else torch.cat(outputs, dim=-1)
    return out, mask


def _activity(layer: Recurrent, call: _Call, with_gates: bool) -> LayerActivity:
    T, B = call.x.shape[0], call.x.shape[1]
    replays, mask = replay(layer, call)
    out = LayerActivity(mask=torch.ones(B, T, dtype=torch.bool) if mask is None else mask[..., 0].T.cpu())
    for key, r in replays.items():
        hs = torch.stack(r.h)
        if mask is not None:
            hs = torch.where(mask, hs, torch.zeros_like(hs))
        out.hidden[key] = r.placed(hs).transpose(0, 1).cpu()
        if with_gates and type(r.cell).gates is not _base_gates():
            per_step = [r.cell.gates(xp, prev, r.w) for xp, prev in zip(r.xp, r.prev, strict=True)]
            out.gates[key] = {
                name: r.placed(torch.stack([g[name] for g in per_step])).transpose(0, 1).cpu() for name in per_step[0]
            }
    return out


def _base_gates():
    from ..cells.base import RecurrentCell

    return RecurrentCell.gates


def _initial_state(cell, call: _Call, row: int, batch: int):
    if call.state is None:
        return cell.init_state(batch, device=call.x.device, dtype=call.x.dtype)
    parts = tuple(s[row] for s in call.state)
    return parts if cell.state_is_tuple else parts[0]


def _advance(prev, new, m: Optional[Tensor]):
    """The state the loop holds after a step: the new one, or the old one past a sequence's end."""
    if m is None:
        return new
    if isinstance(new, tuple):
        return tuple(torch.where(m, n, o) for n, o in zip(new, prev, strict=True))
    return torch.where(m, new, prev)


def gate_saturation(
    activity: LayerActivity, low: float = 0.1, high: float = 0.9
) -> Dict[Tuple[int, int], Dict[str, Tuple[Tensor, Tensor]]]:
    """Per (layer, direction) and gate: ``(left, right)``, each ``(H,)``, the fraction of each unit's
    values over the real steps that are below ``low`` / above ``high`` (tanh gates mapped to [0, 1])."""
    low, high = in_range("low", low, 0, 1), in_range("high", high, 0, 1)
    if not activity.gates:
        raise InvalidValueError("the activity holds no gates (a cell without gates, or gates=False)")
    real = activity.mask.unsqueeze(-1).float()  # (B, T, 1)
    count = real.sum(dim=(0, 1)).clamp_min(1)
    result = {}
    for key, gates in activity.gates.items():
        result[key] = {}
        for name, g in gates.items():
            v = (g + 1) / 2 if name in TANH_GATES else g
            left = ((v < low).float() * real).sum(dim=(0, 1)) / count
            right = ((v > high).float() * real).sum(dim=(0, 1)) / count
            result[key][name] = (left, right)
    return result
