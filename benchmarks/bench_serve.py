"""The streaming server under load: how many 10 Hz character streams a 2-core machine holds.

    python benchmarks/bench_serve.py sweep --streams 100 250 500 750 1000 --seconds 20
    python benchmarks/bench_serve.py bad --streams 500 --seconds 20      # bad clients mixed in
    python benchmarks/bench_serve.py sweep ... --out benchmarks/results/server.md

The model is the issue's: a 2x256 LSTM character model (embedding 64, the `rnnkit train lm`
defaults) over tinyshakespeare's 65 characters, with untrained weights saved in the model format --
a step costs the same whatever the weights. Each point starts a fresh `rnnkit serve` process on a
free loopback port and runs `rnnkit bench serve`'s load generator against it (a separate process:
server and clients each get a core when the machine is free). Latency is the client-measured round
trip from the moment each message was due. Beside each figure: the load average before and after
(the machine is shared; a point measured at load 8 is not the server's figure alone).

`sweep` then bisects between the largest N that held p95 <= 50 ms with no errors and the smallest
that did not, and reports the largest N that held.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnnkit.cli.serve import bench_server  # noqa: E402
from rnnkit.data.vocab import Vocabulary  # noqa: E402
from rnnkit.models import LanguageModel, LanguageModelConfig  # noqa: E402
from rnnkit.serving.loadgen import LoadConfig, startup_seconds  # noqa: E402
from rnnkit.serving.server import ServerConfig  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
TARGET_P95_MS = 50.0


def build_model(folder: Path) -> Path:
    """The 2x256 LSTM character model (embedding 64), untrained, saved as a model folder."""
    text = CORPUS.read_text(encoding="utf-8") if CORPUS.exists() else "".join(map(chr, range(32, 127))) + "\n"
    vocab = Vocabulary.from_text(text)
    torch.manual_seed(0)
    config = LanguageModelConfig(vocab_size=len(vocab), cell="lstm", embedding_size=64, hidden_size=256, num_layers=2)
    LanguageModel(config, vocab).eval().save_pretrained(folder)
    return folder


def point(model: Path, streams: int, seconds: float, bad: bool, server: ServerConfig) -> dict:
    load = LoadConfig(streams=streams, rate_hz=10.0, seconds=seconds, bad_clients=bad)
    t = time.time()
    result = bench_server(model, load, config=server)
    holds = result["errors"] == 0 and result["latency_ms"]["p95"] is not None
    holds = holds and result["latency_ms"]["p95"] <= TARGET_P95_MS and result["replies"] == result["expected_replies"]
    result["holds"] = bool(holds and not result["server_metrics"]["internal_errors"])
    result["measured_at"] = time.strftime("%H:%M:%S", time.gmtime(t))
    lat = result["latency_ms"]
    print(
        f"N={streams:5d}{' +bad' if bad else ''}: p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} ms, "
        f"errors {result['errors']}, {result['steps_per_second']:,} steps/s of {streams * 10:,}, "
        f"CPU per step: server {result.get('server_cpu_us_per_step')} us, "
        f"clients {result['loadgen_cpu_us_per_step']} us, "
        f"load {result['load_average_before'][0]}->{result['load_average_after'][0]}"
        + (" HOLDS" if result["holds"] else ""),
        flush=True,
    )
    return result


def row(r: dict) -> str:
    lat, m = r["latency_ms"], r["server_metrics"]
    return (
        f"| {r['streams']:,}{' + bad clients' if 'bad_clients' in r else ''} | {lat['p50']} | {lat['p95']} | "
        f"{lat['p99']} | {r['errors']} | {r['steps_per_second']:,} / {r['streams'] * 10:,} | "
        f"{m['step_latency_ms']['p95']} | {m['mean_batch']} | {r.get('server_cpu_us_per_step')} | "
        f"{r['loadgen_cpu_us_per_step']} | {r['load_average_before'][0]} -> {r['load_average_after'][0]} | "
        f"{'yes' if r['holds'] else 'no'} | {r['measured_at']} |"
    )


HEADER = (
    "| streams | p50 ms | p95 ms | p99 ms | errors | steps/s (got / due) | server step p95 ms | mean batch "
    "| server CPU us/step | clients CPU us/step | load avg (1 min) | holds p95 <= 50 | UTC |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["sweep", "bad"])
    p.add_argument("--streams", type=int, nargs="+", default=[100, 250, 500, 750, 1000])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--bisect", type=int, default=3, help="sweep: bisection steps after the grid")
    p.add_argument("--tick-ms", type=float, default=ServerConfig.tick_ms)
    p.add_argument("--max-batch", type=int, default=ServerConfig.max_batch)
    p.add_argument("--engine", default=ServerConfig.engine, choices=["torch", "onnx"])
    p.add_argument("--json", type=Path, help="append every point's figures to this JSON-lines file")
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "lm-2x256")
        for n in args.streams:
            bad = args.mode == "bad"
            idle = startup_seconds(n) + max(2.0, min(args.seconds / 3, 10.0)) if bad else 300.0
            server = ServerConfig(
                max_sessions=n + 200, idle_timeout=idle, tick_ms=args.tick_ms, max_batch=args.max_batch
            )
            results.append(point(model, n, args.seconds, bad, server))
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(results[-1]) + "\n")
        if args.mode == "sweep" and args.bisect:
            good = max((r["streams"] for r in results if r["holds"]), default=0)
            bad_n = min((r["streams"] for r in results if not r["holds"] and r["streams"] > good), default=None)
            for _ in range(args.bisect if bad_n else 0):
                mid = (good + bad_n) // 2
                if mid in (good, bad_n) or bad_n - good < max(25, good // 20):
                    break
                server = ServerConfig(
                    max_sessions=mid + 200, tick_ms=args.tick_ms, max_batch=args.max_batch, engine=args.engine
                )
                r = point(model, mid, args.seconds, False, server)
                results.append(r)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(r) + "\n")
                good, bad_n = (mid, bad_n) if r["holds"] else (good, mid)
            print(f"largest N holding p95 <= {TARGET_P95_MS:g} ms with no errors: {good}")
    print(HEADER)
    for r in sorted(results, key=lambda r: r["streams"]):
        print(row(r))
        if "bad_clients" in r:
            print(
                f"<!-- bad clients: {json.dumps(r['bad_clients'], sort_keys=True)}; verified "
                f"{r['verified_streams']} streams alone, max |dlogp| {r['verified_max_abs_logprob_difference']} -->"
            )


if __name__ == "__main__":
    main()
