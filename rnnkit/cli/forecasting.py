"""``rnnkit train forecast``, ``forecast``, ``backtest``, ``detect``: a series to forecasts and anomalies."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._checks import InvalidValueError
from ..layers import CELL_HELP
from ..timeseries.config import ForecasterConfig
from .app import app, train_app
from .errors import user_errors_as_one_line
from .options import check_options, exclusive, existing_file, from_config, output_file, output_folder
from .report import report_after_training

FREQ_HELP = (
    "Frequency of the file's timestamps: a pandas alias (D, W-SUN, MS, ME, QS, YS, h; MS+14D for the "
    "15th of each month) or an int step; rows then sit on that grid and gaps become missing values "
    "(see --fill)."
)
FILL_HELP = "Fill missing values: ffill, bfill, linear, zero or mean."
INFERRED, REPORTED, AS_TRAINED = " Default: inferred.", " Default: report them as an error.", " Default: as trained."


def _spec(
    csv: Optional[Path],
    time_col: Optional[str],
    target: Optional[str],
    fill: Optional[str],
    freq: Optional[str] = None,
    dataset: Optional[str] = None,
):
    from ..tasks.forecasting import SeriesSpec, parse_targets

    check_options(fill=fill, freq=freq)
    exclusive(csv=csv, dataset=dataset)
    if csv is None:
        for flag, value in (("--time-col", time_col), ("--target", target)):
            if value is not None:
                raise InvalidValueError(
                    f"{flag} names a column of --csv, and no --csv was given"
                    + ("" if dataset is None else f" (--dataset {dataset} has its own columns)")
                )
    if dataset is not None:
        from ..timeseries.datasets import dataset_info

        dataset_info(dataset)  # an unknown name is refused here, listing the bundled ones
    return SeriesSpec(
        csv=existing_file(csv, "CSV file"),
        dataset=dataset,
        time_column=time_col,
        targets=parse_targets(target),
        fill=fill,
        freq=freq,
    )


def _start_position(start: float):
    """``--start``: a fraction in (0, 1) of the series, or a whole row number (negative: from the end)."""
    if 0 < start < 1:
        return start
    if float(start).is_integer() and start != 0:  # False for inf and nan
        return int(start)
    raise InvalidValueError(
        f"--start must be a fraction in (0, 1) or a whole row number other than 0 "
        f"(negative: counted from the end, -36 = the last 36 rows), got {start:g}"
    )


@train_app.command("forecast")
@user_errors_as_one_line
def train_forecast(
    csv: Optional[Path] = typer.Option(
        None, "--csv", help="CSV or Parquet file; default: the sunspots series that ships with statsmodels."
    ),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column."),
    target: Optional[str] = typer.Option(None, "--target", help="Column(s) to forecast, comma-separated: A or A,B."),
    horizon: int = from_config(ForecasterConfig, "horizon", help="Steps ahead the model learns to forecast."),
    out: Path = typer.Option(Path("runs/forecast"), "--out", help="Model folder."),
    cell: str = from_config(ForecasterConfig, "cell", help=CELL_HELP),
    input_length: int = from_config(
        ForecasterConfig, "input_length", help="Steps the model reads (0: chosen from horizon and season)."
    ),
    max_epochs: int = from_config(
        ForecasterConfig, "epochs", "--max-epochs", help="Upper bound on epochs; early stopping usually ends sooner."
    ),
    seed: int = from_config(ForecasterConfig, "seed", help="Random seed: the same seed gives the same model."),
    fill: Optional[str] = typer.Option(None, "--fill", help=FILL_HELP + REPORTED),
    freq: Optional[str] = typer.Option(None, "--freq", help=FREQ_HELP + INFERRED),
    dataset: Optional[str] = typer.Option(
        None,
        "--dataset",
        help="A bundled series instead of --csv: sunspots, co2, nile, elnino, airline, lynx, shampoo.",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue an interrupted run in --out exactly, from its "
        "last resume point (same options; --max-epochs may change).",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace the forecaster in --out with a new one. The new run trains beside it and replaces it "
        "only when it has finished; until then the old model is untouched.",
    ),
) -> None:
    """Train a forecaster on a series and plot a forecast from its end.

    The folder records the file (by absolute path), its columns, --fill and --freq, which the other
    verbs then use by default."""
    from ..tasks.forecasting import train_forecaster

    check_options(horizon=horizon, input_length=input_length, max_epochs=max_epochs, seed=seed)
    exclusive(resume=resume, overwrite=overwrite)
    output_folder(out)
    spec = _spec(csv, time_col, target, fill, freq, dataset)
    info = train_forecaster(
        spec,
        str(out),
        horizon=horizon,
        cell=cell,
        input_length=input_length,
        max_epochs=max_epochs,
        seed=seed,
        resume=resume,
        overwrite=overwrite,
        progress=None,
        log=typer.echo,
    )
    if info["resumed_from"] is not None:
        typer.echo(f"resumed at epoch {info['resumed_from']}")
    typer.echo(
        f"trained on {info['rows']} rows of {', '.join(info['targets'])}; horizon {info['horizon']}, "
        f"{info['epochs']} epochs"
    )
    typer.echo(f"model: {out}/ (config.json, model.safetensors, preprocessing.json, series.json)")
    typer.echo(f"logs:  {out}/train_log.csv, {out}/val_log.csv")
    typer.echo(f"plot:  {info['plot']}")
    report_after_training(out)
    typer.echo(f"next:  rnnkit forecast {out} --horizon {horizon} --out {out}/preds.csv")


@app.command()
@user_errors_as_one_line
def forecast(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train forecast`."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="History to continue from (default: the training series)."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column (default: as trained)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column(s) (default: as trained)."),
    horizon: Optional[int] = typer.Option(None, "--horizon", help="Steps to forecast (default: the model's horizon)."),
    out: Path = typer.Option(
        Path("preds.csv"), "--out", help="CSV: time, each target's forecast, <target>_lower, <target>_upper."
    ),
    fill: Optional[str] = typer.Option(None, "--fill", help=FILL_HELP + AS_TRAINED),
    freq: Optional[str] = typer.Option(None, "--freq", help=FREQ_HELP + AS_TRAINED),
) -> None:
    """Forecast the steps after the end of a history; intervals included."""
    from ..tasks.forecasting import forecast_to_csv

    check_options(horizon=horizon)
    output_file(out)
    spec = _spec(csv, time_col, target, fill, freq)  # checks every option, with or without --csv
    spec = spec if csv is not None else None
    info = forecast_to_csv(str(model_dir), spec, horizon, str(out))
    typer.echo(f"wrote {info['rows']} rows to {info['csv']} (columns: {', '.join(info['columns'])})")
    if info["plot"]:
        typer.echo(f"plot: {info['plot']}")


@app.command()
@user_errors_as_one_line
def backtest(
    model_dir: Optional[Path] = typer.Argument(
        None, help="A model folder (its configuration and series); or give --csv."
    ),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Series file (default: the model's, or sunspots)."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column (default: the model's)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column(s) (default: the model's)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="A bundled series instead of --csv."),
    horizon: Optional[int] = typer.Option(
        None,
        "--horizon",
        help="Steps forecast from each origin (default: the model's horizon, or the forecaster's default).",
    ),
    start: float = typer.Option(
        0.8,
        "--start",
        help="First origin: a fraction in (0, 1) of the series, or a row "
        "number (negative: from the end, -36 = the last 36 rows).",
    ),
    stride: Optional[int] = typer.Option(None, "--stride", help="Rows between origins (default: the horizon)."),
    season_length: Optional[int] = typer.Option(
        None, "--season-length", help="m for MASE and the seasonal baselines (default: from the data)."
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for backtest.csv and backtest.png."),
    fill: Optional[str] = typer.Option(
        None, "--fill", help=FILL_HELP + " Default: the model's with DIR, else report them as an error."
    ),
    freq: Optional[str] = typer.Option(
        None, "--freq", help=FREQ_HELP + " Default: the model's with DIR, else inferred."
    ),
) -> None:
    """Rolling-origin backtest of rnnkit against naive, seasonal naive, ETS and ARIMA.

    Every model is refit at every origin on the rows before it and forecasts the next --horizon
    rows. With DIR, rnnkit is the model's configuration refit at each origin, not its saved weights:
    those were trained on the whole series, the scored windows included, and a backtest must not
    see the future. Prints MAE, RMSE, sMAPE, MAPE and MASE per model, averaged over the origins."""
    from ..tasks.forecasting import run_backtest

    check_options(horizon=horizon, stride=stride, season_length=season_length)
    if out is not None:
        output_folder(out)
    spec = _spec(csv, time_col, target, fill, freq, dataset)
    result, m, steps = run_backtest(
        spec,
        model_dir=None if model_dir is None else str(model_dir),
        horizon=horizon,
        start=_start_position(start),
        stride=stride,
        season=season_length,
        out=None if out is None else str(out),
    )
    refit = "the model's configuration" if model_dir is not None else "rnnkit"
    typer.echo(
        f"{len(result.origins)} origins, horizon {steps}, season length {m}; "
        f"every model ({refit} too) refit at each origin"
    )
    typer.echo(result.summary.to_string(float_format=lambda v: f"{v:.4g}"))
    if out is not None:
        typer.echo(f"table: {out}/backtest.csv; plot: {out}/backtest.png")


@app.command()
@user_errors_as_one_line
def detect(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train forecast`."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Series to scan (default: the training series)."),
    time_col: Optional[str] = typer.Option(None, "--time-col", help="The timestamp column (default: the model's)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column(s) (default: the model's)."),
    calibrate: Optional[float] = typer.Option(
        None,
        "--calibrate",
        help="Set the threshold on the leading fraction F "
        "of the scanned series (assumed mostly "
        "normal) instead of the model's training "
        "series.",
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="CSV of scores and flags (a PNG is written beside it)."),
    fill: Optional[str] = typer.Option(None, "--fill", help=FILL_HELP + AS_TRAINED),
    freq: Optional[str] = typer.Option(None, "--freq", help=FREQ_HELP + AS_TRAINED),
) -> None:
    """Flag anomalies: points far from the model's one-step forecast.

    The score is the robust z-score of the one-step residual, with the median and MAD of the
    residuals on the model's training series; a point is flagged above 4."""
    from ..tasks.forecasting import run_detect

    check_options(calibrate=calibrate)
    output_file(out)
    spec = _spec(csv, time_col, target, fill, freq)
    frame, result, source = run_detect(str(model_dir), spec, calibrate, None if out is None else str(out))
    flagged = [str(t) for t, f in zip(frame.time, result.flags, strict=True) if f]
    typer.echo(f"{len(flagged)} anomalies in {len(frame)} points (threshold {result.threshold:.3g}, set on {source})")
    for t in flagged[:50]:
        typer.echo(f"  {t}")
    if len(flagged) > 50:
        typer.echo(f"  ... and {len(flagged) - 50} more" + ("" if out is not None else " (--out writes them all)"))
    if out is not None:
        typer.echo(f"scores: {out}; plot: {out.with_suffix('.png')}")
