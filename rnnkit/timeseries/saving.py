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
match the config, a malformed preprocessing file, a preprocessing file that does not fit the
config (scalers of other widths, a tail of another length, time kind or calendar) -- raises a
:class:`~rnnkit._checks.FileFormatError` naming the file (both files where two disagree).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from .._checks import FileFormatError, InvalidTypeError, InvalidValueError, is_int
from ..models.format import ModelFolder, save_model
from .calendar import calendar_features
from .config import ForecasterConfig
from .frame import TimeSeriesFrame
from .frequency import date_offset, require_pandas
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
MAX_INT_STEP = 2**31 - 1  # an integer index's step (years, sequence numbers): far below int64's overflow


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
    except (InvalidValueError, InvalidTypeError, OverflowError) as err:  # OverflowError: an int beyond floats
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
        raise folder.bad_config(f"meta.input_length must be an int >= 1, got {length!r:.40}")
    if "freq" not in meta:
        raise folder.bad_config("meta.freq is missing (a frequency alias, an int step or null)")
    freq = meta["freq"]
    if freq is not None and not isinstance(freq, str) and not is_int(freq):
        raise folder.bad_config(f"meta.freq must be a frequency alias, an int step or null, got {freq!r:.40}")
    if is_int(freq) and not 1 <= freq <= MAX_INT_STEP:
        raise folder.bad_config(f"meta.freq, an integer index's step, must be in [1, {MAX_INT_STEP}], got {freq!r:.40}")
    if isinstance(freq, str):
        try:
            date_offset(freq)
        except (ValueError, TypeError) as err:  # InvalidValueError is a ValueError
            raise folder.bad_config(f"meta.freq: {err}") from None
    return meta


def read_preprocessing(folder: ModelFolder, meta: Dict[str, Any]):
    """``(scalers, tail frame)`` from ``preprocessing.json``, checked against ``meta`` (from
    ``config.json``): one scaler per kind of column the model reads, each of the right width and
    finite, the tail ``input_length`` finite rows that the scalers can standardise, its time index
    of the kind ``meta.freq`` steps, and the calendar features ``meta.calendar_names`` lists. A
    :class:`FileFormatError` names the file (and ``config.json`` where the two disagree)."""
    path = folder.file(PREPROCESSING_FILE)
    doc = folder.read_json(PREPROCESSING_FILE)
    widths = {"target": len(meta["target_names"]), "past": len(meta["past_names"]), "future": len(meta["future_names"])}
    C, L = widths["target"], meta["input_length"]
    try:
        if not (isinstance(doc, dict) and isinstance(doc.get("scalers"), dict) and isinstance(doc.get("tail"), dict)):
            raise InvalidValueError("it must be an object with 'scalers' and 'tail' objects")
        scalers = {k: StandardScaler.from_state_dict(v) for k, v in doc["scalers"].items() if k in widths}
        for kind, width in widths.items():
            if width and (kind not in scalers or scalers[kind].mean.shape != (width,)):
                raise InvalidValueError(f"it needs a {kind!r} scaler for the {width} {kind} column(s) of config.json")
            if not width and kind in scalers:
                raise InvalidValueError(f"it has a {kind!r} scaler, but config.json lists no {kind} columns")
            if kind in scalers and not (np.isfinite(scalers[kind].mean).all() and np.isfinite(scalers[kind].std).all()):
                raise InvalidValueError(f"its {kind!r} scaler holds a value that is not a finite number")
        tail = _tail_from_json(doc["tail"], meta)
        if len(tail) != L or tail.targets.shape != (L, C):
            raise InvalidValueError(
                f"its tail must hold the last input_length={L} rows of the {C} target(s) that config.json's "
                f"meta gives, got shape {tail.targets.shape}"
            )
        blocks = {"target": tail.targets, "past": tail.past_covariates, "future": tail.future_covariates}
        for kind, scaler in scalers.items():
            scaler.transform(blocks[kind])  # refuses values the model cannot compute with
    except (InvalidValueError, InvalidTypeError, KeyError, TypeError, ValueError, OverflowError) as err:
        detail = f"missing entry {err}" if isinstance(err, KeyError) else str(err)
        raise FileFormatError(f"{str(path)!r} is not a forecaster's preprocessing file: {detail}") from None
    _check_time(folder, path, tail, meta)
    return scalers, tail


def _check_time(folder: ModelFolder, path, tail: TimeSeriesFrame, meta: Dict[str, Any]) -> None:
    """The tail's index (preprocessing.json) must be of the kind ``meta.freq`` (config.json) steps --
    dates and an alias, integers and an int step (or null) -- and its dates must give the calendar
    features ``meta.calendar_names`` lists."""
    freq, names = meta["freq"], meta["calendar_names"]
    problem = None
    if is_datetime(tail.time) and not isinstance(freq, str):
        problem = f"the tail holds dates, but meta.freq {freq!r:.40} is not a frequency alias"
    elif not is_datetime(tail.time) and freq is not None and (not is_int(freq) or freq < 1):
        problem = f"the tail holds integer times, but meta.freq {freq!r:.40} is not an int step"
    elif names and list(calendar_features(tail.time)[1]) != names:
        got = list(calendar_features(tail.time)[1])
        problem = f"the tail's times give the calendar features {got}, but meta.calendar_names is {names}"
    if problem:
        raise FileFormatError(f"{str(path)!r} and {str(folder.config_path)!r} do not fit together: {problem}")


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
    sizes = (meta["input_length"], len(meta["target_names"]), len(meta["past_names"]), n_future)
    tensors = folder.tensors()
    folder.check_count("num_layers", config.num_layers, tensors)
    net = folder.build(lambda: build_network(config.network(), *sizes), tensors)  # shapes checked first
    return net.eval()


def check_folder(folder: ModelFolder) -> None:
    folder.expect(MODEL_TYPE)  # rnnkit.load dispatches by type; a direct call may not
    if not isinstance(folder.config, dict):
        raise folder.bad_config("'config' must be an object of forecaster settings")
