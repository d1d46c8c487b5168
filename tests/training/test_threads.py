"""The thread governor: the team size follows the cores other programs leave free."""

import hashlib
import os

import pytest
import torch

from rnnkit.training import threads as th
from rnnkit.training.threads import CpuTimes, ThreadGovernor, others_busy, threads_for


class FakeMachine:
    """A /proc reader whose other programs use ``others`` cores; this process uses ``own``."""

    def __init__(self, others=0.0, own=1.0):
        self.others, self.own, self.t = others, own, 0.0
        self.busy = self.mine = 0.0

    def __call__(self):
        self.t += 1.0  # one second between readings
        self.busy += self.others + self.own
        self.mine += self.own
        return CpuTimes(self.busy, self.mine, self.t)


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    monkeypatch.setattr(th, "cpu_count", lambda: 2)
    monkeypatch.setattr(th, "_NOTED", False)
    for name in th.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_others_busy_subtracts_this_process():
    a, b = CpuTimes(10.0, 4.0, 100.0), CpuTimes(13.0, 5.0, 102.0)  # 3 core-seconds in 2 s, 1 of them ours
    assert others_busy(a, b) == pytest.approx(1.0)
    assert others_busy(b, b) == 0.0


@pytest.mark.parametrize(
    "free,cores,want", [(2.0, 2, 2), (1.8, 2, 2), (1.4, 2, 1), (1.0, 2, 1), (0.1, 2, 1), (13.2, 16, 13), (20.0, 16, 16)]
)
def test_threads_for(free, cores, want):
    assert threads_for(free, cores) == want


def test_a_busy_machine_gets_one_thread_and_one_note():
    notes = []
    machine = FakeMachine(others=1.0)
    gov = ThreadGovernor(reader=machine, check_every=0.0, note=notes.append)
    gov.start()
    gov.tick()  # the first reading decides at once
    assert gov.threads == 1 and torch.get_num_threads() == 1
    gov.tick()
    gov.tick()
    assert len(notes) == 1 and "1.0 of the 2 CPU cores" in notes[0] and "1 thread" in notes[0]


def test_threads_come_back_when_the_other_program_stops_after_two_agreeing_windows():
    machine = FakeMachine(others=1.0)
    gov = ThreadGovernor(reader=machine, check_every=0.0, note=lambda m: None)
    gov.start(probe_seconds=0.01)
    assert gov.threads == 1
    machine.others = 0.0
    gov.tick()
    assert gov.threads == 1  # one quiet window is not enough
    gov.tick()
    assert gov.threads == 2 and torch.get_num_threads() == 2 and gov.changes == 1


def test_a_quiet_machine_uses_every_core_and_says_nothing():
    notes = []
    gov = ThreadGovernor(reader=FakeMachine(others=0.05), check_every=0.0, note=notes.append)
    assert gov.start(probe_seconds=0.01) == 2 and notes == []


def test_a_requested_count_is_kept_and_stop_restores_the_previous_one():
    torch.set_num_threads(2)
    gov = ThreadGovernor(1, reader=FakeMachine(others=0.0), check_every=0.0)
    assert gov.start() == 1
    gov.tick()
    assert torch.get_num_threads() == 1 and not gov.adaptive
    gov.stop()
    assert torch.get_num_threads() == 2


def test_the_environment_fixes_the_count(monkeypatch):
    monkeypatch.setenv("RNNKIT_THREADS", "1")
    with ThreadGovernor(reader=FakeMachine(others=0.0)) as gov:
        assert not gov.adaptive and torch.get_num_threads() == 1
    monkeypatch.setenv("RNNKIT_THREADS", "two")
    with pytest.raises(ValueError, match="RNNKIT_THREADS.*'two'"):
        ThreadGovernor()


def test_bad_requested_counts_are_refused():
    for bad in (0, -1, 1.5, True):
        with pytest.raises((TypeError, ValueError), match="threads"):
            ThreadGovernor(bad)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs /proc (Linux)")
def test_the_real_reader_reads_this_machine():
    a = th.read_cpu_times()
    sum(i * i for i in range(200_000))  # burn a little CPU
    b = th.read_cpu_times()
    assert b.wall > a.wall and b.own >= a.own and b.machine_busy >= a.machine_busy
    assert th.probe_threads(0.05) in (1, 2)


def _train_and_hash(threads_at):
    """A few updates of a small LSTM language model, switching thread count as ``threads_at`` says."""
    import torch.nn.functional as F

    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

    torch.manual_seed(0)
    model = LanguageModel(
        LanguageModelConfig(vocab_size=40, hidden_size=256, num_layers=2, embedding_size=16, dropout=0.1)
    )  # the default model's layers
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    g = torch.Generator().manual_seed(1)
    for step in range(4):
        torch.set_num_threads(threads_at(step))
        x = torch.randint(0, 40, (16, 33), generator=g)
        logits, _ = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 40), x[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
    return hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()


def test_the_thread_count_does_not_change_the_default_models_weights():
    """What makes adapting safe for the main job: 1 thread, 2 threads, or a switch mid-run give the
    same bits for the default 2x256 LSTM (not for every size: see rnnkit/training/threads.py)."""
    one = _train_and_hash(lambda step: 1)
    assert _train_and_hash(lambda step: 2) == one
    assert _train_and_hash(lambda step: 2 if step < 2 else 1) == one


def test_the_trainer_runs_on_the_requested_threads_and_gives_the_count_back():
    from rnnkit.training import TrainConfig, Trainer
    from tests.training.training_helpers import Regressor, SeqDataset, mse_step

    torch.set_num_threads(2)
    seen = []
    trainer = Trainer(
        Regressor(),
        TrainConfig(max_steps=3, batch_size=8, threads=1, progress=False),
        step_fn=mse_step,
        callbacks=[lambda t: seen.append(torch.get_num_threads())],
    )
    trainer.fit(SeqDataset())
    assert seen == [1, 1, 1] and torch.get_num_threads() == 2


def test_a_collapse_in_throughput_is_reported_once_with_its_cause(monkeypatch):
    import time

    from rnnkit.training import TrainConfig, Trainer
    from rnnkit.training import trainer as trainer_module
    from tests.training.training_helpers import Regressor, SeqDataset, mse_step

    machine = FakeMachine(others=1.0)
    monkeypatch.setattr(th, "read_cpu_times", machine)  # other programs keep one of the two cores busy
    monkeypatch.setattr(trainer_module, "WATCH_MIN_SECONDS", 0.0)  # rows of a few milliseconds count here

    def step(model, batch):  # fast for 8 updates, then 20x slower
        calls.append(1)
        if len(calls) > 8:
            time.sleep(0.02)
        return mse_step(model, batch)

    calls = []
    trainer = Trainer(Regressor(), TrainConfig(max_steps=16, batch_size=8, log_every=2, progress=False), step_fn=step)
    with pytest.warns(RuntimeWarning, match=r"under half of the .* it reached earlier") as caught:
        trainer.fit(SeqDataset(n=64))
    slow = [str(w.message) for w in caught if "under half" in str(w.message)]
    assert len(slow) == 1 and "other programs are using about 1.0 of the 2 CPU cores" in slow[0]
    assert trainer.governor.threads == 1  # and the team shrank to the free core
