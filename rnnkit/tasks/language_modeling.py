"""Recipe: train a language model on a text file (or the default corpus), evaluate it, sample it.

It assembles library pieces and holds no model code:
corpus -> :class:`~rnnkit.data.Vocabulary` -> ids -> train/validation split (last 10%) ->
B parallel streams (:class:`~rnnkit.training.data.StreamDataset`) -> :class:`~rnnkit.models.
language_model.LanguageModel` -> :class:`~rnnkit.training.Trainer` with truncated BPTT ->
``out/`` holding ``config.json``, ``model.safetensors``, ``vocab.json``, the CSV logs,
``loss_curves.png`` and the ``last/`` and ``best/`` checkpoints.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional

import torch
import torch.nn.functional as F

from ..data import TextStream, Vocabulary, default_corpus, read_text, split_train_val
from ..models.language_model import LanguageModel, LanguageModelConfig
from ..training import TrainConfig, Trainer
from ..training.checkpoint import find_checkpoint, load_model_weights
from ..training.data import StreamDataset


@dataclass
class LanguageModelRecipe:
    text: Optional[str] = None  # a UTF-8 corpus; None = the Python reference manual's help text (ships with Python)
    out: str = "runs/lm"  # the run folder: model, vocabulary, logs, plots, checkpoints
    level: str = "char"  # "char", "word" or "bpe" tokens; characters need no unknown-token handling
    cell: str = "lstm"  # lstm, gru or rnn
    embedding_size: int = 64  # characters carry little meaning each: a small embedding suffices
    hidden_size: Optional[int] = None  # None: chosen for the time budget (see `sized_for_budget`)
    num_layers: int = 2  # two layers beat one at the same parameter count for characters
    dropout: Optional[float] = None  # None: chosen with the size (a bigger model, longer run needs more)
    bptt: int = 128  # TBPTT chunk length: long enough for words and short lines
    batch_size: int = 32  # parallel streams: keeps the GEMMs efficient on CPU
    lr: Optional[float] = None  # peak of the cosine schedule (Adam); None: 4e-3 under 10 minutes, else 2e-3
    min_lr_ratio: float = 0.05  # the cosine ends at lr * this: annealing gains the last few hundredths of a nat
    max_steps: int = 100_000  # an upper bound; the time budget usually stops the run first
    time_budget: Optional[float] = None  # seconds of training for this invocation; None = until max_steps
    val_fraction: float = 0.1  # the last 10% of the text, as nanoGPT splits tinyshakespeare
    val_every: int = 250  # validate (and keep the best checkpoint) every N updates
    checkpoint_every: int = 250  # write last/ every N updates, so a crash loses little
    seed: int = 0  # same seed, same machine -> same model
    resume: bool = False  # continue the run in `out` exactly where its last checkpoint stopped
    progress: Optional[bool] = None  # progress bar; None = only on a terminal

    def __post_init__(self) -> None:
        if self.level not in ("char", "word", "bpe"):
            raise ValueError(f"level must be 'char', 'word' or 'bpe', got {self.level!r}")
        for name in ("bptt", "batch_size", "max_steps", "val_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.time_budget is not None and not (self.time_budget > 0):
            raise ValueError(f"time_budget must be a positive number of seconds, got {self.time_budget!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        hidden, dropout, lr = sized_for_budget(self.time_budget)
        self.hidden_size = hidden if self.hidden_size is None else self.hidden_size
        self.dropout = dropout if self.dropout is None else self.dropout
        self.lr = lr if self.lr is None else self.lr


# Measured on a 2-core CPU (docs/language_models.md): a 2x256 LSTM sees ~12-16k characters a second;
# without dropout it learns fastest over the first ~10M characters and then overfits a 1 MB corpus,
# so longer runs get more dropout; a short run anneals early, so it starts from a higher peak.
# (A 2x512 model is three times slower: on two cores it does not catch up within 30 minutes.)
def sized_for_budget(time_budget: Optional[float]) -> tuple:
    """``(hidden_size, dropout, lr)`` for a run of ``time_budget`` seconds (None: a short default run)."""
    if time_budget is None or time_budget < 600:
        return 256, 0.0, 4e-3
    if time_budget < 1200:
        return 256, 0.1, 2e-3
    return 256, 0.2, 2e-3


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


def train_language_model(recipe: LanguageModelRecipe, log=print) -> Dict[str, object]:
    """Train as ``recipe`` says; returns a summary (also written to ``out/summary.json``)."""
    out = Path(recipe.out)
    text = load_corpus(recipe.text)
    if recipe.resume and (out / "vocab.json").is_file():
        vocab = Vocabulary.load(out / "vocab.json")  # the same ids as the run being continued
    else:
        vocab = Vocabulary.from_text(text, level=recipe.level)
    ids = torch.tensor(vocab.encode(text, unknown="replace"), dtype=torch.long)
    train_ids, val_ids = split_train_val(ids, recipe.val_fraction)
    min_tokens = recipe.batch_size * (recipe.bptt + 1)
    if train_ids.numel() < min_tokens:
        raise ValueError(
            f"the text is too short for one training window: {train_ids.numel()} training tokens, but "
            f"batch_size={recipe.batch_size} streams of bptt={recipe.bptt}+1 need {min_tokens}; "
            f"use a longer text or smaller --batch-size/--bptt"
        )
    val_batch = max(1, min(recipe.batch_size, val_ids.numel() // (recipe.bptt + 1)))
    train_data = _streams(train_ids, recipe.batch_size, recipe.bptt)
    val_data = _streams(val_ids, val_batch, recipe.bptt) if val_ids.numel() >= 2 * val_batch else None

    torch.manual_seed(recipe.seed)
    config = LanguageModelConfig(
        vocab_size=len(vocab), cell=recipe.cell, embedding_size=recipe.embedding_size,
        hidden_size=recipe.hidden_size, num_layers=recipe.num_layers, dropout=recipe.dropout,
    )
    model = LanguageModel(config, vocab)
    train_config = TrainConfig(
        max_steps=recipe.max_steps, time_budget=recipe.time_budget, bptt=recipe.bptt, optimizer="adam",
        lr=recipe.lr, schedule="cosine", min_lr_ratio=recipe.min_lr_ratio, clip_norm=1.0,
        val_every=recipe.val_every, checkpoint_every=recipe.checkpoint_every, out_dir=str(out),
        resume=recipe.resume, seed=recipe.seed, throughput_unit="tokens", log_every=25,
        progress=recipe.progress,
    )
    start = time.perf_counter()
    trainer = Trainer(model, train_config, step_fn=lm_step)
    log(f"training a {recipe.num_layers}x{recipe.hidden_size} {recipe.cell.upper()} on "
        f"{'the default corpus (Python reference manual)' if recipe.text is None else recipe.text}: "
        f"{train_ids.numel():,} training and {val_ids.numel():,} validation {recipe.level}s, "
        f"vocabulary {len(vocab)}")
    trainer.fit(train_data, val_data)
    elapsed = time.perf_counter() - start

    best = find_checkpoint(out / "best")
    if best is not None:
        load_model_weights(best, model)  # ship the best validated weights
    model.save_pretrained(out, vocab)
    val_loss = None
    if val_data is not None:
        val_loss = evaluate_ids(model, val_ids)
    plot = None
    try:
        from ..diagnostics.loss_curves import plot_loss_curves

        plot = str(plot_loss_curves(out, title=f"{recipe.cell.upper()} language model"))
    except ImportError:  # matplotlib is optional
        pass
    summary = {
        "steps": trainer.step, "seconds": round(elapsed, 1), "train_seconds": round(trainer.train_seconds, 1),
        "tokens_per_second": round(trainer.step * recipe.batch_size * recipe.bptt / max(trainer.train_seconds, 1e-9)),
        "val_loss": val_loss, "val_bits_per_token": None if val_loss is None else val_loss / math.log(2),
        "val_perplexity": None if val_loss is None else math.exp(val_loss),
        "model_dir": str(out), "plot": plot, "recipe": asdict(recipe),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@torch.no_grad()
def evaluate_ids(model: LanguageModel, ids: torch.Tensor, chunk: int = 256) -> float:
    """Mean next-token loss (nats) over ``ids`` as one stream, the state carried throughout."""
    if ids.numel() < 2:
        raise ValueError(f"need at least 2 tokens to evaluate, got {ids.numel()}")
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    x_all, y_all = ids[:-1].view(1, -1), ids[1:].view(1, -1)
    for s in range(0, x_all.shape[1], chunk):
        x, y = x_all[:, s : s + chunk], y_all[:, s : s + chunk]
        logits, state = model(x, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / count


def evaluate_language_model(model_dir: str, text_path: Optional[str]) -> Dict[str, float]:
    """Loss (nats per token), bits per token and perplexity of the model in ``model_dir`` on a text."""
    model = LanguageModel.from_pretrained(model_dir)
    if model.vocab is None:
        raise ValueError(f"{model_dir} has no vocab.json: cannot encode text for this model")
    text = load_corpus(text_path)
    ids = torch.tensor(model.vocab.encode(text, unknown="replace"), dtype=torch.long)
    loss = evaluate_ids(model, ids)
    return {"tokens": int(ids.numel()), "loss": loss, "bits_per_token": loss / math.log(2), "perplexity": math.exp(loss)}
