"""ONNX export: the exported graphs run in onnxruntime and match PyTorch at batch 1 and 7, T = 1, 2, 50."""

import json

import pytest
import torch

import rnnkit
from rnnkit._checks import InvalidValueError
from rnnkit.layers import Recurrent
from rnnkit.models import ClassifierConfig, LanguageModel, LanguageModelConfig, SequenceClassifier
from rnnkit.serving.export_onnx import compare_with_onnxruntime, export_onnx, metadata_path

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (rnnkit's 'onnx' extra)")

V = 11


def lm(cell, layers):
    config = LanguageModelConfig(vocab_size=V, cell=cell, embedding_size=8, hidden_size=16, num_layers=layers)
    return LanguageModel(config).eval()


@pytest.mark.parametrize("graph", ["step", "sequence"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_language_model_matches_pytorch_in_onnxruntime(tmp_path, cell, layers, graph):
    model = lm(cell, layers)
    path = tmp_path / "model.onnx"
    meta = export_onnx(model, path, graph=graph)
    assert compare_with_onnxruntime(model, path, batch_sizes=(1, 7), lengths=(1, 2, 50)) <= 1e-5
    assert not model.training  # left as it was
    on_disk = json.loads(metadata_path(path).read_text())
    assert on_disk == meta and meta["kind"] == "language_model" and meta["graph"] == graph
    assert [s["start"] for s in meta["state"]] == [0.0] * (2 if cell == "lstm" else 1)


def test_a_runtime_needs_only_the_metadata(tmp_path):
    """Step a stream in onnxruntime using the JSON alone, and compare with a rnnkit session."""
    import numpy as np

    model = lm("lstm", 2)
    export_onnx(model, tmp_path / "m.onnx")
    meta = json.loads((tmp_path / "m.onnx.json").read_text())
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    state = {
        s["input"]: np.full([1, *[d for d in spec["shape"][1:]]], s["start"], dtype=np.float32)
        for s, spec in zip(meta["state"], meta["inputs"][1:])
    }
    tokens = torch.randint(0, V, (1, 20))
    session = rnnkit.stream(model, 1)
    for t in range(20):
        y, *nxt = sess.run(None, {"x": tokens[:, t].numpy(), **state})
        state = {s["input"]: n for s, n in zip(meta["state"], nxt)}
        assert np.abs(y - session.step(tokens[:, t]).numpy()).max() <= 1e-5


def test_every_cell_exports_its_step_graph_or_says_why_not(tmp_path):
    cells = [getattr(rnnkit.cells, n) for n in rnnkit.cells.__all__ if n.endswith("Cell") and n != "RecurrentCell"]
    exported = []
    for cls in cells:
        layer = Recurrent(cls, 3, 4, num_layers=2, batch_first=True).eval()
        path = tmp_path / f"{cls.__name__}.onnx"
        try:
            export_onnx(layer, path)
        except InvalidValueError as err:  # the exporter cannot: a clear message naming the cell
            assert cls.__name__ in str(err) and "ONNX exporter cannot export" in str(err)
            assert not path.exists()
            continue
        assert compare_with_onnxruntime(layer, path, lengths=(1, 5)) <= 1e-5, cls.__name__
        exported.append(cls.__name__)
    assert {"LSTMCell", "GRUCell", "ElmanCell"} <= set(exported)
    with pytest.raises(InvalidValueError, match="ONNX has operators only for those"):
        export_onnx(Recurrent(cells[-1], 3, 4).eval(), tmp_path / "seq.onnx", graph="sequence")


def test_a_unidirectional_classifier_exports_its_running_prediction(tmp_path):
    config = ClassifierConfig(vocab_size=V, embedding_size=6, hidden_size=7, bidirectional=False, labels=["a", "b"])
    model = SequenceClassifier(config).eval()
    meta = export_onnx(model, tmp_path / "c.onnx")
    assert meta["labels"] == ["a", "b"]
    assert {s["start"] for s in meta["state"]} == {0.0, "-inf"}  # attention pooling's running max starts at -inf
    assert compare_with_onnxruntime(model, tmp_path / "c.onnx", lengths=(1, 2, 20)) <= 1e-5


def test_refusals_say_why(tmp_path):
    with pytest.raises(InvalidValueError, match="training mode"):
        export_onnx(lm("gru", 1).train(), tmp_path / "a.onnx")
    conditioned = LanguageModel(LanguageModelConfig(vocab_size=V, hidden_size=8, condition_size=3)).eval()
    with pytest.raises(InvalidValueError, match="conditioned"):
        export_onnx(conditioned, tmp_path / "b.onnx")
    assert not (tmp_path / "a.onnx").exists() and not (tmp_path / "b.onnx").exists()
