"""ONNX export and int8, measured: file size, batch-1 step latency and the task metric, fp32 vs int8
(issue 15), plus a streaming session's memory over 100,000 steps.

=====================  ==================================================================================
what                   how
=====================  ==================================================================================
file size              ``export_onnx`` (step graph) and ``quantize_int8`` of the same model, bytes on disk
step latency           batch 1, one thread each: rnnkit session (PyTorch), onnxruntime fp32, onnxruntime
                       int8, interleaved in rounds in one process; median per round, and the median of the
                       per-round ratios to the PyTorch session (noise from other programs hits all alike)
LM validation loss     nats/char over the whole validation text (the run's held-out last 10%), cut into
                       ``--streams`` contiguous streams stepped together, state carried; the same streams
                       for PyTorch, fp32 and int8
classifier accuracy    on the test split of the run's recipe (rnnkit's hash split), each text stepped to its
                       last token; PyTorch's full-sequence ``predict_proba`` too
session memory         RSS (``/proc/self/statm``) of one session over 100,000 steps at batch 1, after a
                       1,000-step warm-up
=====================  ==================================================================================

    python benchmarks/bench_export.py --lm RUN_DIR [--cls RUN_DIR] [--rounds 30] [--stream-steps 100000]

Writes ``benchmarks/results/export.md`` (with ``--write``). Run folders come from ``rnnkit train lm``
and ``rnnkit train classify --unidirectional`` (a bidirectional classifier cannot stream).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.serving.export_onnx import export_onnx, onnxruntime_session
from rnnkit.serving.quantize import quantize_int8

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "export.md"


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class OnnxStream:
    """Step an exported file in onnxruntime using its metadata only (what a user without rnnkit does)."""

    def __init__(self, path: Path, batch: int) -> None:
        self.meta = json.loads(Path(str(path) + ".json").read_text())
        self.sess = onnxruntime_session(path)
        specs = {s["name"]: s for s in self.meta["inputs"]}
        self.state = {
            s["input"]: np.full([batch, *specs[s["input"]]["shape"][1:]], float(s["start"]), dtype=np.float32)
            for s in self.meta["state"]
        }
        self.pairs = [(s["input"], s["output"]) for s in self.meta["state"]]
        self.out_names = [o["name"] for o in self.meta["outputs"]]

    def step(self, x: np.ndarray) -> np.ndarray:
        out = dict(zip(self.out_names, self.sess.run(None, {"x": x, **self.state})))
        self.state = {i: out[o] for i, o in self.pairs}
        return out["y"]


def export_both(model, folder: Path) -> Dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / "model.onnx", folder / "model.int8.onnx"
    export_onnx(model, fp32)
    quantize_int8(fp32, int8)
    return {"fp32": fp32, "int8": int8}


def step_latency(model, files: Dict[str, Path], example: torch.Tensor, rounds: int, steps: int) -> Dict[str, dict]:
    """Median per-round µs per step at batch 1 for the session and each ONNX file, and ratios to it."""
    session = rnnkit.stream(model, 1)
    runners = {"pytorch": lambda x: session.step(x)}
    for name, path in files.items():
        stream = OnnxStream(path, 1)
        runners[name] = lambda x, s=stream: s.step(x.numpy())
    times: Dict[str, List[float]] = {k: [] for k in runners}
    for r in range(rounds + 1):
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(steps):
                run(example)
            if r:  # round 0 warms up
                times[name].append((time.perf_counter() - start) / steps * 1e6)
    out = {}
    for name, ts in times.items():
        ratios = [t / p for t, p in zip(ts, times["pytorch"])]
        out[name] = {"us": statistics.median(ts), "ratio": statistics.median(ratios)}
    return out


def lm_validation_loss(model, files: Dict[str, Path], text: str, streams: int) -> Dict[str, float]:
    vocab = model.vocab
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    per = (len(ids) - 1) // streams
    x = ids[: streams * per].view(streams, per)
    y = ids[1 : streams * per + 1].view(streams, per)
    losses = {}
    session = rnnkit.stream(model, streams)
    total = 0.0
    for t in range(per):
        total += float(F.cross_entropy(session.step(x[:, t]), y[:, t], reduction="sum"))
    losses["pytorch"] = total / (streams * per)
    for name, path in files.items():
        stream, total = OnnxStream(path, streams), 0.0
        for t in range(per):
            logits = torch.from_numpy(stream.step(x[:, t].numpy()))
            total += float(F.cross_entropy(logits, y[:, t], reduction="sum"))
        losses[name] = total / (streams * per)
    losses["characters"] = streams * per
    return losses


def classifier_accuracy(model, files: Dict[str, Path], run_dir: Path) -> Dict[str, float]:
    from rnnkit.tasks.classification import ClassifyRecipe, encode_text, load_splits, predict_encoded

    settings = json.loads((run_dir / "run.json").read_text())
    recipe_fields = settings.get("recipe", settings)
    known = set(ClassifyRecipe.__dataclass_fields__)
    recipe = ClassifyRecipe(**{k: v for k, v in recipe_fields.items() if k in known})
    splits = load_splits(recipe)
    labels = model.config.labels
    texts, gold = splits.test.inputs, [labels.index(y) for y in splits.test.labels]
    encoded = [encode_text(model.vocab, t, recipe.max_length) for t in texts]
    acc = {"pytorch (full run)": float(np.mean(predict_encoded(model, encoded, recipe.max_length).argmax(1) == gold))}
    lengths = np.array([len(e) for e in encoded])
    x = np.zeros((len(encoded), lengths.max()), dtype=np.int64)
    for i, e in enumerate(encoded):
        x[i, : len(e)] = e
    runners = {"pytorch (session)": None, **files}
    for name, path in runners.items():
        final = np.zeros((len(encoded), len(labels)))
        if path is None:
            session = rnnkit.stream(model, len(encoded))

            def step(col, session=session):
                return session.step(torch.from_numpy(col)).numpy()

        else:
            stream = OnnxStream(path, len(encoded))
            step = stream.step
        for t in range(lengths.max()):
            probs = step(x[:, t])
            done = lengths == t + 1
            final[done] = probs[done]
        acc[name] = float(np.mean(final.argmax(1) == gold))
    acc["examples"] = len(encoded)
    return acc


def session_memory(model, steps: int, warmup: int = 1000) -> Dict[str, float]:
    session = rnnkit.stream(model, 1)
    vocab = model.config.vocab_size
    xs = torch.randint(0, vocab, (1000, 1))
    for i in range(warmup):
        session.step(xs[i % 1000])
    base = rss_mib()
    marks = []
    start = time.perf_counter()
    for i in range(steps):
        session.step(xs[i % 1000])
        if (i + 1) % (steps // 10) == 0:
            marks.append(rss_mib() - base)
    elapsed = time.perf_counter() - start
    return {"steps": steps, "growth_mib": marks[-1], "max_growth_mib": max(marks), "us_per_step": elapsed / steps * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lm", type=Path, required=True, help="a run folder of rnnkit train lm")
    parser.add_argument("--cls", type=Path, help="a run folder of rnnkit train classify --unidirectional")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--round-steps", type=int, default=200)
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--stream-steps", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report: Dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lm = rnnkit.load(args.lm)
        files = export_both(lm, Path(tmp) / "lm")
        report["lm_size"] = {k: v.stat().st_size for k, v in files.items()}
        report["lm_latency"] = step_latency(lm, files, torch.tensor([1]), args.rounds, args.round_steps)
        print("LM latency", report["lm_latency"], flush=True)
        from rnnkit.data import read_text, split_train_val

        settings = json.loads((args.lm / "run_settings.json").read_text())["recipe"]
        text = split_train_val(read_text(settings["text"]), settings.get("val_fraction", 0.1))[1]
        report["lm_loss"] = lm_validation_loss(lm, files, text, args.streams)
        print("LM loss", report["lm_loss"], flush=True)
        if args.cls is not None:
            cls = rnnkit.load(args.cls)
            cfiles = export_both(cls, Path(tmp) / "cls")
            report["cls_size"] = {k: v.stat().st_size for k, v in cfiles.items()}
            report["cls_latency"] = step_latency(cls, cfiles, torch.tensor([2]), args.rounds, args.round_steps)
            report["cls_acc"] = classifier_accuracy(cls, cfiles, args.cls)
            print("classifier", report["cls_latency"], report["cls_acc"], flush=True)
        if args.stream_steps:
            report["memory"] = session_memory(lm, args.stream_steps)
            print("memory", report["memory"], flush=True)
    report["machine"] = {"load": os.getloadavg()[0], "threads": args.threads, "torch": torch.__version__}
    table = render(report, args)
    print(table)
    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(table)


def render(r: dict, args) -> str:
    def mb(n: int) -> str:
        return f"{n / 1e6:.2f} MB"

    lines = [
        "# ONNX export and int8: measured (benchmarks/bench_export.py)",
        "",
        f"torch {r['machine']['torch']}, {r['machine']['threads']} thread(s), load average {r['machine']['load']:.1f} "
        "when the run ended (the 2-core machine is shared: compare the ratios, measured side by side).",
        "",
        "| model | runtime | file | batch-1 step (median µs) | step vs PyTorch session | task metric |",
        "|---|---|---|---|---|---|",
    ]
    loss, lat, size = r["lm_loss"], r["lm_latency"], r["lm_size"]
    n = loss["characters"]
    for name, label in (("pytorch", "PyTorch session"), ("fp32", "onnxruntime fp32"), ("int8", "onnxruntime int8")):
        file = mb(size[name]) if name in size else "safetensors"
        metric = f"val loss {loss[name]:.4f} nats/char"
        if name == "int8":
            metric += f" ({loss['int8'] - loss['fp32']:+.4f} vs fp32)"
        lines.append(
            f"| LM 2x256 LSTM (char) | {label} | {file} | {lat[name]['us']:.0f} | "
            f"{lat[name]['ratio']:.2f}x | {metric} |"
        )
    if "cls_acc" in r:
        acc, lat, size = r["cls_acc"], r["cls_latency"], r["cls_size"]
        for name, label in (("pytorch", "PyTorch session"), ("fp32", "onnxruntime fp32"), ("int8", "onnxruntime int8")):
            file = mb(size[name]) if name in size else "safetensors"
            key = "pytorch (session)" if name == "pytorch" else name
            metric = f"test accuracy {acc[key]:.4f}"
            lines.append(
                f"| classifier (words, uni LSTM) | {label} | {file} | {lat[name]['us']:.0f} | "
                f"{lat[name]['ratio']:.2f}x | {metric} |"
            )
    lines += [
        "",
        f"File size: int8 is {size_ratio(r['lm_size'])} smaller for the LM"
        + (f", {size_ratio(r['cls_size'])} for the classifier" if "cls_size" in r else "")
        + " (biases stay float32).",
        f"LM validation loss over {n:,} characters in {args.streams} streams stepped together, state carried.",
    ]
    if "cls_acc" in r:
        lines.append(
            f"Classifier: {r['cls_acc']['examples']} test texts; the full-sequence run of PyTorch gives "
            f"{r['cls_acc']['pytorch (full run)']:.4f} (the session must equal it)."
        )
    if "memory" in r:
        m = r["memory"]
        lines += [
            "",
            "## Session memory",
            "",
            f"One LM session at batch 1: RSS growth after {m['steps']:,} steps (after a 1,000-step warm-up): "
            f"{m['growth_mib']:.2f} MiB (largest of ten readings {m['max_growth_mib']:.2f} MiB); "
            f"{m['us_per_step']:.0f} µs per step.",
        ]
    return "\n".join(lines) + "\n"


def size_ratio(sizes: dict) -> str:
    return f"{sizes['fp32'] / sizes['int8']:.2f}x"


if __name__ == "__main__":
    main()
