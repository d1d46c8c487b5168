"""The fast engine for custom cells: the one time loop with one weight-gradient GEMM per sequence.

A custom cell (layer-norm or peephole LSTM, any cell written as its equation) runs on the loop
engine as eager autograd, and its backward does, per step, a small GEMM for ``dW_hh`` (``(G, B) x
(B, K)``: the inner dimension is the batch, so it runs far below peak) and adds the ``(G, K)``
result into the weight's gradient -- T times. This engine runs the same loop
(:func:`~rnnkit.layers.engines.loop.run_direction`, the cell's own ``recur``) and changes only how
the recurrent product ``hp_t = r_t W_hh^T`` is differentiated: the cell's
``F.linear(r_t, w.weight_hh, b)`` is intercepted (``weight_hh`` is handed over as a
:class:`RecurrentWeight`, a tensor subclass) and runs as
:class:`RecurrentLinear`, whose backward returns ``dr_t = dhp_t W_hh`` at once and keeps
``(dhp_t, r_t)``; the first step's backward, which autograd runs after every later step's, does::

    dW_hh = [dhp_0 .. dhp_{T-1}]^T [r_0 .. r_{T-1}]      (G, T*B) x (T*B, K): ONE GEMM

Everything else -- the elementwise step, layer norms, peepholes, ragged lengths, hooks -- is the
loop engine's, so values are the loop engine's exactly and gradients equal to rounding.

A cell qualifies when its ``recur`` uses ``w.weight_hh`` exactly once per step, as the weight of
``torch.nn.functional.linear`` (every rnnkit cell with a recurrent matrix does); the engine checks
that once per cell class with a probe step (:func:`probe`), and is unavailable where it fails.

Measured (``benchmarks/bench_cells.py``, results in ``docs/layers.md``): forward+backward it is
0.85-0.97x the loop engine's time for the peephole and layer-norm LSTMs -- the per-step GEMMs and
elementwise calls of the forward and of ``dr_t`` remain, and so does the loop's Python cost -- so
the gain is real but small. Without autograd (inference) there is no backward to speed up and the
engine runs the plain loop.
"""

from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..sequences import SequenceBatch
from .base import Engine, WeightPlan
from .fused import kernel_mode
from .loop import run_direction, run_layers


class RecurrentLinear(torch.autograd.Function):
    """``hp = RecurrentLinear.apply(r, weight, stash, last)``: ``r weight^T``, whose weight gradient
    waits for every step's.

    Backward gives ``dr = dhp weight`` at once and appends ``(dhp, r)`` to ``stash``; the step
    marked ``last`` -- the first step of the sequence, whose backward runs after every later
    step's -- computes ``dW = sum_t dhp_t^T r_t`` as ONE GEMM over the stacked rows.
    """

    @staticmethod
    def forward(ctx, r: Tensor, weight: Tensor, stash: list, last: bool) -> Tensor:
        ctx.save_for_backward(r, weight)
        ctx.stash, ctx.last = stash, last
        return r.mm(weight.t())

    @staticmethod
    def backward(ctx, grad: Tensor):
        r, weight = ctx.saved_tensors
        d_r = grad.mm(weight) if ctx.needs_input_grad[0] else None
        d_w = None
        if ctx.needs_input_grad[1]:
            ctx.stash.append((grad, r))
            if ctx.last:
                grads, inputs = zip(*ctx.stash, strict=True)
                d_w = torch.cat(grads).t().mm(torch.cat(inputs))  # (G, T*B) x (T*B, K)
                ctx.stash.clear()
        return d_r, d_w, None, None


