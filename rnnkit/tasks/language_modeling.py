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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn.functional as F

from .._checks import (
    FileFormatError,
    InvalidTypeError,
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
from ..layers import CELL_HELP
from ..layers.regularizers import check_regularizers
from ..models.format import has_model
from ..models.language_model import MODEL_TYPE, LanguageModel, LanguageModelConfig
from ..training import TrainConfig, Trainer
from ..training.checkpoint import find_checkpoint, load_model_weights, load_training_state
from ..training.data import StreamDataset
from ..training.resources import check_fits, count_parameters, training_bytes
from ..training.resume import RESUME_MAY_CHANGE, check_resume
from ..training.run_folder import plan_run_folder, resumable_folder
from ..training.threads import ThreadGovernor

RUN_SETTINGS = "run_settings.json"
SETTINGS_FORMAT = "rnnkit.language_model_run"
# where and how this invocation runs, not what it trains
_NOT_SAVED = ("out", "resume", "overwrite", "progress", "threads")


def _help(text: str) -> Dict[str, str]:
    return {"help": text}


@dataclass
class LanguageModelRecipe:
    """Everything ``rnnkit train lm`` does, with its defaults; each field's ``help`` is its CLI help.

    The run is defined by its number of updates, so the same recipe and seed give the same model on
    any machine, busy or quiet (the time budget is only a cap).
    """

    text: Optional[str] = field(
        default=None,
        metadata=_help(
            "UTF-8 text file to learn; default: the Python reference manual's help text (ships with Python)."
        ),
    )
    out: str = field(
        default="runs/lm", metadata=_help("Run folder: model, vocabulary, settings, logs, plot, checkpoints.")
    )
    level: str = field(
        default="char",
        metadata=_help(
            "Tokens: char, word or bpe (bpe needs pip install 'rnnkit[bpe]'); characters need no unknown tokens."
        ),
    )
    cell: str = field(default="lstm", metadata=_help(CELL_HELP))
    embedding_size: int = field(
        default=64,
        metadata=_help("Token embedding size (characters carry little meaning each: a small embedding suffices)."),
    )
    hidden_size: int = field(
        default=256, metadata=_help("Hidden units per layer (2x256 is the size a 2-core CPU trains well in minutes).")
    )
    num_layers: int = field(
        default=2, metadata=_help("Stacked recurrent layers (two beat one at the same parameter count for characters).")
    )
    dropout: Optional[float] = field(
        default=None,
        metadata=_help(
            "Dropout on embeddings, between layers and before the output; default: by the run's length in tokens "
            "(none for short runs, which do not overfit; more for long ones)."
        ),
    )
    weight_drop: float = field(
        default=0.0,
        metadata=_help(
            "DropConnect on the recurrent weights W_hh (AWD-LSTM), in [0, 1): regularises the recurrence and "
            "keeps the fused LSTM kernel (docs/cells.md)."
        ),
    )
    recurrent_dropout: float = field(
        default=0.0,
        metadata=_help(
            "Variational dropout on h_{t-1}, one mask per sequence, in [0, 1); runs the time loop (slower)."
        ),
    )
    zoneout: float = field(
        default=0.0,
        metadata=_help(
            "Zoneout: each state unit keeps its previous value with this probability, in [0, 1); runs the time "
            "loop (slower)."
        ),
    )
    bptt: int = field(
        default=64, metadata=_help("Truncated BPTT length: steps per update; the state is carried across chunks.")
    )
    batch_size: int = field(
        default=16,
        metadata=_help(
            "Parallel text streams. 16 streams of 64 steps learn faster per second than 32 of 128 on a CPU: "
            "four times the updates at the same tokens per second (docs/language_models.md)."
        ),
    )
    lr: Optional[float] = field(
        default=None,
        metadata=_help(
            "Peak learning rate (Adam, cosine schedule over the updates); default: by the run's length in tokens."
        ),
    )
    min_lr_ratio: float = field(
        default=0.05,
        metadata=_help("The cosine ends at lr times this: annealing gains the last few hundredths of a nat."),
    )
    max_steps: int = field(
        default=2000,
        metadata=_help(
            "Updates to train; the schedule and the default dropout and lr follow them. The default 2,000 takes "
            "about 2.5 minutes on a quiet 2-core CPU."
        ),
    )
    time_budget: Optional[float] = field(
        default=None,
        metadata=_help(
            "Optional cap in seconds of training (summed over resumes): the run stops there even if updates "
            "are left (the learning rate will not have annealed: prefer a smaller --max-steps)."
        ),
    )
    val_fraction: float = field(
        default=0.1,
        metadata=_help("Share of the text held out at its end for validation (nanoGPT's split of tinyshakespeare)."),
    )
    val_every: int = field(default=250, metadata=_help("Validate (and keep the best checkpoint) every N updates."))
    checkpoint_every: int = field(
        default=250, metadata=_help("Write a checkpoint (last/) every N updates, so a crash loses little.")
    )
    seed: int = field(default=0, metadata=_help("Random seed (>= 0): the same seed gives the same model."))
    threads: Optional[int] = field(
        default=None,
        metadata=_help(
            "CPU threads; default: the cores other programs leave free, re-read as the run goes (a thread that "
            "shares its core with another program stalls the others)."
        ),
    )
    resume: bool = field(
        default=False,
        metadata=_help(
            "Continue the run in --out exactly where it stopped, with the settings it was started with (saved in "
            "run_settings.json); only how long it runs and how often it validates and checkpoints may change."
        ),
    )
    overwrite: bool = field(
        default=False,
        metadata=_help(
            "Replace the run in --out with a new one. The new run trains beside it and replaces it only when "
            "it has finished; until then the old model is untouched."
        ),
    )
    progress: Optional[bool] = field(default=None, metadata=_help("Progress bar; default: only on a terminal."))

    def __post_init__(self) -> None:
        choice("level", self.level, TOKENIZERS)
        check_regularizers(
            self.cell, weight_drop=self.weight_drop, recurrent_dropout=self.recurrent_dropout, zoneout=self.zoneout
        )
        for name in (
            "embedding_size",
            "hidden_size",
            "num_layers",
            "bptt",
            "batch_size",
            "max_steps",
            "val_every",
            "checkpoint_every",
        ):
            positive_int(name, getattr(self, name))
        optional(positive_float, "time_budget", self.time_budget)
        in_range("val_fraction", self.val_fraction, 0, 1, low_open=True, high_open=True)
        optional(positive_float, "lr", self.lr)
        optional(in_range, "dropout", self.dropout, 0.0, 1.0, high_open=True)
        non_negative_int("seed", self.seed)
        optional(positive_int, "threads", self.threads)
        dropout, lr = sized_for_tokens(self.max_steps * self.batch_size * self.bptt)
        self.dropout = dropout if self.dropout is None else self.dropout
        self.lr = lr if self.lr is None else self.lr


# Measured on this project's 2-core CPUs (docs/language_models.md): without dropout a 2x256 character
# LSTM learns fastest over the first ~8M tokens and then overfits a 1 MB corpus, so longer runs get
# dropout; a short run anneals early, so it starts from a higher peak.
SIZING = ((8_000_000, 0.0, 4e-3), (16_000_000, 0.1, 2e-3), (float("inf"), 0.2, 2e-3))  # (tokens below, dropout, lr)


def sized_for_tokens(tokens: int) -> tuple:
    """``(dropout, lr)`` for a run that trains on ``tokens`` tokens (updates x batch x bptt): under
    8M no dropout and a peak of 4e-3; under 16M dropout 0.1, else 0.2, at 2e-3."""
    for below, dropout, lr in SIZING:
        if tokens < below:
            return dropout, lr
    raise AssertionError("unreachable: the last threshold is infinite")


# ---- the run's own settings, for --resume -----------------------------------------------------


def _saved_fields(recipe: LanguageModelRecipe) -> Dict[str, Any]:
    d = {k: v for k, v in asdict(recipe).items() if k not in _NOT_SAVED}
    d["text"] = None if recipe.text is None else str(Path(recipe.text).resolve())
    return d


def _fingerprint(text: str) -> Dict[str, Any]:
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "characters": len(text)}


