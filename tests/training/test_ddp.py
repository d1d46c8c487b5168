import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.training.distributed import fabric_available

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

pytestmark = pytest.mark.skipif(not fabric_available(), reason="lightning (the 'distributed' extra) is not installed")


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_on_the_same_global_batch(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]), OMP_NUM_THREADS="1")
    r = subprocess.run(
        [sys.executable, str(HERE / "ddp_script.py"), str(tmp_path / "ddp")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    ddp = load_file(tmp_path / "ddp" / "last" / "model.safetensors")

    from tests.training.ddp_script import train

    threads = torch.get_num_threads()
    try:
        single = train(None, devices=1, batch_size=8)  # one process, the same global batch of 8
    finally:
        torch.set_num_threads(threads)
    start = {k: v for k, v in _initial().items()}
    moved = False
    for k, v in single.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=0, atol=1e-5)
        moved |= not torch.allclose(v, start[k])
    assert moved  # training did change the weights
    assert not list((tmp_path / "ddp").glob(".last*"))  # written once, cleanly


def _initial():
    from tests.training.training_helpers import Regressor

    torch.manual_seed(0)
    return Regressor().state_dict()
