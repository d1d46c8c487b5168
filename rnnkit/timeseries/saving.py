"""The forecaster's model folder, in the one model format (:mod:`rnnkit.models.format`)::

    DIR/
      config.json          {"model_type": "forecaster", "format_version": 3, "rnnkit_version": ...,
                            "config": {ForecasterConfig fields}, "meta": {columns, input_length, freq}}
      model.safetensors    the network's weights
      preprocessing.json   the scalers and the last input_length rows of the training series
      ...                  task files a recipe adds (series.json)

Folders of the forecaster's own earlier formats load and forecast exactly as when saved:
version 2 (``{"format": "rnnkit.forecaster", "version": 2, "config", "meta"}``, the same files)
and version 1 (the same, without the settings version 2 added: they get the values version-1
models were trained with, :data:`V1_DEFAULTS`). Whatever is wrong with a folder -- a damaged
weights file, a config that is not an object or has a wrong-typed value, weights that do not
match the config, a malformed preprocessing file -- raises a
:class:`~rnnkit._checks.FileFormatError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from .._checks import FileFormatError, InvalidTypeError, InvalidValueError, is_int
from ..models.format import ModelFolder, save_model
from .config import ForecasterConfig
from .frame import TimeSeriesFrame
from .frequency import require_pandas
from .network import ForecastNet, build_network
from .scaling import StandardScaler

MODEL_TYPE = "forecaster"
PREPROCESSING_FILE = "preprocessing.json"
# Settings added in version 2, with the values version-1 models were trained with (their defaults then).
V1_DEFAULTS = {
    "window_scale": True,
    "highway_init": "random",
    "highway_ridge": 1.0,
    "highway_train": True,
    "select": "nll",
    "head_warmup": 0,
}
META_NAMES = ("target_names", "past_names", "future_names", "calendar_names")


def is_datetime(index) -> bool:
    return getattr(index, "dtype", None) is not None and index.dtype.kind == "M"


# ---- save ------------------------------------------------------------------------------------


def preprocessing_document(scalers: Mapping[str, StandardScaler], tail: TimeSeriesFrame) -> Dict[str, Any]:
    """The scalers and the tail of the training series as plain JSON."""
    dates = is_datetime(tail.time)
    return {
        "scalers": {k: s.state_dict() for k, s in scalers.items()},
        "tail": {
            "time": [str(t) for t in tail.time] if dates else [int(t) for t in tail.time],
            "time_kind": "datetime" if dates else "int",
            "targets": tail.targets.tolist(),
            "past": None if tail.past_covariates is None else tail.past_covariates.tolist(),
            "future": None if tail.future_covariates is None else tail.future_covariates.tolist(),
        },
    }


def save_forecaster(
    directory,
    config: ForecasterConfig,
    meta: Dict[str, Any],
    net: ForecastNet,
    scalers: Mapping[str, StandardScaler],
    tail: TimeSeriesFrame,
    files: Optional[Mapping[str, Union[str, bytes]]] = None,
):
    """Write a forecaster's folder (format version 3); ``files``: more task files (name -> content)."""
    prep = json.dumps(preprocessing_document(scalers, tail), indent=1)
    return save_model(
        directory,
        MODEL_TYPE,
        asdict(config),
        net.state_dict(),
        files={PREPROCESSING_FILE: prep, **dict(files or {})},
        extra={"meta": meta},
    )


# ---- load ------------------------------------------------------------------------------------


def read_config(folder: ModelFolder) -> ForecasterConfig:
    """The settings in ``config.json`` at any format version (version 1 gets :data:`V1_DEFAULTS`)."""
    saved = dict(folder.config)
    if folder.format_version == 1:
        saved = {**V1_DEFAULTS, "teacher_forcing_epochs": saved.get("epochs", 300), **saved}
    unknown = sorted(set(saved) - {f.name for f in fields(ForecasterConfig)})
    if unknown:
        raise folder.bad_config(f"unknown forecaster settings {unknown}")
    try:
        return ForecasterConfig(**saved)
    except (InvalidValueError, InvalidTypeError) as err:
        raise folder.bad_config(str(err)) from None