class RecurrentWeight(torch.Tensor):
    """``weight_hh`` as the cell sees it in this engine: ``F.linear(r, this, b)`` runs as
    :class:`RecurrentLinear` (+ ``b``); any other use runs on the weight itself and is counted.

    A tensor subclass, so only calls that take it dispatch through Python (:meth:`__torch_function__`);
    the rest of the step runs as in the loop engine.
    """

    @staticmethod
    def __new__(cls, weight: Tensor):
        sub = torch.Tensor._make_subclass(cls, weight.detach(), False)
        sub.source, sub.stash, sub.uses, sub.other_uses = weight, [], 0, 0
        return sub

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear and len(args) >= 2 and isinstance(args[1], cls) and not isinstance(args[0], cls):
            r, weight = args[0], args[1]
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            weight.uses += 1
            flat = r.reshape(-1, r.shape[-1])
            hp = RecurrentLinear.apply(flat, weight.source, weight.stash, weight.uses == 1)
            hp = hp.view(*r.shape[:-1], hp.shape[-1])
            return hp if bias is None else hp + bias
        if getattr(func, "__name__", "") != "__get__":  # .shape, .dtype... are no use
            for a in (*args, *kwargs.values()):
                if isinstance(a, cls):
                    a.other_uses += 1
        args = tuple(a.source if isinstance(a, cls) else a for a in args)
        kwargs = {k: (v.source if isinstance(v, cls) else v) for k, v in kwargs.items()}
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **kwargs)


_PROBED: Dict[type, Optional[str]] = {}


def probe(cell, w, dtype, device) -> Optional[str]:
    """None if ``cell``'s ``recur`` uses ``w.weight_hh`` exactly once, as F.linear's weight; else why not.

    Tried once per cell class on a one-row input.
    """
    kind = type(cell)
    if kind not in _PROBED:
        reason = None
        try:
            with torch.no_grad():
                xp = cell.project_input(torch.zeros(1, cell.input_size, dtype=dtype, device=device), w)
                state = tuple(torch.zeros(1, s, dtype=dtype, device=device) for s in cell.state_sizes)
                weight = RecurrentWeight(w.weight_hh)
                cell.recur(xp, state if cell.state_is_tuple else state[0], w._replace(weight_hh=weight))
            if weight.uses != 1 or weight.other_uses:
                reason = (
                    f"{kind.__name__}.recur uses weight_hh {weight.uses} time(s) as F.linear's weight "
                    f"and {weight.other_uses} time(s) otherwise (the fast engine needs exactly one F.linear)"
                )
        except Exception as error:  # a cell the probe cannot drive: the loop runs it
            reason = f"a probe step of {kind.__name__} failed ({type(error).__name__}: {error})"
        _PROBED[kind] = reason
    return _PROBED[kind]


def run_fast_direction(cell, w, x: Tensor, state, mask: Optional[Tensor] = None, on_step=None):
    """One direction: the one time loop (:func:`run_direction`) with the recurrent product as
    :class:`RecurrentLinear`; same arguments and result."""
    return run_direction(cell, w._replace(weight_hh=RecurrentWeight(w.weight_hh)), x, state, mask, on_step)


class FastEngine(Engine):
    name = "fast"

    def unavailable_reason(self, layer, batch: SequenceBatch, weights: WeightPlan) -> Optional[str]:
        if torch.is_autocast_enabled(batch.data.device.type):
            return "it does not follow autocast (its recurrent product's backward runs in the weights' dtype)"
        for row, row_w in zip(layer.cell_grid(), weights, strict=True):
            for cell, w in zip(row, row_w, strict=True):
                if kernel_mode(cell) is not None:
                    return f"the stock {type(cell).__name__} runs on the fused engine"
                if "weight_hh" not in w._fields or w.weight_hh is None:
                    return f"{type(cell).__name__} has no recurrent matrix weight_hh"
                reason = probe(cell, w, batch.data.dtype, batch.data.device)
                if reason is not None:
                    return reason
        return None

    def run(self, layer, batch: SequenceBatch, state, weights: WeightPlan):
        if not torch.is_grad_enabled():  # no backward to speed up: the plain loop is the faster
            return run_layers(layer, batch, state, weights)
        return run_layers(layer, batch, state, weights, run_fast_direction)
