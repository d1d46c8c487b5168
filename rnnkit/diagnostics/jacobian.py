"""The recurrent Jacobian along a sequence: ``||ds_t / ds_{t-1}||_2`` for every step t.

For a cell stepped as ``s_t = f(x_t, s_{t-1})`` the gradient reaching step t from step T is

    dL/ds_t = (ds_{t+1}/ds_t)^T ... (ds_T/ds_{T-1})^T dL/ds_T

so it vanishes when the Jacobians' spectral norms (largest singular values) stay below 1 and can
explode when they exceed it (Pascanu, Mikolov & Bengio 2013). :func:`recurrent_jacobian_norms`
records the spectral norm of ``J_t = ds_t / ds_{t-1}`` for each sequence of a batch, each step, and
each layer and direction of every :class:`rnnkit.layers.Recurrent` module of a model.

``s`` is the cell's whole state: ``h`` for an Elman RNN or a GRU, ``(h, c)`` concatenated for an
LSTM (so ``J_t`` is ``2H x 2H``: the cell state's own path ``dc_t/dc_{t-1} = diag(f_t)`` is what
keeps an LSTM's gradient alive). The Jacobian is exact: the step hook of the one time loop keeps
every state the loop computes (:func:`rnnkit.diagnostics.activity.replay`), each step is taken
again from a detached copy of its previous state (so ``h_{t-1}`` and ``c_{t-1}`` count as the
independent variables they are in ``J_t``, not ``h_{t-1}`` as a function of ``c_{t-1}``), and
``torch.autograd.grad`` gives ``J_t`` -- one vector-Jacobian product per state feature, batched with
``is_grads_batched``. The layer's input at step t is held fixed.
Sequences of a batch are independent, so one backward pass gives every sequence's rows at once.
Recording needs full-length sequences (no ``lengths`` shorter than the input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Tuple

import torch
from torch import Tensor, nn

from .._checks import InvalidValueError
from .activity import record_calls, replay

__all__ = ["JacobianNorms", "recurrent_jacobian_norms", "step_jacobian"]


@dataclass
class JacobianNorms:
    """``norms[name][(k, d)]``: ``(B, T - 1)``, the spectral norm of ``ds_t/ds_{t-1}`` for t = 1..T-1
    in the direction's own step order (for d = 1, step 1 is each sequence's second-to-last element)."""

    norms: Dict[str, Dict[Tuple[int, int], Tensor]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Dict[Tuple[int, int], Tensor]:
        return self.norms[name]


def recurrent_jacobian_norms(model: nn.Module, run_fn: Callable[[nn.Module], object]) -> JacobianNorms:
    """Run ``run_fn(model)`` once (eval mode) and return the spectral norms of the recurrent Jacobians."""
    layers, calls = record_calls(model, run_fn, grad=False)
    result = JacobianNorms()
    for name, call in calls.items():
        if call.lengths is not None:
            raise InvalidValueError(
                f"recurrent_jacobian_norms needs full-length sequences; {name!r} got lengths {call.lengths.tolist()}"
            )
        replays, _ = replay(layers[name], call)
        result.norms[name] = {key: _norms(r) for key, r in replays.items()}
    return result


def _norms(r) -> Tensor:
    """(B, T-1) spectral norms of d s_t / d s_{t-1}, t = 1..T-1, for one direction's replayed steps."""
    rows = []
    for xp, prev in zip(r.xp[1:], r.prev[1:], strict=True):
        rows.append(torch.linalg.matrix_norm(step_jacobian(r.cell, r.w, xp, prev), ord=2))  # (B,)
    return torch.stack(rows, dim=1).cpu()


def step_jacobian(cell, w, xp: Tensor, prev) -> Tensor:
    """(B, S, S): ``J[b, i, j] = d s_i / d s_j`` of one step ``s = cell.recur(xp, s_prev, w)`` for each
    sequence b, the parts of a tuple state (LSTM ``(h, c)``) concatenated and held independent."""
    with torch.enable_grad():
        parts = tuple(p.detach().requires_grad_(True) for p in (prev if isinstance(prev, tuple) else (prev,)))
        _, new = cell.recur(xp.detach(), parts if isinstance(prev, tuple) else parts[0], w)
        new = new if isinstance(new, tuple) else (new,)
        sizes = [n.shape[-1] for n in new]
        S, B = sum(sizes), new[0].shape[0]
        eye = torch.eye(S, dtype=new[0].dtype, device=new[0].device)  # one row of J per basis vector
        grad_outputs = [c.unsqueeze(1).expand(S, B, n) for c, n in zip(eye.split(sizes, dim=1), sizes, strict=True)]
        grads = torch.autograd.grad(new, parts, grad_outputs=grad_outputs, allow_unused=True, is_grads_batched=True)
    cols = [torch.zeros(S, *p.shape, dtype=p.dtype) if g is None else g for g, p in zip(grads, parts, strict=True)]
    return torch.cat(cols, dim=-1).transpose(0, 1).detach()  # (B, S rows, S cols)
