import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from rnnkit.data.timeseries import (  # noqa: E402
    MissingValuesError,
    calendar_features,
    from_array,
    from_dataframe,
    read_series,
)


def _csv(tmp_path, df, name="s.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _monthly(n=24):
    return pd.DataFrame({
        "date": pd.date_range("2020-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
        "sales": np.arange(n, dtype=float) + 10,
        "price": np.linspace(1, 2, n),
        "promo": (np.arange(n) % 3 == 0).astype(float),
    })


def test_read_csv_targets_covariates_and_inferred_freq(tmp_path):
    frame = read_series(_csv(tmp_path, _monthly()), "date", "sales", past_covariates=["price"], future_covariates=["promo"])
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
    with pytest.raises(MissingValuesError, match=r"'sales' at \[2020-04-01.*2020-08-01.*\(2 in all\)") as info:
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
    with pytest.raises(ValueError, match=r"irregular timestamps in 't'.*2021-01-03.* -> 2021-01-05"):
        read_series(_csv(tmp_path, df), "t", "y")


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
