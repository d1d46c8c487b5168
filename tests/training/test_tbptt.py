import pytest
import torch

from rnnkit.training import StreamDataset, TrainConfig, Trainer, WindowedTBPTT, detach_state, reset_state
from tests.training.training_helpers import TinyLM, lm_chunk_step, token_stream


def _full_loss(model, tokens):
    x, y = tokens[:, :-1], tokens[:, 1:]
    return lm_chunk_step(model, (x, y, None), None)


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


def test_k_equal_to_length_gives_full_bptt_gradients():
    tokens = token_stream(rows=3, length=13)
    model = TinyLM()
    loss, _ = _full_loss(model, tokens)
    loss.backward()
    want = _grads(model)
    model.zero_grad()
    stream = StreamDataset(tokens, bptt=12)
    stream.begin_epoch()
    (chunk,) = list(stream.iter_from(0))
    runner = WindowedTBPTT()
    runner.run(lm_chunk_step, model, chunk, chunk[2]).backward()
    for g, w in zip(_grads(model), want):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_carried_state_equals_full_forward_and_no_gradient_crosses_a_boundary():
    torch.manual_seed(1)
    tokens = token_stream(rows=3, length=13)  # 12 steps -> chunks of 4
    model = TinyLM()
    x_all = tokens[:, :-1]
    # states a full forward pass reaches after 4 and 8 steps
    with torch.no_grad():
        _, s4 = model(x_all[:, :4])
        _, s8 = model(x_all[:, :8])
    stream = StreamDataset(tokens, bptt=4)
    stream.begin_epoch()
    chunks = list(stream.iter_from(0))
    assert [c[0].shape[1] for c in chunks] == [4, 4, 4]
    assert chunks[0][2].all() and not chunks[1][2].any()
    runner = WindowedTBPTT()
    carried_into = []
    for chunk in chunks:
        carried_into.append(runner.carried_state)
        loss = runner.run(lm_chunk_step, model, chunk, chunk[2])
        model.zero_grad()
        loss.backward()
        got = _grads(model)
        # the same gradient from the carried state as a constant: nothing flows into earlier chunks
        model.zero_grad()
        start = None if runner.carried_state is None else detach_state(runner.carried_state)
        lm_chunk_step(model, chunk, start)[0].backward()
        for g, w in zip(got, _grads(model)):
            torch.testing.assert_close(g, w, rtol=0, atol=0)
        runner.end_update()
    assert carried_into[0] is None
    for got, want in zip(carried_into[1:], (s4, s8)):
        for a, b in zip(got, want):
            assert a.grad_fn is None and not a.requires_grad  # graph cut
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # values carried


def test_no_gradient_reaches_inputs_of_an_earlier_chunk():
    model = TinyLM()
    x = torch.randn(2, 8, 8, requires_grad=True)  # embedded inputs, bypassing the embedding

    def step(m, chunk, state):
        xe, _, _ = chunk
        h, state = m.rnn(xe, state)
        return h.pow(2).mean(), state

    runner = WindowedTBPTT()
    for j in range(2):
        chunk = (x[:, 4 * j : 4 * j + 4], None, torch.zeros(2, dtype=torch.bool))
        loss = runner.run(step, model, chunk, chunk[2])
        if j == 1:
            (gx,) = torch.autograd.grad(loss, x)
        runner.end_update()
    assert torch.count_nonzero(gx[:, :4]) == 0 and torch.count_nonzero(gx[:, 4:]) > 0


def test_window_k1_lets_gradient_flow_back_k1_steps():
    model = TinyLM()
    x = torch.randn(2, 12, 8, requires_grad=True)

    def step(m, chunk, state):
        h, state = m.rnn(chunk[0], state)
        return h[:, -1].pow(2).sum(), state

    runner = WindowedTBPTT(window=2)
    grads = []
    for j in range(3):
        chunk = (x[:, 4 * j : 4 * j + 4], None, None)
        loss = runner.run(step, model, chunk, None)
        grads.append(torch.autograd.grad(loss, x)[0])
        runner.end_update()
    # update 2 (chunk 2) reaches back over chunks 1 and 2 (8 steps), not chunk 0
    assert torch.count_nonzero(grads[2][:, :4]) == 0 and torch.count_nonzero(grads[2][:, 4:8]) > 0
    # and equals full BPTT over steps 4..12 from the state after step 4
    with torch.no_grad():
        _, s4 = model.rnn(x[:, :4])
    xx = x.detach().clone().requires_grad_(True)
    h, _ = model.rnn(xx[:, 4:], s4)
    (want,) = torch.autograd.grad(h[:, -1].pow(2).sum(), xx)
    torch.testing.assert_close(grads[2], want, rtol=1e-5, atol=1e-7)


