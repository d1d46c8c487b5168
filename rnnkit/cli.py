"""The ``rnnkit`` command: from a text file to a trained, evaluated model that writes.

    rnnkit train lm [--text FILE] --out DIR [options]   train a language model (TBPTT)
    rnnkit generate DIR --prompt TEXT --length N         sample from it, printing as it goes
    rnnkit evaluate DIR --text FILE                      loss, bits per token, perplexity
    rnnkit train forecast [--csv FILE --time-col C --target A[,B]] --horizon H --out DIR
    rnnkit forecast DIR [--csv FILE] --horizon H --out preds.csv
    rnnkit backtest DIR | --csv FILE ...                 rnnkit against naive, seasonal naive, ETS, ARIMA
    rnnkit detect DIR [--csv FILE]                       anomalies from one-step forecast residuals

Every verb has ``--help``. Bad arguments and bad files end with one ``error:`` line and a
non-zero exit status, not a traceback.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="rnnkit: recurrent neural networks from a text file or a CSV to a trained model.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain one-line usage errors, no boxes
)
train_app = typer.Typer(help="Train a model.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(train_app, name="train")

EXIT_USAGE = 2


def friendly(fn):
    """Turn the library's errors into one ``error: ...`` line and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, OSError, UnicodeError, KeyError) as err:
            message = str(err) or type(err).__name__
            if isinstance(err, KeyError):
                message = f"missing entry {message}"
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: the last checkpoint is kept; rerun with --resume to continue", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _existing_file(path: Optional[Path], what: str) -> Optional[str]:
    if path is None:
        return None
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{what} is a folder, expected a file: {path}")
    return str(path)


