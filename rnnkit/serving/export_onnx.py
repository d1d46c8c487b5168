"""ONNX export: a step graph with the state as explicit inputs and outputs (and, for a language
model or a stock layer, a whole-sequence graph with a dynamic time axis).

Step graph (every kind a session streams; the same function as ``session.step``)::

    inputs:   x            one element per row: int64 (B,) token ids, or float32 (B, C) values
              state_<k>    float32 (B, ...) per state tensor k of the session (row first)
    outputs:  y            the step's output (logits (B, V), class probabilities (B, K), ...)
              next_<k>     the state after the step, same shapes: feed it back as state_<k>

    A stream starts from each state's ``start`` value (0 for the recurrent state; the metadata
    JSON says which), so a runtime needs nothing of rnnkit.

Sequence graph (``graph="sequence"``: language models and stock layers)::

    inputs:   x (B, T) token ids (or (B, T, C) values), state_<k> as above; B and T dynamic
    outputs:  y (B, T, ...) per position, next_<k> the state after the last position

Exporter: torch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``). The
dynamo exporter fails on the models' data-dependent input checks (``if bool((ids >= V).any())``)
and has specialised RNN time axes in several releases (torch #118740, #126339). The step graph is
traced through rnnkit's one time loop (``engine="loop"``), so any cell whose step is made of
traceable tensor operations exports, and a GRU/LSTM step becomes MatMul/Gemm + pointwise ops
(which int8 dynamic quantisation reaches). The sequence graph runs the stock layers as their
``torch.nn`` twins (same parameter names, weights copied), which export to ONNX's own
LSTM/GRU/RNN operators with a dynamic time axis; a layer of custom cells has no such operator, and
its sequence graph is refused with that reason (its step graph exports).

Traced at batch 2 (tracing at batch 1 lets constants specialise the batch axis, onnxruntime
#19270/#11830) with the batch axis dynamic; :func:`compare_with_onnxruntime` checks a file against
the PyTorch model at any batch and length. A JSON file beside the ``.onnx`` (:func:`metadata_path`)
describes inputs, outputs, state pairs, start values and the vocabulary / labels.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import warnings
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from .._checks import (
    InvalidValueError,
    MissingFileError,
    MissingOptionalDependency,
    NotAFileError,
    choice,
    positive_int,
)
from ..data.atomic import atomic_write
from ..layers.recurrent import Recurrent
from ..layers.stock import GRU, LSTM, RNN
from .adapter import StepAdapter, adapter_for

PathLike = Union[str, os.PathLike]
FORMAT = "rnnkit.onnx"
FORMAT_VERSION = 1
GRAPHS = ("step", "sequence")
EXPORTER = "torch.onnx.export(dynamo=False) (TorchScript-based)"
DEFAULT_OPSET = 17


def metadata_path(onnx_path: PathLike) -> Path:
    """The metadata JSON beside an exported file: ``model.onnx`` -> ``model.onnx.json``."""
    p = Path(os.fspath(onnx_path))
    return p.with_name(p.name + ".json")


@contextlib.contextmanager
def loop_engine(model: nn.Module):
    """Run every recurrent layer of ``model`` on the loop engine inside the block (then restore):
    its steps are plain tensor operations a tracer records."""
    layers = [m for m in model.modules() if isinstance(m, Recurrent)]
    saved = [m.engine for m in layers]
    try:
        for m in layers:
            m.engine = "loop"
        yield
    finally:
        for m, engine in zip(layers, saved, strict=True):
            m.engine = engine


def torch_twin(layer: Recurrent) -> nn.Module:
    """The ``torch.nn.LSTM/GRU/RNN`` computing what a stock rnnkit layer computes (weights copied)."""
    cls = {LSTM: nn.LSTM, GRU: nn.GRU, RNN: nn.RNN}.get(type(layer))
    if cls is None or any(
        type(c).__name__ not in ("LSTMCell", "GRUCell", "ElmanCell") for r in layer.cell_grid() for c in r
    ):
        raise InvalidValueError(
            f"the sequence graph needs stock LSTM/GRU/RNN layers (ONNX has operators only for those), got "
            f"{type(layer).__name__} with {type(layer.cell_grid()[0][0]).__name__}; export graph='step' instead"
        )
    kw = dict(
        num_layers=layer.num_layers,
        bias=layer.bias,
        batch_first=layer.batch_first,
        bidirectional=layer.bidirectional,
    )
    if cls is nn.RNN:
        kw["nonlinearity"] = layer.nonlinearity
    if cls is nn.LSTM:
        kw["proj_size"] = layer.proj_size
    p = next(layer.parameters())
    twin = cls(layer.input_size, layer.hidden_size, **kw).to(device=p.device, dtype=p.dtype)
    twin.load_state_dict({k: v for k, v in layer.state_dict().items() if k in twin.state_dict()}, strict=True)
    return twin.eval()


class StepGraph(nn.Module):
    """``forward(x, *state) -> (y, *next_state)``: one session step with the state explicit."""

    def __init__(self, adapter: StepAdapter, keys: Sequence[str]) -> None:
        super().__init__()
        self.adapter = adapter
        self.model = adapter.model  # a submodule, so the exporter sees its parameters
        self.keys = list(keys)

    def forward(self, x: Tensor, *state: Tensor) -> Tuple[Tensor, ...]:
        current = dict(zip(self.keys, state, strict=True))
        y, new = self.adapter.step(x, current)
        return (y, *[new.get(k, current[k]) for k in self.keys])


class SequenceGraph(nn.Module):
    """``forward(xs (B, T, ...), *state) -> (ys (B, T, ...), *next_state)`` for a language model or a
    stock layer, its recurrent layer replaced by the torch.nn twin."""

    def __init__(self, model: nn.Module, keys: Sequence[str], twin: bool = True) -> None:
        super().__init__()
        self.keys = list(keys)
        self.batch_first = model.batch_first if isinstance(model, Recurrent) else True
        if not twin:  # rnnkit's own layer (a reference to compare against)
            self.model = model
        elif isinstance(model, Recurrent):
            self.model = torch_twin(model)
        else:
            self.model = copy.deepcopy(model)
            self.model.rnn = torch_twin(model.rnn)

    def forward(self, xs: Tensor, *state: Tensor) -> Tuple[Tensor, ...]:
        layer_state = tuple(s.transpose(0, 1).contiguous() for s in state)
        hx = layer_state if len(layer_state) > 1 else layer_state[0]
        if not self.batch_first:
            xs = xs.transpose(0, 1)
        ys, new = self.model(xs, hx)
        if not self.batch_first:
            ys = ys.transpose(0, 1)
        new = new if isinstance(new, tuple) else (new,)
        return (ys, *[s.transpose(0, 1) for s in new])


def _start_values(adapter: StepAdapter) -> Dict[str, float]:
    """Each state tensor's start value, which must be one constant per tensor for a runtime to
    start a stream without rnnkit (a conditioned model's start state is computed, so it is refused)."""
    with torch.no_grad():
        start = adapter.start(2)
    values = {}
    for key, t in start.items():
        first = t.reshape(-1)[0]
        if not bool((t == first).all()):
            raise InvalidValueError(
                f"cannot export this {adapter.kind}: its start state {key!r} is computed per stream (a conditioned "
                f"model), not a constant a runtime could fill in"
            )
        values[key] = float(first)
    return values


def _cell_names(model: nn.Module) -> str:
    names = sorted(
        {type(c).__name__ for m in model.modules() if isinstance(m, Recurrent) for r in m.cell_grid() for c in r}
    )
    return "cells " + ", ".join(names) if names else type(model).__name__


def _onnx_name(key: str, prefix: str) -> str:
    return prefix + key.replace(".", "_")


def _json_value(v: float):
    return v if math.isfinite(v) else ("-inf" if v < 0 else "inf")


def _describe_model(model: nn.Module) -> dict:
    info = {"model_class": type(model).__name__}
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "__dataclass_fields__"):
        from dataclasses import asdict

        info["config"] = asdict(config)
    vocab = getattr(model, "vocab", None)
    if vocab is not None and hasattr(vocab, "to_json"):
        info["vocab"] = json.loads(vocab.to_json())
    for name in ("labels", "tags"):
        if config is not None and getattr(config, name, None):
            info[name] = list(getattr(config, name))
    return info


