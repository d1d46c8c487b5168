"""Recipe: train a language model on a text file (or the default corpus), evaluate it, sample it.

It assembles library pieces and holds no model code:
corpus -> train/validation split (last 10% of the text) -> :class:`~rnnkit.data.Vocabulary` -> ids
-> B parallel streams (:class:`~rnnkit.training.data.StreamDataset`) -> :class:`~rnnkit.models.
language_model.LanguageModel` -> :class:`~rnnkit.training.Trainer` with truncated BPTT ->
``out/`` holding ``config.json``, ``model.safetensors``, ``vocab.json``, ``run_settings.json``,
the CSV logs, ``loss_curves.png`` and the ``last/`` and ``best/`` checkpoints.

A run records its own settings in ``run_settings.json`` before it trains. Resuming reads them back
(:func:`resume_recipe`), so ``--resume`` continues the run as it was started; only the settings in
the shared :data:`~rnnkit.training.resume.RESUME_MAY_CHANGE` (here: how long it runs, how often it
checkpoints and validates) may change then, and the time budget may only grow.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn.functional as F

from .._checks import (
    FileFormatError,
    InvalidValueError,
    MissingFileError,
    choice,
    in_range,
    non_negative_int,
    optional,
    positive_float,
    positive_int,
)
from ..data import TextStream, Vocabulary, default_corpus, read_text, split_train_val
from ..data.atomic import atomic_write
from ..data.tokenizers import TOKENIZERS
from .._checks import NotAFolderError
from ..models.language_model import LanguageModel, LanguageModelConfig
from ..training import TrainConfig, Trainer
from ..training.checkpoint import find_checkpoint, load_model_weights
from ..training.data import StreamDataset
from ..training.resume import RESUME_MAY_CHANGE, Conflict, ResumeConflict, check_resume

DEFAULT_TIME_BUDGET = 300.0  # seconds, when neither a time budget nor a step limit is given
RUN_SETTINGS = "run_settings.json"
SETTINGS_FORMAT = "rnnkit.language_model_run"
_NOT_SAVED = ("out", "resume", "progress")  # where and how this invocation runs, not what it trains
_NO_STEP_LIMIT = 10**12  # max_steps=None: only the time budget ends the run


@dataclass
class LanguageModelRecipe:
    text: Optional[str] = None  # a UTF-8 corpus; None = the Python reference manual's help text (ships with Python)
    out: str = "runs/lm"  # the run folder: model, vocabulary, settings, logs, plots, checkpoints
    level: str = "char"  # "char", "word" or "bpe" tokens; characters need no unknown-token handling
    cell: str = "lstm"  # lstm, gru or rnn
    embedding_size: int = 64  # characters carry little meaning each: a small embedding suffices
    hidden_size: Optional[int] = None  # None: chosen for the run's length (see `sized_for_budget`)
    num_layers: int = 2  # two layers beat one at the same parameter count for characters
    dropout: Optional[float] = None  # None: chosen for the run's length (a longer run needs more)
    bptt: int = 128  # TBPTT chunk length: long enough for words and short lines
    batch_size: int = 32  # parallel streams: keeps the GEMMs efficient on CPU
    lr: Optional[float] = None  # peak of the cosine schedule (Adam); None: chosen for the run's length
    min_lr_ratio: float = 0.05  # the cosine ends at lr * this: annealing gains the last few hundredths of a nat
    max_steps: Optional[int] = None  # stop after this many updates; None = no step limit
    time_budget: Optional[float] = None  # seconds of training, summed over resumes; None with max_steps None = 300
    val_fraction: float = 0.1  # the last 10% of the text, as nanoGPT splits tinyshakespeare
    val_every: int = 250  # validate (and keep the best checkpoint) every N updates
    checkpoint_every: int = 250  # write last/ every N updates, so a crash loses little
    seed: int = 0  # same seed, same machine -> same model
    resume: bool = False  # continue the run in `out` exactly where its last checkpoint stopped
    progress: Optional[bool] = None  # progress bar; None = only on a terminal

    def __post_init__(self) -> None:
        choice("level", self.level, TOKENIZERS)
        for name in ("bptt", "batch_size", "val_every", "checkpoint_every"):
            positive_int(name, getattr(self, name))
        optional(positive_int, "max_steps", self.max_steps)
        optional(positive_float, "time_budget", self.time_budget)
        in_range("val_fraction", self.val_fraction, 0, 1, low_open=True, high_open=True)
        optional(positive_float, "lr", self.lr)
        non_negative_int("seed", self.seed)
        if self.max_steps is None and self.time_budget is None:
            self.time_budget = DEFAULT_TIME_BUDGET
        hidden, dropout, lr = sized_for_budget(self.time_budget, self.max_steps, self.batch_size * self.bptt)
        self.hidden_size = hidden if self.hidden_size is None else self.hidden_size
        self.dropout = dropout if self.dropout is None else self.dropout
        self.lr = lr if self.lr is None else self.lr


# Measured on a 2-core CPU (docs/language_models.md): a 2x256 LSTM sees ~12-16k characters a second;
# without dropout it learns fastest over the first ~8M characters and then overfits a 1 MB corpus,
# so longer runs get more dropout; a short run anneals early, so it starts from a higher peak.
# (A 2x512 model is three times slower: on two cores it does not catch up within 30 minutes.)
REFERENCE_TOKENS_PER_SECOND = 13_500.0  # converts a step limit into the seconds the thresholds were measured in


def sized_for_budget(time_budget: Optional[float], max_steps: Optional[int] = None,
                     tokens_per_step: int = 32 * 128) -> tuple:
    """``(hidden_size, dropout, lr)`` for a run of ``time_budget`` seconds or ``max_steps`` updates.

    The run's length is the time budget, or the time ``max_steps`` updates of ``tokens_per_step``
    tokens take at the measured ~13.5k tokens a second, whichever is shorter: under 10 minutes
    (about 8M tokens) no dropout and a peak of 4e-3; under 20 minutes dropout 0.1, else 0.2, at 2e-3.
    """
    seconds = math.inf if time_budget is None else float(time_budget)
    if max_steps is not None:
        seconds = min(seconds, max_steps * tokens_per_step / REFERENCE_TOKENS_PER_SECOND)
    if seconds < 600:
        return 256, 0.0, 4e-3
    if seconds < 1200:
        return 256, 0.1, 2e-3
    return 256, 0.2, 2e-3


# ---- the run's own settings, for --resume -----------------------------------------------------

def _saved_fields(recipe: LanguageModelRecipe) -> Dict[str, Any]:
    d = {k: v for k, v in asdict(recipe).items() if k not in _NOT_SAVED}
    d["text"] = None if recipe.text is None else str(Path(recipe.text).resolve())
    return d


def _fingerprint(text: str) -> Dict[str, Any]:
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "characters": len(text)}


def write_run_settings(recipe: LanguageModelRecipe, text: str) -> Path:
    """Record ``recipe`` (every value resolved) and a fingerprint of its text in ``out/run_settings.json``."""
    path = Path(recipe.out) / RUN_SETTINGS
    doc = {"format": SETTINGS_FORMAT, "version": 1, "recipe": _saved_fields(recipe), "corpus": _fingerprint(text)}
    atomic_write(path, json.dumps(doc, indent=2) + "\n")
    return path


def read_run_settings(out) -> Optional[Dict[str, Any]]:
    """The settings a run in ``out`` was started with, or None when it has none."""
    path = Path(out) / RUN_SETTINGS
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{path} is not valid JSON ({err}); it records the run's settings") from None
    if not isinstance(doc, dict) or doc.get("format") != SETTINGS_FORMAT or not isinstance(doc.get("recipe"), dict):
        raise FileFormatError(f"{path} is not a rnnkit run-settings file")
    known = {f.name for f in fields(LanguageModelRecipe)}
    unknown = sorted(set(doc["recipe"]) - known)
    if unknown:
        raise FileFormatError(f"{path} holds settings this rnnkit does not know: {unknown}")
    return doc


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _show(name: str, value: Any) -> str:
    if name == "text":
        return "the default corpus" if value is None else str(value)
    if value is None:
        return "(none)"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _resolved(path: Optional[str]) -> Optional[str]:
    return None if path is None else str(Path(path).resolve())


# the recipe's settings that may change on resume (the shared rule, RESUME_MAY_CHANGE)
_MAY_CHANGE = sorted(f.name for f in fields(LanguageModelRecipe)
                     if f.name in RESUME_MAY_CHANGE and f.name not in _NOT_SAVED)


def _check_changes(out, saved: Dict[str, Any], given: Dict[str, Any]) -> None:
    """Raise :class:`~rnnkit.training.resume.ResumeConflict` if ``given`` changes a saved setting
    that may not change on resume, or shortens the time budget."""
    saved = {k: (_resolved(v) if k == "text" else v) for k, v in saved.items()}
    given = {k: (_resolved(v) if k == "text" else v) for k, v in given.items()}
    check_resume(saved, given, str(out), label=_option, show=_show,
                 how_to="resume without them (the run keeps its own settings) or start a new run in another "
                        f"--out; only {', '.join(_option(n) for n in _MAY_CHANGE)} may change on --resume "
                        "(the time budget may only grow)")
    budget, before = given.get("time_budget"), saved.get("time_budget")
    if budget is not None and before is not None and budget < before:
        raise ResumeConflict(
            f"--time-budget {_show('time_budget', budget)} would shorten the run in {out}, which was started "
            f"with --time-budget {_show('time_budget', before)}; on --resume the time budget can only be raised",
            [Conflict("time_budget", before, budget)])


def resume_recipe(out, progress: Optional[bool] = None, **changes) -> Optional[LanguageModelRecipe]:
    """The recipe of the run saved in ``out``, with ``changes`` applied; None when ``out`` holds none.

    ``changes`` are the options given again on resume. Those in
    :data:`~rnnkit.training.resume.RESUME_MAY_CHANGE` replace the saved value (a time budget may
    only grow); any other must equal the saved value, or :class:`~rnnkit.training.resume.
    ResumeConflict` names the option, the saved value and the given one. The text may be given at
    another path if it is the same text.
    """
    doc = read_run_settings(out)
    if doc is None:
        return None
    saved = dict(doc["recipe"])
    known = {f.name for f in fields(LanguageModelRecipe)} - set(_NOT_SAVED)
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TypeError(f"resume_recipe() got unknown options {unknown}")
    changes = dict(changes)
    if ("text" in changes and _resolved(changes["text"]) != _resolved(saved.get("text"))
            and _is_saved_text(doc, changes["text"])):
        saved["text"] = changes.pop("text")  # the same text at another path (moved, or mounted elsewhere)
    _check_changes(out, saved, changes)
    saved.update({name: value for name, value in changes.items() if name in _MAY_CHANGE})
    if saved.get("text") is not None:
        saved["text"] = _resolved(saved["text"])
    if saved.get("max_steps") is None and saved.get("time_budget") is None:
        saved["time_budget"] = DEFAULT_TIME_BUDGET
    return LanguageModelRecipe(**saved, out=str(out), resume=True, progress=progress)


def _is_saved_text(doc: Dict[str, Any], path: Optional[str]) -> bool:
    """Whether ``path`` (None: the default corpus) holds the very text the run was started with."""
    try:
        return _fingerprint(load_corpus(path)) == doc.get("corpus")
    except (OSError, ValueError):
        return False


def _check_against_saved(recipe: LanguageModelRecipe, doc: Dict[str, Any]) -> None:
    """A recipe built by hand with ``resume=True`` must match the run's saved settings. The text
    is compared by its content once it is read (see :func:`train_language_model`), not by its path."""
    mine = {k: v for k, v in _saved_fields(recipe).items() if k != "text"}
    _check_changes(recipe.out, doc["recipe"], mine)


# ---- training ---------------------------------------------------------------------------------

def lm_step(model: LanguageModel, chunk, state):
    """TBPTT step: ``chunk = (x, y, reset)``; mean next-token cross-entropy in nats."""
    x, y = chunk[0], chunk[1]
    logits, state = model(x, state)  # (B, k, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)), state


def _streams(ids: torch.Tensor, batch_size: int, bptt: int) -> StreamDataset:
    """``batch_size`` parallel contiguous streams (TextStream's layout) served as TBPTT chunks."""
    return StreamDataset(TextStream(ids, batch_size, bptt).data, bptt=bptt)


def load_corpus(path: Optional[str]) -> str:
    return default_corpus() if path is None else read_text(path)


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def train_language_model(recipe: LanguageModelRecipe, log: Callable[[str], None] = print,
                         warn: Callable[[str], None] = _warn) -> Dict[str, object]:
    """Train as ``recipe`` says; returns a summary (also written to ``out/summary.json``).

    ``log`` receives progress lines, ``warn`` problems that do not stop the run (a plot that could
    not be drawn). With ``recipe.resume`` the run in ``out`` continues; its saved settings must agree
    with the recipe (build one with :func:`resume_recipe`). Without a checkpoint to resume from, the
    run starts from the beginning and ``log`` says so.
    """
    out = Path(recipe.out)
    if out.exists() and not out.is_dir():
        raise NotAFolderError(f"--out {out} is a file; the run needs a folder (it is created if missing)")
    has_checkpoint = find_checkpoint(out / "last") is not None
    saved = read_run_settings(out)
    if recipe.resume:
        if saved is not None:
            _check_against_saved(recipe, saved)
        if not has_checkpoint:
            log(f"note: nothing to resume in {out} (no checkpoint yet): starting the run from the beginning")
        elif saved is None:
            warn(f"{out} has no {RUN_SETTINGS} (written by an older rnnkit): the options given now are not "
                 f"checked against the run's own")
    elif has_checkpoint:
        log(f"note: {out} holds an earlier run; a new run replaces it (--resume continues it instead)")

    text = load_corpus(recipe.text)
    if recipe.resume and saved is not None and has_checkpoint and saved.get("corpus") != _fingerprint(text):
        started = saved["recipe"].get("text")
        what = (f"the text of the run in {out} ({_show('text', started)}) has changed since the run started"
                if _resolved(started) == _resolved(recipe.text) else
                f"{_show('text', recipe.text)} is not the text the run in {out} was started with "
                f"({_show('text', started)})")
        raise InvalidValueError(f"{what}; resuming would train on different data: give that text as it was, "
                         f"or start a new run in another --out")
    train_text, val_text = split_train_val(text, recipe.val_fraction)
    resuming = recipe.resume and has_checkpoint and (out / "vocab.json").is_file()
    vocab = Vocabulary.load(out / "vocab.json") if resuming else Vocabulary.from_text(text, level=recipe.level)
    train_ids = _encode(vocab, train_text)
    val_ids = _encode(vocab, val_text)
    min_tokens = recipe.batch_size * (recipe.bptt + 1)
    if train_ids.numel() < min_tokens:
        raise InvalidValueError(
            f"the text is too short for one training window: {train_ids.numel()} training tokens, but "
            f"batch_size={recipe.batch_size} streams of bptt={recipe.bptt}+1 need {min_tokens}; "
            f"use a longer text or smaller --batch-size/--bptt"
        )
    val_batch = max(1, min(recipe.batch_size, val_ids.numel() // (recipe.bptt + 1)))
    train_data = _streams(train_ids, recipe.batch_size, recipe.bptt)
    val_data = _streams(val_ids, val_batch, recipe.bptt) if val_ids.numel() >= 2 * val_batch else None

    out.mkdir(parents=True, exist_ok=True)
    write_run_settings(recipe, text)  # before training: a run stopped at any point can be resumed as it was
    if not resuming:
        vocab.save(out / "vocab.json")

    torch.manual_seed(recipe.seed)
    config = LanguageModelConfig(
        vocab_size=len(vocab), cell=recipe.cell, embedding_size=recipe.embedding_size,
        hidden_size=recipe.hidden_size, num_layers=recipe.num_layers, dropout=recipe.dropout,
    )
    model = LanguageModel(config, vocab)
    train_config = TrainConfig(
        max_steps=_NO_STEP_LIMIT if recipe.max_steps is None else recipe.max_steps,
        time_budget=recipe.time_budget, bptt=recipe.bptt, optimizer="adam",
        lr=recipe.lr, schedule="cosine", min_lr_ratio=recipe.min_lr_ratio, clip_norm=1.0,
        val_every=recipe.val_every, checkpoint_every=recipe.checkpoint_every, out_dir=str(out),
        resume=recipe.resume and has_checkpoint, seed=recipe.seed, throughput_unit="tokens", log_every=25,
        progress=recipe.progress,
    )
    start = time.perf_counter()
    trainer = Trainer(model, train_config, step_fn=lm_step)
    length = [f"{recipe.time_budget:g} s" if recipe.time_budget is not None else None,
              f"{recipe.max_steps:,} updates" if recipe.max_steps is not None else None]
    log(f"training a {recipe.num_layers}x{recipe.hidden_size} {recipe.cell.upper()} on "
        f"{'the default corpus (Python reference manual)' if recipe.text is None else recipe.text}: "
        f"{train_ids.numel():,} training and {val_ids.numel():,} validation {vocab.tokenizer.unit}s, "
        f"vocabulary {len(vocab)}; dropout {recipe.dropout:g}, lr {recipe.lr:g}, "
        f"for {' or '.join(x for x in length if x)}")
    trainer.fit(train_data, val_data)
    elapsed = time.perf_counter() - start

    best = find_checkpoint(out / "best")
    if best is not None and trainer.history:  # validated in this run (or the one it resumed): best/ is ours
        load_model_weights(best, model)  # ship the best validated weights
    model.save_pretrained(out, vocab)
    val = None
    if val_data is not None:
        val = score_ids(model, val_ids, val_text)
    plot = _plot(out, recipe, warn)
    summary = {
        "steps": trainer.step, "seconds": round(elapsed, 1), "train_seconds": round(trainer.train_seconds, 1),
        "tokens_per_second": round(trainer.step * recipe.batch_size * recipe.bptt / max(trainer.train_seconds, 1e-9)),
        "val_loss": None if val is None else val["loss"],
        "val_bits_per_token": None if val is None else val["bits_per_token"],
        "val_bits_per_character": None if val is None else val["bits_per_character"],
        "val_perplexity": None if val is None else val["perplexity"],
        "level": recipe.level, "model_dir": str(out), "plot": plot, "recipe": asdict(recipe),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _encode(vocab: Vocabulary, text: str) -> torch.Tensor:
    with warnings.catch_warnings():  # symbols dropped by min_freq/max_size become <unk>; expected here
        warnings.simplefilter("ignore")
        return torch.tensor(vocab.encode(text, unknown="replace"), dtype=torch.long)


def _plot(out: Path, recipe: LanguageModelRecipe, warn: Callable[[str], None]) -> Optional[str]:
    """Draw the loss curves; a plot that cannot be drawn never fails the run that trained the model."""
    try:
        from ..diagnostics.loss_curves import plot_loss_curves

        return str(plot_loss_curves(out, title=f"{recipe.cell.upper()} language model"))
    except ImportError as err:
        warn(f"no loss-curve plot: matplotlib is not available ({err}); the model and logs are saved")
    except Exception as err:  # noqa: BLE001 -- any plotting failure: report it, keep the trained model
        warn(f"could not draw the loss curves ({type(err).__name__}: {err}); the model and logs are saved")
    return None


# ---- evaluation -------------------------------------------------------------------------------

@torch.no_grad()
def _total_nats(model: LanguageModel, ids: torch.Tensor, chunk: int = 256) -> tuple:
    """``(sum of next-token losses in nats, predictions)`` over ``ids`` as one stream, state carried."""
    if ids.numel() < 2:
        raise InvalidValueError(f"need at least 2 tokens to evaluate, got {ids.numel()}")
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    x_all, y_all = ids[:-1].view(1, -1), ids[1:].view(1, -1)
    try:
        for s in range(0, x_all.shape[1], chunk):
            x, y = x_all[:, s : s + chunk], y_all[:, s : s + chunk]
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    finally:
        model.train(was_training)
    return total, count


def evaluate_ids(model: LanguageModel, ids: torch.Tensor, chunk: int = 256) -> float:
    """Mean next-token loss (nats) over ``ids`` as one stream, the state carried throughout."""
    total, count = _total_nats(model, ids, chunk)
    return total / count


def _predicted_characters(vocab: Vocabulary, text: str, ids: torch.Tensor) -> int:
    """Characters of ``text`` after its first token: the first token is given, every later one predicted."""
    first = vocab.decode(ids[:1].tolist()).strip()
    at = text.find(first) if first and int(ids[0]) not in vocab.special_ids else -1
    return max(1, len(text) - (at + len(first) if at >= 0 else 1))


def score_ids(model: LanguageModel, ids: torch.Tensor, text: str) -> Dict[str, float]:
    """Loss, bits per token, bits per character and perplexity of ``ids``, the encoding of ``text``.

    Bits per character divide the total loss by the characters the predicted tokens cover, so a
    word or BPE model's figure compares with a character model's (for a character model the two
    are equal).
    """
    total, count = _total_nats(model, ids)
    loss = total / count
    vocab = model.vocab
    per_character = vocab is None or vocab.tokenizer.tokens_are_characters
    chars = count if per_character else _predicted_characters(vocab, text, ids)
    return {"tokens": int(ids.numel()), "characters": chars, "loss": loss, "bits_per_token": loss / math.log(2),
            "bits_per_character": total / chars / math.log(2), "perplexity": math.exp(loss)}


def evaluate_language_model(model_dir: str, text_path: Optional[str] = None) -> Dict[str, Any]:
    """Loss (nats per token), bits per token and character, and perplexity of the model in ``model_dir``.

    With ``text_path`` the whole file is scored. Without it, the validation part of the text the
    model was trained on (the last ``val_fraction``, read from ``run_settings.json``): the held-out
    figure training reported. ``"text"`` in the result says what was scored.
    """
    model = LanguageModel.from_pretrained(model_dir)
    if model.vocab is None:
        raise MissingFileError(f"{model_dir} has no vocab.json: cannot encode text for this model")
    if text_path is not None:
        text, what = read_text(text_path), str(text_path)
    else:
        doc = read_run_settings(model_dir)
        if doc is None:
            raise MissingFileError(
                f"{model_dir} has no {RUN_SETTINGS} saying which text the model was trained on: give --text FILE"
            )
        saved = doc["recipe"]
        text = load_corpus(saved.get("text"))
        if doc.get("corpus") != _fingerprint(text):
            raise InvalidValueError(
                f"the training text of {model_dir} ({_show('text', saved.get('text'))}) has changed since "
                f"training, so its validation part is not the one held out: give --text FILE"
            )
        fraction = saved.get("val_fraction", 0.1)
        text = split_train_val(text, fraction)[1]
        what = f"the validation part (last {fraction:.0%}) of {_show('text', saved.get('text'))}"
    if text_path is None:
        ids = _encode(model.vocab, text)  # as in training: symbols dropped from the vocabulary are <unk>
    else:
        ids = torch.tensor(model.vocab.encode(text, unknown="replace"), dtype=torch.long)  # warns naming unknowns
    result = score_ids(model, ids, text)
    return {"text": what, "level": model.vocab.level, "unit": model.vocab.tokenizer.unit, **result}
