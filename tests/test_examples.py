"""The README's main job runs and reports that every layer matches torch.nn."""

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_parity_demo_runs_and_matches(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["parity_demo.py"])
    module = runpy.run_path(str(ROOT / "examples" / "parity_demo.py"), run_name="demo")
    assert module["main"]() == 0
    out = capsys.readouterr().out
    assert "all layers match torch.nn" in out
    assert "MISMATCH" not in out
    assert out.count(" ok") == 20
