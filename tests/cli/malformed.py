"""A family of malformed inputs for every verb of ``rnnkit``: files, options and folders.

Each :class:`Case` is a command line with placeholders and, optionally, a ``damage`` that breaks a
file of a copy of a good model folder (or writes a malformed input file) before it runs. The test
(:mod:`tests.cli.test_malformed_corpus`) asserts for every case: a non-zero exit, no traceback, one
``error:`` line matching ``names`` (the bad thing is named), and every file of every model folder
byte-identical afterwards.

Placeholders: ``{lm}`` / ``{fc}`` / ``{cls}`` / ``{tag}`` a good language-model / forecaster /
text-classifier / tagger run folder (copies, made for the case), ``{tmp}`` the case's scratch
folder, ``{text}`` a good text file, ``{csv}`` a good series CSV (columns ``month``, ``sales``),
``{reviews}`` a good labelled-text CSV (``review``, ``sentiment``), ``{conll}`` a good CoNLL file,
``{bad}`` the file or folder the damage wrote.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch

Damage = Callable[[dict, Path], Path]  # (the model folders by name, tmp) -> the path it broke or wrote


@dataclass
class Case:
    id: str
    argv: List[str]
    names: str  # a regex the error line must match (case-insensitive)
    damage: Optional[Damage] = None
    cls: str = "option"  # file | option | folder | number | resource | conflict
    tags: Tuple[str, ...] = field(default_factory=tuple)


# ---- damages to a model folder's files ---------------------------------------------------------


def _write(path: Path, data) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _pickled() -> bytes:
    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(3)}, buf)
    return buf.getvalue()


def _zipped() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.pkl", pickle.dumps({"a": 1}))
    return buf.getvalue()


def weights(kind: str) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        path = folder / "model.safetensors"
        good = path.read_bytes()
        if kind == "missing":
            path.unlink()
            return path
        data = {
            "empty": b"",
            "truncated": good[: len(good) // 2],
            "header_only": good[:8],
            "random": np.random.default_rng(0).bytes(4096),
            "pickle": _pickled(),
            "zip": _zipped(),
            "text": b"this is not a weights file\n",
        }[kind]
        return _write(path, data)

    return damage


def config_json(kind: str, field_name: str = "hidden_size") -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        path = folder / "config.json"
        doc = json.loads(path.read_text())
        if kind == "missing":
            path.unlink()
            return path
        if kind in ("empty", "not_json", "list", "string", "binary"):
            data = {
                "empty": "",
                "not_json": '{"model_type": "language_model", ',
                "list": "[1, 2, 3]",
                "string": '"a model"',
                "binary": np.random.default_rng(1).bytes(300),
            }[kind]
            return _write(path, data)
        if kind == "future":
            doc["format_version"] = 99
        elif kind == "version_string":
            doc["format_version"] = "three"
        elif kind == "unknown_type":
            doc["model_type"] = "spaceship"
        elif kind == "config_list":
            doc["config"] = [1, 2]
        elif kind == "wrong_type":
            doc["config"][field_name] = "big"
        elif kind == "out_of_range":
            doc["config"][field_name] = -3
        elif kind == "float_for_int":
            doc["config"][field_name] = 2.5
        elif kind == "null":
            doc["config"][field_name] = None
        elif kind == "mismatch":
            doc["config"][field_name] = doc["config"][field_name] * 2
        elif kind == "unknown_field":
            doc["config"]["warp_drive"] = True
        elif kind == "no_config":
            del doc["config"]
        else:  # pragma: no cover - a typo in the table
            raise KeyError(kind)
        return _write(path, json.dumps(doc))

    return damage


def json_file(name: str, kind: str) -> Callable[[Path], Path]:
    def damage(folder: Path) -> Path:
        path = folder / name
        if kind == "missing":
            path.unlink()
            return path
        data = {
            "empty": "",
            "not_json": "{{{",
            "list": "[]",
            "number": "42",
            "object": '{"unexpected": {"shape": [1, 2]}}',
            "binary": np.random.default_rng(2).bytes(200),
        }[kind]
        return _write(path, data)

    return damage


def on(which: str, damage: Callable[[Path], Path]) -> Damage:
    """A damage applied to the copy of the model folder ``which`` (lm, fc, cls, tag)."""
    return lambda folders, tmp: damage(folders[which])


def new_file(name: str, data) -> Damage:
    return lambda folders, tmp: _write(tmp / name, data)


def new_folder(name: str) -> Damage:
    def damage(folders, tmp):
        (tmp / name).mkdir()
        return tmp / name

    return damage


def series_csv(name: str, rows: List[Tuple[str, str]], header: str = "month,sales") -> Damage:
    """A CSV of ``header`` and ``rows`` (cells as text) in the case's folder."""
    text = header + "\n" + "".join(f"{t},{v}\n" for t, v in rows)
    return new_file(name, text)


