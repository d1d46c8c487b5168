"""Property tests of the series readers: any table is either a valid frame or one of rnnkit's errors.

Random CSV files (odd column names, numbers huge and infinite and missing, empty cells, strings,
dates, duplicate and unsorted timestamps, 0 to a dozen rows, header-only files, random bytes) are
read through :func:`read_series` with random choices of time column, targets, covariates, freq
and fill. Whatever comes back must be a frame whose every value can be computed with (finite,
within +-MAX_MAGNITUDE) on sorted, unique timestamps; whatever is raised must be a
:class:`rnnkit._checks.UserError`. A valid frame must then go through the scaler and back finite.
"""

import csv
import math
import os
import re
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rnnkit._checks import InvalidTypeError, InvalidValueError, UserError
from rnnkit.timeseries.frame import FILL_METHODS, TimeSeriesFrame, from_array, read_series
from rnnkit.timeseries.scaling import MAX_MAGNITUDE, MAX_SCALED, StandardScaler

SETTINGS = settings(
    max_examples=int(os.environ.get("PROP_N", 80)), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# ---- strategies ---------------------------------------------------------------------------------

ODD_NAMES = ["", " ", "sales", "Sales", "a,b", 'q"uote', "naïve", "数据", "1", "nan", "date", "Unnamed: 0", "x" * 40]
names = st.one_of(st.sampled_from(ODD_NAMES), st.text(min_size=1, max_size=8))

EXTREME = [
    "inf", "-inf", "Infinity", "nan", "NaN", "1e308", "-1e308", "1.7976931348623157e308", "1e306", "1e150",
    "-1e150", "1.0000001e150", "1e151", "5e-324", "0", "-0.0", "1e-300",
]  # fmt: skip
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(EXTREME),
    st.floats(min_value=-1e3, max_value=1e3).map(lambda x: f"{x:.6g}"),
)
dates = st.dates(min_value=__import__("datetime").date(1900, 1, 1)).map(str)
cells = st.one_of(
    numbers,
    numbers,
    st.just(""),
    st.text(max_size=6),
    dates,
    st.sampled_from(["2020-13-01", "yesterday", "TRUE", "1,5", "--", "0x10"]),
)


@st.composite
def time_columns(draw, n):
    """A time column of n cells: a regular grid (maybe shuffled, with a duplicate or a gap), or random."""
    kind = draw(st.sampled_from(["days", "months", "ints", "random"]))
    if kind == "random":
        return [draw(cells) for _ in range(n)]
    start = draw(st.integers(min_value=0, max_value=400))
    if kind == "ints":
        step = draw(st.sampled_from([1, 2, 5]))
        values = [str(start + step * i) for i in range(n)]
    else:
        import pandas as pd

        freq = "D" if kind == "days" else "MS"
        grid = pd.date_range(pd.Timestamp("2000-01-01") + pd.Timedelta(days=start), periods=n, freq=freq)
        values = [str(t.date()) for t in grid]
    if n > 2 and draw(st.integers(0, 2)) == 0:
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(0, n - 1))
        if draw(st.booleans()):
            values[i] = values[j]  # a duplicate timestamp
        else:
            del values[i]  # a gap
            values.append(values[-1])
    if draw(st.integers(0, 2)) == 0:
        values = draw(st.permutations(values))
    return list(values)


clean_numbers = st.integers(0, 19).flatmap(
    lambda k: st.just("") if k == 0 else st.floats(min_value=-1e6, max_value=1e6).map(lambda x: f"{x:.6g}")
)  # one cell in 20 missing


@st.composite
def tables(draw):
    """(header, rows): a time column and 1-4 value columns, 0-12 rows."""
    n_cols = draw(st.integers(1, 4))
    header = [draw(st.sampled_from(["date", "t", "time"]))] + [draw(names) for _ in range(n_cols)]
    n_rows = draw(st.integers(0, 12))
    time = draw(time_columns(n_rows))
    value_cells = draw(st.sampled_from([clean_numbers, clean_numbers, numbers, cells]))
    rows = [[time[i]] + [draw(value_cells) for _ in range(n_cols)] for i in range(n_rows)]
    if rows and draw(st.integers(0, 9)) == 0:  # a ragged row
        rows[draw(st.integers(0, n_rows - 1))].append("extra")
    return header, rows


