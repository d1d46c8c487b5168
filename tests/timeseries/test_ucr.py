"""UCR/UEA series classification files: .ts, UCR .tsv/.txt, wide CSV, and the sets bundled with sktime."""

import importlib.util

import numpy as np
import pytest

from rnnkit._checks import FileFormatError, InvalidValueError
from rnnkit.timeseries.ucr import (
    SeriesClassificationData,
    available_ucr,
    load_ucr,
    read_series_file,
    read_ts,
    read_ucr_tsv,
    read_wide_csv,
)

HEADER = """# a comment
% another, as in sktime's UnitTest files
@problemName Toy
@timeStamps false
@missing {missing}
@univariate {univariate}
{extra}@equalLength {equal}
@classLabel true up down
@data
"""


def ts(tmp_path, body, univariate="true", equal="true", missing="false", extra="", name="toy.ts"):
    p = tmp_path / name
    p.write_text(HEADER.format(univariate=univariate, equal=equal, missing=missing, extra=extra) + body)
    return p


needs_sktime = pytest.mark.skipif(importlib.util.find_spec("sktime") is None, reason="sktime is not installed")


# ---- .ts ---------------------------------------------------------------------------------------


def test_ts_univariate_equal_length(tmp_path):
    data = read_ts(ts(tmp_path, "1,2,3:up\n4,5,6.5e-1:down\n\n", extra="@seriesLength 3\n"))
    assert isinstance(data, SeriesClassificationData)
    assert data.name == "Toy" and data.labels == ["up", "down"] and data.classes == ("up", "down")
    assert data.equal_length and data.num_channels == 1 and data.lengths == [3, 3]
    np.testing.assert_array_equal(data.as_array(), [[[1, 2, 3]], [[4, 5, 0.65]]])


def test_ts_multivariate_unequal_length(tmp_path):
    body = "1,2,3:10,20,30:up\n4,5:40,50:down\n"
    data = read_ts(ts(tmp_path, body, univariate="false", equal="false", extra="@dimensions 2\n"))
    assert data.num_channels == 2 and data.lengths == [3, 2] and not data.equal_length
    np.testing.assert_array_equal(data.series[1], [[4, 5], [40, 50]])
    with pytest.raises(InvalidValueError, match="unequal lengths .* needs equal-length series"):
        data.as_array()


def test_ts_missing_values(tmp_path):
    p = ts(tmp_path, "1,?,3:up\n4,5,6:down\n", missing="true")
    with pytest.raises(FileFormatError, match=r"line 10: dimension 1 value 2 is missing \('\?'\).*allow_missing=True"):
        read_ts(p)
    data = read_ts(p, allow_missing=True)
    assert np.isnan(data.series[0][0, 1]) and data.has_missing


@pytest.mark.parametrize(
    "body, kwargs, message",
    [
        ("1,2,3:10,20,30:up\n4,5,6:down\n", dict(univariate="false"), r"line 11 has 1 dimension\(s\), expected 2"),
        ("1,2,3:up\n4,x,6:down\n", {}, r"line 11: dimension 1 value 2 is 'x', not a number"),
        ("1,2,3:up\n4,inf,6:down\n", {}, r"line 11: dimension 1 value 2 is 'inf', an infinite value"),
        ("1,2,3:up\n4,5,6:left\n", {}, r"line 11: class label 'left' is not one of the header's \['up', 'down'\]"),
        ("1,2,3:up\n4,5:down\n", {}, r"@equalLength true but the series have lengths 2 to 3"),
        ("1,2,3:4,5:up\n", dict(univariate="false"), r"line 10: the dimensions have different lengths \[3, 2\]"),
        ("1,2,3:up\n@data\n", {}, r"line 11: a header line after @data"),
        ("1,2,3\n", {}, r"line 10: no class label"),
        ("1,,3:up\n", {}, r"line 10: dimension 1 value 2 is missing"),
    ],
)
def test_ts_bad_data_lines_are_named(tmp_path, body, kwargs, message):
    with pytest.raises(FileFormatError, match=message):
        read_ts(ts(tmp_path, body, **kwargs))


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "@problemName X\n@univariate maybe\n@classLabel true a b\n@data\n1:a\n",
            r"line 2: @univariate must be true or",
        ),
        ("@problemName X\n@seriesLength ten\n@classLabel true a\n@data\n1:a\n", r"@seriesLength must be a positive"),
        ("@problemName X\n@classLabel true a b\n1,2:a\n", r"has no @data line"),
        ("@problemName X\n@data\n1,2\n", r"the header has no @classLabel line"),
        ("@problemName X\n@classLabel true\n@data\n1:a\n", r"@classLabel true must list the class labels"),
        ("@timeStamps true\n@classLabel true a\n@data\n(0,1):a\n", r"@timeStamps true\) are not supported"),
        ("@targetLabel true\n@data\n1:2.5\n", r"regression problem"),
        ("@classLabel true a\n@data\n\n", r"holds no series"),
        ("", r"is empty"),
    ],
)
def test_ts_malformed_headers_and_empty_files(tmp_path, text, message):
    p = tmp_path / "bad.ts"
    p.write_text(text)
    with pytest.raises(FileFormatError, match=message):
        read_ts(p)


def test_ts_unlabelled_file(tmp_path):
    p = tmp_path / "u.ts"
    p.write_text("@problemName U\n@univariate true\n@classLabel false\n@data\n1,2\n3,4,5\n")
    data = read_ts(p)
    assert data.labels is None and data.classes == () and data.lengths == [2, 3]


