"""``TrainConfig``: every knob of the training loop, each with the reason it exists.

Validated in ``__post_init__`` with :mod:`rnnkit._checks`: a bad value raises
:class:`~rnnkit._checks.InvalidValueError` (a ``ValueError``) or
:class:`~rnnkit._checks.InvalidTypeError` (a ``TypeError``) naming the field, the value received
and what was expected. ``to_dict``/``from_dict`` round-trip through plain JSON, which is how a
checkpoint records the run that wrote it.

On resume the saved config is compared with the current one (:func:`resume_conflicts`). The rule
is the one statement of :mod:`rnnkit.training.resume`: only the fields in ``RESUME_MAY_CHANGE``
(those of :data:`rnnkit.training.resume.RESUME_MAY_CHANGE` that are TrainConfig fields) may
differ: how long the run goes, what is logged and when, when it validates and saves, clipping and
the safety switches. Every other field fixes the data order (batch size, shuffling, seed, TBPTT
chunks, processes) or the state the checkpoint restores (optimizer and its hyperparameters, which
the saved optimizer state would silently override, the schedule, precision, the best weights kept
in memory), so a difference there is refused, naming each field with its saved and new value.
``monitor`` and ``monitor_mode`` may change, but then the best value so far is forgotten.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .._checks import (
    InvalidTypeError,
    InvalidValueError,
    boolean,
    choice,
    in_range,
    non_negative_float,
    non_negative_int,
    optional,
    positive_float,
    positive_int,
)
from . import resume as _resume

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "cosine", "plateau")
PRECISIONS = ("fp32", "bf16", "fp16")
THROUGHPUT_UNITS = ("samples", "tokens")
TEACHER_FORCING_UNITS = ("step", "epoch")


@dataclass
class TrainConfig:
    # ---- length of the run -------------------------------------------------------------------
    max_steps: int = 1000  # optimizer updates to run (one per batch, or one per chunk under TBPTT)
    max_epochs: Optional[int] = None  # stop earlier after this many passes over the data, if set
    time_budget: Optional[float] = None  # stop after this many seconds of updates (summed over resumes)
    anneal_over_time: bool = True  # cosine with a time_budget: also anneal by the clock, so a run cut by time ends
    #                                cold; False: by updates only, so the same run gives the same weights anywhere
    # ---- data --------------------------------------------------------------------------------
    batch_size: int = 32  # per process, used when the Trainer wraps a plain Dataset itself
    shuffle: bool = True  # reshuffle a plain Dataset each epoch; the order is drawn from `seed`
    drop_last: bool = False  # drop a last, smaller batch (always dropped under DDP, to keep shards equal)
    throughput_unit: str = "samples"  # what the progress bar counts per second: "samples" or "tokens"
    # ---- truncated BPTT ----------------------------------------------------------------------
    bptt: Optional[int] = None  # k: new steps per update under TBPTT; None = full BPTT on whole batches
    bptt_window: Optional[int] = None  # k1 >= k, a multiple of k: steps the gradient flows back through
    state_batch_dim: int = 1  # the batch dim of the carried state tensors (1 for rnnkit/torch.nn layers)
    # ---- optimizer ---------------------------------------------------------------------------
    optimizer: str = "adamw"  # one of adam, adamw, sgd, rmsprop, adagrad
    lr: float = 1e-3  # peak learning rate (after warmup)
    weight_decay: float = 0.0  # L2 (adam, sgd, rmsprop, adagrad) or decoupled decay (adamw)
    momentum: float = 0.9  # for sgd and rmsprop, in [0, 1); 0 turns it off
    betas: Tuple[float, float] = (0.9, 0.999)  # Adam's moment decay rates
    eps: float = 1e-8  # Adam/RMSprop/Adagrad denominator guard
    trainable_only: bool = False  # optimize only parameters with requires_grad: a frozen part stays out of the
    #                               optimizer (no moments, no decay), e.g. a solved layer or a warm-up of one part
    # ---- learning-rate schedule --------------------------------------------------------------
    schedule: str = "constant"  # constant, step, cosine (with warmup) or plateau (reduce on plateau)
    warmup_steps: int = 0  # linear warmup from lr/(warmup+1) to lr, <= max_steps; not with "plateau"
    step_size: int = 1000  # "step": multiply the lr by gamma every step_size updates
    gamma: float = 0.1  # "step": the factor
    min_lr_ratio: float = 0.0  # "cosine": the floor, as a fraction of lr, reached at max_steps
    plateau_factor: float = 0.5  # "plateau": multiply the lr by this when the metric stalls
    plateau_patience: int = 2  # "plateau": validations without improvement before reducing
    # ---- gradient clipping -------------------------------------------------------------------
    clip_norm: Optional[float] = 1.0  # rescale gradients so their global L2 norm <= this; None = off
    clip_value: Optional[float] = None  # clamp each gradient element to [-v, v]; None = off
    # ---- validation, early stopping, checkpoints ---------------------------------------------
    val_every: Optional[int] = None  # validate every N updates (and always at the end) if val data is given
    val_every_epochs: Optional[int] = None  # validate after every N epochs: on small data the epoch is the unit
    val_at_start: bool = False  # validate before the first update: the starting point is the first candidate for
    #                             best (a model that starts from a solved baseline keeps it unless training beats it)
    monitor: str = "val_loss"  # the metric that picks the best checkpoint and drives early stopping
    monitor_mode: str = "min"  # "min" or "max": which direction is better for `monitor`
    min_delta: float = 0.0  # a validation improves on the best only by more than this: noise is not progress
    early_stopping_patience: Optional[int] = None  # stop after this many validations without improvement
    restore_best: bool = False  # keep the best validated weights in memory (and in last/, for exact resume) and
    #                             load them into the model when the run ends
    out_dir: Optional[str] = None  # folder for checkpoints (last/, best/) and CSV logs; None = nothing written
    checkpoint_every: Optional[int] = None  # save last/ every N updates (and at the end) when out_dir is set
    checkpoint_every_epochs: Optional[int] = None  # save last/ after every N epochs when out_dir is set
    resume: bool = False  # continue exactly from out_dir/last if it exists
    # ---- teacher forcing ---------------------------------------------------------------------
    teacher_forcing_unit: str = "step"  # what a TeacherForcing schedule's index counts: updates ("step") or
    #                                     completed epochs ("epoch", for schedules stated per pass over small data)
    # ---- safety ------------------------------------------------------------------------------
    max_bad_steps: int = 5  # stop after this many consecutive non-finite losses or gradients
    detect_anomaly: bool = False  # torch.autograd anomaly detection, to find the op that made a NaN (slow)
    # ---- numerics, devices -------------------------------------------------------------------
    seed: int = 0  # seeds python, numpy, torch and the data order; same seed, same machine -> same weights
    precision: str = "fp32"  # fp32; bf16 (autocast, any device); fp16 (autocast + GradScaler, CUDA only)
    accelerator: str = "auto"  # "cpu", "cuda" or "auto" (cuda if available)
    threads: Optional[int] = None  # CPU threads; None: the cores other programs leave free, re-read as the run goes
    #                                (a 2-thread team on a core shared with another program collapses: threads.py)
    devices: int = 1  # processes for data parallel training (DDP through Lightning Fabric) when > 1
    # ---- logging -----------------------------------------------------------------------------
    log_every: int = 10  # write a CSV row (and a TensorBoard point) every N updates
    progress: Optional[bool] = None  # progress bar; None = only when stderr is a terminal
    tensorboard: bool = False  # also log to TensorBoard (needs the tensorboard package)

    def __post_init__(self) -> None:
        self.max_steps = positive_int("max_steps", self.max_steps)
        self.time_budget = optional(positive_float, "time_budget", self.time_budget)
        self.max_epochs = optional(positive_int, "max_epochs", self.max_epochs)
        self.batch_size = positive_int("batch_size", self.batch_size)
        self.bptt = optional(positive_int, "bptt", self.bptt)
        self.bptt_window = optional(positive_int, "bptt_window", self.bptt_window)
        if self.bptt_window is not None:
            if self.bptt is None:
                raise InvalidValueError(f"bptt_window={self.bptt_window} needs bptt (k) to be set, got bptt=None")
            if self.bptt_window < self.bptt or self.bptt_window % self.bptt:
                raise InvalidValueError(
                    f"bptt_window must be a multiple of bptt={self.bptt} and >= it, got {self.bptt_window}"
                )
        self.state_batch_dim = non_negative_int("state_batch_dim", self.state_batch_dim)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        choice("schedule", self.schedule, SCHEDULES)
        choice("precision", self.precision, PRECISIONS)
        choice("throughput_unit", self.throughput_unit, THROUGHPUT_UNITS)
        choice("teacher_forcing_unit", self.teacher_forcing_unit, TEACHER_FORCING_UNITS)
        choice("monitor_mode", self.monitor_mode, ("min", "max"))
        choice("accelerator", self.accelerator, ("auto", "cpu", "cuda"))
        self.lr = positive_float("lr", self.lr)
        self.weight_decay = non_negative_float("weight_decay", self.weight_decay)
        m = self.momentum
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 <= m < 1:  # NaN fails too
            raise InvalidValueError(f"momentum must be in [0, 1), got {m!r}")
        self.momentum = float(m)
        self.eps = positive_float("eps", self.eps)
        betas = self.betas
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
        ):
            raise InvalidValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.warmup_steps = non_negative_int("warmup_steps", self.warmup_steps)
        if self.warmup_steps > self.max_steps:
            raise InvalidValueError(
                f"warmup_steps={self.warmup_steps} must be <= max_steps={self.max_steps}: the warmup would never end"
            )
        if self.schedule == "plateau" and self.warmup_steps:
            raise InvalidValueError(f"warmup_steps must be 0 with schedule='plateau', got {self.warmup_steps}")
        self.step_size = positive_int("step_size", self.step_size)
        self.gamma = positive_float("gamma", self.gamma)
        self.min_lr_ratio = in_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        self.plateau_factor = in_range("plateau_factor", self.plateau_factor, 0.0, 1.0, low_open=True, high_open=True)
        self.plateau_patience = non_negative_int("plateau_patience", self.plateau_patience)
        self.clip_norm = optional(positive_float, "clip_norm", self.clip_norm)
        self.clip_value = optional(positive_float, "clip_value", self.clip_value)
        self.val_every = optional(positive_int, "val_every", self.val_every)
        self.val_every_epochs = optional(positive_int, "val_every_epochs", self.val_every_epochs)
        if not isinstance(self.monitor, str) or not self.monitor:
            raise InvalidValueError(f"monitor must be a metric name, got {self.monitor!r}")
        self.min_delta = non_negative_float("min_delta", self.min_delta)
        self.early_stopping_patience = optional(positive_int, "early_stopping_patience", self.early_stopping_patience)
        if self.out_dir is not None and not isinstance(self.out_dir, str):
            self.out_dir = str(self.out_dir)  # accept a pathlib.Path
        self.checkpoint_every = optional(positive_int, "checkpoint_every", self.checkpoint_every)
        self.checkpoint_every_epochs = optional(positive_int, "checkpoint_every_epochs", self.checkpoint_every_epochs)
        if self.resume and self.out_dir is None:
            raise InvalidValueError(
                "resume=True needs out_dir (where the checkpoint to resume from lives), got out_dir=None"
            )
        self.max_bad_steps = positive_int("max_bad_steps", self.max_bad_steps)
        self.seed = non_negative_int("seed", self.seed)
        self.devices = positive_int("devices", self.devices)
        self.log_every = positive_int("log_every", self.log_every)
        self.threads = optional(positive_int, "threads", self.threads)
        for name in (
            "shuffle",
            "drop_last",
            "resume",
            "detect_anomaly",
            "tensorboard",
            "val_at_start",
            "restore_best",
            "trainable_only",
            "anneal_over_time",
        ):
            boolean(name, getattr(self, name))
        optional(boolean, "progress", self.progress)

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
        if not isinstance(d, dict):
            raise InvalidTypeError(f"expected a dict of TrainConfig fields, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidValueError(f"unknown TrainConfig fields {unknown}; known fields are {sorted(known)}")
        d = dict(d)
        if "betas" in d and isinstance(d["betas"], list):
            d["betas"] = tuple(d["betas"])
        return cls(**d)


# the TrainConfig fields a resumed run may change: those the one statement of resume rules lists
RESUME_MAY_CHANGE = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name in _resume.RESUME_MAY_CHANGE)


def resume_conflicts(saved: Dict[str, Any], current: "TrainConfig") -> List[Tuple[str, Any, Any]]:
    """``(field, saved value, current value)`` for each field outside ``RESUME_MAY_CHANGE`` that differs.

    Fields only one side knows (a checkpoint from another version) are not compared.
    """
    return [
        (c.name, c.saved, c.given)
        for c in _resume.resume_conflicts(saved, current.to_dict(), may_change=RESUME_MAY_CHANGE)
    ]
