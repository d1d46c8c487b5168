"""Gradient norms over training: the global norm and every parameter's, per update, before clipping.

:class:`GradNormRecorder` is a Trainer callback. The global norm is the Trainer's own (the pre-clip
``||g||_2`` over all parameters it logs as ``grad_norm``); each parameter's norm ``||g_p||_2`` is read
by a post-accumulate-grad hook when backward has finished accumulating it -- before clipping and
before the optimizer's ``zero_grad`` -- so the recorder never changes a gradient. (``train_log.csv``
keeps one row every ``log_every`` updates, with the max and mean over the rows' updates;
:func:`plot_grad_norms` draws either source.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from torch import nn

from .._checks import InvalidTypeError, InvalidValueError, describe
from ..data.atomic import atomic_write
from .figures import PathLike, new_figure, write_png
from .loss_curves import read_log

__all__ = ["GradNormRecorder", "plot_grad_norms", "log_grad_norms"]


class GradNormRecorder:
    """Record, after every update of a :class:`rnnkit.training.Trainer`, the pre-clip global gradient
    norm, the loss and (after :meth:`attach`, or on the first update's model) each parameter's norm."""

    def __init__(self, model: Optional[nn.Module] = None) -> None:
        self.steps: List[int] = []
        self.global_norms: List[float] = []
        self.losses: List[float] = []
        self.per_parameter: Dict[str, List[float]] = {}
        self._current: Dict[str, float] = {}
        self._handles: list = []
        if model is not None:
            self.attach(model)

    def attach(self, model: nn.Module) -> "GradNormRecorder":
        if not isinstance(model, nn.Module):
            raise InvalidTypeError(f"model must be a torch.nn.Module, got {describe(model)}")
        self.detach()
        for name, p in model.named_parameters():
            if p.requires_grad:
                self.per_parameter.setdefault(name, [float("nan")] * len(self.steps))
                self._handles.append(p.register_post_accumulate_grad_hook(self._keeper(name)))
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _keeper(self, name: str):
        def keep(p: torch.Tensor) -> None:
            self._current[name] = float(torch.linalg.vector_norm(p.grad.detach().float()))

        return keep

    def __call__(self, trainer) -> None:
        if not self._handles and not self.steps:  # first update: the hooks start with the next one
            self.attach(trainer.model)
        self.steps.append(int(trainer.step))
        self.global_norms.append(float(trainer.last_grad_norm))
        self.losses.append(float(trainer.last_loss))
        for name, values in self.per_parameter.items():
            values.append(self._current.get(name, float("nan")))
        self._current = {}

    def to_dict(self) -> dict:
        def clean(xs):
            return [x if math.isfinite(x) else None for x in xs]

        return {
            "steps": self.steps,
            "global": clean(self.global_norms),
            "loss": clean(self.losses),
            "per_parameter": {k: clean(v) for k, v in self.per_parameter.items()},
        }

    def save(self, path: PathLike) -> None:
        atomic_write(path, json.dumps(self.to_dict()))

    def load(self, path: PathLike) -> "GradNormRecorder":
        """Continue the record :meth:`save` wrote (a resumed run)."""
        d = json.loads(Path(path).read_text())

        def nan(xs):
            return [float("nan") if x is None else float(x) for x in xs]

        self.steps, self.global_norms, self.losses = list(d["steps"]), nan(d["global"]), nan(d["loss"])
        self.per_parameter = {k: nan(v) for k, v in d["per_parameter"].items()}
        return self


def log_grad_norms(train_log: PathLike) -> Dict[str, List[float]]:
    """``step``, ``grad_norm``, ``grad_norm_max``, ``grad_norm_mean`` columns of a ``train_log.csv``."""
    columns = read_log(train_log)
    if "grad_norm" not in columns:
        raise InvalidValueError(f"{train_log} holds no grad_norm column (is it a Trainer's train_log.csv?)")
    return {k: columns[k] for k in ("step", "grad_norm", "grad_norm_max", "grad_norm_mean") if k in columns}


def plot_grad_norms(
    source: Union[GradNormRecorder, Dict[str, GradNormRecorder], PathLike],
    out_png: Optional[PathLike] = None,
    *,
    clip_norm: Optional[float] = None,
    per_parameter: bool = False,
    title: str = "gradient norm per update (before clipping)",
):
    """The pre-clip global gradient norm against the update (log y), with the clipping threshold as a
    dashed line. ``source``: a recorder, ``{label: recorder}`` to compare runs, or a ``train_log.csv``
    path (then the per-row max is drawn). ``per_parameter``: one line per parameter instead (one
    recorder). Non-finite norms are marked with a red x at the top of the axis. Returns the Figure."""
    fig = new_figure((7, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    if isinstance(source, GradNormRecorder):
        if per_parameter:
            series = {name: (source.steps, values) for name, values in source.per_parameter.items()}
        else:
            series = {"global": (source.steps, source.global_norms)}
    elif isinstance(source, dict) and all(isinstance(v, GradNormRecorder) for v in source.values()):
        series = {label: (r.steps, r.global_norms) for label, r in source.items()}
    else:
        cols = log_grad_norms(source)
        key = "grad_norm_max" if "grad_norm_max" in cols else "grad_norm"
        series = {f"{key} (train_log.csv)": (cols["step"], cols[key])}
    drawn = False
    top = 1.0
    for label, (steps, values) in series.items():
        v = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(v) & (v > 0)
        if finite.any():
            top = max(top, float(v[finite].max()))
            ax.plot(np.asarray(steps)[finite], v[finite], label=label, linewidth=1.0)
            drawn = True
    for label, (steps, values) in series.items():
        v = np.asarray(values, dtype=np.float64)
        bad = ~np.isfinite(v)
        if bad.any():
            ax.plot(np.asarray(steps)[bad], np.full(bad.sum(), top * 2), "x", color="red", label=f"{label}: non-finite")
            drawn = True
    if not drawn:
        raise InvalidValueError("no gradient norm to plot")
    if clip_norm:
        ax.axhline(clip_norm, color="black", linestyle="--", linewidth=1, label=f"clip_norm = {clip_norm:g}")
    ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel("||g|| before clipping")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7 if per_parameter else 8)
    fig.tight_layout()
    write_png(fig, out_png)
    return fig
