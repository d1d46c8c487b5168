"""Gradient flow through time: ``||dL/dh_t||`` for every step t and layer, for one batch.

What is measured. For a recurrent layer with cells stepped as ``h_t, s_t = cell(x_t, s_{t-1})`` (for
the stock cells the hidden output ``h_t`` is also the state, or its first part ``(h_t, c_t)``), the
recorder returns, for each layer l and step t,

    g[l, t] = || dL / dh^l_t ||_2      (norm over the batch and the features together)

where ``dL/dh^l_t`` is the *total* derivative of the loss with respect to the layer's hidden output at
step t: it sums every path from ``h^l_t`` to the loss -- through the layers above at step t and
through the recurrence into ``h^l_{t+1}, h^l_{t+2}, ...`` (this is the quantity of the vanishing and
exploding gradient analyses: if the loss is taken at the last step only, ``g[l, t]`` shows how much of
it reaches step t). It is not the gradient with respect to the output tensor the layer returns, which
misses the recurrent path. With ``lengths``, steps past a sequence's end have zero gradient.

How. Every :class:`rnnkit.layers.Recurrent` in the model is, for one forward pass, run step by step
through its own cells (the loop engine's computation, so values equal the fused path's up to float
rounding), keeping each ``h^l_t``; then ``torch.autograd.grad(loss, [h^l_t ...])``. Parameter
gradients are left untouched. Bidirectional layers and packed inputs are refused. The model is put
in eval mode for the recording by default (dropout masks would otherwise differ from training).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..layers import Recurrent
from ..layers.sequences import check_lengths, step_mask

__all__ = ["GradientFlow", "record_gradient_flow"]


@dataclass
class GradientFlow:
    norms: Dict[str, Tensor] = field(default_factory=dict)  # layer module name -> (num_layers, T)
    loss: float = float("nan")

    def __getitem__(self, name: str) -> Tensor:
        return self.norms[name]


def record_gradient_flow(
    model: nn.Module, loss_fn: Callable[[nn.Module], Tensor], eval_mode: bool = True
) -> GradientFlow:
    """Run ``loss_fn(model)`` once and return ``||dL/dh_t||`` per Recurrent layer, layer and step.

    If a Recurrent module is called several times in one forward pass, its calls are concatenated
    along time.
    """
    layers = {name: m for name, m in model.named_modules() if isinstance(m, Recurrent)}
    if not layers:
        raise ValueError(f"the model ({type(model).__name__}) has no rnnkit.layers.Recurrent module to record")
    records: Dict[str, List[List[Tensor]]] = {name: [[] for _ in range(m.num_layers)] for name, m in layers.items()}
    was_training = model.training
    if eval_mode:
        model.eval()
    try:
        for name, layer in layers.items():
            layer.forward = _stepped_forward(layer, records[name])  # instance attribute: shadows the method
        loss = loss_fn(model)
    finally:
        for layer in layers.values():
            layer.__dict__.pop("forward", None)
        model.train(was_training)
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        raise TypeError(f"loss_fn must return a scalar tensor, got {type(loss).__name__}")
    hs = [h for rec in records.values() for per_layer in rec for h in per_layer]
    if not hs:
        raise ValueError("no recurrent layer ran in loss_fn: nothing to record")
    grads = torch.autograd.grad(loss, hs, allow_unused=True)
    it = iter(grads)
    result = GradientFlow(loss=float(loss.detach()))
    for name, rec in records.items():
        if not rec[0]:
            continue
        rows = []
        for per_layer in rec:
            rows.append(torch.stack([
                torch.zeros(()) if g is None else torch.linalg.vector_norm(g.detach().float()).cpu()
                for _, g in zip(per_layer, it)
            ]))
        result.norms[name] = torch.stack(rows)  # (num_layers, T)
    return result


def _stepped_forward(layer: Recurrent, record: List[List[Tensor]]):
    def forward(input, state=None, lengths=None):
        if isinstance(input, PackedSequence):
            raise ValueError("the gradient-flow recorder needs padded tensors (and lengths), not a PackedSequence")
        if layer.bidirectional:
            raise ValueError("the gradient-flow recorder supports unidirectional layers only")
        if not isinstance(input, Tensor) or input.dim() != 3:
            raise ValueError(f"the gradient-flow recorder needs a batched 3-D input, got {getattr(input, 'shape', input)}")
        x = input.transpose(0, 1) if layer.batch_first else input  # (T, B, I)
        T, B = x.shape[0], x.shape[1]
        if state is None:
            state = layer.init_state(B, device=x.device, dtype=x.dtype)
        parts = state if isinstance(state, tuple) else (state,)
        mask = None
        if lengths is not None:
            mask = step_mask(check_lengths(lengths, B, T), T, x.device)  # (T, B, 1)
        finals: List[List[Tensor]] = [[] for _ in parts]
        layer_input = x
        grid = layer.cell_grid()
        for k, (cell,) in enumerate(grid):
            cell_parts = tuple(s[k] for s in parts)
            s_prev = cell_parts if cell.state_is_tuple else cell_parts[0]
            outputs = []
            for t, xp_t in enumerate(cell.project_input(layer_input).unbind(0)):
                h, s_new = cell.recur(xp_t, s_prev)  # h is h^k_t
                record[k].append(h)
                if mask is not None:
                    m = mask[t]
                    s_new = tuple(torch.where(m, a, b) for a, b in zip(s_new, s_prev)) if isinstance(s_new, tuple) \
                        else torch.where(m, s_new, s_prev)
                    h = torch.where(m, h, torch.zeros_like(h))
                outputs.append(h)
                s_prev = s_new
            for i, s in enumerate(s_prev if isinstance(s_prev, tuple) else (s_prev,)):
                finals[i].append(s)
            layer_input = torch.stack(outputs, 0)  # (T, B, H_out)
            if layer.dropout > 0 and layer.training and k < len(grid) - 1:
                layer_input = F.dropout(layer_input, layer.dropout, training=True)
        final = tuple(torch.stack(f, 0) for f in finals)
        output = layer_input.transpose(0, 1) if layer.batch_first else layer_input
        return output, (final if isinstance(state, tuple) else final[0])

    return forward
