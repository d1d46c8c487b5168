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
    "--hidden-size", "16", "--num-layers", "1", "--embedding-size", "8", "--bptt", "16",
    "--batch-size", "4", "--max-steps", "20", "--val-every", "10", "--checkpoint-every", "10",
    "--sample-length", "0",
]  # fmt: skip
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
    return {"lm": root / "lm", "fc": root / "fc", "text": text, "csv": csv}


def fingerprint(*paths: Path) -> dict:
    """sha256 of every file under ``paths`` (folders walked), by path."""
    found = {}
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            found[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return found


CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_malformed_input_gets_one_clear_line_and_changes_nothing(case: Case, good, tmp_path):
    lm, fc = tmp_path / "lm", tmp_path / "fc"
    shutil.copytree(good["lm"], lm)
    shutil.copytree(good["fc"], fc)
    bad = case.damage(lm, fc, tmp_path) if case.damage else tmp_path / "unused"
    watched = [p for p in (lm, fc, bad) if p.exists()]
    before = fingerprint(*watched)
    places = {"lm": lm, "fc": fc, "tmp": tmp_path, "text": good["text"], "csv": good["csv"], "bad": bad}

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
    verbs = {" ".join(c.argv[:2]) if c.argv[0] == "train" else c.argv[0] for c in CASES}
    assert verbs == {"train lm", "train forecast", "generate", "evaluate", "forecast", "backtest", "detect"}
    classes = {c.cls for c in CASES}
    assert classes == {"file", "option", "folder", "number", "resource", "conflict"}
