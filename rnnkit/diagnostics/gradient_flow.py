"""Gradient flow through time: ``||dL/dh_t||`` for every step t, layer and direction, for one batch.

What is measured. For a recurrent layer with cells stepped as ``h_t, s_t = cell(x_t, s_{t-1})`` (for
the stock cells the hidden output ``h_t`` is also the state, or its first part ``(h_t, c_t)``), the
recorder returns, for each layer l (and direction) and step t,

    g[l, t] = || dL / dh^l_t ||_2      (norm over the batch and the features together)

where ``dL/dh^l_t`` is the *total* derivative of the loss with respect to the layer's hidden output at
step t: it sums every path from ``h^l_t`` to the loss -- through the layers above at step t and
through the recurrence into ``h^l_{t+1}, h^l_{t+2}, ...`` (this is the quantity of the vanishing and
exploding gradient analyses: if the loss is taken at the last step only, ``g[l, t]`` shows how much of
it reaches step t). It is not the gradient with respect to the output tensor the layer returns, which
misses the recurrent path. With ``lengths``, steps past a sequence's end have zero gradient.

How. A step hook (:meth:`rnnkit.layers.Recurrent.register_step_hook`) on every Recurrent module keeps
each ``h^l_t`` as the one time loop computes it -- while hooked, a layer runs the loop engine, whose
values equal the fused engine's up to float rounding -- and then ``torch.autograd.grad(loss, [h^l_t
...])``. Parameter gradients are left untouched and the hooks are removed afterwards. A reverse
direction steps through each sequence backwards; its steps are put back at their time positions
(within each sequence's length). The model is put in eval mode for the recording by default
(dropout masks would otherwise differ from training).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._checks import InvalidTypeError, InvalidValueError, describe
from ..layers import Recurrent
from ..layers.sequences import check_lengths, reverse_padded
from ..training.data import to_device

__all__ = ["GradientFlow", "record_gradient_flow", "average_gradient_flow", "trainer_gradient_flow"]


@dataclass
class GradientFlow:
    # layer module name -> (num_layers * D, T): row k * D + d (direction d of layer k), as h_n's rows
    norms: Dict[str, Tensor] = field(default_factory=dict)
    loss: float = float("nan")

    def __getitem__(self, name: str) -> Tensor:
        return self.norms[name]

    def ratio(self, name: Optional[str] = None) -> Tensor:
        """``g[:, T-1] / g[:, 0]`` per row (layer, direction) of layer ``name`` (the only one by default):
        how much larger the gradient is at the last step than at the first. Far above 1: the gradient
        vanishes on its way back through time; far below 1: it explodes. ``inf`` where the first step
        gets no gradient at all."""
        g = self.norms[self._name(name)]
        return g[:, -1] / g[:, 0]

    def _name(self, name: Optional[str]) -> str:
        if name is None:
            if len(self.norms) != 1:
                raise InvalidValueError(f"the model has several recurrent layers {sorted(self.norms)}: name one")
            return next(iter(self.norms))
        if name not in self.norms:
            raise InvalidValueError(f"no recurrent layer named {name!r}; recorded: {sorted(self.norms)}")
        return name


@dataclass
class _Call:
    """One call of a Recurrent layer: its lengths and every step's ``h``, per (layer, direction)."""

    lengths: Optional[Tensor]
    steps: Dict[Tuple[int, int], List[Tensor]] = field(default_factory=dict)


def record_gradient_flow(
    model: nn.Module, loss_fn: Callable[[nn.Module], Tensor], eval_mode: bool = True
) -> GradientFlow:
    """Run ``loss_fn(model)`` once and return ``||dL/dh_t||`` per Recurrent layer, layer, direction and step.

    If a Recurrent module is called several times in one forward pass, its calls are concatenated
    along time.
    """
    layers = {name: m for name, m in model.named_modules() if isinstance(m, Recurrent)}
    if not layers:
        raise InvalidValueError(f"the model ({type(model).__name__}) has no rnnkit.layers.Recurrent module to record")
    calls: Dict[str, List[_Call]] = {name: [] for name in layers}
    handles = []
    was_training = model.training
    if eval_mode:
        model.eval()
    try:
        for name, layer in layers.items():
            handles.append(layer.register_forward_pre_hook(partial(_start_call, calls[name]), with_kwargs=True))
            handles.append(layer.register_step_hook(partial(_keep_step, calls[name])))
        loss = loss_fn(model)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        raise InvalidTypeError(f"loss_fn must return a scalar tensor, got {describe(loss)}")
    hs = [h for per_layer in calls.values() for call in per_layer for steps in call.steps.values() for h in steps]
    if not hs:
        raise InvalidValueError("no recurrent layer ran in loss_fn: nothing to record")
    grads = iter(torch.autograd.grad(loss, hs, allow_unused=True))
    result = GradientFlow(loss=float(loss.detach()))
    for name, per_layer in calls.items():
        if per_layer:
            directions = layers[name].num_directions
            result.norms[name] = torch.cat([_norms(call, grads, directions) for call in per_layer], dim=1)
    return result


