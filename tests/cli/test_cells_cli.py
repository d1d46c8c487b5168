"""Every extended cell end to end through the command line: ``train lm --cell X`` with tiny sizes,
then ``generate`` and ``evaluate`` on the saved model; the regularisers stored in the model's config
(and an older folder without them still loading); and the other tasks' ``--cell``."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnkit
from rnnkit.cli import app
from rnnkit.layers import CELL_TYPES

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 30
TINY = ["--hidden-size", "12", "--num-layers", "2", "--embedding-size", "8", "--bptt", "8", "--batch-size", "4"]
TINY += ["--max-steps", "4", "--val-every", "2", "--checkpoint-every", "2", "--sample-length", "0"]
NEW_CELLS = ["layernorm-lstm", "layernorm-gru", "peephole-lstm", "indrnn", "mingru", "minlstm"]


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("cells") / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("cell", NEW_CELLS)
def test_train_lm_then_generate_and_evaluate(cell, corpus, tmp_path):
    out = tmp_path / "run"
    code, text = run("train", "lm", "--text", corpus, "--out", out, "--cell", cell, *TINY)
    assert code == 0, text
    assert json.loads((out / "config.json").read_text())["config"]["cell"] == cell
    model = rnnkit.load(out)
    assert all(type(c) is CELL_TYPES[cell] for row in model.rnn.cell_grid() for c in row)
    code, text = run("generate", out, "--prompt", "the ", "--length", 12, "--seed", 0)
    assert code == 0 and text.startswith("the "), text
    code, text = run("evaluate", out, "--text", corpus)
    assert code == 0 and "nats/character" in text, text


@pytest.mark.slow
def test_regularisers_are_saved_and_the_model_reloads(corpus, tmp_path):
    out = tmp_path / "run"
    regs = ["--weight-drop", "0.3", "--recurrent-dropout", "0.2", "--zoneout", "0.1"]
    code, text = run("train", "lm", "--text", corpus, "--out", out, "--cell", "layernorm-lstm", *regs, *TINY)
    assert code == 0, text
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["weight_drop"], config["recurrent_dropout"], config["zoneout"]) == (0.3, 0.2, 0.1)
    model = rnnkit.load(out)
    reg = model.rnn.regularizers
    assert (reg.weight_drop, reg.recurrent_dropout, reg.zoneout) == (0.3, 0.2, 0.1)
    first = run("generate", out, "--prompt", "the ", "--length", 20, "--temperature", 0)
    assert first[0] == 0 and first == run("generate", out, "--prompt", "the ", "--length", 20, "--temperature", 0)
    settings = json.loads((out / "run_settings.json").read_text())["recipe"]
    assert settings["zoneout"] == 0.1 and settings["cell"] == "layernorm-lstm"


@pytest.mark.slow
def test_a_folder_saved_before_the_regularisers_still_loads(corpus, tmp_path):
    out = tmp_path / "run"
    code, text = run("train", "lm", "--text", corpus, "--out", out, *TINY)
    assert code == 0, text
    doc = json.loads((out / "config.json").read_text())
    for name in ("weight_drop", "recurrent_dropout", "zoneout"):
        del doc["config"][name]
    (out / "config.json").write_text(json.dumps(doc))
    model = rnnkit.load(out)
    assert not model.rnn.regularizers and model.config.zoneout == 0.0
    code, text = run("evaluate", out, "--text", corpus)
    assert code == 0, text


@pytest.fixture(scope="module")
def task_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    reviews, conll, pairs, csv = (root / n for n in ("r.csv", "t.conll", "p.tsv", "s.csv"))
    reviews.write_text(
        "review,sentiment\n" + "".join(f"it was {w},pos\nit was not {w},neg\n" for w in ["good", "fine"] * 20)
    )
    conll.write_text("".join(f"Alice\tB-PER\nlikes\tO\nRome\tB-LOC\nw{i}\tO\n\n" for i in range(20)))
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("abc", "bca", "cab", "acb") * 6))
    rows = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01,{10 + np.sin(i / 2):.4f}" for i in range(60)]
    csv.write_text("month,sales\n" + "\n".join(rows) + "\n")
    return {"reviews": reviews, "conll": conll, "pairs": pairs, "csv": csv}


SMALL = ["--hidden-size", "8", "--embedding-size", "8", "--epochs", "1"]
OTHER_TASKS = {  # a new cell for each task
    "layernorm-gru": ["train", "classify", "--data", "{reviews}", "--text-col", "review", "--label-col", "sentiment"]
    + ["--level", "word", *SMALL],
    "indrnn": ["train", "tag", "--data", "{conll}", *SMALL],
    "peephole-lstm": ["train", "seq2seq", "--pairs", "{pairs}", *SMALL, "--beam", "1"],
    "minlstm": ["train", "forecast", "--csv", "{csv}", "--time-col", "month", "--target", "sales", "--horizon", "3"]
    + ["--input-length", "12", "--max-epochs", "1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("cell", list(OTHER_TASKS))
def test_the_other_tasks_take_the_new_cells(cell, task_data, tmp_path):
    argv = [a.format(**task_data) for a in OTHER_TASKS[cell]]
    out = tmp_path / "run"
    code, text = run(*argv, "--cell", cell, "--out", out)
    assert code == 0, f"{cell}: {text}"
    assert f'"cell": "{cell}"' in (out / "config.json").read_text()
    model = rnnkit.load(out)
    model = getattr(model, "net", model)  # a Forecaster holds its network
    cells = [m for m in model.modules() if isinstance(m, rnnkit.RecurrentCell)]
    assert cells and all(type(c) is CELL_TYPES[cell] for c in cells)
