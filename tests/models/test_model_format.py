"""The one model format: ``rnnkit.load`` on folders of every layout, round trips, refusals.

The ``lm_*`` fixtures were saved by the language model's first layout (no format version, commit
614452b; see ``tests/fixtures/legacy/README.md``); each ``*.expected.safetensors`` holds the ids it
was run on and the logits it gave then. The forecaster fixtures are tested with the forecaster.
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit._checks import FileFormatError, MissingFileError
from rnnkit.data.vocab import Vocabulary
from rnnkit.models.format import FORMAT_VERSION, MODEL_TYPES, read_model
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"


@pytest.mark.parametrize("name, level, cell", [("lm_char_lstm", "char", "lstm"), ("lm_word_gru_tied", "word", "gru")])
def test_legacy_language_model_folders_load_and_compute_what_they_computed(name, level, cell):
    folder = LEGACY / name
    assert "format_version" not in json.loads((folder / "config.json").read_text())  # really the old layout
    model = rnnkit.load(folder)
    assert isinstance(model, LanguageModel) and not model.training
    assert model.config.cell == cell and model.vocab.level == level
    expected = load_file(LEGACY / f"{name}.expected.safetensors")
    with torch.no_grad():
        logits, _ = model(expected["ids"])
    # to float rounding: a CPU GRU now runs the gru engine, not torch.nn's kernel that wrote the file
    torch.testing.assert_close(logits, expected["logits"], rtol=1e-5, atol=1e-6)
    info = read_model(folder)
    assert (info.model_type, info.format_version) == ("language_model", 1)


def test_a_tied_legacy_model_keeps_one_shared_matrix():
    model = rnnkit.load(LEGACY / "lm_word_gru_tied")
    assert model.config.tie_weights and model.decoder.weight is model.embedding.weight


def test_the_legacy_vocabulary_encodes_as_it_did():
    model = rnnkit.load(LEGACY / "lm_word_gru_tied")
    expected = load_file(LEGACY / "lm_word_gru_tied.expected.safetensors")
    text = "the quick brown fox jumps over the lazy"  # make_fixtures.py: the first 8 words of its text
    assert model.vocab.encode(text) == expected["ids"][0].tolist()


def trained_like(tmp_path, cell="lstm", **kw):
    torch.manual_seed(3)
    vocab = Vocabulary.from_text("the cat sat on the mat.\n", level="word")
    model = LanguageModel(
        LanguageModelConfig(vocab_size=len(vocab), cell=cell, embedding_size=6, hidden_size=6, num_layers=2, **kw),
        vocab,
    ).eval()
    with torch.no_grad():  # off the initialisation, so a silently re-initialised load would differ
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(tmp_path / "lm")
    return model, tmp_path / "lm"


@pytest.mark.parametrize("kw", [dict(cell="lstm"), dict(cell="gru", tie_weights=True)])
def test_language_model_round_trip_through_rnnkit_load(tmp_path, kw):
    model, folder = trained_like(tmp_path, **kw)
    doc = json.loads((folder / "config.json").read_text())
    assert doc["model_type"] == "language_model" and doc["format_version"] == FORMAT_VERSION == 3
    assert doc["rnnkit_version"] == rnnkit.__version__ and doc["config"] == model.config.to_dict()
    loaded = rnnkit.load(folder)
    assert type(loaded) is LanguageModel and loaded.config == model.config and loaded.vocab == model.vocab
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    ids = torch.tensor([model.vocab.encode("the cat sat on the mat")])
    torch.testing.assert_close(loaded(ids)[0], model(ids)[0], rtol=0, atol=0)


def test_load_passes_options_to_the_model_class(tmp_path):
    _, folder = trained_like(tmp_path)
    model = rnnkit.load(folder, map_location="meta")
    assert next(model.parameters()).device.type == "meta"


def test_a_forecaster_folder_is_refused_where_a_language_model_is_expected():
    folder = LEGACY / "forecaster_v2_direct"
    with pytest.raises(
        FileFormatError,
        match=r"holds a forecaster \(written by `rnnkit train forecast`\), "
        r"expected a language model \(written by `rnnkit train lm`\)",
    ):
        LanguageModel.from_pretrained(folder)
    with pytest.raises(FileFormatError, match="holds a forecaster"):
        LanguageModel.from_folder(read_model(folder))
    assert read_model(folder).model_type == "forecaster"  # recognised by its shape (format 2)


def test_config_json_that_is_a_json_list_is_refused_naming_the_file(tmp_path):
    _, folder = trained_like(tmp_path)
    (folder / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(
        FileFormatError,
        match=r"config.json' must hold a JSON object describing the model, "
        r"got a JSON list",
    ):
        rnnkit.load(folder)


def test_a_newer_format_version_asks_for_a_newer_rnnkit(tmp_path):
    _, folder = trained_like(tmp_path)
    doc = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**doc, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(
        FileFormatError,
        match=rf"config.json' has format_version {FORMAT_VERSION + 1}, newer than "
        rf"this rnnkit reads \({FORMAT_VERSION}\): upgrade rnnkit",
    ):
        rnnkit.load(folder)
    (folder / "config.json").write_text(json.dumps({**doc, "format_version": "3"}))
    with pytest.raises(FileFormatError, match="format_version must be an int >= 3, got '3'"):
        rnnkit.load(folder)


def test_an_unknown_model_type_is_refused_listing_the_known_ones(tmp_path):
    _, folder = trained_like(tmp_path)
    doc = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**doc, "model_type": "transformer"}))
    with pytest.raises(
        FileFormatError,
        match=r"unknown model_type 'transformer'; this rnnkit loads \[.*'forecaster'"
        r".*'language_model'.*\]",
    ):
        rnnkit.load(folder)
    assert "transformer" not in MODEL_TYPES


def test_a_folder_without_a_model_type_is_refused(tmp_path):
    _, folder = trained_like(tmp_path)
    (folder / "config.json").write_text(json.dumps({"vocab_size": 3}))
    with pytest.raises(FileFormatError, match="does not describe a rnnkit model"):
        rnnkit.load(folder)


@pytest.mark.parametrize("keep", [0.5, 0.02], ids=["half", "cut-in-header"])
def test_a_truncated_weights_file_is_refused_naming_it(tmp_path, keep):
    _, folder = trained_like(tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(
        FileFormatError,
        match=r"model.safetensors' is not a readable safetensors file "
        r"\(truncated or corrupt\?\)",
    ):
        rnnkit.load(folder)


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        rnnkit.load(tmp_path / "nothing")
    with pytest.raises(MissingFileError, match="holds no config.json"):
        rnnkit.load(tmp_path)
    _, folder = trained_like(tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(MissingFileError, match="model.safetensors is missing"):
        rnnkit.load(folder)
    with pytest.raises(FileFormatError, match="config.json' is a file, not a model folder"):
        rnnkit.load(folder / "config.json")


def test_a_vocabulary_that_does_not_fit_the_weights_is_refused(tmp_path):
    _, folder = trained_like(tmp_path)
    Vocabulary.from_text("ab").save(folder / "vocab.json")
    with pytest.raises(FileFormatError, match="do not fit together: the vocabulary has 3 tokens"):
        rnnkit.load(folder)
    (folder / "vocab.json").write_text(
        '{"format": "rnnkit.vocabulary", "version": 1, "level": "morse", '
        '"unknown": "replace", "specials": [], "symbols": ["a"]}'
    )
    with pytest.raises(FileFormatError, match="vocab.json' is not a readable vocabulary: unknown tokenizer level"):
        rnnkit.load(folder)
