"""Attention against loops written from the papers' equations; masks, padding, Q queries, gradcheck."""

import math

import pytest
import torch
from torch.func import functional_call

from rnnkit._checks import InvalidTypeError, InvalidValueError
from rnnkit.layers import ATTENTION_KINDS, Attention, AttentionalHidden

HQ, HM = 5, 4  # query and memory sizes ("dot" needs them equal: it uses HM for both)


def make(kind, seed=0, attention_size=None):
    torch.manual_seed(seed)
    hq = HM if kind == "dot" else HQ
    return Attention(kind, hq, HM, attention_size=attention_size).double(), hq


def inputs(hq, B=3, Q=2, S=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(B, Q, hq, generator=g, dtype=torch.float64)
    memory = torch.randn(B, S, HM, generator=g, dtype=torch.float64)
    lengths = [S, 1, S - 2][:B]
    mask = torch.arange(S).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return query, memory, mask


def score(kind, p, q, h):
    """One score e(q, h) for vectors (Python lists), written from the paper's equation; ``p`` holds
    the parameters as lists."""
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))
    if kind == "bahdanau":  # v_a^T tanh(W_a s_{i-1} + U_a h_j)
        W, U, v = p["w_a.weight"], p["u_a.weight"], p["v_a.weight"][0]
        return sum(v[a] * math.tanh(dot(W[a], q) + dot(U[a], h)) for a in range(len(v)))
    if kind == "dot":  # h_t^T h_s
        return dot(q, h)
    W = p["w_a.weight"]  # h_t^T W_a h_s
    return sum(q[i] * W[i][j] * h[j] for i in range(len(q)) for j in range(len(h)))


