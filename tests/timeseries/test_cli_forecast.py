"""The forecasting verbs of `rnnkit` end to end on small generated CSVs."""

import numpy as np
import pytest
from typer.testing import CliRunner

pd = pytest.importorskip("pandas")
pytest.importorskip("statsmodels")

from rnnkit.cli import app  # noqa: E402

FAST = ["--max-epochs", "15", "--input-length", "24"]


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def series_csv(tmp_path):
    t = pd.date_range("2000-01-01", periods=120, freq="MS")
    y = 10 + np.sin(np.arange(120) * 2 * np.pi / 12) + 0.05 * np.arange(120)
    path = tmp_path / "sales.csv"
    pd.DataFrame({"month": t, "sales": y, "visits": 2 * y}).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_train_forecast_backtest(tmp_path, series_csv):
    out = tmp_path / "model"
    code, text = run(
        "train",
        "forecast",
        "--csv",
        series_csv,
        "--time-col",
        "month",
        "--target",
        "sales",
        "--horizon",
        6,
        "--out",
        out,
        *FAST,
    )
    assert code == 0, text
    for name in ("config.json", "model.safetensors", "preprocessing.json", "series.json", "forecast.png"):
        assert (out / name).is_file(), name

    preds = tmp_path / "preds.csv"
    code, text = run("forecast", out, "--csv", series_csv, "--horizon", 6, "--out", preds)
    assert code == 0, text
    table = pd.read_csv(preds)
    assert list(table.columns) == ["month", "sales", "sales_lower", "sales_upper"]
    assert len(table) == 6 and table["month"].iloc[0] == "2010-01-01"  # continues after the history
    assert (table["sales_lower"] <= table["sales"]).all() and (table["sales"] <= table["sales_upper"]).all()
    assert (preds.with_suffix(".png")).is_file()

    code, text = run("backtest", out, "--horizon", 6, "--start", 0.85, "--out", tmp_path / "bt")
    assert code == 0, text
    for model in ("rnnkit", "naive", "seasonal_naive", "ets", "arima"):
        assert model in text
    assert "mase" in text.lower() and (tmp_path / "bt" / "backtest.png").is_file()


def test_multivariate_targets(tmp_path, series_csv):
    out = tmp_path / "mv"
    code, text = run(
        "train",
        "forecast",
        "--csv",
        series_csv,
        "--time-col",
        "month",
        "--target",
        "sales,visits",
        "--horizon",
        3,
        "--out",
        out,
        *FAST,
    )
    assert code == 0, text
    code, text = run("forecast", out, "--horizon", 3, "--out", tmp_path / "p.csv")
    assert code == 0, text
    cols = list(pd.read_csv(tmp_path / "p.csv").columns)
    assert cols == ["month", "sales", "visits", "sales_lower", "sales_upper", "visits_lower", "visits_upper"]


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["--time-col", "when", "--target", "sales"], "when"),
        (["--time-col", "month", "--target", "nope"], "nope"),
        (["--time-col", "month", "--target", "sales", "--horizon", "0"], "horizon"),
        (["--target", "sales"], "--time-col is required"),
    ],
)
def test_forecast_errors_are_one_line(tmp_path, series_csv, args, pattern):
    code, text = run("train", "forecast", "--csv", series_csv, "--out", tmp_path / "m", *FAST, *args)
    assert code == 2 and "Traceback" not in text
    assert text.strip().splitlines()[-1].startswith("error: ") and pattern in text, text


def test_missing_files_and_folders(tmp_path):
    code, text = run("train", "forecast", "--csv", tmp_path / "none.csv", "--time-col", "t", "--target", "y")
    assert code == 2 and "CSV file not found" in text
    code, text = run("forecast", tmp_path / "none")
    assert code == 2 and "does not exist" in text


def test_train_forecast_resume_flag(tmp_path, series_csv):
    out = tmp_path / "r"
    args = [
        "train",
        "forecast",
        "--csv",
        series_csv,
        "--time-col",
        "month",
        "--target",
        "sales",
        "--horizon",
        6,
        "--out",
        out,
        *FAST,
    ]
    code, text = run(*args, "--resume")  # nothing to resume: a note, then a fresh run
    assert code == 0, text
    assert f"note: nothing to resume in {out} (no run there yet)" in text and (out / "model.safetensors").is_file()
    assert not (out / "checkpoint").exists()  # the resume point is removed once the model is saved
    before = (out / "model.safetensors").read_bytes()
    code, text = run(*args, "--resume")  # the run finished: nothing to resume, and nothing is replaced
    assert code == 2 and "the run finished" in text and (out / "model.safetensors").read_bytes() == before
    code, text = run(*args)  # a fresh run into the folder of a model: refused, naming the ways on
    assert code == 2 and "--resume" in text and "--overwrite" in text
    code, text = run(*args, "--overwrite")
    assert code == 0, text
    assert not any(p.name.startswith(".r.") for p in tmp_path.iterdir())  # no staging folder left behind