def months(values: List[str], start_year: int = 2000) -> List[Tuple[str, str]]:
    return [(f"{start_year + i // 12}-{i % 12 + 1:02d}-01", v) for i, v in enumerate(values)]


GOOD_VALUES = [f"{10 + np.sin(i / 2):.4f}" for i in range(60)]


def with_value(index: int, value: str, n: int = 60) -> List[Tuple[str, str]]:
    values = list(GOOD_VALUES[:n])
    values[index] = value
    return months(values)


# ---- the corpus --------------------------------------------------------------------------------

LM_VERBS = (["generate", "{lm}", "--length", "5"], ["evaluate", "{lm}", "--text", "{text}"])
FC_VERBS = (
    ["forecast", "{fc}", "--out", "{tmp}/preds.csv"],
    ["detect", "{fc}"],
    ["backtest", "{fc}", "--start", "-6"],
)
WEIGHT_DAMAGES = ("empty", "truncated", "header_only", "random", "pickle", "zip", "text", "missing")
CONFIG_DAMAGES = {
    "empty": r"config\.json",
    "not_json": r"config\.json.*JSON",
    "binary": r"config\.json",
    "list": r"config\.json.*object",
    "string": r"config\.json.*object",
    "missing": r"config\.json",
    "future": r"format_version 99.*upgrade",
    "version_string": r"config\.json.*format_version",
    "unknown_type": r"spaceship",
    "config_list": r"config\.json.*config",
    "no_config": r"config\.json.*config",
    "wrong_type": r"config\.json.*hidden_size.*big",
    "out_of_range": r"config\.json.*hidden_size.*-3",
    "float_for_int": r"config\.json.*hidden_size.*2\.5",
    "null": r"config\.json.*hidden_size.*None",
    "mismatch": r"model\.safetensors.*\(\d+, \d+\).*\(\d+, \d+\)",
    "unknown_field": r"config\.json.*warp_drive",
}


def _verb_id(argv: List[str]) -> str:
    return argv[0]


def model_folder_cases() -> List[Case]:
    cases = []
    for kind, verbs in (("lm", LM_VERBS), ("fc", FC_VERBS)):
        for argv in verbs:
            verb = _verb_id(argv)
            for damage in WEIGHT_DAMAGES:
                names = r"model\.safetensors" + {
                    "pickle": r".*pickle",
                    "zip": r".*(zip|pickle)",
                    "missing": r".*missing",
                }.get(damage, "")
                cases.append(Case(f"{verb}-weights-{damage}", argv, names, on(kind, weights(damage)), "file"))
            for damage, names in CONFIG_DAMAGES.items():
                cases.append(Case(f"{verb}-config-{damage}", argv, names, on(kind, config_json(damage)), "file"))
    for argv in LM_VERBS:
        verb = _verb_id(argv)
        for damage in ("empty", "not_json", "list", "number", "object", "binary", "missing"):
            cases.append(
                Case(f"{verb}-vocab-{damage}", argv, r"vocab\.json", on("lm", json_file("vocab.json", damage)), "file")
            )
    for argv in FC_VERBS:
        verb = _verb_id(argv)
        for name in ("preprocessing.json", "series.json"):
            for damage in ("empty", "not_json", "list", "number", "object", "missing"):
                cases.append(
                    Case(
                        f"{verb}-{name.split('.')[0]}-{damage}",
                        argv,
                        name.replace(".", r"\."),
                        on("fc", json_file(name, damage)),
                        "file",
                    )
                )
    # the folder itself: missing, a file, empty, of the other kind
    for argv in LM_VERBS + FC_VERBS:
        verb = _verb_id(argv)
        other = "{fc}" if "{lm}" in argv else "{lm}"
        mine = "{lm}" if "{lm}" in argv else "{fc}"
        swap = lambda a, new, mine=mine: [new if x == mine else x for x in a]  # noqa: E731
        cases += [
            Case(
                f"{verb}-folder-missing", swap(argv, "{tmp}/nowhere"), r"nowhere.*(not exist|not found)", cls="folder"
            ),
            Case(f"{verb}-folder-is-file", swap(argv, "{bad}"), r"is a file", new_file("afile.txt", "x"), "folder"),
            Case(f"{verb}-folder-empty", swap(argv, "{bad}"), r"config\.json", new_folder("empty"), "folder"),
            Case(
                f"{verb}-folder-other-kind",
                swap(argv, other),
                r"forecaster" if other == "{fc}" else r"language model",
                cls="folder",
            ),
        ]
    return cases


