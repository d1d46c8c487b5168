"""The memory-benchmark recipe and ``rnnkit bench memory``, end to end on tiny runs."""

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from rnnkit._checks import InvalidValueError
from rnnkit.cli import app
from rnnkit.tasks.memory import MemoryBench, MemoryModel, rescale_recurrent_weights, run_memory_bench

TINY = dict(hidden_size=8, batch_size=16, max_steps=12, val_every=4, train_size=64, val_size=32, threads=1)


@pytest.mark.slow
def test_bench_memory_end_to_end(tmp_path):
    out = tmp_path / "run"
    argv = ["bench", "memory", "--task", "copy", "--cell", "gru", "--length", "6", "--out", str(out)]
    argv += [a for k, v in TINY.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "trivial baseline 0.7998" in result.output  # 10 ln 8 / 26
    for name in ("result.json", "gradient_flow.png", "gradient_flow_history.png", "grad_norms.png", "train_log.csv"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "result.json").read_text())
    assert saved["task"] == "copy" and saved["cell"] == "gru" and saved["steps"] == 12
    assert len(saved["flow_end"]) == 26  # ||dL/dh_t|| for each of the T + 20 steps
    history = json.loads((out / "gradient_flow_history.json").read_text())
    assert history["steps"] == [0, 4, 8, 12]
    # a second run into the same folder is refused without --overwrite, and nothing changes
    before = (out / "result.json").read_bytes()
    again = CliRunner().invoke(app, argv)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert (out / "result.json").read_bytes() == before


def test_a_run_stops_when_solved():
    bench = MemoryBench(task="adding", cell="lstm", length=4, solved_at=10.0, **TINY)  # any loss "solves" it
    result = run_memory_bench(bench)
    assert result.solved and result.steps == 4  # the first validation ended it


def test_the_model_reads_the_last_step_for_adding_and_every_step_for_copy():
    m = MemoryModel("adding", "rnn", 5)
    assert m(torch.rand(3, 7, 2)).shape == (3,)
    c = MemoryModel("copy", "lstm", 5)
    assert c(torch.randint(0, 10, (3, 27))).shape == (3, 27, 10)


def test_recurrent_scale_sets_the_spectral_radius():
    m = MemoryModel("adding", "rnn", 16)
    rescale_recurrent_weights(m, 3.0, torch.Generator().manual_seed(0))
    w = m.encoder.rnn.weight_hh_l0.detach().double()
    assert torch.linalg.svdvals(w) == pytest.approx(torch.full((16,), 3.0, dtype=torch.float64))


@pytest.mark.slow
def test_without_clipping_the_exploding_rnn_diverges_and_with_clipping_it_does_not():
    settings = dict(task="adding", cell="rnn", length=50, hidden_size=64, batch_size=32, optimizer="sgd",
                    lr=0.05, recurrent_scale=3.0, max_steps=60, val_every=30, train_size=512, val_size=32,
                    threads=1)  # fmt: skip
    off = run_memory_bench(MemoryBench(clip_norm=0.0, **settings))
    on = run_memory_bench(MemoryBench(clip_norm=1.0, **settings))
    assert off.diverged or off.skipped_updates > 0
    assert not on.diverged and on.skipped_updates == 0
    assert math.isfinite(on.val_loss) and on.val_loss < 3.0  # it started near 2 (the saturated RNN)
    assert on.max_grad_norm > 1.0  # the gradients did explode; clipping kept the updates small


@pytest.mark.parametrize(
    "settings",
    [dict(task="add"), dict(cell="elman"), dict(length=0), dict(task="adding", length=1), dict(clip_norm=-1.0),
     dict(optimizer="lbfgs"), dict(val_size=0)],
)  # fmt: skip
def test_bad_settings_are_refused(settings):
    with pytest.raises(InvalidValueError):
        MemoryBench(**settings)


def test_resume_continues_the_run_and_its_records(tmp_path):
    settings = dict(task="adding", cell="gru", length=6, out=str(tmp_path / "run"), **TINY)
    first = run_memory_bench(MemoryBench(**{**settings, "max_steps": 8}))
    second = run_memory_bench(MemoryBench(**{**settings, "max_steps": 16}, resume=True))
    assert (first.steps, second.steps) == (8, 16)
    history = json.loads((tmp_path / "run" / "gradient_flow_history.json").read_text())
    assert history["steps"] == [0, 4, 8, 12, 16]
    assert json.loads((tmp_path / "run" / "grad_norms.json").read_text())["steps"] == list(range(1, 17))
    with pytest.raises(InvalidValueError, match="exclude"):
        run_memory_bench(MemoryBench(**settings, resume=True, overwrite=True))
