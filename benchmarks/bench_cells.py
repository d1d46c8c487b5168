"""Every cell and engine against torch.nn, in one process, interleaved (issue 13's targets).

Four measurements, each printed as a markdown table (and written to ``--out``):

1. every cell / engine / regulariser against ``nn.LSTM`` (oneDNN), forward and forward+backward,
   I=H=256, B=32, T=128 (training mode: dropout masks drawn, zoneout stochastic);
2. rnnkit.GRU (engine "auto": the gru engine on CPU) against ``nn.GRU`` at the same sizes;
3. minGRU / minLSTM on the scan engine (sequential and parallel scan) against ``nn.GRU`` at B=8,
   T=4096, forward+backward;
4. one streaming step at batch 1 (inference) against ``nn.LSTMCell`` / ``nn.GRUCell``.

Method (as benchmarks/bench_layers.py): every contender runs once per round, in turn, the order
reversing every round; ratio = median over rounds of contender / reference in the same round
(pairing cancels drifts in machine load); lower is faster, 1.00 = same. Cells absent from
``rnnkit.cells`` are skipped with a printed note.

    python benchmarks/bench_cells.py [--rounds 8] [--threads 2] [--out benchmarks/results/cells.md]
    python benchmarks/bench_cells.py --quick        # tiny sizes, 2 rounds: a smoke test
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_layers import measure, paired_ratio  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import cells as rcells  # noqa: E402

TARGETS = [  # (what, target ratio, row in the results it is read from)
    ("LayerNormLSTM fwd+bwd / nn.LSTM", 1.3, "LayerNormLSTM (auto)"),
    ("peephole LSTM fwd+bwd / nn.LSTM", 1.3, "peephole LSTM (auto)"),
    ("zoneout LSTM fwd+bwd / nn.LSTM", 1.3, "LSTM zoneout 0.1 (auto)"),
    ("variational-dropout LSTM fwd+bwd / nn.LSTM", 1.3, "LSTM variational dropout 0.25 (auto)"),
    ("weight-dropped LSTM fwd+bwd / nn.LSTM", 1.05, "LSTM weight drop 0.5 (auto)"),
    ("rnnkit.GRU fwd+bwd / nn.GRU", 0.6, "rnnkit.GRU (auto)"),
    ("minGRU training / nn.GRU, T=4096", 0.25, "minGRU (scan)"),
    ("minLSTM training / nn.GRU, T=4096", 0.25, "minLSTM (scan)"),
    ("LSTM step, batch 1 / nn.LSTMCell", 0.6, "rnnkit LSTMCell step"),
]


def _cell(name):
    cell = getattr(rcells, name, None)
    if cell is None:
        print(f"note: rnnkit.cells.{name} is absent; its rows are skipped")
    return cell


def lstm_contenders(I, H):
    """Row name -> a layer (None where a cell is absent), the reference first."""
    rows = {"nn.LSTM (reference)": nn.LSTM(I, H)}
    rows["rnnkit.LSTM (auto: fused)"] = rnnkit.LSTM(I, H)
    rows["rnnkit.LSTM (loop)"] = rnnkit.LSTM(I, H, engine="loop")
    for label, name in (
        ("LayerNormLSTM", "LayerNormLSTMCell"),
        ("peephole LSTM", "PeepholeLSTMCell"),
        ("LayerNormGRU", "LayerNormGRUCell"),
    ):
        cell = _cell(name)
        if cell is not None:
            rows[f"{label} (auto)"] = rnnkit.Recurrent(cell, I, H)
            rows[f"{label} (loop)"] = rnnkit.Recurrent(cell, I, H, engine="loop")
    for label, name in (("IndRNN", "IndRNNCell"), ("minGRU", "MinGRUCell"), ("minLSTM", "MinLSTMCell")):
        cell = _cell(name)
        if cell is not None:
            rows[f"{label} (auto)"] = rnnkit.Recurrent(cell, I, H)
    regularised = {
        "LSTM zoneout 0.1": {"zoneout": 0.1},
        "LSTM variational dropout 0.25": {"input_dropout": 0.25, "recurrent_dropout": 0.25},
        "LSTM weight drop 0.5": {"weight_drop": 0.5},
    }
    for label, kw in regularised.items():
        try:
            rows[f"{label} (auto)"] = rnnkit.Recurrent(rcells.LSTMCell, I, H, **kw)
        except TypeError as error:  # regularisers not in this version
            print(f"note: {label} skipped ({error})")
    return rows


def _forward(layer, x):
    with torch.no_grad():
        layer(x)


def _forward_backward(layer, x):
    out, _ = layer(x)
    out.sum().backward()


def _engine_of(layer, x):
    if isinstance(layer, nn.RNNBase):
        return "torch.nn"
    from rnnkit.layers.engines import select_engine
    from rnnkit.layers.sequences import SequenceBatch

    if getattr(layer, "regularizers", None) is not None and layer.regularizers.masks_steps(layer.training):
        try:
            from rnnkit.layers.regularizers import masked_direction
        except ImportError:
            return "masked loop"
        return "masked loop" if masked_direction(layer, layer.weight_plan(), x) is None else "masked fast"
    return select_engine(layer, SequenceBatch(x, False, None), layer.engine).name


def compare(rows: dict, x, rounds: int, modes=("fwd", "fwd+bwd"), warmup: int = 1) -> list:
    """[(row, engine, {mode: (median seconds, ratio to the first row)})]."""
    results = {name: {} for name in rows}
    reference = next(iter(rows))
    for mode in modes:
        step = _forward if mode == "fwd" else _forward_backward
        times = measure({n: functools.partial(step, layer, x) for n, layer in rows.items()}, rounds, warmup)
        for name in rows:
            results[name][mode] = (statistics.median(times[name]), paired_ratio(times[name], times[reference]))
    return [(name, _engine_of(layer, x), results[name]) for name, layer in rows.items()]


def step_latency(I, H, rounds: int, steps: int):
    """Batch-1 inference step latency: rnnkit's cells and a T=1 layer against torch.nn's cells."""
    torch.manual_seed(0)
    lstm_ref, gru_ref = nn.LSTMCell(I, H), nn.GRUCell(I, H)
    lstm, gru = rcells.LSTMCell(I, H), rcells.GRUCell(I, H)
    layer = rnnkit.LSTM(I, H)
    x, h, c = torch.randn(1, I), torch.randn(1, H), torch.randn(1, H)
    x3, state3 = x.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0))

    def repeat(fn):
        def run():
            with torch.no_grad():
                for _ in range(steps):
                    fn()

        return run

    fns = {
        "nn.LSTMCell (reference)": repeat(lambda: lstm_ref(x, (h, c))),
        "rnnkit LSTMCell step": repeat(lambda: lstm(x, (h, c))),
        "rnnkit.LSTM layer, T=1": repeat(lambda: layer(x3, state3)),
        "nn.GRUCell": repeat(lambda: gru_ref(x, h)),
        "rnnkit GRUCell step": repeat(lambda: gru(x, h)),
    }
    times = measure(fns, rounds)
    ref = times["nn.LSTMCell (reference)"]
    gru_times = times["nn.GRUCell"]
    out = []
    for name, t in times.items():
        base = gru_times if "GRU" in name else ref
        out.append((name, "cell step", {"step": (statistics.median(t) / steps, paired_ratio(t, base))}))
    return out


def table(title: str, rows: list, modes) -> str:
    lines = [f"### {title}", "", "| contender | engine | " + " | ".join(f"{m} ms | {m} ratio" for m in modes) + " |"]
    lines.append("|---|---|" + "---:|---:|" * len(modes))
    for name, engine, res in rows:
        cells = []
        for m in modes:
            seconds, ratio = res[m]
            scale = 1e6 if m == "step" else 1e3
            cells += [f"{seconds * scale:.1f}" if m != "step" else f"{seconds * scale:.1f} us", f"{ratio:.2f}"]
        lines.append(f"| {name} | {engine} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets_table(all_rows: dict) -> str:
    lines = ["### Targets (issue 13)", "", "| what | target | measured | met |", "|---|---:|---:|---|"]
    for what, target, row in TARGETS:
        found = all_rows.get(row)
        if found is None:
            lines.append(f"| {what} | <= {target} | not measured | - |")
            continue
        res = found.get("fwd+bwd") or found.get("step")
        lines.append(f"| {what} | <= {target} | {res[1]:.2f} | {'yes' if res[1] <= target else 'no'} |")
    return "\n".join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="measured rounds (even: each order as often)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 rounds: a smoke test")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables (markdown) here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.quick:
        I, B, T, long_B, long_T, rounds, steps = 16, 4, 8, 2, 64, 2, 5
    else:
        I, B, T, long_B, long_T, rounds, steps = 256, 32, 128, 8, 4096, args.rounds, 200
    header = (
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {rounds} interleaved rounds "
        f"(order alternating); ratio = median of per-round contender / reference"
    )
    print(header, flush=True)
    sections, by_name = [header], {}

    rows = lstm_contenders(I, I)
    for layer in rows.values():
        layer.train()
    x = torch.randn(T, B, I)
    result = compare(rows, x, rounds)
    sections.append(
        table(f"Cells and engines vs nn.LSTM (I=H={I}, B={B}, T={T}, training mode)", result, ("fwd", "fwd+bwd"))
    )
    print(sections[-1], flush=True)

    grus = {"nn.GRU (reference)": nn.GRU(I, I), "rnnkit.GRU (auto)": rnnkit.GRU(I, I)}
    grus["rnnkit.GRU (auto)"].load_state_dict(grus["nn.GRU (reference)"].state_dict())
    grus["rnnkit.GRU (loop)"] = rnnkit.GRU(I, I, engine="loop")
    result_gru = compare(grus, x, rounds)
    sections.append(table(f"GRU vs nn.GRU (I=H={I}, B={B}, T={T})", result_gru, ("fwd", "fwd+bwd")))
    print(sections[-1], flush=True)

    long_rows = {"nn.GRU (reference)": nn.GRU(I, I)}
    for label, name in (("minGRU", "MinGRUCell"), ("minLSTM", "MinLSTMCell")):
        cell = _cell(name)
        if cell is not None:
            long_rows[f"{label} (scan)"] = rnnkit.Recurrent(cell, I, I, engine="scan")
            long_rows[f"{label} (scan-parallel)"] = rnnkit.Recurrent(cell, I, I, engine="scan-parallel")
    x_long = torch.randn(long_T, long_B, I)
    result_long = compare(long_rows, x_long, max(2, rounds // 2), modes=("fwd+bwd",))
    sections.append(table(f"Linear recurrences vs nn.GRU (I=H={I}, B={long_B}, T={long_T})", result_long, ("fwd+bwd",)))
    print(sections[-1], flush=True)

    result_step = step_latency(I, I, rounds, steps)
    sections.append(table(f"One inference step at batch 1 (H={I}), per step", result_step, ("step",)))
    print(sections[-1], flush=True)

    for name, _, res in result + result_gru + result_long + result_step:
        by_name[name] = res
    sections.append(targets_table(by_name))
    print(sections[-1], flush=True)
    text = "\n\n".join(sections) + "\n"
    if args.out is not None:
        from rnnkit.data.atomic import atomic_write

        atomic_write(args.out, text)
    return text


if __name__ == "__main__":
    main()
