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

The CSV files are read straight from the package folders (found with ``importlib.util.find_spec``,
which does not import the package), so loading is fast. ``season`` is the usual seasonal period
(for sunspots and lynx: the approximate cycle length in years), used for seasonal naive and MASE.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Dict

import numpy as np

from .frame import TimeSeriesFrame, _require_pandas, from_dataframe


@dataclass(frozen=True)
class DatasetInfo:
    package: str  # the installed package that ships the file
    relpath: str  # its path inside the package
    season: int  # seasonal period in steps (1: none)
    description: str


DATASETS: Dict[str, DatasetInfo] = {
    "airline": DatasetInfo("sktime", "datasets/data/Airline/Airline.csv", 12, "monthly airline passengers 1949-1960"),
    "lynx": DatasetInfo("sktime", "datasets/data/Lynx/Lynx.csv", 10, "annual lynx trappings 1821-1934"),
    "shampoo": DatasetInfo("sktime", "datasets/data/ShampooSales/ShampooSales.csv", 12, "monthly shampoo sales"),
    "sunspots": DatasetInfo("statsmodels", "datasets/sunspots/sunspots.csv", 11, "yearly sunspot activity 1700-2008"),
    "co2": DatasetInfo("statsmodels", "datasets/co2/co2.csv", 12, "Mauna Loa CO2, monthly means 1958-2001"),
    "nile": DatasetInfo("statsmodels", "datasets/nile/nile.csv", 1, "annual Nile flow 1871-1970"),
    "elnino": DatasetInfo("statsmodels", "datasets/elnino/elnino.csv", 12, "monthly sea surface temperature 1950-2010"),
}


def dataset_path(name: str) -> str:
    """The file of bundled dataset ``name`` inside its installed package."""
    info = _info(name)
    spec = importlib.util.find_spec(info.package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"dataset {name!r} ships with the package {info.package!r}, which is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], *info.relpath.split("/"))
    if not os.path.exists(path):
        raise FileNotFoundError(f"dataset {name!r} not found at {path} (package {info.package!r} changed its layout?)")
    return path


def season_length(name: str) -> int:
    """The usual seasonal period of bundled dataset ``name``."""
    return _info(name).season


def load_dataset(name: str) -> TimeSeriesFrame:
    """Load bundled dataset ``name`` (see the table above) as a :class:`TimeSeriesFrame`."""
    pd = _require_pandas()
    path = dataset_path(name)
    raw = pd.read_csv(path)
    if name == "airline":
        df = pd.DataFrame({"time": pd.to_datetime(raw["Date"]), "passengers": raw["Passengers"]})
        return from_dataframe(df, "time", "passengers", freq="MS")
    if name == "shampoo":
        df = pd.DataFrame({"time": pd.to_datetime(raw["Time"]), "sales": raw["Sales"]})
        return from_dataframe(df, "time", "sales", freq="MS")
    if name == "lynx":
        df = pd.DataFrame({"time": _years(raw.iloc[:, 0]), "lynx": raw.iloc[:, 1]})
        return from_dataframe(df, "time", "lynx", freq="YS")
    if name == "sunspots":
        df = pd.DataFrame({"time": _years(raw["YEAR"]), "sunactivity": raw["SUNACTIVITY"]})
        return from_dataframe(df, "time", "sunactivity", freq="YS")
    if name == "nile":
        df = pd.DataFrame({"time": _years(raw["year"]), "volume": raw["volume"]})
        return from_dataframe(df, "time", "volume", freq="YS")
    if name == "co2":
        weekly = pd.Series(raw["co2"].to_numpy(), index=pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"))
        monthly = weekly.resample("MS").mean()
        df = pd.DataFrame({"time": monthly.index, "co2": monthly.to_numpy()})
        return from_dataframe(df, "time", "co2", freq="MS", fill="linear")
    if name == "elnino":
        values = raw.drop(columns="YEAR").to_numpy(dtype=np.float64).reshape(-1)
        time = pd.date_range(f"{int(raw['YEAR'].iloc[0])}-01-01", periods=len(values), freq="MS")
        return from_dataframe(pd.DataFrame({"time": time, "temperature": values}), "time", "temperature", freq="MS")
    raise AssertionError(name)  # unreachable: _info validated the name


def _years(col):
    pd = _require_pandas()
    return pd.to_datetime(col.astype(int).astype(str), format="%Y")


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {sorted(DATASETS)}")
    return DATASETS[name]
