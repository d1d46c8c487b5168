"""rnnkit layers against torch.nn with copied weights: outputs, final states and every gradient.

Grid: {RNN tanh, RNN relu, LSTM, LSTM+proj, GRU} x {1, 2 layers} x {uni, bi} x {batch_first}
x {equal lengths, ragged via ``lengths``, ragged via PackedSequence} x {fused, loop engine}.
"""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .reference import INPUT_SIZE, KINDS, as_tuple, initial_state, make_pair

T, B = 6, 3
RAGGED = [6, 2, 4]  # unsorted on purpose
TOL = dict(atol=1e-5, rtol=1e-5)

GRID = list(
    itertools.product(KINDS, [1, 2], [False, True], [False, True], ["equal", "lengths", "packed"], ["fused", "loop"])
)


def _ids(p):
    kind, layers, bi, bf, mode, engine = p
    return f"{kind}-L{layers}-{'bi' if bi else 'uni'}-{'bf' if bf else 'tf'}-{mode}-{engine}"


def _run_reference(reference, x, h0, lengths, batch_first, mode):
    """What a torch.nn user writes for each input mode; returns padded output and final state."""
    if mode == "equal":
        return reference(x, h0)
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    out, hn = reference(packed, h0)
    out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return out, hn


def _run_ours(ours, x, h0, lengths, batch_first, mode):
    if mode == "equal":
        return ours(x, h0)
    if mode == "lengths":
        return ours(x, h0, lengths=lengths)
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    out, hn = ours(packed, h0)
    assert isinstance(out, torch.nn.utils.rnn.PackedSequence)
    # same packing as torch's output, element for element
    ref_like = pack_padded_sequence(
        torch.zeros_like(x), torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
    )
    assert torch.equal(out.batch_sizes, ref_like.batch_sizes)
    assert torch.equal(out.sorted_indices, ref_like.sorted_indices)
    out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return out, hn


@pytest.mark.parametrize("case", GRID, ids=[_ids(p) for p in GRID])
def test_parity_with_torch_nn(case):
    kind, num_layers, bidirectional, batch_first, mode, engine = case
    ours, reference = make_pair(kind, num_layers, bidirectional, batch_first, engine=engine)
    shape = (B, T, INPUT_SIZE) if batch_first else (T, B, INPUT_SIZE)
    x = torch.randn(*shape, requires_grad=True)
    h0 = initial_state(kind, ours, B)
    lengths = RAGGED if mode != "equal" else None

    out_ref, hn_ref = _run_reference(reference, x, h0, lengths, batch_first, mode)
    out, hn = _run_ours(ours, x, h0, lengths, batch_first, mode)

    torch.testing.assert_close(out, out_ref, **TOL)
    for a, b in zip(as_tuple(hn), as_tuple(hn_ref)):
        torch.testing.assert_close(a, b, **TOL)

    # gradients w.r.t. input, initial state and every parameter, from a loss touching everything
    weights = [torch.randn_like(t) for t in (out, *as_tuple(hn))]

    def loss_of(o, h):
        return sum((w * t).sum() for w, t in zip(weights, (o, *as_tuple(h))))

    inputs = [x, *as_tuple(h0)]
    g_ref = torch.autograd.grad(loss_of(out_ref, hn_ref), inputs + list(reference.parameters()))
    g_ours = torch.autograd.grad(loss_of(out, hn), inputs + list(ours.parameters()))
    names = ["input"] + [f"state[{i}]" for i in range(len(as_tuple(h0)))] + [n for n, _ in ours.named_parameters()]
    for name, a, b in zip(names, g_ours, g_ref):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")


@pytest.mark.parametrize("kind", list(KINDS))
def test_padding_outputs_are_zero_and_state_is_at_true_end(kind):
    ours, _ = make_pair(kind, 1, True, True, engine="loop")
    x = torch.randn(B, T, INPUT_SIZE)
    out, hn = ours(x, lengths=RAGGED)
    for b, n in enumerate(RAGGED):
        assert torch.count_nonzero(out[b, n:]) == 0
        # the same sequence alone, unpadded, gives the same outputs and final state
        alone, hn_alone = ours(x[b : b + 1, :n])
        torch.testing.assert_close(out[b : b + 1, :n], alone, **TOL)
        for a, c in zip(as_tuple(hn), as_tuple(hn_alone)):
            torch.testing.assert_close(a[:, b : b + 1], c, **TOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_lengths_as_tensor_and_full_lengths(kind):
    ours, reference = make_pair(kind, 2, True, False, engine="loop")
    x = torch.randn(T, B, INPUT_SIZE)
    a, _ = ours(x, lengths=torch.tensor(RAGGED, dtype=torch.int32))
    b, _ = ours(x, lengths=RAGGED)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    full, _ = ours(x, lengths=[T] * B)  # all full: same as no lengths, as torch.nn
    torch.testing.assert_close(full, reference(x)[0], **TOL)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("engine", ["fused", "loop"])
def test_unbatched_input(kind, engine):
    ours, reference = make_pair(kind, 2, True, False, engine=engine)
    x = torch.randn(T, INPUT_SIZE)
    out, hn = ours(x)
    out_ref, hn_ref = reference(x)
    torch.testing.assert_close(out, out_ref, **TOL)
    for a, b in zip(as_tuple(hn), as_tuple(hn_ref)):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_loop_engine_equals_fused_engine_in_double(kind):
    fused, _ = make_pair(kind, 2, True, True, engine="fused", dtype=torch.float64)
    loop, _ = make_pair(kind, 2, True, True, engine="loop", dtype=torch.float64)
    loop.load_state_dict(fused.state_dict())
    x = torch.randn(B, T, INPUT_SIZE, dtype=torch.float64)
    for lengths in (None, RAGGED):
        a, ha = fused(x, lengths=lengths)
        b, hb = loop(x, lengths=lengths)
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)
        for u, v in zip(as_tuple(ha), as_tuple(hb)):
            torch.testing.assert_close(u, v, atol=1e-12, rtol=1e-12)


