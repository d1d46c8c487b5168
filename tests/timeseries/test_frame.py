import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from rnnkit.timeseries.calendar import calendar_features  # noqa: E402
from rnnkit.timeseries.frame import (  # noqa: E402
    IrregularTimestampsError,
    MissingValuesError,
    from_array,
    from_dataframe,
    read_series,
)
from rnnkit.timeseries.frequency import seasonal_period  # noqa: E402


def _csv(tmp_path, df, name="s.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _monthly(n=24):
    return pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
            "sales": np.arange(n, dtype=float) + 10,
            "price": np.linspace(1, 2, n),
            "promo": (np.arange(n) % 3 == 0).astype(float),
        }
    )


def test_read_csv_targets_covariates_and_inferred_freq(tmp_path):
    frame = read_series(
        _csv(tmp_path, _monthly()), "date", "sales", past_covariates=["price"], future_covariates=["promo"]
    )
    assert frame.freq == "MS"
    assert len(frame) == 24 and frame.n_targets == 1
    assert frame.targets[:3, 0].tolist() == [10.0, 11.0, 12.0]
    assert frame.past_names == ("price",) and frame.future_names == ("promo",)
    assert frame.past_covariates.shape == (24, 1) and frame.future_covariates.shape == (24, 1)
    assert str(frame.future_times(2)[0].date()) == "2022-01-01"


def test_read_parquet_multivariate(tmp_path):
    pytest.importorskip("pyarrow")
    df = _monthly()
    path = tmp_path / "s.parquet"
    df.assign(date=pd.to_datetime(df["date"])).to_parquet(path)
    frame = read_series(path, "date", ["sales", "price"])
    assert frame.targets.shape == (24, 2)
    np.testing.assert_allclose(frame.targets[:, 1], df["price"].to_numpy())


def test_unsorted_rows_are_sorted_and_integer_time_has_its_step(tmp_path):
    df = pd.DataFrame({"year": [2004, 2000, 2002, 2006], "y": [3.0, 1.0, 2.0, 4.0]})
    frame = from_dataframe(df, "year", "y")
    assert frame.freq == 2 and list(frame.time) == [2000, 2002, 2004, 2006]
    assert frame.targets[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert list(frame.future_times(2)) == [2008, 2010]


def test_missing_values_are_reported_with_positions(tmp_path):
    df = _monthly()
    df.loc[[3, 7], "sales"] = np.nan
    with pytest.raises(
        MissingValuesError, match=r"'sales' at \[2020-04-01.*2020-08-01.*\(2 in all\); pass --fill / fill="
    ) as info:
        read_series(_csv(tmp_path, df), "date", "sales")
    assert [str(t.date()) for t in info.value.positions["sales"]] == ["2020-04-01", "2020-08-01"]


@pytest.mark.parametrize("method, expected", [("linear", 13.0), ("ffill", 12.0), ("zero", 0.0)])
def test_missing_values_filled_when_asked(tmp_path, method, expected):
    df = _monthly()
    df.loc[3, "sales"] = np.nan
    frame = read_series(_csv(tmp_path, df), "date", "sales", fill=method)
    assert frame.targets[3, 0] == expected
    assert list(frame.filled) == ["sales"]


def test_gaps_on_a_given_grid_become_missing_rows(tmp_path):
    df = _monthly().drop(index=[5]).reset_index(drop=True)
    with pytest.raises(ValueError, match="2020-06-01"):
        read_series(_csv(tmp_path, df), "date", "sales", freq="MS")
    frame = read_series(_csv(tmp_path, df), "date", "sales", freq="MS", fill="linear")
    assert len(frame) == 24 and frame.targets[5, 0] == 15.0


def test_missing_time_column_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"time column 'when' not found; the columns are \['date', 'sales'"):
        read_series(_csv(tmp_path, _monthly()), "when", "sales")


