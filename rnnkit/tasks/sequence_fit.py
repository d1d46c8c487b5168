"""Fitting a many-to-one or many-to-many model on examples of different lengths: shared by the
classification and tagging recipes.

Examples are grouped into batches of similar length once (:class:`~rnnkit.data.bucketing.
BucketBatchSampler`, seeded), so padding stays small; the Trainer then shuffles the order of those
batches every epoch from its own seed, which keeps a resumed run exact. Each epoch is validated
(loss and accuracy); the best validated weights are kept and early stopping ends a run that no
longer improves. The test split is never seen here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ..data.bucketing import BucketBatchSampler, padding_fraction
from ..training import TrainConfig, Trainer
from ..training.run_folder import RunFolder, plan_run_folder

NOT_SAVED = ("out", "resume", "overwrite", "progress", "threads")  # where and how a run goes, not what it learns


def recipe_settings(recipe) -> Dict[str, Any]:
    """What a run learns (the recipe minus where and how it runs): saved with the checkpoints, and a
    resumed run that gives other values is refused."""
    return {k: v for k, v in asdict(recipe).items() if k not in NOT_SAVED}


def tested_run_finished(folder: Path) -> Optional[str]:
    """A classification, tagging or seq2seq run saves its model only once trained and tested."""
    from ..models.format import has_model

    return "its model is saved and tested; --overwrite trains a new one" if has_model(folder) else None


def plan_sequence_run(recipe, model_type: str, log: Callable[[str], None]) -> RunFolder:
    """:func:`~rnnkit.training.run_folder.plan_run_folder` for a recipe with ``out``, ``resume``, ``overwrite``."""
    return plan_run_folder(
        recipe.out,
        model_type,
        resume=recipe.resume,
        overwrite=recipe.overwrite,
        checkpoint_dirs=("last",),
        finished=tested_run_finished,
        log=log,
    )


@dataclass
class FitSettings:
    """How long and how a sequence model trains (the recipes' options)."""

    epochs: int = 30  # upper bound; early stopping usually ends sooner
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.0
    patience: int = 5  # epochs without a better validation loss before stopping
    clip_norm: float = 1.0
    seed: int = 0
    threads: Optional[int] = None
    time_budget: Optional[float] = None
    progress: Optional[bool] = None


def make_batches(lengths: Sequence[int], batch_size: int, seed: int) -> List[List[int]]:
    """Index lists of similar-length examples (fixed for the run; their order is shuffled per epoch)."""
    generator = torch.Generator().manual_seed(seed)
    return [list(b) for b in BucketBatchSampler(list(lengths), batch_size, shuffle=True, generator=generator)]


def fit_sequences(
    model: nn.Module,
    train_lengths: Sequence[int],
    val_lengths: Optional[Sequence[int]],
    collate: Callable[[str, List[int]], Any],
    loss_fn: Callable[[nn.Module, Any], Tensor],
    metrics_fn: Callable[[nn.Module, Any], Dict[str, float]],
    settings: FitSettings,
    *,
    out_dir: Optional[str],
    resume: bool,
    run_settings: Mapping[str, Any],
    teacher_forcing=None,
) -> Dict[str, Any]:
    """Train ``model`` in place; returns ``{"epochs", "steps", "padding", "resumed_from", "history"}``.

    ``collate(split, indices)`` builds a batch of ``split`` ("train"/"val"); ``loss_fn(model,
    batch)`` is the training loss; ``metrics_fn(model, batch)`` the validation metrics
    (``{"loss": ..., "accuracy": ...}``). ``out_dir``: checkpoints and logs (None: none).
    ``teacher_forcing``: a :class:`~rnnkit.models.scheduled_sampling.TeacherForcing` the loss uses;
    the Trainer advances its schedule by updates and saves its generator with the checkpoints.
    """
    train_batches = make_batches(train_lengths, settings.batch_size, settings.seed)
    val_batches = make_batches(val_lengths, settings.batch_size, settings.seed) if val_lengths else None
    config = TrainConfig(
        optimizer="adamw",
        lr=settings.lr,
        weight_decay=settings.weight_decay,
        clip_norm=settings.clip_norm,
        batch_size=1,  # each item is already a batch
        seed=settings.seed,
        max_epochs=settings.epochs,
        max_steps=settings.epochs * len(train_batches) + 1,
        time_budget=settings.time_budget,
        anneal_over_time=False,
        val_every_epochs=1 if val_batches else None,
        restore_best=bool(val_batches),
        early_stopping_patience=settings.patience if val_batches else None,
        min_delta=1e-4,
        threads=settings.threads,
        accelerator="cpu",
        log_every=max(1, len(train_batches) // 4),
        progress=settings.progress,
        out_dir=out_dir,
        resume=resume and out_dir is not None,
        checkpoint_every_epochs=1 if out_dir is not None else None,
    )
    trainer = Trainer(
        model,
        config,
        step_fn=loss_fn,
        eval_fn=metrics_fn,
        collate_fn=lambda items: items[0],
        teacher_forcing=teacher_forcing,
        settings=dict(run_settings),
    )
    train_items = [collate("train", b) for b in train_batches]
    val_items = [collate("val", b) for b in val_batches] if val_batches else None
    trainer.fit(train_items, val_items)
    model.eval()
    resumed = None if trainer.resumed_at is None else trainer.resumed_at["epoch"]
    return {
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "train_seconds": round(trainer.train_seconds, 1),
        "padding": padding_fraction(list(train_lengths), train_batches),
        "resumed_from": resumed,
        "history": trainer.history,
    }
