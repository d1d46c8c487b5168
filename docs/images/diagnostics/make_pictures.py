"""Make the activity pictures of docs/diagnostics.md from a trained character language model.

    python docs/images/diagnostics/make_pictures.py [MODEL_DIR [RUNS_DIR]]    (default runs/demo: `make demo`)

The model reads 6,000 characters of the zero-download corpus (Python's pydoc topics) with its state
carried; the units of each layer that best track "inside double quotes" and "position in the
line" are found by correlation (rnnkit.diagnostics.activity_plots.units_tracking) and drawn over a
short excerpt; the gate saturation of both layers, and the recurrent Jacobian's spectral norm of
the trained memory-benchmark models are drawn too (RUNS_DIR, the second argument: the run folders of
benchmarks/bench_memory.py, default /tmp/rnnkit-memory-runs). The memory-benchmark figures
themselves come from benchmarks/bench_memory.py --report.
"""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import rnnkit  # noqa: E402
from rnnkit.data import default_corpus  # noqa: E402
from rnnkit.diagnostics.activity import gate_saturation, record_activity  # noqa: E402
from rnnkit.diagnostics.activity_plots import (  # noqa: E402
    inside_quotes,
    plot_gate_saturation,
    plot_text_heatmap,
    position_in_line,
    units_tracking,
)
from rnnkit.diagnostics.figures import new_figure, write_png  # noqa: E402
from rnnkit.diagnostics.jacobian import recurrent_jacobian_norms  # noqa: E402

OUT = Path(__file__).resolve().parent


def main() -> None:
    model_dir = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "runs" / "demo")
    model = rnnkit.load(model_dir)
    text = default_corpus()
    start = text.index('"', 20000)  # somewhere with quotes
    text = text[start - 3000 : start + 3000]
    ids = torch.tensor([model.vocab.encode(text, unknown=None)])
    act = record_activity(model, lambda m: m(ids))["rnn"]
    quotes, column = inside_quotes(text), position_in_line(text)
    report = []
    for k in range(model.config.num_layers):
        h = act.hidden[(k, 0)][0]  # (T, H)
        for name, signal in (("inside quotes", quotes), ("position in line", column)):
            top = units_tracking(h, signal, top_k=3)
            report.append(f"layer {k}, {name}: " + ", ".join(f"unit {u} r={r:+.2f}" for u, r in top))
    print("\n".join(report))
    # the excerpt: 110 characters around a quoted string
    q = text.index('"', 3000)
    a, b = q - 40, q + 70
    excerpt = text[a:b]
    best_q = units_tracking(act.hidden[(1, 0)][0], quotes, top_k=2)
    best_c = units_tracking(act.hidden[(1, 0)][0], column, top_k=1)
    units = [u for u, _ in best_q] + [u for u, _ in best_c]
    plot_text_heatmap(
        act.hidden[(1, 0)][0, a:b],
        excerpt,
        units,
        OUT / "text_heatmap.png",
        title="layer 1: the two units that best track 'inside quotes', and the best 'position in line' unit",
    )
    for k in range(model.config.num_layers):
        plot_gate_saturation(
            gate_saturation(act)[(k, 0)], OUT / f"gate_saturation_l{k}.png", title=f"LSTM layer {k}: gate saturation"
        )
    (OUT / "units.txt").write_text("\n".join(report) + "\n")
    jacobian_picture(Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/rnnkit-memory-runs"))


def jacobian_picture(runs: Path) -> None:
    """The spectral norm of ds_t/ds_{t-1} along 4 adding-problem sequences (T = 200) for the trained
    models of the memory benchmark (their last checkpoints), mean over the sequences."""
    from rnnkit.data.memory_tasks import adding_problem
    from rnnkit.tasks.memory import MemoryModel
    from rnnkit.training.checkpoint import load_model_weights

    x, _ = adding_problem(4, 200, seed=10_000)
    fig = new_figure((7, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    for folder, cell, colour in (("adding-rnn", "rnn", "#d62728"), ("adding-lstm-fb1", "lstm", "#1f77b4"),
                                 ("adding-gru", "gru", "#2ca02c")):  # fmt: skip
        if not (runs / folder / "last").is_dir():
            continue
        model = MemoryModel("adding", cell, 64)
        load_model_weights(runs / folder / "last", model)
        norms = recurrent_jacobian_norms(model, lambda m: m(x))["encoder.rnn"][(0, 0)]  # (4, 199)
        ax.plot(range(1, 200), norms.mean(0).numpy(), color=colour, label=cell, linewidth=1.2)
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel("||ds_t / ds_{t-1}||_2")
    ax.set_title("||ds_t/ds_{t-1}||_2 of the trained adding models, T = 200 (mean of 4)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    write_png(fig, OUT / "jacobian_norms.png")


if __name__ == "__main__":
    main()
