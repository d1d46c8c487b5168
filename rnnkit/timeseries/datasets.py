"""Classic series bundled inside installed packages, loaded offline (nothing is downloaded).

============  =================  ======  =======  ==============================================
name          package            freq    season   what
============  =================  ======  =======  ==============================================
airline       sktime             MS      12       monthly airline passengers 1949-1960 (144)
lynx          sktime             YS      10       annual Canadian lynx trappings 1821-1934 (114)
shampoo       sktime             MS      12       monthly shampoo sales, 3 years (36)
sunspots      statsmodels        YS      11       yearly sunspot activity 1700-2008 (309)
co2           statsmodels        MS      12       Mauna Loa CO2, weekly 1958-2001 averaged to
                                                  monthly, gaps interpolated (526)
nile          statsmodels        YS      1        annual Nile flow at Aswan 1871-1970 (100)
elnino        statsmodels        MS      12       monthly sea surface temperature 1950-2010 (732)
============  =================  ======  =======  ==============================================

The registry :data:`DATASETS` is that table: each name maps to the file inside its package, the
loader that turns the file's own layout into a frame, the seasonal period and a description.
The CSV files are read straight from the package folders (found with
``importlib.util.find_spec``, which does not import the package), so loading is fast. ``season``
is the usual seasonal period (for sunspots and lynx: the approximate cycle length in years), used
for seasonal naive and MASE; a series without a bundled name takes its season from its frequency
(:func:`rnnkit.timeseries.frequency.seasonal_period`).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Callable, Dict

import numpy as np

from .._checks import InvalidValueError, MissingFileError, MissingOptionalDependency
from .frame import TimeSeriesFrame, from_dataframe
from .frequency import require_pandas

# ---- loaders: the file's own layout -> a frame ------------------------------------------------


def _years(col):
    pd = require_pandas()
    return pd.to_datetime(col.astype(int).astype(str), format="%Y")


def _airline(raw) -> TimeSeriesFrame:
    pd = require_pandas()
    df = pd.DataFrame({"time": pd.to_datetime(raw["Date"]), "passengers": raw["Passengers"]})
    return from_dataframe(df, "time", "passengers", freq="MS")


def _shampoo(raw) -> TimeSeriesFrame:
    pd = require_pandas()
    df = pd.DataFrame({"time": pd.to_datetime(raw["Time"]), "sales": raw["Sales"]})
    return from_dataframe(df, "time", "sales", freq="MS")


def _lynx(raw) -> TimeSeriesFrame:
    pd = require_pandas()
    df = pd.DataFrame({"time": _years(raw.iloc[:, 0]), "lynx": raw.iloc[:, 1]})
    return from_dataframe(df, "time", "lynx", freq="YS")


def _sunspots(raw) -> TimeSeriesFrame:
    pd = require_pandas()
    df = pd.DataFrame({"time": _years(raw["YEAR"]), "sunactivity": raw["SUNACTIVITY"]})
    return from_dataframe(df, "time", "sunactivity", freq="YS")


def _nile(raw) -> TimeSeriesFrame:
    pd = require_pandas()
    df = pd.DataFrame({"time": _years(raw["year"]), "volume": raw["volume"]})
    return from_dataframe(df, "time", "volume", freq="YS")


def _co2(raw) -> TimeSeriesFrame:
    """Weekly means with gaps, averaged to months and the gaps interpolated."""
    pd = require_pandas()
    weekly = pd.Series(raw["co2"].to_numpy(), index=pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"))
    monthly = weekly.resample("MS").mean()
    df = pd.DataFrame({"time": monthly.index, "co2": monthly.to_numpy()})
    return from_dataframe(df, "time", "co2", freq="MS", fill="linear")


def _elnino(raw) -> TimeSeriesFrame:
    """One row per year, one column per month: read row by row."""
    pd = require_pandas()
    values = raw.drop(columns="YEAR").to_numpy(dtype=np.float64).reshape(-1)
    time = pd.date_range(f"{int(raw['YEAR'].iloc[0])}-01-01", periods=len(values), freq="MS")
    return from_dataframe(pd.DataFrame({"time": time, "temperature": values}), "time", "temperature", freq="MS")


# ---- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    package: str  # the installed package that ships the file
    relpath: str  # its path inside the package
    loader: Callable[..., TimeSeriesFrame]  # the file's table (a DataFrame) -> a frame
    season: int  # seasonal period in steps (1: none)
    description: str


DATASETS: Dict[str, DatasetInfo] = {
    "airline": DatasetInfo(
        "sktime", "datasets/data/Airline/Airline.csv", _airline, 12, "monthly airline passengers 1949-1960"
    ),
    "lynx": DatasetInfo("sktime", "datasets/data/Lynx/Lynx.csv", _lynx, 10, "annual lynx trappings 1821-1934"),
    "shampoo": DatasetInfo(
        "sktime", "datasets/data/ShampooSales/ShampooSales.csv", _shampoo, 12, "monthly shampoo sales"
    ),
    "sunspots": DatasetInfo(
        "statsmodels", "datasets/sunspots/sunspots.csv", _sunspots, 11, "yearly sunspot activity 1700-2008"
    ),
    "co2": DatasetInfo("statsmodels", "datasets/co2/co2.csv", _co2, 12, "Mauna Loa CO2, monthly means 1958-2001"),
    "nile": DatasetInfo("statsmodels", "datasets/nile/nile.csv", _nile, 1, "annual Nile flow 1871-1970"),
    "elnino": DatasetInfo(
        "statsmodels", "datasets/elnino/elnino.csv", _elnino, 12, "monthly sea surface temperature 1950-2010"
    ),
}


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of bundled dataset ``name``; :class:`InvalidValueError` listing the names if unknown."""
    if name not in DATASETS:
        raise InvalidValueError(f"unknown dataset {name!r}; available: {sorted(DATASETS)}")
    return DATASETS[name]


def dataset_path(name: str) -> str:
    """The file of bundled dataset ``name`` inside its installed package."""
    info = dataset_info(name)
    spec = importlib.util.find_spec(info.package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingOptionalDependency(
            f"dataset {name!r} ships with the package {info.package!r}, which is not "
            f"installed: pip install {info.package}"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], *info.relpath.split("/"))
    if not os.path.exists(path):
        raise MissingFileError(f"dataset {name!r} not found at {path} (package {info.package!r} changed its layout?)")
    return path


def season_length(name: str) -> int:
    """The usual seasonal period of bundled dataset ``name``."""
    return dataset_info(name).season


def load_dataset(name: str) -> TimeSeriesFrame:
    """Load bundled dataset ``name`` (see the table above) as a :class:`TimeSeriesFrame`."""
    pd = require_pandas()
    info = dataset_info(name)
    return info.loader(pd.read_csv(dataset_path(name)))
