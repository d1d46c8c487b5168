"""Streaming sessions: a batch of independent streams, each stepped one element at a time.

::

    session = rnnkit.stream(model, batch_size=2)   # rows 0 and 1, each at its start state
    y = session.step(x)                            # x: one element per row -> y: (B, ...) one output per row
    y = session.step(x, rows=[1])                  # only row 1 moves; x has len(rows) in dim 0
    new = session.add(3)                           # streams join: rows [2, 3, 4] at their start state
    session.remove([0])                            # streams leave; the other row ids stay valid
    session.reset([1])                             # row 1 back to its start state, others untouched
    session.save_state("s.safetensors"); session.restore("s.safetensors")   # exact continuation

The promise: stepping a sequence through a session gives, at every step, what the model's
full-sequence run gives at that position (to 1e-6 in float32; tested for every model kind, cell
and engine). Memory per stream is the model's state: O(1) in the number of steps.

What ``x`` and ``y`` are depends on the model kind (its :class:`~rnnkit.serving.adapter.StepAdapter`):

=====================  ===========================================  =================================
kind                   x (per step)                                 y (per step)
=====================  ===========================================  =================================
language model         token ids, long ``(B,)``                     next-token logits ``(B, V)``
classifier (uni)       token ids ``(B,)`` or values ``(B, C)``      running class probabilities ``(B, K)``
tagger (uni)           token ids ``(B,)`` or values ``(B, C)``      tag scores ``(B, K)`` (emissions)
seq2seq decoder        previous target token ids ``(B,)``            next-token logits ``(B, V)``
forecaster             the series' newest values ``(B, F)``          one-step forecast (``timeseries``)
=====================  ===========================================  =================================

Rows are named by ids that never change while the row lives (``session.rows`` lists them in the
order of ``y``); removing rows compacts the batch without renaming the others. The session runs
the model in eval mode under ``torch.no_grad``; one session is not meant to be stepped from two
threads at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .._checks import (
    FileFormatError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
    NotAFileError,
    describe,
    is_int,
    non_negative_int,
)
from ..data.atomic import atomic_write
from .adapter import StateDict, StepAdapter, adapter_for

PathLike = Union[str, os.PathLike]
FORMAT = "rnnkit.stream_session"
FORMAT_VERSION = 1
_ROWS, _STEPS, _STATE, _START = "session.rows", "session.steps", "state.", "start."


class StreamSession:
    """A batch of streams over one model. Build with :func:`stream` (or from an adapter).

    Attributes:
        adapter: the :class:`~rnnkit.serving.adapter.StepAdapter` doing the model's steps.
        kind: the model kind (``adapter.kind``), e.g. ``"language_model"``.
    """

    def __init__(self, adapter: StepAdapter, batch_size: int = 1, **start) -> None:
        if not isinstance(adapter, StepAdapter):
            raise InvalidTypeError(f"adapter must be a StepAdapter, got {describe(adapter)}")
        self.adapter = adapter
        self.kind = adapter.kind
        self._ids: List[int] = []
        self._slot: Dict[int, int] = {}
        self._next_id = 0
        self._state: StateDict = {}  # (B, ...) per key, rows in the order of self._ids
        self._start: StateDict = {}  # each row's start state, for reset
        self._steps = torch.zeros(0, dtype=torch.long)
        self.add(non_negative_int("batch_size", batch_size), **start)

    # ---- rows --------------------------------------------------------------------------------
    @property
    def rows(self) -> List[int]:
        """The live row ids, in the order of :meth:`step`'s outputs."""
        return list(self._ids)

    @property
    def batch_size(self) -> int:
        return len(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def tokenizer(self):
        """The model's vocabulary (``encode(text)`` / ``decode(ids)``) for kinds that read or write
        tokens, else None."""
        return getattr(self.adapter, "tokenizer", None)

    @property
    def steps(self) -> Dict[int, int]:
        """Steps taken by each live row since it joined or was last reset: ``{row id: steps}``."""
        return dict(zip(self._ids, self._steps.tolist(), strict=True))

    def add(self, n: int = 1, **start) -> List[int]:
        """``n`` new streams at their start state (``start`` as for :func:`stream`, e.g. a seq2seq
        ``source``); returns their row ids."""
        n = non_negative_int("n", n)
        if n == 0:
            return []
        with torch.no_grad():
            fresh = self.adapter.start(n, **start)
        if self._state:
            self._state = self.adapter.merge(self._state, fresh)
            self._start = self.adapter.merge(self._start, fresh)
        else:  # two copies: a row's state is updated in place, its start state never
            self._state = {k: v.clone() for k, v in fresh.items()}
            self._start = {k: v.clone() for k, v in fresh.items()}
        new = list(range(self._next_id, self._next_id + n))
        self._next_id += n
        for i in new:
            self._slot[i] = len(self._ids)
            self._ids.append(i)
        self._steps = torch.cat([self._steps, torch.zeros(n, dtype=torch.long)])
        return new

    def remove(self, rows: Sequence[int]) -> None:
        """Streams leave: their rows are dropped and the batch compacted (other ids unchanged)."""
        gone = set(self._slots(rows, "rows").tolist())
        keep = torch.tensor([s for s in range(len(self._ids)) if s not in gone], dtype=torch.long)
        self._take(keep)

    def _take(self, slots: Tensor) -> None:
        self._state = {k: v.index_select(0, slots.to(v.device)) for k, v in self._state.items()}
        self._start = {k: v.index_select(0, slots.to(v.device)) for k, v in self._start.items()}
        self._steps = self._steps.index_select(0, slots)
        self._ids = [self._ids[s] for s in slots.tolist()]
        self._slot = {i: s for s, i in enumerate(self._ids)}

    def reset(self, rows: Optional[Sequence[int]] = None) -> None:
        """Put ``rows`` (all by default) back at their start state; the other rows are untouched."""
        if rows is None:
            self._state = {k: v.clone() for k, v in self._start.items()}
            self._steps.zero_()
            return
        slots = self._slots(rows, "rows")
        for k, v in self._state.items():
            v.index_copy_(0, slots.to(v.device), self._start[k].index_select(0, slots.to(v.device)))
        self._steps[slots] = 0

    def _slots(self, rows: object, name: str) -> Tensor:
        if isinstance(rows, Tensor):
            rows = rows.tolist()
        if is_int(rows):
            raise InvalidTypeError(f"{name} must be a list of row ids, got the single id {rows!r}; use [{rows}]")
        if not isinstance(rows, (list, tuple, range)) or not all(is_int(r) for r in rows):
            raise InvalidTypeError(f"{name} must be a list of row ids (ints), got {describe(rows)}")
        unknown = [r for r in rows if r not in self._slot]
        if unknown:
            raise InvalidValueError(
                f"{name} {unknown[:5]} are not rows of this session; its rows are {self._ids[:20]}"
                + ("..." if len(self._ids) > 20 else "")
            )
        if len(set(rows)) != len(rows):
            raise InvalidValueError(f"{name} must not repeat a row id, got {list(rows)[:20]}")
        return torch.tensor([self._slot[r] for r in rows], dtype=torch.long)

    # ---- stepping ----------------------------------------------------------------------------
    def step(self, x: object, rows: Optional[Sequence[int]] = None) -> Tensor:
        """One element for every row (or for ``rows`` only); returns the model's output for it,
        ``(len(rows), ...)`` in the order given. Rows not named keep their state and step count."""
        if rows is None:
            if not self._ids:
                raise InvalidValueError("the session has no rows to step; add streams with session.add(n)")
            x = self.adapter.check_input(x, len(self._ids))
            with torch.no_grad():
                y, new = self.adapter.step(x, self._state)
            self._state.update(new)
            self._steps += 1
            return y
        slots = self._slots(rows, "rows")
        if len(slots) == 0:
            raise InvalidValueError("rows is empty: name at least one row to step")
        x = self.adapter.check_input(x, len(slots))
        sub = {k: v.index_select(0, slots.to(v.device)) for k, v in self._state.items()}
        with torch.no_grad():
            y, new = self.adapter.step(x, sub)
        for k, v in new.items():
            self._state[k].index_copy_(0, slots.to(v.device), v.to(self._state[k].dtype))
        self._steps[slots] += 1
        return y

    def run(self, xs: Tensor) -> Tensor:
        """Step every row through ``xs`` (time on dim 1: ``(B, T, ...)``); returns ``(B, T, ...)``."""
        if not isinstance(xs, Tensor) or xs.dim() < 2:
            raise InvalidValueError(f"xs must be a tensor (B, T, ...) with time on dim 1, got {describe(xs)}")
        return torch.stack([self.step(x) for x in xs.unbind(1)], 1)

    # ---- state -------------------------------------------------------------------------------
    @property
    def state(self) -> StateDict:
        """A copy of the live rows' state: ``{name: (B, ...)}``, rows in the order of :attr:`rows`."""
        return {k: v.clone() for k, v in self._state.items()}

    def load_state(self, state: Dict[str, Tensor]) -> None:
        """Set the live rows' state from a dict shaped like :attr:`state` (step counts unchanged)."""
        checked = self.adapter.check_state(state, len(self._ids), "state")
        self._state = {k: v.clone() for k, v in checked.items()}

    def save_state(self, path: PathLike) -> None:
        """Write the whole session (rows, step counts, state, start states) to a safetensors file,
        atomically; :meth:`restore` continues exactly where it was."""
        from safetensors.torch import save

        tensors = {_ROWS: torch.tensor(self._ids, dtype=torch.long), _STEPS: self._steps.clone()}
        tensors.update({_STATE + k: v.contiguous().cpu() for k, v in self._state.items()})
        tensors.update({_START + k: v.contiguous().cpu() for k, v in self._start.items()})
        meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "kind": self.kind}
        meta["next_id"] = str(self._next_id)
        atomic_write(path, save(tensors, metadata=meta))

    def restore(self, path: PathLike) -> None:
        """Replace this session's rows and state by those saved in ``path`` by :meth:`save_state`
        (for the same model); a file that is not such a session raises a UserError naming it."""
        from safetensors import SafetensorError, safe_open

        p = Path(os.fspath(path))
        if not p.exists():
            raise MissingFileError(f"no saved session at {str(p)!r}")
        if p.is_dir():
            raise NotAFileError(f"{str(p)!r} is a folder, not a saved session file")
        try:
            with safe_open(str(p), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as err:
            raise FileFormatError(f"{str(p)!r} is not a readable safetensors file: {err}") from None
        if meta.get("format") != FORMAT:
            raise FileFormatError(f"{str(p)!r} is not a saved stream session (no {FORMAT!r} metadata)")
        if meta.get("kind") != self.kind:
            raise FileFormatError(f"{str(p)!r} holds a {meta.get('kind')!r} session, this session is {self.kind!r}")
        try:
            rows, steps = tensors.pop(_ROWS), tensors.pop(_STEPS)
            next_id = int(meta["next_id"])
        except (KeyError, ValueError):
            raise FileFormatError(f"{str(p)!r} lacks the session's rows, steps or next_id") from None
        n = rows.numel()
        if rows.dtype != torch.long or steps.dtype != torch.long or rows.shape != (n,) or steps.shape != (n,):
            raise FileFormatError(f"{str(p)!r}: session.rows and session.steps must be int64 vectors of one length")
        ids = rows.tolist()
        if len(set(ids)) != n or any(i < 0 or i >= next_id for i in ids):
            raise FileFormatError(f"{str(p)!r}: session.rows must be distinct ids below next_id={next_id}")
        state = {k[len(_STATE) :]: v for k, v in tensors.items() if k.startswith(_STATE)}
        start = {k[len(_START) :]: v for k, v in tensors.items() if k.startswith(_START)}
        try:
            state = self.adapter.check_state(state, n, f"{str(p)!r} state")
            start = self.adapter.check_state(start, n, f"{str(p)!r} start state")
        except (InvalidValueError, InvalidTypeError) as err:
            raise FileFormatError(f"the saved session does not fit this model: {err}") from None
        self._state, self._start, self._steps = state, start, steps.clone()
        self._ids, self._next_id = ids, next_id
        self._slot = {i: s for s, i in enumerate(ids)}

    def __repr__(self) -> str:
        return f"StreamSession(kind={self.kind!r}, rows={len(self._ids)}, input={self.adapter.input_description!r})"


def stream(model: nn.Module, batch_size: int = 1, **start) -> StreamSession:
    """A :class:`StreamSession` over ``model`` with ``batch_size`` streams at their start.

    ``model`` must be in eval mode (``rnnkit.load`` returns it so; dropout would make steps random)
    and causal: a bidirectional model is refused, saying why. ``start`` is what a kind needs to
    begin a stream (a conditioned language model's ``condition`` (B, C); a seq2seq model's
    ``source`` token ids (B, S) with optional ``source_lengths``).
    """
    if isinstance(model, nn.Module) and model.training:
        raise InvalidValueError(
            f"the {type(model).__name__} is in training mode (dropout would make every step random); "
            f"call model.eval() before streaming it"
        )
    return StreamSession(adapter_for(model), non_negative_int("batch_size", batch_size), **start)
