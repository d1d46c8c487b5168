"""Malformed-input cases for rnnkit report; see :mod:`tests.cli.malformed`.

``rnnkit report RUN_DIR`` refuses, naming the folder or the damaged file: a folder that is missing,
a file, empty (no ``config.json``) or of an unknown kind; a damaged ``config.json``, weights or
vocabulary; a damaged JSON file or CSV log of the run. A refused report writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from .malformed import Case, config_json, json_file, new_file, new_folder, on, weights


def _garbage(name: str, data: bytes):
    def damage(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return damage


def cases() -> List[Case]:
    lm, cls, tag = ["report", "{lm}"], ["report", "{cls}"], ["report", "{tag}"]
    fc, s2s = ["report", "{fc}"], ["report", "{s2s}"]
    noise = np.random.default_rng(7).bytes(600)
    return [
        Case("report-folder-missing", ["report", "{tmp}/nowhere"], r"nowhere.*(not exist|not found)", cls="folder"),
        Case("report-folder-is-file", ["report", "{bad}"], r"is a file", new_file("afile.txt", "x"), "folder"),
        Case(
            "report-folder-empty", ["report", "{bad}"], r"not a model folder.*config\.json", new_folder("e"), "folder"
        ),
        Case("report-config-not-json", lm, r"config\.json.*JSON", on("lm", config_json("not_json")), "file"),
        Case("report-config-list", fc, r"config\.json.*object", on("fc", config_json("list")), "file"),
        Case("report-config-unknown-type", cls, r"spaceship", on("cls", config_json("unknown_type")), "file"),
        Case("report-config-future", tag, r"format_version 99", on("tag", config_json("future")), "file"),
        Case("report-weights-truncated", lm, r"model\.safetensors", on("lm", weights("truncated")), "file"),
        Case("report-weights-pickle", fc, r"model\.safetensors.*pickle", on("fc", weights("pickle")), "file"),
        Case("report-weights-missing", cls, r"model\.safetensors.*missing", on("cls", weights("missing")), "file"),
        Case("report-vocab-not-json", lm, r"vocab\.json", on("lm", json_file("vocab.json", "not_json")), "file"),
        Case("report-summary-not-json", lm, r"summary\.json", on("lm", json_file("summary.json", "not_json")), "file"),
        Case(
            "report-run-settings-list",
            lm,
            r"run_settings\.json.*object",
            on("lm", json_file("run_settings.json", "list")),
            "file",
        ),
        Case("report-metrics-binary", cls, r"metrics\.json", on("cls", json_file("metrics.json", "binary")), "file"),
        Case("report-run-json-number", tag, r"run\.json.*object", on("tag", json_file("run.json", "number")), "file"),
        Case("report-series-empty", fc, r"series\.json.*empty", on("fc", json_file("series.json", "empty")), "file"),
        Case("report-train-log-binary", fc, r"train_log\.csv", on("fc", _garbage("train_log.csv", noise)), "file"),
        Case(
            "report-val-log-latin1",
            s2s,
            r"val_log\.csv",
            on("s2s", _garbage("val_log.csv", "step,val_loss\n1,caf\xe9\n".encode("latin-1"))),
            "file",
        ),
        Case(
            "report-predictions-latin1",
            s2s,
            r"test_predictions\.tsv.*UTF-8",
            on("s2s", _garbage("test_predictions.tsv", "caf\xe9\tx\ty\n".encode("latin-1"))),
            "file",
        ),
    ]