@st.composite
def requests(draw, header, sensible=True):
    """Arguments for read_series over ``header``. ``sensible``: the first column as time, others as
    targets and covariates, a valid fill; else anything, absent columns and invalid fills too."""
    columns = [c for c in dict.fromkeys(header[1:]) if c != header[0]]
    if sensible and columns:
        chosen = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=len(columns), unique=True))
        split = draw(st.integers(1, len(chosen)))
        return dict(
            time_column=header[0],
            target_columns=chosen[:split],
            past_covariates=chosen[split:],
            freq=draw(st.sampled_from([None, None, None, "D", "MS", 1])),
            fill=draw(st.sampled_from([None, *FILL_METHODS])),
        )
    pool = list(dict.fromkeys(header)) + ["missing"]
    return dict(
        time_column=draw(st.sampled_from(pool)),
        target_columns=draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2)),
        past_covariates=draw(st.lists(st.sampled_from(pool), max_size=1)),
        freq=draw(st.sampled_from([None, "D", "MS", 1, 2, "xyz", 0, -1])),
        fill=draw(st.sampled_from([None, *FILL_METHODS, "foo", "", "Linear", 3])),
    )


# ---- what a valid frame is ------------------------------------------------------------------------


def assert_valid_frame(frame, request):
    assert isinstance(frame, TimeSeriesFrame)
    T = len(frame.time)
    assert T >= 1 and frame.targets.shape == (T, len(request["target_columns"]))
    assert list(frame.target_names) == list(request["target_columns"])
    assert frame.time.is_monotonic_increasing and frame.time.is_unique
    for block in (frame.targets, frame.past_covariates, frame.future_covariates):
        if block is not None:
            assert block.dtype == np.float64 and block.shape[0] == T
            assert np.isfinite(block).all() and (np.abs(block) <= MAX_MAGNITUDE).all()


def read(path, request):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' date-format guesses are not the point here
        return read_series(path, **request)


def check_outcome(path, request):
    """Read ``path``: a valid frame, or a UserError (an invalid fill is always refused, first)."""
    fill = request["fill"]
    try:
        frame = read(path, request)
    except UserError as err:
        gist = " ".join(re.sub(r"'[^']*'", "'.'", str(err)).split()[:4])  # quoted names and paths elided
        event(f"refused: {type(err).__name__}: {gist}")
        if fill is not None and fill not in FILL_METHODS:
            assert isinstance(err, InvalidValueError) and "fill must be one of" in str(err), err
        assert str(err)  # a message, always
        return None
    assert fill is None or fill in FILL_METHODS, f"fill={fill!r} was accepted"
    event("a valid frame")
    assert_valid_frame(frame, request)
    return frame


def write_csv(folder, header, rows):
    path = os.path.join(folder, "series.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ---- the properties -------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), table=tables())
def test_any_csv_table_reads_as_a_valid_frame_or_a_user_error(data, table):
    header, rows = table
    request = data.draw(requests(header))
    with tempfile.TemporaryDirectory() as folder:
        check_outcome(write_csv(folder, header, rows), request)


@SETTINGS
@given(data=st.data(), table=tables())
def test_any_request_on_any_table_is_a_valid_frame_or_a_user_error(data, table):
    header, rows = table
    request = data.draw(requests(header, sensible=False))
    with tempfile.TemporaryDirectory() as folder:
        check_outcome(write_csv(folder, header, rows), request)


@SETTINGS
@given(
    data=st.data(),
    values=st.lists(st.sampled_from(EXTREME + ["1", "2.5", "-3", ""]), min_size=3, max_size=12),
    fill=st.sampled_from([None, *FILL_METHODS]),
)
def test_a_regular_series_of_extreme_values_is_refused_by_name_or_valid(data, values, fill):
    """A clean daily grid isolates the values: a bad one is named with its column, row and date."""
    import pandas as pd

    times = [str(t.date()) for t in pd.date_range("2020-01-01", periods=len(values), freq="D")]
    request = dict(time_column="date", target_columns=["sales"], past_covariates=[], freq=None, fill=fill)
    parsed = [float(v) if v else math.nan for v in values]
    bad_rows = [i for i, v in enumerate(parsed) if not math.isnan(v) and not abs(v) <= MAX_MAGNITUDE]
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(folder, ["date", "sales"], [[t, v] for t, v in zip(times, values, strict=True)])
        if bad_rows:
            row = bad_rows[0]
            with pytest.raises(InvalidValueError, match=rf"^column 'sales' row {row} \({times[row]}\): "):
                read(path, request)
        else:
            check_outcome(path, request)


@SETTINGS
@given(content=st.binary(max_size=200), data=st.data())
def test_random_bytes_are_a_user_error_or_a_valid_frame(content, data):
    request = data.draw(requests(["date", "sales", "y"], sensible=data.draw(st.booleans())))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "series.csv")
        with open(path, "wb") as f:
            f.write(content)
        check_outcome(path, request)


