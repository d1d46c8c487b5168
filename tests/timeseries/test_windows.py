import numpy as np
import pytest

from rnnkit.timeseries.windows import count_windows, sliding_windows, split_windows


def test_windows_are_the_slices():
    x = np.arange(20.0).reshape(10, 2)
    w = sliding_windows(x, 4, stride=3)  # starts 0, 3, 6
    assert w.shape == (3, 4, 2) == (count_windows(10, 4, 3), 4, 2)
    for i, start in enumerate((0, 3, 6)):
        np.testing.assert_array_equal(w[i], x[start : start + 4])


def test_split_windows():
    inputs, targets = split_windows(np.arange(6.0), 3, 2)
    assert inputs.tolist() == [[0, 1, 2], [1, 2, 3]] and targets.tolist() == [[3, 4], [4, 5]]


def test_too_short_series_names_the_lengths():
    with pytest.raises(
        ValueError, match=r"series has 4 points, shorter than one window of input_length \+ horizon = 3 \+ 2 = 5"
    ):
        split_windows(np.arange(4.0), 3, 2)
    with pytest.raises(ValueError, match="length must be an int >= 1, got 0"):
        sliding_windows(np.arange(4.0), 0)