# ---- UCR .tsv / .txt, wide CSV -------------------------------------------------------------------


def test_ucr_tsv_trailing_nan_padding_is_cut(tmp_path):
    p = tmp_path / "Toy_TRAIN.tsv"
    p.write_text("1\t0.5\t1.5\t2.5\n-1\t3\t4\tNaN\n2\t5\tNaN\tNaN\n")
    data = read_ucr_tsv(p)
    assert data.labels == ["1", "-1", "2"] and data.classes == ("-1", "1", "2") and data.name == "Toy_TRAIN"
    assert data.lengths == [3, 2, 1] and not data.equal_length
    np.testing.assert_array_equal(data.series[1], [[3, 4]])


def test_ucr_old_txt_whitespace_and_float_labels(tmp_path):
    p = tmp_path / "Old.txt"
    p.write_text("  1.0000000e+00   1.0 2.0\n  2.0000000e+00   3.0 4.0\n")
    data = read_series_file(p)
    assert data.labels == ["1", "2"] and data.as_array().shape == (2, 1, 2)


def test_ucr_tsv_errors_name_the_line(tmp_path):
    p = tmp_path / "b.tsv"
    p.write_text("1\t0.5\t1.5\n2\t0.5\tabc\n")
    with pytest.raises(FileFormatError, match=r"line 2: value 2 is 'abc', not a number"):
        read_ucr_tsv(p)
    p.write_text("1\t0.5\tNaN\t1.5\n")
    with pytest.raises(FileFormatError, match=r"line 1: value 2 is missing"):
        read_ucr_tsv(p)
    p.write_text("1\t-inf\t1.5\n")
    with pytest.raises(FileFormatError, match=r"line 1: value 1 is '-inf', an infinite value"):
        read_ucr_tsv(p)
    p.write_text("1\tNaN\n")
    with pytest.raises(FileFormatError, match=r"line 1: the series has no values"):
        read_ucr_tsv(p)


def test_wide_csv(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("t0,t1,label,t2\n1,2,a,3\n4,5,b,\n")
    data = read_wide_csv(p, "label")
    assert data.labels == ["a", "b"] and data.lengths == [3, 2]
    np.testing.assert_array_equal(data.series[0], [[1, 2, 3]])
    with pytest.raises(FileFormatError, match=r"line 2: column 'label' is 'a', not a number"):
        read_series_file(p)  # no label_col: every column is a time step
    (tmp_path / "u.csv").write_text("t0,t1\n1,2\n3,4\n")
    unlabelled = read_series_file(tmp_path / "u.csv")
    assert unlabelled.labels is None and unlabelled.classes == () and unlabelled.lengths == [2, 2]


def test_wide_csv_errors(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("t0,t1,label\n1,2,a\n4,x,b\n")
    with pytest.raises(FileFormatError, match=r"line 3: column 't1' is 'x', not a number"):
        read_wide_csv(p, "label")
    with pytest.raises(InvalidValueError, match=r"label column 'y' is not a column .*\['t0', 't1', 'label'\]"):
        read_wide_csv(p, "y")
    p.write_text("t0,t1,t2,label\n1,,3,a\n")
    with pytest.raises(FileFormatError, match=r"line 2: column 't1' is missing \('empty'\)"):
        read_wide_csv(p, "label")
    p.write_text("t0,t1,t2,label\n1,2,3,\n")
    with pytest.raises(FileFormatError, match=r"line 2: the label column 'label' is empty"):
        read_wide_csv(p, "label")
    with pytest.raises(InvalidValueError, match="unsupported series file"):
        read_series_file(tmp_path / "x.parquet")


# ---- the sets bundled with sktime ----------------------------------------------------------------


@needs_sktime
@pytest.mark.parametrize(
    "name, train, test, length",
    [("ItalyPowerDemand", 67, 1029, 24), ("GunPoint", 50, 150, 150), ("ArrowHead", 36, 175, 251)],
)
def test_official_splits_load_with_their_sizes(name, train, test, length):
    a, b = load_ucr(name, "train"), load_ucr(name, "test")
    assert (len(a), len(b)) == (train, test)
    assert a.as_array().shape == (train, 1, length) and b.equal_length
    assert set(a.labels) == set(a.classes) and not a.has_missing


@needs_sktime
def test_italy_power_demand_values_as_in_the_file():
    data = load_ucr("italypowerdemand", "TRAIN")  # any case
    assert data.name == "ItalyPowerDemand" and data.labels[:3] == ["1", "1", "2"]
    np.testing.assert_allclose(data.series[0][0, :3], [-0.71051757, -1.1833204, -1.3724416])


@needs_sktime
def test_multivariate_unequal_length_bundled_set():
    data = load_ucr("JapaneseVowels", "train")
    assert len(data) == 270 and data.num_channels == 12 and not data.equal_length
    assert min(data.lengths) == 7 and max(data.lengths) == 26


@needs_sktime
def test_available_lists_classification_sets_only_and_unknown_names_list_them():
    names = available_ucr()
    assert {"ItalyPowerDemand", "GunPoint", "ArrowHead", "BasicMotions"} <= set(names)
    assert "Covid3Month" not in names  # a regression set
    with pytest.raises(InvalidValueError, match=r"no UCR/UEA set 'Nope' .* the sets there are \[.*'GunPoint'"):
        load_ucr("Nope")
    with pytest.raises(InvalidValueError, match="split must be 'train' or 'test'"):
        load_ucr("GunPoint", "validation")
