"""Engines and the one place that picks one.

``engine="auto"`` takes the first engine in :data:`AUTO_ORDER` that can serve the layer and its
input; a named engine is used as asked, or raises ``ValueError`` saying why it cannot serve.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ..._checks import InvalidTypeError, InvalidValueError, choice, describe
from .base import Engine, LayerState, WeightPlan
from .fast import FastEngine
from .fused import FusedEngine, flat_weights, flatten_for_cudnn, kernel_mode
from .gru import GRUEngine
from .loop import LoopEngine, StepHook, run_direction, run_layers, run_stack
from .scan import ScanEngine

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
    if not isinstance(engine, str):
        raise InvalidTypeError(f"engine must be one of {engine_names()}, got {describe(engine)}")
    return choice("engine", engine, engine_names())


def select_engine(layer, batch, requested: str, weights: Optional[WeightPlan] = None) -> Engine:
    """The engine that runs ``layer`` on ``batch``: the one asked for, or the best able for "auto".

    ``weights`` is the plan this forward runs with (read from ``layer`` when not given). While
    ``layer`` has a step hook it runs the loop engine, whatever was asked: the hook is called from
    inside the one time loop, and fused kernels cannot call back.
    """
    if layer.step_hooks():
        return ENGINES["loop"]
    if weights is None:
        weights = layer.weight_plan()
    if requested == "auto":
        for name in AUTO_ORDER:
            if ENGINES[name].unavailable_reason(layer, batch, weights) is None:
                return ENGINES[name]
        raise RuntimeError(f"no engine in {AUTO_ORDER} can run {type(layer).__name__}")
    engine = ENGINES[check_engine_name(requested)]
    reason = engine.unavailable_reason(layer, batch, weights)
    if reason is not None:
        raise InvalidValueError(f"engine={requested!r} cannot run this layer: {reason}; use engine='auto' or 'loop'")
    return engine


register_engine(GRUEngine(), auto_rank=0)  # CPU GRU: faster than torch.nn's (unfused there)
register_engine(FusedEngine(), auto_rank=1)
register_engine(ScanEngine(), auto_rank=2)  # minGRU, minLSTM: a scan instead of a time loop
register_engine(ScanEngine("parallel", "scan-parallel"))  # the GPU's scan, selectable by name
register_engine(FastEngine(), auto_rank=3)  # custom cells: one weight-gradient GEMM
register_engine(LoopEngine(), auto_rank=4)

__all__ = [
    "Engine",
    "LayerState",
    "WeightPlan",
    "StepHook",
    "ENGINES",
    "AUTO_ORDER",
    "register_engine",
    "engine_names",
    "check_engine_name",
    "select_engine",
    "flatten_for_cudnn",
    "kernel_mode",
    "flat_weights",
    "run_layers",
    "run_stack",
    "run_direction",
]
