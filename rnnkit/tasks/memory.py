"""The long-range memory benchmarks: train a small recurrent model on the adding problem or copy
memory (:mod:`rnnkit.data.memory_tasks`) on the one Trainer, and report it against the trivial
baseline, with the gradient flow through time that explains the result.

The model is the sequence encoder shared by the classifier and tagger (one unidirectional layer of
the chosen cell, no dropout) and a linear head:

    adding:  x (B, T, 2) -> W_in -> rnn -> h_T -> Linear(H, 1) -> y_hat (B,)        loss MSE
    copy:    x (B, T+20) symbols -> embedding -> rnn -> h_t -> Linear(H, 10) (B, T+20, 10)
                                                                  loss cross-entropy over every step

Validation runs every ``val_every`` updates on a held-out set drawn from another seed; the run stops
when the validation loss reaches ``solved_at`` (the issue's thresholds: adding MSE 1e-3, copy 0.01),
after ``max_steps`` or after ``time_budget`` seconds. The folder it writes holds ``result.json``, the
Trainer's logs, ``gradient_flow.png`` (``||dL/dh_t||`` on one validation batch, before and after
training), ``gradient_flow_history.png`` (the same during training) and ``grad_norms.png`` (the
per-update gradient norm before clipping).

``recurrent_scale`` re-initialises every ``weight_hh`` as ``scale * Q`` with ``Q`` a random
orthogonal matrix (spectral radius = scale): with scale > 1 an Elman RNN's gradients explode, which
is the case for showing gradient clipping at work (with ``optimizer="sgd"``: Adam divides the
update by the gradient's size and so hides most of an explosion).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from .._checks import (
    InvalidTypeError,
    InvalidValueError,
    NotAFolderError,
    choice,
    describe,
    non_negative_float,
    non_negative_int,
    optional,
    positive_float,
    positive_int,
)
from ..data.atomic import atomic_write
from ..data.memory_tasks import ADDING_BASELINE_MSE, MEMORY_TASKS, adding_problem, copy_baseline_loss, copy_memory
from ..diagnostics.grad_norms import GradNormRecorder, plot_grad_norms
from ..diagnostics.gradient_flow import GradientFlow, record_gradient_flow
from ..diagnostics.gradient_plots import (
    GradientFlowHistory,
    GradientFlowMonitor,
    plot_gradient_flow,
    plot_gradient_flow_history,
)
from ..layers import STOCK_LAYERS
from ..models.encoder import EncoderConfig, SequenceEncoder
from ..training import TrainConfig, Trainer
from ..training.nan_guard import NonFiniteError
from ..training.run_folder import RunFolder, staging_folder

__all__ = ["MemoryBench", "MemoryModel", "MemoryResult", "run_memory_bench", "SOLVED_AT"]

SOLVED_AT = {"adding": 1e-3, "copy": 0.01}  # the "solved" thresholds on the validation loss
MEMORY = 10  # copy memory: digits to remember (TCN's seq_len)
RESULT_FILE = "result.json"
HISTORY_FILE = "gradient_flow_history.json"
NORMS_FILE = "grad_norms.json"


def finite_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{name} must be a number, got {describe(value)}")
    if not math.isfinite(value):
        raise InvalidValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _help(text: str) -> Dict[str, str]:
    return {"help": text}


@dataclass
class MemoryBench:
    """One run of a long-range memory benchmark."""

    task: str = field(default="adding", metadata=_help("adding or copy"))
    cell: str = field(default="lstm", metadata=_help("recurrent cell: " + ", ".join(STOCK_LAYERS)))
    length: int = field(default=200, metadata=_help("T: the adding sequence length, or copy memory's blank"))
    hidden_size: int = field(default=128, metadata=_help("hidden units of the recurrent layer"))
    batch_size: int = field(default=64, metadata=_help("sequences per update"))
    lr: float = field(default=1e-3, metadata=_help("learning rate"))
    optimizer: str = field(default="adam", metadata=_help("adam or sgd (sgd shows exploding gradients)"))
    clip_norm: float = field(default=1.0, metadata=_help("clip the global gradient norm to this; 0 = no clipping"))
    recurrent_scale: float = field(
        default=0.0, metadata=_help("re-initialise weight_hh as this times a random orthogonal matrix; 0 = keep")
    )
    forget_bias: float = field(
        default=1.0,
        metadata=_help("LSTM: initial forget-gate bias b_if + b_hf (1: remember by default; 0: torch's init)"),
    )
    max_steps: int = field(default=5000, metadata=_help("updates at most"))
    time_budget: float = field(default=600.0, metadata=_help("seconds of training at most"))
    train_size: int = field(default=20000, metadata=_help("training sequences (drawn once)"))
    val_size: int = field(default=500, metadata=_help("validation sequences"))
    val_every: int = field(default=100, metadata=_help("validate (and record the gradient flow) every N updates"))
    solved_at: Optional[float] = field(
        default=None, metadata=_help("stop when the validation loss reaches this (default: adding 1e-3, copy 0.01)")
    )
    seed: int = field(default=0, metadata=_help("seed of the data and the weights"))
    threads: Optional[int] = field(default=None, metadata=_help("CPU threads (default: what the machine has free)"))
    out: Optional[str] = field(default=None, metadata=_help("folder for the result, logs and plots"))
    overwrite: bool = field(default=False, metadata=_help("replace the results already in --out"))
    resume: bool = field(
        default=False, metadata=_help("continue the run in --out from its checkpoint (with a larger budget)")
    )

    def __post_init__(self) -> None:
        choice("task", self.task, MEMORY_TASKS)
        choice("cell", self.cell, list(STOCK_LAYERS))
        self.length = positive_int("length", self.length)
        if self.task == "adding" and self.length < 2:
            raise InvalidValueError(
                f"length must be >= 2 for the adding problem (two marked positions), got {self.length}"
            )
        self.hidden_size = positive_int("hidden_size", self.hidden_size)
        self.batch_size = positive_int("batch_size", self.batch_size)
        self.lr = positive_float("lr", self.lr)
        choice("optimizer", self.optimizer, ("adam", "sgd"))
        self.clip_norm = non_negative_float("clip_norm", self.clip_norm)  # 0: no clipping
        self.recurrent_scale = non_negative_float("recurrent_scale", self.recurrent_scale)  # 0: torch's init
        self.forget_bias = finite_float("forget_bias", self.forget_bias)
        self.max_steps = positive_int("max_steps", self.max_steps)
        self.time_budget = positive_float("time_budget", self.time_budget)
        self.train_size = positive_int("train_size", self.train_size)
        self.val_size = positive_int("val_size", self.val_size)
        self.val_every = positive_int("val_every", self.val_every)
        self.solved_at = optional(positive_float, "solved_at", self.solved_at)
        self.seed = non_negative_int("seed", self.seed)
        self.threads = optional(positive_int, "threads", self.threads)

    @property
    def target(self) -> float:
        return self.solved_at if self.solved_at is not None else SOLVED_AT[self.task]

    @property
    def baseline(self) -> float:
        """The trivial baseline's loss: adding 1/6, copy ``10 ln 8 / (T + 20)``."""
        return ADDING_BASELINE_MSE if self.task == "adding" else copy_baseline_loss(self.length, MEMORY)


