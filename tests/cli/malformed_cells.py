"""Malformed-input cases for the --cell option and the extended cells' options; see :mod:`tests.cli.malformed`.

Every task's ``--cell`` takes the same names (``rnnkit.layers.CELL_NAMES``); an unknown one is
refused with the value and the list of choices, before anything is written. ``train lm``'s
regularisers must be probabilities in [0, 1), weight drop needs a cell with recurrent weights, and
a resumed run refuses a changed cell or regulariser (they are part of the saved model).
"""

from __future__ import annotations

from typing import List

from .malformed import Case

LM = ["train", "lm", "--text", "{text}", "--out", "{tmp}/run"]
CHOICES = r"cell must be one of \[.*'layernorm-lstm'.*'minlstm'\], got "  # names the value, lists the choices
TASKS = {
    "lm": LM,
    "classify": ["train", "classify", "--data", "{reviews}", "--text-col", "review", "--label-col", "sentiment"]
    + ["--out", "{tmp}/run"],
    "tag": ["train", "tag", "--data", "{conll}", "--out", "{tmp}/run", "--epochs", "1"],
    "seq2seq": ["train", "seq2seq", "--pairs", "{pairs}", "--out", "{tmp}/run"],
    "forecast": ["train", "forecast", "--csv", "{csv}", "--time-col", "month", "--target", "sales"]
    + ["--out", "{tmp}/run"],
}


def cases() -> List[Case]:
    cases = [
        Case(f"cells-{task}-cell-unknown", [*argv, "--cell", "layer-norm-lstm"], CHOICES + "'layer-norm-lstm'")
        for task, argv in TASKS.items()
    ]
    cases += [
        Case("cells-lm-cell-upper-case", [*LM, "--cell", "LayerNorm-LSTM"], CHOICES + "'LayerNorm-LSTM'"),
        Case("cells-lm-cell-empty", [*LM, "--cell", ""], CHOICES + "''"),
    ]
    for flag, value, names in (
        ("--weight-drop", "1", r"weight_drop must be a number in \[0, 1\), got 1"),
        ("--weight-drop", "-0.1", r"weight_drop.*-0\.1"),
        ("--weight-drop", "nan", r"weight_drop"),
        ("--weight-drop", "half", r"weight-drop"),
        ("--recurrent-dropout", "1.5", r"recurrent_dropout must be a number in \[0, 1\), got 1\.5"),
        ("--recurrent-dropout", "inf", r"recurrent_dropout"),
        ("--zoneout", "2", r"zoneout must be a number in \[0, 1\), got 2"),
        ("--zoneout", "-1", r"zoneout.*-1"),
    ):
        cases.append(Case(f"cells-lm{flag}={value}", [*LM, flag, value], names, cls="number"))
    for cell in ("mingru", "minlstm"):
        cases.append(
            Case(
                f"cells-lm-weight-drop-{cell}",
                [*LM, "--cell", cell, "--weight-drop", "0.3"],
                r"weight_drop needs a cell with recurrent weights.*has none",
            )
        )
    for flag, value, names in (
        ("--cell", "layernorm-lstm", r"--cell layernorm-lstm \(the run was started with lstm\)"),
        ("--weight-drop", "0.2", r"--weight-drop"),
        ("--zoneout", "0.1", r"--zoneout"),
    ):
        cases.append(
            Case(
                f"cells-lm-resume-changed{flag}",
                ["train", "lm", "--out", "{lm}", "--resume", flag, value],
                names,
                cls="conflict",
            )
        )
    return cases
