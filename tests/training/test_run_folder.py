"""Where a training run may write: plan_run_folder's table, the staged overwrite, the memory check."""

import pytest
import torch

from rnnkit._checks import NotAFolderError
from rnnkit.models.format import read_model, save_model
from rnnkit.training.checkpoint import save_checkpoint
from rnnkit.training.resources import InsufficientMemoryError, check_fits, count_parameters, format_bytes
from rnnkit.training.run_folder import RunFolderError, plan_run_folder, resumable_folder, staging_folder


def model_folder(path, kind="language_model", checkpoint=False, value=1.0):
    save_model(path, kind, {"size": 1}, {"w": torch.full((2,), value)})
    (path / "train_log.csv").write_text("step,loss\n1,2.0\n")
    if checkpoint:
        save_checkpoint(path / "last", torch.nn.Linear(1, 1), {"step": 3})
    return path


def plan(out, **kw):
    args = {"resume": False, "overwrite": False, "checkpoint_dirs": ("last",), **kw}
    return plan_run_folder(out, "language_model", **args)


def test_a_new_folder_is_written_in_place_and_not_created_before_the_run(tmp_path):
    p = plan(tmp_path / "new")
    assert p.work == p.target == tmp_path / "new" and not p.staged and not p.resuming
    assert not (tmp_path / "new").exists()  # planning writes nothing
    p.create()
    assert (tmp_path / "new").is_dir()


def test_a_folder_holding_a_model_needs_resume_or_overwrite(tmp_path):
    out = model_folder(tmp_path / "run")
    with pytest.raises(RunFolderError, match=r"already holds a language model.*--resume.*--overwrite"):
        plan(out)


def test_a_folder_holding_only_checkpoints_is_a_run_too(tmp_path):
    out = tmp_path / "run"
    save_checkpoint(out / "last", torch.nn.Linear(1, 1), {"step": 3})
    with pytest.raises(RunFolderError, match="checkpoints of an unfinished run"):
        plan(out)
    assert plan(out, resume=True).resuming


@pytest.mark.parametrize("flags", [{}, {"overwrite": True}, {"resume": True}])
def test_a_folder_of_another_kind_is_refused_whatever_the_flags(tmp_path, flags):
    out = model_folder(tmp_path / "run", kind="forecaster")
    with pytest.raises(RunFolderError, match="holds a forecaster.*never replaces a model of another kind"):
        plan(out, **flags)


def test_resume_and_overwrite_exclude_each_other(tmp_path):
    with pytest.raises(RunFolderError, match="--resume and --overwrite exclude each other"):
        plan(tmp_path / "x", resume=True, overwrite=True)


def test_a_file_is_not_a_run_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotAFolderError, match="is a file"):
        plan(tmp_path / "f", overwrite=True)


def test_an_unreadable_config_needs_overwrite(tmp_path):
    out = model_folder(tmp_path / "run")
    (out / "config.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="cannot be read.*--overwrite"):
        plan(out)
    with pytest.raises(RunFolderError, match="cannot be read.*--overwrite"):
        plan(out, resume=True)
    assert plan(out, overwrite=True).staged


def test_resume_of_a_finished_run_says_so(tmp_path):
    out = model_folder(tmp_path / "run", checkpoint=True)
    with pytest.raises(RunFolderError, match="nothing to resume in .*: all done"):
        plan(out, resume=True, finished=lambda folder: "all done")
    assert plan(out, resume=True, finished=lambda folder: None).resuming


def test_overwrite_stages_beside_and_swaps_only_on_commit(tmp_path):
    out = model_folder(tmp_path / "run", checkpoint=True, value=1.0)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    p = plan(out, overwrite=True)
    assert p.staged and p.work == staging_folder(out) and p.work.parent == out.parent
    model_folder(p.create(), value=2.0)  # the new run writes its model into the staging folder
    assert {q.name: q.read_bytes() for q in out.iterdir() if q.is_file()} == before  # the old run untouched
    assert read_model(out).model_type == "language_model"
    assert p.commit() == out
    assert not staging_folder(out).exists() and not (out / "last").exists()  # the old run's checkpoint is gone
    assert (out / "model.safetensors").read_bytes() != before["model.safetensors"]
    assert sorted(q.name for q in tmp_path.iterdir()) == ["run"]  # nothing set aside is left


def test_resume_continues_an_interrupted_overwrite_in_its_staging_folder(tmp_path):
    out = model_folder(tmp_path / "run")
    p = plan(out, overwrite=True)
    save_checkpoint(p.create() / "last", torch.nn.Linear(1, 1), {"step": 1})  # then the run is killed
    said = []
    again = plan(out, resume=True, log=said.append)
    assert again.work == staging_folder(out) and again.resuming and again.staged
    assert resumable_folder(out, ("last",)) == staging_folder(out)
    assert "interrupted --overwrite run" in said[0]
    # a new --overwrite starts that staging over
    assert not (plan(out, overwrite=True).work / "last").exists()


def test_resume_with_nothing_there_starts_and_says_so(tmp_path):
    said = []
    p = plan(tmp_path / "new", resume=True, log=said.append)
    assert not p.resuming and "nothing to resume" in said[0]


# ---- memory -------------------------------------------------------------------------------------


def test_parameters_are_counted_without_allocating():
    n = count_parameters(lambda: torch.nn.LSTM(10_000, 10_000))  # 800M parameters: 3.2 GB if allocated
    assert n == 4 * 10_000 * (10_000 + 10_000) + 8 * 10_000


def test_a_run_that_cannot_fit_is_refused_with_both_numbers():
    with pytest.raises(InsufficientMemoryError, match=r"training X needs about 2 GB .* has 1 GB available: smaller"):
        check_fits(2e9, "training X", "smaller", available=10**9)
    check_fits(5e8, "training X", "smaller", available=10**9)  # fits: no error
    assert (format_bytes(1.5e9), format_bytes(320e6), format_bytes(999)) == ("1.5 GB", "320 MB", "999 B")
