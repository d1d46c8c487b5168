"""rnnkit export from the command line: fp32 and int8 files that onnxruntime runs."""

import json

import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.data.vocab import Vocabulary
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.serving.export_onnx import compare_with_onnxruntime
from rnnkit.serving.quantize import quantize_int8

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (rnnkit's 'onnx' extra)")


@pytest.fixture
def lm_dir(tmp_path):
    vocab = Vocabulary.from_text("hello world, a small text.\n")
    model = LanguageModel(LanguageModelConfig(vocab_size=len(vocab), embedding_size=16, hidden_size=64)).eval()
    model.save_pretrained(tmp_path / "lm", vocab=vocab)
    return tmp_path / "lm", model, vocab


@pytest.mark.slow
def test_export_writes_a_checked_onnx_file_and_its_metadata(lm_dir, tmp_path):
    folder, model, vocab = lm_dir
    result = CliRunner().invoke(app, ["export", str(folder), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert "max abs difference" in result.output and "relative to max(1, |value|)" in result.output
    assert "(ok)" in result.output
    meta = json.loads((tmp_path / "m.onnx.json").read_text())
    assert meta["kind"] == "language_model" and meta["vocab"] == json.loads(vocab.to_json())
    assert compare_with_onnxruntime(model, tmp_path / "m.onnx", lengths=(3,)) <= 1e-5


@pytest.mark.slow
def test_int8_is_about_four_times_smaller_and_close(lm_dir):
    folder, model, _ = lm_dir
    result = CliRunner().invoke(app, ["export", str(folder), "--quantize", "int8"])
    assert result.exit_code == 0, result.output
    fp32, int8 = folder / "model.int8.fp32.onnx", folder / "model.int8.onnx"
    assert fp32.is_file() and int8.is_file()
    assert fp32.stat().st_size / int8.stat().st_size > 3.0  # biases stay float: a bit under 4x
    meta = json.loads((folder / "model.int8.onnx.json").read_text())
    assert meta["quantized"] == "int8"
    # quantisation error is bounded but not zero: the logits move little relative to their spread
    diff = compare_with_onnxruntime(model, int8, batch_sizes=(2,), lengths=(5,))
    assert 0 < diff < 0.5


def test_quantize_needs_the_exported_file_and_metadata(tmp_path):
    from rnnkit._checks import MissingFileError

    with pytest.raises(MissingFileError, match="metadata"):
        quantize_int8(tmp_path / "none.onnx", tmp_path / "q.onnx")
    assert not (tmp_path / "q.onnx").exists()


def test_a_failed_export_keeps_the_previous_file(lm_dir, tmp_path):
    folder, _, _ = lm_dir
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous")
    torch.save({}, folder / "ignored.pt")  # unrelated files are left alone
    (folder / "config.json").write_text("{broken")
    result = CliRunner().invoke(app, ["export", str(folder), "--out", str(out), "--no-check"])
    assert result.exit_code == 2 and "config.json" in result.output
    assert out.read_bytes() == b"previous"


def test_a_file_that_does_not_match_is_reported_as_an_error(lm_dir, tmp_path, monkeypatch):
    import rnnkit.serving.export_onnx as export_module

    folder, _, _ = lm_dir
    monkeypatch.setattr(export_module, "compare_with_onnxruntime", lambda *a, **k: 3e-4)
    result = CliRunner().invoke(app, ["export", str(folder), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2
    assert "error:" in result.output and "3.00e-04" in result.output and "do not trust it" in result.output