# ---- seasons, frequencies, paths, backtest options ---------------------------------------------


@pytest.mark.parametrize(
    "freq, season",
    [
        ("W", 52),
        ("W-WED", 52),
        ("2W", 26),
        ("QS-OCT", 4),
        ("QE-DEC", 4),
        ("MS", 12),
        ("ME", 12),
        ("D", 7),
        ("h", 24),
        ("YS-JAN", 1),
    ],
)
def test_season_length_from_the_inferred_frequency(tmp_path, freq, season):
    from rnnkit.tasks.forecasting import SeriesSpec, season_of

    path = tmp_path / "s.csv"
    pd.DataFrame({"t": pd.date_range("2001-01-01", periods=30, freq=freq), "y": np.arange(30.0)}).to_csv(
        path, index=False
    )
    spec = SeriesSpec(csv=str(path), time_column="t", targets=["y"])
    frame = spec.load()
    assert season_of(frame, spec, None) == season, frame.freq


@pytest.mark.parametrize("verb", [["train", "forecast"], ["forecast"], ["backtest"], ["detect"]])
def test_the_verbs_that_read_a_csv_take_freq(verb):
    code, text = run(*verb, "--help")
    assert code == 0 and "--freq" in text and "--fill" in text


def test_freq_places_rows_with_gaps_on_the_grid(tmp_path, series_csv):
    gappy = tmp_path / "gappy.csv"
    pd.read_csv(series_csv).drop(index=[30, 61]).to_csv(gappy, index=False)
    out = tmp_path / "m"
    base = [
        "train",
        "forecast",
        "--csv",
        gappy,
        "--time-col",
        "month",
        "--target",
        "sales",
        "--horizon",
        6,
        "--out",
        out,
        *FAST,
    ]
    code, text = run(*base)
    assert code == 2 and text.strip().splitlines()[-1].startswith("error: irregular timestamps")
    assert "missing [2002-07-01, 2005-02-01] (2 in all)" in text and "--freq MS / freq='MS'" in text
    code, text = run(*base, "--freq", "MS")  # on the grid now, but two values missing
    assert code == 2 and "missing values" in text and "--fill / fill=" in text
    code, text = run(*base, "--freq", "MS", "--fill", "linear")
    assert code == 0, text
    assert "trained on 120 rows" in text
    # the folder remembers --freq and --fill: the same file continues without them
    code, text = run("forecast", out, "--csv", gappy, "--horizon", 3, "--out", tmp_path / "p.csv")
    assert code == 0, text
    assert pd.read_csv(tmp_path / "p.csv")["month"].tolist() == ["2010-01-01", "2010-02-01", "2010-03-01"]


