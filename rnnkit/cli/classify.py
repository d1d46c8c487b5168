"""``rnnkit train classify``, ``rnnkit train tag``, ``rnnkit predict``: many-to-one and many-to-many.

``rnnkit evaluate DIR --data FILE`` (in :mod:`.language_model`) scores a classifier or tagger
through :func:`evaluate_sequence_model` here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .._checks import InvalidValueError
from ..tasks.classification import ClassifyRecipe
from ..tasks.tagging import TagRecipe
from .app import app, train_app
from .errors import user_errors_as_one_line
from .options import check_options, exclusive, existing_file, from_config, output_file, output_folder
from .report import report_after_training

C, T = ClassifyRecipe, TagRecipe


def _echo_scores(summary: dict) -> None:
    if "accuracy" in summary:
        typer.echo(
            f"test: accuracy {summary['accuracy']:.4f}, macro-F1 {summary['macro_f1']:.4f} "
            f"({summary['examples']} examples)"
        )
    elif "subset_accuracy" in summary:
        typer.echo(
            f"test: micro-F1 {summary['micro_f1']:.4f}, macro-F1 {summary['macro_f1']:.4f}, exact match "
            f"{summary['subset_accuracy']:.4f}"
        )
    if "token_accuracy" in summary:
        typer.echo(f"test: token accuracy {summary['token_accuracy']:.4f} ({summary['tokens']} tokens)")
    if "entity_f1" in summary:
        typer.echo(
            f"test: entity precision {summary['entity_precision']:.4f}, recall {summary['entity_recall']:.4f}, "
            f"F1 {summary['entity_f1']:.4f}"
        )


@train_app.command("classify")
@user_errors_as_one_line
def train_classify(
    data: Optional[Path] = from_config(C, "data"),
    dataset: Optional[str] = from_config(C, "dataset"),
    test_data: Optional[Path] = from_config(C, "test_data"),
    text_col: Optional[str] = from_config(C, "text_col"),
    label_col: Optional[str] = from_config(C, "label_col"),
    label_sep: Optional[str] = from_config(C, "label_sep"),
    label_cols: Optional[str] = from_config(C, "label_cols"),
    level: str = from_config(C, "level"),
    out: Path = from_config(C, "out"),
    cell: str = from_config(C, "cell"),
    embedding_size: int = from_config(C, "embedding_size"),
    hidden_size: int = from_config(C, "hidden_size"),
    num_layers: int = from_config(C, "num_layers"),
    bidirectional: bool = from_config(C, "bidirectional", "--bidirectional/--unidirectional"),
    pooling: str = from_config(C, "pooling"),
    conv: int = from_config(C, "conv"),
    dropout: float = from_config(C, "dropout"),
    max_length: int = from_config(C, "max_length"),
    vocab_size: int = from_config(C, "vocab_size"),
    epochs: int = from_config(C, "epochs"),
    batch_size: int = from_config(C, "batch_size"),
    lr: float = from_config(C, "lr"),
    patience: int = from_config(C, "patience"),
    time_budget: Optional[float] = from_config(C, "time_budget"),
    seed: int = from_config(C, "seed"),
    threads: Optional[int] = from_config(C, "threads"),
    resume: bool = from_config(C, "resume"),
    overwrite: bool = from_config(C, "overwrite"),
) -> None:
    """Train a sequence classifier (texts or series), test it once, write metrics and a confusion matrix."""
    from ..tasks.classification import train_classifier

    check_options(seed=seed, threads=threads)
    exclusive(resume=resume, overwrite=overwrite)
    output_folder(out)
    options = {k: v for k, v in locals().items() if k in {f for f in ClassifyRecipe.__dataclass_fields__}}
    options.update(
        data=existing_file(data, "data file") if data is not None else None,
        test_data=existing_file(test_data, "test file"),
        out=str(out),
    )
    summary = train_classifier(ClassifyRecipe(**options), log=typer.echo)
    sizes = summary["sizes"]
    typer.echo(
        f"trained {summary['epochs']} epochs in {summary['train_seconds']} s on {sizes['train']} examples "
        f"({sizes['val']} validation, {sizes['test']} test; padding {summary['padding']:.1%})"
    )
    _echo_scores(summary)
    typer.echo(f"model: {out}/; metrics: {out}/metrics.json; confusion matrix: {out}/confusion_matrix.png")
    report_after_training(out)
    typer.echo(f"next:  rnnkit predict {out} --data FILE --out preds.csv")


@train_app.command("tag")
@user_errors_as_one_line
def train_tag(
    data: Optional[Path] = from_config(T, "data"),
    dataset: Optional[str] = from_config(T, "dataset"),
    test_data: Optional[Path] = from_config(T, "test_data"),
    token_col: int = from_config(T, "token_col"),
    tag_col: int = from_config(T, "tag_col"),
    out: Path = from_config(T, "out"),
    crf: bool = from_config(T, "crf", "--crf/--softmax"),
    cell: str = from_config(T, "cell"),
    embedding_size: int = from_config(T, "embedding_size"),
    hidden_size: int = from_config(T, "hidden_size"),
    num_layers: int = from_config(T, "num_layers"),
    conv: int = from_config(T, "conv"),
    dropout: float = from_config(T, "dropout"),
    min_freq: int = from_config(T, "min_freq"),
    epochs: int = from_config(T, "epochs"),
    batch_size: int = from_config(T, "batch_size"),
    lr: float = from_config(T, "lr"),
    patience: int = from_config(T, "patience"),
    time_budget: Optional[float] = from_config(T, "time_budget"),
    seed: int = from_config(T, "seed"),
    threads: Optional[int] = from_config(T, "threads"),
    resume: bool = from_config(T, "resume"),
    overwrite: bool = from_config(T, "overwrite"),
) -> None:
    """Train a sequence tagger (bidirectional, CRF by default), test it once, write metrics."""
    from ..tasks.tagging import train_tagger

    check_options(seed=seed, threads=threads)
    exclusive(resume=resume, overwrite=overwrite)
    output_folder(out)
    options = {k: v for k, v in locals().items() if k in {f for f in TagRecipe.__dataclass_fields__}}
    options.update(
        data=existing_file(data, "data file") if data is not None else None,
        test_data=existing_file(test_data, "test file"),
        out=str(out),
    )
    summary = train_tagger(TagRecipe(**options), log=typer.echo)
    sizes = summary["sizes"]
    typer.echo(
        f"trained {summary['epochs']} epochs in {summary['train_seconds']} s on {sizes['train']} sentences "
        f"({sizes['val']} validation, {sizes['test']} test)"
    )
    _echo_scores(summary)
    typer.echo(f"model: {out}/; metrics: {out}/metrics.json; test predictions: {out}/test_predictions.jsonl")
    report_after_training(out)


@app.command()
@user_errors_as_one_line
def predict(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train classify` or `train tag`."),
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        help="Examples: a table with the text column (or a .txt file, one text or sentence per line), a .ts/.tsv "
        "series file, or a CoNLL file for a tagger.",
    ),
    text: Optional[str] = typer.Option(None, "--text", help="One text (or sentence, words separated by spaces)."),
    text_col: Optional[str] = typer.Option(None, "--text-col", help="The text column (default: as trained)."),
    out: Optional[Path] = typer.Option(None, "--out", help="CSV (classifier) or JSONL (tagger) of predictions."),
    attention: Optional[Path] = typer.Option(
        None, "--attention", help="With --text: draw each token's attention weight to this PNG (attention pooling)."
    ),
) -> None:
    """Predict with a classifier (class and probabilities) or a tagger (a tag per token)."""
    from ..tasks.predict import predict_file, predict_text

    exclusive(data=data, text=text)
    if data is None and text is None:
        raise InvalidValueError("give --data FILE or --text TEXT: what to predict")
    output_file(out)
    output_file(attention, "--attention")
    if attention is not None and text is None:
        raise InvalidValueError("--attention draws the weights of one text: give --text")
    if text is not None:
        for line in predict_text(str(model_dir), text, None if attention is None else str(attention)):
            typer.echo(line)
        return
    info = predict_file(str(model_dir), existing_file(data, "data file"), text_col, None if out is None else str(out))
    for line in info["lines"]:
        typer.echo(line)


def evaluate_sequence_model(model_dir: Path, data: Path, text_col: Optional[str], out: Optional[Path]) -> None:
    """``rnnkit evaluate DIR --data FILE`` for a classifier or tagger: print the scores, write the
    confusion matrix (classifier) beside ``--out`` or into the model folder's ``evaluation/``."""
    from ..tasks.predict import evaluate_file

    check_options()
    summary = evaluate_file(
        str(model_dir), existing_file(data, "data file"), text_col, None if out is None else str(out)
    )
    _echo_scores(summary)
    if summary.get("confusion_png"):
        typer.echo(f"confusion matrix: {summary['confusion_png']}")
    typer.echo(
        json.dumps({k: v for k, v in summary.items() if k in ("accuracy", "macro_f1", "token_accuracy", "entity_f1")})
    )
