"""Language-model figures on tinyshakespeare (../shared/data, 90/10 split as nanoGPT).

    python benchmarks/bench_lm.py quality --steps 2000      # default recipe (2,000 updates)
    python benchmarks/bench_lm.py throughput                # rnnkit Trainer vs a bare nn.LSTM loop
    python benchmarks/bench_lm.py generate                  # ms per generated character, batch 1
    python benchmarks/bench_lm.py reference --budget 300    # DESIGN.md's plain reference, same machine

quality: trains the default `rnnkit train lm` recipe for N updates, then reports the validation loss
in nats per character over the whole validation text at batch 1 with the state carried, and the
training throughput in characters per second.

throughput: the same model (embedding 64 -> LSTM 2x256 -> linear, dropout 0.1, TBPTT 128, batch 32,
Adam, clip 1) trained by rnnkit's Trainer and by a bare loop written with torch.nn.LSTM, in one
process, interleaved in rounds of N updates; the ratio is rnnkit chars/s over bare chars/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


def _corpus_path(path: str | None) -> Path:
    p = Path(path) if path else DATA
    if not p.is_file():
        sys.exit(f"corpus not found: {p} (pass --text)")
    return p


def quality(args) -> dict:
    from rnnkit.tasks.language_modeling import LanguageModelRecipe, train_language_model

    out = Path(args.out or tempfile.mkdtemp(prefix="bench_lm_"))
    recipe = LanguageModelRecipe(
        text=str(_corpus_path(args.text)), out=str(out), max_steps=args.steps, seed=args.seed, progress=False
    )
    summary = train_language_model(recipe, log=lambda m: print(m, flush=True))
    result = {
        "train_seconds": summary["train_seconds"],
        "val_loss": round(summary["val_loss"], 4),
        "chars_per_s": summary["tokens_per_second"],
        "steps": summary["steps"],
        "hidden_size": recipe.hidden_size,
        "dropout": recipe.dropout,
        "out": str(out),
    }
    print(json.dumps(result), flush=True)
    return result


class BareLM(nn.Module):
    """The reference: what a user writes with torch.nn alone."""

    def __init__(self, vocab, emb=64, hidden=256, layers=2, dropout=0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(emb, hidden, layers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        h, state = self.lstm(self.drop(self.embedding(x)), state)
        return self.decoder(self.drop(h)), state


def throughput(args) -> dict:
    from rnnkit.data import TextStream, Vocabulary, read_text
    from rnnkit.models import LanguageModel, LanguageModelConfig
    from rnnkit.tasks.language_modeling import lm_step
    from rnnkit.training import StreamDataset, TrainConfig, Trainer

    torch.set_num_threads(args.threads)
    text = read_text(_corpus_path(args.text))
    vocab = Vocabulary.from_text(text)
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    B, k, n = 32, 128, args.updates
    data = TextStream(ids, B, k).data
    torch.manual_seed(0)
    ours = LanguageModel(
        LanguageModelConfig(vocab_size=len(vocab), embedding_size=64, hidden_size=256, num_layers=2, dropout=0.1)
    )
    bare = BareLM(len(vocab))
    bare_opt = torch.optim.Adam(bare.parameters(), lr=2e-3)
    bare_state = {"h": None, "pos": 0}

    def bare_round():
        for _ in range(n):  # min-char-rnn style: carry the state, detach, clip, step
            p = bare_state["pos"]
            if p + k + 1 > data.shape[1]:
                p, bare_state["h"] = 0, None
            x, y = data[:, p : p + k], data[:, p + 1 : p + k + 1]
            logits, h = bare(x, bare_state["h"])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(bare.parameters(), 1.0)
            bare_opt.step()
            bare_opt.zero_grad(set_to_none=True)
            bare_state["h"] = tuple(t.detach() for t in h)
            bare_state["pos"] = p + k

    stream = StreamDataset(data, bptt=k)
    total = {"steps": 0}

    def ours_round():
        total["steps"] += n
        cfg = TrainConfig(
            max_steps=total["steps"], bptt=k, optimizer="adam", lr=2e-3, clip_norm=1.0, progress=False, log_every=10**9
        )
        if "trainer" not in total:
            total["trainer"] = Trainer(ours, cfg, step_fn=lm_step)
            total["trainer"].fit(stream)
        else:  # continue the same run: raise the step limit and go on
            total["trainer"].config.max_steps = total["steps"]
            total["trainer"].fit(stream)

    times = {"bare": [], "rnnkit": []}
    for r in range(args.rounds + 1):
        for name, fn in (
            (("bare", bare_round), ("rnnkit", ours_round))
            if r % 2 == 0
            else (("rnnkit", ours_round), ("bare", bare_round))
        ):
            start = time.perf_counter()
            fn()
            if r > 0:  # round 0 warms up
                times[name].append(time.perf_counter() - start)
    chars = B * k * n
    bare_cps = chars / statistics.median(times["bare"])
    ours_cps = chars / statistics.median(times["rnnkit"])
    result = {
        "bare_chars_per_s": round(bare_cps),
        "rnnkit_chars_per_s": round(ours_cps),
        "ratio": round(ours_cps / bare_cps, 3),
        "rounds": args.rounds,
        "updates_per_round": n,
    }
    print(json.dumps(result), flush=True)
    return result


def reference(args) -> dict:
    """DESIGN.md's plain reference: nn.LSTM 2x256 char model, no dropout, TBPTT 128, batch 32,
    Adam 2e-3 constant, clip 1, for the time budget; scored like `quality` (batch 1, state carried)."""
    from rnnkit.data import TextStream, Vocabulary, read_text, split_train_val

    torch.manual_seed(args.seed)
    text = read_text(_corpus_path(args.text))
    vocab = Vocabulary.from_text(text)
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    train_ids, val_ids = split_train_val(ids, 0.1)
    B, k = 32, 128
    data = TextStream(train_ids, B, k).data
    model = BareLM(len(vocab), dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    state, pos, steps, start = None, 0, 0, time.perf_counter()
    while time.perf_counter() - start < args.budget:
        if pos + k + 1 > data.shape[1]:
            pos, state = 0, None
        x, y = data[:, pos : pos + k], data[:, pos + 1 : pos + k + 1]
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        state = tuple(t.detach() for t in state)
        pos, steps = pos + k, steps + 1
    elapsed = time.perf_counter() - start
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        xs, ys = val_ids[:-1].view(1, -1), val_ids[1:].view(1, -1)
        for s0 in range(0, xs.shape[1], 256):
            logits, state = model(xs[:, s0 : s0 + 256], state)
            total += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), ys[:, s0 : s0 + 256].reshape(-1), reduction="sum"
            ).item()
            count += ys[:, s0 : s0 + 256].numel()
    result = {
        "budget_s": args.budget,
        "val_loss": round(total / count, 4),
        "chars_per_s": round(steps * B * k / elapsed),
        "steps": steps,
        "model": "plain nn.LSTM 2x256",
    }
    print(json.dumps(result), flush=True)
    return result


def generate(args) -> dict:
    from rnnkit.models import LanguageModel, LanguageModelConfig, stream_generate

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(vocab_size=65, embedding_size=64, hidden_size=256, num_layers=2))
    n = args.chars
    per = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in stream_generate(model, [1, 2, 3], n, temperature=1.0, seed=0):
            pass
        per.append((time.perf_counter() - start) / n * 1e3)
    result = {"ms_per_char": round(statistics.median(per), 3), "chars": n, "model": "LSTM 2x256, batch 1"}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="rnnkit language-model benchmarks")
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--steps", type=int, default=2000, help="updates (the recipe's --max-steps)")
    q.add_argument("--text", default=None)
    q.add_argument("--out", default=None)
    q.add_argument("--seed", type=int, default=0)
    t = sub.add_parser("throughput")
    t.add_argument("--text", default=None)
    t.add_argument("--rounds", type=int, default=6)
    t.add_argument("--updates", type=int, default=10)
    t.add_argument("--threads", type=int, default=2)
    r = sub.add_parser("reference")
    r.add_argument("--budget", type=float, default=300.0)
    r.add_argument("--text", default=None)
    r.add_argument("--seed", type=int, default=0)
    g = sub.add_parser("generate")
    g.add_argument("--chars", type=int, default=500)
    g.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    {"quality": quality, "throughput": throughput, "generate": generate, "reference": reference}[args.what](args)


if __name__ == "__main__":
    main()