def write_run_settings(recipe: LanguageModelRecipe, text: str, folder: Optional[Path] = None) -> Path:
    """Record ``recipe`` (every value resolved) and a fingerprint of its text in ``run_settings.json``
    of ``folder`` (default: ``recipe.out``)."""
    path = Path(recipe.out if folder is None else folder) / RUN_SETTINGS
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
_MAY_CHANGE = sorted(
    f.name for f in fields(LanguageModelRecipe) if f.name in RESUME_MAY_CHANGE and f.name not in _NOT_SAVED
)


def _check_changes(out, saved: Dict[str, Any], given: Dict[str, Any]) -> None:
    """Raise :class:`~rnnkit.training.resume.ResumeConflict` if ``given`` changes a saved setting
    that may not change on resume, or shortens the time budget."""
    saved = {k: (_resolved(v) if k == "text" else v) for k, v in saved.items()}
    given = {k: (_resolved(v) if k == "text" else v) for k, v in given.items()}
    check_resume(
        saved,
        given,
        str(out),
        label=_option,
        show=_show,
        how_to="resume without them (the run keeps its own settings) or start a new run in another "
        f"--out; only {', '.join(_option(n) for n in _MAY_CHANGE)} may change on --resume",
    )


def resume_recipe(
    out, progress: Optional[bool] = None, threads: Optional[int] = None, **changes
) -> Optional[LanguageModelRecipe]:
    """The recipe of the run saved in ``out``, with ``changes`` applied; None when ``out`` holds none.

    ``changes`` are the options given again on resume. Those in
    :data:`~rnnkit.training.resume.RESUME_MAY_CHANGE` replace the saved value; any other must equal
    the saved value, or :class:`~rnnkit.training.resume.ResumeConflict` names the option, the saved
    value and the given one. The text may be given at
    another path if it is the same text.
    """
    doc = read_run_settings(resumable_folder(out, ("last",)))
    if doc is None:
        return None
    saved = dict(doc["recipe"])
    known = {f.name for f in fields(LanguageModelRecipe)} - set(_NOT_SAVED)
    unknown = sorted(set(changes) - known)
    if unknown:
        raise InvalidTypeError(f"resume_recipe() got unknown options {unknown}")
    changes = dict(changes)
    if (
        "text" in changes
        and _resolved(changes["text"]) != _resolved(saved.get("text"))
        and _is_saved_text(doc, changes["text"])
    ):
        saved["text"] = changes.pop("text")  # the same text at another path (moved, or mounted elsewhere)
    _check_changes(out, saved, changes)
    saved.update({name: value for name, value in changes.items() if name in _MAY_CHANGE})
    if saved.get("text") is not None:
        saved["text"] = _resolved(saved["text"])
    if saved.get("max_steps") is None:
        raise InvalidValueError(
            f"the run in {out} was started by an older rnnkit whose runs were defined by time (no --max-steps); "
            "this rnnkit defines runs by updates and cannot continue its schedule: start a new run"
        )
    return LanguageModelRecipe(**saved, out=str(out), resume=True, progress=progress, threads=threads)


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


