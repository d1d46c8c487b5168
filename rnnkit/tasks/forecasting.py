"""Recipe: forecast a series from a CSV (or a bundled series), backtest it, flag anomalies.

Assembles library pieces from :mod:`rnnkit.timeseries`; no model code. A model folder written by
:func:`train_forecaster` holds the :class:`~rnnkit.timeseries.forecaster.Forecaster` in the one
model format (``config.json``, ``model.safetensors``, ``preprocessing.json``), ``series.json``
(which columns of which file it learned), ``train_log.csv`` / ``val_log.csv`` (the Trainer's logs)
and ``forecast.png`` (the training series and a forecast from its end, with the interval band).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

from .._checks import FileFormatError, InvalidValueError, MissingFileError, in_range, positive_int
from ..data.atomic import atomic_write
from ..timeseries.config import ForecasterConfig

SERIES_FILE = "series.json"
DEFAULT_DATASET = "sunspots"  # ships inside statsmodels: usable with no file and no download


@dataclass
class SeriesSpec:
    csv: Optional[str] = None  # the file; None = the bundled dataset below
    dataset: Optional[str] = None  # a bundled series name when there is no file
    time_column: Optional[str] = None  # the timestamp column of the file
    targets: Optional[List[str]] = None  # the columns to forecast
    fill: Optional[str] = None  # how to fill missing values; None = report them as an error
    freq: Optional[str] = None  # the file's frequency ('MS', or an int step as text); None = inferred

    def load(self):
        from ..timeseries.datasets import load_dataset
        from ..timeseries.frame import read_series

        if self.csv is None:
            return load_dataset(self.dataset or DEFAULT_DATASET)
        if not self.time_column:
            raise InvalidValueError("--time-col is required with --csv: name the column holding the timestamps")
        if not self.targets:
            raise InvalidValueError(
                "--target is required with --csv: name the column(s) to forecast, e.g. --target sales,visits"
            )
        return read_series(self.csv, self.time_column, self.targets, fill=self.fill, freq=parse_freq(self.freq))

    @classmethod
    def of_model(cls, record: Dict[str, object]) -> "SeriesSpec":
        """The series a model folder was trained on (its ``series.json``)."""
        return cls(
            csv=record.get("csv"),
            dataset=record.get("dataset"),
            time_column=record["time_column"],
            targets=list(record["targets"]),
            fill=record.get("fill"),
            freq=record.get("freq"),
        )

    def continuing(self, record: Dict[str, object]) -> "SeriesSpec":
        """This file read as the model's series was: columns, fill and freq default to the model's."""
        return SeriesSpec(
            csv=self.csv,
            time_column=self.time_column or record["time_column"],
            targets=self.targets or list(record["targets"]),
            fill=self.fill if self.fill is not None else record.get("fill"),
            freq=self.freq if self.freq is not None else record.get("freq"),
        )


def parse_freq(text: Optional[str]):
    """``--freq``: a pandas alias for dates ('MS', 'W-SUN', 'MS+14D'), digits for an integer step."""
    if text is None:
        return None
    text = str(text).strip()
    return int(text) if text.isdigit() else text


def season_of(frame, spec: SeriesSpec, given: Optional[int]) -> int:
    """The seasonal period: as given, else the bundled dataset's (its registry entry), else the
    frequency's (:func:`rnnkit.timeseries.frequency.seasonal_period`: 'W-SUN' 52, 'QS-OCT' 4, ...)."""
    if given is not None:
        return positive_int("--season-length", given)
    if spec.csv is None:
        from ..timeseries.datasets import dataset_info

        return dataset_info(spec.dataset or DEFAULT_DATASET).season
    from ..timeseries.frequency import seasonal_period

    return seasonal_period(frame.freq)


def parse_targets(text: Optional[str]) -> Optional[List[str]]:
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise InvalidValueError(f"--target must name at least one column, got {text!r}")
    return names


CHECKPOINT_DIR = "checkpoint"  # inside the model folder, while training runs: the Trainer's checkpoints
CHECKPOINT_EVERY = 5  # epochs between resume points
LOG_FILES = ("train_log.csv", "val_log.csv")  # the Trainer's logs, kept in the model folder
# how the user gave each setting a resumed run checks (the command line's names)
OPTION_NAMES = {
    "csv": "--csv",
    "dataset": "--dataset",
    "time_column": "--time-col",
    "targets": "--target",
    "fill": "--fill",
    "freq": "--freq",
    "horizon": "--horizon",
    "cell": "--cell",
    "input_length": "--input-length",
    "max_epochs": "--max-epochs",
    "seed": "--seed",
    "rows": "the series' rows",
}


