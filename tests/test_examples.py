"""The examples run and do what they say: the parity demo, conditioned generation."""

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_parity_demo_runs_and_matches(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["parity_demo.py"])
    module = runpy.run_path(str(ROOT / "examples" / "parity_demo.py"), run_name="demo")
    assert module["main"]() == 0
    out = capsys.readouterr().out
    assert "all layers match torch.nn" in out
    assert "MISMATCH" not in out
    assert out.count(" ok") == 20


@pytest.mark.slow
def test_conditioned_generation_follows_the_label(capsys):
    """The one-to-many example: the same prompt under label 0 writes sentences, under label 1 sums."""
    module = runpy.run_path(str(ROOT / "examples" / "conditioned_generation.py"), run_name="example")
    samples = module["main"](["--steps", "60"])  # the default is 250; 60 already separates the styles

    def share(text, test):
        return sum(test(ch) for ch in text) / len(text)

    sentences, sums = samples["sentences"], samples["arithmetic"]
    assert share(sentences, str.isalpha) > 0.6 and share(sentences, str.isdigit) < 0.05, sentences
    assert share(sums, str.isdigit) > 0.3 and share(sums, str.isalpha) < 0.05, sums
    assert sums.count("+") >= 5 and sums.count("=") >= 5, sums  # lines shaped like "a + b = c"
    out = capsys.readouterr().out
    assert "condition 0 (sentences)" in out and "condition 1 (arithmetic)" in out