def test_dropout_between_layers_only_in_training():
    layer, reference = make_pair("lstm", 3, False, False, engine="loop", dropout=0.5)
    x = torch.randn(T, B, INPUT_SIZE)
    layer.eval()
    reference.eval()
    torch.testing.assert_close(layer(x)[0], reference(x)[0], **TOL)
    layer.train()
    a, b = layer(x)[0], layer(x)[0]
    assert not torch.allclose(a, b), "dropout in training mode must make two runs differ"
    with pytest.warns(UserWarning, match=r"dropout=0.5 has no effect with num_layers=1"):
        single, _ = make_pair("lstm", 1, False, False, engine="loop", dropout=0.5)
    single.train()
    torch.testing.assert_close(single(x)[0], single(x)[0])  # no dropout after the last layer


def test_auto_engine_picks_fused_for_stock_and_loop_for_custom():
    from rnnkit.layers.engines import select_engine
    from rnnkit.layers.sequences import SequenceBatch

    layer, _ = make_pair("lstm", 1)  # (a CPU GRU takes the faster gru engine: test_gru_engine.py)
    batch = SequenceBatch(torch.randn(T, B, INPUT_SIZE), False, None)
    assert select_engine(layer, batch, "auto").name == "fused"

    class TwiceElman(__import__("rnnkit").ElmanCell):
        def recur(self, projected_x, state, w):
            h, _ = super().recur(projected_x, state, w)
            return 2 * h, 2 * h

    import rnnkit

    custom = rnnkit.Recurrent(TwiceElman, INPUT_SIZE, 5)
    assert select_engine(custom, batch, "auto").name == "fast"  # the loop, one dW GEMM (test_fast_engine.py)
    with pytest.raises(ValueError, match=r"engine='fused' cannot run this layer: .*TwiceElman"):
        rnnkit.Recurrent(TwiceElman, INPUT_SIZE, 5, engine="fused")(torch.randn(T, B, INPUT_SIZE))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_single_step_path_matches_torch(kind, num_layers, bidirectional, batch_first):
    """One time step (streaming, generation) takes the cell-kernel path; same values and gradients."""
    ours, reference = make_pair(kind, num_layers, bidirectional, batch_first, engine="fused")
    x = torch.randn(*((B, 1, INPUT_SIZE) if batch_first else (1, B, INPUT_SIZE)), requires_grad=True)
    h0 = initial_state(kind, ours, B)
    out, hn = ours(x, h0)
    out_ref, hn_ref = reference(x, h0)
    torch.testing.assert_close(out, out_ref, **TOL)
    for a, b in zip(as_tuple(hn), as_tuple(hn_ref)):
        torch.testing.assert_close(a, b, **TOL)
    loss = out.square().sum() + sum(t.square().sum() for t in as_tuple(hn))
    loss_ref = out_ref.square().sum() + sum(t.square().sum() for t in as_tuple(hn_ref))
    inputs = [x, *as_tuple(h0)]
    for a, b in zip(
        torch.autograd.grad(loss, inputs + list(ours.parameters())),
        torch.autograd.grad(loss_ref, inputs + list(reference.parameters())),
    ):
        torch.testing.assert_close(a, b, **TOL)


def test_single_step_path_is_taken(monkeypatch):
    """A one-step CPU input runs the one time loop with torch's fused cell kernel, not oneDNN's
    sequence kernel (a fixed ~3 ms per call); a sequence goes to the sequence kernel."""
    from rnnkit.layers.engines import fused, loop

    loops, sequence, cell = [], [], []
    real_loop, real_sequence, real_cell = loop.run_layers, fused._KERNELS["LSTM"], torch._VF.lstm_cell
    monkeypatch.setattr(loop, "run_layers", lambda *a: loops.append(1) or real_loop(*a))
    monkeypatch.setitem(fused._KERNELS, "LSTM", lambda *a: sequence.append(1) or real_sequence(*a))
    monkeypatch.setattr(torch._VF, "lstm_cell", lambda *a: cell.append(1) or real_cell(*a))
    layer, _ = make_pair("lstm", 2)
    layer(torch.randn(1, 2, INPUT_SIZE))
    assert (loops, sequence, cell) == ([1], [], [1, 1])  # one fused cell step per layer
    layer(torch.randn(3, 2, INPUT_SIZE))  # a sequence goes to the sequence kernel
    assert (loops, sequence, cell) == ([1], [1], [1, 1])
