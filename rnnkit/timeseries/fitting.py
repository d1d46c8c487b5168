"""How a forecaster's network is trained: on the one :class:`~rnnkit.training.Trainer`.

Top to bottom (:func:`fit_network`)::

    [ridge start]    direct strategy with the highway: solve it by ridge regression, the RNN's
                     location output starts at 0 and its spread at the ridge residuals' (DirectNet)
    [head warm-up]   head_warmup epochs training only the spread rows of the output map: a first,
                     short Trainer run over ``out`` alone, its location rows' gradients masked
    the run          a Trainer run over the windows, epochs as the unit:
                       score the start on the validation windows (the first candidate for best)
                       per epoch: Adam updates with clipping (teacher forcing by epoch when the
                       strategy uses it), validate (point-forecast MSE, or the head's loss),
                       early stopping after `patience` epochs without improvement
                       restore the best weights at the end
                     with a checkpoint folder: last/ every few epochs, resumed exactly

The validation windows are the last ``val_fraction`` of the windows (the most recent data).
Everything random (shuffling, scheduled sampling, dropout) is seeded by ``seed``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor

from ..models.scheduled_sampling import TeacherForcing
from ..training import TrainConfig, Trainer, find_checkpoint
from .autoregressive import teacher_forcing_schedule
from .config import FitConfig, ForecasterConfig
from .network import ForecastNet, window_loss

MIN_DELTA = 1e-6  # a validation must beat the best by this much to count: float noise is not progress


@dataclass
class FitResult:
    log: List[Dict[str, float]]  # one row per validation: epoch (-1: the scored start), step, val_loss
    epochs: int  # epochs run (over resumes); the scored start is not one
    resumed_from: Optional[int]  # the epoch of the checkpoint this fit continued, or None


def split_windows(n: int, val_fraction: float):
    """``(train indices, validation indices or None)``: the validation windows are the last ones."""
    n_val = int(round(val_fraction * n))
    n_val = n_val if n - n_val >= 1 else 0
    return range(n - n_val), (range(n - n_val, n) if n_val else None)


def run_settings(config: ForecasterConfig, windows: Tensor) -> Dict[str, Any]:
    """What a fit learns beyond its TrainConfig, for the resume check: the network settings, the fit
    settings the Trainer does not see, and a digest of the training windows (the data)."""
    trainer_side = {"epochs", "batch_size", "lr", "weight_decay", "clip", "patience", "seed"}  # TrainConfig's
    settings = {k: v for k, v in asdict(config).items() if k not in trainer_side}
    settings["max_epochs"] = config.epochs  # how long it runs may change on resume
    settings["data"] = hashlib.sha256(windows.numpy().tobytes()).hexdigest()[:16]
    return settings


def warm_up_head(net: ForecastNet, train: Sequence[int], collate: Callable, cfg: FitConfig, epochs: int) -> None:
    """Train only the spread rows of ``net.out`` (sigma / quantile offsets) for ``epochs`` epochs: a
    Trainer run over ``out`` alone (everything else frozen), the location rows' gradients masked, so
    the location (e.g. the ridge forecast) and everything else keep their values."""
    flags = {name: p.requires_grad for name, p in net.named_parameters()}
    net.requires_grad_(False)
    net.out.requires_grad_(True)
    loc = net.location_rows()  # (out_features,)
    hooks = [
        net.out.weight.register_hook(lambda g: g.masked_fill(loc[:, None], 0.0)),
        net.out.bias.register_hook(lambda g: g.masked_fill(loc, 0.0)),
    ]
    n_batches = -(-len(train) // cfg.batch_size)
    config = TrainConfig(
        optimizer="adam",
        lr=cfg.lr,
        weight_decay=0.0,
        clip_norm=None,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        max_epochs=epochs,
        max_steps=epochs * n_batches + 1,
        trainable_only=True,
        accelerator="cpu",
        log_every=n_batches,
        progress=False,
    )
    try:
        Trainer(net, config, step_fn=lambda m, w: window_loss(m, w), collate_fn=collate).fit(train)
    finally:
        for hook in hooks:
            hook.remove()
        for name, p in net.named_parameters():
            p.requires_grad_(flags[name])


def fit_network(
    net: ForecastNet,
    windows: Tensor,
    config: ForecasterConfig,
    *,
    checkpoint_dir: Optional[str] = None,
    resume: bool = False,
    checkpoint_every: int = 1,
    settings: Optional[Mapping[str, Any]] = None,
    progress: Optional[bool] = False,
    callbacks: Sequence[Callable[[Trainer], None]] = (),
) -> FitResult:
    """Train ``net`` in place on ``windows`` (N, L+H, C+P+F) (see the module docstring).

    Args:
        config: the forecaster's settings (its fit part is used here).
        checkpoint_dir: a folder for the Trainer's checkpoints and logs (``last/`` every
            ``checkpoint_every`` epochs, ``best/``, ``train_log.csv``, ``val_log.csv``); None: nothing
            is written.
        resume: continue exactly from ``checkpoint_dir/last`` if it exists (a fit with other settings
            or other data is refused, naming what differs).
        settings: more settings to record with the checkpoints and check on resume (e.g. the file
            a recipe read the series from).
        progress: the Trainer's progress bar (None: only on a terminal).
        callbacks: called as ``callback(trainer)`` after every update.
    """
    cfg = config.fitting()
    train, val = split_windows(len(windows), cfg.val_fraction)
    collate = lambda idx: windows[torch.as_tensor(idx)]  # noqa: E731  (B, L+H, C+P+F)
    resuming = resume and checkpoint_dir is not None and find_checkpoint(Path(checkpoint_dir) / "last") is not None
    ridge = getattr(net, "highway", None) is not None and cfg.highway_init == "ridge"
    if ridge:
        if resuming:  # the checkpoint holds the solved (and warmed-up, trained) weights
            net.highway.requires_grad_(cfg.highway_train)
        else:
            net.solve_highway(windows, cfg.highway_ridge, trainable=cfg.highway_train)
            if cfg.head_warmup:
                warm_up_head(net, train, collate, cfg, cfg.head_warmup)

    teacher = None
    if net.uses_teacher_forcing:
        teacher = TeacherForcing(
            teacher_forcing_schedule(cfg.teacher_forcing_epochs, cfg.teacher_forcing_min), seed=cfg.seed
        )
    point = cfg.select == "point"
    n_batches = -(-len(train) // cfg.batch_size)  # epochs end the run: max_steps is one more than they take
    has_val = val is not None
    train_config = TrainConfig(
        optimizer="adam",
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        clip_norm=cfg.clip,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        max_epochs=cfg.epochs,
        max_steps=cfg.epochs * n_batches + 1,
        trainable_only=True,
        val_every_epochs=1 if has_val else None,
        val_at_start=has_val,
        restore_best=has_val,
        min_delta=MIN_DELTA,
        early_stopping_patience=cfg.patience if has_val else None,
        teacher_forcing_unit="epoch",
        accelerator="cpu",
        log_every=n_batches,
        progress=progress,
        out_dir=checkpoint_dir,
        resume=resume and checkpoint_dir is not None,
        checkpoint_every_epochs=checkpoint_every if checkpoint_dir is not None else None,
    )
    trainer = Trainer(
        net,
        train_config,
        step_fn=lambda m, w: window_loss(m, w, teacher),
        eval_fn=lambda m, w: {"loss": window_loss(m, w, None, point=point)},  # free running: as it will forecast
        collate_fn=collate,
        teacher_forcing=teacher,
        callbacks=callbacks,
        settings={**run_settings(config, windows), **dict(settings or {})},
    )
    trainer.fit(train, val)
    net.eval()
    log = [
        {"epoch": -1 if row["step"] == 0 else row["epoch"] - 1, "step": row["step"], "val_loss": row["val_loss"]}
        for row in trainer.history
    ]
    resumed = None if trainer.resumed_at is None else trainer.resumed_at["epoch"]
    return FitResult(log=log, epochs=trainer.epoch, resumed_from=resumed)


__all__ = ["fit_network", "warm_up_head", "split_windows", "run_settings", "FitResult", "MIN_DELTA"]
