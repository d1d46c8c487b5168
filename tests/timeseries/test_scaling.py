import numpy as np
import pytest

from rnnkit.timeseries.scaling import StandardScaler


def test_per_series_statistics_and_round_trip():
    x = np.stack([np.arange(10.0), 100 + 5 * np.arange(10.0)], axis=1)
    s = StandardScaler().fit(x)
    np.testing.assert_allclose(s.mean, [4.5, 122.5])
    np.testing.assert_allclose(s.std, [np.arange(10.0).std(), 5 * np.arange(10.0).std()])
    z = s.transform(x)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), 1)
    np.testing.assert_allclose(s.inverse_transform(z), x)
    np.testing.assert_allclose(s.inverse_transform(z[None]), x[None])  # any leading axes
    np.testing.assert_allclose(s.inverse_scale(np.ones(2)), s.std)


def test_uses_only_the_data_it_was_fitted_on():
    train, test = np.arange(8.0), np.arange(8.0, 12.0) * 100
    s = StandardScaler().fit(train)
    np.testing.assert_allclose(s.transform(test[:, None])[:, 0], (test - train.mean()) / train.std())


def test_constant_column_and_state_dict():
    s = StandardScaler().fit(np.full((5, 1), 3.0))
    assert s.std.tolist() == [1.0]
    t = StandardScaler.from_state_dict(s.state_dict())
    np.testing.assert_array_equal(t.transform([[4.0]]), [[1.0]])


def test_errors():
    with pytest.raises(ValueError, match="call fit"):
        StandardScaler().transform([[1.0]])
    with pytest.raises(ValueError, match="missing or infinite"):
        StandardScaler().fit([1.0, np.nan])
    with pytest.raises(ValueError, match="last axis of 2 columns"):
        StandardScaler().fit(np.ones((3, 2))).transform(np.ones((3, 3)))
    with pytest.raises(ValueError, match="keys 'mean' and 'std'"):
        StandardScaler.from_state_dict({"mu": [0]})