def read_meta(folder: ModelFolder) -> Dict[str, Any]:
    """``meta`` of ``config.json``: the column names, the input length and the frequency, checked."""
    meta = folder.extra.get("meta")
    if not isinstance(meta, dict):
        raise folder.bad_config(f"'meta' must be an object (column names, input_length, freq), got {meta!r:.80}")
    for name in META_NAMES:
        names = meta.get(name)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise folder.bad_config(f"meta.{name} must be a list of column names, got {names!r:.80}")
    if not meta["target_names"]:
        raise folder.bad_config("meta.target_names is empty: a forecaster forecasts at least one column")
    length = meta.get("input_length")
    if not is_int(length) or length < 1:
        raise folder.bad_config(f"meta.input_length must be an int >= 1, got {length!r}")
    freq = meta.get("freq")
    if freq is not None and not isinstance(freq, str) and not is_int(freq):
        raise folder.bad_config(f"meta.freq must be a frequency alias, an int step or null, got {freq!r}")
    return meta


def read_preprocessing(folder: ModelFolder, meta: Dict[str, Any]):
    """``(scalers, tail frame)`` from ``preprocessing.json``; a :class:`FileFormatError` naming it if malformed."""
    path = folder.file(PREPROCESSING_FILE)
    doc = folder.read_json(PREPROCESSING_FILE)
    C, L = len(meta["target_names"]), meta["input_length"]
    try:
        if not (isinstance(doc, dict) and isinstance(doc.get("scalers"), dict) and isinstance(doc.get("tail"), dict)):
            raise InvalidValueError("it must be an object with 'scalers' and 'tail' objects")
        scalers = {k: StandardScaler.from_state_dict(v) for k, v in doc["scalers"].items()}
        if "target" not in scalers or scalers["target"].mean.shape != (C,):
            raise InvalidValueError(f"it needs a 'target' scaler for the {C} target(s) of config.json")
        tail = _tail_from_json(doc["tail"], meta)
        if len(tail) != L or tail.targets.shape != (L, C):
            raise InvalidValueError(
                f"its tail must hold the last input_length={L} rows of {C} target(s), got shape {tail.targets.shape}"
            )
    except (InvalidValueError, KeyError, TypeError, ValueError) as err:  # the file's content, read as data
        detail = f"missing entry {err}" if isinstance(err, KeyError) else str(err)
        raise FileFormatError(f"{str(path)!r} is not a forecaster's preprocessing file: {detail}") from None
    return scalers, tail


def _tail_from_json(tail: Dict, meta: Dict) -> TimeSeriesFrame:
    pd = require_pandas()
    if tail["time_kind"] == "datetime":
        time = pd.DatetimeIndex(tail["time"])
    elif tail["time_kind"] == "int":
        time = pd.Index(tail["time"], dtype=np.int64)
    else:
        raise InvalidValueError(f"tail.time_kind must be 'datetime' or 'int', got {tail['time_kind']!r}")
    arr = lambda a: None if a is None else np.asarray(a, dtype=np.float64)  # noqa: E731
    targets = arr(tail["targets"])
    for name, block in (("targets", targets), ("past", arr(tail["past"])), ("future", arr(tail["future"]))):
        if (block is None and name != "targets") or (
            block is not None and block.ndim == 2 and block.shape[0] == len(time)
        ):
            continue
        raise InvalidValueError(
            f"tail.{name} must be a table of {len(time)} rows (one per timestamp), got "
            f"{None if block is None else block.shape}"
        )
    return TimeSeriesFrame(
        time=time,
        targets=targets,
        target_names=tuple(meta["target_names"]),
        past_covariates=arr(tail["past"]),
        past_names=tuple(meta["past_names"]),
        future_covariates=arr(tail["future"]),
        future_names=tuple(meta["future_names"]),
        freq=meta["freq"],
        filled={},
    )


def read_network(folder: ModelFolder, config: ForecasterConfig, meta: Dict[str, Any]) -> ForecastNet:
    """The network the config describes, with the folder's weights (a mismatch names both files)."""
    n_future = len(meta["future_names"]) + len(meta["calendar_names"])
    net = build_network(
        config.network(), meta["input_length"], len(meta["target_names"]), len(meta["past_names"]), n_future
    )
    folder.load_state_dict(net)
    return net.eval()


def check_folder(folder: ModelFolder) -> None:
    if folder.model_type != MODEL_TYPE:  # rnnkit.load dispatches by type; a direct call may not
        raise FileFormatError(f"{str(folder.path)!r} holds a {folder.model_type!r} model, not a forecaster")
    if not isinstance(folder.config, dict):
        raise folder.bad_config("'config' must be an object of forecaster settings")