def input_file_cases() -> List[Case]:
    text_bad = {
        "empty": ("empty.txt", b"", r"empty\.txt.*empty"),
        "binary": ("binary.txt", np.random.default_rng(3).bytes(2000), r"binary\.txt"),
        "latin1": ("latin1.txt", "caf\xe9 au lait ".encode("latin-1") * 50, r"latin1\.txt.*UTF-8"),
    }
    cases = []
    for kind, (name, data, names) in text_bad.items():
        cases.append(
            Case(
                f"train-lm-text-{kind}",
                ["train", "lm", "--text", "{bad}", "--out", "{tmp}/run"],
                names,
                new_file(name, data),
                "file",
            )
        )
        cases.append(
            Case(f"evaluate-text-{kind}", ["evaluate", "{lm}", "--text", "{bad}"], names, new_file(name, data), "file")
        )
        cases.append(
            Case(
                f"train-lm-into-run-text-{kind}",
                ["train", "lm", "--text", "{bad}", "--out", "{lm}", "--overwrite"],
                names,
                new_file(name, data),
                "file",
            )
        )
    cases.append(
        Case(
            "train-lm-text-missing",
            ["train", "lm", "--text", "{tmp}/none.txt", "--out", "{tmp}/run"],
            r"none\.txt",
            cls="file",
        )
    )
    cases.append(
        Case(
            "train-lm-text-folder",
            ["train", "lm", "--text", "{bad}", "--out", "{tmp}/run"],
            r"folder",
            new_folder("adir"),
            "file",
        )
    )

    train_fc = [
        "train",
        "forecast",
        "--csv",
        "{bad}",
        "--time-col",
        "month",
        "--target",
        "sales",
        "--out",
        "{tmp}/run",
        "--max-epochs",
        "2",
    ]
    csv_bad = {
        "empty": (new_file("s.csv", ""), r"s\.csv.*empty"),
        "binary": (new_file("s.csv", np.random.default_rng(4).bytes(3000)), r"s\.csv"),
        "header-only": (new_file("s.csv", "month,sales\n"), r"(no rows|empty|too short|rows)"),
        "text-values": (series_csv("s.csv", with_value(5, "lots")), r"sales.*(number|numeric)"),
        "inf": (series_csv("s.csv", with_value(7, "inf")), r"sales.*(inf|finite)"),
        "minus-inf": (series_csv("s.csv", with_value(7, "-inf")), r"sales.*(inf|finite)"),
        "huge": (series_csv("s.csv", with_value(9, "1e308")), r"sales.*1e\+308"),
        "all-huge": (series_csv("s.csv", months([f"{1e306 * (1 + i % 3):.3e}" for i in range(60)])), r"sales.*e\+30"),
        "no-time-column": (series_csv("s.csv", months(GOOD_VALUES), header="when,sales"), r"month"),
        "no-target-column": (series_csv("s.csv", months(GOOD_VALUES), header="month,revenue"), r"sales"),
        "bad-dates": (series_csv("s.csv", [(f"day {i}", v) for i, v in enumerate(GOOD_VALUES)]), r"month"),
        "duplicate-times": (
            series_csv("s.csv", months(GOOD_VALUES[:30]) + months(GOOD_VALUES[:30])),
            r"(duplicate|twice)",
        ),
        "too-short": (series_csv("s.csv", months(GOOD_VALUES[:3])), r"(too short|rows)"),
        "missing-values": (series_csv("s.csv", with_value(4, "")), r"(missing|--fill)"),
    }
    for kind, (damage, names) in csv_bad.items():
        cases.append(
            Case(
                f"train-forecast-csv-{kind}",
                train_fc,
                names,
                damage,
                "number" if "inf" in kind or "huge" in kind else "file",
            )
        )
    cases.append(
        Case(
            "train-forecast-parquet-garbage",
            [*train_fc[:2], "--csv", "{bad}", *train_fc[4:]],
            r"s\.parquet",
            new_file("s.parquet", b"PAR1" + bytes(100)),
            "file",
        )
    )
    for verb in (["forecast", "{fc}", "--out", "{tmp}/p.csv"], ["detect", "{fc}"]):
        for kind, value, names in (
            ("inf", "inf", r"sales.*(inf|finite)"),
            ("huge", "1e308", r"sales.*1e\+308"),
            ("text", "abc", r"sales"),
        ):
            cases.append(
                Case(
                    f"{verb[0]}-csv-window-{kind}",
                    [*verb, "--csv", "{bad}"],
                    names,
                    series_csv("h.csv", with_value(58, value)),
                    "number",
                )
            )
    return cases


