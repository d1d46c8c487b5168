"""Malformed-input cases for rnnkit export; see :mod:`tests.cli.malformed`.

None may write a file: every one is refused before (or instead of) the export, and the model
folders are left byte-identical (the corpus test checks both).
"""

from __future__ import annotations

from typing import List

from .malformed import Case, config_json, json_file, new_file, new_folder, on, weights

EXPORT = ["export", "{lm}", "--out", "{tmp}/m.onnx", "--no-check"]


def cases() -> List[Case]:
    swap = lambda new: ["export", new, *EXPORT[2:]]  # noqa: E731
    out = lambda path: [*EXPORT[:2], "--out", path, "--no-check"]  # noqa: E731
    return [
        Case("export-folder-missing", swap("{tmp}/nowhere"), r"nowhere.*(not exist|not found)", cls="folder"),
        Case("export-folder-is-file", swap("{bad}"), r"is a file", new_file("afile.txt", "x"), "folder"),
        Case("export-folder-empty", swap("{bad}"), r"config\.json", new_folder("empty"), "folder"),
        Case("export-bidirectional-classifier", swap("{cls}"), r"bidirectional", cls="folder"),
        Case("export-bidirectional-tagger", swap("{tag}"), r"bidirectional", cls="folder"),
        Case("export-forecaster", swap("{fc}"), r"Forecaster.*rnnkit\.stream", cls="folder"),
        Case("export-seq2seq", swap("{s2s}"), r"cannot stream a Seq2Seq|seq2seq", cls="folder"),
        Case("export-weights-truncated", EXPORT, r"model\.safetensors", on("lm", weights("truncated")), "file"),
        Case("export-weights-pickle", EXPORT, r"model\.safetensors.*pickle", on("lm", weights("pickle")), "file"),
        Case("export-config-not-json", EXPORT, r"config\.json.*JSON", on("lm", config_json("not_json")), "file"),
        Case("export-config-mismatch", EXPORT, r"model\.safetensors|config", on("lm", config_json("mismatch")), "file"),
        Case("export-vocab-broken", EXPORT, r"vocab\.json", on("lm", json_file("vocab.json", "not_json")), "file"),
        Case("export-format-unknown", [*EXPORT, "--format", "tflite"], r"--format.*onnx.*tflite"),
        Case("export-graph-unknown", [*EXPORT, "--graph", "loop"], r"--graph.*step.*loop"),
        Case("export-quantize-unknown", [*EXPORT, "--quantize", "int4"], r"--quantize.*int8.*int4"),
        Case("export-opset-low", [*EXPORT, "--opset", "3"], r"--opset.*3", cls="number"),
        Case("export-opset-word", [*EXPORT, "--opset", "latest"], r"opset", cls="number"),
        Case("export-out-folder", out("{tmp}"), r"--out.*is a folder"),
        Case("export-out-suffix", out("{tmp}/model.bin"), r"--out.*\.onnx"),
        Case("export-out-no-parent", out("{tmp}/no/such/m.onnx"), r"--out.*does not exist"),
    ]
