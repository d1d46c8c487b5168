"""Progress and logs: a tqdm bar (only on a terminal), CSV files, optional TensorBoard.

* ``train_log.csv``: one row every ``log_every`` updates: step, epoch, loss (mean over the rows'
  updates), lr, grad_norm (the pre-clip global norm of the last update), throughput (samples or
  tokens per second), skipped (non-finite updates so far).
* ``val_log.csv``: one row per validation: step, epoch and every metric.

On resume, rows written after the checkpoint (by the run that crashed) are dropped first, so the
files read as if the run had never stopped.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .checkpoint import atomic_write_bytes

__all__ = ["CSVLogger", "ProgressBar", "TensorBoardLogger"]


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
                "tensorboard=True needs the tensorboard package (pip install tensorboard); "
                f"importing it failed: {err}"
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
            self.bar.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.3g}", **{f"{self.unit}/s": f"{throughput:.4g}"},
                                 **extra, refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
