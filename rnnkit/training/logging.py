"""Progress and logs: a tqdm bar (only on a terminal), CSV files, optional TensorBoard.

* ``train_log.csv``: one row every ``log_every`` updates, and one more at the end of the run for the
  updates since the last row (so every run, however short, has a row): step, epoch, loss (mean of
  the finite losses of the row's updates), lr, grad_norm (the pre-clip global norm of the row's own
  update), grad_norm_max and grad_norm_mean (max and mean of the pre-clip norm over *every* update
  since the previous row, so a spike on a step without a row still shows; a non-finite norm makes
  both non-finite), throughput (samples or tokens per second), skipped (non-finite updates so far).
* ``val_log.csv``: one row per validation: step, epoch and every metric.

On resume, rows written after the checkpoint (by the run that crashed) are dropped first, so the
files read as if the run had never stopped.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from .checkpoint import atomic_write_bytes

__all__ = ["CSVLogger", "ProgressBar", "TensorBoardLogger", "LogWindow"]


class LogWindow:
    """The updates since the last train-log row: their losses, pre-clip gradient norms and throughput."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.steps = 0  # updates in the window (skipped ones included)
        self.units = 0  # samples or tokens they consumed
        self.loss_sum, self.loss_count = 0.0, 0  # finite losses only
        self.norm_sum = 0.0
        self.norm_max: Optional[float] = None
        self.start = time.perf_counter()

    def add(self, loss: float, grad_norm: float, units: int) -> None:
        self.steps += 1
        self.units += units
        if math.isfinite(loss):
            self.loss_sum += loss
            self.loss_count += 1
        self.norm_sum += grad_norm
        m = self.norm_max
        if m is None or math.isnan(grad_norm) or (not math.isnan(m) and grad_norm > m):
            self.norm_max = grad_norm  # NaN, once seen, stays the max: the row must show it

    def state_dict(self) -> Dict[str, Any]:
        """The accumulators (not the clock), so a resumed run's first row covers the same updates."""
        return {
            "steps": self.steps,
            "units": self.units,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "norm_sum": self.norm_sum,
            "norm_max": self.norm_max,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.reset()
        self.steps, self.units = int(state["steps"]), int(state["units"])
        self.loss_sum, self.loss_count = float(state["loss_sum"]), int(state["loss_count"])
        self.norm_sum = float(state["norm_sum"])
        self.norm_max = None if state["norm_max"] is None else float(state["norm_max"])

    def summary(self) -> Dict[str, float]:
        """``loss``, ``grad_norm_max``, ``grad_norm_mean``, ``throughput`` of the window (call with steps > 0)."""
        seconds = max(time.perf_counter() - self.start, 1e-9)
        return {
            "loss": self.loss_sum / self.loss_count if self.loss_count else float("nan"),
            "grad_norm_max": self.norm_max if self.norm_max is not None else float("nan"),
            "grad_norm_mean": self.norm_sum / self.steps if self.steps else float("nan"),
            "throughput": self.units / seconds,
        }


class CSVLogger:
    """Append rows to a CSV file; the header is the first row's keys (later rows must use them)."""

    def __init__(self, path, resume_step: Optional[int] = None) -> None:
        self.path = Path(path)
        self.fields: Optional[List[str]] = None
        if self.path.exists():
            if resume_step is None:
                self.path.unlink()  # a fresh run starts a fresh log
            else:
                self._truncate_after(resume_step)

    def _truncate_after(self, step: int) -> None:
        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
            fields = list(rows[0].keys()) if rows else None
        if fields is None:
            self.path.unlink()
            return
        kept = [r for r in rows if int(r["step"]) <= step]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields)
        w.writeheader()
        w.writerows(kept)
        atomic_write_bytes(self.path, buf.getvalue().encode())
        self.fields = fields

    def log(self, row: Dict[str, Any]) -> None:
        new = not self.path.exists()
        if self.fields is None:
            self.fields = list(row.keys())
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: _fmt(v) for k, v in row.items()})


def _fmt(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


class TensorBoardLogger:
    """Scalars to TensorBoard through ``torch.utils.tensorboard`` (needs the tensorboard package)."""

    def __init__(self, log_dir) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # the tensorboard package is optional
            raise ImportError(
                f"tensorboard=True needs the tensorboard package (pip install tensorboard); importing it failed: {err}"
            ) from None
        self.writer = SummaryWriter(str(log_dir))

    def log(self, row: Dict[str, Any], step: int, prefix: str) -> None:
        for k, v in row.items():
            if k not in ("step", "epoch") and isinstance(v, (int, float)):
                self.writer.add_scalar(f"{prefix}/{k}", v, step)

    def close(self) -> None:
        self.writer.close()


class ProgressBar:
    """A tqdm bar over the run's updates with loss, lr and throughput; tqdm shows the ETA."""

    def __init__(self, total: Optional[int], initial: int, enabled: Optional[bool], unit: str) -> None:
        """``total=None`` (a run bounded by time): no step ETA; pass ``seconds_left`` to ``update``."""
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)
        self.unit = unit

    def update(self, n: int, loss: float, lr: float, throughput: float, seconds_left: Optional[float] = None) -> None:
        if self.bar is not None:
            extra = {} if seconds_left is None else {"left": f"{max(0.0, seconds_left):.0f}s"}
            self.bar.set_postfix(
                loss=f"{loss:.4g}", lr=f"{lr:.3g}", **{f"{self.unit}/s": f"{throughput:.4g}"}, **extra, refresh=False
            )
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
