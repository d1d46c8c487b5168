"""The forecaster's model folder: the one model format, old folders, and what a bad folder says.

The ``forecaster_*`` fixtures were saved by rnnkit's forecaster format versions 1 and 2 (commit
614452b, ``tests/fixtures/legacy/README.md``); each ``*.expected.json`` holds ``predict(horizon)``
as computed when the folder was saved.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import rnnkit  # noqa: E402
from rnnkit._checks import FileFormatError, MissingFileError  # noqa: E402
from rnnkit.models.format import FORMAT_VERSION, read_model  # noqa: E402
from rnnkit.timeseries.config import ForecasterConfig  # noqa: E402
from rnnkit.timeseries.forecaster import Forecaster  # noqa: E402
from rnnkit.timeseries.saving import V1_DEFAULTS  # noqa: E402

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"
FIXTURES = [
    ("forecaster_v1_direct", 1, "direct"),
    ("forecaster_v2_direct", 2, "direct"),
    ("forecaster_v2_autoregressive", 2, "autoregressive"),
]


@pytest.mark.parametrize("name, version, strategy", FIXTURES)
def test_old_forecaster_folders_load_and_forecast_exactly_as_when_saved(name, version, strategy):
    doc = json.loads((LEGACY / name / "config.json").read_text())
    assert (doc["format"], doc["version"]) == ("rnnkit.forecaster", version)  # really the old layout
    expected = json.loads((LEGACY / f"{name}.expected.json").read_text())
    for model in (rnnkit.load(LEGACY / name), Forecaster.from_pretrained(LEGACY / name)):
        assert isinstance(model, Forecaster) and model.config.strategy == strategy
        out = model.predict(expected["horizon"])
        for field in ("mean", "lower", "upper"):
            np.testing.assert_array_equal(getattr(out, field), np.asarray(expected[field]), err_msg=field)
        assert [str(t) for t in out.time] == expected["time"]
    assert read_model(LEGACY / name).format_version == version


def test_a_version_1_folder_gets_the_settings_version_1_trained_with():
    model = rnnkit.load(LEGACY / "forecaster_v1_direct")
    for name, value in V1_DEFAULTS.items():
        assert getattr(model.config, name) == value, name
    assert model.config.teacher_forcing_epochs == model.config.epochs == 3  # v1 decayed over all epochs


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small forecaster saved by today's code, and its forecast."""
    t = pd.date_range("2000-01-01", periods=60, freq="MS")
    y = 5 + np.sin(np.arange(60) * 2 * np.pi / 12) + 0.02 * np.arange(60)
    from rnnkit.timeseries.frame import from_dataframe

    frame = from_dataframe(pd.DataFrame({"t": t, "y": y}), "t", "y")
    model = Forecaster(ForecasterConfig(hidden_size=4, horizon=3, epochs=2, head_warmup=1)).fit(frame)
    folder = tmp_path_factory.mktemp("fc") / "model"
    model.save_pretrained(folder, files={"series.json": json.dumps({"time_column": "t", "targets": ["y"]})})
    return folder, model.predict(5)


def test_a_saved_forecaster_is_format_version_3_and_rnnkit_load_returns_it(saved):
    folder, before = saved
    doc = json.loads((folder / "config.json").read_text())
    assert (doc["model_type"], doc["format_version"]) == ("forecaster", FORMAT_VERSION) == ("forecaster", 3)
    assert doc["config"]["horizon"] == 3 and doc["meta"]["target_names"] == ["y"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.safetensors",
        "preprocessing.json",
        "series.json",
    ]
    after = rnnkit.load(folder).predict(5)
    for field in ("mean", "lower", "upper"):
        np.testing.assert_array_equal(getattr(before, field), getattr(after, field))


def _copy(saved, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(saved[0], target)
    return target


def _edit_config(folder, change):
    path = folder / "config.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_a_damaged_weights_file_is_named(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match=r"model\.safetensors.*not a readable safetensors file"):
        rnnkit.load(folder)


def test_a_config_that_is_a_json_list_is_named(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    (folder / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(FileFormatError, match=r"config\.json.*JSON object.*got a JSON list"):
        Forecaster.from_pretrained(folder)


@pytest.mark.parametrize(
    "change, pattern",
    [
        (
            lambda d: d["config"].update(hidden_size="64"),
            r"config\.json.*hidden_size must be an int >= 1, got str '64'",
        ),
        (lambda d: d["config"].update(cell="transformer"), r"config\.json.*cell must be one of"),
        (lambda d: d["config"].update(colour="blue"), r"config\.json.*unknown forecaster settings \['colour'\]"),
        (lambda d: d["meta"].pop("input_length"), r"config\.json.*meta\.input_length must be an int >= 1, got None"),
        (lambda d: d.update(meta=[1]), r"config\.json.*'meta' must be an object"),
        (lambda d: d["meta"].update(target_names="y"), r"config\.json.*meta\.target_names must be a list"),
    ],
)
def test_a_wrong_value_in_config_json_is_named(saved, tmp_path, change, pattern):
    folder = _copy(saved, tmp_path)
    _edit_config(folder, change)
    with pytest.raises(FileFormatError, match=pattern):
        rnnkit.load(folder)


def test_weights_that_do_not_match_the_config_name_both_files(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    _edit_config(folder, lambda d: d["config"].update(hidden_size=8))
    with pytest.raises(FileFormatError, match=r"model\.safetensors.*does not match.*config\.json.*size mismatch"):
        rnnkit.load(folder)


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda p: p["tail"].update(targets=[[1.0]]), r"tail.targets must be a table of \d+ rows"),
        (lambda p: p["scalers"].pop("target"), r"needs a 'target' scaler"),
        (lambda p: p["tail"].pop("time_kind"), r"missing entry 'time_kind'"),
        (lambda p: p["tail"].update(time=["not a date"] * len(p["tail"]["time"])), r"preprocessing"),
    ],
)
def test_a_malformed_preprocessing_file_is_named(saved, tmp_path, change, pattern):
    folder = _copy(saved, tmp_path)
    path = folder / "preprocessing.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(FileFormatError, match=r"preprocessing\.json.*" + pattern):
        rnnkit.load(folder)
    path.write_text("{not json")
    with pytest.raises(FileFormatError, match=r"preprocessing\.json.*not valid JSON"):
        rnnkit.load(folder)


def test_missing_files_and_other_model_kinds_are_refused(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    (folder / "preprocessing.json").unlink()
    with pytest.raises(MissingFileError, match="preprocessing.json is missing"):
        rnnkit.load(folder)
    with pytest.raises(MissingFileError, match="not a saved Forecaster"):
        Forecaster.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileFormatError, match="holds a language model.*expected a forecaster"):
        Forecaster.from_pretrained(LEGACY / "lm_char_lstm")
    with pytest.raises(TypeError, match="loads without options"):
        Forecaster.from_folder(read_model(saved[0]), map_location="cuda")


def test_the_forecasting_verbs_refuse_a_language_model_folder_in_one_line():
    from typer.testing import CliRunner

    from rnnkit.cli import app

    for args in (
        ["forecast", str(LEGACY / "lm_char_lstm")],
        ["detect", str(LEGACY / "lm_char_lstm")],
        ["backtest", str(LEGACY / "lm_char_lstm")],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        last = result.output.strip().splitlines()[-1]
        assert last.startswith("error: ") and "holds a language model" in last and "forecaster" in last, last
