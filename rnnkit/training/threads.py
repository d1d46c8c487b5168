"""How many CPU threads to compute with, on a machine other programs may be using.

torch runs its CPU kernels on an OpenMP team of ``torch.get_num_threads()`` threads, one per core
by default. When another program keeps a core busy, a team that wants every core is not slowed in
proportion but collapses: each parallel region ends at a barrier, and the thread that shares its
core with the other program arrives late, every time. Measured on this project's 2-core machine
with one CPU-bound process beside it (``python -c "while True: pass"``): training a 2x256 character
LSTM fell from 11.5k tokens/s (quiet, 2 threads) to 3.3k with 2 threads, while 1 thread ran at
7.2k, as fast as it runs on a quiet machine; scoring 10k characters at batch 1 took 2.7 s with 2
threads and 0.9 s with 1 (at load 3-7 the 2-thread evaluation did not finish in 200 s).

So the thread count follows the cores the *other* programs leave free:

    free = cores - (CPU time used by everything else) / (wall time)      over the last window
    threads = max(1, floor(free + 0.3))

read from ``/proc/stat`` (all processes) minus ``/proc/self/stat`` (this one), so it costs two
file reads, never a pause. :class:`ThreadGovernor` re-reads it every few seconds during training
and changes the count when two windows in a row agree.

Changing the count does not change the default language model's results: for a 2x256 LSTM,
oneDNN's kernels and the GEMMs give the same bits with 1 or 2 threads, even switched mid-run
(``tests/training/test_threads.py``). That is not true of every size: for a 2x64 LSTM oneDNN's
backward sums the weight gradients in another order with another thread count (the last bits
differ). Give a fixed count (``threads=N``, ``--threads N``) where runs on machines under different
load must agree bit for bit.

A fixed count is kept as given: ``threads=N`` (``--threads N``), or ``OMP_NUM_THREADS`` /
``RNNKIT_THREADS`` set in the environment. Where ``/proc`` is missing (macOS, Windows) torch's
default stands.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .._checks import InvalidValueError, optional, positive_int

ENV_VARS = ("RNNKIT_THREADS", "OMP_NUM_THREADS")
CHECK_EVERY_S = 5.0  # seconds between two readings of the machine's load during training
FIRST_CHECK_S = 1.0  # the first reading of a training run, which sets the count at once
_HEADROOM = 0.3  # a core counts as free when others use less than 70% of it
_NOTED = False  # the note about other programs is given once per process (training, then scoring)


def cpu_count() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def env_threads() -> Optional[int]:
    """The thread count fixed by ``RNNKIT_THREADS`` or ``OMP_NUM_THREADS``, if either is set."""
    for name in ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return positive_int(name, int(value))
            except ValueError:
                raise InvalidValueError(f"{name} must be a whole number >= 1, got {value!r}") from None
    return None


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative CPU seconds: all processes on the machine, and this process; at ``wall``."""

    machine_busy: float
    own: float
    wall: float


def read_cpu_times() -> Optional[CpuTimes]:
    """Read ``/proc/stat`` and ``/proc/self/stat``; None where they do not exist.

    Busy time counts user, nice, system, irq, softirq and steal (a VM's core lent to another
    guest is not ours either); idle and iowait are free.
    """
    try:
        with open("/proc/stat", "rb") as f:
            fields = f.readline().split()
        with open("/proc/self/stat", "rb") as f:
            own_fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7]
    own = int(own_fields[11]) + int(own_fields[12])  # utime, stime (fields 14 and 15 of stat)
    return CpuTimes(busy / ticks, own / ticks, time.monotonic())


def others_busy(before: CpuTimes, after: CpuTimes) -> float:
    """Cores kept busy by other programs between two readings (0 = none, 1.5 = one and a half)."""
    wall = after.wall - before.wall
    if wall <= 0:
        return 0.0
    others = (after.machine_busy - before.machine_busy) - (after.own - before.own)
    return max(0.0, others / wall)


def threads_for(free_cores: float, cores: int) -> int:
    """The team size for ``free_cores``: every core others leave (almost) free, at least one."""
    return max(1, min(cores, math.floor(free_cores + _HEADROOM)))


