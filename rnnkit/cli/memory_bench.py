"""``rnnkit bench memory``: the long-range memory tasks (issue 14).

    rnnkit bench memory --task adding|copy --cell rnn|lstm|gru --length T [--out DIR] [options]

Trains one small model (:mod:`rnnkit.tasks.memory`), prints its validation loss against the task's
trivial baseline and how much of the gradient reaches the first step, and writes ``--out`` (default
``runs/memory-TASK-CELL-T``): ``result.json``, the Trainer's logs, ``gradient_flow.png``,
``gradient_flow_history.png`` and ``grad_norms.png``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from ..tasks.memory import MemoryBench
from .app import bench_app
from .errors import user_errors_as_one_line
from .options import check_options, from_config, output_folder

M = MemoryBench


@bench_app.command("memory")
@user_errors_as_one_line
def bench_memory(
    task: str = from_config(M, "task"),
    cell: str = from_config(M, "cell"),
    length: int = from_config(M, "length"),
    hidden_size: int = from_config(M, "hidden_size"),
    batch_size: int = from_config(M, "batch_size"),
    lr: float = from_config(M, "lr"),
    optimizer: str = from_config(M, "optimizer"),
    clip_norm: float = from_config(M, "clip_norm"),
    recurrent_scale: float = from_config(M, "recurrent_scale"),
    forget_bias: float = from_config(M, "forget_bias"),
    max_steps: int = from_config(M, "max_steps"),
    time_budget: float = from_config(M, "time_budget"),
    train_size: int = from_config(M, "train_size"),
    val_size: int = from_config(M, "val_size"),
    val_every: int = from_config(M, "val_every"),
    solved_at: Optional[float] = from_config(M, "solved_at"),
    seed: int = from_config(M, "seed"),
    threads: Optional[int] = from_config(M, "threads"),
    out: Optional[Path] = from_config(
        M, "out", help="folder for the result, logs and plots (default runs/memory-TASK-CELL-T)"
    ),
    overwrite: bool = from_config(M, "overwrite"),
    resume: bool = from_config(M, "resume"),
) -> None:
    """Train a small model on the adding problem or copy memory; compare it with the trivial baseline."""
    from ..tasks.memory import plan_memory_out, run_memory_bench

    check_options(seed=seed, threads=threads)
    options = {k: v for k, v in locals().items() if k in MemoryBench.__dataclass_fields__}
    bench = MemoryBench(**{**options, "out": None})  # every value checked before anything is written
    folder = output_folder(out if out is not None else Path("runs") / f"memory-{task}-{cell}-{length}")
    bench.out = str(folder)
    plan_memory_out(bench)  # refuse a non-empty --out before training
    typer.echo(
        f"training {cell} on {task} T={length}: at most {max_steps} updates or {time_budget:g} s "
        f"(stops when the validation loss reaches {bench.target:g})"
    )
    result = run_memory_bench(bench)
    ratio = result.best_val_loss / result.baseline
    verdict = "SOLVED" if result.solved else "diverged" if result.diverged else "not solved"
    typer.echo(
        f"{task} T={length}, {cell}: best validation loss {result.best_val_loss:.4g} vs trivial baseline "
        f"{result.baseline:.4g} ({ratio:.3g}x the baseline): {verdict} (threshold {result.target:g}) "
        f"after {result.steps} updates, {result.seconds:.0f} s"
    )
    if math.isfinite(result.grad_ratio_end):
        typer.echo(
            f"gradient flow: ||dL/dh_1|| / ||dL/dh_T|| = {result.grad_ratio_start:.3g} at initialisation, "
            f"{result.grad_ratio_end:.3g} after training"
        )
    typer.echo(f"results: {folder}/result.json; gradient flow: {folder}/gradient_flow.png")
