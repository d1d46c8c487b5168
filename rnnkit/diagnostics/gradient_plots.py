"""Pictures of gradient flow through time, and its record over training.

* :func:`plot_gradient_flow` -- ``||dL/dh_t||`` against t on a log scale, one line per layer (and
  direction); several models (a mapping of label -> :class:`GradientFlow`) share one axis, so the
  vanishing gradient of an Elman RNN and the steady one of an LSTM show side by side.
* :class:`GradientFlowMonitor` -- a Trainer callback that records the flow on one fixed batch every
  N updates; :func:`plot_gradient_flow_history` draws that record as a heatmap, t along x and the
  training step along y, colour = log10 of the norm.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, describe, positive_int
from ..data.atomic import atomic_write
from .figures import PathLike, new_figure, write_png
from .gradient_flow import GradientFlow, record_gradient_flow

__all__ = ["plot_gradient_flow", "GradientFlowMonitor", "GradientFlowHistory", "plot_gradient_flow_history"]

_TINY = 1e-30  # a norm of exactly 0 is drawn at the floor of a log axis


def _row_label(name: str, row: int, directions: int, rows: int) -> str:
    if rows == 1:
        return name
    k, d = divmod(row, directions)
    return f"{name} layer {k}" + (" reverse" if d else "")


def plot_gradient_flow(
    flow: Union[GradientFlow, Mapping[str, GradientFlow]],
    out_png: Optional[PathLike] = None,
    *,
    title: str = "gradient flow through time",
    directions: int = 1,
):
    """``||dL/dh_t||`` against t (log y), one line per layer row; returns the Figure (and writes it
    to ``out_png`` if given). ``flow``: one :class:`GradientFlow`, or ``{label: GradientFlow}`` to
    compare models. ``directions``: 2 to label bidirectional rows as layer/direction."""
    flows = {"": flow} if isinstance(flow, GradientFlow) else dict(flow) if isinstance(flow, Mapping) else None
    if not flows or not all(isinstance(f, GradientFlow) for f in flows.values()):
        raise InvalidTypeError(f"flow must be a GradientFlow or a mapping of labels to them, got {describe(flow)}")
    fig = new_figure((7, 4))
    ax = fig.add_subplot(1, 1, 1)
    drawn = 0
    for label, f in flows.items():
        for name, norms in f.norms.items():
            for row in range(norms.shape[0]):
                values = norms[row].double().clamp_min(_TINY).numpy()
                text = _row_label(name, row, directions, norms.shape[0])
                text = f"{label}: {text}" if label else text
                ax.plot(np.arange(len(values)), values, label=text, linewidth=1.4)
                drawn += 1
    if not drawn:
        raise InvalidValueError("the gradient flow holds no layer to plot")
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_png(fig, out_png)
    return fig


@dataclass
class GradientFlowHistory:
    """``norms[i]`` ``(rows, T)`` recorded after ``steps[i]`` updates, for one recurrent layer."""

    layer: str
    steps: List[int] = field(default_factory=list)
    norms: List[Tensor] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"layer": self.layer, "steps": self.steps, "norms": [n.tolist() for n in self.norms]})

    @classmethod
    def from_json(cls, text: str) -> "GradientFlowHistory":
        d = json.loads(text)
        return cls(d["layer"], list(d["steps"]), [torch.tensor(n) for n in d["norms"]])

    def save(self, path: PathLike) -> None:
        atomic_write(path, self.to_json())


class GradientFlowMonitor:
    """Trainer callback: record the gradient flow of ``loss_fn(model)`` every ``every`` updates.

    ``loss_fn`` closes over one fixed batch, so rows compare. Call :meth:`record` once before
    training for the starting point. The model's parameter gradients are never touched.
    """

    def __init__(self, loss_fn: Callable[[nn.Module], Tensor], every: int, layer: Optional[str] = None) -> None:
        if not callable(loss_fn):
            raise InvalidTypeError(f"loss_fn must be callable as loss_fn(model), got {describe(loss_fn)}")
        self.loss_fn, self.every, self.layer = loss_fn, positive_int("every", every), layer
        self.history: Optional[GradientFlowHistory] = None

    def record(self, model: nn.Module, step: int) -> GradientFlow:
        flow = record_gradient_flow(model, self.loss_fn)
        name = flow._name(self.layer)
        if self.history is None:
            self.history = GradientFlowHistory(name)
        self.history.steps.append(int(step))
        self.history.norms.append(flow.norms[name])
        return flow

    def __call__(self, trainer) -> None:
        if trainer.step % self.every == 0:
            self.record(trainer.model, trainer.step)


def plot_gradient_flow_history(
    history: GradientFlowHistory, out_png: Optional[PathLike] = None, *, row: int = 0, title: Optional[str] = None
):
    """Heatmap of ``log10 ||dL/dh_t||``: t along x, training step along y (first record at the top)."""
    if not isinstance(history, GradientFlowHistory):
        raise InvalidTypeError(f"history must be a GradientFlowHistory, got {describe(history)}")
    if not history.steps:
        raise InvalidValueError("the gradient-flow history is empty: nothing was recorded")
    grid = torch.stack([n[row] for n in history.norms]).double().clamp_min(_TINY).log10().numpy()  # (records, T)
    fig = new_figure((7, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    finite = grid[np.isfinite(grid)]
    low = float(np.percentile(finite, 1)) if finite.size else -30.0
    image = ax.imshow(
        grid,
        aspect="auto",
        interpolation="nearest",
        cmap="magma",
        vmin=max(low, float(grid.max()) - 12),  # 12 decades at most: below that the colour says "vanished"
        extent=(-0.5, grid.shape[1] - 0.5, len(history.steps) - 0.5, -0.5),
    )
    ticks = np.linspace(0, len(history.steps) - 1, min(6, len(history.steps))).round().astype(int)
    ax.set_yticks(ticks)
    ax.set_yticklabels([str(history.steps[i]) for i in ticks])
    ax.set_xlabel("time step t")
    ax.set_ylabel("training step")
    ax.set_title(title or f"log10 ||dL/dh_t|| over training ({history.layer})")
    cbar = fig.colorbar(image, ax=ax)
    cbar.set_label("log10 norm")
    fig.tight_layout()
    write_png(fig, out_png)
    return fig


def finite_or_none(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None
