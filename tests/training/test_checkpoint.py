import os
import pickle

import pytest
import torch

import rnnkit.training.checkpoint as ckpt
from rnnkit.training import (
    CheckpointError,
    TrainConfig,
    Trainer,
    atomic_write_bytes,
    load_model_weights,
    load_training_state,
    save_checkpoint,
)
from tests.training.training_helpers import Regressor, SeqDataset, TinyLM, mse_step


def test_training_state_round_trip_is_exact(tmp_path):
    model = TinyLM()
    opt = torch.optim.Adam(model.parameters())
    model(torch.randint(0, 11, (2, 5)))[0].sum().backward()
    opt.step()
    state = {
        "optimizer": opt.state_dict(),
        "rng": ckpt.capture_rng(),
        "t": (1, 2.5, None),
        "k": {3: "x"},
        "carried": (torch.randn(1, 2, 3), torch.randn(1, 2, 3)),
    }
    save_checkpoint(tmp_path / "c", model, state)
    back = load_training_state(tmp_path / "c")
    assert back["t"] == (1, 2.5, None) and back["k"] == {3: "x"}
    for i, s in opt.state_dict()["state"].items():
        for k, v in s.items():
            assert torch.equal(back["optimizer"]["state"][i][k], v)
    assert back["optimizer"]["param_groups"] == opt.state_dict()["param_groups"]
    assert all(torch.equal(a, b) for a, b in zip(back["carried"], state["carried"]))
    other = TinyLM()
    load_model_weights(tmp_path / "c", other)
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), model.state_dict().values()))
    opt2 = torch.optim.Adam(other.parameters())
    opt2.load_state_dict(back["optimizer"])  # loads into a real optimizer


def test_rng_capture_restore():
    import random

    import numpy as np

    s = ckpt.capture_rng()
    a = (random.random(), np.random.rand(), torch.rand(1))
    tensors = {}
    tree = ckpt.encode_tree(s, tensors)
    ckpt.restore_rng(ckpt.decode_tree(__import__("json").loads(__import__("json").dumps(tree)), tensors))
    assert (random.random(), np.random.rand(), torch.rand(1)) == a


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(p, b"new content")
    assert p.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


def test_failed_save_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    model = Regressor()
    save_checkpoint(tmp_path / "last", model, {"step": 1})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    real = ckpt._write_synced

    def fail_on_state(path, data):  # the weights are written, then the save dies halfway
        if path.name == ckpt.STATE_JSON:
            real(path, data[: len(data) // 2])
            raise KeyboardInterrupt("killed mid-save")
        real(path, data)

    monkeypatch.setattr(ckpt, "_write_synced", fail_on_state)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "last", model, {"step": 2})
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["last"]  # no partial folder or file left behind
    assert load_training_state(tmp_path / "last") == {"step": 1}
    fresh = Regressor()
    load_model_weights(tmp_path / "last", fresh)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in before.items())


def test_crash_between_renames_falls_back_to_the_old_folder(tmp_path):
    model = Regressor()
    save_checkpoint(tmp_path / "last", model, {"step": 1})
    os.rename(tmp_path / "last", tmp_path / ".last.old-1-abc")  # as if killed right after the first rename
    found = ckpt.find_checkpoint(tmp_path / "last")
    assert found == tmp_path / ".last.old-1-abc" and load_training_state(found) == {"step": 1}


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # runs on unpickling: creates the marker file


@pytest.mark.parametrize("victim", [ckpt.STATE_TENSORS, ckpt.STATE_JSON, ckpt.MODEL_FILE])
def test_pickle_payload_is_refused_and_never_runs(tmp_path, victim):
    model = Regressor()
    save_checkpoint(tmp_path / "last", model, {"step": 1})
    marker = tmp_path / "pwned"
    (tmp_path / "last" / victim).write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(CheckpointError, match="pickle"):
        if victim == ckpt.MODEL_FILE:
            load_model_weights(tmp_path / "last", model)
        else:
            load_training_state(tmp_path / "last")
    assert not marker.exists()


def test_garbage_state_file_is_refused(tmp_path):
    save_checkpoint(tmp_path / "last", Regressor(), {"step": 1})
    (tmp_path / "last" / ckpt.STATE_TENSORS).write_bytes(b"{not safetensors at all")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_training_state(tmp_path / "last")


