"""Serving: streaming sessions over any causal model, ONNX export with explicit state, int8.

* :func:`stream` / :class:`StreamSession` (:mod:`.session`): a batch of streams stepped one
  element at a time, equal to the full-sequence run; rows join, leave and reset independently;
  state saves and restores (safetensors).
* :mod:`.adapter`: the seam a model kind plugs into (:class:`StepAdapter`, :func:`register_adapter`);
  :mod:`.session_models` and :mod:`.session_seq2seq` hold the adapters of the models below
  ``serving``; a forecaster brings its own (``rnnkit.timeseries.streaming``).
* :mod:`.export_onnx`: the step graph (state as explicit inputs/outputs) or the whole-sequence
  graph as ONNX, with a metadata JSON; :func:`~.export_onnx.compare_with_onnxruntime` checks it.
* :mod:`.quantize`: int8 through onnxruntime's dynamic quantisation.
* ``server/``: the streaming server (docs/server.md).
"""

from .adapter import StepAdapter, adapter_for, register_adapter
from .session import StreamSession, stream

__all__ = ["stream", "StreamSession", "StepAdapter", "register_adapter", "adapter_for"]