def probe_threads(seconds: float = 0.2, reader: Callable[[], Optional[CpuTimes]] = read_cpu_times) -> Optional[int]:
    """The thread count for the cores free right now, measured over ``seconds`` (None without /proc)."""
    first = reader()
    if first is None:
        return None
    time.sleep(seconds)
    second = reader()
    if second is None:
        return None
    cores = cpu_count()
    return threads_for(cores - others_busy(first, second), cores)


class ThreadGovernor:
    """Keeps ``torch.get_num_threads()`` at the number of cores other programs leave free.

    ``requested``: a fixed count (``None``: adapt, unless the environment fixes one). Use
    :meth:`start` before the work, :meth:`tick` now and then (it reads the load at most every
    ``check_every`` seconds), :meth:`stop` after (the count torch had before is restored); or
    ``with ThreadGovernor(): ...`` around a piece of work (evaluation, generation).
    ``note(message)`` receives one line the first time other programs take cores.
    """

    def __init__(
        self,
        requested: Optional[int] = None,
        *,
        check_every: float = CHECK_EVERY_S,
        reader: Optional[Callable[[], Optional[CpuTimes]]] = None,
        note: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.requested = optional(positive_int, "threads", requested)
        self.fixed = self.requested if self.requested is not None else env_threads()
        self.check_every = check_every
        self.reader = reader if reader is not None else read_cpu_times
        self.note = note if note is not None else _warn
        self.cores = cpu_count()
        self.threads = torch.get_num_threads()
        self.busy_seen = 0.0  # the most cores others used over a window so far
        self.last_busy = 0.0  # cores others used over the latest window
        self._previous: Optional[int] = None
        self._last: Optional[CpuTimes] = None
        self._pending: Optional[int] = None
        self._noted = False
        self._first = True
        self.changes = 0  # how often the count changed during the run

    @property
    def adaptive(self) -> bool:
        return self.fixed is None

    def start(self, probe_seconds: float = 0.0) -> int:
        """Set the thread count for the work about to start; returns it.

        With ``probe_seconds > 0`` the load is measured over that pause and the count set now (for a
        short piece of work: an evaluation); with 0 (training) nothing waits: the first
        :meth:`tick` after ``FIRST_CHECK_S`` seconds sets it.
        """
        self._previous = torch.get_num_threads()
        self._first = True
        if not self.adaptive:
            self._set(self.fixed)
            return self.threads
        first = self.reader()
        if first is None:  # no /proc: torch's default stands
            return self.threads
        self._last = first
        if probe_seconds > 0:
            time.sleep(probe_seconds)
            self._last = self.reader()
            self._decide(first, self._last, immediately=True)
            self._first = False
        return self.threads

    def tick(self) -> None:
        """Re-read the machine's load if ``check_every`` seconds have passed (``FIRST_CHECK_S`` the
        first time, which decides at once); later changes need two windows that agree."""
        if not self.adaptive or self._last is None:
            return
        wait = min(FIRST_CHECK_S, self.check_every) if self._first else self.check_every
        if time.monotonic() - self._last.wall < wait:
            return
        now = self.reader()
        if now is not None:
            self._decide(self._last, now, immediately=self._first)
            self._first = False
            self._last = now

    def stop(self) -> None:
        """Give torch back the thread count it had before :meth:`start`."""
        if self._previous is not None and torch.get_num_threads() != self._previous:
            torch.set_num_threads(self._previous)
        self._previous = None

    def __enter__(self) -> "ThreadGovernor":
        self.start(probe_seconds=0.2)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _decide(self, before: CpuTimes, after: CpuTimes, immediately: bool) -> None:
        busy = others_busy(before, after)
        self.last_busy = busy
        self.busy_seen = max(self.busy_seen, busy)
        target = threads_for(self.cores - busy, self.cores)
        global _NOTED
        if target < self.cores and not self._noted and not _NOTED:
            self._noted = _NOTED = True
            self.note(_busy_message(busy, self.cores, target))
        if target == self.threads:
            self._pending = None
        elif immediately or self._pending == target:
            self._set(target)
            self.changes += 0 if immediately else 1
            self._pending = None
        else:
            self._pending = target

    def _set(self, n: int) -> None:
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        self.threads = n


def _busy_message(busy: float, cores: int, threads: int) -> str:
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.1f}"
    return (
        f"other programs are using about {busy:.1f} of the {cores} CPU cores{load}: computing on "
        f"{threads} thread{'s' if threads != 1 else ''} so that they do not stall each other (the "
        f"results are the same, only slower)"
    )


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)
