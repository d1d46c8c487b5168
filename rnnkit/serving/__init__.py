"""Serving: streaming sessions over any causal model, ONNX export with explicit state, int8.

* :func:`stream` / :class:`StreamSession` (:mod:`.session`): a batch of streams stepped one
  element at a time, equal to the full-sequence run; rows join, leave and reset independently;
  state saves and restores (safetensors).
* :mod:`.adapter`: the seam a model kind plugs into (:class:`StepAdapter`, :func:`register_adapter`).
"""

from .adapter import StepAdapter, adapter_for, register_adapter
from .session import StreamSession, stream

__all__ = ["stream", "StreamSession", "StepAdapter", "register_adapter", "adapter_for"]
