"""The `rnnkit` command end to end on a tiny file: train, evaluate, generate, resume; error cases."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from rnnkit.cli import app

TINY = ["--hidden-size", "16", "--num-layers", "1", "--embedding-size", "8", "--bptt", "16", "--batch-size", "4",
        "--val-every", "10", "--checkpoint-every", "10", "--dropout", "0.1"]
TEXT = "the quick brown fox jumps over the lazy dog.\n" * 40


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_train_evaluate_generate(tmp_path, corpus):
    out = tmp_path / "run"
    code, text = run("train", "lm", "--text", corpus, "--out", out, "--max-steps", 30, "--sample-length", 20, *TINY)
    assert code == 0, text
    for name in ("config.json", "model.safetensors", "vocab.json", "train_log.csv", "val_log.csv",
                 "loss_curves.png", "summary.json"):
        assert (out / name).is_file(), name
    assert (out / "last" / "model.safetensors").is_file()
    assert "--- sample ---" in text and f"model: {out}/" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 30 and summary["val_loss"] < 3.5  # below uniform over ~30 symbols

    code, text = run("evaluate", out, "--text", corpus)
    assert code == 0, text
    loss = float(text.split("loss: ")[1].split()[0])
    bits = float(text.split("bits per token: ")[1].split()[0])
    assert abs(bits - loss / 0.6931471805599453) < 1e-3

    code, a = run("generate", out, "--prompt", "the ", "--length", 40, "--seed", 3, "--top-k", 5)
    code2, b = run("generate", out, "--prompt", "the ", "--length", 40, "--seed", 3, "--top-k", 5)
    assert code == code2 == 0 and a == b and a.startswith("the ")
    code, greedy = run("generate", out, "--prompt", "the ", "--length", 40, "--temperature", 0)
    assert code == 0 and len(greedy.strip()) >= 30


def _train_cmd(corpus, out, *extra):
    return [sys.executable, "-m", "rnnkit", "train", "lm", "--text", str(corpus), "--out", str(out),
            "--max-steps", "40", "--sample-length", "0", *TINY, *extra]


def test_resume_after_sigkill_equals_uninterrupted(tmp_path, corpus):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(corpus, straight), check=True, env=env, capture_output=True, timeout=120)

    crashed = tmp_path / "crashed"
    proc = subprocess.Popen(_train_cmd(corpus, crashed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = crashed / "last" / "training_state.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if marker.is_file() and json.loads(marker.read_text())["state"]["step"] >= 10:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    state = json.loads(marker.read_text())["state"]
    assert 10 <= state["step"] < 40, "the run should have been killed in the middle"

    done = subprocess.run(_train_cmd(corpus, crashed, "--resume"), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    a, b = load_file(straight / "model.safetensors"), load_file(crashed / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert (a[name] == b[name]).all(), f"{name} differs after resume"


@pytest.mark.parametrize(
    "make,pattern",
    [
        (lambda p: p / "missing.txt", "text file not found"),
        (lambda p: (p / "empty.txt").write_text("") and p / "empty.txt" or p / "empty.txt", "empty"),
        (lambda p: (p / "bin.txt").write_bytes(b"\x00\x01\x02\xff" * 50) and p / "bin.txt", "not"),
        (lambda p: (p / "short.txt").write_text("abc") and p / "short.txt", "too short"),
    ],
    ids=["missing", "empty", "binary", "too-short"],
)
def test_bad_text_files_give_one_clear_line(tmp_path, make, pattern):
    path = make(tmp_path)
    code, text = run("train", "lm", "--text", path, "--out", tmp_path / "o", "--max-steps", 2, *TINY)
    assert code == 2
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and pattern in lines[-1], text
    assert "Traceback" not in text


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["--hidden-size", "-3"], "hidden_size"),
        (["--bptt", "0"], "bptt must be a positive int, got 0"),
        (["--lr", "-1"], "lr must be positive"),
        (["--dropout", "1.5"], "dropout"),
        (["--cell", "transformer"], "cell"),
        (["--time-budget", "0"], "time_budget"),
    ],
)
def test_bad_numbers_give_one_clear_line(tmp_path, corpus, args, pattern):
    base = ["train", "lm", "--text", corpus, "--out", tmp_path / "o", "--max-steps", 2, "--sample-length", 0]
    code, text = run(*base, *TINY, *args)  # later options override TINY's
    assert code == 2 and "Traceback" not in text
    assert text.strip().splitlines()[-1].startswith("error: ") and pattern in text, text


def test_non_number_is_a_usage_error(tmp_path, corpus):
    code, text = run("train", "lm", "--text", corpus, "--bptt", "abc")
    assert code == 2 and "Invalid value for '--bptt'" in text and "integer" in text and "Traceback" not in text


def test_generate_and_evaluate_need_a_model_folder(tmp_path):
    code, text = run("generate", tmp_path / "nothing")
    assert code == 2 and "error: model folder not found" in text
    (tmp_path / "empty").mkdir()
    code, text = run("evaluate", tmp_path / "empty")
    assert code == 2 and "holds no config.json" in text


def test_every_verb_has_help():
    for verb in (["train", "lm"], ["generate"], ["evaluate"], []):
        code, text = run(*verb, "--help")
        assert code == 0 and "Usage" in text


def test_installed_entry_point():
    exe = Path(sys.executable).with_name("rnnkit")
    if not exe.exists():
        pytest.skip("the rnnkit script is not installed next to this python")
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "train" in done.stdout