def option_cases() -> List[Case]:
    lm = ["train", "lm", "--text", "{text}", "--out", "{tmp}/run"]
    fc = ["train", "forecast", "--csv", "{csv}", "--time-col", "month", "--target", "sales", "--out", "{tmp}/run"]
    table = [
        (lm, "--hidden-size", "0", r"hidden.size.*0"),
        (lm, "--hidden-size", "-5", r"hidden.size.*-5"),
        (lm, "--num-layers", "0", r"num.layers"),
        (lm, "--embedding-size", "0", r"embedding.size"),
        (lm, "--bptt", "0", r"bptt"),
        (lm, "--batch-size", "0", r"batch.size"),
        (lm, "--max-steps", "0", r"max.steps"),
        (lm, "--val-every", "0", r"val.every"),
        (lm, "--checkpoint-every", "0", r"checkpoint.every"),
        (lm, "--time-budget", "-1", r"time.budget"),
        (lm, "--time-budget", "nan", r"time.budget"),
        (lm, "--lr", "0", r"\blr\b"),
        (lm, "--lr", "inf", r"\blr\b"),
        (lm, "--dropout", "1.5", r"dropout.*1\.5"),
        (lm, "--dropout", "-0.1", r"dropout"),
        (lm, "--seed", "-1", r"seed.*-1"),
        (lm, "--threads", "0", r"threads"),
        (lm, "--cell", "transformer", r"cell.*transformer"),
        (lm, "--level", "byte", r"level.*byte"),
        (lm, "--sample-length", "-1", r"sample.length"),
        (lm, "--hidden-size", "many", r"hidden.size"),
        (["generate", "{lm}"], "--length", "-1", r"length"),
        (["generate", "{lm}"], "--temperature", "-1", r"temperature"),
        (["generate", "{lm}"], "--temperature", "nan", r"temperature"),
        (["generate", "{lm}"], "--top-k", "0", r"top.k"),
        (["generate", "{lm}"], "--top-p", "2", r"top.p"),
        (["generate", "{lm}"], "--top-p", "0", r"top.p"),
        (["generate", "{lm}"], "--seed", "-1", r"seed.*-1"),
        (["generate", "{lm}"], "--threads", "0", r"threads"),
        (["evaluate", "{lm}"], "--threads", "0", r"threads"),
        (fc, "--horizon", "0", r"horizon.*0"),
        (fc, "--horizon", "-2", r"horizon.*-2"),
        (fc, "--seed", "-1", r"seed.*-1"),
        (fc, "--max-epochs", "0", r"(max.epochs|epochs)"),
        (fc, "--input-length", "-1", r"input.length"),
        (fc, "--cell", "transformer", r"cell.*transformer"),
        (fc, "--fill", "foo", r"fill.*foo"),
        (fc, "--freq", "fortnightly-ish", r"freq.*fortnightly"),
        (["forecast", "{fc}", "--out", "{tmp}/p.csv"], "--horizon", "0", r"horizon.*0"),
        (["forecast", "{fc}", "--out", "{tmp}/p.csv"], "--horizon", "-1", r"horizon.*-1"),
        (["forecast", "{fc}", "--out", "{tmp}/p.csv", "--csv", "{csv}"], "--fill", "foo", r"fill.*foo"),
        (
            ["forecast", "{fc}", "--out", "{tmp}/p.csv", "--csv", "{csv}"],
            "--freq",
            "fortnightly-ish",
            r"freq.*fortnightly",
        ),
        (["backtest", "{fc}"], "--stride", "0", r"stride.*0"),
        (["backtest", "{fc}"], "--stride", "-3", r"stride.*-3"),
        (["backtest", "{fc}"], "--horizon", "0", r"horizon.*0"),
        (["backtest", "{fc}"], "--start", "0", r"start"),
        (["backtest", "{fc}"], "--start", "1.5", r"start"),
        (["backtest", "{fc}"], "--season-length", "0", r"season.length"),
        (["backtest", "{fc}"], "--fill", "foo", r"fill.*foo"),
        (["backtest", "--csv", "{csv}", "--time-col", "month", "--target", "sales"], "--stride", "0", r"stride.*0"),
        (["detect", "{fc}"], "--calibrate", "0", r"calibrate"),
        (["detect", "{fc}"], "--calibrate", "2", r"calibrate"),
        (["detect", "{fc}"], "--fill", "foo", r"fill.*foo"),
    ]
    cases = []
    for base, option, value, names in table:
        verb = "-".join(base[:2]) if base[0] == "train" else base[0] + ("-csv" if "--csv" in base else "")
        cases.append(Case(f"{verb}{option}={value}", [*base, option, value], names, cls="option"))
    # contradictions and ambiguities
    cases += [
        Case(
            "train-forecast-dataset-and-csv",
            [*fc, "--dataset", "airline"],
            r"--dataset.*--csv|--csv.*--dataset",
            cls="conflict",
        ),
        Case(
            "train-forecast-unknown-dataset",
            ["train", "forecast", "--dataset", "nosuch", "--out", "{tmp}/run"],
            r"nosuch",
            cls="option",
        ),
        Case(
            "backtest-dataset-and-csv",
            ["backtest", "--csv", "{csv}", "--time-col", "month", "--target", "sales", "--dataset", "airline"],
            r"--dataset.*--csv|--csv.*--dataset",
            cls="conflict",
        ),
        Case("backtest-unknown-dataset", ["backtest", "--dataset", "nosuch"], r"nosuch", cls="option"),
        Case(
            "train-forecast-time-col-without-csv",
            ["train", "forecast", "--time-col", "month", "--out", "{tmp}/run"],
            r"--time-col.*--csv",
            cls="conflict",
        ),
        Case(
            "train-lm-resume-and-overwrite", [*lm, "--resume", "--overwrite"], r"--resume.*--overwrite", cls="conflict"
        ),
        Case(
            "train-forecast-resume-and-overwrite",
            [*fc, "--resume", "--overwrite"],
            r"--resume.*--overwrite",
            cls="conflict",
        ),
        Case(
            "train-lm-huge-model", [*lm, "--hidden-size", "100000000"], r"(memory|GB).*(available|has)", cls="resource"
        ),
        Case(
            "train-lm-huge-batch",
            [*lm, "--batch-size", "10000000", "--bptt", "100000"],
            r"(memory|GB|too short)",
            cls="resource",
        ),
    ]
    return cases


