"""Training and validation loss curves, drawn from a run folder's CSV logs to a PNG."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from .._checks import InvalidValueError

PathLike = Union[str, Path]


def read_log(path: PathLike) -> Dict[str, List[float]]:
    """Columns of a CSV log written by :class:`rnnkit.training.logging.CSVLogger`, as floats."""
    path = Path(path)
    columns: Dict[str, List[float]] = {}
    if not path.is_file():
        return columns
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                try:
                    columns.setdefault(key, []).append(float(value))
                except (TypeError, ValueError):
                    columns.setdefault(key, []).append(float("nan"))
    return columns


def plot_loss_curves(run_dir: PathLike, out_png: Optional[PathLike] = None, *, title: str = "loss") -> Path:
    """Plot ``train_log.csv`` (loss per log step) and ``val_log.csv`` (val_loss) of ``run_dir``.

    Whatever exists is drawn: a run too short for a training-log row still gets its validation
    points, and a curve of one point is drawn as a marker. The y axis is the loss in nats per token.
    Writes ``run_dir/loss_curves.png`` by default and returns the path. Raises ``ValueError`` only
    when neither log holds a single finite loss.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    train = _points(read_log(run_dir / "train_log.csv"), "loss")
    val = _points(read_log(run_dir / "val_log.csv"), "val_loss")
    if not train[0] and not val[0]:
        raise InvalidValueError(
            f"nothing to plot in {run_dir}: neither train_log.csv nor val_log.csv holds a loss value"
        )
    out_png = Path(out_png) if out_png is not None else run_dir / "loss_curves.png"
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train[0]:
        few = len(train[0]) < 3  # a line needs two points; a marker shows a lone one
        ax.plot(*train, label="train", color="#1f77b4", linewidth=1.2, marker="o" if few else None, markersize=3)
    if val[0]:
        ax.plot(*val, label="validation", color="#d62728", marker="o", markersize=3)
    ax.set_xlabel("update")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = out_png.with_name(f".{out_png.name}.tmp.png")
    try:
        fig.savefig(tmp)
    finally:
        plt.close(fig)
    tmp.replace(out_png)
    return out_png


def _points(columns: Dict[str, List[float]], name: str) -> Tuple[List[float], List[float]]:
    """``(steps, values)`` of column ``name``, leaving out rows where either is missing or not finite."""
    steps, values = columns.get("step", []), columns.get(name, [])
    kept = [(s, v) for s, v in zip(steps, values) if math.isfinite(s) and math.isfinite(v)]
    return [s for s, _ in kept], [v for _, v in kept]
