"""Forecast quality of rnnkit against classical baselines on series bundled with statsmodels/sktime.

1. Airline passengers, last 36 months held out: MAPE of rnnkit, seasonal naive, ETS and ARIMA
   (Darts' quickstart reports ETS 5.11% and a tuned Theta 4.40% on this split).
2. Rolling-origin backtests on sunspots, co2 (monthly) and lynx: MASE of rnnkit, seasonal naive and
   ETS. The horizon is one season (the dataset's period), origins from 75% of the series on,
   half a season apart, refit at every origin.

rnnkit runs with its default configuration; only the horizon (the task) is set per dataset.

    OMP_NUM_THREADS=1 python benchmarks/bench_forecast.py [--quick] [--config '{"hidden_size": 32}']

Takes a few minutes on 2 CPU cores. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from rnnkit.timeseries.backtest import backtest
from rnnkit.timeseries.baselines import ARIMAForecaster, ETSForecaster, SeasonalNaiveForecaster
from rnnkit.timeseries.config import ForecasterConfig
from rnnkit.timeseries.datasets import load_dataset, season_length
from rnnkit.timeseries.forecaster import Forecaster


def airline(overrides: dict, seeds) -> "object":
    frame = load_dataset("airline")
    m = season_length("airline")
    # trained for one season; the 36 months are three chained blocks (108 training months give
    # too few windows of 36 + 36)
    models = {f"rnnkit (seed {s})": Forecaster(ForecasterConfig(horizon=m, seed=s, **overrides)) for s in seeds}
    models.update({"seasonal_naive": SeasonalNaiveForecaster(m), "ets": ETSForecaster(m), "arima": ARIMAForecaster(m)})
    res = backtest(models, frame, start=len(frame) - 36, horizon=36, season_length=m)
    return res.summary


def rolling(name: str, overrides: dict, seeds, quick: bool):
    frame = load_dataset(name)
    m = season_length(name)
    start = int(0.75 * len(frame))
    stride = -(-m // 2) if not quick else m
    models = {f"rnnkit (seed {s})": Forecaster(ForecasterConfig(horizon=m, seed=s, **overrides)) for s in seeds}
    models.update({"seasonal_naive": SeasonalNaiveForecaster(m), "ets": ETSForecaster(m)})
    res = backtest(models, frame, start=start, horizon=m, stride=stride, season_length=m)
    return res.summary, len(res.origins)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer origins")
    ap.add_argument("--config", default="{}", help="JSON overrides of ForecasterConfig")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds for rnnkit")
    ap.add_argument("--only", default="airline,sunspots,co2,lynx")
    args = ap.parse_args()
    overrides = json.loads(args.config)
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(1)
    pd_opts = dict(float_format=lambda v: f"{v:.3f}")
    only = args.only.split(",")
    if "airline" in only:
        t = time.time()
        summary = airline(overrides, seeds)
        print(f"\n## Airline, last 36 months held out ({time.time() - t:.0f} s)\n")
        print(summary[["mape", "smape", "mae", "mase"]].to_string(**pd_opts), flush=True)
    rows = {}
    for name in [n for n in ("sunspots", "co2", "lynx") if n in only]:
        t = time.time()
        summary, n_origins = rolling(name, overrides, seeds, args.quick)
        print(
            f"\n## {name}: rolling backtest, horizon {season_length(name)}, {n_origins} origins "
            f"({time.time() - t:.0f} s)\n"
        )
        print(summary[["mase", "mae", "smape"]].to_string(**pd_opts), flush=True)
        rows[name] = summary["mase"]
    if rows:
        import pandas as pd

        table = pd.DataFrame(rows)
        print("\n## MASE (lower is better)\n")
        print(table.to_string(**pd_opts))


if __name__ == "__main__":
    main()
