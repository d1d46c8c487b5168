"""kill -9 at every step of a model save, and of a checkpoint write, loses nothing.

A forked child saves model B over model A in a run folder (which also holds a training log, a
plot and a checkpoint that are not the model's). Every file-system step of the save (``mkdir``,
``fsync``, ``rename``, ``replace``, ``unlink``, ``rmdir``) first tells the parent and waits for its
go; the parent answers ``go`` to steps 1 .. k-1 and sends SIGKILL at step k, for k = 1, 2, ... until
the save runs through. After each kill:

* the folder loads with ``rnnkit.load`` and is model A or model B *entirely* (config, weights and
  vocabulary or preprocessing together), never a mixture; A up to the commit, B from it on;
* the run's other files are byte-identical;
* the next save completes (the pending commit first) and leaves no staging or commit folder.

The same sweep over :func:`rnnkit.training.checkpoint.save_checkpoint` checks that the previous
checkpoint (or the new one, once it is in place) stays loadable with ``find_checkpoint``,
``load_model_weights`` and ``load_training_state``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.data.vocab import Vocabulary
from rnnkit.models.format import COMMIT_DIR, STAGING_DIR
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.training.checkpoint import find_checkpoint, load_model_weights, load_training_state, save_checkpoint

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill points are held in a forked child")

STEPS = ("mkdir", "fsync", "rename", "replace", "unlink", "rmdir")  # the os calls a save is made of


def killed_at(k: int, action: Callable[[], None]) -> bool:
    """Run ``action`` in a forked child and SIGKILL it just before its ``k``-th file-system step.

    Returns False when the child was killed, True when it finished before reaching step ``k``."""
    steps_r, steps_w = os.pipe()  # child -> parent: one byte per step about to run
    go_r, go_w = os.pipe()  # parent -> child: one byte to run it
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(steps_r)
            os.close(go_w)

            def held(call):
                def step(*args, **kwargs):
                    os.write(steps_w, b"s")
                    os.read(go_r, 1)
                    return call(*args, **kwargs)

                return step

            for name in STEPS:
                setattr(os, name, held(getattr(os, name)))
            action()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(steps_w)
    os.close(go_r)
    try:
        for _ in range(k - 1):
            if not os.read(steps_r, 1):
                break
            os.write(go_w, b"g")
        else:
            if os.read(steps_r, 1):  # the child waits before step k
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return False
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the save failed in the child"
        return True
    finally:
        os.close(steps_r)
        os.close(go_w)


def digest(folder: Path, names) -> Dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


# ---- the models ------------------------------------------------------------------------------


def language_model(text: str, hidden: int, seed: int, with_vocab: bool = True) -> LanguageModel:
    torch.manual_seed(seed)
    vocab = Vocabulary.from_text(text)
    config = LanguageModelConfig(vocab_size=len(vocab), embedding_size=4, hidden_size=hidden, num_layers=2)
    return LanguageModel(config, vocab if with_vocab else None).eval()


def forecaster():
    pd = pytest.importorskip("pandas")
    from rnnkit.timeseries.config import ForecasterConfig
    from rnnkit.timeseries.forecaster import Forecaster
    from rnnkit.timeseries.frame import from_dataframe
    from rnnkit.timeseries.network import build_network
    from rnnkit.timeseries.scaling import StandardScaler

    t = pd.date_range("2000-01-01", periods=12, freq="MS")
    frame = from_dataframe(pd.DataFrame({"t": t, "y": np.arange(12.0)}), "t", "y")
    config = ForecasterConfig(hidden_size=3, horizon=2, input_length=4, epochs=1)
    fc = Forecaster(config)
    fc.meta = {
        "target_names": ["y"],
        "past_names": [],
        "future_names": [],
        "calendar_names": ["month_sin", "month_cos"],
        "input_length": 4,
        "freq": "MS",
    }
    fc.scalers = {"target": StandardScaler().fit(frame.targets)}
    fc.tail = frame.slice(8, None)
    torch.manual_seed(5)
    fc.net = build_network(config.network(), 4, 1, 0, 2).eval()
    return fc


def identity(model) -> tuple:
    """Everything a loaded model is: its kind, settings, side files and every weight."""
    if isinstance(model, LanguageModel):
        vocab = None if model.vocab is None else model.vocab.to_dict()
        return ("lm", model.config.to_dict(), vocab, _weights(model.state_dict()))
    scalers = {k: (s.mean.tolist(), s.std.tolist()) for k, s in model.scalers.items()}
    return (
        "fc",
        asdict(model.config),
        model.meta,
        scalers,
        model.tail.targets.tolist(),
        _weights(model.net.state_dict()),
    )


def _weights(state) -> Dict[str, list]:
    return {k: v.tolist() for k, v in state.items()}


SCENARIOS = {
    # B: other sizes and another vocabulary
    "lm over lm": (lambda: language_model("abc abc", 5, 0), lambda: language_model("the cat sat", 7, 1)),
    # B has no vocabulary: A's vocab.json must go with the commit, not stay beside B
    "lm without vocab over lm": (
        lambda: language_model("abc abc", 5, 0),
        lambda: language_model("abcd", 3, 2, with_vocab=False),
    ),
    # another kind of model: vocab.json goes, preprocessing.json comes
    "forecaster over lm": (lambda: language_model("abc abc", 5, 0), forecaster),
}


@pytest.fixture()
def run_folder(tmp_path):
    """A run folder's files that are not the model's: they must survive any kill byte for byte."""
    folder = tmp_path / "run"
    (folder / "plots").mkdir(parents=True)
    (folder / "train_log.csv").write_text("step,loss\n1,2.5\n2,2.1\n")
    (folder / "plots" / "loss.png").write_bytes(bytes(range(256)))
    (folder / "run_settings.json").write_text('{"seed": 0}\n')
    return folder, ["train_log.csv", "plots/loss.png", "run_settings.json"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_save_killed_at_any_step_leaves_the_old_model_or_the_new_one_entirely(tmp_path, run_folder, scenario):
    make_a, make_b = SCENARIOS[scenario]
    a, b = make_a(), make_b()
    pristine, others = run_folder
    a.save_pretrained(pristine)
    want_a, want_b = identity(rnnkit.load(pristine)), identity(b)
    before = digest(pristine, others)

    seen: List[str] = []
    for k in range(1, 200):
        folder = tmp_path / f"k{k}"
        shutil.copytree(pristine, folder)
        finished = killed_at(k, lambda folder=folder: b.save_pretrained(folder))
        got = identity(rnnkit.load(folder))
        assert got in (want_a, want_b), f"killed at step {k}: the folder holds a mixture of A and B"
        seen.append("A" if got == want_a else "B")
        assert digest(folder, others) == before, f"killed at step {k}: a file that is not the model's changed"

        a.save_pretrained(folder)  # the next save finishes whatever was pending, then saves A
        assert identity(rnnkit.load(folder)) == want_a
        assert not (folder / COMMIT_DIR).exists() and not (folder / STAGING_DIR).exists()
        assert digest(folder, others) == before
        if finished:
            break
    else:
        pytest.fail("the save never finished")
    text = "".join(seen)
    assert text.startswith("A") and text.endswith("B"), text
    assert text == "A" * text.count("A") + "B" * text.count("B"), f"A until the commit, B after it: {text}"
    assert text.count("B") >= 4, f"the commit should come before the files are moved into place: {text}"


def test_a_reader_sees_the_new_model_while_its_files_are_being_moved(tmp_path, run_folder):
    """The roll-forward is read-only: loading a folder with a pending commit changes nothing."""
    a, b = language_model("abc abc", 5, 0), language_model("abcd", 3, 2, with_vocab=False)
    folder, others = run_folder
    a.save_pretrained(folder)
    # find a kill point after the commit rename and before A's vocab.json is deleted
    for k in range(1, 50):
        probe = tmp_path / f"probe{k}"
        shutil.copytree(folder, probe)
        killed_at(k, lambda probe=probe: b.save_pretrained(probe))
        if (probe / COMMIT_DIR).exists() and (probe / "vocab.json").exists():
            break
    else:
        pytest.fail("no kill point left a pending commit with the old vocab.json in place")
    listing = sorted(str(p.relative_to(probe)) for p in probe.rglob("*"))
    model = rnnkit.load(probe)
    assert model.vocab is None and model.config.hidden_size == 3  # B, without A's vocab.json
    assert sorted(str(p.relative_to(probe)) for p in probe.rglob("*")) == listing  # nothing changed


def test_a_stale_staging_folder_is_ignored_and_cleared(tmp_path):
    a = language_model("abc abc", 5, 0)
    a.save_pretrained(tmp_path)
    staging = tmp_path / STAGING_DIR
    staging.mkdir()
    (staging / "config.json").write_text("{ half written")
    assert identity(rnnkit.load(tmp_path)) == identity(a)
    a.save_pretrained(tmp_path)
    assert not staging.exists()


# ---- checkpoints -----------------------------------------------------------------------------


def test_a_checkpoint_write_killed_at_any_step_leaves_a_loadable_checkpoint(tmp_path):
    a, b = language_model("abc abc", 5, 0), language_model("abc abc", 5, 1)  # one run: same shapes
    pristine = tmp_path / "pristine" / "checkpoints" / "last"
    save_checkpoint(pristine, a, {"step": 1})

    seen: List[str] = []
    for k in range(1, 200):
        last = tmp_path / f"k{k}" / "checkpoints" / "last"
        shutil.copytree(pristine.parent, last.parent)
        finished = killed_at(k, lambda last=last: save_checkpoint(last, b, {"step": 2}))
        found = find_checkpoint(last)
        assert found is not None, f"killed at step {k}: no checkpoint left"
        step = load_training_state(found)["step"]
        model = language_model("abc abc", 5, 9)
        load_model_weights(found, model)
        expected = {1: a, 2: b}[step]
        for name, value in expected.state_dict().items():
            assert torch.equal(model.state_dict()[name], value), f"killed at step {k}: {name} is not of step {step}"
        seen.append(str(step))
        if finished:
            break
    else:
        pytest.fail("the checkpoint write never finished")
    text = "".join(seen)
    assert text == "1" * text.count("1") + "2" * text.count("2") and text.endswith("2"), text


# ---- saves that fail or are refused ----------------------------------------------------------


def test_the_new_model_replaces_the_old_ones_files_and_nothing_else(run_folder):
    folder, others = run_folder
    language_model("abc abc", 5, 0).save_pretrained(folder)
    before = digest(folder, others)
    forecaster().save_pretrained(folder)
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert names == ["config.json", "model.safetensors", "preprocessing.json", "run_settings.json", "train_log.csv"]
    assert digest(folder, others) == before


@pytest.mark.parametrize("name", ["../escape.json", "sub/file.json", ".hidden", "config.json", "model.safetensors"])
def test_a_model_file_with_a_name_outside_the_format_is_refused_before_anything_is_written(tmp_path, name):
    from rnnkit._checks import InvalidValueError
    from rnnkit.models.format import save_model

    a = language_model("abc abc", 5, 0)
    a.save_pretrained(tmp_path / "m")
    before = digest(tmp_path / "m", ["config.json", "model.safetensors", "vocab.json"])
    with pytest.raises(InvalidValueError, match="plain name"):
        save_model(tmp_path / "m", "language_model", a.config.to_dict(), a.state_dict(), files={name: "{}"})
    assert digest(tmp_path / "m", ["config.json", "model.safetensors", "vocab.json"]) == before
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors", "vocab.json"]
    assert not (tmp_path / "escape.json").exists()


def test_a_write_that_fails_midway_leaves_the_old_model_and_no_half_copy(tmp_path, monkeypatch):
    import errno

    import rnnkit.models.format as format_module

    a, b = language_model("abc abc", 5, 0), language_model("the cat sat", 7, 1)
    a.save_pretrained(tmp_path)
    written = []

    def disk_full_on_the_second_file(path, data):
        written.append(path)
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        Path(path).write_bytes(data)

    monkeypatch.setattr(format_module, "write_synced", disk_full_on_the_second_file)
    with pytest.raises(OSError, match="No space left"):
        b.save_pretrained(tmp_path)
    assert identity(rnnkit.load(tmp_path)) == identity(a)
    assert not (tmp_path / STAGING_DIR).exists() and not (tmp_path / COMMIT_DIR).exists()
