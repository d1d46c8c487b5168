"""``TrainConfig``: every knob of the training loop, each with the reason it exists.

Validated in ``__post_init__``: a bad value raises ``ValueError`` (or ``TypeError``) naming the field,
the value received and what was expected. ``to_dict``/``from_dict`` round-trip through plain JSON,
which is how a checkpoint records the run that wrote it.

On resume the saved config is compared with the current one (:func:`resume_conflicts`). Only the
fields in ``RESUME_MAY_CHANGE`` may differ: how long the run goes, what is logged and when, when it
validates and saves, clipping and the safety switches. Every other field fixes the data order (batch
size, shuffling, seed, TBPTT chunks, processes) or the state the checkpoint restores (optimizer and its
hyperparameters, which the saved optimizer state would silently override, the schedule, precision),
so a difference there is refused, naming each field with its saved and new value. ``monitor`` and
``monitor_mode`` may change, but then the best value so far is forgotten.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "cosine", "plateau")
PRECISIONS = ("fp32", "bf16", "fp16")
THROUGHPUT_UNITS = ("samples", "tokens")

# fields a resumed run may change (see the module docstring); all others must equal the saved ones
RESUME_MAY_CHANGE = (
    "max_steps", "max_epochs", "time_budget",  # how long the run goes on
    "val_every", "early_stopping_patience", "checkpoint_every", "out_dir", "resume",  # when to validate, save
    "monitor", "monitor_mode",  # allowed, but the best value so far is forgotten
    "clip_norm", "clip_value", "max_bad_steps", "detect_anomaly", "accelerator",  # act from the next update on
    "log_every", "progress", "tensorboard", "throughput_unit",  # reporting only
)


@dataclass
class TrainConfig:
    # ---- length of the run -------------------------------------------------------------------
    max_steps: int = 1000  # optimizer updates to run (one per batch, or one per chunk under TBPTT)
    max_epochs: Optional[int] = None  # stop earlier after this many passes over the data, if set
    time_budget: Optional[float] = None  # stop after this many seconds of updates (summed over resumes); cosine anneals over it
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
    monitor: str = "val_loss"  # the metric that picks the best checkpoint and drives early stopping
    monitor_mode: str = "min"  # "min" or "max": which direction is better for `monitor`
    early_stopping_patience: Optional[int] = None  # stop after this many validations without improvement
    out_dir: Optional[str] = None  # folder for checkpoints (last/, best/) and CSV logs; None = nothing written
    checkpoint_every: Optional[int] = None  # save last/ every N updates (and at the end) when out_dir is set
    resume: bool = False  # continue exactly from out_dir/last if it exists
    # ---- safety ------------------------------------------------------------------------------
    max_bad_steps: int = 5  # stop after this many consecutive non-finite losses or gradients
    detect_anomaly: bool = False  # torch.autograd anomaly detection, to find the op that made a NaN (slow)
    # ---- numerics, devices -------------------------------------------------------------------
    seed: int = 0  # seeds python, numpy, torch and the data order; same seed, same machine -> same weights
    precision: str = "fp32"  # fp32; bf16 (autocast, any device); fp16 (autocast + GradScaler, CUDA only)
    accelerator: str = "auto"  # "cpu", "cuda" or "auto" (cuda if available)
    devices: int = 1  # processes for data parallel training (DDP through Lightning Fabric) when > 1
    # ---- logging -----------------------------------------------------------------------------
    log_every: int = 10  # write a CSV row (and a TensorBoard point) every N updates
    progress: Optional[bool] = None  # progress bar; None = only when stderr is a terminal
    tensorboard: bool = False  # also log to TensorBoard (needs the tensorboard package)

    def __post_init__(self) -> None:
        _positive_int(self, "max_steps")
        _positive_float(self, "time_budget", optional=True)
        _positive_int(self, "max_epochs", optional=True)
        _positive_int(self, "batch_size")
        _positive_int(self, "bptt", optional=True)
        _positive_int(self, "bptt_window", optional=True)
        if self.bptt_window is not None:
            if self.bptt is None:
                raise ValueError(f"bptt_window={self.bptt_window} needs bptt (k) to be set, got bptt=None")
            if self.bptt_window < self.bptt or self.bptt_window % self.bptt:
                raise ValueError(
                    f"bptt_window must be a multiple of bptt={self.bptt} and >= it, got {self.bptt_window}"
                )
        _non_negative_int(self, "state_batch_dim")
        _choice(self, "optimizer", OPTIMIZERS)
        _choice(self, "schedule", SCHEDULES)
        _choice(self, "precision", PRECISIONS)
        _choice(self, "throughput_unit", THROUGHPUT_UNITS)
        _choice(self, "monitor_mode", ("min", "max"))
        _choice(self, "accelerator", ("auto", "cpu", "cuda"))
        _positive_float(self, "lr")
        _non_negative_float(self, "weight_decay")
        m = self.momentum
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 <= m < 1:  # NaN fails too
            raise ValueError(f"momentum must be in [0, 1), got {m!r}")
        self.momentum = float(m)
        _positive_float(self, "eps")
        betas = self.betas
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        _non_negative_int(self, "warmup_steps")
        if self.warmup_steps > self.max_steps:
            raise ValueError(f"warmup_steps={self.warmup_steps} must be <= max_steps={self.max_steps}: the warmup "
                             "would never end")
        if self.schedule == "plateau" and self.warmup_steps:
            raise ValueError(f"warmup_steps must be 0 with schedule='plateau', got {self.warmup_steps}")
        _positive_int(self, "step_size")
        _positive_float(self, "gamma")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if not 0 < self.plateau_factor < 1:
            raise ValueError(f"plateau_factor must be in (0, 1), got {self.plateau_factor!r}")
        _non_negative_int(self, "plateau_patience")
        _positive_float(self, "clip_norm", optional=True)
        _positive_float(self, "clip_value", optional=True)
        _positive_int(self, "val_every", optional=True)
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ValueError(f"monitor must be a metric name, got {self.monitor!r}")
        _positive_int(self, "early_stopping_patience", optional=True)
        if self.out_dir is not None and not isinstance(self.out_dir, str):
            self.out_dir = str(self.out_dir)  # accept a pathlib.Path
        _positive_int(self, "checkpoint_every", optional=True)
        if self.resume and self.out_dir is None:
            raise ValueError("resume=True needs out_dir (where the checkpoint to resume from lives), got out_dir=None")
        _positive_int(self, "max_bad_steps")
        _non_negative_int(self, "seed")
        _positive_int(self, "devices")
        _positive_int(self, "log_every")
        for name in ("shuffle", "drop_last", "resume", "detect_anomaly", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise TypeError(f"progress must be None or a bool, got {self.progress!r}")

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
        if not isinstance(d, dict):
            raise TypeError(f"expected a dict of TrainConfig fields, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; known fields are {sorted(known)}")
        d = dict(d)
        if "betas" in d and isinstance(d["betas"], list):
            d["betas"] = tuple(d["betas"])
        return cls(**d)


def resume_conflicts(saved: Dict[str, Any], current: "TrainConfig") -> List[Tuple[str, Any, Any]]:
    """``(field, saved value, current value)`` for each field outside ``RESUME_MAY_CHANGE`` that differs.

    Fields only one side knows (a checkpoint from another version) are not compared.
    """
    now = current.to_dict()
    return [(name, saved[name], now[name]) for name in now
            if name not in RESUME_MAY_CHANGE and name in saved and saved[name] != now[name]]


# ---- validators ------------------------------------------------------------------------------

def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_int(cfg: TrainConfig, name: str, optional: bool = False) -> None:
    v = getattr(cfg, name)
    if optional and v is None:
        return
    if not _is_int(v) or v < 1:
        extra = " or None" if optional else ""
        raise ValueError(f"{name} must be a positive int{extra}, got {v!r}")


def _non_negative_int(cfg: TrainConfig, name: str) -> None:
    v = getattr(cfg, name)
    if not _is_int(v) or v < 0:
        raise ValueError(f"{name} must be an int >= 0, got {v!r}")


def _positive_float(cfg: TrainConfig, name: str, optional: bool = False) -> None:
    v = getattr(cfg, name)
    if optional and v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        extra = " or None" if optional else ""
        raise ValueError(f"{name} must be a finite number > 0{extra}, got {v!r}")
    setattr(cfg, name, float(v))


def _non_negative_float(cfg: TrainConfig, name: str) -> None:
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    setattr(cfg, name, float(v))


def _choice(cfg: TrainConfig, name: str, choices: Tuple[str, ...]) -> None:
    v = getattr(cfg, name)
    if v not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {v!r}")
