"""Malformed-input cases for rnnkit bench memory; see :mod:`tests.cli.malformed`.

Every value is checked before anything is trained or written: a task or cell that does not exist,
a length the task cannot have, sizes and rates out of range, and an ``--out`` that is a file or
already holds results (replaced only with ``--overwrite``).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

from .malformed import Case, new_file

BENCH = ["bench", "memory", "--out", "{tmp}/run"]


def _results_folder(folders, tmp: Path) -> Path:
    folder = tmp / "earlier"
    folder.mkdir()
    (folder / "result.json").write_text('{"task": "adding"}\n')
    return folder


def cases() -> List[Case]:
    option = [
        ("task-unknown", ["--task", "addition"], r"task.*addition"),
        ("task-empty", ["--task", ""], r"task"),
        ("cell-unknown", ["--cell", "transformer"], r"cell.*transformer"),
        ("optimizer-unknown", ["--optimizer", "lbfgs"], r"optimizer.*lbfgs"),
    ]
    number = [
        ("length-zero", ["--length", "0"], r"length.*>= 1"),
        ("length-negative", ["--length", "-5"], r"length"),
        ("length-text", ["--length", "long"], r"length"),
        ("length-one-adding", ["--task", "adding", "--length", "1"], r"length.*>= 2"),
        ("hidden-size-zero", ["--hidden-size", "0"], r"hidden_size"),
        ("batch-size-zero", ["--batch-size", "0"], r"batch_size"),
        ("lr-zero", ["--lr", "0"], r"lr.*> 0"),
        ("lr-nan", ["--lr", "nan"], r"lr"),
        ("clip-norm-negative", ["--clip-norm", "-1"], r"clip_norm"),
        ("recurrent-scale-negative", ["--recurrent-scale", "-2"], r"recurrent_scale"),
        ("forget-bias-inf", ["--forget-bias", "inf"], r"forget_bias.*finite"),
        ("max-steps-zero", ["--max-steps", "0"], r"max_steps"),
        ("time-budget-zero", ["--time-budget", "0"], r"time_budget"),
        ("train-size-zero", ["--train-size", "0"], r"train_size"),
        ("val-size-zero", ["--val-size", "0"], r"val_size"),
        ("val-every-zero", ["--val-every", "0"], r"val_every"),
        ("solved-at-zero", ["--solved-at", "0"], r"solved_at"),
        ("seed-negative", ["--seed", "-1"], r"--seed"),
        ("threads-zero", ["--threads", "0"], r"--threads"),
    ]
    cases = [Case(f"bench-memory-{name}", BENCH + extra, names, cls="option") for name, extra, names in option]
    cases += [Case(f"bench-memory-{name}", BENCH + extra, names, cls="number") for name, extra, names in number]
    cases += [
        Case(
            "bench-memory-out-is-file",
            ["bench", "memory", "--out", "{bad}"],
            r"is a file",
            new_file("afile.txt", "x"),
            "folder",
        ),
        Case(
            "bench-memory-out-holds-results",
            ["bench", "memory", "--out", "{bad}"],
            r"not empty.*--overwrite",
            _results_folder,
            "folder",
        ),
    ]
    return cases
