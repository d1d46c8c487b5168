"""The sections of a run report, from the files of the run folder, for every kind of model.

A section is a title and a list of blocks: :class:`Facts` (name/value pairs), :class:`Table`,
:class:`Tagged` (sentences with gold and predicted tags), :class:`Text` (preformatted, e.g. a
language model's sample), :class:`Note` and :class:`~.report_pictures.Picture` (a PNG, or what is
absent and why). Every report has the sections ``overview``, ``settings``, ``data``,
``training``, ``metrics``, ``pictures`` and ``time``, in that order; what fills them depends on
``model_type``. Values are plain text: the template escapes them.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ..models.format import describe_type
from .report_pictures import grad_norms, loss_curves, picture_file
from .report_run import RunFiles, read_jsonl, read_lines

__all__ = ["Section", "Facts", "Table", "Text", "Tagged", "Note", "sections", "SECTION_IDS"]

SECTION_IDS = ("overview", "settings", "data", "training", "metrics", "pictures", "time")
PREDICTION_ROWS = 12  # test predictions shown in the page
TAGGED_SENTENCES, TAGGED_TOKENS = 8, 80  # tagged test sentences shown, tokens of each


@dataclass
class Facts:
    rows: List[Tuple[str, str]]
    kind: str = "facts"


@dataclass
class Table:
    headers: List[str]
    rows: List[List[str]]
    caption: str = ""
    kind: str = "table"


@dataclass
class Text:
    text: str
    caption: str = ""
    title: str = ""
    kind: str = "text"


@dataclass
class Tagged:
    """Tagged sentences: per token (token, gold tag, predicted tag); a wrong prediction is marked."""

    sentences: List[List[Tuple[str, str, str]]]
    caption: str = ""
    kind: str = "tagged"


@dataclass
class Note:
    text: str
    kind: str = "note"


@dataclass
class Section:
    id: str
    title: str
    blocks: List[Any] = field(default_factory=list)


def show(value: Any) -> str:
    """A value as the page shows it: floats to 4 significant digits, lists joined, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show(v)}" for k, v in value.items())
    return str(value)


def _facts(mapping: Dict[str, Any], skip: Sequence[str] = ()) -> Facts:
    return Facts([(str(k), show(v)) for k, v in mapping.items() if k not in skip])


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
        return show(seconds)
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


# ---- per model type: settings, data, metrics, the task's own pictures ---------------------------

UNITS = {  # what the training loss of each kind measures
    "language_model": "nats per token",
    "forecaster": "the head's loss on the scaled series",
    "sequence_classifier": "nats per example",
    "sequence_tagger": "nats per sentence (CRF) or per token",
    "seq2seq": "nats per target token",
}


def _recipe(run: RunFiles) -> Dict[str, Any]:
    if run.model_type == "language_model":
        return run.part("run_settings.json", "recipe") or run.part("summary.json", "recipe")
    if run.model_type == "forecaster":
        return {}
    return run.part("run.json", "recipe")


def settings(run: RunFiles) -> List[Any]:
    blocks: List[Any] = []
    recipe = _recipe(run)
    if recipe:
        blocks.append(_facts(recipe, skip=("out", "resume", "overwrite", "progress", "threads")))
    elif run.model_type == "forecaster":
        blocks.append(Note("a forecaster keeps its training settings in its model configuration (below)"))
    else:
        source = "run_settings.json" if run.model_type == "language_model" else "run.json"
        blocks.append(Note(f"no training settings: the run folder holds no {source}"))
    blocks.append(Text(_config_text(run.model.config), caption="model configuration (config.json)"))
    return blocks


def _config_text(config: Dict[str, Any]) -> str:
    width = max((len(str(k)) for k in config), default=0)
    return "\n".join(f"{str(k):<{width}}  {show(v)}" for k, v in config.items())