@torch.no_grad()
def reference(attn, query, memory, mask):
    """Plain loops: scores over the real positions, a softmax by hand, the weighted sum."""
    B, Q, _ = query.shape
    S = memory.shape[1]
    context = torch.zeros(B, Q, HM, dtype=torch.float64)
    weights = torch.zeros(B, Q, S, dtype=torch.float64)
    p = {name: value.tolist() for name, value in attn.named_parameters()}
    for b in range(B):
        real = [s for s in range(S) if mask[b, s]]
        for t in range(Q):
            e = {s: score(attn.kind, p, query[b, t].tolist(), memory[b, s].tolist()) for s in real}
            top = max(e.values())
            z = sum(math.exp(v - top) for v in e.values())
            for s in real:
                weights[b, t, s] = math.exp(e[s] - top) / z
                context[b, t] += weights[b, t, s] * memory[b, s]
    return context, weights


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_each_kind_equals_the_equation(kind):
    attn, hq = make(kind, attention_size=3 if kind == "bahdanau" else None)
    query, memory, mask = inputs(hq)
    context, weights = attn(query, memory, mask)
    ref_context, ref_weights = reference(attn, query, memory, mask)
    torch.testing.assert_close(weights, ref_weights, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(context, ref_context, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_padded_positions_get_exactly_zero_weight_and_gradient(kind):
    attn, hq = make(kind)
    query, memory, mask = inputs(hq)
    memory.requires_grad_()
    keys = attn.precompute(memory)
    context, weights = attn(query, memory, mask, keys=keys)
    assert torch.all(weights[~mask.unsqueeze(1).expand_as(weights)] == 0)
    assert torch.all(weights[mask.unsqueeze(1).expand_as(weights)] > 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, dtype=torch.float64), rtol=0, atol=1e-15)
    assert weights[1, :, 0].eq(1).all()  # one real position takes all the weight
    (context.sum() + weights.pow(2).sum()).backward()
    assert torch.all(memory.grad[~mask] == 0)
    assert memory.grad[mask].abs().sum() > 0


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_extra_padding_with_garbage_changes_nothing(kind):
    attn, hq = make(kind)
    query, memory, mask = inputs(hq)
    garbage = 1e6 * torch.randn(3, 5, HM, dtype=torch.float64)
    padded = torch.cat([memory, garbage], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(3, 5, dtype=torch.bool)], dim=1)
    context, weights = attn(query, memory, mask)
    context2, weights2 = attn(query, padded, padded_mask)
    torch.testing.assert_close(context2, context, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(weights2[..., :6], weights, rtol=1e-14, atol=1e-14)
    assert torch.all(weights2[..., 6:] == 0)
    # garbage in the positions the mask already hides changes nothing either
    hidden = torch.where(mask.unsqueeze(-1), memory, 1e6 * torch.randn_like(memory))
    context3, weights3 = attn(query, hidden, mask)
    torch.testing.assert_close(context3, context, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(weights3, weights, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_q_queries_equal_q_separate_calls_and_2d_shapes(kind):
    attn, hq = make(kind)
    query, memory, mask = inputs(hq, Q=4)
    context, weights = attn(query, memory, mask)
    assert context.shape == (3, 4, HM) and weights.shape == (3, 4, 6)
    for t in range(4):
        c, w = attn(query[:, t], memory, mask)
        assert c.shape == (3, HM) and w.shape == (3, 6)
        torch.testing.assert_close(c, context[:, t], rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(w, weights[:, t], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_precomputed_keys_equal_computing_them_and_mask_none_means_all_real(kind):
    attn, hq = make(kind, attention_size=7 if kind == "bahdanau" else None)
    query, memory, mask = inputs(hq)
    keys = attn.precompute(memory)
    assert keys.shape == ((3, 6, 7) if kind == "bahdanau" else memory.shape)
    if kind != "bahdanau":
        assert keys is memory
    for a, b in zip(attn(query, memory, mask, keys=keys), attn(query, memory, mask)):
        assert torch.equal(a, b)
    full = torch.ones(3, 6, dtype=torch.bool)
    for a, b in zip(attn(query, memory), attn(query, memory, full)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_gradcheck(kind):
    attn, hq = make(kind, attention_size=3 if kind == "bahdanau" else None)
    query, memory, mask = inputs(hq, B=2, Q=2, S=4)
    assert torch.autograd.gradcheck(
        lambda q, m: attn(q, m, mask), (query.requires_grad_(), memory.requires_grad_()), eps=1e-6, atol=1e-6
    )
    names = [n for n, _ in attn.named_parameters()]
    if names:
        params = tuple(p.detach().clone().requires_grad_() for p in attn.parameters())
        fn = lambda *ps: functional_call(attn, dict(zip(names, ps)), (query.detach(), memory.detach(), mask))
        assert torch.autograd.gradcheck(fn, params, eps=1e-6, atol=1e-6, fast_mode=True)


def test_attentional_hidden_is_tanh_of_w_c_on_the_concatenation():
    torch.manual_seed(0)
    layer = AttentionalHidden(HM, HQ, 3).double()
    context, hidden = torch.randn(2, 4, HM, dtype=torch.float64), torch.randn(2, 4, HQ, dtype=torch.float64)
    out = layer(context, hidden)
    W = layer.w_c.weight.detach()
    for b in range(2):
        for t in range(4):
            x = list(context[b, t]) + list(hidden[b, t])
            expected = [math.tanh(sum(float(W[o, i]) * float(x[i]) for i in range(HM + HQ))) for o in range(3)]
            torch.testing.assert_close(out[b, t], torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    assert layer(context[:, 0], hidden[:, 0]).shape == (2, 3)
    c, h = context.requires_grad_(), hidden.requires_grad_()
    assert torch.autograd.gradcheck(layer, (c, h), eps=1e-6, atol=1e-6)


def test_construction_errors_name_the_value():
    with pytest.raises(InvalidValueError, match="kind must be one of.*'luong'"):
        Attention("luong", 4, 4)
    with pytest.raises(InvalidValueError, match="query_size must equal memory_size.*query_size=5.*memory_size=4"):
        Attention("dot", 5, 4)
    with pytest.raises(InvalidValueError, match="attention_size.*kind='general'"):
        Attention("general", 5, 4, attention_size=8)
    with pytest.raises(InvalidValueError, match="query_size must be an int >= 1, got 0"):
        Attention("bahdanau", 0, 4)
    with pytest.raises(InvalidTypeError, match="attention_size"):
        Attention("bahdanau", 5, 4, attention_size=2.5)
    with pytest.raises(InvalidValueError, match="out_size"):
        AttentionalHidden(4, 5, 0)
    assert "'bahdanau', query_size=5, memory_size=4, attention_size=5" in repr(Attention("bahdanau", 5, 4))


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_call_errors_name_the_bad_input(kind):
    attn, hq = make(kind)
    query, memory, mask = inputs(hq)
    bad = [
        ((query[..., :-1], memory, mask), InvalidValueError, rf"query must have shape \(3, Q, {hq}\)"),
        ((query[:2], memory, mask), InvalidValueError, "query must have shape"),
        ((query[0, 0], memory, mask), InvalidValueError, "query must have shape"),
        (
            (query, memory[..., :-1], mask),
            InvalidValueError,
            rf"memory must have shape \(batch, source_length >= 1, {HM}\)",
        ),
        ((query, memory[:, :0], mask[:, :0]), InvalidValueError, "source_length >= 1"),
        ((query, memory[0], mask), InvalidValueError, "memory must have shape"),
        ((query, memory, mask[:, :-1]), InvalidValueError, r"mask must have shape \(3, 6\)"),
        ((query, memory, mask.long()), InvalidTypeError, "mask must be a bool tensor"),
        ((query.long(), memory, mask), InvalidTypeError, "query must be a floating-point tensor"),
        ((query, memory.float(), mask), InvalidTypeError, "query and memory must have one dtype"),
        ((query.tolist(), memory, mask), InvalidTypeError, "query must be a tensor, got list"),
    ]
    for args, error, message in bad:
        with pytest.raises(error, match=message):
            attn(*args)
    empty = mask.clone()
    empty[1] = False
    with pytest.raises(InvalidValueError, match=r"no real source position in rows \[1\]"):
        attn(query, memory, empty)
    with pytest.raises(InvalidValueError, match="keys must have shape"):
        attn(query, memory, mask, keys=memory[:, :-1])
    if kind != "dot":
        with pytest.raises(InvalidTypeError, match="parameters are torch.float64"):
            attn(query.float(), memory.float(), mask)
    if kind == "bahdanau":
        with pytest.raises(InvalidTypeError, match="memory has dtype torch.float32"):
            attn.precompute(memory.float())
    layer = AttentionalHidden(HM, HQ, 3).double()
    c, h = torch.randn(2, HM, dtype=torch.float64), torch.randn(2, HQ, dtype=torch.float64)
    with pytest.raises(InvalidValueError, match="context must end in memory_size=4"):
        layer(h, h)
    with pytest.raises(InvalidValueError, match="leading dimensions"):
        layer(c, torch.randn(3, HQ, dtype=torch.float64))
    with pytest.raises(InvalidTypeError, match="one dtype"):
        layer(c.float(), h.float())
