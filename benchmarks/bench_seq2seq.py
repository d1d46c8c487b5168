"""Encoder-decoder figures (issue 12's quality table), through the library, one task at a time.

    python benchmarks/bench_seq2seq.py --only addition --time-budget 360
    python benchmarks/bench_seq2seq.py --only cmudict --time-budget 660
    python benchmarks/bench_seq2seq.py --only exposure --quick
    python benchmarks/bench_seq2seq.py --only beam --model /tmp/s2s/addition
    python benchmarks/bench_seq2seq.py --report            # results/*.json -> results/seq2seq.md

Tasks (each trains ``Seq2SeqRecipe`` through :func:`rnnkit.tasks.seq2seq.train_seq2seq`; the model
kept is the best validated epoch, so settings are chosen on validation only; the test split is
decoded once at the end with beam 5):

* ``addition``: 3-digit addition, 50,000 training pairs; exact match (whole answer right).
* ``dates``: human date formats -> ISO 8601, 20,000 training pairs; exact match.
* ``reverse``: JoeyNMT's reverse task (50,000 pairs, integers 0-50, length <= 25); BLEU (sacrebleu).
* ``cmudict``: grapheme-to-phoneme on CMUdict held-out words, beam 5; WER and PER. The curve of
  validation figures against training time comes from the run's ``val_log.csv`` and ``train_log.csv``.
* ``exposure``: addition at a small size trained twice, teacher forcing ``1`` and scheduled
  sampling (``linear`` decay, one coin per token); token accuracy on the test split when the decoder
  is fed the ground truth vs its own greedy output.
* ``beam``: a trained model (``--model``, default the ``addition`` run), batches of 64 test sources:
  seconds per sentence of batched beam 5 over greedy decoding; the ratio.

``--quick`` shrinks every task (smoke test: a few thousand pairs, small model, short budget).
Results: one JSON per task under ``--results`` (default ``benchmarks/results/seq2seq``) and, with
``--report``, the markdown table ``benchmarks/results/seq2seq.md``. Run one at a time with
``--threads 1`` on a shared machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# task -> recipe fields (hidden size 128 rather than the default 256, to fit the time budgets here)
SETTINGS = {
    "addition": dict(dataset="addition", hidden_size=128, epochs=30, patience=3),
    "dates": dict(dataset="dates", hidden_size=128, epochs=30, patience=3),
    "reverse": dict(dataset="reverse", hidden_size=128, epochs=30, patience=3),
    "cmudict": dict(dataset="cmudict", hidden_size=128, epochs=30, patience=3),
}
QUICK = dict(train_size=3000, hidden_size=64, epochs=2)
EXPOSURE = dict(dataset="addition", train_size=5000, hidden_size=64, epochs=8, patience=8)
SCHEDULED = "linear:1,0.0015,0.25"  # eps_i = max(0.25, 1 - 0.0015 i): ground truth 100% -> 25% by update 500


def train(task: str, settings: dict, args, tag: str = "") -> dict:
    from rnnkit.tasks.seq2seq import Seq2SeqRecipe, train_seq2seq

    out = Path(args.runs) / (tag or task)
    recipe = Seq2SeqRecipe(
        **settings,
        out=str(out),
        overwrite=True,
        seed=args.seed,
        threads=args.threads,
        time_budget=args.time_budget,
        progress=False,
    )
    started = time.perf_counter()
    summary = train_seq2seq(recipe, log=lambda m: print(m, flush=True))
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary["settings"] = {k: v for k, v in settings.items()}
    summary["settings"].update(time_budget=args.time_budget, threads=args.threads, seed=args.seed)
    summary["curve"] = curve(out)
    return summary


def curve(run: Path, batch: int = 64) -> list:
    """Per validation: training seconds so far (from the logged throughput), val loss and
    teacher-forced val token accuracy."""
    train_log, val_log = run / "train_log.csv", run / "val_log.csv"
    if not (train_log.is_file() and val_log.is_file()):
        return []
    rows = list(csv.DictReader(train_log.open()))
    marks, seconds, last_step = [(0, 0.0, 1.0)], 0.0, 0
    for r in rows:  # seconds between log lines = steps * batch / throughput (pairs per second)
        step, per_step = int(r["step"]), batch / max(float(r["throughput"]), 1e-9)
        seconds += (step - last_step) * per_step
        last_step = step
        marks.append((step, seconds, per_step))
    points = []
    for r in csv.DictReader(val_log.open()):
        step = int(r["step"])
        before = max((m for m in marks if m[0] <= step), key=lambda m: m[0])
        after = min((m for m in marks if m[0] >= step), key=lambda m: m[0], default=before)
        t = before[1] + (step - before[0]) * after[2]  # the rate of the stretch the step falls in
        points.append(
            dict(step=step, epoch=int(r["epoch"]), seconds=round(t, 1), val_loss=float(r["val_loss"]))
            | dict(val_token_accuracy=float(r["val_accuracy"]))
        )
    return points


def exposure(args) -> dict:
    settings = dict(EXPOSURE)
    if args.quick:
        settings.update(train_size=2000, epochs=2)
    result = {}
    for name, schedule in (("teacher_forcing", "1"), ("scheduled_sampling", SCHEDULED)):
        s = train("exposure", dict(settings, teacher_forcing=schedule), args, tag=f"exposure_{name}")
        result[name] = {
            k: s[k]
            for k in (
                "teacher_forced_token_accuracy",
                "free_running_token_accuracy",
                "exact_match",
                "train_seconds",
                "epochs",
                "settings",
            )
        }
    return result


@torch.no_grad()
def beam_speed(args) -> dict:
    from rnnkit.data.synthetic import synthetic_splits
    from rnnkit.models.format import read_model
    from rnnkit.models.seq2seq.decoding import beam_search, greedy_decode
    from rnnkit.models.seq2seq.model import MODEL_TYPE, Seq2Seq
    from rnnkit.tasks.seq2seq import encode, pair_batch

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(args.model or Path(args.runs) / "addition")
    model = Seq2Seq.from_folder(read_model(folder, expected=MODEL_TYPE)).eval()
    sources = list(synthetic_splits("addition", 64, 64, 64 * 8, seed=args.seed).test.sources)
    batches = []
    for i in range(0, len(sources), 64):
        x, lengths, _, _ = pair_batch([encode(model.source_vocab, s) for s in sources[i : i + 64]])
        batches.append((x, lengths))
    timings = {"greedy": [], "beam5": []}
    for _ in range(3):  # interleaved rounds; the median of each
        for x, lengths in batches:
            t = time.perf_counter()
            greedy_decode(model, x, lengths)
            timings["greedy"].append(time.perf_counter() - t)
            t = time.perf_counter()
            beam_search(model, x, lengths, beam_size=5)
            timings["beam5"].append(time.perf_counter() - t)
    greedy = statistics.median(timings["greedy"]) / 64
    beam = statistics.median(timings["beam5"]) / 64
    return {
        "model": str(folder),
        "batch": 64,
        "batches": len(batches),
        "greedy_ms_per_sentence": round(greedy * 1e3, 3),
        "beam5_ms_per_sentence": round(beam * 1e3, 3),
        "ratio": round(beam / greedy, 2),
        "threads": args.threads,
    }


def run_task(task: str, args) -> dict:
    if task == "exposure":
        return exposure(args)
    if task == "beam":
        return beam_speed(args)
    settings = dict(SETTINGS[task])
    if args.quick:
        settings.update(QUICK)
    if args.hidden_size:
        settings["hidden_size"] = args.hidden_size
    return train(task, settings, args)


# ---- report -------------------------------------------------------------------------------------


def _pct(x):
    return f"{100 * x:.2f}%"


def _addition_split(predictions: Path) -> str:
    """Exact match apart for the one-digit + one-digit questions ("3+6"): the 55 of them are all
    drawn into the test split by :func:`rnnkit.data.synthetic.synthetic_splits` (test first), so
    training never sees one."""
    if not predictions.is_file():
        return ""
    rows = [line.split("\t") for line in predictions.read_text().splitlines()]
    short = [r[1] == r[2] for r in rows if len(r[0]) == 3]
    rest = [r[1] == r[2] for r in rows if len(r[0]) != 3]
    if not short or not rest:
        return ""
    return (
        f"; {_pct(sum(rest) / len(rest))} on the {len(rest)} questions with a 2-3 digit operand, "
        f"{sum(short)}/{len(short)} on the one-digit + one-digit ones (none in train)"
    )


def report(folder: Path) -> str:
    def load(name):
        p = folder / f"{name}.json"
        return json.loads(p.read_text()) if p.is_file() else None

    def how(s):
        st = s["settings"]
        return (
            f"hidden {st['hidden_size']}, {s['epochs']} epochs (budget {st.get('time_budget')} s), "
            f"{s['sizes']['train']} train pairs"
        )

    lines = [
        "# seq2seq quality (issue 12)",
        "",
        "Measured with `benchmarks/bench_seq2seq.py` on the shared 2-core CPU machine, one thread "
        "(`--threads 1`), another benchmark running beside it. Default `Seq2SeqRecipe` (bidirectional "
        "LSTM encoder, LSTM decoder, Bahdanau attention, embedding 64, dropout 0.1, AdamW lr 2e-3, "
        "batch 64, patience 3, best validated epoch kept) unless the settings say otherwise; "
        "the test split decoded once with beam 5 (no length penalty, as `score_pairs` and `evaluate --pairs` do).",
        "",
        "| task | target | measured | training time | settings |",
        "|---|---|---|---|---|",
    ]
    targets = {
        "cmudict": "WER <= 25%, PER <= 6% (60 min)",
        "addition": ">= 99% exact match in <= 30 epochs",
        "dates": ">= 99% exact match",
        "reverse": "BLEU >= 95",
    }
    for task in ("cmudict", "addition", "dates", "reverse"):
        s = load(task)
        if s is None:
            lines.append(f"| {task} | {targets[task]} | not run | | |")
            continue
        if task == "cmudict":
            got = f"WER {_pct(s['word_error_rate'])}, PER {_pct(s['token_error_rate'])}"
        elif task == "reverse":
            got = f"BLEU {s.get('bleu', float('nan')):.2f} (exact {_pct(s['exact_match'])})"
        else:
            got = f"exact match {_pct(s['exact_match'])}"
            if task == "addition":
                got += _addition_split(Path(s["out"]) / "test_predictions.tsv")
        lines.append(f"| {task} | {targets[task]} | {got} | {s['train_seconds']} s | {how(s)} |")
    e = load("exposure")
    if e:
        for name, s in e.items():
            tf, fr = s["teacher_forced_token_accuracy"], s["free_running_token_accuracy"]
            st = s["settings"]
            lines.append(
                f"| exposure bias, {name.replace('_', ' ')} | gap shown | teacher-forced {_pct(tf)}, "
                f"free-running {_pct(fr)}, gap {100 * (tf - fr):.2f} points (exact {_pct(s['exact_match'])}) | "
                f"{s['train_seconds']} s | addition {st['train_size']} pairs, hidden {st['hidden_size']}, "
                f"{s['epochs']} epochs, --teacher-forcing {st['teacher_forcing']} |"
            )
    b = load("beam")
    if b:
        lines.append(
            f"| beam speed | beam 5 <= 3x greedy per sentence (batch 64) | {b['ratio']}x "
            f"({b['beam5_ms_per_sentence']} vs {b['greedy_ms_per_sentence']} ms per sentence) | | "
            f"addition model, {b['batches']} batches of 64, median of 3 rounds |"
        )
    for task in ("cmudict", "addition", "dates", "reverse"):
        s = load(task)
        if s and Path(s["out"]).is_dir():  # the run folder is still there: its logs are the truth
            s["curve"] = curve(Path(s["out"]))
        if s and s.get("curve"):
            lines += [
                "",
                f"## {task}: validation against training time",
                "",
                "| epoch | training s | val loss | val token accuracy (teacher-forced) |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| {p['epoch']} | {p['seconds']} | {p['val_loss']:.4f} | {_pct(p['val_token_accuracy'])} |"
                for p in s["curve"]
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["addition", "dates", "reverse", "cmudict", "exposure", "beam"])
    parser.add_argument("--quick", action="store_true", help="Small data and model: a smoke test.")
    parser.add_argument("--time-budget", type=float, default=None, help="Seconds of training per run.")
    parser.add_argument("--hidden-size", type=int, default=None, help="Override the task's hidden size.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default="/tmp/s2s", help="Where the run folders go.")
    parser.add_argument("--model", default=None, help="beam: the trained model folder.")
    parser.add_argument("--results", default=str(RESULTS / "seq2seq"), help="One JSON per task here.")
    parser.add_argument("--report", action="store_true", help="Write results/seq2seq.md from the JSONs.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(args.results)
    if args.only:
        result = run_task(args.only, args)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{args.only}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "curve"}, default=str), flush=True)
    if args.report:
        text = report(folder)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "seq2seq.md").write_text(text)
        print(text)


if __name__ == "__main__":
    main()