def data(run: RunFiles) -> List[Any]:
    kind = run.model_type
    if kind == "language_model":
        settings = run.doc("run_settings.json")
        recipe, corpus = run.part("run_settings.json", "recipe"), run.part("run_settings.json", "corpus")
        rows = [
            (
                "text",
                show(recipe.get("text")) if recipe.get("text") else "the default corpus (Python's reference manual)",
            ),
            ("characters", show(corpus.get("characters"))),
            ("sha256", show(corpus.get("sha256"))),
            ("tokens", show(recipe.get("level"))),
            ("vocabulary", show(run.model.config.get("vocab_size"))),
            ("validation share", show(recipe.get("val_fraction"))),
        ]
        return [Facts(rows)] if settings else [Note("the run folder holds no run_settings.json: the corpus is unknown")]
    if kind == "forecaster":
        blocks: List[Any] = []
        series = run.doc("series.json")
        if series:
            blocks.append(_facts(series))
        meta = run.model.extra.get("meta") if isinstance(run.model.extra.get("meta"), dict) else {}
        if meta:
            blocks.append(_facts(meta))
        scalers = run.doc("preprocessing.json").get("scalers")
        if isinstance(scalers, dict):
            rows = [
                [str(name), show(s.get("mean")), show(s.get("std"))]
                for name, s in scalers.items()
                if isinstance(s, dict)
            ]
            blocks.append(Table(["scaled", "mean", "standard deviation"], rows, "how the series was scaled"))
        return blocks or [Note("the run folder holds no series.json: the series is unknown")]
    info = run.doc("run.json")
    if not info:
        return [Note("the run folder holds no run.json: the data is unknown")]
    rows = [(k, show(v)) for k, v in info.items() if k not in ("recipe", "sizes")]
    sizes = run.part("run.json", "sizes")
    rows += [(f"{split} examples", show(n)) for split, n in sizes.items()]
    labels = run.model.config.get("labels") or run.model.config.get("tags")
    if isinstance(labels, list):
        rows.append(("labels" if kind != "sequence_tagger" else "tags", show(labels)))
    return [Facts(rows)]


def metrics(run: RunFiles) -> List[Any]:
    kind = run.model_type
    if kind == "language_model":
        summary = run.doc("summary.json")
        if not summary:
            return [Note("the run folder holds no summary.json: the run did not finish, or is older")]
        keys = ("val_loss", "val_bits_per_token", "val_bits_per_character", "val_perplexity")
        return [Facts([(k, show(summary.get(k))) for k in keys if k in summary])]
    if kind == "forecaster":
        val = run.log("val_log.csv").get("val_loss", [])
        finite = [v for v in val if math.isfinite(v)]
        if not finite:
            return [Note("no validation loss was logged")]
        return [
            Facts([("last validation loss", show(finite[-1])), ("best validation loss", show(min(finite)))]),
            Note("a forecaster's errors in the series' units come from `rnnkit backtest` on the folder"),
        ]
    m = run.doc("metrics.json")
    if not m:
        return [Note("the run folder holds no metrics.json: the run did not finish")]
    per = run.part("metrics.json", "per_class" if kind == "sequence_classifier" else "per_type")
    per = {name: scores for name, scores in per.items() if isinstance(scores, dict)}
    facts = _facts({k: v for k, v in m.items() if not isinstance(v, (dict, list))})
    blocks: List[Any] = [facts]
    if isinstance(per, dict) and per:
        columns = [c for c in ("precision", "recall", "f1", "support") if all(c in v for v in per.values())]
        rows = [[str(name)] + [show(scores.get(c)) for c in columns] for name, scores in per.items()]
        blocks.append(Table(["class" if kind == "sequence_classifier" else "entity type", *columns], rows))
    return blocks


def pictures(run: RunFiles, model_pictures: Callable[[RunFiles], List[Any]]) -> List[Any]:
    """The task's own pictures and examples, then pictures made from the saved model (LM samples,
    gradient flow, attention maps), then any other PNG in the folder."""
    kind = run.model_type
    folder = run.folder
    blocks: List[Any] = []
    if kind == "forecaster":
        blocks.append(picture_file(folder / "forecast.png", "Forecast", "the series' end and the forecast from it"))
    elif kind == "sequence_classifier":
        blocks.append(picture_file(folder / "confusion_matrix.png", "Confusion matrix", "on the test split"))
        lines = read_lines(folder / "test_predictions.csv", PREDICTION_ROWS + 1)
        if lines:
            cells = list(csv.reader(lines))
            blocks.append(Table(cells[0], cells[1:], "the first test predictions (test_predictions.csv)"))
    elif kind == "sequence_tagger":
        docs = read_jsonl(folder / "test_predictions.jsonl", TAGGED_SENTENCES)
        if docs:
            sentences = [_tagged(d) for d in docs if isinstance(d, dict)]
            caption = "the first test sentences: each token over its gold tag and the predicted one (red: wrong)"
            blocks.append(Tagged([s for s in sentences if s], caption))
    elif kind == "seq2seq":
        lines = read_lines(folder / "test_predictions.tsv", PREDICTION_ROWS)
        if lines:
            rows = [line.split("\t") for line in lines]
            width = max(len(r) for r in rows)
            headers = ["source", "output", "reference"][:width] + [""] * max(0, width - 3)
            rows = [r + [""] * (width - len(r)) for r in rows]
            blocks.append(Table(headers, rows, "the first test sources (test_predictions.tsv)"))
    blocks += model_pictures(run)
    shown = {"forecast.png", "confusion_matrix.png", "loss_curves.png"}
    for path in sorted(folder.glob("*.png")):
        if path.name not in shown:
            blocks.append(
                picture_file(path, path.stem.replace("_", " ").capitalize(), f"{path.name} of the run folder")
            )
    return blocks


