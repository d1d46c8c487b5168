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


def test_train_forecast_backtest(tmp_path, series_csv):
    out = tmp_path / "model"
    code, text = run("train", "forecast", "--csv", series_csv, "--time-col", "month", "--target", "sales",
                     "--horizon", 6, "--out", out, *FAST)
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
    code, text = run("train", "forecast", "--csv", series_csv, "--time-col", "month", "--target", "sales,visits",
                     "--horizon", 3, "--out", out, *FAST)
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
    assert code == 2 and "model folder not found" in text


def test_train_forecast_resume_flag(tmp_path, series_csv):
    out = tmp_path / "r"
    args = ["train", "forecast", "--csv", series_csv, "--time-col", "month", "--target", "sales", "--horizon", 6,
            "--out", out, *FAST]
    code, text = run(*args, "--resume")  # nothing to resume: a one-line warning, then a fresh run
    assert code == 0, text
    assert "warning: --resume: no checkpoint" in text and (out / "model.safetensors").is_file()
    assert not (out / "checkpoint").exists()  # the resume point is removed once the model is saved