def train_language_model(
    recipe: LanguageModelRecipe, log: Callable[[str], None] = print, warn: Callable[[str], None] = _warn
) -> Dict[str, object]:
    """Train as ``recipe`` says; returns a summary (also written to ``out/summary.json``).

    ``log`` receives progress lines, ``warn`` problems that do not stop the run (a plot that could
    not be drawn). With ``recipe.resume`` the run in ``out`` continues; its saved settings must agree
    with the recipe (build one with :func:`resume_recipe`). Everything is checked -- the folder
    (:func:`~rnnkit.training.run_folder.plan_run_folder`: a folder holding a model needs
    ``resume`` or ``overwrite``), the text, the settings, the memory the model needs -- before the
    first file is written; a refused run changes nothing.
    """
    plan = plan_run_folder(
        recipe.out,
        MODEL_TYPE,
        resume=recipe.resume,
        overwrite=recipe.overwrite,
        checkpoint_dirs=("last",),
        finished=lambda folder: _finished(folder, recipe.max_steps),
        log=log,
    )
    out = plan.work
    has_checkpoint = plan.resuming and find_checkpoint(out / "last") is not None
    saved = read_run_settings(out) if plan.resuming else None
    if plan.resuming:
        if saved is not None:
            _check_against_saved(recipe, saved)
        if not has_checkpoint:
            log(f"note: nothing to resume in {out} (no checkpoint yet): starting the run from the beginning")
        elif saved is None:
            warn(
                f"{out} has no {RUN_SETTINGS} (written by an older rnnkit): the options given now are not "
                f"checked against the run's own"
            )

    text = load_corpus(recipe.text)
    if has_checkpoint and saved is not None and saved.get("corpus") != _fingerprint(text):
        started = saved["recipe"].get("text")
        what = (
            f"the text of the run in {out} ({_show('text', started)}) has changed since the run started"
            if _resolved(started) == _resolved(recipe.text)
            else f"{_show('text', recipe.text)} is not the text the run in {out} was started with "
            f"({_show('text', started)})"
        )
        raise InvalidValueError(
            f"{what}; resuming would train on different data: give that text as it was, "
            f"or start a new run in another --out"
        )
    train_text, val_text = split_train_val(text, recipe.val_fraction)
    resuming = has_checkpoint and (out / "vocab.json").is_file()
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
    config = LanguageModelConfig(
        vocab_size=len(vocab),
        cell=recipe.cell,
        embedding_size=recipe.embedding_size,
        hidden_size=recipe.hidden_size,
        num_layers=recipe.num_layers,
        dropout=recipe.dropout,
        weight_drop=recipe.weight_drop,
        recurrent_dropout=recipe.recurrent_dropout,
        zoneout=recipe.zoneout,
    )
    check_training_memory(recipe, config)
    train_config = TrainConfig(
        max_steps=recipe.max_steps,
        time_budget=recipe.time_budget,
        anneal_over_time=False,
        bptt=recipe.bptt,
        optimizer="adam",
        threads=recipe.threads,
        lr=recipe.lr,
        schedule="cosine",
        min_lr_ratio=recipe.min_lr_ratio,
        clip_norm=1.0,
        val_every=recipe.val_every,
        checkpoint_every=recipe.checkpoint_every,
        out_dir=str(out),
        resume=has_checkpoint,
        seed=recipe.seed,
        throughput_unit="tokens",
        log_every=25,
        progress=recipe.progress,
    )
    train_data = _streams(train_ids, recipe.batch_size, recipe.bptt)
    val_data = _streams(val_ids, val_batch, recipe.bptt) if val_ids.numel() >= 2 * val_batch else None

    # every check has passed: from here on the run writes
    plan.create()
    write_run_settings(recipe, text, out)  # before training: a run stopped at any point can be resumed as it was
    if not resuming:
        vocab.save(out / "vocab.json")
    torch.manual_seed(recipe.seed)
    model = LanguageModel(config, vocab)
    start = time.perf_counter()
    trainer = Trainer(model, train_config, step_fn=lm_step)
    length = f"{recipe.max_steps:,} updates" + (
        "" if recipe.time_budget is None else f" (at most {recipe.time_budget:g} s)"
    )
    log(
        f"training a {recipe.num_layers}x{recipe.hidden_size} {recipe.cell.upper()} on "
        f"{'the default corpus (Python reference manual)' if recipe.text is None else recipe.text}: "
        f"{train_ids.numel():,} training and {val_ids.numel():,} validation {vocab.tokenizer.unit}s, "
        f"vocabulary {len(vocab)}; dropout {recipe.dropout:g}, lr {recipe.lr:g}, "
        f"for {length}"
    )
    trainer.fit(train_data, val_data)
    elapsed = time.perf_counter() - start

    best = find_checkpoint(out / "best")
    if best is not None and trainer.history:  # validated in this run (or the one it resumed): best/ is ours
        load_model_weights(best, model)  # ship the best validated weights
    model.save_pretrained(out, vocab)
    if trainer.step < recipe.max_steps:
        warn(
            f"stopped by --time-budget after {trainer.step:,} of {recipe.max_steps:,} updates: the learning rate "
            f"had not annealed; for a shorter run give a smaller --max-steps"
        )
    val = None
    if val_data is not None:
        val = score_ids(model, val_ids, val_text, threads=recipe.threads)
    plot = _plot(out, recipe, warn)
    final = Path(recipe.out)
    summary = {
        "steps": trainer.step,
        "seconds": round(elapsed, 1),
        "train_seconds": round(trainer.train_seconds, 1),
        "tokens_per_second": round(trainer.step * recipe.batch_size * recipe.bptt / max(trainer.train_seconds, 1e-9)),
        "val_loss": None if val is None else val["loss"],
        "val_bits_per_token": None if val is None else val["bits_per_token"],
        "val_bits_per_character": None if val is None else val["bits_per_character"],
        "val_perplexity": None if val is None else val["perplexity"],
        "level": recipe.level,
        "model_dir": str(final),
        "plot": None if plot is None else str(final / Path(plot).name),
        "recipe": asdict(recipe),
    }
    atomic_write(out / "summary.json", json.dumps(summary, indent=2))
    plan.commit()
    return summary