def _tagged(doc: Dict[str, Any]) -> List[Tuple[str, str, str]]:
    tokens, gold, predicted = (
        doc.get(k) if isinstance(doc.get(k), list) else [] for k in ("tokens", "gold", "predicted")
    )
    n = min(len(tokens), TAGGED_TOKENS)
    pad = lambda tags, i: str(tags[i]) if i < len(tags) else ""  # noqa: E731
    return [(str(tokens[i]), pad(gold, i), pad(predicted, i)) for i in range(n)]


def training(run: RunFiles) -> List[Any]:
    unit = UNITS.get(run.model_type, "nats per token")
    train, val = run.log("train_log.csv"), run.log("val_log.csv")
    if not train and not val:
        return [Note("the run folder holds neither train_log.csv nor val_log.csv")]
    val_unit = None
    if run.model_type == "forecaster":  # it selects on another measure than it trains on
        select = run.model.config.get("select", "point")
        val_unit = "mean squared error of the point forecast (scaled)" if select == "point" else "the head's loss"
    blocks: List[Any] = [loss_curves(train, val, unit, val_unit)]
    if "grad_norm" in train:
        blocks.append(grad_norms(train))
    steps = [s for s in train.get("step", []) if math.isfinite(s)]
    skipped = sum(v for v in train.get("skipped", []) if math.isfinite(v))
    rows = [("logged updates", show(len(steps))), ("last update", show(int(steps[-1])) if steps else "—")]
    if skipped:
        rows.append(("updates skipped (non-finite loss or gradient)", show(int(skipped))))
    blocks.append(Facts(rows))
    return blocks


def time_taken(run: RunFiles) -> List[Any]:
    summary = run.doc("summary.json") if run.model_type == "language_model" else run.doc("metrics.json")
    rows = []
    if "seconds" in summary:
        rows.append(("wall-clock time of the run", _duration(summary["seconds"])))
    if "train_seconds" in summary:
        rows.append(("training time", _duration(summary["train_seconds"])))
    for key, name in (("steps", "updates"), ("epochs", "epochs"), ("tokens_per_second", "tokens per second")):
        if key in summary:
            rows.append((name, show(summary[key])))
    throughput = [v for v in run.log("train_log.csv").get("throughput", []) if math.isfinite(v)]
    if throughput:
        rows.append(
            ("median throughput (tokens or examples per second)", show(sorted(throughput)[len(throughput) // 2]))
        )
    if not any(name in ("wall-clock time of the run", "training time") for name, _ in rows):
        rows.insert(0, ("training time", "not recorded by this kind of run"))
    return [Facts(rows)]


def overview(run: RunFiles) -> List[Any]:
    cfg = run.model
    rows = [
        ("model", describe_type(cfg.model_type)),
        ("folder", str(run.folder)),
        ("cell", show(cfg.config.get("cell"))),
        ("hidden size", show(cfg.config.get("hidden_size"))),
        ("layers", show(cfg.config.get("num_layers"))),
        ("written by rnnkit", show(_written_by(run))),
    ]
    return [Facts([(k, v) for k, v in rows if v != "—"])]


def _written_by(run: RunFiles) -> Any:
    from ..models.format import read_json_file

    doc = read_json_file(run.model.config_path)  # read (and checked) once already by read_model
    return doc.get("rnnkit_version") if isinstance(doc, dict) else None


def sections(run: RunFiles, model_pictures: Callable[[RunFiles], List[Any]]) -> List[Section]:
    """Every section of the report of ``run``, in :data:`SECTION_IDS` order."""
    return [
        Section("overview", "Overview", overview(run)),
        Section("settings", "Settings", settings(run)),
        Section("data", "Data", data(run)),
        Section("training", "Training", training(run)),
        Section("metrics", "Final metrics", metrics(run)),
        Section("pictures", "Pictures and examples", pictures(run, model_pictures)),
        Section("time", "Time", time_taken(run)),
    ]


def folder_name(path: Path) -> str:
    return path.resolve().name or str(path)
