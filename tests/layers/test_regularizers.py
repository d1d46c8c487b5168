"""Recurrent regularisers: masks drawn once per sequence, evaluation deterministic, weight drop on
the fused kernel equal to a reference with the same mask, zoneout from its equation, exact resume."""

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from rnnkit import Recurrent
from rnnkit.cells import RecurrentCell
from rnnkit.layers.engines import ENGINES, select_engine
from rnnkit.layers.regularizers import Regularizers, drop_weights
from rnnkit.layers.sequences import SequenceBatch
from rnnkit.training.checkpoint import capture_rng, restore_rng

I, H, B, T = 4, 6, 5, 7


class Accumulator(RecurrentCell):
    """``h_t = h_{t-1} + x_t`` (I == H), recording what it is handed: a probe for the masks."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.weight_hh = nn.Parameter(torch.ones(hidden_size))  # unused: gives weight drop a target
        self.seen_inputs, self.seen_states = [], []

    def project_input(self, x, w):
        if x.shape[-2] == B:  # not a one-row probe (the fast engine tries a cell once)
            self.seen_inputs.append(x)
        return x

    def recur(self, projected_x, state, w):
        if state.shape[0] == B:
            self.seen_states.append(state)
        h = state + projected_x
        return h, h


def _accumulator_layer(**regs):
    layer = Recurrent(Accumulator, H, H, **regs)
    return layer, layer.cell_grid()[0][0]


def test_input_mask_is_one_per_sequence_and_unit():
    layer, cell = _accumulator_layer(input_dropout=0.5)
    torch.manual_seed(0)
    layer(torch.ones(T, B, H))
    (seen,) = cell.seen_inputs  # all time steps projected at once, with one mask
    assert seen.shape == (T, B, H)
    assert torch.equal(seen, seen[:1].expand_as(seen))  # the same mask at every step
    assert set(seen.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1/(1-p)
    assert not torch.equal(seen[:, 0], seen[:, 1])  # one mask per sequence (B differs)


def test_recurrent_mask_is_one_per_sequence_and_leaves_eval_alone():
    layer, cell = _accumulator_layer(recurrent_dropout=0.5)
    torch.manual_seed(0)
    h0 = torch.rand(1, B, H) + 1.0
    x = torch.rand(T, B, H) + 1.0
    out, _ = layer(x, h0)
    prev = torch.cat([h0, out[:-1]])  # h_{t-1} as the layer computed it
    ratios = torch.stack(cell.seen_states) / prev  # the mask at each step
    assert set(ratios.unique().tolist()) <= {0.0, 2.0} and len(ratios.unique()) == 2
    assert torch.equal(ratios, ratios[:1].expand_as(ratios))
    layer.eval()
    cell.seen_states.clear()
    out, _ = layer(x, h0)
    torch.testing.assert_close(out, h0 + x.cumsum(0))


def test_zoneout_keeps_each_unit_with_probability_p_per_step():
    layer, _ = _accumulator_layer(zoneout=0.3)
    torch.manual_seed(0)
    steps = 400
    out, h = layer(torch.ones(steps, B, H))
    increments = torch.diff(torch.cat([torch.zeros(1, B, H), out]), dim=0)  # 0 (zoned out) or 1
    assert set(increments.unique().tolist()) == {0.0, 1.0}
    kept = float((increments == 0).float().mean())
    assert abs(kept - 0.3) < 0.02
    torch.testing.assert_close(h[0], out[-1])  # the output is the zoned state


def test_zoneout_in_eval_is_the_expectation():
    """s_t = p s_{t-1} + (1-p) s~_t on every state tensor, written out for an LSTM."""
    p = 0.25
    layer = rnnkit.LSTM(I, H, zoneout=p).eval()
    ref = nn.LSTMCell(I, H)
    ref.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = torch.randn(T, B, I)
    h, c = torch.zeros(B, H), torch.zeros(B, H)
    outs = []
    for t in range(T):
        h_new, c_new = ref(x[t], (h, c))
        h, c = p * h + (1 - p) * h_new, p * c + (1 - p) * c_new
        outs.append(h)
    out, (h_last, c_last) = layer(x)
    torch.testing.assert_close(out, torch.stack(outs))
    torch.testing.assert_close(c_last[0], c)
    again, _ = layer(x)
    assert torch.equal(out, again)  # deterministic


@pytest.mark.parametrize("regs", [{"input_dropout": 0.3}, {"recurrent_dropout": 0.3}, {"weight_drop": 0.3}])
def test_eval_mode_is_the_plain_layer(regs):
    plain = rnnkit.LSTM(I, H, 2)
    layer = rnnkit.LSTM(I, H, 2, **regs)
    layer.load_state_dict(plain.state_dict())
    layer.eval(), plain.eval()
    x = torch.randn(T, B, I)
    torch.testing.assert_close(layer(x)[0], plain(x)[0], rtol=0, atol=0)


def test_weight_drop_runs_the_fused_engine():
    layer = rnnkit.LSTM(I, H, 2, weight_drop=0.5)
    x = torch.randn(T, B, I)
    plan = drop_weights(layer.cell_grid(), layer.weight_plan(), 0.5)
    assert select_engine(layer, SequenceBatch(x, False, None), "auto", plan) is ENGINES["fused"]
    calls = []
    fused_run = ENGINES["fused"].run
    try:
        ENGINES["fused"].run = lambda *a: calls.append(1) or fused_run(*a)
        layer(x)
    finally:
        ENGINES["fused"].run = fused_run
    assert calls == [1]


@pytest.mark.parametrize("engine", ["auto", "loop"])
def test_weight_drop_equals_torch_lstm_with_the_same_mask(engine):
    """One DropConnect mask per forward on each weight_hh (layer order), scaled by 1/(1-p): the fused
    engine and the loop engine both equal torch.nn.LSTM run with those weights (values and grads)."""
    p = 0.4
    layer = rnnkit.LSTM(I, H, 2, weight_drop=p, engine=engine)
    ref = nn.LSTM(I, H, 2)
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(T, B, I)
    torch.manual_seed(3)
    out, _ = layer(x)
    torch.manual_seed(3)
    params = dict(ref.named_parameters())
    for k in range(2):
        params[f"weight_hh_l{k}"] = F.dropout(params[f"weight_hh_l{k}"], p, training=True)
    out_ref, _ = torch.func.functional_call(ref, params, (x,))
    torch.testing.assert_close(out, out_ref)
    g = torch.randn_like(out)
    grads = torch.autograd.grad((out * g).sum(), list(layer.parameters()))
    grads_ref = torch.autograd.grad((out_ref * g).sum(), list(ref.parameters()))
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b)


def test_masks_are_drawn_once_per_forward_from_the_saved_generator():
    """The same RNG state (what a checkpoint saves) gives the same masks; the next forward new ones."""
    layer = rnnkit.LSTM(I, H, 2, input_dropout=0.2, recurrent_dropout=0.2, weight_drop=0.3, zoneout=0.1)
    x = torch.randn(T, B, I)
    torch.manual_seed(0)
    saved = capture_rng()
    first, _ = layer(x)
    second, _ = layer(x)
    assert not torch.equal(first, second)
    restore_rng(saved)
    assert torch.equal(layer(x)[0], first)


def test_trainer_resume_is_exact_with_every_regulariser(tmp_path):
    from rnnkit.training import StreamDataset, TrainConfig, Trainer
    from tests.training.training_helpers import TinyLM, lm_chunk_step, token_stream

    def model():
        torch.manual_seed(0)
        m = TinyLM()
        m.rnn = rnnkit.LSTM(
            8, 12, batch_first=True, input_dropout=0.2, recurrent_dropout=0.2, weight_drop=0.3, zoneout=0.1
        )
        return m

    def fit(out, steps, resume):
        m = model()
        cfg = TrainConfig(
            max_steps=steps, bptt=5, out_dir=str(out), checkpoint_every=3, resume=resume, seed=1, threads=1, lr=1e-2
        )
        trainer = Trainer(m, cfg, step_fn=lm_chunk_step)
        trainer.fit(StreamDataset(token_stream(rows=3, length=41), bptt=5))
        return m, trainer

    straight, _ = fit(tmp_path / "a", 6, False)
    fit(tmp_path / "b", 3, False)
    resumed, trainer = fit(tmp_path / "b", 6, True)
    assert trainer.resumed_at["step"] == 3
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_regularisers_with_lengths_hold_the_state_past_each_end():
    layer = Recurrent(functools.partial(rnnkit.cells.GRUCell), I, H, zoneout=0.3, batch_first=True).eval()
    x = torch.randn(2, T, I)
    out, h = layer(x, lengths=[T, 3])
    alone, h_alone = layer(x[1:, :3])
    torch.testing.assert_close(out[1, :3], alone[0])
    assert torch.equal(out[1, 3:], torch.zeros_like(out[1, 3:]))
    torch.testing.assert_close(h[:, 1], h_alone[:, 0])


def test_bad_values_and_impossible_combinations_are_named():
    with pytest.raises(ValueError, match="weight_drop"):
        rnnkit.LSTM(I, H, weight_drop=1.0)
    with pytest.raises(ValueError, match="zoneout"):
        rnnkit.GRU(I, H, zoneout=-0.1)
    with pytest.raises(TypeError, match="recurrent_dropout"):
        rnnkit.RNN(I, H, recurrent_dropout="0.2")
    with pytest.raises(ValueError, match="MinGRUCell has none"):
        Recurrent(rnnkit.MinGRUCell, I, H, weight_drop=0.5)
    layer = rnnkit.LSTM(I, H, zoneout=0.1, engine="fused")
    with pytest.raises(ValueError, match="engine='fused' cannot run zoneout=0.1"):
        layer(torch.randn(T, B, I))


def test_defaults_are_torch_nn():
    layer = rnnkit.LSTM(I, H)
    assert not layer.regularizers and layer.regularizers == Regularizers()
    assert "dropout" not in repr(layer)


@pytest.mark.parametrize("name", ["layernorm-lstm", "peephole-lstm", "indrnn", "mingru"])
def test_every_cell_takes_the_step_regularisers(name):
    from rnnkit.layers import recurrent_layer

    layer = recurrent_layer(name, I, H, 2, input_dropout=0.2, recurrent_dropout=0.2, zoneout=0.1)
    out, _ = layer(torch.randn(B, T, I))
    out.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


@pytest.mark.parametrize("cell", ["lstm", "layernorm-lstm", "gru"])
def test_masked_steps_on_the_fast_direction_equal_the_loop(cell):
    """engine='auto' runs the masked cells with one weight-gradient GEMM per sequence; the same masks
    on engine='loop' give the same values and gradients (to rounding)."""
    from rnnkit.layers import recurrent_layer
    from rnnkit.layers.engines.fast import run_fast_direction
    from rnnkit.layers.regularizers import masked_direction

    regs = {"input_dropout": 0.2, "recurrent_dropout": 0.3, "zoneout": 0.1, "weight_drop": 0.2}
    fast = recurrent_layer(cell, I, H, 2, bidirectional=True, **regs)
    loop = recurrent_layer(cell, I, H, 2, bidirectional=True, engine="loop", **regs)
    loop.load_state_dict(fast.state_dict())
    x = torch.randn(B, T, I)
    assert masked_direction(fast, fast.weight_plan(), x) is run_fast_direction
    assert masked_direction(loop, loop.weight_plan(), x) is None
    results = []
    for layer in (fast, loop):
        torch.manual_seed(5)
        out, _ = layer(x, lengths=[T, 3, 5, T, 1])
        g = torch.autograd.grad(out.square().sum(), list(layer.parameters()))
        results.append((out, g))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b)
