"""An onnxruntime step under a streaming session: ``rnnkit serve --engine onnx``.

The session's rows, start states, resets and checks stay the model's own adapter's; only the step
itself runs the model's exported step graph (:func:`rnnkit.serving.export_onnx.export_onnx`,
``graph="step"``: the state as explicit inputs and outputs) in onnxruntime, one thread. A step of
a small recurrent model is bound by per-operation overhead, which onnxruntime's fused graph pays
once per call instead of once per PyTorch operation. The export is checked against the PyTorch
step on an example batch before it is used (to 1e-4).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from ..._checks import InvalidValueError
from ..adapter import StateDict, StepAdapter, adapter_for
from ..export_onnx import export_onnx, onnxruntime_session

CHECK_ATOL = 1e-4


class OnnxStep(StepAdapter):
    """``model``'s adapter, with :meth:`step` run by onnxruntime from the step graph written to ``path``."""

    def __init__(self, model, path: Path) -> None:
        inner = adapter_for(model)
        super().__init__(model)
        self.inner = inner
        self.kind = inner.kind
        self.input_description = f"{inner.input_description} (onnxruntime)"
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice is not the user's business
            warnings.simplefilter("ignore", DeprecationWarning)
            meta = export_onnx(model, path, graph="step")
        self.names = [(s["session_key"], s["input"], s["output"]) for s in meta["state"]]
        self.runtime = onnxruntime_session(path)
        self._check()

    # the session's bookkeeping stays the model's own
    def start(self, n: int, **start) -> StateDict:
        return self.inner.start(n, **start)

    def check_input(self, x: object, n: int) -> Tensor:
        return self.inner.check_input(x, n)

    def merge(self, a: StateDict, b: StateDict) -> StateDict:
        return self.inner.merge(a, b)

    def check_state(self, state: object, n, source: str) -> StateDict:
        return self.inner.check_state(state, n, source)

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        feeds = {"x": x.numpy()}
        feeds.update({i: np.ascontiguousarray(state[k].numpy()) for k, i, _ in self.names})
        y, *nxt = self.runtime.run(None, feeds)
        return torch.from_numpy(y), {k: torch.from_numpy(v) for (k, _, _), v in zip(self.names, nxt)}

    def _check(self) -> None:
        with torch.no_grad():
            state = self.inner.start(3)
            x = self.inner.example_input(3)
            want, want_state = self.inner.step(x, {k: v.clone() for k, v in state.items()})
            got, got_state = self.step(x, state)
        diff = float((want - got).abs().max())
        for k, v in want_state.items():
            diff = max(diff, float((v - got_state[k]).abs().max()))
        if not diff <= CHECK_ATOL:
            raise InvalidValueError(
                f"the exported step graph differs from the PyTorch step by {diff:.2e} (> {CHECK_ATOL}): "
                f"serve this model with --engine torch"
            )