def folder_cases() -> List[Case]:
    lm_into = lambda out, *more: ["train", "lm", "--text", "{text}", "--out", out, "--max-steps", "3", *more]  # noqa: E731
    fc_into = lambda out, *more: [  # noqa: E731
        "train",
        "forecast",
        "--csv",
        "{csv}",
        "--time-col",
        "month",
        "--target",
        "sales",
        "--out",
        out,
        "--max-epochs",
        "2",
        *more,
    ]
    return [
        Case("train-lm-into-forecaster", lm_into("{fc}"), r"forecaster", cls="folder"),
        Case("train-lm-into-forecaster-overwrite", lm_into("{fc}", "--overwrite"), r"forecaster", cls="folder"),
        Case("train-forecast-into-lm", fc_into("{lm}"), r"language model", cls="folder"),
        Case("train-forecast-into-lm-overwrite", fc_into("{lm}", "--overwrite"), r"language model", cls="folder"),
        Case("train-lm-into-model", lm_into("{lm}"), r"--resume.*--overwrite", cls="folder"),
        Case("train-forecast-into-model", fc_into("{fc}"), r"--resume.*--overwrite", cls="folder"),
        Case("train-lm-resume-finished", ["train", "lm", "--out", "{lm}", "--resume"], r"finished", cls="folder"),
        Case(
            "train-forecast-resume-finished",
            ["train", "forecast", "--out", "{fc}", "--resume"],
            r"finished",
            cls="folder",
        ),
        Case(
            "train-forecast-resume-finished-other-horizon",
            ["train", "forecast", "--out", "{fc}", "--resume", "--horizon", "5"],
            r"finished",
            cls="folder",
        ),
        Case("train-lm-into-model-bad-value", lm_into("{lm}", "--hidden-size", "0"), r"hidden.size", cls="folder"),
        Case(
            "train-lm-into-model-bad-value-other-text",
            ["train", "lm", "--text", "{csv}", "--out", "{lm}", "--hidden-size", "0"],
            r"hidden.size",
            cls="folder",
        ),
        Case(
            "train-lm-into-model-bad-cell-overwrite",
            lm_into("{lm}", "--cell", "nope", "--overwrite"),
            r"cell.*nope",
            cls="folder",
        ),
        Case(
            "train-forecast-into-model-bad-fill-overwrite",
            fc_into("{fc}", "--fill", "nope", "--overwrite"),
            r"fill.*nope",
            cls="folder",
        ),
        Case("train-lm-out-is-file", lm_into("{bad}"), r"is a file", new_file("f.txt", "x"), "folder"),
        Case("train-forecast-out-is-file", fc_into("{bad}"), r"is a file", new_file("f.txt", "x"), "folder"),
        Case(
            "forecast-out-is-model-file",
            ["forecast", "{fc}", "--out", "{fc}/model.safetensors"],
            r"model\.safetensors",
            cls="folder",
        ),
        Case(
            "forecast-out-is-config", ["forecast", "{fc}", "--out", "{lm}/config.json"], r"config\.json", cls="folder"
        ),
        Case(
            "forecast-out-is-folder", ["forecast", "{fc}", "--out", "{bad}"], r"folder", new_folder("outdir"), "folder"
        ),
        Case(
            "detect-out-is-model-file", ["detect", "{fc}", "--out", "{fc}/series.json"], r"series\.json", cls="folder"
        ),
        Case(
            "backtest-out-is-file",
            ["backtest", "{fc}", "--out", "{bad}"],
            r"is a file",
            new_file("f.txt", "x"),
            "folder",
        ),
    ]


