"""The Trainer: one explicit loop for full BPTT and truncated BPTT.

Each update, top to bottom (see :meth:`Trainer._update`)::

    loss = step_fn(model, batch)                         # full BPTT, or
    loss, state = step_fn(model, (x, y, reset), state)   # TBPTT: state carried, detached, reset rows zeroed
    loss.backward()                                      # fp16: scaler.scale(loss) first; DDP: fabric.backward
    scaler.unscale_(optimizer)                           # fp16 only
    norm = clip_gradients(...)                           # pre-clip global norm, logged
    if loss and norm are finite: optimizer.step(); scheduler.step()
    else: skip the update (weights untouched), count it, stop after max_bad_steps in a row
    optimizer.zero_grad()

A *step function* computes the loss; the Trainer owns everything else. If none is given, the model's
own ``training_step`` method is used with the same signature minus ``model``.

Around the updates, for runs measured in epochs (small data sets, e.g. a forecaster's windows)::

    [validate the starting point]     val_at_start: it is the first candidate for best
    for each epoch:  updates ...      teacher forcing may follow epochs (teacher_forcing_unit="epoch")
                     validate         val_every_epochs; an improvement must beat the best by min_delta;
                                      restore_best keeps the best weights in memory; early stopping
                                      after early_stopping_patience validations without improvement
                     save last/       checkpoint_every_epochs (the best weights travel inside it)
    [load the best weights]           restore_best
"""

from __future__ import annotations

import contextlib
import math
import random
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, describe
from ..models.scheduled_sampling import TeacherForcing
from .checkpoint import (
    capture_rng,
    find_checkpoint,
    load_model_weights,
    load_training_state,
    restore_rng,
    save_checkpoint,
)
from .clipping import clip_gradients
from .config import RESUME_MAY_CHANGE, TrainConfig, resume_conflicts
from .data import ShuffledBatches, StreamDataset, to_device
from .distributed import launch_fabric, wants_distributed
from .logging import CSVLogger, LogWindow, ProgressBar, TensorBoardLogger
from .nan_guard import NonFiniteGuard
from .optim import build_optimizer, build_scheduler
from .resume import check_resume
from .tbptt import WindowedTBPTT, reset_state, state_is_finite
from .threads import ThreadGovernor

