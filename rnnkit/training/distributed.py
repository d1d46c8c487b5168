"""Multi-process data parallel training through Lightning Fabric (an optional dependency).

The Trainer's loop is the same in every process; Fabric starts the processes (``devices=N``, or
``torchrun --nproc_per_node=N script.py``), wraps the model in DistributedDataParallel (gloo on CPU,
NCCL on CUDA) so gradients are averaged across processes during ``backward``, and gives each process
its rank. Each process reads its own slice of every global batch (see ``ShuffledBatches`` and
``StreamDataset``); checkpoints and logs are written by rank 0 only.

Lightning is imported only here, inside :func:`launch_fabric`, so ``import rnnkit.training`` works
without it. Install it with the ``distributed`` extra.
"""

from __future__ import annotations

import os
from typing import Any

import torch

__all__ = ["launch_fabric", "wants_distributed", "fabric_available"]


def fabric_available() -> bool:
    """Whether Lightning Fabric is installed (checked without importing it: the import is slow)."""
    import importlib.util

    try:
        return (
            importlib.util.find_spec("lightning") is not None
            and importlib.util.find_spec("lightning.fabric") is not None
        )
    except (ImportError, ValueError):
        return False


def wants_distributed(devices: int) -> bool:
    """True for ``devices > 1`` or when started by torchrun with more than one process."""
    return devices > 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1


def launch_fabric(devices: int, accelerator: str = "auto") -> Any:
    """A launched ``lightning.fabric.Fabric`` with the DDP strategy; this process's rank is ``fabric.global_rank``.

    With ``devices=N`` and no torchrun, Fabric re-runs the current script in N - 1 more processes.
    """
    try:
        from lightning.fabric import Fabric
    except ImportError as err:
        raise ImportError(
            "multi-process training needs Lightning Fabric: install rnnkit's 'distributed' extra "
            f"(the 'lightning' package); importing it failed: {err}"
        ) from None
    if accelerator == "auto":
        accelerator = "cuda" if torch.cuda.is_available() else "cpu"
    if devices == 1 and "LOCAL_WORLD_SIZE" in os.environ:
        devices = int(os.environ["LOCAL_WORLD_SIZE"])  # started by torchrun
    fabric = Fabric(accelerator=accelerator, devices=devices, strategy="ddp", precision="32-true")
    fabric.launch()
    return fabric