def train_forecaster(
    spec: SeriesSpec,
    out: str,
    *,
    horizon: int = ForecasterConfig.horizon,
    cell: str = ForecasterConfig.cell,
    input_length: int = ForecasterConfig.input_length,
    max_epochs: int = ForecasterConfig.epochs,
    seed: int = ForecasterConfig.seed,
    resume: bool = False,
    overwrite: bool = False,
    progress: Optional[bool] = False,
    log: Callable[[str], None] = print,
) -> Dict[str, object]:
    """Fit a Forecaster on the whole series, save it to ``out`` with a forecast plot.

    The Forecaster trains on the Trainer; while it runs, ``out/checkpoint/`` holds its resume point
    (written every few epochs: the network, Adam's moments, the best weights so far, the RNG) and
    logs. ``resume=True`` continues from it exactly; a run given other options (or another series)
    is refused, naming each option with its saved and given value (only ``max_epochs`` may change,
    :mod:`rnnkit.training.resume`). The checkpoint is removed once the model is saved; the logs move
    into ``out``. A folder that already holds a forecaster needs ``resume`` or ``overwrite``
    (:func:`~rnnkit.training.run_folder.plan_run_folder`); everything is checked before anything
    is written, so a refused run changes nothing.
    """
    from ..timeseries.forecaster import MODEL_TYPE, Forecaster
    from ..timeseries.plots import plot_forecast
    from ..training.checkpoint import find_checkpoint, load_training_state
    from ..training.resume import check_resume
    from ..training.run_folder import plan_run_folder

    plan = plan_run_folder(
        out,
        MODEL_TYPE,
        resume=resume,
        overwrite=overwrite,
        checkpoint_dirs=(f"{CHECKPOINT_DIR}/last",),
        finished=_forecaster_finished,
        log=log,
    )
    frame = spec.load()
    config = ForecasterConfig(cell=cell, horizon=horizon, input_length=input_length, epochs=max_epochs, seed=seed)
    # the file by its absolute path, so that the folder's series is found from any working directory
    record = {
        "csv": str(Path(spec.csv).resolve()) if spec.csv else None,
        "dataset": None if spec.csv else (spec.dataset or DEFAULT_DATASET),
        "time_column": spec.time_column or "time",
        "targets": list(frame.target_names),
        "fill": spec.fill,
        "freq": spec.freq,
    }
    options = {
        **record,
        "horizon": horizon,
        "cell": cell,
        "input_length": input_length,
        "max_epochs": max_epochs,
        "seed": seed,
        "rows": len(frame),
    }
    out_dir = plan.work
    ckpt = out_dir / CHECKPOINT_DIR
    found = find_checkpoint(ckpt / "last") if plan.resuming else None
    if found is not None:  # the one statement of resume rules, in the command line's names
        check_resume(
            load_training_state(found).get("settings") or {},
            options,
            str(plan.target),
            label=lambda name: OPTION_NAMES.get(name, name),
            show=lambda name, value: "unset" if value is None else repr(value),
            how_to="give the options it was started with (only --max-epochs may change), or another --out",
        )
    model = Forecaster(config)
    plan.create()  # every check has passed: from here on the run writes
    model.fit(
        frame,
        checkpoint_dir=ckpt,
        resume=found is not None,
        checkpoint_every=CHECKPOINT_EVERY,
        settings=options,
        progress=progress,
    )
    model.save_pretrained(out_dir, files={SERIES_FILE: json.dumps(record, indent=2)})
    for name in LOG_FILES:
        if (ckpt / name).is_file():
            (ckpt / name).replace(out_dir / name)
    shutil.rmtree(ckpt, ignore_errors=True)
    forecast = model.predict(horizon)
    plot_forecast(
        frame,
        forecast,
        out_dir / "forecast.png",
        last=max(4 * horizon, 60),
        title=f"{', '.join(frame.target_names)}: {horizon}-step forecast",
    )
    final = plan.commit()
    return {
        "rows": len(frame),
        "targets": list(frame.target_names),
        "horizon": horizon,
        "plot": str(final / "forecast.png"),
        "model_dir": str(final),
        "resumed_from": model.resumed_from,
        "epochs": model.epochs,
    }


def _forecaster_finished(folder: Path) -> Optional[str]:
    """A finished forecaster run keeps its model and removes its checkpoint: nothing to continue."""
    from ..models.format import has_model
    from ..training.checkpoint import find_checkpoint

    if find_checkpoint(folder / CHECKPOINT_DIR / "last") is None and has_model(folder):
        return (
            "the run finished (its model is saved and its checkpoint was removed); "
            "--overwrite trains a new one in its place, or choose another --out"
        )
    return None


def load_model(model_dir: str):
    """The forecaster in a folder written by :func:`train_forecaster`, and its ``series.json``.

    Another kind of model (a language model) or a folder without ``series.json`` is refused with a
    message saying what the folder holds."""
    from ..models.format import read_model
    from ..timeseries.forecaster import Forecaster

    folder = Path(model_dir)
    model_folder = read_model(folder, expected="forecaster")
    if not (folder / SERIES_FILE).is_file():
        raise MissingFileError(f"{folder} holds no {SERIES_FILE}: not a folder written by `rnnkit train forecast`")
    record = model_folder.read_json(SERIES_FILE)
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("time_column"), str)
        or not isinstance(record.get("targets"), list)
        or not record["targets"]
    ):
        raise FileFormatError(
            f"{str(folder / SERIES_FILE)!r} must name the series' time_column and targets, got {record!r:.120}"
        )
    return Forecaster.from_folder(model_folder), record


