"""Every verb against a family of malformed inputs: one clear line, and nothing lost.

For each case of :mod:`tests.cli.malformed` the command must exit non-zero with one ``error:``
line that names the bad thing, print no traceback, and leave every file of the model folders it
was pointed at (good or damaged) byte-identical.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli import app

from .malformed import Case, all_cases, expand

pytest.importorskip("pandas")
pytest.importorskip("statsmodels")

LM_OPTIONS = [
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
    "--max-steps",
    "20",
    "--val-every",
    "10",
    "--checkpoint-every",
    "10",
    "--sample-length",
    "0",
]
TEXT = "the quick brown fox jumps over the lazy dog.\n" * 40


def invoke(argv):
    result = CliRunner().invoke(app, [str(a) for a in argv])
    return result.exit_code, result.output, result.exception


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A good language-model run, a good forecaster run, a good text and CSV (made once)."""
    root = tmp_path_factory.mktemp("good")
    text = root / "corpus.txt"
    text.write_text(TEXT, encoding="utf-8")
    csv = root / "sales.csv"
    rows = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01,{10 + np.sin(i / 2) + 0.01 * i:.4f}" for i in range(72)]
    csv.write_text("month,sales\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, out, _ = invoke(["train", "lm", "--text", text, "--out", root / "lm", *LM_OPTIONS])
    assert code == 0, out
    code, out, _ = invoke(
        ["train", "forecast", "--csv", csv, "--time-col", "month", "--target", "sales", "--horizon", "3"]
        + ["--input-length", "12", "--max-epochs", "2", "--out", root / "fc"]
    )
    assert code == 0, out
    reviews, conll = root / "reviews.csv", root / "tags.conll"
    good_words, bad_words = ["great", "love", "fine"], ["bad", "awful", "poor"]
    reviews.write_text(
        "review,sentiment\n"
        + "".join(f"it was {good_words[i % 3]},pos\nit was {bad_words[i % 3]},neg\n" for i in range(40)),
        encoding="utf-8",
    )
    conll.write_text("".join(f"Alice\tB-PER\nlikes\tO\nRome\tB-LOC\nw{i}\tO\n\n" for i in range(40)))
    small = ["--hidden-size", "8", "--embedding-size", "8", "--epochs", "1"]
    code, out, _ = invoke(
        ["train", "classify", "--data", reviews, "--text-col", "review", "--label-col", "sentiment"]
        + ["--level", "word", "--out", root / "cls", *small]
    )
    assert code == 0, out
    code, out, _ = invoke(["train", "tag", "--data", conll, "--out", root / "tag", *small])
    assert code == 0, out
    pairs = root / "pairs.tsv"
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("abc", "bca", "cab", "acb", "bac", "cba") * 8))
    code, out, _ = invoke(["train", "seq2seq", "--pairs", pairs, "--out", root / "s2s", *small, "--beam", "1"])
    assert code == 0, out
    return {
        "lm": root / "lm",
        "fc": root / "fc",
        "cls": root / "cls",
        "tag": root / "tag",
        "text": text,
        "csv": csv,
        "reviews": reviews,
        "conll": conll,
        "s2s": root / "s2s",
        "pairs": pairs,
    }


def fingerprint(*paths: Path) -> dict:
    """sha256 of every file under ``paths`` (folders walked), by path."""
    found = {}
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            found[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return found


CASES = all_cases()
MODEL_FOLDERS = ("lm", "fc", "cls", "tag", "s2s")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_malformed_input_gets_one_clear_line_and_changes_nothing(case: Case, good, tmp_path):
    folders = {}
    for name in MODEL_FOLDERS:  # a copy of each model folder the case names
        if "{" + name + "}" in " ".join(case.argv):
            folders[name] = tmp_path / name
            shutil.copytree(good[name], folders[name])
    bad = case.damage(folders, tmp_path) if case.damage else tmp_path / "unused"
    watched = [p for p in (*folders.values(), bad) if p.exists()]
    before = fingerprint(*watched)
    places = {
        **{k: good[k] for k in ("text", "csv", "reviews", "conll", "pairs")},
        **folders,
        "tmp": tmp_path,
        "bad": bad,
    }

    code, output, exception = invoke(expand(case.argv, places))

    assert code != 0, f"accepted: {output}"
    assert "Traceback" not in output, output
    assert isinstance(exception, SystemExit), f"{type(exception).__name__}: {exception}\n{output}"
    lines = [line for line in output.strip().splitlines() if line.strip()]
    error = next((line for line in lines if line.startswith(("error:", "Error:"))), None)
    if error is None and lines and "Invalid value" in output:  # click's usage errors (a non-number)
        error = output
    assert error is not None, output
    assert re.search(case.names, error, re.IGNORECASE | re.DOTALL), f"{error!r} does not match {case.names!r}"
    assert fingerprint(*watched) == before, "a refused command changed a file"
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir()), "a refused run wrote files"


def test_the_corpus_covers_every_verb_and_class():
    """Every command of the app (a new verb included) has malformed-input cases."""
    import typer

    from rnnkit.cli.app import GROUPS

    group = typer.main.get_command(app)
    commands = {name for name in group.commands if name not in GROUPS}
    for name in GROUPS:
        commands |= {f"{name} {verb}" for verb in group.commands[name].commands}
    verbs = {" ".join(c.argv[:2]) if c.argv[0] in GROUPS else c.argv[0] for c in CASES}
    assert verbs == commands
    classes = {c.cls for c in CASES}
    assert classes == {"file", "option", "folder", "number", "resource", "conflict"}
