"""Training and validation loss curves, drawn from a run folder's CSV logs to a PNG."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List, Optional, Union

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

    The y axis is the loss in nats per token. Writes ``run_dir/loss_curves.png`` by default and
    returns the path. Raises ``ValueError`` when the folder has no training log.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    train = read_log(run_dir / "train_log.csv")
    val = read_log(run_dir / "val_log.csv")
    if not train.get("step"):
        raise ValueError(f"no training log to plot: {run_dir / 'train_log.csv'} is missing or empty")
    out_png = Path(out_png) if out_png is not None else run_dir / "loss_curves.png"
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(train["step"], train["loss"], label="train", color="#1f77b4", linewidth=1.2)
    if val.get("step") and "val_loss" in val:
        ax.plot(val["step"], val["val_loss"], label="validation", color="#d62728", marker="o", markersize=3)
    ax.set_xlabel("update")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = out_png.with_name(f".{out_png.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out_png)
    return out_png
