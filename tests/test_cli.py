"""The `rnnkit` command end to end on a tiny file: train, evaluate, generate, resume; error cases."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from rnnkit.cli import app

TINY = [
    "--hidden-size",
    "16",
    "--num-layers",
    "1",
    "--embedding-size",
    "8",
    "--bptt",
    "16",
    "--batch-size",
    "4",
    "--val-every",
    "10",
    "--checkpoint-every",
    "10",
    "--dropout",
    "0.1",
]
# small, but able to learn the corpus in a few seconds: a wider layer and a high learning rate
LEARNS = [
    "--hidden-size",
    "32",
    "--num-layers",
    "1",
    "--embedding-size",
    "8",
    "--bptt",
    "16",
    "--batch-size",
    "4",
    "--val-every",
    "20",
    "--checkpoint-every",
    "20",
    "--dropout",
    "0",
    "--lr",
    "0.03",
    "--max-steps",
    "80",
]
LINE = "the quick brown fox jumps over the lazy dog.\n"
TEXT = LINE * 40
LN2 = math.log(2)


def unigram_entropy(text):
    counts = Counter(text)
    return -sum(n / len(text) * math.log(n / len(text)) for n in counts.values())


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def run_split(*args):
    """``(exit code, stdout, stderr, exception)``."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr, result.exception


def error_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), text
    assert "Traceback" not in text, text
    return lines[-1]


