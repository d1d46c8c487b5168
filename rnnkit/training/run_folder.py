"""The folder a training run writes into, and the rules that keep what is already there.

A run folder (``--out``) ends up holding a saved model (the one model format) and the run's
checkpoints and logs. Before a training command writes anything, :func:`plan_run_folder` decides
where it may write -- or refuses, naming the folder, what it holds and the ways on:

======================================  ==========================================================
the folder ...                          a fresh run         ``--resume``          ``--overwrite``
======================================  ==========================================================
does not exist, or holds no run         writes there        starts there (and     writes there
                                                            says so)
holds a model or checkpoints of this    refused: give       continues the run;    trains in a
kind                                    ``--resume`` or     refused if the run    staging folder,
                                        ``--overwrite``     finished              then swaps it in
holds a model of another kind           refused, full stop  refused               refused
is a file                               refused             refused               refused
======================================  ==========================================================

With ``--overwrite`` nothing of the old run is touched until the new one has succeeded: the new run
trains in a hidden sibling folder (``.NAME.rnnkit-new``) and :meth:`RunFolder.commit` swaps it in
(the old folder is renamed aside, the new one renamed into place, the old one deleted; two renames
on the same file system). A run interrupted while overwriting is continued by ``--resume`` in its
staging folder; until it commits, the old model stays usable. ``--resume`` together with
``--overwrite`` is refused: they ask for opposite things.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from .._checks import FileFormatError, InvalidValueError, NotAFolderError
from ..data.atomic import fsync_dir
from ..models.format import CONFIG_FILE, describe_type, has_model, read_model
from .checkpoint import find_checkpoint

PathLike = Union[str, "os.PathLike[str]"]
STAGING_SUFFIX = ".rnnkit-new"
RETIRED_SUFFIX = ".rnnkit-old"


class RunFolderError(InvalidValueError):
    """A training command may not write into the folder it was given (the message says why and how on)."""


@dataclass
class RunFolder:
    """Where a run writes (``work``) and where its result belongs (``target``)."""

    target: Path
    work: Path
    resuming: bool  # there is a run to continue in ``work``

    @property
    def staged(self) -> bool:
        return self.work != self.target

    def create(self) -> Path:
        """Create the working folder (call once every check has passed); returns it."""
        self.work.mkdir(parents=True, exist_ok=True)
        return self.work

    def commit(self) -> Path:
        """Put a staged run in place of the target (a no-op for a run written in place)."""
        if not self.staged:
            return self.target
        retired = self.target.with_name(f".{self.target.name}{RETIRED_SUFFIX}")
        if retired.exists():
            shutil.rmtree(retired)
        if self.target.exists():
            os.rename(self.target, retired)
        os.rename(self.work, self.target)
        fsync_dir(self.target.parent)
        shutil.rmtree(retired, ignore_errors=True)
        self.work = self.target
        return self.target


def staging_folder(target: Path) -> Path:
    return target.with_name(f".{target.name}{STAGING_SUFFIX}")


def _holds_run(folder: Path, checkpoint_dirs: Iterable[str]) -> tuple:
    """``(model_type or None, config readable, has checkpoint)`` of ``folder``."""
    kind, readable = None, True
    if has_model(folder) or (folder / CONFIG_FILE).exists():
        try:
            kind = read_model(folder).model_type
        except FileFormatError:
            readable = False
    has_checkpoint = any(find_checkpoint(folder / d) is not None for d in checkpoint_dirs)
    return kind, readable, has_checkpoint


def plan_run_folder(
    out: PathLike,
    model_type: str,
    *,
    resume: bool,
    overwrite: bool,
    checkpoint_dirs: Iterable[str],
    finished: Optional[Callable[[Path], Optional[str]]] = None,
    log: Callable[[str], None] = lambda message: None,
) -> RunFolder:
    """Decide where a run of ``model_type`` into ``out`` writes, or raise :class:`RunFolderError`.

    ``checkpoint_dirs``: the run's checkpoint folders inside ``out`` (``"last"``, ...).
    ``finished(folder)``: a sentence saying the run there finished (None if it can go on); called
    for ``--resume`` when the folder holds a run of this kind. Nothing is written here.
    """
    target = Path(os.fspath(out))
    checkpoint_dirs = tuple(checkpoint_dirs)
    if resume and overwrite:
        raise RunFolderError(
            "--resume and --overwrite exclude each other: --resume continues the run in the folder, "
            "--overwrite replaces it with a new one"
        )
    if target.exists() and not target.is_dir():
        raise NotAFolderError(f"--out {target} is a file; a run needs a folder (it is created if missing)")
    kind, readable, has_checkpoint = _holds_run(target, checkpoint_dirs) if target.is_dir() else (None, True, False)
    if kind is not None and kind != model_type:
        raise RunFolderError(
            f"--out {target} holds {describe_type(kind)}, not {describe_type(model_type)}: "
            "choose another --out (rnnkit never replaces a model of another kind)"
        )
    holds = kind is not None or not readable or has_checkpoint
    staging = staging_folder(target)
    if overwrite:
        if staging.exists():
            shutil.rmtree(staging)  # an earlier overwrite that never finished: start it again
        return RunFolder(target, staging if holds else target, resuming=False)
    if resume:
        if staging.is_dir() and any(find_checkpoint(staging / d) for d in checkpoint_dirs):
            log(f"note: continuing the interrupted --overwrite run in {staging}; it replaces {target} when done")
            return RunFolder(target, staging, resuming=True)
        if not readable:
            raise RunFolderError(
                f"{target / CONFIG_FILE} cannot be read, so the run in {target} cannot be continued: "
                "--overwrite starts a new run in its place"
            )
        if holds and finished is not None:
            done = finished(target)
            if done:
                raise RunFolderError(f"nothing to resume in {target}: {done}")
        if not holds:
            log(f"note: nothing to resume in {target} (no run there yet): starting the run from the beginning")
        return RunFolder(target, target, resuming=holds)
    if holds:
        what = (
            f"a model whose {CONFIG_FILE} cannot be read"
            if not readable
            else describe_type(kind)
            if kind is not None
            else "the checkpoints of an unfinished run"
        )
        raise RunFolderError(
            f"--out {target} already holds {what}: give --resume to continue its run, "
            "or --overwrite to replace it with a new one (or choose another --out)"
        )
    return RunFolder(target, target, resuming=False)


def resumable_folder(out: PathLike, checkpoint_dirs: Iterable[str]) -> Path:
    """Where ``--resume`` finds the run of ``out``: the staging folder of an interrupted
    ``--overwrite`` run if it holds a checkpoint, else ``out`` itself."""
    target = Path(os.fspath(out))
    staging = staging_folder(target)
    if staging.is_dir() and any(find_checkpoint(staging / d) for d in checkpoint_dirs):
        return staging
    return target
