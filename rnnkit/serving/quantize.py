"""int8: an exported ONNX file with its weights quantised to 8 bits, through onnxruntime.

::

    W_q = round(W / s) + z      s, z per weight tensor (int8, symmetric range), computed once here
    x_q = round(x / s_x) + z_x  per call, from the activations' range (dynamic quantisation)
    y   = s s_x (W_q - z)(x_q - z_x)   an integer MatMul (MatMulInteger), rescaled to float

onnxruntime's ``quantize_dynamic`` rewrites the step graph's MatMul/Gemm nodes (every recurrent
and output weight) and the embedding's Gather (int8 table, dequantised rows) after its own
pre-processing (shape inference and graph optimisation, ``quant_pre_process``); biases stay float.
torch's ``quantize_dynamic`` is deprecated and torchao's int8 covers only Linear layers
(pytorch/ao #1467), hence onnxruntime.
The state stays float32, so a stream carries no quantisation error from step to step beyond the
weights'. The metadata JSON is copied beside the new file with ``"quantized": "int8"``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Union

from .._checks import FileFormatError, MissingFileError, MissingOptionalDependency
from ..data.atomic import atomic_write
from .export_onnx import metadata_path

PathLike = Union[str, os.PathLike]
QUANTIZER = "onnxruntime.quantization.quantize_dynamic (QInt8 weights, per tensor; uint8 dynamic activations)"


def quantize_int8(source: PathLike, target: PathLike) -> dict:
    """Write the int8 version of the exported ``source`` (a file :func:`export_onnx` wrote, with its
    metadata JSON) to ``target`` atomically, with its metadata; returns that metadata."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        raise MissingOptionalDependency(
            "onnxruntime is not installed: install rnnkit's 'onnx' extra to quantise exported models"
        ) from None
    src, dst = Path(os.fspath(source)), Path(os.fspath(target))
    if not src.is_file() or not metadata_path(src).is_file():
        raise MissingFileError(f"{str(src)!r} and its metadata {str(metadata_path(src))!r} must both exist")
    try:
        meta = json.loads(metadata_path(src).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{str(metadata_path(src))!r} is not JSON: {err}") from None
    folder = dst.parent if str(dst.parent) else Path(".")
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime logs its advice through the root logger
    try:
        with tempfile.TemporaryDirectory(prefix=".rnnkit-int8-", dir=folder) as tmp:
            prepared, out = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
            quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
            quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8)
            data = out.read_bytes()
    finally:
        logging.getLogger().setLevel(quiet)
    meta = {**meta, "quantized": "int8", "quantizer": QUANTIZER, "fp32_file": src.name}
    atomic_write(dst, data)
    atomic_write(metadata_path(dst), json.dumps(meta, indent=1, ensure_ascii=False))
    return meta
