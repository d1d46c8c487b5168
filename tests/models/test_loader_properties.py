"""Property tests of the model loaders: whatever is in a model folder's files, loading it either
gives a model that computes, or raises one of the project's errors naming the damaged file.

Each test starts from a good folder of a tiny model (a language model with its vocabulary; a
forecaster with dates and calendar features, and one on an integer index), replaces one file
with something else and loads the folder with ``rnnkit.load`` (or the class's loader):

* config.json / vocab.json / preprocessing.json: random JSON documents, random mutations of the
  good document (fields deleted, values replaced by JSON of another type, huge, negative, NaN and
  infinite numbers, strings, nested lists), random bytes, pickled data (``torch.save`` in both its
  formats), an empty file;
* model.safetensors: truncations at random offsets, random bytes, bytes flipped in its header,
  pickled data, a zip archive, an empty file.

The assertion is the same for each: it loads and runs forward (a language model scores tokens, a
forecaster forecasts), or it raises :class:`rnnkit._checks.UserError` whose message contains the
file's name. Any other exception fails the test.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit._checks import FileFormatError, UserError
from rnnkit.data.vocab import Vocabulary
from rnnkit.models.format import FORMAT_VERSION
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

pd = pytest.importorskip("pandas")

from rnnkit.timeseries.config import ForecasterConfig  # noqa: E402
from rnnkit.timeseries.forecaster import Forecaster  # noqa: E402
from rnnkit.timeseries.frame import from_array, from_dataframe  # noqa: E402
from rnnkit.timeseries.network import build_network  # noqa: E402
from rnnkit.timeseries.scaling import StandardScaler  # noqa: E402

# RNNKIT_PROPERTY_EXAMPLES=2000 searches deeper (random, not the fixed examples of the default run)
DEEP = int(os.environ.get("RNNKIT_PROPERTY_EXAMPLES", "0"))
SETTINGS = settings(
    max_examples=DEEP or 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=not DEEP,
)

# ---- strategies ----------------------------------------------------------------------------

EXTREMES = st.sampled_from(
    [0, -1, -(10**18), 2**63, 10**30, 10**400, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf, 0.5, True]
)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | EXTREMES
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# a value of another kind than the one it replaces: strings, nested lists, extremes, any JSON
REPLACEMENTS = EXTREMES | st.text(max_size=12) | st.lists(st.lists(LEAVES, max_size=3), max_size=3) | JSON


def paths_in(doc, prefix=()):
    """The path (keys / indexes) of every node below ``doc``."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from paths_in(value, prefix + (key,))


