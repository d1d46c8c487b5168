"""Engines and the one place that picks one.

``engine="auto"`` takes the first engine in :data:`AUTO_ORDER` that can serve the layer and its
input; a named engine is used as asked, or raises ``ValueError`` saying why it cannot serve.
"""

from __future__ import annotations

from typing import Dict, List

from .base import Engine, LayerState
from .fused import FusedEngine, flatten_for_cudnn, kernel_mode
from .loop import LoopEngine, run_direction

ENGINES: Dict[str, Engine] = {}
AUTO_ORDER: List[str] = []  # tried in this order by engine="auto"


def register_engine(engine: Engine, *, auto_rank: int | None = None) -> None:
    """Make ``engine`` selectable by its name; with ``auto_rank``, also by ``"auto"`` (lower first)."""
    ENGINES[engine.name] = engine
    if auto_rank is not None:
        if engine.name in AUTO_ORDER:
            AUTO_ORDER.remove(engine.name)
        AUTO_ORDER.insert(min(auto_rank, len(AUTO_ORDER)), engine.name)


def engine_names() -> List[str]:
    return ["auto", *ENGINES]


def check_engine_name(engine: object) -> str:
    if not isinstance(engine, str) or (engine != "auto" and engine not in ENGINES):
        raise ValueError(f"engine must be one of {engine_names()}, got {engine!r}")
    return engine


def select_engine(layer, batch, requested: str) -> Engine:
    """The engine that runs ``layer`` on ``batch``: the one asked for, or the best able for "auto"."""
    if requested == "auto":
        for name in AUTO_ORDER:
            if ENGINES[name].unavailable_reason(layer, batch) is None:
                return ENGINES[name]
        raise RuntimeError(f"no engine in {AUTO_ORDER} can run {type(layer).__name__}")
    engine = ENGINES[check_engine_name(requested)]
    reason = engine.unavailable_reason(layer, batch)
    if reason is not None:
        raise ValueError(f"engine={requested!r} cannot run this layer: {reason}; use engine='auto' or 'loop'")
    return engine


register_engine(FusedEngine(), auto_rank=0)
register_engine(LoopEngine(), auto_rank=1)

__all__ = [
    "Engine",
    "LayerState",
    "ENGINES",
    "AUTO_ORDER",
    "register_engine",
    "engine_names",
    "check_engine_name",
    "select_engine",
    "flatten_for_cudnn",
    "kernel_mode",
    "run_direction",
]