def average_gradient_flow(
    model: nn.Module, loss_fn: Callable[[nn.Module, object], Tensor], batches, eval_mode: bool = True
) -> GradientFlow:
    """The mean of ``||dL/dh_t||`` over several batches: :func:`record_gradient_flow` of
    ``loss_fn(model, batch)`` for each batch of ``batches``, averaged step by step (and the loss too).

    Every batch must give the same number of steps per layer (pad or cut sequences to one length).
    """
    flows = [record_gradient_flow(model, partial(_call_with, loss_fn, batch), eval_mode) for batch in batches]
    if not flows:
        raise InvalidValueError("batches is empty: nothing to average")
    result = GradientFlow(loss=sum(f.loss for f in flows) / len(flows))
    for name in flows[0].norms:
        shapes = {tuple(f.norms[name].shape) for f in flows}
        if len(shapes) != 1:
            raise InvalidValueError(
                f"the batches give layer {name!r} different numbers of steps {sorted(shapes)}: "
                "average over batches of one sequence length"
            )
        result.norms[name] = torch.stack([f.norms[name] for f in flows]).mean(dim=0)
    return result


def _call_with(loss_fn, batch, model):
    return loss_fn(model, batch)


def trainer_gradient_flow(trainer, batch, state=None) -> GradientFlow:
    """:func:`record_gradient_flow` for one batch through a :class:`rnnkit.training.Trainer`'s step function.

    ``batch`` as the step function takes it (under TBPTT a chunk ``(x, y, reset)``, run from
    ``state``); it is moved to the model's device first.
    """
    batch = to_device(batch, next(trainer.model.parameters()).device)
    if trainer.tbptt is not None or trainer.config.bptt is not None:
        return record_gradient_flow(trainer.model, lambda m: trainer.step_fn(m, batch, state)[0])
    return record_gradient_flow(trainer.model, lambda m: _loss_of(trainer.step_fn(m, batch)))


# ---- the hooks -------------------------------------------------------------------------------


def _start_call(record: List[_Call], layer: Recurrent, args, kwargs) -> None:
    """Forward pre-hook: a new call begins; keep its lengths (the reverse direction needs them)."""
    inp = args[0] if args else kwargs.get("input")
    lengths = args[2] if len(args) > 2 else kwargs.get("lengths")
    if isinstance(inp, PackedSequence):
        lengths = pad_packed_sequence(inp)[1]  # in the input's batch order
        lengths = check_lengths(lengths, lengths.numel(), int(lengths.max()))
    elif lengths is not None and isinstance(inp, Tensor) and inp.dim() == 3:
        batch, steps = (inp.shape[0], inp.shape[1]) if layer.batch_first else (inp.shape[1], inp.shape[0])
        lengths = check_lengths(lengths, batch, steps)
    else:
        lengths = None
    record.append(_Call(lengths))


def _keep_step(record: List[_Call], t: int, layer_index: int, direction: int, h: Tensor, state) -> None:
    record[-1].steps.setdefault((layer_index, direction), []).append(h)


def _norms(call: _Call, grads, directions: int) -> Tensor:
    """(num_layers * D, T) norms for one call; consumes this call's gradients from ``grads`` in order."""
    rows = {}
    for (k, d), steps in call.steps.items():
        # grads holds every call's gradients in order: take as many as this direction has steps
        g = torch.stack(
            [torch.zeros_like(h) if gr is None else gr for h, gr in zip(steps, grads, strict=False)]
        )  # (T, B, H)
        if d == 1:  # the reverse direction's step t is at position length - 1 - t of each sequence
            g = reverse_padded(g, call.lengths)
        g = g.detach().to(torch.promote_types(g.dtype, torch.float32))  # bf16/fp16 norms in float32
        rows[k * directions + d] = torch.linalg.vector_norm(g, dim=(1, 2)).cpu()
    return torch.stack([rows[i] for i in sorted(rows)])


def _loss_of(out):
    return out[0] if isinstance(out, (tuple, list)) else out
