"""`rnnkit train seq2seq`, `translate`, `evaluate --pairs` end to end on tiny pairs; bad inputs."""

import json
import random
import re

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def reversal_tsv(path, n=300, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(n):
            word = "".join(rng.choices("abcdef", k=rng.randint(2, 5)))
            f.write(f"{word}\t{word[::-1]}\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("s2s")
    pairs = reversal_tsv(root / "pairs.tsv")
    code, out = run(
        "train",
        "seq2seq",
        "--pairs",
        pairs,
        "--out",
        root / "run",
        "--hidden-size",
        "32",
        "--embedding-size",
        "16",
        "--epochs",
        "12",
        "--batch-size",
        "16",
        "--lr",
        "0.01",
        "--attention",
        "general",
        "--beam",
        "3",
        "--teacher-forcing",
        "linear:1,0.002,0.5",
    )
    assert code == 0, out
    return root / "run", pairs, out


def test_train_seq2seq_learns_reversal_and_reports_exposure_bias(trained):
    run_dir, _, out = trained
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["exact_match"] >= 0.8, metrics
    assert "exposure bias" in out and 0 <= metrics["free_running_token_accuracy"] <= 1
    for name in (
        "config.json",
        "model.safetensors",
        "source_vocab.json",
        "target_vocab.json",
        "run.json",
        "test_predictions.tsv",
    ):
        assert (run_dir / name).is_file(), name


def test_translate_prints_nbest_and_draws_attention(trained, tmp_path):
    run_dir = trained[0]
    code, out = run("translate", run_dir, "--text", "abcd", "--beam", "4", "--nbest", "2")
    assert code == 0 and len(out.strip().splitlines()) == 2, out
    scores = [float(line.split("\t")[0]) for line in out.strip().splitlines()]
    assert scores == sorted(scores, reverse=True)
    code, out = run("translate", run_dir, "--text", "abcd", "--attention-plot", tmp_path / "a.png")
    assert code == 0 and (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG", out
    src = tmp_path / "in.txt"
    src.write_text("abc\nfed\n")
    code, out = run("translate", run_dir, "--input", src, "--beam", "1")
    assert code == 0 and len(out.strip().splitlines()) == 2


def test_evaluate_pairs(trained):
    run_dir, pairs, _ = trained
    code, out = run("evaluate", run_dir, "--pairs", pairs, "--beam", "2")
    assert code == 0 and "exact match" in out and "BLEU" in out, out


@pytest.mark.parametrize(
    "content, args, pattern",
    [
        ("abc\tcba\nno tab here\n", [], r"line 2"),
        ("abc\tcba\n\t\n", [], r"line 2"),
        ("", [], r"empty"),
        ("abc\tcba\n", ["--teacher-forcing", "sometimes"], r"teacher-forcing"),
        ("abc\tcba\n", ["--attention", "luong"], r"attention"),
        ("abc\tcba\n", ["--dataset", "addition"], r"--pairs.*--dataset"),
    ],
)
def test_bad_training_input_gets_one_line(tmp_path, content, args, pattern):
    pairs = tmp_path / "p.tsv"
    pairs.write_text(content)
    code, out = run("train", "seq2seq", "--pairs", pairs, "--out", tmp_path / "run", *args)
    assert code == 2 and "Traceback" not in out and re.search(pattern, out), out
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["--text", "ab", "--beam", "0"], r"--beam"),
        (["--text", "ab", "--nbest", "3", "--beam", "2"], r"--nbest"),
        (["--text", "ab", "--length-penalty", "long"], r"length-penalty"),
        ([], r"--text.*--input"),
        (["--text", "ab", "--input", "x.txt"], r"--text.*--input"),
        (["--input", "{tmp}/none.txt"], r"none\.txt"),
    ],
)
def test_bad_translate_options_get_one_line(trained, tmp_path, args, pattern):
    args = [a.format(tmp=tmp_path) for a in args]
    code, out = run("translate", trained[0], *args)
    assert code == 2 and re.search(pattern, out), out


def test_a_folder_of_another_task_is_refused(tmp_path):
    import torch

    from rnnkit.models.format import save_model

    save_model(tmp_path / "lm", "language_model", {"vocab_size": 3}, {"w": torch.zeros(1)})
    code, out = run("translate", tmp_path / "lm", "--text", "ab")
    assert code == 2 and "language model" in out