@pytest.mark.slow
def test_model_folder_works_from_another_directory_and_backtest_defaults(tmp_path, series_csv, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    code, text = run(
        "train",
        "forecast",
        "--csv",
        "sales.csv",
        "--time-col",
        "month",
        "--target",
        "sales",
        "--horizon",
        6,
        "--out",
        "model",
        *FAST,
    )
    assert code == 0, text
    assert json.loads((tmp_path / "model" / "series.json").read_text())["csv"] == str(series_csv.resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # no --csv: the model's own file; no --horizon: the model's own (6); --start -12: 12 rows from the end
    code, text = run("backtest", tmp_path / "model", "--start", -12)
    assert code == 0, text
    assert "2 origins, horizon 6" in text and "refit" in text


@pytest.mark.parametrize("start", ["1.5", "-0.5", "0", "inf"])
def test_backtest_start_is_a_fraction_or_a_whole_row(series_csv, start):
    code, text = run("backtest", "--csv", series_csv, "--time-col", "month", "--target", "sales", "--start", start)
    assert code == 2 and text.strip().splitlines()[-1].startswith("error: ") and "--start" in text, text


def test_backtest_help_says_it_refits():
    code, text = run("backtest", "--help")
    assert code == 0 and "refit" in " ".join(text.split())


# ---- the bundled series, Parquet, detection ------------------------------------------------------


def test_train_forecast_without_csv_uses_sunspots(tmp_path):
    code, text = run("train", "forecast", "--out", tmp_path / "sun", "--max-epochs", 5)
    assert code == 0, text
    assert "trained on 309 rows of sunactivity" in text
    assert "5 epochs" in text  # epochs run, not the log's starting-point entry
    code, text = run("forecast", tmp_path / "sun", "--horizon", 3, "--out", tmp_path / "p.csv")
    assert code == 0, text
    assert pd.read_csv(tmp_path / "p.csv")["time"].tolist()[0].startswith("2009")


def test_parquet_file_through_the_cli(tmp_path, series_csv):
    pytest.importorskip("pyarrow")
    path = tmp_path / "sales.parquet"
    pd.read_csv(series_csv, parse_dates=["month"]).to_parquet(path)
    out = tmp_path / "pq"
    code, text = run(
        "train",
        "forecast",
        "--csv",
        path,
        "--time-col",
        "month",
        "--target",
        "sales",
        "--horizon",
        4,
        "--out",
        out,
        *FAST,
    )
    assert code == 0, text
    code, text = run("forecast", out, "--csv", path, "--horizon", 4, "--out", tmp_path / "p.csv")
    assert code == 0, text
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == ["month", "sales", "sales_lower", "sales_upper"] and len(table) == 4
    assert table["month"].iloc[0] == "2010-01-01"


@pytest.fixture
def noisy_series(tmp_path):
    """A noisy monthly series (the model learns it), a copy with two spikes, a much noisier copy."""
    rng = np.random.default_rng(0)
    t = pd.date_range("2000-01-01", periods=120, freq="MS")
    y = 10 + np.sin(np.arange(120) * 2 * np.pi / 12) + 0.05 * np.arange(120) + 0.1 * rng.standard_normal(120)
    paths = {}
    for name, values in [
        ("clean", y),
        ("spiky", y + 2.0 * np.isin(np.arange(120), [70, 101])),
        ("noisier", y + 1.0 * rng.standard_normal(120)),
    ]:
        paths[name] = tmp_path / f"{name}.csv"
        pd.DataFrame({"month": t, "sales": values}).to_csv(paths[name], index=False)
    return paths


@pytest.mark.slow
def test_detect_flags_spikes_with_a_threshold_from_the_training_series(tmp_path, noisy_series, monkeypatch):
    out = tmp_path / "det"
    code, text = run(
        "train",
        "forecast",
        "--csv",
        noisy_series["clean"],
        "--time-col",
        "month",
        "--target",
        "sales",
        "--horizon",
        1,
        "--out",
        out,
        *FAST,
    )
    assert code == 0, text

    flags = tmp_path / "flags.csv"
    code, text = run("detect", out, "--csv", noisy_series["spiky"], "--out", flags)
    assert code == 0, text
    assert "set on the model's training series" in text
    assert "2 anomalies in 120 points" in text and "2005-11-01" in text and "2008-06-01" in text
    table = pd.read_csv(flags)
    assert list(table.columns) == ["month", "score", "anomaly"]
    assert table.loc[table["anomaly"], "month"].tolist() == ["2005-11-01", "2008-06-01"]
    assert flags.with_suffix(".png").is_file()

    # the threshold comes from the training series: a scan much noisier than it is flagged all over,
    # unless --calibrate sets the scale on the scanned file's own leading half
    code, text = run("detect", out, "--csv", noisy_series["noisier"])
    assert code == 0, text
    by_training = int(text.split(" anomalies")[0].split()[-1])
    code, text = run("detect", out, "--csv", noisy_series["noisier"], "--calibrate", 0.5)
    assert code == 0, text
    assert "set on the first 60 points of the scanned series" in text
    by_scan = int(text.split(" anomalies")[0].split()[-1])
    assert by_training >= 20 and by_scan <= 5, (by_training, by_scan)

    # without --csv it scans the training series, found by its absolute path from anywhere
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, text = run("detect", out)
    assert code == 0, text
    assert "in 120 points" in text

    # the training file gone: detect says so, and --calibrate still works on the scanned file
    noisy_series["clean"].rename(tmp_path / "moved.csv")
    code, text = run("detect", out, "--csv", noisy_series["spiky"])
    assert code == 2 and "training series" in text and "--calibrate" in text, text
    code, text = run("detect", out, "--csv", noisy_series["spiky"], "--calibrate", 0.5)
    assert code == 0 and "2 anomalies in 120 points" in text, text