def _finished(folder: Path, max_steps: int) -> Optional[str]:
    """Why the run in ``folder`` cannot go on with ``max_steps`` updates, or None if it can."""
    found = find_checkpoint(folder / "last")
    if found is None:
        if has_model(folder):
            return "its model is saved and it kept no checkpoint to continue from; --overwrite trains a new one"
        return None
    try:
        step = int(load_training_state(found).get("step", 0))
    except (ValueError, TypeError):  # a damaged checkpoint: the Trainer's own loader explains it
        return None
    if step >= max_steps:
        return (
            f"the run finished all {step:,} of its --max-steps {max_steps:,} updates; give a larger --max-steps "
            "to train on, or --overwrite to start a new run"
        )
    return None


def activation_floats(recipe: LanguageModelRecipe, vocab_size: int) -> float:
    """Floats one update keeps for backward: per token, each layer's gates and states, the embedding,
    and the logits with their softmax and gradient."""
    per_token = recipe.num_layers * 8 * recipe.hidden_size + recipe.embedding_size + 3 * vocab_size
    return float(recipe.batch_size) * recipe.bptt * per_token


def check_training_memory(recipe: LanguageModelRecipe, config: LanguageModelConfig) -> None:
    """Refuse a run whose model and activations cannot fit in the available memory (nothing is allocated)."""
    parameters = count_parameters(lambda: LanguageModel(config))
    need = training_bytes(parameters, activation_floats(recipe, config.vocab_size))
    check_fits(
        need,
        f"training a {recipe.num_layers}x{recipe.hidden_size} {recipe.cell.upper()} language model "
        f"({parameters:,} parameters, batch {recipe.batch_size} x bptt {recipe.bptt})",
        "choose a smaller --hidden-size, --num-layers, --batch-size or --bptt",
    )


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