def test_missing_target_column_is_named(tmp_path):
    with pytest.raises(ValueError, match="column 'revenue' not found"):
        read_series(_csv(tmp_path, _monthly()), "date", "revenue")


def test_non_numeric_target(tmp_path):
    df = _monthly()
    df["sales"] = df["sales"].astype(object)
    df.loc[4, "sales"] = "n/a?"
    with pytest.raises(TypeError, match=r"column 'sales' is not numeric.*'n/a\?' at row 4"):
        read_series(_csv(tmp_path, df), "date", "sales")


def test_all_nan_column(tmp_path):
    df = _monthly()
    df["price"] = np.nan
    with pytest.raises(ValueError, match="column 'price' has no values: all 24 rows are missing"):
        read_series(_csv(tmp_path, df), "date", "sales", past_covariates=["price"], fill="linear")


def test_irregular_timestamps(tmp_path):
    days = pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-05", "2021-01-06", "2021-01-09"])
    df = pd.DataFrame({"t": days.strftime("%Y-%m-%d"), "y": np.arange(6.0)})
    with pytest.raises(IrregularTimestampsError, match=r"irregular timestamps in 't'.*'D' grid") as info:
        read_series(_csv(tmp_path, df), "t", "y")
    assert info.value.freq == "D" and info.value.extra == []
    assert [str(t.date()) for t in info.value.missing] == ["2021-01-04", "2021-01-07", "2021-01-08"]


def test_monthly_gaps_name_exactly_the_dropped_months(tmp_path):
    # months are 28-31 days long: the check must not mistake ordinary month changes for gaps
    df = _monthly(36).drop(index=[5, 17]).reset_index(drop=True)
    with pytest.raises(IrregularTimestampsError) as info:
        read_series(_csv(tmp_path, df), "date", "sales")
    err = info.value
    assert err.freq == "MS" and err.extra == []
    assert [str(t.date()) for t in err.missing] == ["2020-06-01", "2021-06-01"]
    message = str(err)
    assert "[2020-06-01, 2021-06-01] (2 in all)" in message
    assert "--freq MS / freq='MS'" in message and "--fill / fill=" in message
    assert "2020-02-01" not in message  # an ordinary month change is not reported


def test_a_timestamp_off_the_monthly_grid_is_named(tmp_path):
    df = _monthly(24)
    df.loc[len(df)] = ["2020-03-17", 99.0, 1.0, 0.0]
    with pytest.raises(IrregularTimestampsError, match=r"off the 'MS' grid.*2020-03-17") as info:
        read_series(_csv(tmp_path, df), "date", "sales")
    assert info.value.missing == [] and [str(t.date()) for t in info.value.extra] == ["2020-03-17"]


def test_mid_month_monthly_series_is_regular(tmp_path):
    df = _monthly(24).assign(date=lambda d: pd.to_datetime(d["date"]) + pd.Timedelta(days=14))
    frame = read_series(_csv(tmp_path, df), "date", "sales")  # the 15th of every month
    assert frame.freq == "MS+14D" and len(frame) == 24
    assert [str(t.date()) for t in frame.future_times(2)] == ["2022-01-15", "2022-02-15"]
    assert seasonal_period(frame.freq) == 12
    # a dropped mid-month row is named, and the suggested freq places the rows on their grid
    gappy = _csv(tmp_path, df.drop(index=[7]), "gappy.csv")
    with pytest.raises(IrregularTimestampsError, match=r"missing \[2020-08-15\].*--freq MS\+14D"):
        read_series(gappy, "date", "sales")
    frame = read_series(gappy, "date", "sales", freq="MS+14D", fill="linear")
    assert len(frame) == 24 and frame.targets[7, 0] == 17.0


def test_integer_time_gap_is_named(tmp_path):
    df = pd.DataFrame({"year": [2000, 2001, 2002, 2004, 2005, 2006], "y": np.arange(6.0)})
    with pytest.raises(IrregularTimestampsError, match=r"missing \[2003\].*--freq 1 / freq=1") as info:
        from_dataframe(df, "year", "y")
    assert info.value.missing == [2003]


