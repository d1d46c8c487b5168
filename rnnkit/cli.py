"""The ``rnnkit`` command: from a text file to a trained, evaluated model that writes.

    rnnkit train lm [--text FILE] --out DIR [options]   train a language model (TBPTT)
    rnnkit generate DIR --prompt TEXT --length N         sample from it, printing as it goes
    rnnkit evaluate DIR [--text FILE]                    loss, bits per character, perplexity
    rnnkit train forecast [--csv FILE --time-col C --target A[,B]] --horizon H --out DIR
    rnnkit forecast DIR [--csv FILE] --horizon H --out preds.csv
    rnnkit backtest DIR | --csv FILE ...                 rnnkit against naive, seasonal naive, ETS, ARIMA
    rnnkit detect DIR [--csv FILE]                       anomalies from one-step forecast residuals

Every verb has ``--help``. Bad arguments and bad files end with one ``error:`` line and a
non-zero exit status, not a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer

from ._checks import InvalidValueError, MissingFileError, MissingOptionalDependency

app = typer.Typer(
    help="rnnkit: recurrent neural networks from a text file or a CSV to a trained model.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain one-line usage errors, no boxes
)
train_app = typer.Typer(help="Train a model.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(train_app, name="train")

EXIT_USAGE = 2
# Errors a user causes (a bad value, a missing or unreadable file, an optional package not
# installed): one ``error:`` line. Anything else is a bug in rnnkit and keeps its traceback.
# (UnicodeError is a ValueError; set RNNKIT_DEBUG=1 to see the traceback of any error.)
USER_ERRORS = (ValueError, OSError, MissingOptionalDependency)
# The forecasting verbs' readers also report bad CSV content as TypeError and missing entries as
# KeyError, so those verbs treat them as user errors too.
FORECAST_USER_ERRORS = USER_ERRORS + (TypeError, KeyError)


def _one_line(message: object) -> str:
    return " ".join(str(message).split()) if "\n" in str(message) else str(message)


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    typer.echo(f"warning: {_one_line(message)}", err=True)  # no source path or line: the user did not write it


def friendly(fn=None, *, expected=USER_ERRORS):
    """Turn the user errors in ``expected`` into one ``error: ...`` line and exit status 2, and
    print warnings as one ``warning: ...`` line each; other exceptions keep their traceback."""
    if fn is None:
        return functools.partial(friendly, expected=expected)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        shown = warnings.showwarning
        warnings.showwarning = _print_warning
        try:
            return fn(*args, **kwargs)
        except BrokenPipeError:  # the reader went away (`rnnkit generate ... | head`): stop quietly
            _silence_stdout()
            raise typer.Exit(0) from None
        except expected as err:
            if os.environ.get("RNNKIT_DEBUG"):
                raise
            message = str(err) or type(err).__name__
            if isinstance(err, KeyError):
                message = f"missing entry {message}"
            typer.echo(f"error: {_one_line(message)}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            hint = ": the last checkpoint is kept; rerun with --resume to continue" if fn.__name__ == "train_lm" else ""
            typer.echo(f"interrupted{hint}", err=True)
            raise typer.Exit(130) from None
        finally:
            warnings.showwarning = shown

    return wrapper


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's capture): nothing to redirect
        pass


def _existing_file(path: Optional[Path], what: str) -> Optional[str]:
    if path is None:
        return None
    if not path.exists():
        raise MissingFileError(f"{what} not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{what} is a folder, expected a file: {path}")
    return str(path)


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


@train_app.command("lm")
@friendly
def train_lm(
    ctx: typer.Context,
    text: Optional[Path] = typer.Option(None, "--text", help="UTF-8 text file to learn; default: the Python reference manual's help text (ships with Python)."),
    out: Path = typer.Option(Path("runs/lm"), "--out", help="Run folder: model, vocabulary, settings, logs, plot, checkpoints."),
    cell: str = typer.Option("lstm", "--cell", help="lstm, gru or rnn."),
    level: str = typer.Option("char", "--level", help="Tokens: char, word or bpe (bpe needs pip install 'rnnkit[bpe]')."),
    hidden_size: Optional[int] = typer.Option(None, "--hidden-size", help="Hidden units per layer (default: 256)."),
    num_layers: int = typer.Option(2, "--num-layers", help="Stacked recurrent layers."),
    embedding_size: int = typer.Option(64, "--embedding-size", help="Token embedding size."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Dropout on embeddings, between layers and before the output (default: by the run's length: 0 under 10 minutes, 0.1 under 20, else 0.2)."),
    bptt: int = typer.Option(128, "--bptt", help="Truncated BPTT length: steps per update; the state is carried across."),
    batch_size: int = typer.Option(32, "--batch-size", help="Parallel text streams."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after N updates (default: no step limit). Given alone, the run is sized for N updates (about 13,500 tokens a second on a 2-core CPU)."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Seconds of training in all, summed over resumes; the learning rate anneals over them. Default: 300 (5 minutes) unless --max-steps is given."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (Adam, cosine schedule; default: 4e-3 for runs under 10 minutes, else 2e-3)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (>= 0): the same seed gives the same model."),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every", help="Write a checkpoint every N updates."),
    val_every: int = typer.Option(250, "--val-every", help="Validate every N updates."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly where it stopped, with the settings it was started with (saved in run_settings.json); only --max-steps, --time-budget (raised), --checkpoint-every and --val-every may change. With nothing to resume, a new run starts (a note says so)."),
    sample_length: int = typer.Option(300, "--sample-length", help="Tokens of the sample printed at the end (0: none)."),
) -> None:
    """Train a language model on a text file and print a sample of what it writes.

    Without --time-budget and --max-steps the run trains for 5 minutes, with settings sized for that.
    """
    from .data.tokenizers import tokenizer_type
    from .models.format import NotAFolderError
    from .models.generation import stream_text
    from .tasks.language_modeling import LanguageModelRecipe, resume_recipe, train_language_model

    if sample_length < 0:
        raise InvalidValueError(f"--sample-length must be >= 0 (0: no sample), got {sample_length}")
    if out.exists() and not out.is_dir():
        raise NotAFolderError(f"--out {out} is a file; the run needs a folder (it is created if missing)")
    options = dict(
        text=_existing_file(text, "text file"), level=level, cell=cell, embedding_size=embedding_size,
        hidden_size=hidden_size, num_layers=num_layers, dropout=dropout, bptt=bptt, batch_size=batch_size,
        lr=lr, max_steps=max_steps, time_budget=time_budget, val_every=val_every,
        checkpoint_every=checkpoint_every, seed=seed,
    )
    recipe = None
    if resume:  # the run's own settings, with only the options given now changed (or refused)
        recipe = resume_recipe(out, **{k: v for k, v in options.items() if _given(ctx, k)})
    if recipe is None:
        recipe = LanguageModelRecipe(**options, out=str(out), resume=resume)
    summary = train_language_model(recipe, log=lambda m: typer.echo(m))
    tokenizer = tokenizer_type(recipe.level)
    unit = tokenizer.unit
    typer.echo(f"trained {summary['steps']} updates in {summary['train_seconds']} s "
               f"({summary['tokens_per_second']:,} tokens/s)")
    if summary["val_loss"] is not None:
        per_char = ("" if tokenizer.tokens_are_characters
                    else f" ({summary['val_bits_per_character']:.3f} bits/character)")
        typer.echo(f"validation: {summary['val_loss']:.4f} nats/{unit}, {summary['val_bits_per_token']:.3f} "
                   f"bits/{unit}{per_char}, perplexity {summary['val_perplexity']:.2f}")
    if sample_length > 0:
        model = _load_lm(out)
        typer.echo("--- sample ---")
        for piece in stream_text(model, "\n", sample_length, temperature=0.8, seed=recipe.seed):
            typer.echo(piece, nl=False)
        typer.echo("\n--------------")
    typer.echo(f"model: {out}/ (config.json, model.safetensors, vocab.json, run_settings.json)")
    typer.echo(f"logs:  {out}/train_log.csv, {out}/val_log.csv" + (f"; plot: {summary['plot']}" if summary["plot"] else ""))
    typer.echo(f"next:  rnnkit generate {out} --prompt 'Some text' --length 500")


@app.command()
@friendly
def generate(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train lm`."),
    prompt: str = typer.Option("\n", "--prompt", help="Text that primes the model's state; it is printed first and the sample continues it."),
    length: int = typer.Option(500, "--length", help="Tokens to generate."),
    temperature: float = typer.Option(1.0, "--temperature", help="0 = greedy; < 1 safer, > 1 more varied."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Sample only among the K most likely tokens."),
    top_p: Optional[float] = typer.Option(None, "--top-p", help="Sample only among the most likely tokens that make up probability P."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (>= 0) for a reproducible sample."),
) -> None:
    """Generate text, printing each piece as it is sampled (the state is carried; constant memory).

    Symbols of the prompt that the model does not know become <unk>, with a warning."""
    from .models.generation import stream_text

    model = _load_lm(model_dir)
    pieces = stream_text(model, prompt, length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    typer.echo(prompt, nl=False)  # only now: every option is checked and the prompt encoded
    for piece in pieces:
        typer.echo(piece, nl=False)
        sys.stdout.flush()
    typer.echo()


@app.command()
@friendly
def evaluate(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train lm`."),
    text: Optional[Path] = typer.Option(None, "--text", help="Text file to score; default: the validation part (last 10%) of the text the model was trained on."),
) -> None:
    """Loss, bits per character (and per token for word/BPE models) and perplexity on a text.

    Without --text it scores the held-out validation part of the training text, as training did.
    Bits per character divide the total loss by the characters scored, so word and BPE models
    compare with character models."""
    from .data.tokenizers import tokenizer_type
    from .tasks.language_modeling import evaluate_language_model

    _load_lm(model_dir)  # checks the folder first, with a clear message
    result = evaluate_language_model(str(model_dir), _existing_file(text, "text file"))
    per_character = tokenizer_type(result["level"]).tokens_are_characters
    unit = result["unit"]
    typer.echo(f"text: {result['text']}")
    if per_character:
        typer.echo(f"characters: {result['tokens']:,}")
        typer.echo(f"loss: {result['loss']:.4f} nats/character")
        typer.echo(f"bits per character: {result['bits_per_character']:.4f}")
    else:
        typer.echo(f"{unit}s: {result['tokens']:,} ({result['characters']:,} characters)")
        typer.echo(f"loss: {result['loss']:.4f} nats/{unit}")
        typer.echo(f"bits per {unit}: {result['bits_per_token']:.4f}")
        typer.echo(f"bits per character: {result['bits_per_character']:.4f}")
    typer.echo(f"perplexity: {result['perplexity']:.3f}" + ("" if per_character else f" (per {unit})"))


# ---- forecasting -----------------------------------------------------------------------------

FREQ_HELP = ("Frequency of the file's timestamps: a pandas alias (D, W-SUN, MS, ME, QS, YS, h; MS+14D for the "
             "15th of each month) or an int step; rows then sit on that grid and gaps become missing values "
             "(see --fill).")
FILL_HELP = "Fill missing values: ffill, bfill, linear, zero or mean."
INFERRED, REPORTED, AS_TRAINED = " Default: inferred.", " Default: report them as an error.", " Default: as trained."


def _spec(csv: Optional[Path], time_col: Optional[str], target: Optional[str], fill: Optional[str],
          freq: Optional[str] = None, dataset: Optional[str] = None):
    from .tasks.forecasting import SeriesSpec, parse_targets

    return SeriesSpec(csv=_existing_file(csv, "CSV file"), dataset=dataset, time_column=time_col,
                      targets=parse_targets(target), fill=fill, freq=freq)


def _start_position(start: float):
    """``--start``: a fraction in (0, 1) of the series, or a whole row number (negative: from the end)."""
    if 0 < start < 1:
        return start
    if float(start).is_integer() and start != 0:  # False for inf and nan
        return int(start)
    raise InvalidValueError(f"--start must be a fraction in (0, 1) or a whole row number other than 0 "
                            f"(negative: counted from the end, -36 = the last 36 rows), got {start:g}")


@train_app.command("forecast")
@friendly(expected=FORECAST_USER_ERRORS)
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
    fill: Optional[str] = typer.Option(None, "--fill", help=FILL_HELP + REPORTED),
    freq: Optional[str] = typer.Option(None, "--freq", help=FREQ_HELP + INFERRED),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="A bundled series instead of --csv: sunspots, co2, nile, elnino, airline, lynx, shampoo."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out exactly, from its last resume point (same options)."),
) -> None:
    """Train a forecaster on a series and plot a forecast from its end.

    The folder records the file (by absolute path), its columns, --fill and --freq, which the other
    verbs then use by default."""
    from .tasks.forecasting import train_forecaster

    spec = _spec(csv, time_col, target, fill, freq, dataset)
    info = train_forecaster(spec, str(out), horizon=horizon, cell=cell, input_length=input_length,
                            max_epochs=max_epochs, seed=seed, resume=resume, progress=None)
    if info["resumed_from"] is not None:
        typer.echo(f"resumed at epoch {info['resumed_from']}")
    typer.echo(f"trained on {info['rows']} rows of {', '.join(info['targets'])}; horizon {info['horizon']}, "
               f"{info['epochs']} epochs")
    typer.echo(f"model: {out}/ (config.json, model.safetensors, preprocessing.json, series.json)")
    typer.echo(f"logs:  {out}/train_log.csv, {out}/val_log.csv")
    typer.echo(f"plot:  {info['plot']}")
    typer.echo(f"next:  rnnkit forecast {out} --horizon {horizon} --out {out}/preds.csv")


@app.command()
@friendly(expected=FORECAST_USER_ERRORS)
def forecast(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train forecast`."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="History to continue from (default: the training series)."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column (default: as trained)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column(s) (default: as trained)."),
    horizon: int = typer.Option(12, "--horizon", help="Steps to forecast."),
    out: Path = typer.Option(Path("preds.csv"), "--out", help="CSV: time, each target's forecast, <target>_lower, <target>_upper."),
    fill: Optional[str] = typer.Option(None, "--fill", help=FILL_HELP + AS_TRAINED),
    freq: Optional[str] = typer.Option(None, "--freq", help=FREQ_HELP + AS_TRAINED),
) -> None:
    """Forecast the steps after the end of a history; intervals included."""
    from .tasks.forecasting import forecast_to_csv

    spec = _spec(csv, time_col, target, fill, freq) if csv is not None else None
    info = forecast_to_csv(str(model_dir), spec, horizon, str(out))
    typer.echo(f"wrote {info['rows']} rows to {info['csv']} (columns: {', '.join(info['columns'])})")
    if info["plot"]:
        typer.echo(f"plot: {info['plot']}")


@app.command()
@friendly(expected=FORECAST_USER_ERRORS)
def backtest(
    model_dir: Optional[Path] = typer.Argument(None, help="A model folder (its configuration and series); or give --csv."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Series file (default: the model's, or sunspots)."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column (default: the model's)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column(s) (default: the model's)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="A bundled series instead of --csv."),
    horizon: Optional[int] = typer.Option(None, "--horizon", help="Steps forecast from each origin (default: the model's horizon; 12 without a model)."),
    start: float = typer.Option(0.8, "--start", help="First origin: a fraction in (0, 1) of the series, or a row number (negative: from the end, -36 = the last 36 rows)."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Rows between origins (default: the horizon)."),
    season_length: Optional[int] = typer.Option(None, "--season-length", help="m for MASE and the seasonal baselines (default: from the data)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for backtest.csv and backtest.png."),
    fill: Optional[str] = typer.Option(None, "--fill", help=FILL_HELP + " Default: the model's with DIR, else report them as an error."),
    freq: Optional[str] = typer.Option(None, "--freq", help=FREQ_HELP + " Default: the model's with DIR, else inferred."),
) -> None:
    """Rolling-origin backtest of rnnkit against naive, seasonal naive, ETS and ARIMA.

    Every model is refit at every origin on the rows before it and forecasts the next --horizon
    rows. With DIR, rnnkit is the model's configuration refit at each origin, not its saved weights:
    those were trained on the whole series, the scored windows included, and a backtest must not
    see the future. Prints MAE, RMSE, sMAPE, MAPE and MASE per model, averaged over the origins."""
    from .tasks.forecasting import run_backtest

    spec = _spec(csv, time_col, target, fill, freq, dataset)
    result, m, steps = run_backtest(spec, model_dir=None if model_dir is None else str(model_dir), horizon=horizon,
                                    start=_start_position(start), stride=stride, season=season_length,
                                    out=None if out is None else str(out))
    refit = "the model's configuration" if model_dir is not None else "rnnkit"
    typer.echo(f"{len(result.origins)} origins, horizon {steps}, season length {m}; "
               f"every model ({refit} too) refit at each origin")
    typer.echo(result.summary.to_string(float_format=lambda v: f"{v:.4g}"))
    if out is not None:
        typer.echo(f"table: {out}/backtest.csv; plot: {out}/backtest.png")


@app.command()
@friendly(expected=FORECAST_USER_ERRORS)
def detect(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train forecast`."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Series to scan (default: the training series)."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column (default: the model's)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column(s) (default: the model's)."),
    calibrate: Optional[float] = typer.Option(None, "--calibrate", help="Set the threshold on the leading fraction F of the scanned series (assumed mostly normal) instead of the model's training series."),
    out: Optional[Path] = typer.Option(None, "--out", help="CSV of scores and flags (a PNG is written beside it)."),
    fill: Optional[str] = typer.Option(None, "--fill", help=FILL_HELP + AS_TRAINED),
    freq: Optional[str] = typer.Option(None, "--freq", help=FREQ_HELP + AS_TRAINED),
) -> None:
    """Flag anomalies: points far from the model's one-step forecast.

    The score is the robust z-score of the one-step residual, with the median and MAD of the
    residuals on the model's training series; a point is flagged above 4."""
    from .tasks.forecasting import run_detect

    spec = _spec(csv, time_col, target, fill, freq)
    frame, result, source = run_detect(str(model_dir), spec, calibrate, None if out is None else str(out))
    flagged = [str(t) for t, f in zip(frame.time, result.flags) if f]
    typer.echo(f"{len(flagged)} anomalies in {len(frame)} points (threshold {result.threshold:.3g}, set on {source})")
    for t in flagged[:50]:
        typer.echo(f"  {t}")
    if len(flagged) > 50:
        typer.echo(f"  ... and {len(flagged) - 50} more" + ("" if out is not None else " (--out writes them all)"))
    if out is not None:
        typer.echo(f"scores: {out}; plot: {out.with_suffix('.png')}")


def _load_lm(model_dir: Path):
    """The language model in ``model_dir``, with its vocabulary; every problem with the folder (missing,
    a file, another kind of model, a missing or unreadable file) is a user error naming it."""
    from .models.format import read_model
    from .models.language_model import MODEL_TYPE, VOCAB_NAME, LanguageModel

    folder = read_model(model_dir, expected=MODEL_TYPE)
    if not folder.has(VOCAB_NAME):
        raise MissingFileError(
            f"{model_dir} holds no {VOCAB_NAME}: the model's vocabulary is needed to read and write text "
            f"(a folder written by `rnnkit train lm` has one)"
        )
    return LanguageModel.from_folder(folder)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
