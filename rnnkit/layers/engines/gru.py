"""The GRU engine: torch.nn's GRU as one sequence-level autograd function, faster than ``nn.GRU`` on CPU.

On CPU ``torch.nn.GRU`` is not oneDNN-fused: it runs a chain of small autograd ops per step, and its
backward does a small weight-gradient GEMM per step. This engine runs the same equations
(:mod:`rnnkit.cells.gru`) with the input projection ``W_ih x_t + b_ih`` hoisted over all steps
(ordinary autograd), then one :class:`torch.autograd.Function` for the recurrence:

forward, per step (5 calls, no autograd graph)::

    hp_t = b_hh + h_{t-1} W_hh^T                         (B, 3H)  one GEMM
    r_t, z_t = sigmoid(xp_t[:2H] + hp_t[:2H])
    n_t = tanh(xp_t[2H:] + r_t * hp_t[2H:])
    h_t = lerp(n_t, h_{t-1}, z_t) = n_t + z_t (h_{t-1} - n_t)

backward: every factor that does not depend on the incoming gradient is computed once over all
steps, so the reverse loop is 4 calls per step. With ``g_t = dL/dh_t`` (output gradient plus what
flows back from step t+1)::

    C_n = (1 - z)(1 - n^2)                                  (T, B, H), all steps at once
    dhp_t = g_t * [C_n hn r (1 - r),  (h_{t-1} - n) z (1 - z),  C_n r]      (B, 3H)
    g_{t-1} = dL/dh_{t-1}|out + g_t z_t + dhp_t W_hh
    dxp = [dhp_r, dhp_z, g C_n],  dW_hh = dhp^T h_prev  (ONE GEMM over all T*B rows),  db_hh = sum dhp

Ragged lengths: past a sequence's end, ``z`` is forced to 1, so ``h_t = h_{t-1}`` exactly (lerp
with weight 1 returns its end point) and no gradient reaches that step's gates; the output there is
zeroed by the caller, as in the loop engine.

It serves exactly :class:`rnnkit.cells.GRUCell` on CPU, outside autocast (CUDA runs cuDNN through
the fused engine).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ...cells import GRUCell
from ..sequences import SequenceBatch
from .base import Engine, WeightPlan
from .loop import run_layers, sequence_direction


class GRUSequence(torch.autograd.Function):
    """``h = GRUSequence.apply(xp, h0, weight_hh, bias_hh, mask)``: every h_t of one direction.

    ``xp`` (T, B, 3H) the projected inputs (``W_ih x_t + b_ih``), ``h0`` (B, H), ``weight_hh``
    (3H, H), ``bias_hh`` (3H,) or None, ``mask`` (T, B, 1) bool or None (True on real steps).
    Returns (T, B, H): past a sequence's end the state held, not zero.
    """

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Optional[Tensor], mask: Optional[Tensor]):
        T, B, G = xp.shape
        H = G // 3
        out = xp.new_empty(T, B, H)
        hp = xp.new_empty(T, B, G)  # b_hh + h_{t-1} W_hh^T
        rz = xp.new_empty(T, B, 2 * H)  # sigmoid gates r, z (z forced to 1 past each end)
        n = xp.new_empty(T, B, H)
        w_t = weight_hh.t()
        pad = (None,) * T if mask is None else (~mask).unbind(0)
        # every per-step view made up front (one call each), so the loop body is the 5 kernel calls
        views = zip(
            xp[..., : 2 * H].unbind(0),
            xp[..., 2 * H :].unbind(0),
            hp.unbind(0),
            hp[..., : 2 * H].unbind(0),
            hp[..., 2 * H :].unbind(0),
            rz.unbind(0),
            rz[..., :H].unbind(0),
            rz[..., H:].unbind(0),
            n.unbind(0),
            out.unbind(0),
            pad,
            strict=True,
        )
        h = h0
        for xp_rz, xp_n, hp_t, hp_rz, hp_n, rz_t, r_t, z_t, n_t, out_t, pad_t in views:
            if bias_hh is None:
                torch.mm(h, w_t, out=hp_t)
            else:
                torch.addmm(bias_hh, h, w_t, out=hp_t)
            torch.add(xp_rz, hp_rz, out=rz_t).sigmoid_()
            torch.addcmul(xp_n, r_t, hp_n, out=n_t).tanh_()
            if pad_t is not None:
                z_t.masked_fill_(pad_t, 1.0)
            h = torch.lerp(n_t, h, z_t, out=out_t)
        ctx.save_for_backward(h0, weight_hh, out, hp, rz, n)
        ctx.has_bias = bias_hh is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        h0, weight_hh, out, hp, rz, n = ctx.saved_tensors
        T, B, H = out.shape
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]], dim=0)  # (T, B, H)
        r, z, hn = rz[..., :H], rz[..., H:], hp[..., 2 * H :]
        c_n = (1 - z) * (1 - n * n)
        factors = torch.cat([c_n * hn * r * (1 - r), (h_prev - n) * z * (1 - z), c_n * r], dim=-1)
        factors = factors.view(T, B, 3, H)
        dhp = torch.empty_like(hp)  # (T, B, 3H)
        g_all = torch.empty_like(out)  # g_t = dL/dh_t
        carry = torch.zeros_like(h0)
        views = zip(
            grad_out.unbind(0),
            g_all.unbind(0),
            factors.unbind(0),
            dhp.view(T, B, 3, H).unbind(0),
            dhp.unbind(0),
            z.unbind(0),
            strict=True,
        )
        for grad_t, g_t, factors_t, dhp_gates, dhp_t, z_t in reversed(list(views)):
            g = torch.add(grad_t, carry, out=g_t)
            torch.mul(factors_t, g.unsqueeze(1), out=dhp_gates)
            carry = torch.addmm(g * z_t, dhp_t, weight_hh)
        d_xp = d_w = d_b = None
        if ctx.needs_input_grad[0]:
            d_xp = dhp.clone()
            d_xp[..., 2 * H :] = g_all * c_n
        if ctx.needs_input_grad[2]:
            d_w = dhp.reshape(T * B, 3 * H).t().mm(h_prev.reshape(T * B, H))
        if ctx.has_bias and ctx.needs_input_grad[3]:
            d_b = dhp.sum(dim=(0, 1))
        return d_xp, carry, d_w, d_b, None


def run_gru_direction(cell, w, x: Tensor, state: Tensor, mask: Optional[Tensor]):
    """One direction of a GRU layer over time-major ``x`` (T, B, I): ((T, B, H) raw states, last state)."""
    xp = cell.project_input(x, w)  # (T, B, 3H): one GEMM for all steps
    h = GRUSequence.apply(xp, state, w.weight_hh, w.bias_hh, mask)
    return h, h[-1]


_DIRECTION = sequence_direction(run_gru_direction)


class GRUEngine(Engine):
    name = "gru"

    def unavailable_reason(self, layer, batch: SequenceBatch, weights: WeightPlan) -> Optional[str]:
        cells = [c for row in layer.cell_grid() for c in row]
        if any(type(c) is not GRUCell for c in cells):
            return f"it runs only rnnkit.cells.GRUCell, not {type(cells[0]).__name__}"
        if batch.data.device.type != "cpu":
            return "it is the CPU engine (on CUDA the fused engine runs cuDNN's GRU)"
        if torch.is_autocast_enabled("cpu"):
            return "it runs in the weights' dtype and does not follow CPU autocast"
        return None

    def run(self, layer, batch: SequenceBatch, state, weights: WeightPlan):
        return run_layers(layer, batch, state, weights, _DIRECTION)
