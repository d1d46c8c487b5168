"""Truncated backpropagation through time (TBPTT), in the plain form of min-char-rnn.

A long stream is cut into chunks of ``k`` steps. For chunk j the model starts from the state the
previous chunk ended in, with its *values* kept and its *graph* cut (``detach``)::

    state = None                                   # zeros
    for x, y, reset in chunks:                     # (B, k, ...), (B, k, ...), (B,)
        state = reset_state(detach_state(state), reset)
        loss, state = step_fn(model, (x, y, reset), state)
        loss.backward(); clip; optimizer.step(); zero_grad

The trade-off (the seeds say it plainly): the forward pass sees the whole past through the carried
state, but the gradient of a chunk's loss stops at the chunk's first step. A dependency longer than
``k`` steps still shapes the state, yet no gradient ever teaches the model to *create* it -- the
model can only learn to use memories it already keeps for shorter-range reasons. Larger ``k`` means
longer credit assignment, more memory (activations of k steps are kept) and fewer updates per pass.
With ``k`` equal to the sequence length TBPTT is exactly full BPTT.

``reset`` marks rows whose stream starts a new, unrelated sequence (a new document or series, or
the start of an epoch): their carried state is zeroed, so state is never carried across unrelated
samples.

TBPTT(k1, k2) -- a longer window (``bptt_window = k1``, a multiple of ``k2 = bptt``): the stream still
advances ``k2`` new steps per update and the loss covers only those, but the forward pass for the
update starts ``k1 - k2`` steps earlier, from the detached state carried at that point, and re-runs
the previous ``k1/k2 - 1`` chunks with gradient. So the gradient of each loss flows back through up to
``k1`` steps (Williams and Peng's TBPTT(h, h')), at ``k1/k2`` times the forward cost. With ``k1 == k2``
it is plain TBPTT(k).
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

import torch
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError, describe

State = Any  # a tensor, or a (nested) tuple/list/dict of tensors, or None

__all__ = ["detach_state", "reset_state", "state_is_finite", "split_time", "WindowedTBPTT"]


def detach_state(state: State) -> State:
    """The same nested structure with every tensor detached: values kept, graph cut."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    raise InvalidTypeError(f"state must be a tensor or a nested tuple/list/dict of tensors, got {type(state).__name__}")


def reset_state(state: State, reset: Optional[Tensor], batch_dim: int = 1) -> State:
    """Zero the rows of every state tensor where ``reset`` (bool, shape (B,)) is True.

    ``batch_dim`` is the batch dimension of the state tensors: 1 for rnnkit and torch.nn layers,
    whose state is ``(num_layers * D, B, H)``.
    """
    if state is None or reset is None:
        return state
    if not isinstance(reset, Tensor) or reset.dim() != 1 or reset.dtype != torch.bool:
        raise InvalidTypeError(f"reset must be a 1-D bool tensor (B,), got {describe(reset)}")
    if not bool(reset.any()):
        return state
    if isinstance(state, Tensor):
        if state.dim() <= batch_dim or state.shape[batch_dim] != reset.shape[0]:
            raise InvalidValueError(
                f"a state tensor of shape {tuple(state.shape)} has no batch dim {batch_dim} of size "
                f"{reset.shape[0]} (the reset mask's length)"
            )
        shape = [1] * state.dim()
        shape[batch_dim] = reset.shape[0]
        return state.masked_fill(reset.to(state.device).view(shape), 0)
    if isinstance(state, (tuple, list)):
        return type(state)(reset_state(s, reset, batch_dim) for s in state)
    if isinstance(state, dict):
        return {k: reset_state(v, reset, batch_dim) for k, v in state.items()}
    raise InvalidTypeError(f"state must be a tensor or a nested tuple/list/dict of tensors, got {type(state).__name__}")


def state_is_finite(state: State) -> bool:
    if state is None:
        return True
    if isinstance(state, Tensor):
        return bool(torch.isfinite(state).all()) if state.is_floating_point() else True
    if isinstance(state, dict):
        return all(state_is_finite(v) for v in state.values())
    return all(state_is_finite(s) for s in state)


def split_time(x: Tensor, k: int, dim: int = 1) -> List[Tensor]:
    """Cut ``x`` into chunks of ``k`` steps along ``dim`` (the last chunk may be shorter)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidValueError(f"k must be a positive int, got {k!r}")
    if not isinstance(x, Tensor):
        raise InvalidTypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    return list(torch.split(x, k, dim=dim))


class WindowedTBPTT:
    """Carries the state between chunks and runs one update's forward pass (TBPTT(k1, k2)).

    ``run(step_fn, model, chunk, reset)`` returns the loss of ``chunk`` (to backpropagate); afterwards
    call ``end_update()`` to detach what is carried. With ``window == 1`` (k1 == k2) this is exactly
    the loop in the module docstring. With ``window = k1 / k2 > 1`` the previous ``window - 1`` chunks
    are kept and re-run from the state carried at the window's start; their losses are discarded.
    """

    def __init__(self, window: int = 1, batch_dim: int = 1) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise InvalidValueError(f"window (k1 / k2) must be a positive int, got {window!r}")
        self.window = window
        self.batch_dim = batch_dim
        self.start_state: State = None  # detached state at the start of the kept chunks
        self.kept: List[Tuple[Any, Optional[Tensor]]] = []  # the previous chunks of the window
        self._states_after: List[State] = []  # state after each chunk of the last run (with graph)

    def reset_all(self) -> None:
        self.start_state, self.kept, self._states_after = None, [], []

    def run(self, step_fn: Callable, model, chunk: Any, reset: Optional[Tensor]) -> Tensor:
        state = self.start_state
        self._states_after = []
        loss = None
        for past_chunk, past_reset in self.kept + [(chunk, reset)]:
            state = reset_state(state, past_reset, self.batch_dim)
            out = step_fn(model, past_chunk, state)
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise InvalidTypeError(
                    "a TBPTT step_fn must return (loss, state), got "
                    f"{type(out).__name__}{'' if not isinstance(out, (tuple, list)) else f' of length {len(out)}'}"
                )
            loss, state = out
            self._states_after.append(state)
        self._pending = (chunk, reset)
        return loss

    def end_update(self) -> None:
        """Move the window one chunk on: keep the newest chunks, detach the carried state."""
        self.kept.append(self._pending)
        if len(self.kept) >= self.window:
            # the oldest kept chunk leaves the window; the state after it becomes the window start
            drop = len(self.kept) - (self.window - 1)
            self.start_state = detach_state(self._states_after[drop - 1])
            self.kept = self.kept[drop:]
        self._states_after = []
        self._pending = None

    @property
    def carried_state(self) -> State:
        return self.start_state
