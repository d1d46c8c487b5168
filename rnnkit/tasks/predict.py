"""Predict and evaluate with a saved classifier or tagger, on a file or one text.

The model folder says how it reads its input: a classifier of tokens encodes text with its own
vocabulary (``vocab.json``); a series classifier reads ``.ts`` / UCR ``.tsv`` / wide CSV files and
z-normalises each series as in training; a tagger reads sentences (words separated by spaces,
one per line) or a CoNLL-style file. Settings such as the text column default to the training
run's (``run.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from .._checks import FileFormatError, InvalidValueError
from ..data.atomic import atomic_write
from ..models.format import read_json_file, read_model
from .classification import (
    RUN_FILE,
    _series_arrays,
    encode_text,
    predictions_csv,
    score_split,
)
from .tagging import decode_sentences, encode_words, read_sentences, score_sentences

KINDS = ("sequence_classifier", "sequence_tagger")


def _load(model_dir: str):
    from ..models.format import model_class

    folder = read_model(model_dir, expected=KINDS)
    model = model_class(folder.model_type).from_folder(folder)
    run_path = Path(model_dir) / RUN_FILE
    run = read_json_file(run_path) if run_path.is_file() else {}
    recipe = run.get("recipe", {}) if isinstance(run, dict) else {}
    return folder.model_type, model, recipe if isinstance(recipe, dict) else {}


def _max_length(recipe: Dict[str, Any]) -> int:
    value = recipe.get("max_length", 1000)
    return value if isinstance(value, int) and value > 0 else 1000


def predict_text(model_dir: str, text: str, attention: Optional[str] = None) -> List[str]:
    """Lines to print for one text: the class and its probability (classifier), or word/TAG (tagger).
    ``attention``: a PNG path for the attention pooling's weight of each token (classifiers that pool
    by attention)."""
    kind, model, recipe = _load(model_dir)
    if attention is not None and (kind != "sequence_classifier" or model.config.pooling != "attention"):
        raise InvalidValueError("--attention needs a text classifier trained with --pooling attention")
    if not text.strip():
        raise InvalidValueError("--text is empty: give a text to predict")
    if kind == "sequence_tagger":
        words = text.split()
        tags = decode_sentences(model, [encode_words(model.vocab, words)])[0]
        return [" ".join(f"{w}/{t}" for w, t in zip(words, tags))]
    if not model.config.tokens:
        raise InvalidValueError(f"the model in {model_dir} classifies series: give --data FILE (.ts, .tsv or .csv)")
    ids = encode_text(model.vocab, text, _max_length(recipe))
    result = score_split(model, [ids], None, _max_length(recipe))
    probs = result["probs"][0]
    ranked = sorted(zip(model.config.labels, probs), key=lambda p: -p[1])
    lines = [f"{name}\t{p:.4f}" for name, p in ranked]
    if attention is not None:
        import torch

        from ..diagnostics.classification import plot_attention

        with torch.no_grad():
            weights = model.attention(torch.tensor([ids]))[0].tolist()
        tokens = [model.vocab.token_of(i) for i in ids]
        top = ranked[0]
        plot_attention(tokens, weights, attention, title=f"predicted {top[0]} ({top[1]:.2f}): attention per token")
        lines.append(f"attention: {attention}")
    return lines


def _texts(path: str, text_col: Optional[str], recipe: Dict[str, Any]) -> List[str]:
    """The texts of a table (its text column) or of a .txt file (one per line)."""
    if path.lower().endswith(".txt"):
        from ..data.labelled_text import read_text_file

        lines = [line for line in read_text_file(path, "text file").splitlines() if line.strip()]
        if not lines:
            raise FileFormatError(f"{path!r} holds no text (every line is blank)")
        return lines
    from ..data.labelled_text import read_texts

    column = text_col or recipe.get("text_col")
    if not column:
        raise InvalidValueError("give --text-col: the column of the texts to classify")
    return read_texts(path, column)


def _series(path: str, recipe: Dict[str, Any]):
    from ..timeseries import ucr

    lower = path.lower()
    if lower.endswith(".ts"):
        return ucr.read_ts(path)
    if lower.endswith(".csv") and recipe.get("label_col"):
        return ucr.read_wide_csv(path, recipe["label_col"])
    return ucr.read_ucr_tsv(path)


def predict_file(model_dir: str, data: str, text_col: Optional[str], out: Optional[str]) -> Dict[str, Any]:
    """Predict every example of ``data``; write ``out`` (CSV for a classifier, JSONL for a tagger)."""
    kind, model, recipe = _load(model_dir)
    if kind == "sequence_tagger":
        sentences = _sentences(data)
        tags = decode_sentences(model, [encode_words(model.vocab, s) for s in sentences])
        lines = [json.dumps({"tokens": s, "tags": t}, ensure_ascii=False) for s, t in zip(sentences, tags)]
        if out:
            atomic_write(out, "\n".join(lines) + "\n")
            return {"lines": [f"wrote {len(lines)} tagged sentences to {out}"]}
        return {"lines": [" ".join(f"{w}/{t}" for w, t in zip(s, g)) for s, g in zip(sentences, tags)]}
    length = _max_length(recipe)
    if model.config.tokens:
        texts = _texts(data, text_col, recipe)
        result = score_split(model, [encode_text(model.vocab, t, length) for t in texts], None, length)
    else:
        texts = None
        series = _series(data, recipe)
        result = score_split(model, _series_arrays(series), None, length)
    if out:
        atomic_write(out, predictions_csv(model.config.labels, result, texts))
        return {"lines": [f"wrote {len(result['probs'])} predictions to {out}"]}
    names = model.config.labels
    return {"lines": [f"{names[int(p)]}\t{result['probs'][i].max():.4f}" for i, p in enumerate(result["pred"])]}


def _sentences(path: str) -> List[List[str]]:
    """Sentences of a CoNLL-style file (a token column and more) or of a text file (one per line)."""
    from ..data.labelled_text import read_text_file

    text = read_text_file(path, "sentence file")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("-DOCSTART-")]
    if not lines:
        raise FileFormatError(f"{path!r} holds no sentence")
    if all(len(line.split()) >= 2 for line in lines) and any(not line.strip() for line in text.splitlines()):
        return [list(s) for s in read_sentences(path, 0, -1).tokens]  # CoNLL: the first column
    return [line.split() for line in lines]


def evaluate_file(model_dir: str, data: str, text_col: Optional[str], out: Optional[str]) -> Dict[str, Any]:
    """Score the model on a labelled file; the confusion matrix PNG goes to ``out`` (a .png path) or
    ``model_dir/evaluation/confusion_matrix.png``."""
    kind, model, recipe = _load(model_dir)
    if kind == "sequence_tagger":
        gold = read_sentences(data, int(recipe.get("token_col", 0)), int(recipe.get("tag_col", -1)))
        scores, _ = score_sentences(model, [encode_words(model.vocab, s) for s in gold.tokens], gold.tags)
        return scores
    length = _max_length(recipe)
    if model.config.tokens:
        from ..data.labelled_text import read_labelled_text

        column = text_col or recipe.get("text_col")
        label, cols = recipe.get("label_col"), recipe.get("label_cols")
        cols = [c.strip() for c in cols.split(",") if c.strip()] if isinstance(cols, str) else None
        if not column or not (label or cols):
            raise InvalidValueError("give --text-col; the model's run.json does not name the text and label columns")
        table = read_labelled_text(data, column, label, label_sep=recipe.get("label_sep"), label_cols=cols)
        inputs, labels = [encode_text(model.vocab, t, length) for t in table.texts], list(table.labels)
    else:
        series = _series(data, recipe)
        inputs, labels = _series_arrays(series), list(series.labels)
    result = score_split(model, inputs, labels, length)
    summary = dict(result["scores"])
    if not model.config.multi_label:
        from ..diagnostics.classification import plot_confusion

        png = Path(out) if out else Path(model_dir) / "evaluation" / "confusion_matrix.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        summary["confusion_png"] = str(plot_confusion(summary["confusion"], model.config.labels, png))
    return summary
