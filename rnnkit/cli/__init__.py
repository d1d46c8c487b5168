"""The ``rnnkit`` command: from a text file or a CSV to a trained, evaluated model.

    rnnkit train lm [--text FILE] --out DIR [options]   train a language model (TBPTT)
    rnnkit generate DIR --prompt TEXT --length N         sample from it, printing as it goes
    rnnkit evaluate DIR [--text FILE]                    loss, bits per character, perplexity
    rnnkit train forecast [--csv FILE --time-col C --target A[,B]] --horizon H --out DIR
    rnnkit forecast DIR [--csv FILE] --horizon H --out preds.csv
    rnnkit backtest DIR | --csv FILE ...                 rnnkit against naive, seasonal naive, ETS, ARIMA
    rnnkit detect DIR [--csv FILE]                       anomalies from one-step forecast residuals

One module per verb group (:mod:`.language_model`, :mod:`.forecasting`); the options' defaults
come from the tasks' config dataclasses (:mod:`.options`); the error policy is in :mod:`.errors`:
every verb has ``--help``, and a user error ends with one ``error:`` line and exit status 2.
"""

from __future__ import annotations

# importing a verb module registers its commands
from . import (  # noqa: F401
    classify,
    export,
    forecasting,
    language_model,
    memory_bench,
    report,
    seq2seq,
    serve,
)
from .app import app, bench_app, train_app

__all__ = ["app", "train_app", "bench_app", "main"]


def main() -> None:
    app()