@st.composite
def mutated(draw, doc):
    """``doc`` with 1-3 random edits: a node deleted, or its value replaced by another kind."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(paths_in(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(REPLACEMENTS)
    return doc


def dumps(doc) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


def pickled() -> bytes:
    """What ``torch.save`` writes in its old format: a pickle stream."""
    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def zipped() -> bytes:
    """What ``torch.save`` writes today: a zip archive holding a pickle."""
    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buf)
    return buf.getvalue()


FOREIGN = st.sampled_from([b"", pickled(), zipped(), pickle.dumps({"config": {}}), b"\x00" * 64])


def json_damage(good: dict):
    """Strategies of content for a JSON file whose good document is ``good``."""
    return (
        JSON.map(dumps)
        | mutated(good).map(dumps)
        | st.binary(max_size=64)
        | FOREIGN
        | st.just(b'{"config": ' + b"9" * 5000 + b"}")  # more digits than Python converts
        | st.just(b"[" * 100_000)  # deeper than the parser recurses
        | st.integers(1, len(dumps(good)) - 1).map(lambda n: dumps(good)[:n])
    )


def weights_damage(good: bytes):
    header_end = 8 + int.from_bytes(good[:8], "little")

    def flip(args):
        at, byte = args
        return good[:at] + bytes([byte]) + good[at + 1 :]

    return (
        st.integers(0, len(good) - 1).map(lambda n: good[:n])
        | st.tuples(st.integers(0, header_end - 1), st.integers(0, 255)).map(flip)
        | st.binary(max_size=64)
        | FOREIGN
    )


# ---- good folders --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory):
    torch.manual_seed(0)
    vocab = Vocabulary.from_text("the cat sat on the mat", level="char")
    config = LanguageModelConfig(vocab_size=len(vocab), embedding_size=4, hidden_size=5, num_layers=2)
    folder = tmp_path_factory.mktemp("good") / "lm"
    LanguageModel(config, vocab).save_pretrained(folder)
    return folder


def tiny_forecaster(frame, calendar: bool) -> Forecaster:
    """A forecaster with random weights (no fit: the loader does not care how weights were found)."""
    config = ForecasterConfig(hidden_size=3, horizon=2, input_length=4, calendar=calendar, epochs=1)
    fc = Forecaster(config)
    n_cal = 2 if calendar else 0  # monthly dates: sin and cos of the month
    fc.meta = {
        "target_names": list(frame.target_names),
        "past_names": [],
        "future_names": [],
        "calendar_names": ["month_sin", "month_cos"][:n_cal],
        "input_length": 4,
        "freq": frame.freq,
    }
    fc.scalers = {"target": StandardScaler().fit(frame.targets)}
    fc.tail = frame.slice(len(frame) - 4, None)
    fc.net = build_network(config.network(), 4, frame.n_targets, 0, n_cal).eval()
    return fc


@pytest.fixture(scope="module", params=["dates", "integers"])
def fc_folder(request, tmp_path_factory):
    y = 5 + np.sin(np.arange(24) * 2 * np.pi / 12)
    if request.param == "dates":
        t = pd.date_range("2000-01-01", periods=24, freq="MS")
        frame = from_dataframe(pd.DataFrame({"t": t, "y": y}), "t", "y")
    else:
        frame = from_array(np.stack([y, 2 * y], axis=1), start=1990)
    folder = tmp_path_factory.mktemp("good") / f"fc_{request.param}"
    tiny_forecaster(frame, calendar=request.param == "dates").save_pretrained(folder)
    rnnkit.load(folder).predict(3)  # the good folder is good
    return folder


class Scratch:
    """A fresh copy of a good folder for each example."""

    def __init__(self, root: Path) -> None:
        self.root, self.n = root, 0

    def copy(self, good: Path) -> Path:
        self.n += 1
        target = self.root / f"{good.name}_{self.n}"
        shutil.copytree(good, target)
        return target


@pytest.fixture()
def scratch(tmp_path):
    return Scratch(tmp_path)


# ---- the property --------------------------------------------------------------------------


def run_lm(model: LanguageModel) -> None:
    logits, _ = model(torch.zeros(1, 3, dtype=torch.long))
    assert logits.shape == (1, 3, model.config.vocab_size)
    if model.vocab is not None:
        model.vocab.decode(list(range(len(model.vocab))))


def run_fc(model: Forecaster) -> None:
    out = model.predict(3)
    assert out.mean.shape == (3, len(model.meta["target_names"]))


def loads_or_names(folder: Path, damaged: str, run) -> None:
    """Load ``folder`` (whose file ``damaged`` was replaced): it computes, or a UserError names the file."""
    try:
        model = rnnkit.load(folder)
    except UserError as err:
        assert damaged in str(err), f"the error does not name {damaged}: {err}"
        return
    run(model)


def damage(folder: Path, name: str, content: bytes) -> None:
    (folder / name).write_bytes(content)


# ---- the language model ----------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_a_damaged_lm_config_is_named_or_loads(lm_folder, scratch, data):
    good = json.loads((lm_folder / "config.json").read_text())
    content = data.draw(json_damage(good))
    folder = scratch.copy(lm_folder)
    damage(folder, "config.json", content)
    loads_or_names(folder, "config.json", run_lm)
    try:
        LanguageModel.from_pretrained(folder)
    except UserError as err:
        assert "config.json" in str(err)


@SETTINGS
@given(data=st.data())
def test_a_damaged_vocabulary_is_named_or_loads(lm_folder, scratch, data):
    good = json.loads((lm_folder / "vocab.json").read_text())
    content = data.draw(json_damage(good))
    folder = scratch.copy(lm_folder)
    damage(folder, "vocab.json", content)
    loads_or_names(folder, "vocab.json", run_lm)
    try:
        vocab = Vocabulary.load(folder / "vocab.json")
    except UserError as err:
        assert "vocab.json" in str(err)
    else:
        assert vocab.decode(list(range(len(vocab)))) is not None


@SETTINGS
@given(data=st.data())
def test_damaged_lm_weights_are_named_or_load(lm_folder, scratch, data):
    content = data.draw(weights_damage((lm_folder / "model.safetensors").read_bytes()))
    folder = scratch.copy(lm_folder)
    damage(folder, "model.safetensors", content)
    loads_or_names(folder, "model.safetensors", run_lm)


# ---- the forecaster --------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_a_damaged_forecaster_config_is_named_or_loads(fc_folder, scratch, data):
    good = json.loads((fc_folder / "config.json").read_text())
    content = data.draw(json_damage(good))
    folder = scratch.copy(fc_folder)
    damage(folder, "config.json", content)
    loads_or_names(folder, "config.json", run_fc)
    try:
        Forecaster.from_pretrained(folder)
    except UserError as err:
        assert "config.json" in str(err)


@SETTINGS
@given(data=st.data())
def test_a_damaged_preprocessing_file_is_named_or_loads(fc_folder, scratch, data):
    good = json.loads((fc_folder / "preprocessing.json").read_text())
    content = data.draw(json_damage(good))
    folder = scratch.copy(fc_folder)
    damage(folder, "preprocessing.json", content)
    loads_or_names(folder, "preprocessing.json", run_fc)


@SETTINGS
@given(data=st.data())
def test_damaged_forecaster_weights_are_named_or_load(fc_folder, scratch, data):
    content = data.draw(weights_damage((fc_folder / "model.safetensors").read_bytes()))
    folder = scratch.copy(fc_folder)
    damage(folder, "model.safetensors", content)
    loads_or_names(folder, "model.safetensors", run_fc)


# ---- what the messages say -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "vocab.json"])
def test_pickles_and_zip_archives_are_named_as_such_and_never_unpickled(lm_folder, scratch, name, monkeypatch):
    def no_unpickling(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    for content, said in ((pickled(), "looks like a pickle (torch.save) file"), (zipped(), "a zip archive")):
        folder = scratch.copy(lm_folder)
        damage(folder, name, content)
        with pytest.raises(FileFormatError) as err:
            rnnkit.load(folder)
        assert name in str(err.value) and said in str(err.value), str(err.value)
    assert zipfile.is_zipfile(io.BytesIO(zipped()))  # the zip case really is one


@pytest.mark.parametrize("field, value", [("hidden_size", 7), ("embedding_size", 3), ("vocab_size", 12)])
def test_a_config_that_does_not_fit_the_weights_names_the_tensor_and_both_shapes(lm_folder, scratch, field, value):
    folder = scratch.copy(lm_folder)
    doc = json.loads((folder / "config.json").read_text())
    saved = LanguageModelConfig(**doc["config"])
    doc["config"][field] = value
    (folder / "config.json").write_text(json.dumps(doc))
    if field == "vocab_size":
        (folder / "vocab.json").unlink()  # else the vocabulary's size is the first thing that differs
    with pytest.raises(FileFormatError) as err:
        rnnkit.load(folder)
    message = str(err.value)
    described = LanguageModel(LanguageModelConfig(**doc["config"])).state_dict()
    stored = LanguageModel(saved).state_dict()
    differing = [k for k in stored if stored[k].shape != described[k].shape]
    named = [k for k in differing if repr(k) in message]
    assert named, message
    assert str(tuple(stored[named[0]].shape)) in message and str(tuple(described[named[0]].shape)) in message
    assert "model.safetensors" in message and "config.json" in message


def test_weights_missing_a_tensor_or_holding_another_are_named(lm_folder, scratch):
    from safetensors.torch import load_file, save_file

    folder = scratch.copy(lm_folder)
    tensors = load_file(folder / "model.safetensors")
    tensors.pop("decoder.bias")
    tensors["stray.weight"] = torch.zeros(2)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(FileFormatError, match=r"model\.safetensors.*'decoder\.bias'.*'stray\.weight'"):
        rnnkit.load(folder)


def test_non_finite_weights_are_refused_naming_the_tensor(lm_folder, scratch):
    from safetensors.torch import load_file, save_file

    folder = scratch.copy(lm_folder)
    tensors = load_file(folder / "model.safetensors")
    tensors["decoder.bias"][1] = math.nan
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(FileFormatError, match=r"model\.safetensors.*'decoder\.bias'.*not finite"):
        rnnkit.load(folder)


@pytest.mark.parametrize("folder_kind", ["lm", "fc"])
def test_a_format_version_from_the_future_says_to_upgrade(lm_folder, fc_folder, scratch, folder_kind):
    folder = scratch.copy(lm_folder if folder_kind == "lm" else fc_folder)
    doc = json.loads((folder / "config.json").read_text())
    doc["format_version"] = FORMAT_VERSION + 1
    (folder / "config.json").write_text(json.dumps(doc))
    with pytest.raises(FileFormatError, match=r"config\.json.*format_version 4.*upgrade rnnkit"):
        rnnkit.load(folder)


@pytest.mark.parametrize("field, value", [("num_layers", 10**6), ("hidden_size", 10**12), ("vocab_size", 2**62)])
def test_huge_sizes_in_a_config_are_refused_without_allocating(lm_folder, scratch, field, value):
    folder = scratch.copy(lm_folder)
    doc = json.loads((folder / "config.json").read_text())
    doc["config"][field] = value
    (folder / "config.json").write_text(json.dumps(doc))
    (folder / "vocab.json").unlink()
    with pytest.raises(FileFormatError) as err:
        rnnkit.load(folder)
    assert "config.json" in str(err.value) and str(value) in str(err.value), str(err.value)
