"""The ``rnnkit`` command itself: ``--version``, and help (exit 0) for bare groups."""

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rnnkit
from rnnkit.cli import app

runner = CliRunner()


def test_version_prints_the_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"rnnkit {rnnkit.__version__}\n"


def test_version_wins_over_a_following_command():
    """``--version`` is eager: it answers before the group looks for a subcommand."""
    result = runner.invoke(app, ["--version", "train"])
    assert result.exit_code == 0, result.output
    assert result.output == f"rnnkit {rnnkit.__version__}\n"


@pytest.mark.parametrize(
    "args,usage,commands",
    [
        ([], "Usage: rnnkit [OPTIONS] COMMAND", ("train", "forecast", "generate", "evaluate", "backtest", "detect")),
        (["train"], "Usage: rnnkit train [OPTIONS] COMMAND", ("lm", "forecast")),
    ],
    ids=["rnnkit", "rnnkit-train"],
)
def test_a_bare_group_prints_its_help_and_exits_0(args, usage, commands):
    result = runner.invoke(app, args, prog_name="rnnkit")
    assert result.exit_code == 0, result.output
    assert usage in result.output
    assert "Commands:" in result.output
    for command in commands:
        assert f"  {command} " in result.output, command
    assert "Error" not in result.output


def test_an_unknown_command_is_still_a_usage_error():
    result = runner.invoke(app, ["no-such-verb"])
    assert result.exit_code == 2
    assert "No such command 'no-such-verb'" in result.output


def test_a_subcommand_still_runs_its_own_help():
    result = runner.invoke(app, ["train", "lm", "--help"], prog_name="rnnkit")
    assert result.exit_code == 0, result.output
    assert "Usage: rnnkit train lm [OPTIONS]" in result.output


def test_the_installed_command_prints_its_version():
    exe = Path(sys.executable).with_name("rnnkit")
    if not exe.exists():
        exe = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "rnnkit"
    done = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"rnnkit {rnnkit.__version__}\n"