def forecast_to_csv(
    model_dir: str, spec: Optional[SeriesSpec], horizon: Optional[int], out_csv: str
) -> Dict[str, object]:
    """Forecast ``horizon`` steps (default: the model's horizon) after the end of ``spec``'s series
    (default: the training series)."""
    from ..timeseries.plots import plot_forecast

    model, record = load_model(model_dir)
    horizon = model.config.horizon if horizon is None else horizon
    history = None
    if spec is not None and spec.csv is not None:
        history = spec.continuing(record).load()
    forecast = model.predict(horizon, history=history)
    frame = forecast.to_dataframe()
    frame.index.name = record["time_column"]
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, frame.to_csv())
    plot = None
    if history is not None:
        plot = plot_forecast(history, forecast, out.with_suffix(".png"), last=max(4 * horizon, 60))
    return {
        "rows": horizon,
        "csv": str(out),
        "plot": None if plot is None else str(plot),
        "columns": [frame.index.name] + list(frame.columns),
    }


def run_backtest(
    spec: SeriesSpec,
    *,
    model_dir: Optional[str],
    horizon: Optional[int],
    start: Union[int, float],
    stride: Optional[int],
    season: Optional[int],
    config_overrides: Optional[dict] = None,
    out: Optional[str] = None,
):
    """rnnkit against naive, seasonal naive, ETS and ARIMA on the same rolling origins.

    With ``model_dir``, rnnkit is the folder's *configuration* refitted at every origin on the rows
    before it, not its saved weights: those were trained on the whole series, the windows scored
    here included, and a backtest must not see the future. ``horizon`` defaults to the model's
    (``ForecasterConfig``'s without a model). Returns ``(BacktestResult, season length, horizon)``.
    """
    from ..timeseries.backtest import backtest
    from ..timeseries.baselines import ARIMAForecaster, ETSForecaster, NaiveForecaster, SeasonalNaiveForecaster
    from ..timeseries.forecaster import Forecaster

    if model_dir is not None:
        model, record = load_model(model_dir)
        if spec.csv is None and spec.dataset is None:
            spec = SeriesSpec.of_model(record)
        elif spec.csv is not None:
            spec = spec.continuing(record)
        config = model.config
        horizon = config.horizon if horizon is None else horizon
    else:
        horizon = ForecasterConfig.horizon if horizon is None else horizon
        config = ForecasterConfig(horizon=horizon, **(config_overrides or {}))
    frame = spec.load()
    m = season_of(frame, spec, season)
    models = {
        "rnnkit": Forecaster(config),
        "naive": NaiveForecaster(),
        "seasonal_naive": SeasonalNaiveForecaster(m),
        "ets": ETSForecaster(m, trend="add", seasonal="add" if m > 1 else None),
        "arima": ARIMAForecaster(m),
    }
    result = backtest(models, frame, start=start, horizon=horizon, stride=stride or horizon, season_length=m)
    if out is not None:
        from ..timeseries.plots import plot_backtest_errors

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "backtest.csv", result.summary.to_csv())
        plot_backtest_errors(result.summary, folder / "backtest.png", metric="mase")
    return result, m, horizon


def run_detect(model_dir: str, spec: SeriesSpec, calibrate: Optional[float], out_csv: Optional[str]):
    """Flag points whose one-step forecast residual is extreme (a robust z-score above 4).

    The residuals' centre and scale -- hence the threshold -- are set on the model's own training
    series (the file or bundled series in ``series.json``); ``calibrate=F`` sets them on the
    leading fraction F of the scanned series instead. The scanned series is ``spec``'s file, or
    the training series. Returns ``(scanned frame, AnomalyResult, where the threshold was set)``.
    """
    from ..timeseries.anomaly import AnomalyDetector

    if calibrate is not None:
        in_range("--calibrate", calibrate, 0.0, 1.0, low_open=True, high_open=True)
    model, record = load_model(model_dir)
    training = SeriesSpec.of_model(record)
    if calibrate is None and training.csv is not None and not Path(training.csv).is_file():
        raise MissingFileError(
            f"the model's training series {training.csv} is gone, and it sets the threshold: "
            "restore it, or pass --csv FILE --calibrate F to set the threshold on the leading "
            "fraction F of FILE"
        )
    scanned = training if spec.csv is None else spec.continuing(record)
    frame = scanned.load()
    if calibrate is None:
        reference = frame if scanned is training else training.load()
        source = f"the model's training series, {training.csv or training.dataset}"
    else:
        reference = frame.slice(0, int(len(frame) * calibrate))
        source = f"the first {len(reference)} points of the scanned series"
    detector = AnomalyDetector(model).fit(reference, fit_forecaster=False)
    result = detector.detect(frame)
    if out_csv is not None:
        import pandas as pd

        from ..timeseries.plots import plot_anomalies

        table = pd.DataFrame({"score": result.scores, "anomaly": result.flags}, index=frame.time)
        table.index.name = record["time_column"]
        out = Path(out_csv)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, table.to_csv())
        plot_anomalies(frame, result, out.with_suffix(".png"))
    return frame, result, source