class MemoryModel(nn.Module):
    """Encoder (one unidirectional recurrent layer) + linear head; ``forward(x)`` as the module docstring."""

    def __init__(self, task: str, cell: str, hidden_size: int) -> None:
        super().__init__()
        self.task = choice("task", task, MEMORY_TASKS)
        adding = task == "adding"
        self.encoder = SequenceEncoder(
            EncoderConfig(
                vocab_size=0 if adding else 10,  # copy: symbol 0 (blank) embeds as the zero vector
                input_size=2 if adding else 0,
                embedding_size=16,
                cell=cell,
                hidden_size=hidden_size,
                bidirectional=False,
                dropout=0.0,
            )
        )
        self.head = nn.Linear(hidden_size, 1 if adding else 10)

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.encoder(x)  # (B, T, H)
        if self.task == "adding":
            return self.head(h[:, -1]).squeeze(-1)  # (B,)
        return self.head(h)  # (B, T, 10)

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        out = self(x)
        if self.task == "adding":
            return F.mse_loss(out, y)
        return F.cross_entropy(out.reshape(-1, 10), y.reshape(-1))


def set_forget_bias(model: nn.Module, value: float) -> None:
    """LSTM layers: ``b_if := value``, ``b_hf := 0`` (the forget gate's rows H..2H of the biases), so
    ``f_t = sigmoid(value + ...)`` starts near 1 and the cell state is kept (Gers et al. 2000;
    Jozefowicz et al. 2015; Keras's ``unit_forget_bias``)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-1]
            if leaf.startswith(("bias_ih", "bias_hh")) and p.shape[0] % 4 == 0:
                h = p.shape[0] // 4
                p[h : 2 * h] = value if leaf.startswith("bias_ih") else 0.0


def rescale_recurrent_weights(model: nn.Module, scale: float, generator: torch.Generator) -> None:
    """Every ``weight_hh*`` (per gate block) := ``scale`` x a random orthogonal matrix."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.split(".")[-1].startswith("weight_hh"):
                rows, cols = p.shape
                for block in range(rows // cols):
                    q, r = torch.linalg.qr(torch.randn(cols, cols, generator=generator, dtype=torch.float64))
                    q = q * torch.sign(torch.diagonal(r))  # uniform over the orthogonal group
                    p[block * cols : (block + 1) * cols] = (scale * q).to(p.dtype)


@dataclass
class MemoryResult:
    task: str
    cell: str
    length: int
    steps: int
    seconds: float
    val_loss: float  # the last validation loss
    best_val_loss: float
    baseline: float
    solved: bool  # best_val_loss <= the threshold
    target: float
    grad_ratio_start: float  # ||dL/dh_T|| / ||dL/dh_1|| at initialisation
    grad_ratio_end: float  # the same after training
    skipped_updates: int  # non-finite updates the Trainer skipped
    diverged: bool  # the Trainer stopped the run after max_bad_steps non-finite updates in a row
    max_grad_norm: float  # the largest finite pre-clip gradient norm of any update
    settings: Dict[str, Any]

    def summary(self) -> str:
        verdict = "solved" if self.solved else "diverged" if self.diverged else "not solved"
        return (
            f"{self.task} T={self.length} {self.cell}: val loss {self.best_val_loss:.4g} (best), baseline "
            f"{self.baseline:.4g} ({self.best_val_loss / self.baseline:.3g}x), {verdict} "
            f"(threshold {self.target:g}) after {self.steps} updates, {self.seconds:.0f} s"
        )


def plan_memory_out(bench: MemoryBench) -> Optional[RunFolder]:
    if bench.out is None:
        return None
    target = Path(os.fspath(bench.out))
    if target.exists() and not target.is_dir():
        raise NotAFolderError(f"--out {target} is a file; the benchmark writes a folder (created if missing)")
    if bench.resume and bench.overwrite:
        raise InvalidValueError("--resume and --overwrite exclude each other: give one of them")
    if bench.resume:
        if not (target / "last").is_dir() or not (target / RESULT_FILE).is_file():
            raise InvalidValueError(f"nothing to resume in --out {target}: it holds no finished benchmark run")
        return RunFolder(target, target, resuming=True)
    if target.is_dir() and any(target.iterdir()):
        if not bench.overwrite:
            raise InvalidValueError(
                f"--out {target} is not empty: give --overwrite to replace it, or choose another --out"
            )
        return RunFolder(target, staging_folder(target), resuming=False)  # swapped in only when done
    return RunFolder(target, target, resuming=False)


def run_memory_bench(bench: MemoryBench, log: Callable[[str], None] = lambda message: None) -> MemoryResult:
    """Train and evaluate one benchmark run; write its folder if ``bench.out`` is set."""
    if not isinstance(bench, MemoryBench):
        raise InvalidValueError(f"bench must be a MemoryBench, got {type(bench).__name__}")
    folder = plan_memory_out(bench)
    work = None
    if folder is not None:
        if folder.staged and folder.work.exists():
            import shutil

            shutil.rmtree(folder.work)
        work = folder.create()
    make = adding_problem if bench.task == "adding" else copy_memory
    train = TensorDataset(*make(bench.train_size, bench.length, seed=bench.seed))
    val_x, val_y = make(bench.val_size, bench.length, seed=bench.seed + 10_000)  # another seed: unseen data
    val = TensorDataset(val_x, val_y)

    torch.manual_seed(bench.seed)
    model = MemoryModel(bench.task, bench.cell, bench.hidden_size)
    if bench.cell == "lstm" and bench.forget_bias:
        set_forget_bias(model, bench.forget_bias)
    if bench.recurrent_scale:
        rescale_recurrent_weights(model, bench.recurrent_scale, torch.Generator().manual_seed(bench.seed))

    probe_x, probe_y = val_x[:64], val_y[:64]  # one fixed validation batch for every gradient-flow record

    def probe_loss(m: nn.Module) -> Tensor:
        return m.loss(probe_x, probe_y)

    monitor = GradientFlowMonitor(probe_loss, every=bench.val_every)
    norms = GradNormRecorder(model)  # per-parameter norms from the first update on
    if folder is not None and folder.resuming:  # the records so far continue
        earlier = json.loads((work / RESULT_FILE).read_text())
        start_flow = GradientFlow({"encoder.rnn": torch.tensor([earlier["flow_start"]])})
        if (work / HISTORY_FILE).is_file():
            monitor.history = GradientFlowHistory.from_json((work / HISTORY_FILE).read_text())
        if (work / NORMS_FILE).is_file():
            norms.load(work / NORMS_FILE)
    else:
        start_flow = record_gradient_flow(model, probe_loss)
        monitor.record(model, 0)

    def stop_when_solved(trainer: Trainer) -> None:
        if trainer.history and trainer.history[-1]["step"] == trainer.step:
            if trainer.history[-1]["val_loss"] <= bench.target:
                trainer.should_stop = True

    config = TrainConfig(
        max_steps=bench.max_steps,
        time_budget=bench.time_budget,
        anneal_over_time=False,
        batch_size=bench.batch_size,
        optimizer="adam" if bench.optimizer == "adam" else "sgd",
        lr=bench.lr,
        momentum=0.9,
        clip_norm=bench.clip_norm or None,
        val_every=bench.val_every,
        max_bad_steps=20,  # an exploding run shows its spikes; 20 non-finite updates in a row end it
        seed=bench.seed,
        threads=bench.threads,
        out_dir=None if work is None else str(work),
        resume=folder is not None and folder.resuming,
        log_every=10,
        progress=False,
    )
    trainer = Trainer(
        model,
        config,
        step_fn=lambda m, batch: m.loss(*batch),
        callbacks=[norms, monitor, stop_when_solved],
    )
    diverged = False
    try:
        trainer.fit(train, val)
    except NonFiniteError as err:  # an exploding run: keep what it shows
        diverged = True
        log(f"diverged: {err}")
    norms.detach()
    end_flow = record_gradient_flow(model, probe_loss)
    losses = [row["val_loss"] for row in trainer.history if math.isfinite(row["val_loss"])]
    best = min(losses) if losses else float("nan")
    result = MemoryResult(
        task=bench.task,
        cell=bench.cell,
        length=bench.length,
        steps=trainer.step,
        seconds=trainer.train_seconds,
        val_loss=trainer.history[-1]["val_loss"] if trainer.history else float("nan"),
        best_val_loss=best,
        baseline=bench.baseline,
        solved=bool(best <= bench.target),
        target=bench.target,
        grad_ratio_start=_ratio(start_flow),
        grad_ratio_end=_ratio(end_flow),
        skipped_updates=trainer.guard.total,
        diverged=diverged,
        max_grad_norm=max((v for v in norms.global_norms if math.isfinite(v)), default=float("nan")),
        settings={k: v for k, v in asdict(bench).items() if k not in ("out", "overwrite", "resume")},
    )
    if work is not None:
        _write_folder(work, bench, result, start_flow, end_flow, monitor, norms)
        folder.commit()
    log(result.summary())
    return result


def _ratio(flow: GradientFlow) -> float:
    """``||dL/dh_1|| / ||dL/dh_T||``: how much of the last step's gradient reaches the first step."""
    g = next(iter(flow.norms.values()))[0]
    return float(g[0] / g[-1]) if float(g[-1]) > 0 else float("nan")


def _write_folder(work: Path, bench, result, start_flow, end_flow, monitor, norms) -> None:
    label = f"{bench.cell}, {bench.task} T={bench.length}"
    plot_gradient_flow(
        {"at initialisation": start_flow, f"after {result.steps} updates": end_flow},
        work / "gradient_flow.png",
        title=f"gradient flow through time ({label})",
    )
    if monitor.history is not None:
        plot_gradient_flow_history(
            monitor.history, work / "gradient_flow_history.png", title=f"log10 ||dL/dh_t|| ({label})"
        )
        monitor.history.save(work / HISTORY_FILE)
    if norms.global_norms:
        plot_grad_norms(
            norms,
            work / "grad_norms.png",
            clip_norm=bench.clip_norm or None,
            title=f"gradient norm per update ({label})",
        )
        norms.save(work / NORMS_FILE)
    data = asdict(result)
    data["flow_start"] = start_flow.norms[next(iter(start_flow.norms))][0].tolist()
    data["flow_end"] = end_flow.norms[next(iter(end_flow.norms))][0].tolist()
    atomic_write(work / RESULT_FILE, json.dumps(_finite(data), indent=2) + "\n")


def _finite(value):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