@SETTINGS
@given(header=st.lists(names, min_size=1, max_size=4), data=st.data())
def test_a_header_only_file_is_a_user_error(header, data):
    request = data.draw(requests(header, sensible=data.draw(st.booleans())))
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(folder, header, [])
        with pytest.raises(UserError):
            read(path, request)


finite_values = st.floats(min_value=-MAX_MAGNITUDE, max_value=MAX_MAGNITUDE, allow_nan=False)


@st.composite
def arrays(draw):
    T, C = draw(st.integers(1, 40)), draw(st.integers(1, 3))
    style = draw(st.sampled_from(["any", "constant", "near-constant", "small"]))
    if style == "constant":
        column = [draw(finite_values)] * T
        return np.array([column] * C, dtype=np.float64).T
    if style == "near-constant":  # float64 rounding around a large level
        level = draw(finite_values)
        noise = draw(st.lists(st.integers(-3, 3), min_size=T, max_size=T))
        column = [np.nextafter(level, np.sign(k) * np.inf) if k else level for k in noise]
        column = np.clip(column, -MAX_MAGNITUDE, MAX_MAGNITUDE)
        return np.array([column] * C, dtype=np.float64).T
    elements = finite_values if style == "any" else st.floats(-10, 10)
    return np.array(draw(st.lists(st.lists(elements, min_size=C, max_size=C), min_size=T, max_size=T)))


@SETTINGS
@given(x=arrays())
def test_a_valid_frame_scales_and_comes_back_finite(x):
    frame = from_array(x)
    T = len(frame)
    scaler = StandardScaler().fit(frame.targets)
    z = scaler.transform(frame.targets)
    assert np.isfinite(z).all()
    assert (np.abs(z) <= math.sqrt(T) * (1 + 1e-9) + 1e-9).all()  # a standardised column: |z| <= sqrt(T)
    assert np.isfinite(z.astype(np.float32)).all() and (np.abs(z) <= MAX_SCALED).all()
    back = scaler.inverse_transform(z)
    assert np.isfinite(back).all()
    scale = np.maximum(np.abs(frame.targets).max(axis=0), 1e-300)
    assert (np.abs(back - frame.targets) <= 1e-9 * scale).all()
    assert np.isfinite(scaler.inverse_scale(np.ones((1, frame.n_targets)))).all()


@SETTINGS
@given(
    x=arrays(),
    bad=st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e306, 1.0000001 * MAX_MAGNITUDE]),
    data=st.data(),
)
def test_a_value_that_cannot_be_computed_with_is_named(x, bad, data):
    row = data.draw(st.integers(0, x.shape[0] - 1))
    col = data.draw(st.integers(0, x.shape[1] - 1))
    x = x.copy()
    x[row, col] = bad
    names = [f"s{i}" for i in range(x.shape[1])]
    with pytest.raises(InvalidValueError, match=rf"^column 's{col}' row {row}"):
        from_array(x, names=names)
    with pytest.raises(InvalidValueError):
        StandardScaler().fit(x)


