"""The step adapter: how one kind of model takes one step of a stream (the seam under sessions).

A :class:`~rnnkit.serving.session.StreamSession` knows nothing about model kinds. It holds a batch
of rows (streams) and a state dict whose tensors all have the row on dim 0, and asks an adapter:

    state = adapter.start(n, **start)        # Dict[str, Tensor], each (n, ...): where n streams begin
    x = adapter.check_input(x, n)            # validate one step's input for n rows (n in dim 0)
    y, new = adapter.step(x, state)          # y: (n, ...) the model's per-step output;
                                             # new: the state tensors that changed (a subset of keys)

Stepping a sequence through ``step`` must equal the model's full-sequence run (the streaming
promise, tested per kind). An adapter runs in eval mode under ``torch.no_grad``; the session
guarantees both.

Which adapter serves a model: :func:`register_adapter` maps a model class to a factory
``factory(model) -> StepAdapter``; :func:`adapter_for` walks the model's class hierarchy. Layers
above ``serving`` (``timeseries``) register their own models' adapters on import, so ``serving``
never imports them. A model may also offer ``model.step_adapter()`` itself.

Recurrent-layer state ``(L * D, B, S)`` (or a tuple of them) is kept row-first, ``(B, L * D, S)``,
under the keys ``{prefix}.{i}`` (:func:`layer_state_to_rows`, :func:`rows_to_layer_state`).
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple, Type

import torch
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, describe

StateDict = Dict[str, Tensor]


class StepAdapter:
    """One kind of model, one step at a time. Subclasses set :attr:`kind` and implement the three
    methods below; :meth:`merge` and :meth:`check_state` have defaults for fixed-shape state."""

    kind: str = "model"
    #: what ``step`` takes and returns, in words (for error messages and ``repr``)
    input_description: str = "one input per row"

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def start(self, n: int, **start) -> StateDict:
        """The state ``n`` new streams begin from, each tensor ``(n, ...)``."""
        raise NotImplementedError("abstract: an adapter defines start(n, **start)")

    def check_input(self, x: object, n: int) -> Tensor:
        """``x`` as the tensor :meth:`step` takes for ``n`` rows, or a UserError naming what is wrong."""
        raise NotImplementedError("abstract: an adapter defines check_input(x, n)")

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        """One step for every row of ``state``: ``(output (n, ...), changed state tensors)``."""
        raise NotImplementedError("abstract: an adapter defines step(x, state)")

    def example_input(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """A valid input for ``n`` rows (random with a ``generator``, for checks and export traces)."""
        raise NotImplementedError("abstract: an adapter defines example_input(n)")

    def merge(self, a: StateDict, b: StateDict) -> StateDict:
        """Rows of ``a`` then rows of ``b`` (streams joining a session)."""
        return {k: torch.cat([a[k], b[k]], 0) for k in a}

    def check_state(self, state: object, n: Optional[int], source: str) -> StateDict:
        """``state`` if it has this adapter's keys and shapes (``n`` rows, or any when None), else a
        UserError naming ``source`` (a file, or "state")."""
        if not isinstance(state, dict):
            raise InvalidTypeError(f"{source} must be a dict of tensors, got {describe(state)}")
        template = self.start(1)
        if set(state) != set(template):
            raise InvalidValueError(f"{source} must have the keys {sorted(template)}, got {sorted(state)}")
        out = {}
        for key, want in template.items():
            value = state[key]
            rows = n if n is not None else (value.shape[0] if isinstance(value, Tensor) and value.dim() else -1)
            shape = (rows, *want.shape[1:])
            if not isinstance(value, Tensor) or tuple(value.shape) != shape or value.dtype != want.dtype:
                raise InvalidValueError(
                    f"{source}[{key!r}] must be a {want.dtype} tensor of shape {shape}, got {describe(value)}"
                )
            out[key] = value.to(want.device)
        return out


AdapterFactory = Callable[..., StepAdapter]
_REGISTRY: Dict[type, AdapterFactory] = {}


def register_adapter(model_class: Type[nn.Module], factory: AdapterFactory) -> None:
    """Make ``rnnkit.stream(model)`` use ``factory(model, **options)`` for instances of ``model_class``."""
    if not isinstance(model_class, type):
        raise InvalidTypeError(f"model_class must be a class, got {describe(model_class)}")
    if not callable(factory):
        raise InvalidTypeError(f"factory must be callable as factory(model), got {describe(factory)}")
    _REGISTRY[model_class] = factory


def _register_builtin() -> None:
    """The adapters of the model kinds below ``serving`` (imported late: they import models)."""
    from . import session_models, session_seq2seq  # noqa: F401  (they register on their first import)


def adapter_for(model: object, **options) -> StepAdapter:
    """The step adapter for ``model``, or a UserError saying which models can stream."""
    own = getattr(model, "step_adapter", None)  # a model above serving (a forecaster) brings its own
    if not callable(own) and not isinstance(model, nn.Module):
        raise InvalidTypeError(
            f"model must be a rnnkit model (a torch.nn.Module or a forecaster), got {describe(model)}"
        )
    if callable(own):
        adapter = own(**options)
    else:
        _register_builtin()
        factory = next((_REGISTRY[c] for c in type(model).__mro__ if c in _REGISTRY), None)
        if factory is None:
            known = sorted(c.__name__ for c in _REGISTRY)
            raise InvalidTypeError(
                f"cannot stream a {type(model).__name__}: a session needs a model kind with a step adapter "
                f"({', '.join(known)}, Forecaster, AnomalyDetector)"
            )
        adapter = factory(model, **options)
    if not isinstance(adapter, StepAdapter):
        raise InvalidTypeError(f"the step adapter of {type(model).__name__} is not a StepAdapter: {describe(adapter)}")
    return adapter


# ---- recurrent-layer state, row first ----------------------------------------------------------


def layer_state_to_rows(state, prefix: str) -> StateDict:
    """A layer's state ``(L * D, B, S)`` (or a tuple of them) as ``{prefix}.{i}: (B, L * D, S)``."""
    parts = state if isinstance(state, (tuple, list)) else (state,)
    return {f"{prefix}.{i}": s.transpose(0, 1) for i, s in enumerate(parts)}


def rows_to_layer_state(rows: StateDict, prefix: str, is_tuple: bool):
    """The inverse of :func:`layer_state_to_rows`: contiguous ``(L * D, B, S)`` tensors."""
    parts = []
    i = 0
    while f"{prefix}.{i}" in rows:
        parts.append(rows[f"{prefix}.{i}"].transpose(0, 1).contiguous())
        i += 1
    return tuple(parts) if is_tuple else parts[0]


def refuse_bidirectional(model_name: str, layer: nn.Module) -> None:
    """A bidirectional layer reads the future: it cannot be stepped one element at a time."""
    if getattr(layer, "bidirectional", False):
        raise InvalidValueError(
            f"cannot stream this {model_name}: its recurrent layer is bidirectional, so every output depends "
            f"on elements not seen yet (the reverse direction reads the sequence from its end); train it with "
            f"bidirectional=False to stream it"
        )