def score_ids(model: LanguageModel, ids: torch.Tensor, text: str, threads: Optional[int] = None) -> Dict[str, float]:
    """Loss, bits per token, bits per character and perplexity of ``ids``, the encoding of ``text``.

    Bits per character divide the total loss by the characters the predicted tokens cover, so a
    word or BPE model's figure compares with a character model's (for a character model the two
    are equal). ``threads``: CPU threads (default: the cores other programs leave free; a batch-1
    pass on a team that shares a core with another program can slow a hundredfold).
    """
    with ThreadGovernor(threads):
        total, count = _total_nats(model, ids)
    loss = total / count
    vocab = model.vocab
    per_character = vocab is None or vocab.tokenizer.tokens_are_characters
    chars = count if per_character else _predicted_characters(vocab, text, ids)
    return {
        "tokens": int(ids.numel()),
        "characters": chars,
        "loss": loss,
        "bits_per_token": loss / math.log(2),
        "bits_per_character": total / chars / math.log(2),
        "perplexity": math.exp(loss),
    }


def evaluate_language_model(
    model_dir: str, text_path: Optional[str] = None, threads: Optional[int] = None
) -> Dict[str, Any]:
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
    result = score_ids(model, ids, text, threads=threads)
    return {"text": what, "level": model.vocab.level, "unit": model.vocab.tokenizer.unit, **result}
