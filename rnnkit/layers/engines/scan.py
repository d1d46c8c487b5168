"""The scan engine: linear-recurrence cells run as a scan, not a time loop of matmuls.

A cell whose whole step is ``h_t = a_t * h_{t-1} + b_t`` with ``a_t, b_t`` functions of ``x_t``
alone (minGRU, minLSTM: :mod:`rnnkit.cells.minrnn`) declares
``scan_coefficients(projected_x, w) -> (a, b)``, each ``(..., H)``, for any leading dimensions. Per
layer and direction this engine projects every step's input at once, takes ``(a, b)`` for all steps
(T, B, H), and runs the recurrence with one of two scans of the same function:

* :class:`SequentialScan` -- one fused multiply-add per step, ``h_t = addcmul(b_t, a_t, h_{t-1})``,
  in a custom autograd function whose backward is the reverse scan
  ``g_t = dL/dh_t|out + a_{t+1} g_{t+1}``, then ``da = g * h_prev``, ``db = g``, ``dh_0 = a_1 g_1``
  as whole-sequence ops: 2T small calls and no T-node autograd graph. O(T) work.
* :func:`parallel_scan` -- Hillis-Steele doubling on the associative pairs
  ``(a, b) o (a', b') = (a a', a' b + b')``: ceil(log2 T) rounds of whole-sequence ops, O(T log T)
  work, in plain autograd. Unlike the log-space scan of the minGRU paper it needs no positive
  ``b`` and no division, so it serves any cell declaring coefficients.

Which one runs is a matter of the device: the ``"scan"`` engine takes the sequential scan on CPU
and the parallel scan on CUDA (``"scan-parallel"`` runs the parallel one anywhere). Crossover
measured on this project's 2-core CPU (``benchmarks/bench_cells.py``, minGRU and minLSTM, B=8,
H=256, T=4096, forward+backward): the parallel scan took 4x the sequential scan's time (0.97-1.12
against 0.22-0.32 of ``nn.GRU``), and it lost at every T tried -- its extra log2(T) work is not
hidden by 2 cores. On a GPU a sequential step costs a kernel launch (~5-10 us) while a round of the
doubling scan over (T, B, H) is one launch, so the parallel scan wins from T of a few tens upward
(the minGRU paper reports 175x over a sequential loop at T=512); no GPU was available to measure
that crossover here.

Ragged lengths: past a sequence's end ``a = 1, b = 0``, so the state holds exactly and no gradient
reaches those steps' coefficients; the output there is zeroed, as in the loop engine.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..sequences import SequenceBatch
from .base import Engine, WeightPlan
from .loop import run_layers, sequence_direction

SCAN_METHODS = ("auto", "sequential", "parallel")


class SequentialScan(torch.autograd.Function):
    """``h = SequentialScan.apply(a, b, h0)``: ``h_t = a_t * h_{t-1} + b_t`` for t = 0..T-1.

    ``a``, ``b`` (T, B, H); ``h0`` (B, H). Returns every ``h_t``, (T, B, H).
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        out = torch.empty_like(b)
        h = h0
        for a_t, b_t, out_t in zip(a.unbind(0), b.unbind(0), out.unbind(0), strict=True):
            h = torch.addcmul(b_t, a_t, h, out=out_t)
        ctx.save_for_backward(a, h0, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        a, h0, out = ctx.saved_tensors
        g = torch.empty_like(grad_out)  # g_t = dL/dh_t, through every later step
        g_next = None
        for t in range(a.shape[0] - 1, -1, -1):
            if g_next is None:
                g_next = g[t].copy_(grad_out[t])
            else:
                g_next = torch.addcmul(grad_out[t], a[t + 1], g_next, out=g[t])
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]], dim=0)
        d_a = g * h_prev if ctx.needs_input_grad[0] else None
        d_h0 = a[0] * g[0] if ctx.needs_input_grad[2] else None
        return d_a, g, d_h0


def parallel_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """The same function as :class:`SequentialScan`, by doubling: ``ceil(log2 T)`` rounds.

    After the round with shift ``s``, ``(A_t, B_t)`` composes steps ``t-2s+1 .. t``; ``h0`` is folded
    into the first step first (``b_0 <- a_0 h0 + b_0``), so the final ``B`` is every ``h_t``.
    """
    b = torch.cat([(a[0] * h0 + b[0]).unsqueeze(0), b[1:]], dim=0)
    shift, steps = 1, a.shape[0]
    while shift < steps:
        b = torch.cat([b[:shift], torch.addcmul(b[shift:], a[shift:], b[:-shift])], dim=0)
        if 2 * shift < steps:  # the last round needs no products of a
            a = torch.cat([a[:shift], a[shift:] * a[:-shift]], dim=0)
        shift *= 2
    return b


def scan(a: Tensor, b: Tensor, h0: Tensor, method: str = "auto") -> Tensor:
    """Every ``h_t`` of ``h_t = a_t * h_{t-1} + b_t`` (T, B, H) by ``method`` (see the module doc)."""
    if method == "auto":
        method = "sequential" if a.device.type == "cpu" else "parallel"
    if method == "parallel":
        return parallel_scan(a, b, h0)
    return SequentialScan.apply(a, b, h0)


def _run_scan_direction(method: str):
    def run(cell, w, x: Tensor, state: Tensor, mask: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        a, b = cell.scan_coefficients(cell.project_input(x, w), w)  # each (T, B, H)
        if mask is not None:  # past each end: h_t = 1 * h_{t-1} + 0, exactly
            a = torch.where(mask, a, torch.ones((), dtype=a.dtype, device=a.device))
            b = torch.where(mask, b, torch.zeros((), dtype=b.dtype, device=b.device))
        h = scan(a, b, state, method)
        return h, h[-1]

    return sequence_direction(run)


_DIRECTIONS = {method: _run_scan_direction(method) for method in SCAN_METHODS}


class ScanEngine(Engine):
    """Runs cells that declare ``scan_coefficients``; ``method`` as :func:`scan`."""

    def __init__(self, method: str = "auto", name: str = "scan") -> None:
        self.method = method
        self.name = name

    def unavailable_reason(self, layer, batch: SequenceBatch, weights: WeightPlan) -> Optional[str]:
        if torch.is_autocast_enabled(batch.data.device.type):
            return "it does not follow autocast (the scan runs in one dtype)"
        for row in layer.cell_grid():
            for cell in row:
                if not callable(getattr(cell, "scan_coefficients", None)):
                    return (
                        f"it runs only linear-recurrence cells (with scan_coefficients, as MinGRUCell), "
                        f"not {type(cell).__name__}"
                    )
                if cell.state_is_tuple or cell.output_size != cell.state_sizes[0]:
                    return f"{type(cell).__name__} declares scan_coefficients but its state is not its output h"
        return None

    def run(self, layer, batch: SequenceBatch, state, weights: WeightPlan):
        return run_layers(layer, batch, state, weights, _DIRECTIONS[self.method])