__all__ = ["Trainer", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Train any rnnkit (or torch) model with one loop.

    Args:
        model: the module to train.
        config: a :class:`TrainConfig` (defaults if None).
        step_fn: full BPTT: ``step_fn(model, batch) -> loss``; TBPTT (train data a
            :class:`StreamDataset`): ``step_fn(model, (x, y, reset), state) -> (loss, state)``, where
            ``state`` is None at the start (the model's zeros) and the returned state is carried.
            The loss must be a scalar mean (so data-parallel averaging equals one big batch).
        eval_fn: ``eval_fn(model, batch) -> loss or {name: value}`` for validation (full BPTT); by
            default the step function's loss, reported as ``val_loss``. Under TBPTT validation
            carries the state through the validation stream with ``step_fn``.
        collate_fn: how a plain Dataset's samples become a batch (default: torch's default_collate).
        teacher_forcing: a :class:`TeacherForcing` your step function uses; the Trainer sets its
            ``step`` before each update (the update count, or the completed epochs with
            ``teacher_forcing_unit="epoch"``) and saves its generator in checkpoints.
        callbacks: called as ``callback(trainer)`` after every update.
        settings: what the run learns beyond the TrainConfig (the task's data and model settings, plain
            JSON values): saved with every checkpoint, and a resume that gives other values is refused
            (:func:`rnnkit.training.resume.check_resume`).
    """

    def __init__(
        self,
        model: nn.Module,
        config: Optional[TrainConfig] = None,
        step_fn: Optional[Callable[..., Any]] = None,
        eval_fn: Optional[Callable[..., Any]] = None,
        collate_fn: Optional[Callable] = None,
        teacher_forcing: Optional[TeacherForcing] = None,
        callbacks: Sequence[Callable[["Trainer"], None]] = (),
        settings: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InvalidTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        config = config if config is not None else TrainConfig()
        if not isinstance(config, TrainConfig):
            raise InvalidTypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        if step_fn is None:
            if not callable(getattr(model, "training_step", None)):
                raise InvalidValueError("give a step_fn, or a model with a training_step method")
            step_fn = lambda m, *args: _unwrap(m).training_step(*args)  # noqa: E731
        if teacher_forcing is not None and not isinstance(teacher_forcing, TeacherForcing):
            raise InvalidTypeError(f"teacher_forcing must be a TeacherForcing, got {type(teacher_forcing).__name__}")
        self.model, self.config, self.step_fn, self.eval_fn = model, config, step_fn, eval_fn
        self.collate_fn, self.teacher_forcing, self.callbacks = collate_fn, teacher_forcing, list(callbacks)
        if settings is not None and not isinstance(settings, Mapping):
            raise InvalidTypeError(f"settings must be a mapping of names to values, got {describe(settings)}")
        self.settings = None if settings is None else dict(settings)
        self.step = 0  # completed updates (skipped non-finite ones included)
        self.epoch = 0  # the current epoch
        self.cursor = 0  # items of the current epoch consumed
        self.best: Optional[float] = None  # best value of config.monitor so far
        self.bad_validations = 0  # validations since the best one (early stopping)
        self.should_stop = False
        self.train_seconds = 0.0  # wall time spent in updates, summed over resumes (for time_budget)
        self._clock_start: Optional[float] = None
        self.last_loss: Optional[float] = None
        self.last_grad_norm: Optional[float] = None
        self.history: List[Dict[str, Any]] = []  # validation results
        self.best_weights: Optional[Dict[str, Tensor]] = None  # restore_best: a copy of the best validated weights
        self.resumed_at: Optional[Dict[str, int]] = None  # {"step", "epoch"} of the checkpoint this run resumed
        self._window = LogWindow()  # updates since the last train-log row
        self.governor: Optional[ThreadGovernor] = None  # CPU threads for the run (see threads.py)
        self._best_throughput = 0.0  # the fastest train-log row so far, to notice a collapse
        self._rows_seen = 0
        self._slow_warned = False
        self.guard = NonFiniteGuard(config.max_bad_steps)
        self.fabric = None
        self.rank, self.world_size = 0, 1
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.scheduler = None
        self.scaler = None
        self.tbptt: Optional[WindowedTBPTT] = None
        self._train_model: nn.Module = model

    # ---- setup -------------------------------------------------------------------------------
    def _setup(self, train_data) -> None:
        cfg = self.config
        seed_everything(cfg.seed)
        if wants_distributed(cfg.devices):
            self.fabric = launch_fabric(cfg.devices, cfg.accelerator)
            self.rank, self.world_size = self.fabric.global_rank, self.fabric.world_size
            self.device = self.fabric.device
        else:
            use_cuda = cfg.accelerator == "cuda" or (cfg.accelerator == "auto" and torch.cuda.is_available())
            if cfg.accelerator == "cuda" and not torch.cuda.is_available():
                raise InvalidValueError("accelerator='cuda' but CUDA is not available")
            self.device = torch.device("cuda" if use_cuda else "cpu")
        if cfg.precision == "fp16" and self.device.type != "cuda":
            raise InvalidValueError(
                f"precision='fp16' needs a CUDA device, got device {self.device}; use 'bf16' on CPU"
            )
        self.model.to(self.device)
        self.source = self._as_source(train_data, train=True)
        self.source.shard(self.rank, self.world_size)
        is_stream = isinstance(self.source, StreamDataset)
        window = (cfg.bptt_window // cfg.bptt) if cfg.bptt_window else 1
        self.tbptt = WindowedTBPTT(window, cfg.state_batch_dim) if is_stream else None
        params = list(self.model.parameters())
        if cfg.trainable_only:
            params = [p for p in params if p.requires_grad]
            if not params:
                raise InvalidValueError(
                    "trainable_only=True but every parameter of the model has requires_grad=False: nothing to train"
                )
        self.optimizer = build_optimizer(params, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, clock=self.elapsed)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
        if self.fabric is not None:
            self._train_model = self.fabric.setup_module(self.model)
        else:
            self._train_model = self.model

    def _as_source(self, data, train: bool):
        cfg = self.config
        if isinstance(data, StreamDataset):
            if cfg.bptt is not None:
                data.set_bptt(cfg.bptt)
            elif data.bptt is None:
                raise InvalidValueError("a StreamDataset needs its chunk length: set TrainConfig.bptt (k)")
            return data
        if cfg.bptt is not None and train:
            raise InvalidValueError(
                f"bptt={cfg.bptt} (truncated BPTT) needs the training data as a StreamDataset, "
                f"got {type(data).__name__}"
            )
        if isinstance(data, ShuffledBatches):
            return data
        if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
            return ShuffledBatches(
                data,
                cfg.batch_size,
                shuffle=cfg.shuffle and train,
                collate_fn=self.collate_fn,
                drop_last=cfg.drop_last and train,
                seed=cfg.seed,
            )
        raise InvalidTypeError(
            f"data must be a map-style Dataset, a ShuffledBatches or a StreamDataset, got {type(data).__name__}"
        )

    # ---- the run -----------------------------------------------------------------------------
    def fit(self, train_data, val_data=None) -> "Trainer":
        """Train until ``max_steps`` updates, ``max_epochs`` epochs or early stopping; returns self."""
        cfg = self.config
        self._setup(train_data)
        self.val_source = None if val_data is None else self._as_source(val_data, train=False)
        if self.val_source is None:
            for name, value in (
                ("val_every", cfg.val_every),
                ("val_every_epochs", cfg.val_every_epochs),
                ("val_at_start", cfg.val_at_start or None),
                ("restore_best", cfg.restore_best or None),
                ("early_stopping_patience", cfg.early_stopping_patience),
                ("schedule", "plateau" if cfg.schedule == "plateau" else None),
            ):
                if value is not None:
                    warnings.warn(
                        f"{name}={value!r} is set but no validation data was given to fit(): it has no effect",
                        UserWarning,
                        stacklevel=2,
                    )
        out = Path(cfg.out_dir) if cfg.out_dir is not None else None
        resumed_at = self._maybe_resume(out) if cfg.resume else None
        self._open_logs(out, resumed_at)
        anomaly = torch.autograd.detect_anomaly() if cfg.detect_anomaly else contextlib.nullcontext()
        self._clock_start = time.perf_counter()
        total = cfg.max_steps
        if cfg.max_epochs is not None and hasattr(self.source, "__len__"):
            total = min(total, cfg.max_epochs * len(self.source))
        bar = ProgressBar(
            total if total < _NO_STEP_LIMIT else None,
            self.step,
            cfg.progress if self.rank == 0 else False,
            cfg.throughput_unit,
        )
        if self.device.type == "cpu":
            self.governor = ThreadGovernor(cfg.threads, note=_warn_once)
            self.governor.start()
        window = self._window  # the updates since the last train-log row (restored on resume)
        window.start = time.perf_counter()
        try:
            with anomaly:
                if cfg.val_at_start and self.val_source is not None and self.step == 0 and not self.history:
                    self._validate_and_track(out)  # the starting point: the first candidate for best
                while not self._done():
                    self.source.begin_epoch()  # the same order again on resume: the generator was restored
                    items = self._epoch_items()
                    for item in items:
                        self.cursor += 1
                        loss = self._update(item)
                        self.step += 1
                        if self.governor is not None:
                            self.governor.tick()
                        window.add(loss, self.last_grad_norm, self._units(item) * self.world_size)
                        if self.step % cfg.log_every == 0:
                            self._log_train(window, bar)
                        paused = time.perf_counter()  # validation and saving are not training throughput
                        if cfg.val_every and self.step % cfg.val_every == 0 and self.val_source is not None:
                            self._validate_and_track(out)
                        if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                            self.save_last()
                        window.start += time.perf_counter() - paused
                        for cb in self.callbacks:
                            cb(self)
                        if self._done():
                            break
                    else:
                        self.epoch, self.cursor = self.epoch + 1, 0
                        paused = time.perf_counter()
                        self._end_epoch(out)
                        window.start += time.perf_counter() - paused
            if window.steps:  # the run ended between log steps (max_steps, epochs, time, early stop)
                self._log_train(window, bar)
            if self.val_source is not None and not (self.history and self.history[-1]["step"] == self.step):
                self._validate_and_track(out)
            self.save_last()
            if cfg.restore_best and self.best_weights is not None:
                self.model.load_state_dict(self.best_weights)
        finally:
            bar.close()
            if self.governor is not None:
                self.governor.stop()
            self.train_seconds, self._clock_start = self.elapsed(), None
            if self._tb is not None:
                self._tb.close()
        return self

    def _end_epoch(self, out: Optional[Path]) -> None:
        """After the epoch's last update: validate and save, if asked for every N epochs."""
        cfg = self.config
        if (
            cfg.val_every_epochs
            and self.epoch % cfg.val_every_epochs == 0
            and self.val_source is not None
            and not (self.history and self.history[-1]["step"] == self.step)
        ):
            self._validate_and_track(out)
        if cfg.checkpoint_every_epochs and self.epoch % cfg.checkpoint_every_epochs == 0:
            self.save_last()

    def elapsed(self) -> float:
        """Seconds of training so far, this run and the runs it resumed."""
        running = 0.0 if self._clock_start is None else time.perf_counter() - self._clock_start
        return self.train_seconds + running

    def _done(self) -> bool:
        cfg = self.config
        return (
            self.should_stop
            or self.step >= cfg.max_steps
            or (cfg.max_epochs is not None and self.epoch >= cfg.max_epochs)
            or (cfg.time_budget is not None and self.elapsed() >= cfg.time_budget)
        )

    def _epoch_items(self):
        """This epoch's items from the cursor on; under TBPTT(k1, k2) first re-fill the window."""
        if self.tbptt is None:
            return self.source.iter_from(self.cursor)
        if self.cursor == 0:
            self.tbptt.reset_all()
            return self.source.iter_from(0)
        kept = len(self.tbptt.kept)  # on resume: the chunks just before the cursor, re-read
        if kept and not self.tbptt.kept[0]:
            it = self.source.iter_from(self.cursor - kept)
            chunks = [to_device(item, self.device) for _, item in zip(range(kept), it)]
            self.tbptt.kept = [(chunk, chunk[2]) for chunk in chunks]  # as _update hands them to run()
            return it
        return self.source.iter_from(self.cursor)

    def _update(self, item) -> float:
        """One update: forward, loss, backward, (unscale), clip, step, schedule, zero_grad."""
        cfg, model, opt = self.config, self._train_model, self.optimizer
        if self.teacher_forcing is not None:
            self.teacher_forcing.step = self.epoch if cfg.teacher_forcing_unit == "epoch" else self.step
        item = to_device(item, self.device)
        model.train()
        with self._autocast():
            if self.tbptt is None:
                out = self.step_fn(model, item)
                loss = out[0] if isinstance(out, (tuple, list)) else out
            else:
                loss = self.tbptt.run(self.step_fn, model, item, item[2])
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise InvalidTypeError(f"the step function must return a scalar loss tensor, got {describe(loss)}")
        scaled = loss if self.scaler is None else self.scaler.scale(loss)  # fp16: scale before any backward
        if self.fabric is not None:
            self.fabric.backward(scaled)  # DDP: gradients averaged across processes
        else:
            scaled.backward()
        if self.scaler is not None:
            self.scaler.unscale_(opt)  # clip the true gradients, not the scaled ones
        norm = clip_gradients(self.model.parameters(), cfg.clip_norm, cfg.clip_value)
        loss_value = float(loss.detach())
        if self.guard.check(self.step, loss_value, norm):
            if self.scaler is not None:
                self.scaler.step(opt)
                self.scaler.update()
            else:
                opt.step()
            if cfg.schedule != "plateau":
                self.scheduler.step()
        elif self.scaler is not None:
            self.scaler.update()  # lowers the loss scale after an overflow
        opt.zero_grad(set_to_none=True)
        if self.tbptt is not None:
            self.tbptt.end_update()
            if cfg.precision != "fp32":  # autocast returns low-precision states; carry them in the weights' dtype
                dtype = next(self.model.parameters()).dtype
                self.tbptt.start_state = _cast_floats(self.tbptt.start_state, dtype)
            if not state_is_finite(self.tbptt.start_state):
                self.tbptt.reset_all()  # never carry a NaN state into the next chunk
        self.last_loss, self.last_grad_norm = loss_value, float(norm)
        return loss_value

    def _autocast(self):
        if self.config.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _units(self, item) -> int:
        x = _first_tensor(item)
        if x is None:
            return 0
        if self.config.throughput_unit == "tokens" and x.dim() >= 2:
            return x.shape[0] * x.shape[1]
        return x.shape[0]

    # ---- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, val_data=None) -> Dict[str, float]:
        """Mean metrics over the validation data (weighted by samples, or tokens under TBPTT)."""
        source = self.val_source if val_data is None else self._as_source(val_data, train=False)
        if source is None:
            raise InvalidValueError("no validation data: pass val_data to fit() or validate()")
        model = self.model
        was_training = model.training
        model.eval()
        sums: Dict[str, float] = {}
        total = 0
        state = None
        g, g0 = source.generator.get_state(), source._epoch_start  # leave the source's generator as it was
        source.begin_epoch()
        try:
            for item in source.iter_from(0):
                item = to_device(item, self.device)
                with self._autocast():
                    if isinstance(source, StreamDataset):
                        state = reset_state(state, item[2], self.config.state_batch_dim)
                        loss, state = self.step_fn(model, item, state)
                        metrics: Any = loss
                    elif self.eval_fn is not None:
                        metrics = self.eval_fn(model, item)
                    else:
                        out = self.step_fn(model, item)
                        metrics = out[0] if isinstance(out, (tuple, list)) else out
                if not isinstance(metrics, dict):
                    metrics = {"loss": metrics}
                n = self._units(item) if isinstance(source, StreamDataset) else _first_tensor(item).shape[0]
                for k, v in metrics.items():
                    name = k if k.startswith("val_") else f"val_{k}"
                    sums[name] = sums.get(name, 0.0) + float(v) * n
                total += n
        finally:
            source.generator.set_state(g)
            source._epoch_start = g0
            model.train(was_training)
        return {k: v / max(total, 1) for k, v in sums.items()}

    def _validate_and_track(self, out: Optional[Path]) -> None:
        cfg = self.config
        metrics = self.validate()
        row = {"step": self.step, "epoch": self.epoch, **metrics}
        self.history.append(row)
        if self._val_log is not None:
            self._val_log.log(row)
        if self._tb is not None:
            self._tb.log(row, self.step, "val")
        if cfg.monitor not in metrics:
            self.save_last()  # keep the updates done so far: fix the name and resume
            saved = "" if out is None else f"; the run so far is saved in {out / 'last'}: fix the name and resume"
            raise InvalidValueError(
                f"monitor={cfg.monitor!r} is not among the validation metrics {sorted(metrics)}{saved}"
            )
        value = metrics[cfg.monitor]
        finite = math.isfinite(value)
        if not finite:
            warnings.warn(
                f"step {self.step}: validation {cfg.monitor} = {value} is not finite; it is logged but "
                "never counts as an improvement (best/ is kept)",
                RuntimeWarning,
                stacklevel=2,
            )
        if cfg.schedule == "plateau":
            self.scheduler.step(value)  # NaN compares as no improvement there too
        better = finite and (
            self.best is None
            or (value < self.best - cfg.min_delta if cfg.monitor_mode == "min" else value > self.best + cfg.min_delta)
        )
        if better:
            self.best, self.bad_validations = value, 0
            if cfg.restore_best:
                self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if out is not None:
                self._save(out / "best")
        else:
            self.bad_validations += 1
            if cfg.early_stopping_patience and self.bad_validations >= cfg.early_stopping_patience:
                self.should_stop = True

    # ---- checkpoints -------------------------------------------------------------------------
    def training_state(self) -> Dict[str, Any]:
        """Everything needed to continue exactly: see :mod:`rnnkit.training.checkpoint`."""
        return {
            "step": self.step,
            "epoch": self.epoch,
            "cursor": self.cursor,
            "train_seconds": self.elapsed(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "rng": capture_rng(),
            "data": self._source_state(),
            "tbptt": None if self.tbptt is None else {"state": self.tbptt.start_state, "kept": len(self.tbptt.kept)},
            "teacher_forcing": None if self.teacher_forcing is None else self.teacher_forcing.state_dict(),
            "guard": self.guard.state_dict(),
            "log_window": self._window.state_dict(),
            "best": self.best,
            "bad_validations": self.bad_validations,
            "history": self.history,
            "best_weights": self.best_weights,
            "config": self.config.to_dict(),
            "settings": self.settings,
        }

    def _source_state(self) -> Dict[str, Any]:
        """The data order to continue from. Within an epoch: its start (the order is drawn again and the
        cursor skips what was consumed). Between epochs (cursor 0): the generator as it is now, which the
        next epoch draws its order from."""
        if self.cursor == 0:
            return {"generator": self.source.generator.get_state()}
        return self.source.state_dict()

    def save_last(self) -> None:
        if self.config.out_dir is not None:
            self._save(Path(self.config.out_dir) / "last")

    def _save(self, folder: Path) -> None:
        if self.rank == 0:
            try:
                save_checkpoint(folder, self.model, self.training_state())
            except ValueError as err:  # a non-finite model never replaces a good checkpoint
                warnings.warn(str(err), RuntimeWarning, stacklevel=2)
        if self.fabric is not None:
            self.fabric.barrier()

    def _maybe_resume(self, out: Path) -> Optional[int]:
        folder = find_checkpoint(out / "last")
        if folder is None:
            warnings.warn(
                f"resume=True but {out / 'last'} holds no checkpoint: starting a fresh run", UserWarning, stacklevel=3
            )
            return None
        state = load_training_state(folder)
        saved_cfg = state.get("config") or {}
        conflicts = resume_conflicts(saved_cfg, self.config)
        if conflicts:
            lines = "\n".join(f"  {name}: {old!r} (saved) -> {new!r} (now)" for name, old, new in conflicts)
            raise InvalidValueError(
                f"cannot resume from {folder}: these settings differ from the saved run's, and they fix the data "
                f"order or the optimizer/schedule state the checkpoint continues:\n{lines}\n"
                "Set them back to the saved values to continue, or start a new run (resume=False or another "
                f"out_dir). Fields that may change on resume: {', '.join(RESUME_MAY_CHANGE)}"
            )
        if self.settings is not None:  # the task's own settings: the one statement of resume rules
            check_resume(state.get("settings") or {}, self.settings, str(folder))
        watched = (self.config.monitor, self.config.monitor_mode)
        monitor_changed = (saved_cfg.get("monitor", watched[0]), saved_cfg.get("monitor_mode", watched[1])) != watched
        load_model_weights(folder, self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        if not (monitor_changed and self.config.schedule == "plateau"):  # plateau state tracks the old metric
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"] is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.cursor = state["step"], state["epoch"], state["cursor"]
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.source.load_state_dict(state["data"])
        if self.tbptt is not None and state["tbptt"] is not None:
            self.tbptt.start_state = to_device(state["tbptt"]["state"], self.device)
            self.tbptt.kept = [()] * state["tbptt"]["kept"]  # re-read from the data by _epoch_items
        if self.teacher_forcing is not None and state["teacher_forcing"] is not None:
            self.teacher_forcing.load_state_dict(state["teacher_forcing"])
        self.guard.load_state_dict(state["guard"])
        if state.get("log_window") is not None:  # absent in checkpoints written before it was saved
            self._window.load_state_dict(state["log_window"])
        self.best, self.bad_validations, self.history = state["best"], state["bad_validations"], state["history"]
        self.best_weights = state.get("best_weights")  # absent in checkpoints written before restore_best
        patience = self.config.early_stopping_patience
        self.should_stop = bool(patience and self.bad_validations >= patience)  # the patience in force now
        self.resumed_at = {"step": self.step, "epoch": self.epoch}
        if monitor_changed:
            warnings.warn(
                f"monitor changed from {saved_cfg.get('monitor')!r} ({saved_cfg.get('monitor_mode')}) to "
                f"{self.config.monitor!r} ({self.config.monitor_mode}) on resume: the best value so far is "
                "forgotten; the next validation becomes the best and replaces best/",
                UserWarning,
                stacklevel=3,
            )
            self.best, self.bad_validations, self.best_weights, self.should_stop = None, 0, None, False
        restore_rng(state["rng"])  # last: nothing may draw random numbers between here and the next update
        return self.step

    # ---- logs --------------------------------------------------------------------------------
    def _open_logs(self, out: Optional[Path], resumed_at: Optional[int]) -> None:
        self._train_log = self._val_log = self._tb = None
        if out is None or self.rank != 0:
            return
        out.mkdir(parents=True, exist_ok=True)
        self._train_log = CSVLogger(out / "train_log.csv", resumed_at)
        self._val_log = CSVLogger(out / "val_log.csv", resumed_at)
        if self.config.tensorboard:
            self._tb = TensorBoardLogger(out / "tensorboard")

    def _log_train(self, window: LogWindow, bar: ProgressBar) -> None:
        """One train-log row for the updates in ``window`` (then emptied); also moves the progress bar."""
        w = window.summary()
        row = {
            "step": self.step,
            "epoch": self.epoch,
            "loss": w["loss"],
            "lr": self._lr(),
            "grad_norm": self.last_grad_norm,
            "grad_norm_max": w["grad_norm_max"],
            "grad_norm_mean": w["grad_norm_mean"],
            "throughput": w["throughput"],
            "skipped": self.guard.total,
        }
        if self._train_log is not None:
            self._train_log.log(row)
        if self._tb is not None:
            self._tb.log(row, self.step, "train")
        left = None if self.config.time_budget is None else self.config.time_budget - self.elapsed()
        bar.update(window.steps, w["loss"], self._lr(), w["throughput"], left)
        self._watch_throughput(w["throughput"], window.steps and time.perf_counter() - window.start)
        window.reset()

    def _watch_throughput(self, throughput: float, seconds: float) -> None:
        """Warn once when a log row runs at under half the run's best speed, naming the likely cause.

        The first row (warm-up, first allocations) and rows shorter than ``WATCH_MIN_SECONDS`` (whose
        speed is noise) are not compared."""
        self._rows_seen += 1
        if self._rows_seen == 1 or not math.isfinite(throughput) or seconds < WATCH_MIN_SECONDS:
            return
        if throughput < 0.5 * self._best_throughput and not self._slow_warned:
            self._slow_warned = True
            unit = self.config.throughput_unit
            busy = 0.0 if self.governor is None else self.governor.last_busy
            cause = (
                f"other programs are using about {busy:.1f} of the {self.governor.cores} CPU cores"
                if busy >= 0.5
                else "the machine is slower now (another program, power saving or a busy host)"
            )
            warnings.warn(
                f"step {self.step}: training runs at {throughput:,.0f} {unit}/s, under half of the "
                f"{self._best_throughput:,.0f} it reached earlier: {cause}",
                RuntimeWarning,
                stacklevel=3,
            )
        self._best_throughput = max(self._best_throughput, throughput)


# ---- helpers ---------------------------------------------------------------------------------

_NO_STEP_LIMIT = 10**9  # a max_steps this large means "no step limit" (the run ends by time or epochs)
WATCH_MIN_SECONDS = 2.0  # a train-log row must cover this long for its speed to count as a measurement


def _warn_once(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=2)


def _unwrap(model: nn.Module) -> nn.Module:
    inner = getattr(model, "module", None)
    return (
        _unwrap(inner)
        if isinstance(inner, nn.Module) and type(model).__name__ in ("_FabricModule", "DistributedDataParallel")
        else model
    )


def _cast_floats(state, dtype):
    if isinstance(state, Tensor):
        return state.to(dtype) if state.is_floating_point() else state
    if isinstance(state, (tuple, list)):
        return type(state)(_cast_floats(s, dtype) for s in state)
    if isinstance(state, dict):
        return {k: _cast_floats(v, dtype) for k, v in state.items()}
    return state


def _first_tensor(item) -> Optional[Tensor]:
    if isinstance(item, Tensor):
        return item
    if isinstance(item, (tuple, list)):
        for v in item:
            t = _first_tensor(v)
            if t is not None:
                return t
    if isinstance(item, dict):
        for v in item.values():
            t = _first_tensor(v)
            if t is not None:
                return t
    return None