@train_app.command("lm")
@friendly
def train_lm(
    text: Optional[Path] = typer.Option(None, "--text", help="UTF-8 text file to learn; default: the Python reference manual's help text (ships with Python)."),
    out: Path = typer.Option(Path("runs/lm"), "--out", help="Run folder: model, vocabulary, logs, plot, checkpoints."),
    cell: str = typer.Option("lstm", "--cell", help="lstm, gru or rnn."),
    level: str = typer.Option("char", "--level", help="Tokens: char, word or bpe."),
    hidden_size: Optional[int] = typer.Option(None, "--hidden-size", help="Hidden units per layer (default: 256)."),
    num_layers: int = typer.Option(2, "--num-layers", help="Stacked recurrent layers."),
    embedding_size: int = typer.Option(64, "--embedding-size", help="Token embedding size."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Dropout on embeddings, between layers and before the output (default: by --time-budget: 0 under 10 minutes, 0.1 under 20, else 0.2)."),
    bptt: int = typer.Option(128, "--bptt", help="Truncated BPTT length: steps per update; the state is carried across."),
    batch_size: int = typer.Option(32, "--batch-size", help="Parallel text streams."),
    max_steps: int = typer.Option(100_000, "--max-steps", help="Stop after N updates."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Train for this many seconds (the learning rate anneals over them)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (Adam, cosine schedule; default: 4e-3 for runs under 10 minutes, else 2e-3)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same model."),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every", help="Write a checkpoint every N updates."),
    val_every: int = typer.Option(250, "--val-every", help="Validate every N updates."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly where it stopped."),
    sample_length: int = typer.Option(300, "--sample-length", help="Characters of the sample printed at the end (0: none)."),
) -> None:
    """Train a language model on a text file and print a sample of what it writes."""
    from .models.generation import stream_text
    from .models.language_model import LanguageModel
    from .tasks.language_modeling import LanguageModelRecipe, train_language_model

    recipe = LanguageModelRecipe(
        text=_existing_file(text, "text file"), out=str(out), level=level, cell=cell, embedding_size=embedding_size,
        hidden_size=hidden_size, num_layers=num_layers, dropout=dropout, bptt=bptt, batch_size=batch_size,
        lr=lr, max_steps=max_steps, time_budget=time_budget, val_every=val_every,
        checkpoint_every=checkpoint_every, seed=seed, resume=resume,
    )
    summary = train_language_model(recipe, log=lambda m: typer.echo(m))
    typer.echo(f"trained {summary['steps']} updates in {summary['train_seconds']} s "
               f"({summary['tokens_per_second']:,} tokens/s)")
    if summary["val_loss"] is not None:
        typer.echo(f"validation: {summary['val_loss']:.4f} nats/token, {summary['val_bits_per_token']:.3f} bits/token, "
                   f"perplexity {summary['val_perplexity']:.2f}")
    if sample_length > 0:
        model = LanguageModel.from_pretrained(out)
        typer.echo("--- sample ---")
        for piece in stream_text(model, "\n", sample_length, temperature=0.8, seed=seed):
            typer.echo(piece, nl=False)
        typer.echo("\n--------------")
    typer.echo(f"model: {out}/ (config.json, model.safetensors, vocab.json)")
    typer.echo(f"logs:  {out}/train_log.csv, {out}/val_log.csv" + (f"; plot: {summary['plot']}" if summary["plot"] else ""))
    typer.echo(f"next:  rnnkit generate {out} --prompt 'Some text' --length 500")


@app.command()
@friendly
def generate(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train lm`."),
    prompt: str = typer.Option("\n", "--prompt", help="Text that primes the model's state."),
    length: int = typer.Option(500, "--length", help="Tokens to generate."),
    temperature: float = typer.Option(1.0, "--temperature", help="0 = greedy; < 1 safer, > 1 more varied."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Sample only among the K most likely tokens."),
    top_p: Optional[float] = typer.Option(None, "--top-p", help="Sample only among the most likely tokens that make up probability P."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for a reproducible sample."),
) -> None:
    """Generate text, printing each piece as it is sampled (the state is carried; constant memory)."""
    from .models.generation import stream_text
    from .models.language_model import LanguageModel

    model = _load_lm(model_dir)
    typer.echo(prompt, nl=False)
    for piece in stream_text(model, prompt, length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed):
        typer.echo(piece, nl=False)
        sys.stdout.flush()
    typer.echo()


@app.command()
@friendly
def evaluate(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train lm`."),
    text: Optional[Path] = typer.Option(None, "--text", help="Text to score; default: the default corpus."),
) -> None:
    """Loss (nats per token), bits per token and perplexity of a language model on a text."""
    from .tasks.language_modeling import evaluate_language_model

    _load_lm(model_dir)  # checks the folder first, with a clear message
    result = evaluate_language_model(str(model_dir), _existing_file(text, "text file"))
    typer.echo(f"tokens: {result['tokens']:,}")
    typer.echo(f"loss: {result['loss']:.4f} nats/token")
    typer.echo(f"bits per token: {result['bits_per_token']:.4f}")
    typer.echo(f"perplexity: {result['perplexity']:.3f}")


# ---- forecasting -----------------------------------------------------------------------------

def _spec(csv: Optional[Path], time_col: Optional[str], target: Optional[str], fill: Optional[str], dataset: Optional[str] = None):
    from .tasks.forecasting import SeriesSpec, parse_targets

    return SeriesSpec(csv=_existing_file(csv, "CSV file"), dataset=dataset, time_column=time_col,
                      targets=parse_targets(target), fill=fill)


@train_app.command("forecast")
@friendly
def train_forecast(
    csv: Optional[Path] = typer.Option(None, "--csv", help="CSV or Parquet file; default: the sunspots series that ships with statsmodels."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column."),
    target: Optional[str] = typer.Option(None, "--target", help="Column(s) to forecast, comma-separated: A or A,B."),
    horizon: int = typer.Option(12, "--horizon", help="Steps ahead the model learns to forecast."),
    out: Path = typer.Option(Path("runs/forecast"), "--out", help="Model folder."),
    cell: str = typer.Option("lstm", "--cell", help="lstm, gru or rnn."),
    input_length: int = typer.Option(0, "--input-length", help="Steps the model reads (0: chosen from horizon and season)."),
    max_epochs: int = typer.Option(300, "--max-epochs", help="Upper bound on epochs; early stopping usually ends sooner."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same model."),
    fill: Optional[str] = typer.Option(None, "--fill", help="Fill missing values: ffill, bfill, linear, zero or mean (default: report them)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="A bundled series instead of --csv: sunspots, co2, nile, elnino, airline, lynx, shampoo."),
) -> None:
    """Train a forecaster on a series and plot a forecast from its end."""
    from .tasks.forecasting import train_forecaster

    spec = _spec(csv, time_col, target, fill, dataset)
    info = train_forecaster(spec, str(out), horizon=horizon, cell=cell, input_length=input_length,
                            max_epochs=max_epochs, seed=seed)
    typer.echo(f"trained on {info['rows']} rows of {', '.join(info['targets'])}; horizon {info['horizon']}")
    typer.echo(f"model: {out}/ (config.json, model.safetensors, preprocessing.json, series.json)")
    typer.echo(f"plot:  {info['plot']}")
    typer.echo(f"next:  rnnkit forecast {out} --horizon {horizon} --out {out}/preds.csv")


@app.command()
@friendly
def forecast(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train forecast`."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="History to continue from (default: the training series)."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column (default: as trained)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column(s) (default: as trained)."),
    horizon: int = typer.Option(12, "--horizon", help="Steps to forecast."),
    out: Path = typer.Option(Path("preds.csv"), "--out", help="CSV: time, each target's forecast, <target>_lower, <target>_upper."),
    fill: Optional[str] = typer.Option(None, "--fill", help="Fill missing values in --csv."),
) -> None:
    """Forecast the steps after the end of a history; intervals included."""
    from .tasks.forecasting import forecast_to_csv

    spec = _spec(csv, time_col, target, fill) if csv is not None else None
    info = forecast_to_csv(str(model_dir), spec, horizon, str(out))
    typer.echo(f"wrote {info['rows']} rows to {info['csv']} (columns: {', '.join(info['columns'])})")
    if info["plot"]:
        typer.echo(f"plot: {info['plot']}")


@app.command()
@friendly
def backtest(
    model_dir: Optional[Path] = typer.Argument(None, help="A model folder (its config and series); or give --csv."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Series file (default: the model's, or sunspots)."),
    time_col: Optional[str] = typer.Option(None, "--time-col"),
    target: Optional[str] = typer.Option(None, "--target"),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="A bundled series instead of --csv."),
    horizon: int = typer.Option(12, "--horizon", help="Steps forecast from each origin."),
    start: float = typer.Option(0.8, "--start", help="First origin: a fraction of the series or a row number."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Rows between origins (default: the horizon)."),
    season_length: Optional[int] = typer.Option(None, "--season-length", help="m for MASE and the seasonal baselines (default: from the data)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for backtest.csv and backtest.png."),
    fill: Optional[str] = typer.Option(None, "--fill"),
) -> None:
    """Rolling-origin backtest of rnnkit against naive, seasonal naive, ETS and ARIMA."""
    from .tasks.forecasting import run_backtest

    spec = _spec(csv, time_col, target, fill, dataset)
    result, m = run_backtest(spec, model_dir=None if model_dir is None else str(model_dir), horizon=horizon,
                             start=int(start) if start >= 1 else start, stride=stride, season=season_length,
                             out=None if out is None else str(out))
    typer.echo(f"{len(result.origins)} origins, horizon {horizon}, season length {m}")
    typer.echo(result.summary.to_string(float_format=lambda v: f"{v:.4g}"))
    if out is not None:
        typer.echo(f"table: {out}/backtest.csv; plot: {out}/backtest.png")


@app.command()
@friendly
def detect(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train forecast` (without calendar covariates)."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Series to scan (default: the training series)."),
    time_col: Optional[str] = typer.Option(None, "--time-col"),
    target: Optional[str] = typer.Option(None, "--target"),
    calibrate: float = typer.Option(0.5, "--calibrate", help="Leading fraction of the series, assumed mostly normal, that sets the threshold."),
    out: Optional[Path] = typer.Option(None, "--out", help="CSV of scores and flags (a PNG is written beside it)."),
    fill: Optional[str] = typer.Option(None, "--fill"),
) -> None:
    """Flag anomalies: points far from the model's one-step forecast (robust z-score)."""
    from .tasks.forecasting import run_detect

    spec = _spec(csv, time_col, target, fill)
    frame, result = run_detect(str(model_dir), spec, calibrate, None if out is None else str(out))
    flagged = [str(t) for t, f in zip(frame.time, result.flags) if f]
    typer.echo(f"{len(flagged)} anomalies in {len(frame)} points (threshold {result.threshold:.3g})")
    for t in flagged[:50]:
        typer.echo(f"  {t}")
    if out is not None:
        typer.echo(f"scores: {out}; plot: {out.with_suffix('.png')}")


def _load_lm(model_dir: Path):
    from .models.language_model import LanguageModel

    if not model_dir.is_dir():
        raise FileNotFoundError(f"model folder not found: {model_dir}")
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} holds no config.json: not a model folder written by `rnnkit train lm`")
    return LanguageModel.from_pretrained(model_dir)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