def export_onnx(
    model: nn.Module,
    path: PathLike,
    *,
    graph: str = "step",
    opset: int = DEFAULT_OPSET,
) -> dict:
    """Write ``model`` as ONNX to ``path`` (atomically) and its metadata JSON beside it; returns the
    metadata. ``graph`` is ``"step"`` (any model a session streams) or ``"sequence"`` (language
    models and stock layers). The model must be in eval mode; it is left as it was."""
    graph = choice("graph", graph, GRAPHS)
    opset = positive_int("opset", opset)
    if not isinstance(model, nn.Module):
        raise InvalidValueError(
            f"ONNX export takes a torch model; a {type(model).__name__} scales its windows with NumPy around its "
            f"network, which a graph does not hold: stream it in Python with rnnkit.stream instead"
        )
    if model.training:
        raise InvalidValueError(f"the {type(model).__name__} is in training mode; call model.eval() before exporting")
    p = Path(os.fspath(path))
    if p.is_dir():
        raise NotAFileError(f"cannot write the ONNX file over the folder {str(p)!r}")
    if not p.parent.is_dir():
        raise MissingFileError(f"cannot write {str(p)!r}: the folder {str(p.parent)!r} does not exist")
    adapter = adapter_for(model)
    starts = _start_values(adapter)
    keys = sorted(starts)
    with torch.no_grad():
        state = adapter.start(2)
    x1 = adapter.example_input(2)
    if graph == "step":
        module: nn.Module = StepGraph(adapter, keys).eval()  # export restores the wrapper's mode, recursively
        example = (x1, *[state[k] for k in keys])
    else:
        if adapter.kind not in ("language_model", "recurrent_layer"):
            raise InvalidValueError(
                f"graph='sequence' is for language models and recurrent layers, not a {adapter.kind}; use graph='step'"
            )
        module = SequenceGraph(model, keys).eval()
        example = (torch.stack([x1, x1, x1], 1), *[state[k] for k in keys])
    in_names = ["x", *[_onnx_name(k, "state_") for k in keys]]
    out_names = ["y", *[_onnx_name(k, "next_") for k in keys]]
    axes = {n: {0: "batch"} for n in in_names + out_names}
    if graph == "sequence":
        axes["x"] = axes["y"] = {0: "batch", 1: "time"}
    buf = io.BytesIO()
    with loop_engine(module), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # our input checks, traced once
        warnings.filterwarnings(  # the remedy it names is what we do: the state is an input
            "ignore", message=".*batch_size other than 1.*define the initial states", category=UserWarning
        )
        try:
            torch.onnx.export(
                module,
                example,
                buf,
                input_names=in_names,
                output_names=out_names,
                dynamic_axes=axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        except (torch.onnx.errors.OnnxExporterError, RuntimeError) as err:
            raise InvalidValueError(
                f"the ONNX exporter cannot export this {adapter.kind} ({_cell_names(model)}): "
                f"{str(err).strip().splitlines()[0][:300]}"
            ) from None
        y_example = module(*example)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": adapter.kind,
        "graph": graph,
        "exporter": EXPORTER,
        "opset": opset,
        "torch": torch.__version__,
        "inputs": [_io_spec("x", x1 if graph == "step" else example[0], graph)]
        + [_io_spec(n, state[k], "step") for n, k in zip(in_names[1:], keys, strict=True)],
        "outputs": [_io_spec("y", y_example[0], graph)]
        + [_io_spec(n, state[k], "step") for n, k in zip(out_names[1:], keys, strict=True)],
        "state": [
            {"input": i, "output": o, "start": _json_value(starts[k]), "session_key": k}
            for i, o, k in zip(in_names[1:], out_names[1:], keys, strict=True)
        ],
        "usage": (
            "feed x and every state input (start: a tensor of the state's shape filled with its 'start' value, one row "
            "per stream); feed each next_* output back as its state_* input for the next call"
        ),
        **_describe_model(model),
    }
    data = buf.getvalue()
    atomic_write(p, data)
    atomic_write(metadata_path(p), json.dumps(meta, indent=1, ensure_ascii=False))
    return meta


