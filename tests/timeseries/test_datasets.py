import pytest

pytest.importorskip("pandas")

from rnnkit.timeseries.datasets import DATASETS, load_dataset, season_length  # noqa: E402


@pytest.mark.parametrize(
    "name, length, first", [("sunspots", 309, 5.0), ("nile", 100, 1120.0), ("co2", 526, 316.1), ("elnino", 732, 23.11)]
)
def test_statsmodels_datasets(name, length, first):
    pytest.importorskip("statsmodels")
    frame = load_dataset(name)
    assert len(frame) == length and frame.targets[0, 0] == pytest.approx(first)


@pytest.mark.parametrize("name, length, first", [("airline", 144, 112.0), ("lynx", 114, 269.0), ("shampoo", 36, 266.0)])
def test_sktime_datasets(name, length, first):
    pytest.importorskip("sktime")
    frame = load_dataset(name)
    assert len(frame) == length and frame.targets[0, 0] == pytest.approx(first)


def test_unknown_dataset_is_named():
    with pytest.raises(ValueError, match=r"unknown dataset 'air'; available: \["):
        load_dataset("air")
    assert season_length("airline") == 12 and set(DATASETS) >= {"co2", "lynx"}
