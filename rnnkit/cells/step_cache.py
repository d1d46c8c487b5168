"""The streaming step's fast path: one GEMM over ``[x_t, h_{t-1}]`` with weights concatenated once.

A single step at batch 1 (streaming, generation) reads every weight once and does little
arithmetic: it is bound by call latency and by bytes moved, not FLOPs. torch's cell kernels
(``torch._VF.lstm_cell``, what ``nn.LSTMCell`` runs) do two GEMVs (``W_ih x``, ``W_hh h``), then
a dozen small elementwise calls. The LSTM fast path does, per step::

    z = [x_t, h_{t-1}] @ W^T + b             one GEMM; W = [W_ih W_hh] (4H, I+H), b = b_ih + b_hh,
                                             rows reordered i, f, o, g so that
    s = sigmoid(z[:3H]), g = tanh(z[3H:])    two activation calls cover the four gates
    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)

eight calls in all. ``W`` and ``b`` are built on first use and kept on the cell with the source
weights; they are rebuilt when any source weight is a different tensor or has been written in
place since (torch bumps a tensor's ``_version`` on every in-place write: an optimizer step,
``load_state_dict``, ``copy_``). The fast path runs only where no gradient is wanted (inference,
``torch.no_grad``), on CPU, with every weight a plain parameter (a parametrized weight is computed
anew each forward, so caching would never pay): a cached ``W`` has no autograd history.
The result equals the cell kernel's up to float rounding (the sums run in another order).

Measured (``benchmarks/bench_cells.py``, a shared 2-core AVX2 machine): the same time per step as
the cell kernel, 409 against 407 us under load -- the step is bound by reading the 2 MiB of
weights, which concatenating does not reduce. Kept because it is no slower and has half the GEMV
calls; a real gain needs fewer bytes (a low-precision copy of the weights), which changes results.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def fast_step_applies(x: Tensor, *weights: Optional[Tensor]) -> bool:
    """Whether the cached-GEMM step may run: CPU, no gradient wanted, every weight a parameter."""
    if x.device.type != "cpu" or (torch.is_grad_enabled() and (x.requires_grad or any_grad(weights))):
        return False
    return all(w is None or isinstance(w, nn.Parameter) for w in weights)


def any_grad(weights) -> bool:
    return any(w is not None and w.requires_grad for w in weights)


def _key(weights) -> tuple:
    """Each weight with what changes when it does: version (in-place writes), storage (``.data =``,
    ``.to()``), dtype."""
    return tuple(None if w is None else (w, w._version, w.data_ptr(), w.dtype) for w in weights)


def _same(key: tuple, other: tuple) -> bool:
    if len(key) != len(other):
        return False
    for a, b in zip(key, other, strict=True):
        if (a is None) != (b is None) or (a is not None and (a[0] is not b[0] or a[1:] != b[1:])):
            return False
    return True


def lstm_step_weights(owner, w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor], b_hh: Optional[Tensor]):
    """``(W, b)`` of the fused LSTM step for these weights, cached on ``owner`` (see module doc)."""
    sources = (w_ih, w_hh, b_ih, b_hh)
    cached = owner.__dict__.get("_step_cache")
    if cached is not None and _same(cached[0], _key(sources)):
        return cached[1]
    H = w_hh.shape[0] // 4
    order = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)])
    order = order.to(w_ih.device)  # rows i, f, o, g
    with torch.no_grad():
        weight = torch.cat([w_ih, w_hh], dim=1).index_select(0, order).contiguous()  # (4H, I+H)
        bias = None if b_ih is None else (b_ih + b_hh).index_select(0, order)
    owner.__dict__["_step_cache"] = (_key(sources), (weight, bias))
    return weight, bias


def lstm_fast_step(owner, x: Tensor, state: Tuple[Tensor, Tensor], w) -> Tuple[Tensor, Tensor]:
    """One LSTM step ``(h_t, c_t)`` by the cached GEMM (torch.nn's LSTM equations, any batch size)."""
    weight, bias = lstm_step_weights(owner, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
    h_prev, c_prev = state
    z = F.linear(torch.cat([x, h_prev], dim=-1), weight, bias)  # (B, 4H) in order i, f, o, g
    H = c_prev.shape[-1]
    s = torch.sigmoid(z[:, : 3 * H])
    c = torch.addcmul(s[:, H : 2 * H] * c_prev, s[:, :H], torch.tanh(z[:, 3 * H :]))
    return s[:, 2 * H :] * torch.tanh(c), c
