"""rnnkit export: a model folder to ONNX (fp32 or int8) (issue 15).

    rnnkit export DIR [--format onnx] [--out model.onnx] [--graph step|sequence] [--quantize int8]

Writes the ONNX file and its metadata JSON (``model.onnx.json``: inputs, outputs, state pairs and
their start values, vocabulary or labels) so a runtime needs nothing of rnnkit, then runs the file
in onnxruntime against the PyTorch model (``--check``, on by default) and prints the largest
difference. With ``--quantize int8`` the fp32 file is written too (``--out`` gets the int8 one,
the fp32 one is ``<out stem>.fp32.onnx``) and both sizes are printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._checks import InvalidValueError, choice
from .app import app
from .errors import user_errors_as_one_line
from .options import output_file

FORMATS = ("onnx",)
QUANTIZE = ("none", "int8")
PARITY = 1e-5  # the fp32 file must match PyTorch this closely (relative to max(1, |value|)) at every size checked


def _load(model_dir: Path):
    from ..models.format import load

    return load(model_dir)


@app.command("export")
@user_errors_as_one_line
def export(
    model_dir: Path = typer.Argument(..., help="A model folder (written by `rnnkit train ...` or save_pretrained)."),
    format: str = typer.Option("onnx", "--format", help="Output format: onnx."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="The file to write; default: model.onnx (model.int8.onnx with --quantize int8) in DIR."
    ),
    graph: str = typer.Option(
        "step",
        "--graph",
        help="step: one element per call, the state as explicit inputs and outputs (every streamable model); "
        "sequence: a whole sequence per call, dynamic length (language models).",
    ),
    quantize: str = typer.Option("none", "--quantize", help="none or int8 (onnxruntime dynamic quantisation)."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset version."),
    check: bool = typer.Option(
        True, "--check/--no-check", help="Run the file in onnxruntime against PyTorch (batch 1 and 7, T = 1, 2, 50)."
    ),
) -> None:
    """Export a model to ONNX for onnxruntime and other runtimes, optionally int8."""
    from ..serving.export_onnx import GRAPHS

    choice("--format", format, FORMATS)
    choice("--graph", graph, GRAPHS)
    choice("--quantize", quantize, QUANTIZE)
    if not 7 <= opset <= 21:
        raise InvalidValueError(f"--opset must be between 7 and 21, got {opset}")
    if out is None:
        out = model_dir / ("model.int8.onnx" if quantize == "int8" else "model.onnx")
    output_file(out, "--out")
    if out.suffix != ".onnx":
        raise InvalidValueError(f"--out {out} must end in .onnx")
    if not out.parent.is_dir():
        raise InvalidValueError(f"--out {out}: the folder {out.parent} does not exist")
    model = _load(model_dir)
    run_export(model, out, graph=graph, quantize=quantize, opset=opset, check=check)


def run_export(model, out: Path, *, graph: str, quantize: str, opset: int, check: bool) -> None:
    from ..serving.export_onnx import compare_with_onnxruntime, export_onnx, metadata_path
    from ..serving.quantize import quantize_int8

    fp32 = out.with_name(out.stem + ".fp32.onnx") if quantize == "int8" else out
    output_file(fp32, "--out")
    meta = export_onnx(model, fp32, graph=graph, opset=opset)
    typer.echo(
        f"wrote {fp32} ({fp32.stat().st_size / 1e6:.2f} MB, {meta['kind']}, {graph} graph) and {metadata_path(fp32)}"
    )
    if check:
        diff = compare_with_onnxruntime(model, fp32)
        scaled = compare_with_onnxruntime(model, fp32, scaled=True)
        verdict = "ok" if scaled <= PARITY else f"ABOVE {PARITY:g}"
        typer.echo(
            f"onnxruntime vs PyTorch at batch 1 and 7, T = 1, 2, 50: max abs difference {diff:.2e}; "
            f"relative to max(1, |value|) {scaled:.2e} ({verdict})"
        )
        if scaled > PARITY:
            raise InvalidValueError(
                f"the exported file differs from the PyTorch model by {scaled:.2e} relative to max(1, |value|) "
                f"(> {PARITY:g}); it was written, but do not trust it"
            )
    if quantize == "int8":
        quantize_int8(fp32, out)
        ratio = fp32.stat().st_size / out.stat().st_size
        typer.echo(
            f"wrote {out} (int8: {out.stat().st_size / 1e6:.2f} MB, {ratio:.2f}x smaller) and {metadata_path(out)}"
        )
        if check:
            diff = compare_with_onnxruntime(model, out, lengths=(1, 2, 50))
            typer.echo(f"int8 vs PyTorch fp32: max abs difference of the outputs {diff:.3g} (quantisation error)")