def test_non_finite_model_never_overwrites_a_good_checkpoint(tmp_path):
    model = Regressor()
    save_checkpoint(tmp_path / "last", model, {"step": 1})
    with torch.no_grad():
        model.head.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="not finite"):
        save_checkpoint(tmp_path / "last", model, {"step": 2})
    assert load_training_state(tmp_path / "last") == {"step": 1}


def test_trainer_writes_model_folder_best_and_last(tmp_path):
    cfg = TrainConfig(max_steps=6, batch_size=8, val_every=3, out_dir=str(tmp_path), log_every=2)
    t = Trainer(Regressor(), cfg, step_fn=mse_step).fit(SeqDataset(), SeqDataset(n=8, seed=1))
    for name in ("last", "best"):
        assert {"model.safetensors", "training_state.json", "training_state.safetensors"} <= set(
            os.listdir(tmp_path / name)
        )
    assert load_training_state(tmp_path / "last")["step"] == 6
    assert [r["step"] for r in t.history] == [3, 6]
    rows = (tmp_path / "train_log.csv").read_text().splitlines()
    assert rows[0] == "step,epoch,loss,lr,grad_norm,grad_norm_max,grad_norm_mean,throughput,skipped" and len(rows) == 4


def _truncate(path, keep):
    data = path.read_bytes()
    path.write_bytes(data[: keep(len(data))])


@pytest.mark.parametrize("cut", ["tensors", "header"])
def test_truncated_weights_name_the_file_and_a_good_previous_checkpoint(tmp_path, cut):
    model = Regressor()
    save_checkpoint(tmp_path / "best", model, {"step": 1})
    save_checkpoint(tmp_path / "last", model, {"step": 2})
    victim = tmp_path / "last" / ckpt.MODEL_FILE
    _truncate(victim, (lambda n: n - 10) if cut == "tensors" else (lambda n: 20))
    with pytest.raises(CheckpointError) as err:
        load_model_weights(tmp_path / "last", Regressor())
    msg = str(err.value)
    assert str(victim) in msg and "damaged or truncated" in msg
    assert str(tmp_path / "best") in msg  # a good checkpoint to fall back to


def test_truncated_weights_without_a_fallback_say_what_to_do(tmp_path):
    save_checkpoint(tmp_path / "last", Regressor(), {"step": 2})
    _truncate(tmp_path / "last" / ckpt.MODEL_FILE, lambda n: n - 10)
    with pytest.raises(CheckpointError, match="delete .*last.* to start a fresh run") as err:
        load_model_weights(tmp_path / "last", Regressor())
    assert "best" not in str(err.value)


def test_damaged_best_or_set_aside_copy_is_not_offered(tmp_path):
    model = Regressor()
    save_checkpoint(tmp_path / "best", model, {"step": 1})
    save_checkpoint(tmp_path / "last", model, {"step": 2})
    save_checkpoint(tmp_path / "old", model, {"step": 1})
    (tmp_path / "old").rename(tmp_path / ".last.old-1-abc")  # a save interrupted between its renames
    _truncate(tmp_path / "best" / ckpt.MODEL_FILE, lambda n: n - 4)
    _truncate(tmp_path / "last" / ckpt.MODEL_FILE, lambda n: n - 4)
    with pytest.raises(CheckpointError) as err:
        load_model_weights(tmp_path / "last", Regressor())
    msg = str(err.value)
    assert ".last.old-1-abc" in msg and str(tmp_path / "best") not in msg


def test_trainer_resume_from_truncated_weights_raises_checkpoint_error(tmp_path):
    cfg = dict(max_steps=4, batch_size=8, val_every=2, out_dir=str(tmp_path), log_every=100, progress=False)
    Trainer(Regressor(), TrainConfig(**cfg), step_fn=mse_step).fit(SeqDataset(), SeqDataset(n=8, seed=1))
    _truncate(tmp_path / "last" / ckpt.MODEL_FILE, lambda n: n // 2)
    with pytest.raises(CheckpointError, match="best"):
        Trainer(Regressor(), TrainConfig(**cfg, resume=True), step_fn=mse_step).fit(
            SeqDataset(), SeqDataset(n=8, seed=1)
        )


def test_truncated_training_state_names_the_file(tmp_path):
    save_checkpoint(tmp_path / "last", Regressor(), {"step": 2, "t": torch.ones(100)})
    victim = tmp_path / "last" / ckpt.STATE_TENSORS
    _truncate(victim, lambda n: n - 10)
    with pytest.raises(CheckpointError, match="damaged or truncated") as err:
        load_training_state(tmp_path / "last")
    assert str(victim) in str(err.value)
