import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.training import load_training_state
from rnnkit.training.checkpoint import MODEL_FILE

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _run(out, kill_at, mode):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, str(HERE / "resume_script.py"), str(out), str(kill_at), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _csv_rows(path):
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _tensors(tree, prefix=""):
    if isinstance(tree, torch.Tensor):
        yield prefix, tree
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield from _tensors(v, f"{prefix}.{k}")
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _tensors(v, f"{prefix}.{i}")


def _in_process(out, resume):
    from tests.training.resume_script import main

    threads = torch.get_num_threads()
    try:
        main(str(out), -1, resume)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bitwise_exact(tmp_path):
    # the uninterrupted run and the resume run in this process (starting Python and torch's optimizer
    # machinery takes seconds); the run that is killed with SIGKILL in a subprocess
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    _in_process(straight, resume=False)
    r = _run(crashed, 8, "fresh")
    assert r.returncode == -signal.SIGKILL, r.stderr
    at_crash = load_training_state(crashed / "last")
    assert at_crash["step"] == 5
    n_chunks = 0 < at_crash["cursor"]  # mid-epoch: some but not all chunks of the epoch consumed
    assert n_chunks and at_crash["tbptt"]["state"] is not None and at_crash["tbptt"]["kept"] == 1
    _in_process(crashed, resume=True)

    a, b = load_file(straight / "last" / MODEL_FILE), load_file(crashed / "last" / MODEL_FILE)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa, sb = load_training_state(straight / "last"), load_training_state(crashed / "last")
    assert sa["step"] == sb["step"] == 16
    ta, tb = dict(_tensors(sa["optimizer"])), dict(_tensors(sb["optimizer"]))
    assert ta.keys() == tb.keys() and len(ta) > 0
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    assert sa["optimizer"]["param_groups"] == sb["optimizer"]["param_groups"]
    for x, y in zip(sa["tbptt"]["state"], sb["tbptt"]["state"]):
        assert torch.equal(x, y)
    # the log reads as if the run had never stopped: the same rows, the same values (but the timing);
    # the first row after the resume covers update 5 too, which the checkpoint's log window carried
    ra, rb = _csv_rows(straight / "train_log.csv"), _csv_rows(crashed / "train_log.csv")
    assert [r["step"] for r in ra] == [r["step"] for r in rb] == [str(s) for s in range(2, 17, 2)]
    for x, y in zip(ra, rb):
        x.pop("throughput"), y.pop("throughput")
        assert x == y