def test_fill_is_checked_even_without_missing_values(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("date,sales\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n")
    with pytest.raises(InvalidValueError, match=r"fill must be one of \['ffill', .*\], got 'foo'"):
        read_series(path, "date", "sales", fill="foo")
    with pytest.raises(InvalidValueError, match=r"fill must be one of"):
        read_series(tmp_path / "not-there.csv", "date", "sales", fill="foo")  # before the file is even read
    assert len(read_series(path, "date", "sales", fill="linear")) == 3


@pytest.mark.parametrize(
    "content,pattern",
    [
        ("date,sales\n2020-01-01,1\n2020-01-02,inf\n2020-01-03,3\n", r"column 'sales' row 1 \(2020-01-02\): inf is"),
        (
            "date,sales\n2020-01-01,1\n2020-01-02,2\n2020-01-03,-1e308\n",
            r"column 'sales' row 2 \(2020-01-03\): -1e\+308 is too large in magnitude: values must stay "
            r"within \+-1e\+150 so that the scaler's squares do not overflow",
        ),
        ("date,sales\n2020-01-03,1e306\n2020-01-01,1\n2020-01-02,2\n", r"column 'sales' row 0 \(2020-01-03\)"),
        ("t,sales\n1,1\n2,2\n1e308,3\n", r"time column 't' row 2: 1e\+308 is too large for an integer timestamp"),
        ("t,sales\n0,1\n1,2\n2,3\n1000000000,4\n", r"span 1000000001 steps of step 1 .* only 4 rows"),
        ("date,sales\n", r"the table has no rows"),
        ("date,sales\n2020-01-01,\n2020-01-02,\n2020-01-03,\n", r"column 'sales' has no values"),
        ("date,sales\n2020-01-01,1\n2020-01-02,x\n2020-01-03,3\n", r"column 'sales' is not numeric"),
        ("date,sales\n2020-01-01,1\n2020-01-01,2\n2020-01-03,3\n", r"duplicate timestamps"),
        ("date,sales\n2020-01-01,1\n2020-01-02,2\n", r"cannot infer a frequency from 2 timestamps"),
    ],
    ids=[
        "inf",
        "1e308",
        "1e306-unsorted",
        "huge-int-time",
        "huge-grid",
        "header-only",
        "all-missing",
        "non-numeric",
        "duplicate",
        "two-rows",
    ],  # fmt: skip
)
def test_named_refusals(tmp_path, content, pattern):
    path = tmp_path / "s.csv"
    path.write_text(content)
    with pytest.raises((InvalidValueError, InvalidTypeError), match=pattern):
        read_series(path, "t" if content.startswith("t,") else "date", "sales")


@pytest.mark.parametrize("n", [1, 2])
def test_a_very_short_series_with_its_frequency_is_valid(tmp_path, n):
    path = tmp_path / "s.csv"
    path.write_text("date,sales\n" + "".join(f"2020-0{i + 1}-01,{i}\n" for i in range(n)))
    frame = read_series(path, "date", "sales", freq="MS")
    assert len(frame) == n and frame.targets[:, 0].tolist() == list(range(n))


def test_a_constant_series_scales_to_about_zero(tmp_path):
    """Far from zero, the mean of a constant column is off by its float64 rounding (here about 1e133);
    divided by a unit std that would be 1e133 in the float32 network, so the std is 1e-12 * |mean|."""
    path = tmp_path / "s.csv"
    path.write_text("date,sales\n" + "".join(f"2020-01-0{i + 1},1e149\n" for i in range(5)))
    frame = read_series(path, "date", "sales")
    scaler = StandardScaler().fit(frame.targets)
    z = scaler.transform(frame.targets)
    assert (np.abs(z) < 1e-3).all()
    np.testing.assert_allclose(scaler.inverse_transform(z), frame.targets, rtol=1e-15)


def test_the_frame_constructor_checks_its_values():
    import pandas as pd

    time = pd.date_range("2020-01-01", periods=3, freq="D")
    good = np.array([[1.0], [2.0], [3.0]])
    TimeSeriesFrame(time=time, targets=good, target_names=("y",), freq="D")
    with pytest.raises(InvalidValueError, match=r"column 'y' row 1 \(2020-01-02\): a missing value"):
        TimeSeriesFrame(time=time, targets=np.array([[1.0], [np.nan], [3.0]]), target_names=("y",), freq="D")
    with pytest.raises(InvalidValueError, match=r"column 'p' row 2 \(2020-01-03\): inf is not a finite number"):
        TimeSeriesFrame(
            time=time,
            targets=good,
            target_names=("y",),
            past_covariates=np.array([[0.0], [0.0], [np.inf]]),
            past_names=("p",),
            freq="D",
        )
    with pytest.raises(InvalidValueError, match=r"targets must have shape \(T, K\) = \(3, 2\)"):
        TimeSeriesFrame(time=time, targets=good, target_names=("y", "z"), freq="D")


def test_scaled_values_far_outside_the_training_range_are_refused():
    scaler = StandardScaler().fit(np.array([[1.0], [2.0], [3.0]]))
    with pytest.raises(InvalidValueError, match=r"1e\+100 in column 0 lies .* standard deviations .* within \+-1e\+15"):
        scaler.transform(np.array([[1e100]]))
    with pytest.raises(InvalidValueError, match=r"column 0 holds inf"):
        scaler.transform(np.array([[np.inf]]))


# ---- the forecaster's input path: predict(history=...), detect, stream ----------------------------


@pytest.fixture(scope="module")
def fitted():
    from rnnkit.timeseries import AnomalyDetector, Forecaster, ForecasterConfig

    t = np.arange(120.0)
    y = np.sin(t / 4) + 0.01 * t
    config = ForecasterConfig(horizon=3, input_length=8, hidden_size=8, epochs=1, head_warmup=0, calendar=False)
    forecaster = Forecaster(config).fit(y)
    return y, forecaster, AnomalyDetector(forecaster).fit(y, fit_forecaster=False)


@pytest.mark.parametrize(
    "bad,pattern",
    [
        (math.inf, r"^column 'y' row 17: inf is not a finite number"),
        (-math.inf, r"^column 'y' row 17: -inf is not a finite number"),
        (1e308, r"^column 'y' row 17: 1e\+308 is too large in magnitude"),
        (-1e151, r"^column 'y' row 17: -1e\+151 is too large in magnitude"),
        (1e20, r"^1e\+20 in column 0 lies .* standard deviations from the data the scaler was fitted on"),
    ],
)
def test_a_history_that_cannot_be_computed_with_is_refused(fitted, bad, pattern):
    y, forecaster, _ = fitted
    history = y[-20:].copy()
    history[17] = bad
    with pytest.raises(InvalidValueError, match=pattern):
        forecaster.predict(3, history=history)


def test_a_history_far_from_the_training_data_but_within_the_bounds_forecasts_finite(fitted):
    y, forecaster, _ = fitted
    history = y[-20:].copy()
    history[17] = 1e14  # within MAX_SCALED standard deviations of the training data
    out = forecaster.predict(3, history=history)
    assert all(np.isfinite(a).all() for a in (out.mean, out.lower, out.upper))


def test_anomaly_detection_refuses_values_that_cannot_be_computed_with(fitted):
    y, _, detector = fitted
    series = y.copy()
    series[50] = math.inf
    with pytest.raises(InvalidValueError, match=r"^column 'y' row 50: inf is not a finite number"):
        detector.detect(series)
    stream = detector.stream()
    with pytest.raises(InvalidValueError, match=r"update expects 1 finite number\(s\) within \+-1e\+150"):
        stream.update(1e200)
    with pytest.raises(InvalidTypeError, match=r"update expects 1 finite number\(s\), got str 'x'"):
        stream.update("x")


def test_values_near_the_bound_train_a_model_that_forecasts_finite():
    """The issue's case: +-1e308 trained a model forecasting NaN with infinite intervals; values just
    inside the bound train one whose forecasts and intervals are finite."""
    from rnnkit.timeseries import Forecaster, ForecasterConfig

    y = np.where(np.arange(60) % 2, 0.9, -0.9) * MAX_MAGNITUDE
    config = ForecasterConfig(horizon=2, input_length=8, hidden_size=8, epochs=1, calendar=False)
    out = Forecaster(config).fit(y).predict(4)
    assert all(np.isfinite(a).all() for a in (out.mean, out.lower, out.upper))
    with pytest.raises(InvalidValueError, match=r"too large in magnitude"):
        Forecaster(config).fit(y * 1e158)