def train_on_text(root, *options):
    """Write TEXT to ``root/corpus.txt`` and train on it into ``root/run``: (run, corpus, output)."""
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = root / "run"
    code, text = run("train", "lm", "--text", corpus, "--out", out, *options, *LEARNS)
    assert code == 0, text
    return out, corpus, text


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A character model that has learned TEXT (trained once for the module; copy it before changing it)."""
    return train_on_text(tmp_path_factory.mktemp("trained"), "--sample-length", 20)


def copy_of(trained, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(trained[0], out)
    return out


# ---- train, evaluate, generate ------------------------------------------------------------------


def test_train_learns_and_evaluate_and_generate_work(trained):
    out, corpus, text = trained
    for name in (
        "config.json",
        "model.safetensors",
        "vocab.json",
        "run_settings.json",
        "train_log.csv",
        "val_log.csv",
        "loss_curves.png",
        "summary.json",
    ):
        assert (out / name).is_file(), name
    assert (out / "last" / "model.safetensors").is_file()
    assert "--- sample ---" in text and f"model: {out}/" in text
    summary = json.loads((out / "summary.json").read_text())
    # learned, not just initialised: an untrained model sits near ln(30) = 3.40, a unigram model at 3.12
    assert summary["steps"] == 80
    assert summary["val_loss"] < unigram_entropy(TEXT) - 2.0, summary["val_loss"]

    code, result = run("evaluate", out, "--text", corpus)
    assert code == 0, result
    loss = float(result.split("loss: ")[1].split()[0])
    bits = float(result.split("bits per character: ")[1].split()[0])
    assert abs(bits - loss / LN2) < 1e-3 and "nats/character" in result and "bits per token" not in result

    code, a = run("generate", out, "--prompt", "the ", "--length", 40, "--seed", 3, "--top-k", 5)
    code2, b = run("generate", out, "--prompt", "the ", "--length", 40, "--seed", 3, "--top-k", 5)
    assert code == code2 == 0 and a == b and a.startswith("the ")


def test_greedy_generation_of_the_trained_recipe_reproduces_the_corpus(trained):
    prompt = "the quick brown"
    code, greedy = run("generate", trained[0], "--prompt", prompt, "--length", 2 * len(LINE), "--temperature", 0)
    assert code == 0, greedy
    assert greedy == (TEXT[: len(prompt) + 2 * len(LINE)]) + "\n"  # the prompt, its continuation, a final newline


def test_evaluate_without_text_scores_the_validation_part(trained):
    out = trained[0]
    code, text = run("evaluate", out)
    assert code == 0, text
    assert "the validation part (last 10%)" in text and "characters: 180" in text  # 10% of 1,800 characters
    loss = float(text.split("loss: ")[1].split()[0])
    assert loss == pytest.approx(json.loads((out / "summary.json").read_text())["val_loss"], abs=1e-4)


def test_a_run_of_two_updates_still_plots_and_prints_a_sample(tmp_path, corpus):
    out = tmp_path / "short"
    code, stdout, stderr, _ = run_split(
        "train", "lm", "--text", corpus, "--out", out, "--max-steps", 2, "--sample-length", 10, *TINY
    )
    assert code == 0, stdout + stderr
    assert "error" not in stdout + stderr
    assert (out / "loss_curves.png").stat().st_size > 0
    assert "validation:" in stdout and "--- sample ---" in stdout and "plot:" in stdout


def test_loss_curves_plot_whatever_the_logs_hold(tmp_path):
    from rnnkit.diagnostics.loss_curves import plot_loss_curves

    (tmp_path / "val_log.csv").write_text("step,epoch,val_loss\n2,0,3.1\n")
    assert plot_loss_curves(tmp_path).stat().st_size > 0  # validation points only
    (tmp_path / "train_log.csv").write_text("step,epoch,loss\n1,0,3.3\n")
    assert plot_loss_curves(tmp_path, tmp_path / "one.png").stat().st_size > 0  # one training point
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "train_log.csv").write_text("step,epoch,loss\n")
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_loss_curves(empty)


def test_a_plot_that_fails_only_warns(tmp_path, corpus, monkeypatch):
    import rnnkit.diagnostics.loss_curves as loss_curves

    def broken(*args, **kwargs):
        raise RuntimeError("the renderer broke")

    monkeypatch.setattr(loss_curves, "plot_loss_curves", broken)
    out = tmp_path / "run"
    code, stdout, stderr, _ = run_split(
        "train", "lm", "--text", corpus, "--out", out, "--max-steps", 2, "--sample-length", 5, *TINY
    )
    assert code == 0, stdout + stderr
    assert "warning: could not draw the loss curves (RuntimeError: the renderer broke)" in stderr
    assert (out / "model.safetensors").is_file() and "--- sample ---" in stdout and "plot:" not in stdout


# ---- word level -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def word_model(tmp_path_factory):
    out, corpus, text = train_on_text(tmp_path_factory.mktemp("word"), "--level", "word", "--sample-length", 0)
    assert "nats/word" in text and "bits/character)" in text
    return out, corpus


def test_word_level_generation_keeps_the_space_after_the_prompt(word_model):
    code, text = run("generate", word_model[0], "--prompt", "the quick", "--length", 3, "--temperature", 0)
    assert code == 0, text
    assert text.startswith("the quick brown fox jumps"), text
    code, stdout, stderr, _ = run_split("generate", word_model[0], "--prompt", "the king", "--length", 2, "--seed", 0)
    assert code == 0 and stdout.startswith("the king ") and not stdout.startswith("the king  "), stdout
    code, text = run("generate", word_model[0], "--prompt", "the lazy ", "--length", 1, "--temperature", 0)
    assert text.startswith("the lazy ") and text[len("the lazy ")].isalpha(), text  # no second space


def test_evaluate_reports_bits_per_character_for_a_word_model(word_model):
    from rnnkit.tasks.language_modeling import evaluate_language_model

    out, corpus = word_model
    code, text = run("evaluate", out, "--text", corpus)
    assert code == 0, text
    assert "nats/word" in text and "bits per word: " in text and "bits per character: " in text
    r = evaluate_language_model(str(out), str(corpus))
    assert r["bits_per_token"] == pytest.approx(r["loss"] / LN2)
    # total nats over the characters after the first word ("the", given, not predicted), in bits
    assert r["characters"] == len(TEXT) - 3
    assert r["bits_per_character"] == pytest.approx(r["loss"] * (r["tokens"] - 1) / (len(TEXT) - 3) / LN2)
    assert f"{r['bits_per_character']:.4f}" in text.split("bits per character: ")[1]


# ---- resume ---------------------------------------------------------------------------------------


def _train_cmd(corpus, out, *extra):
    return [
        sys.executable,
        "-m",
        "rnnkit",
        "train",
        "lm",
        "--text",
        str(corpus),
        "--out",
        str(out),
        "--max-steps",
        "40",
        "--sample-length",
        "0",
        *TINY,
        *extra,
    ]


@pytest.mark.slow
def test_resume_after_sigkill_with_only_text_and_out_equals_uninterrupted(tmp_path, corpus):
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

    # nothing but --text, --out and --resume: the run's own settings come from run_settings.json
    resume = [sys.executable, "-m", "rnnkit", "train", "lm", "--text", str(corpus), "--out", str(crashed), "--resume"]
    done = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1x16 LSTM" in done.stdout and "warning" not in done.stderr
    a, b = load_file(straight / "model.safetensors"), load_file(crashed / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert (a[name] == b[name]).all(), f"{name} differs after resume"


@pytest.mark.parametrize(
    "option,value,saved",
    [
        ("--hidden-size", "32", "16"),
        ("--cell", "gru", "lstm"),
        ("--bptt", "8", "16"),
        ("--lr", "0.1", "0.004"),
        ("--seed", "5", "0"),
        ("--level", "word", "char"),
        ("--dropout", "0.2", "0.1"),
    ],
)
def test_resume_with_a_changed_model_or_data_option_is_one_line_error(tmp_path, corpus, option, value, saved):
    out = tmp_path / "run"
    code, text = run("train", "lm", "--text", corpus, "--out", out, "--max-steps", 2, "--sample-length", 0, *TINY)
    assert code == 0, text
    before = (out / "model.safetensors").read_bytes()
    code, stdout, stderr, _ = run_split("train", "lm", "--text", corpus, "--out", out, "--resume", option, value)
    assert code == 2, stdout + stderr
    assert stdout == "" and len(stderr.strip().splitlines()) == 1, stderr
    line = error_line(stderr)
    assert f"cannot resume the run in {out}: {option} {value} (the run was started with {saved})" in line
    assert "resume without them" in line
    assert (out / "model.safetensors").read_bytes() == before  # refused before anything was touched


def test_resume_refuses_another_text_and_takes_a_new_time_cap(tmp_path, corpus):
    out = tmp_path / "run"
    code, text = run(
        "train",
        "lm",
        "--text",
        corpus,
        "--out",
        out,
        "--max-steps",
        2,
        "--time-budget",
        60,
        "--sample-length",
        0,
        *TINY,
    )
    assert code == 0, text
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper(), encoding="utf-8")
    code, text = run("train", "lm", "--text", other, "--out", out, "--resume")
    assert code == 2 and "--text" in error_line(text) and str(corpus.resolve()) in error_line(text)
    # the run finished its 2 updates: resuming it as it is has nothing to do, and says so
    code, text = run("train", "lm", "--out", out, "--resume", "--sample-length", 0)
    assert code == 2 and "finished all 2 of its --max-steps 2 updates" in error_line(text)
    # the time budget is only a cap (the schedule follows updates), so a resumed run may lower it
    code, text = run(
        "train", "lm", "--out", out, "--resume", "--time-budget", 30, "--max-steps", 3, "--sample-length", 0
    )
    assert code == 0, text
    assert json.loads((out / "run_settings.json").read_text())["recipe"]["time_budget"] == 30
    moved = tmp_path / "moved.txt"
    shutil.move(corpus, moved)  # the same text at another path is the same run's text
    code, text = run("train", "lm", "--text", moved, "--out", out, "--resume", "--max-steps", 4, "--sample-length", 0)
    assert code == 0, text
    assert json.loads((out / "summary.json").read_text())["steps"] == 4
    moved.write_text(TEXT + "more\n", encoding="utf-8")  # the file itself changed since the run started
    code, text = run("train", "lm", "--text", moved, "--out", out, "--resume", "--max-steps", 5)
    assert code == 2 and "has changed since the run started" in error_line(text)


def test_resume_keeps_the_settings_sized_for_the_first_budget(tmp_path, corpus):
    out = tmp_path / "run"
    tiny = TINY[:-2]  # no --dropout: let the budget choose
    code, text = run(
        "train", "lm", "--text", corpus, "--out", out, "--max-steps", 3, "--time-budget", 5, "--sample-length", 0, *tiny
    )
    assert code == 0, text
    first = json.loads((out / "run_settings.json").read_text())["recipe"]
    assert (first["dropout"], first["lr"]) == (0.0, 0.004)
    # a 30-minute budget would choose dropout 0.2 and lr 2e-3 for a new run; a resumed one keeps its own
    code, text = run(
        "train",
        "lm",
        "--text",
        corpus,
        "--out",
        out,
        "--resume",
        "--max-steps",
        6,
        "--time-budget",
        1800,
        "--sample-length",
        0,
    )
    assert code == 0, text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 6
    assert (summary["recipe"]["dropout"], summary["recipe"]["lr"]) == (0.0, 0.004)
    assert summary["recipe"]["time_budget"] == 1800 and summary["recipe"]["hidden_size"] == 16
    assert json.loads((out / "run_settings.json").read_text())["recipe"]["max_steps"] == 6


def test_resume_with_nothing_to_resume_starts_a_new_run_and_says_so(tmp_path, corpus):
    out = tmp_path / "fresh"
    code, stdout, stderr, _ = run_split(
        "train", "lm", "--text", corpus, "--out", out, "--resume", "--max-steps", 2, "--sample-length", 0, *TINY
    )
    assert code == 0, stdout + stderr
    assert f"note: nothing to resume in {out} (no run there yet): starting the run from the beginning" in stdout
    assert stderr == ""
    assert json.loads((out / "summary.json").read_text())["steps"] == 2


# ---- defaults ---------------------------------------------------------------------------------------


def test_default_run_is_2000_updates_sized_by_its_tokens():
    from rnnkit.tasks.language_modeling import LanguageModelRecipe

    r = LanguageModelRecipe()
    assert (r.max_steps, r.time_budget) == (2000, None) and (r.batch_size, r.bptt) == (16, 64)
    assert (r.dropout, r.lr) == (0.0, 4e-3)  # 2M tokens: a short run
    middle = LanguageModelRecipe(max_steps=10_000)  # 10M tokens
    assert (middle.dropout, middle.lr) == (0.1, 2e-3)
    long_steps = LanguageModelRecipe(max_steps=100_000)  # 102M tokens: sized for a long run
    assert (long_steps.dropout, long_steps.lr) == (0.2, 2e-3)
    capped = LanguageModelRecipe(max_steps=500, time_budget=3600)  # a cap does not change the sizing
    assert (capped.dropout, capped.lr) == (0.0, 4e-3)
    code, text = run("train", "lm", "--help")
    help_text = " ".join(text.split())
    assert code == 0 and "[default: 2000]" in help_text and "[default: 16]" in help_text


# ---- errors -------------------------------------------------------------------------------------------


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
    assert code == 2 and pattern in error_line(text)


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["--hidden-size", "-3"], "hidden_size"),
        (["--bptt", "0"], "bptt must be an int >= 1, got 0"),
        (["--lr", "-1"], "lr must be a finite number > 0"),
        (["--dropout", "1.5"], "dropout"),
        (["--cell", "transformer"], "cell"),
        (["--time-budget", "0"], "time_budget"),
        (["--sample-length", "-1"], "--sample-length must be an int >= 0"),
        (["--seed", "-1"], "seed must be an int >= 0, got -1"),
    ],
)
def test_bad_numbers_give_one_clear_line(tmp_path, corpus, args, pattern):
    base = ["train", "lm", "--text", corpus, "--out", tmp_path / "o", "--max-steps", 2, "--sample-length", 0]
    code, text = run(*base, *TINY, *args)  # later options override TINY's
    assert code == 2 and pattern in error_line(text)
    assert "training a" not in text  # refused before training


def test_out_that_is_a_file_is_refused_before_training(tmp_path, corpus):
    target = tmp_path / "a_file"
    target.write_text("keep me")
    code, text = run("train", "lm", "--text", corpus, "--out", target, "--max-steps", 2, *TINY)
    assert code == 2 and f"--out {target} is a file" in error_line(text) and "training a" not in text
    assert target.read_text() == "keep me"


def test_bpe_without_tokenizers_says_how_to_install_it(tmp_path, corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers now raises ImportError
    code, text = run(
        "train", "lm", "--text", corpus, "--out", tmp_path / "o", "--level", "bpe", "--max-steps", 2, *TINY
    )
    assert code == 2 and "pip install 'rnnkit[bpe]'" in error_line(text)


def test_non_number_is_a_usage_error(tmp_path, corpus):
    code, text = run("train", "lm", "--text", corpus, "--bptt", "abc")
    assert code == 2 and "Invalid value for '--bptt'" in text and "integer" in text and "Traceback" not in text


def test_generate_and_evaluate_need_a_model_folder(tmp_path, trained):
    code, text = run("generate", tmp_path / "nothing")
    assert code == 2 and f"error: model folder '{tmp_path / 'nothing'}' does not exist" in text
    (tmp_path / "empty").mkdir()
    code, text = run("evaluate", tmp_path / "empty")
    assert code == 2 and "holds no config.json" in error_line(text)
    code, text = run("generate", trained[0] / "config.json")
    assert code == 2 and "config.json' is a file, not a model folder" in error_line(text)
    out = copy_of(trained, tmp_path)
    (out / "vocab.json").unlink()
    for verb in ("generate", "evaluate"):
        code, text = run(verb, out)
        assert code == 2 and f"{out} holds no vocab.json" in error_line(text)


@pytest.mark.parametrize("verb", ["generate", "evaluate"])
def test_a_folder_of_another_kind_is_refused_naming_what_it_holds(verb):
    forecaster = Path(__file__).parent / "fixtures" / "legacy" / "forecaster_v2_direct"
    code, text = run(verb, forecaster)
    line = error_line(text)
    assert (
        code == 2
        and f"'{forecaster}' holds a forecaster (written by `rnnkit train forecast`), "
        "expected a language model (written by `rnnkit train lm`)"
        in line
    )


def test_a_runtime_error_that_is_not_about_the_files_keeps_its_traceback(trained, monkeypatch):
    from rnnkit.models.language_model import LanguageModel

    def broken(self, *args, **kwargs):
        raise RuntimeError("a bug while moving the model")

    monkeypatch.setattr(LanguageModel, "to", broken)
    result = CliRunner().invoke(app, ["generate", str(trained[0]), "--length", "3"])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)


@pytest.mark.parametrize("verb", ["generate", "evaluate"])
def test_corrupt_weights_give_one_line_naming_the_file(tmp_path, trained, verb):
    out = copy_of(trained, tmp_path)
    data = (out / "model.safetensors").read_bytes()
    (out / "model.safetensors").write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    code, text = run(verb, out)
    line = error_line(text)
    assert code == 2 and "model.safetensors" in line and "truncated or corrupt" in line
    (out / "model.safetensors").write_bytes(b"\x00" * 64)
    code, text = run(verb, out)
    assert code == 2 and "model.safetensors" in error_line(text)


def test_a_runtime_error_while_loading_is_one_line(tmp_path, trained, monkeypatch):
    import rnnkit.models.format as model_format

    def broken(data):
        raise RuntimeError("storage could not be mapped")

    monkeypatch.setattr(model_format, "load_safetensors", broken)
    code, text = run("generate", trained[0])
    assert code == 2 and "storage could not be mapped" in error_line(text)


def test_a_bug_keeps_its_traceback(trained, monkeypatch):
    import rnnkit.tasks.language_modeling as task

    def buggy(*args, **kwargs):
        return {}["tokens"]  # a KeyError from rnnkit's own code is a bug, not a user error

    monkeypatch.setattr(task, "evaluate_language_model", buggy)
    result = CliRunner().invoke(app, ["evaluate", str(trained[0])])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["--temperature", "-1"], "temperature must be"),
        (["--top-p", "2"], "--top-p must be"),
        (["--top-k", "0"], "--top-k must be"),
        (["--length", "-1"], "length must be an int >= 0"),
        (["--seed", "-1"], "seed must be an int >= 0, got -1"),
    ],
)
def test_generate_checks_its_options_before_printing_the_prompt(trained, args, pattern):
    code, stdout, stderr, _ = run_split("generate", trained[0], "--prompt", "the ", *args)
    assert code == 2 and stdout == "" and pattern in error_line(stderr)


def test_unknown_prompt_symbols_give_a_clean_warning(trained):
    code, stdout, stderr, _ = run_split("generate", trained[0], "--prompt", "the Zebra", "--length", 5, "--seed", 0)
    assert code == 0 and stdout.startswith("the Zebra")
    assert stderr == "warning: replaced 1 unknown symbols with '<unk>': 'Z' (x1)\n", stderr


def test_every_verb_has_help():
    for verb in (["train", "lm"], ["generate"], ["evaluate"], []):
        code, text = run(*verb, "--help")
        assert code == 0 and "Usage" in text


@pytest.mark.slow
def test_installed_entry_point():
    exe = Path(sys.executable).with_name("rnnkit")
    if not exe.exists():
        pytest.skip("the rnnkit script is not installed next to this python")
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "train" in done.stdout


# ---- the same command gives the same model --------------------------------------------------------


@pytest.mark.slow
def test_the_same_command_and_seed_give_bitwise_identical_weights(tmp_path):
    """The run is defined by updates, not by the clock: two runs of one command give the same bits
    (the default 2x256 model, whose kernels give the same bits whatever thread count the governor picks)."""
    from pydoc_data.topics import topics

    import torch

    text = tmp_path / "prose.txt"
    text.write_text("".join(topics.values())[:40_000], encoding="utf-8")
    weights = []
    for name in ("first", "second"):
        code, out = run(
            "train",
            "lm",
            "--text",
            text,
            "--out",
            tmp_path / name,
            "--max-steps",
            6,
            "--val-every",
            3,
            "--checkpoint-every",
            3,
            "--sample-length",
            0,
        )
        assert code == 0, out
        weights.append(load_file(tmp_path / name / "model.safetensors"))
    first, second = weights
    assert first.keys() == second.keys() and len(first) > 4
    for key in first:
        assert torch.equal(first[key], second[key]), key
    runs = [json.loads((tmp_path / n / "summary.json").read_text()) for n in ("first", "second")]
    assert runs[0]["val_loss"] == runs[1]["val_loss"] and runs[0]["steps"] == 6


def test_overwrite_replaces_a_run_only_when_the_new_one_is_done(tmp_path, trained):
    out = copy_of(trained, tmp_path)
    corpus = trained[1]
    code, text = run("train", "lm", "--text", corpus, "--out", out, "--max-steps", 2, "--sample-length", 0, *TINY)
    assert code == 2 and "--resume" in error_line(text) and "--overwrite" in error_line(text)
    code, text = run(
        "train", "lm", "--text", corpus, "--out", out, "--overwrite", "--max-steps", 2, "--sample-length", 0, *TINY
    )
    assert code == 0, text
    assert json.loads((out / "config.json").read_text())["config"]["hidden_size"] == 16  # the new model
    assert json.loads((out / "summary.json").read_text())["steps"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # the staging folder is gone
    code, text = run("generate", out, "--length", 5, "--seed", 0)
    assert code == 0, text