def test_reset_state_zeroes_flagged_rows_only():
    h = torch.ones(2, 3, 4)
    c = torch.full((2, 3, 4), 2.0)
    out = reset_state((h, c), torch.tensor([False, True, False]))
    assert out[0][:, 1].eq(0).all() and out[1][:, 1].eq(0).all()
    assert out[0][:, [0, 2]].eq(1).all() and out[1][:, [0, 2]].eq(2).all()
    nan = torch.full((1, 2, 3), float("nan"))
    assert reset_state(nan, torch.tensor([True, False]))[:, 0].eq(0).all()  # NaN rows cleared too
    with pytest.raises(ValueError, match="batch dim"):
        reset_state(h, torch.tensor([True, False]))
    with pytest.raises(TypeError, match="bool"):
        reset_state(h, torch.tensor([1, 0, 1]))


def test_from_sequences_never_carries_state_across_sequences():
    seqs = [torch.arange(10 * i, 10 * i + n) for i, n in enumerate([5, 9, 3, 7, 11])]
    stream = StreamDataset.from_sequences(seqs, batch_size=2, bptt=4, shuffle=True, seed=3)
    stream.begin_epoch()
    starts = {int(s[0]) for s in seqs}
    n_starts = 0
    for x, y, reset in stream.iter_from(0):
        for b in range(2):
            if int(x[b, 0]) in starts and y[b, 0] != -100:
                assert reset[b], "a sequence starts at this chunk without a reset"
                n_starts += 1
            # within a chunk, tokens of one row belong to one sequence (its tens digit) or padding
            real = x[b][y[b] != -100]
            assert len(set((real // 10).tolist())) <= 1
    assert n_starts == 5
    order1 = stream.x.clone()
    stream.begin_epoch()
    assert not torch.equal(order1, stream.x)  # reshuffled each epoch


def test_trainer_tbptt_resets_state_at_epoch_start():
    seen = []

    def step(m, chunk, state):
        seen.append((chunk[2].clone(), state is None or bool(all(s.abs().sum() == 0 for s in state))))
        return lm_chunk_step(m, chunk, state)

    Trainer(TinyLM(), TrainConfig(max_steps=6, bptt=4, log_every=100), step_fn=step).fit(
        StreamDataset(token_stream(rows=2, length=13))
    )
    assert [bool(r.all()) for r, _ in seen] == [True, False, False] * 2
    assert [zero for _, zero in seen] == [True, False, False] * 2


def test_trainer_rejects_tbptt_without_a_stream():
    from tests.training.training_helpers import Regressor, SeqDataset, mse_step

    with pytest.raises(ValueError, match="StreamDataset"):
        Trainer(Regressor(), TrainConfig(bptt=3), step_fn=mse_step).fit(SeqDataset())


def _windowed_run(out, max_steps, resume, step_fn=lm_chunk_step, accelerator="auto"):
    torch.manual_seed(0)
    cfg = TrainConfig(
        max_steps=max_steps,
        bptt=4,
        bptt_window=12,
        checkpoint_every=3,
        out_dir=str(out),
        resume=resume,
        log_every=100,
        progress=False,
        accelerator=accelerator,
    )
    trainer = Trainer(TinyLM(), cfg, step_fn=step_fn)
    return trainer.fit(StreamDataset(token_stream(rows=2, length=41)))


def test_resumed_window_chunks_go_through_the_device_transfer(tmp_path, monkeypatch):
    """Resuming TBPTT(k1=3k, k) re-reads the 2 previous chunks; they must be moved to the device too."""
    import rnnkit.training.trainer as trainer_module

    _windowed_run(tmp_path, 3, resume=False)  # a checkpoint at step 3, in the middle of the epoch
    moved = set()
    real = trainer_module.to_device

    def spy(item, device):  # a stand-in transfer: copies, and remembers what it produced
        out = real(item, device)
        out = tuple(t.clone() for t in out) if isinstance(out, tuple) else out
        for t in out if isinstance(out, tuple) else (out,):
            if isinstance(t, torch.Tensor):
                moved.add(id(t))
        return out

    seen = []

    def step(model, chunk, state):
        seen.append(all(id(t) in moved for t in chunk))
        return lm_chunk_step(model, chunk, state)

    monkeypatch.setattr(trainer_module, "to_device", spy)
    _windowed_run(tmp_path, 5, resume=True, step_fn=step)
    assert len(seen) == 2 * 3  # two updates, each re-running 2 kept chunks and the new one
    assert all(seen), seen


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resume_windowed_tbptt_on_cuda(tmp_path):
    _windowed_run(tmp_path, 3, resume=False, accelerator="cuda")
    trainer = _windowed_run(tmp_path, 6, resume=True, accelerator="cuda")
    assert trainer.step == 6 and all(s.is_cuda for s in trainer.tbptt.start_state)