def test_no_regular_frequency_fits(tmp_path):
    days = pd.to_datetime(["2021-01-01", "2021-01-04", "2021-02-19", "2021-02-20", "2021-07-01", "2022-03-09"])
    df = pd.DataFrame({"t": days.strftime("%Y-%m-%d"), "y": np.arange(6.0)})
    with pytest.raises(IrregularTimestampsError, match=r"no regular frequency fits.*--freq / freq=") as info:
        read_series(_csv(tmp_path, df), "t", "y")
    assert info.value.freq is None


@pytest.mark.parametrize("freq", ["MS+31D", "D+1D", "MS+x"])
def test_bad_shifted_freq_is_refused(tmp_path, freq):
    with pytest.raises(ValueError, match="not a pandas frequency alias"):
        read_series(_csv(tmp_path, _monthly()), "date", "sales", freq=freq)


@pytest.mark.parametrize(
    "freq, period",
    [
        ("W-SUN", 52),
        ("W-WED", 52),
        ("2W-SUN", 26),
        ("QS-OCT", 4),
        ("QE-DEC", 4),
        ("BQE-DEC", 4),
        ("YS-JAN", 1),
        ("YE-DEC", 1),
        ("MS", 12),
        ("ME", 12),
        ("3MS", 4),
        ("MS+14D", 12),
        ("D", 7),
        ("B", 5),
        ("h", 24),
        ("2h", 12),
        ("5D", 1),
        ("min", 1),
        (3, 1),
        (None, 1),
    ],
)
def test_seasonal_period_normalises_anchors_and_multiples(freq, period):
    assert seasonal_period(freq) == period


def test_duplicate_timestamps(tmp_path):
    df = pd.DataFrame({"t": ["2021-01-01", "2021-01-02", "2021-01-02", "2021-01-03"], "y": np.arange(4.0)})
    with pytest.raises(ValueError, match="duplicate timestamps"):
        read_series(_csv(tmp_path, df), "t", "y")


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "s.xlsx"
    path.write_text("x")
    with pytest.raises(ValueError, match="unsupported file type"):
        read_series(path, "t", "y")


def test_from_array_and_split():
    frame = from_array(np.arange(10.0))
    train, test = frame.split(-3)
    assert len(train) == 7 and len(test) == 3 and list(test.time) == [7, 8, 9]
    with pytest.raises(ValueError, match="finite"):
        from_array([1.0, np.nan, 2.0])
    with pytest.raises(TypeError, match="numeric"):
        from_array(np.array(["a", "b"]))


def test_calendar_features_follow_the_spacing():
    monthly, names = calendar_features(pd.date_range("2020-01-01", periods=14, freq="MS"))
    assert names == ("month_sin", "month_cos")
    np.testing.assert_allclose(monthly[0], monthly[12], atol=1e-12)  # a year later: same month
    daily, names = calendar_features(pd.date_range("2020-01-01", periods=10, freq="D"))
    assert names == ("dayofweek_sin", "dayofweek_cos", "month_sin", "month_cos")
    yearly, names = calendar_features(pd.date_range("2000-01-01", periods=5, freq="YS"))
    assert yearly.shape == (5, 0) and names == ()


def test_integer_time_with_no_regular_step():
    df = pd.DataFrame({"t": [1, 2, 10, 50, 100, 101], "y": np.arange(6.0)})
    with pytest.raises(IrregularTimestampsError, match="no regular frequency fits") as info:
        from_dataframe(df, "t", "y")
    assert info.value.freq is None


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00\x81 not text \x00\xff", b'a,b\n"1,2\n'])
def test_a_file_that_is_not_a_readable_csv_is_named(tmp_path, content):
    from rnnkit._checks import FileFormatError

    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=r"bad\.csv' (could not be read as CSV|is empty)"):
        read_series(path, "a", "b")
