"""A run folder as the report reads it: the model's config, the run's JSON files and its CSV logs.

Reading is strict where a file is there but damaged -- a JSON file that does not parse or is not an
object, a log that is not CSV text -- and raises :class:`~rnnkit._checks.FileFormatError` naming the
file: a report that quietly left out a damaged metrics file would mislead. A file that is simply
absent is not an error (each kind of run writes its own set); the page says what it lacks.

Run folders by ``model_type`` (``config.json``), as the ``train`` verbs write them::

    language_model        run_settings.json (recipe, corpus), summary.json (scores, time)
    forecaster            series.json (data), preprocessing.json (scalers), forecast.png
    sequence_classifier   run.json (recipe, data, sizes), metrics.json, confusion_matrix.png,
                          test_predictions.csv
    sequence_tagger       run.json, metrics.json, test_predictions.jsonl
    seq2seq               run.json, metrics.json, test_predictions.tsv

and every kind: ``train_log.csv`` (loss, lr, grad_norm per logged update), ``val_log.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .._checks import FileFormatError, MissingFileError, NotAFolderError
from ..models.format import MODEL_TYPES, ModelFolder, read_json_file, read_model

__all__ = ["RunFiles", "read_run", "JSON_FILES", "LOG_FILES"]

PathLike = Union[str, "os.PathLike[str]"]
JSON_FILES = ("run_settings.json", "summary.json", "run.json", "metrics.json", "series.json", "preprocessing.json")
LOG_FILES = ("train_log.csv", "val_log.csv")


@dataclass
class RunFiles:
    """What the report reads from a run folder (absent files are absent keys)."""

    folder: Path
    model: ModelFolder
    docs: Dict[str, dict] = field(default_factory=dict)  # JSON file name -> its object
    logs: Dict[str, Dict[str, List[float]]] = field(default_factory=dict)  # CSV name -> column -> values
    log_rows: Dict[str, List[Dict[str, str]]] = field(default_factory=dict)  # CSV name -> raw rows

    @property
    def model_type(self) -> str:
        return self.model.model_type

    def doc(self, name: str) -> dict:
        return self.docs.get(name, {})

    def part(self, name: str, key: str) -> dict:
        """The object under ``key`` in the JSON file ``name`` ({} if absent or not an object)."""
        value = self.doc(name).get(key)
        return value if isinstance(value, dict) else {}

    def log(self, name: str) -> Dict[str, List[float]]:
        return self.logs.get(name, {})


def read_run(run_dir: PathLike) -> RunFiles:
    """Read the run folder ``run_dir``; errors name the folder or the damaged file."""
    folder = Path(os.fspath(run_dir))
    if not folder.exists():
        raise MissingFileError(f"run folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise NotAFolderError(f"{str(folder)!r} is a file, not a run folder")
    model = read_model(folder)  # no config.json: "... is not a model folder: it holds no config.json"
    if model.model_type not in MODEL_TYPES:
        raise model.bad_config(
            f"unknown model_type {model.model_type!r:.60}; this rnnkit reports on {sorted(MODEL_TYPES)}"
        )
    model.tensors()  # the weights must read: a report of a run whose model is damaged would mislead
    run = RunFiles(folder, model)
    for name in JSON_FILES:
        path = folder / name
        if path.is_file():
            doc = read_json_file(path)
            if not isinstance(doc, dict):
                raise FileFormatError(
                    f"{str(path)!r} holds a JSON {type(doc).__name__}, expected an object: the file is damaged"
                )
            run.docs[name] = doc
    for name in LOG_FILES:
        path = folder / name
        if path.is_file():
            run.log_rows[name] = read_csv_rows(path)
            run.logs[name] = _columns(run.log_rows[name])
    return run


def read_csv_rows(path: Path) -> List[Dict[str, str]]:
    """The rows of a CSV file with a header line; :class:`FileFormatError` if it is not CSV text."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
        if "\x00" in text:
            raise ValueError("it holds NUL bytes")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, ValueError, csv.Error) as err:
        raise FileFormatError(f"{str(path)!r} is not a CSV log: {err}") from None
    return rows


def _columns(rows: List[Dict[str, str]]) -> Dict[str, List[float]]:
    columns: Dict[str, List[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key is None:  # more cells than the header names
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            columns.setdefault(key, []).append(number)
    return columns


def read_lines(path: Path, limit: int) -> Optional[List[str]]:
    """The first ``limit`` lines of a UTF-8 text file (None if absent); damage raises FileFormatError."""
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return [line.rstrip("\r\n") for _, line in zip(range(limit), f)]
    except UnicodeDecodeError as err:
        raise FileFormatError(f"{str(path)!r} is not UTF-8 text ({err.reason} at byte {err.start})") from None


def read_jsonl(path: Path, limit: int) -> Optional[List[Any]]:
    """The first ``limit`` JSON documents of a JSON-lines file (None if absent)."""
    lines = read_lines(path, limit)
    if lines is None:
        return None
    docs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            docs.append(json.loads(line))
        except ValueError as err:
            raise FileFormatError(f"{str(path)!r} line {number} is not JSON: {err}") from None
    return docs