def _io_spec(name: str, t: Tensor, graph: str) -> dict:
    shape: List[Union[str, int]] = ["batch", *list(t.shape[1:])]
    if graph == "sequence":
        shape[1] = "time"
    return {"name": name, "dtype": str(t.dtype).replace("torch.", ""), "shape": shape}


# ---- checking an exported file ------------------------------------------------------------------


def onnxruntime_session(path: PathLike):
    """An ``onnxruntime.InferenceSession`` for ``path`` (CPU), or a clear error without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingOptionalDependency(
            "onnxruntime is not installed: install rnnkit's 'onnx' extra to run or check exported models"
        ) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def compare_with_onnxruntime(
    model: nn.Module,
    path: PathLike,
    batch_sizes: Sequence[int] = (1, 7),
    lengths: Sequence[int] = (1, 2, 50),
    seed: int = 0,
    scaled: bool = False,
) -> float:
    """The largest absolute difference between the exported file (run in onnxruntime) and the
    PyTorch model, over every output of every step (or sequence), at each batch size and length,
    from random inputs and a random (non-zero) start state.

    ``scaled``: each element's difference divided by ``max(1, |PyTorch value|)`` instead -- two
    float32 implementations (MKL/oneDNN and onnxruntime's MLAS sum in different orders) differ by a
    few units in the last place of each value, so a trained model's LSTM cell state of magnitude 40
    differs by about 1e-5 while its relative difference stays near 1e-7."""
    meta = json.loads(metadata_path(path).read_text(encoding="utf-8"))
    sess = onnxruntime_session(path)
    adapter = adapter_for(model)
    keys = [s["session_key"] for s in meta["state"]]
    gen = torch.Generator().manual_seed(seed)
    reference = SequenceGraph(model, keys).eval() if meta["graph"] == "sequence" else None
    worst = 0.0
    for b in batch_sizes:
        for t in lengths:
            xs = [adapter.example_input(b, gen) for _ in range(t)]
            with torch.no_grad():
                state = {k: v + 0.5 * torch.randn(v.shape, generator=gen) for k, v in adapter.start(b).items()}
                state = {k: torch.where(torch.isfinite(v), v, torch.zeros_like(v)) for k, v in state.items()}
            feeds = {s["input"]: state[k].numpy() for s, k in zip(meta["state"], keys, strict=True)}
            if meta["graph"] == "sequence":
                xs_seq = torch.stack(xs, 1)
                out = sess.run(None, {"x": xs_seq.numpy(), **feeds})
                with torch.no_grad():
                    ref = reference(xs_seq, *[state[k] for k in keys])  # the graph exported
                    own = SequenceGraph(model, keys, twin=False)(xs_seq, *[state[k] for k in keys])  # rnnkit's
                worst = max(worst, _diff(out, ref, scaled), _diff(out, own, scaled))
                continue
            current = dict(state)
            for x in xs:
                out = sess.run(
                    None,
                    {
                        "x": x.numpy(),
                        **{s["input"]: current[k].numpy() for s, k in zip(meta["state"], keys, strict=True)},
                    },
                )
                with torch.no_grad():
                    y, new = adapter.step(x, current)
                current = {**current, **new}
                worst = max(worst, _diff(out, (y, *[current[k] for k in keys]), scaled))
    return worst


def _diff(out: Sequence[np.ndarray], ref: Sequence[Tensor], scaled: bool = False) -> float:
    worst = 0.0
    for o, r in zip(out, ref, strict=True):
        if not o.size:
            continue
        r = r.detach().numpy()
        d = np.abs(o - r)
        if scaled:
            d = d / np.maximum(1.0, np.abs(r))
        worst = max(worst, float(np.nan_to_num(d, nan=0.0).max()))
    return worst