SEQUENCE_VERBS = (
    ("cls", ["predict", "{cls}", "--text", "it was great"]),
    ("cls", ["evaluate", "{cls}", "--data", "{reviews}"]),
    ("tag", ["predict", "{tag}", "--text", "Alice likes Rome"]),
    ("tag", ["evaluate", "{tag}", "--data", "{conll}"]),
)


def sequence_model_cases() -> List[Case]:
    """Classifier and tagger folders, and the verbs that train them."""
    cases = []
    for kind, argv in SEQUENCE_VERBS:
        verb = f"{argv[0]}-{kind}"
        for damage in ("truncated", "pickle", "missing", "empty"):
            names = r"model\.safetensors" + (r".*pickle" if damage == "pickle" else "")
            cases.append(Case(f"{verb}-weights-{damage}", argv, names, on(kind, weights(damage)), "file"))
        for damage in ("not_json", "list", "future", "wrong_type", "out_of_range", "mismatch", "unknown_field"):
            cases.append(
                Case(f"{verb}-config-{damage}", argv, CONFIG_DAMAGES[damage], on(kind, config_json(damage)), "file")
            )
        for damage in ("missing", "not_json", "list"):
            cases.append(
                Case(f"{verb}-vocab-{damage}", argv, r"vocab\.json", on(kind, json_file("vocab.json", damage)), "file")
            )
        other = [("{fc}" if a == "{" + kind + "}" else a) for a in argv]
        cases.append(Case(f"{verb}-folder-other-kind", other, r"forecaster", cls="folder"))
        gone = [("{tmp}/nowhere" if a == "{" + kind + "}" else a) for a in argv]
        cases.append(Case(f"{verb}-folder-missing", gone, r"nowhere.*(not exist|not found)", cls="folder"))
    classify = ["train", "classify", "--data", "{bad}", "--text-col", "review", "--label-col", "sentiment"]
    classify += ["--out", "{tmp}/run", "--epochs", "1"]
    one_class = "review,sentiment\n" + "".join(f"text {i},pos\n" for i in range(30))
    tag = ["train", "tag", "--data", "{bad}", "--out", "{tmp}/run", "--epochs", "1"]
    cases += [
        Case(
            "predict-cls-data-and-text",
            ["predict", "{cls}", "--text", "x", "--data", "{reviews}"],
            r"--data.*--text",
            cls="conflict",
        ),
        Case("predict-cls-nothing", ["predict", "{cls}"], r"--data.*--text", cls="option"),
        Case("predict-cls-text-blank", ["predict", "{cls}", "--text", "   "], r"empty", cls="option"),
        Case("predict-cls-data-missing", ["predict", "{cls}", "--data", "{tmp}/none.csv"], r"none\.csv", cls="file"),
        Case(
            "predict-cls-unknown-column",
            ["predict", "{cls}", "--data", "{reviews}", "--text-col", "body"],
            r"body.*columns",
            cls="option",
        ),
        Case(
            "predict-cls-out-is-model-file",
            ["predict", "{cls}", "--data", "{reviews}", "--out", "{cls}/config.json"],
            r"config\.json",
            cls="folder",
        ),
        Case("evaluate-cls-without-data", ["evaluate", "{cls}"], r"--data", cls="option"),
        Case("evaluate-lm-with-data", ["evaluate", "{lm}", "--data", "{reviews}"], r"--text", cls="option"),
        Case(
            "train-classify-unknown-column",
            [*classify[:4], "--text-col", "body", *classify[6:]],
            r"body",
            new_file("d.csv", "review,sentiment\na,b\n"),
            "option",
        ),
        Case("train-classify-empty-file", classify, r"d\.csv.*(empty|no rows)", new_file("d.csv", ""), "file"),
        Case(
            "train-classify-binary-file",
            classify,
            r"d\.csv",
            new_file("d.csv", np.random.default_rng(5).bytes(900)),
            "file",
        ),
        Case("train-classify-one-class", classify, r"(one class|only)", new_file("d.csv", one_class), "file"),
        Case(
            "train-classify-unknown-dataset",
            ["train", "classify", "--dataset", "imdb", "--out", "{tmp}/run"],
            r"imdb",
            cls="option",
        ),
        Case(
            "train-classify-unknown-ucr",
            ["train", "classify", "--dataset", "ucr:NoSuchSet", "--out", "{tmp}/run"],
            r"NoSuchSet",
            cls="option",
        ),
        Case("train-classify-no-data", ["train", "classify", "--out", "{tmp}/run"], r"--data.*--dataset", cls="option"),
        Case(
            "train-classify-into-lm",
            [
                "train",
                "classify",
                "--data",
                "{reviews}",
                "--text-col",
                "review",
                "--label-col",
                "sentiment",
                "--out",
                "{lm}",
            ],
            r"language model",
            cls="folder",
        ),
        Case(
            "train-classify-into-itself",
            [
                "train",
                "classify",
                "--data",
                "{reviews}",
                "--text-col",
                "review",
                "--label-col",
                "sentiment",
                "--out",
                "{cls}",
            ],
            r"--resume.*--overwrite",
            cls="folder",
        ),
        Case(
            "train-classify-resume-and-overwrite",
            [
                "train",
                "classify",
                "--data",
                "{reviews}",
                "--text-col",
                "review",
                "--label-col",
                "sentiment",
                "--out",
                "{cls}",
                "--resume",
                "--overwrite",
            ],
            r"--resume.*--overwrite",
            cls="conflict",
        ),
        Case(
            "train-classify--hidden-size=0",
            [
                "train",
                "classify",
                "--data",
                "{reviews}",
                "--text-col",
                "review",
                "--label-col",
                "sentiment",
                "--out",
                "{tmp}/run",
                "--hidden-size",
                "0",
            ],
            r"hidden.size",
            cls="option",
        ),
        Case(
            "train-classify--seed=-1",
            [
                "train",
                "classify",
                "--data",
                "{reviews}",
                "--text-col",
                "review",
                "--label-col",
                "sentiment",
                "--out",
                "{tmp}/run",
                "--seed",
                "-1",
            ],
            r"seed.*-1",
            cls="option",
        ),
        Case(
            "train-classify--pooling=sum",
            [
                "train",
                "classify",
                "--data",
                "{reviews}",
                "--text-col",
                "review",
                "--label-col",
                "sentiment",
                "--out",
                "{tmp}/run",
                "--pooling",
                "sum",
            ],
            r"pooling.*sum",
            cls="option",
        ),
        Case(
            "train-classify--level=sentencepiece",
            [
                "train",
                "classify",
                "--data",
                "{reviews}",
                "--text-col",
                "review",
                "--label-col",
                "sentiment",
                "--out",
                "{tmp}/run",
                "--level",
                "sentencepiece",
            ],
            r"level.*sentencepiece",
            cls="option",
        ),
        Case("train-tag-wrong-columns", tag, r"line 2", new_file("t.conll", "the\tO\nRome\tB-LOC\textra\n\n"), "file"),
        Case("train-tag-empty-file", tag, r"t\.conll.*empty", new_file("t.conll", ""), "file"),
        Case(
            "train-tag-one-tag",
            tag,
            r"(only the tags|one tag|nothing to tell)",
            new_file("t.conll", "".join(f"w{i}\tO\n\n" for i in range(40))),
            "file",
        ),
        Case(
            "train-tag-bad-jsonl",
            ["train", "tag", "--data", "{bad}", "--out", "{tmp}/run"],
            r"t\.jsonl.*line 2",
            new_file("t.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["a", "b"], "tags": ["O"]}\n'),
            "file",
        ),
        Case(
            "train-tag-unknown-dataset",
            ["train", "tag", "--dataset", "conll2003", "--out", "{tmp}/run"],
            r"conll2003",
            cls="option",
        ),
        Case(
            "train-tag-into-classifier",
            ["train", "tag", "--data", "{conll}", "--out", "{cls}"],
            r"sequence classifier",
            cls="folder",
        ),
        Case(
            "train-tag--seed=-1",
            ["train", "tag", "--data", "{conll}", "--out", "{tmp}/run", "--seed", "-1"],
            r"seed.*-1",
            cls="option",
        ),
    ]
    return cases


SEQ2SEQ_VERBS = (["translate", "{s2s}", "--text", "abc"], ["evaluate", "{s2s}", "--pairs", "{pairs}"])


def seq2seq_cases() -> List[Case]:
    """Encoder-decoder folders under translate and evaluate, and train seq2seq's inputs."""
    cases = []
    for argv in SEQ2SEQ_VERBS:
        verb = f"{argv[0]}-s2s"
        for damage in ("truncated", "pickle", "missing"):
            names = r"model\.safetensors" + (r".*pickle" if damage == "pickle" else "")
            cases.append(Case(f"{verb}-weights-{damage}", argv, names, on("s2s", weights(damage)), "file"))
        for damage in ("not_json", "future", "wrong_type", "mismatch", "unknown_field"):
            cases.append(
                Case(f"{verb}-config-{damage}", argv, CONFIG_DAMAGES[damage], on("s2s", config_json(damage)), "file")
            )
        for name in ("source_vocab.json", "target_vocab.json"):
            cases.append(
                Case(
                    f"{verb}-{name.split('.')[0]}-garbage",
                    argv,
                    name.replace(".", r"\."),
                    on("s2s", json_file(name, "not_json")),
                    "file",
                )
            )
        other = [("{cls}" if a == "{s2s}" else a) for a in argv]
        cases.append(Case(f"{verb}-folder-other-kind", other, r"sequence classifier", cls="folder"))
    train = ["train", "seq2seq", "--pairs", "{bad}", "--out", "{tmp}/run", "--epochs", "1"]
    cases += [
        Case("train-seq2seq-no-tab", train, r"p\.tsv.*line 2", new_file("p.tsv", "abc\tcba\nno tab\n"), "file"),
        Case("train-seq2seq-empty-side", train, r"p\.tsv.*line 1", new_file("p.tsv", "abc\t \n"), "file"),
        Case("train-seq2seq-empty-file", train, r"p\.tsv.*empty", new_file("p.tsv", ""), "file"),
        Case("train-seq2seq-binary", train, r"p\.tsv", new_file("p.tsv", np.random.default_rng(6).bytes(500)), "file"),
        Case(
            "train-seq2seq-into-lm",
            ["train", "seq2seq", "--pairs", "{pairs}", "--out", "{lm}"],
            r"language model",
            cls="folder",
        ),
        Case(
            "train-seq2seq-into-itself",
            ["train", "seq2seq", "--pairs", "{pairs}", "--out", "{s2s}"],
            r"--resume.*--overwrite",
            cls="folder",
        ),
        Case(
            "train-seq2seq-unknown-dataset",
            ["train", "seq2seq", "--dataset", "wmt14", "--out", "{tmp}/run"],
            r"wmt14",
            cls="option",
        ),
        Case(
            "train-seq2seq-pairs-and-dataset",
            ["train", "seq2seq", "--pairs", "{pairs}", "--dataset", "dates", "--out", "{tmp}/run"],
            r"--pairs.*--dataset",
            cls="conflict",
        ),
        Case(
            "train-seq2seq--label-smoothing=1",
            ["train", "seq2seq", "--pairs", "{pairs}", "--out", "{tmp}/run", "--label-smoothing", "1"],
            r"label_smoothing",
            cls="option",
        ),
        Case("translate-s2s--beam=0", ["translate", "{s2s}", "--text", "abc", "--beam", "0"], r"--beam", cls="option"),
        Case(
            "translate-s2s-plot-is-model-file",
            ["translate", "{s2s}", "--text", "abc", "--attention-plot", "{s2s}/config.json"],
            r"config\.json",
            cls="folder",
        ),
        Case("evaluate-s2s-without-pairs", ["evaluate", "{s2s}"], r"--pairs", cls="option"),
    ]
    return cases


def all_cases() -> List[Case]:
    cases = model_folder_cases() + input_file_cases() + option_cases() + folder_cases() + sequence_model_cases()
    cases += seq2seq_cases()
    from . import malformed_cells, malformed_diagnostics, malformed_export, malformed_report, malformed_serving

    for extra in (malformed_cells, malformed_diagnostics, malformed_report, malformed_export, malformed_serving):
        cases += extra.cases()
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"duplicate case ids: {dupes}"
    return cases


def expand(argv: List[str], places: dict) -> List[str]:
    return [a.format(**places) for a in argv]


def env_without_colour() -> dict:
    return {**os.environ, "NO_COLOR": "1"}
