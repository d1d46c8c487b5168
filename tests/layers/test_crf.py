"""LinearChainCRF against brute-force enumeration of every tag sequence, gradcheck, padding, constraints."""

import itertools

import numpy as np
import pytest
import torch
from torch.func import functional_call

from rnnkit._checks import InvalidTypeError, InvalidValueError
from rnnkit.layers import LinearChainCRF, TagConstraints, bio_constraints, bioes_constraints

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]


def make_crf(K, seed, constraints=None, integer=False):
    """A float64 CRF with random parameters; ``integer`` ones make many path scores tie exactly."""
    crf = LinearChainCRF(K, constraints=constraints).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randint(-2, 3, p.shape, generator=g) if integer else torch.randn(p.shape, generator=g))
    return crf


def emissions(B, T, K, seed, integer=False):
    g = torch.Generator().manual_seed(1000 + seed)
    if integer:
        return torch.randint(-2, 3, (B, T, K), generator=g).double()
    return torch.randn(B, T, K, generator=g, dtype=torch.float64)


def allowed(rules, seq):
    if rules is None or not seq:
        return True
    ok = bool(rules.start[seq[0]]) and bool(rules.end[seq[-1]])
    return ok and all(bool(rules.transitions[a, b]) for a, b in zip(seq, seq[1:]))


@torch.no_grad()
def brute_force(crf, x, n, rules=None):
    """Every allowed tag sequence of length ``n`` with its score, in lexicographic order (written
    from the definition, independent of the layer's code)."""
    K = crf.num_tags
    seqs = [s for s in itertools.product(range(K), repeat=n) if allowed(rules, s)]
    if n == 0:
        return [((), torch.tensor(0.0, dtype=torch.float64))]
    A, start, end = crf.transitions, crf.start_transitions, crf.end_transitions
    out = []
    for s in seqs:
        total = start[s[0]] + end[s[-1]] + sum(x[t, y] for t, y in enumerate(s))
        total = total + sum((A[a, b] for a, b in zip(s, s[1:])), torch.tensor(0.0, dtype=torch.float64))
        out.append((s, total))
    return out


def ranked(paths, k):
    """The k best by score, ties to the lexicographically first sequence (paths come in that order)."""
    return sorted(paths, key=lambda p: -float(p[1]))[:k]  # sorted() is stable


LENGTHS_OF = {1: [1, 0, 1], 2: [2, 1, 0], 3: [3, 0, 1], 4: [4, 1, 0]}
CASES = [(K, T, seed) for K in (3, 4) for T in (1, 2, 3, 4) for seed in range(2)]


@pytest.mark.parametrize("K,T,seed", CASES)
def test_partition_nll_and_score_match_brute_force(K, T, seed):
    crf, x = make_crf(K, seed), emissions(3, T, K, seed)
    lengths = LENGTHS_OF[T]
    mask = torch.arange(T).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    tags = torch.randint(0, K, (3, T), generator=torch.Generator().manual_seed(seed))
    log_z = crf.log_partition(x, mask)
    score = crf.score(x, tags, lengths=lengths)
    nll = crf(x, tags, mask, reduction="none")
    for b, n in enumerate(lengths):
        paths = brute_force(crf, x[b], n)
        expected_z = torch.logsumexp(torch.stack([s for _, s in paths]), 0)
        expected_score = dict(paths)[tuple(tags[b, :n].tolist())]
        torch.testing.assert_close(log_z[b], expected_z)
        torch.testing.assert_close(score[b], expected_score)
        torch.testing.assert_close(nll[b], expected_z - expected_score)
    assert bool((nll >= 0).all()) and bool((nll[torch.tensor(lengths) > 0] > 0).all())
    assert nll[torch.tensor(lengths) == 0].eq(0).all()
    torch.testing.assert_close(crf(x, tags, mask, reduction="sum"), nll.sum())
    torch.testing.assert_close(crf(x, tags, mask), nll.mean())
    torch.testing.assert_close(crf(x, tags, mask, reduction="token_mean"), nll.sum() / sum(lengths))


@pytest.mark.parametrize("K,T,seed", CASES)
def test_viterbi_and_topk_match_brute_force(K, T, seed):
    crf, x = make_crf(K, seed), emissions(3, T, K, seed)
    lengths = LENGTHS_OF[T]
    best = crf.decode(x, lengths=lengths)
    top = crf.decode_topk(x, lengths=lengths, k=5)
    for b, n in enumerate(lengths):
        expected = ranked(brute_force(crf, x[b], n), 5)
        assert best[b] == list(expected[0][0])
        assert [p for p, _ in top[b]] == [list(p) for p, _ in expected]
        np.testing.assert_allclose([s for _, s in top[b]], [float(s) for _, s in expected], rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_topk_ties_go_to_the_lexicographically_first_sequence(seed):
    """Integer scores tie exactly and often: the order must still equal the brute force's, and
    k larger than K**n returns every sequence."""
    K, T = 3, 4
    crf, x = make_crf(K, seed, integer=True), emissions(3, T, K, seed, integer=True)
    lengths = [4, 3, 1]
    top = crf.decode_topk(x, lengths=lengths, k=100)
    for b, n in enumerate(lengths):
        expected = ranked(brute_force(crf, x[b], n), 100)
        assert len(top[b]) == min(100, K**n)
        assert [(p, s) for p, s in top[b]] == [(list(p), float(s)) for p, s in expected]
    assert len({s for _, s in top[0]}) < len(top[0])  # the case does hold ties
    zero = LinearChainCRF(K)
    torch.nn.init.zeros_(zero.transitions), torch.nn.init.zeros_(zero.start_transitions)
    torch.nn.init.zeros_(zero.end_transitions)
    assert [p for p, _ in zero.decode_topk(torch.zeros(1, 2, K), k=4)[0]] == [[0, 0], [0, 1], [0, 2], [1, 0]]


@pytest.mark.parametrize(
    "names,builder,entity", [(BIO, bio_constraints, [1, 2, 2, 0]), (BIOES, bioes_constraints, [1, 2, 3, 0])]
)
@pytest.mark.parametrize("seed", range(3))
def test_constrained_crf_matches_brute_force_over_allowed_sequences(names, builder, entity, seed):
    rules = builder(names)
    K, T = len(names), 4
    crf, x = make_crf(K, seed, constraints=rules), emissions(3, T, K, seed)
    lengths = [4, 1, 0]
    log_z = crf.log_partition(x, lengths=lengths)
    top = crf.decode_topk(x, lengths=lengths, k=1000)
    for b, n in enumerate(lengths):
        paths = brute_force(crf, x[b], n, rules)
        torch.testing.assert_close(log_z[b], torch.logsumexp(torch.stack([s for _, s in paths]), 0))
        expected = ranked(paths, 1000)
        assert [p for p, _ in top[b]] == [list(p) for p, _ in expected]  # only allowed ones, all of them
        np.testing.assert_allclose([s for _, s in top[b]], [float(s) for _, s in expected], rtol=1e-12)
    gold = torch.tensor([entity, [0, 0, 0, 0], [2, 2, 2, 2]])  # an entity then O; row 2 is empty
    nll = crf(x, gold, lengths=lengths, reduction="none")
    assert bool((nll[:2] > 0).all()) and float(nll[2].detach()) == 0.0


def test_bio_constraints_rules():
    rules = bio_constraints(BIO)
    #            to:  O  B-P I-P B-L I-L
    expected = [[1, 1, 0, 1, 0],  # from O
                [1, 1, 1, 1, 0],  # from B-PER
                [1, 1, 1, 1, 0],  # from I-PER
                [1, 1, 0, 1, 1],  # from B-LOC
                [1, 1, 0, 1, 1]]  # from I-LOC  # fmt: skip
    assert rules.transitions.tolist() == [[bool(v) for v in row] for row in expected]
    assert rules.start.tolist() == [True, True, False, True, False]
    assert rules.end.all() and rules.tag_names == tuple(BIO)


def test_bioes_constraints_rules():
    names = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"]
    rules = bioes_constraints(names)
    #            to:  O  B  I  E  S-P S-L
    expected = [[1, 1, 0, 0, 1, 1],  # from O
                [0, 0, 1, 1, 0, 0],  # from B-PER
                [0, 0, 1, 1, 0, 0],  # from I-PER
                [1, 1, 0, 0, 1, 1],  # from E-PER
                [1, 1, 0, 0, 1, 1],  # from S-PER
                [1, 1, 0, 0, 1, 1]]  # from S-LOC  # fmt: skip
    assert rules.transitions.tolist() == [[bool(v) for v in row] for row in expected]
    assert rules.start.tolist() == [True, True, False, False, True, True]
    assert rules.end.tolist() == [True, False, False, True, True, True]


def bio_violations(path, names):
    bad, prev = [], None
    for t, tag in enumerate(path):
        name = names[tag]
        if name.startswith("I-") and (prev is None or prev[2:] != name[2:] or prev == "O"):
            bad.append((t, prev, name))
        prev = name
    return bad


def test_bio_decoding_never_outputs_a_forbidden_transition():
    """Emissions pushed towards I- tags: unconstrained Viterbi outputs I-X after O or B-Y, the
    constrained one never does (top-k included)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 12, len(BIO), generator=g) * 3
    x[:, :, [2, 4]] += 2.0  # favour I-PER, I-LOC
    lengths = torch.randint(0, 13, (64,), generator=g)
    free = LinearChainCRF(len(BIO))
    assert any(bio_violations(p, BIO) for p in free.decode(x, lengths=lengths))  # the test can fail
    crf = LinearChainCRF(len(BIO), constraints=bio_constraints(BIO))
    crf.load_state_dict({**free.state_dict(), **{k: v for k, v in crf.state_dict().items() if "allowed" in k}})
    for paths, n in zip(crf.decode_topk(x, lengths=lengths, k=3), lengths.tolist()):
        for path, _ in paths:
            assert len(path) == n and bio_violations(path, BIO) == []
    bioes = LinearChainCRF(len(BIOES), constraints=bioes_constraints(BIOES))
    for path in bioes.decode(x, lengths=lengths):
        assert allowed(bioes_constraints(BIOES), tuple(path))


@pytest.mark.parametrize("constraints", [None, bio_constraints(BIO)])
def test_gradcheck_nll_wrt_emissions_and_transitions(constraints):
    crf = make_crf(len(BIO), 0, constraints=constraints)
    x = emissions(3, 4, len(BIO), 0).requires_grad_()
    tags = torch.tensor([[1, 2, 0, 3], [3, 4, 4, 0], [0, 0, 0, 0]])
    lengths = [4, 2, 0]
    assert torch.autograd.gradcheck(lambda e: crf(e, tags, lengths=lengths, reduction="none"), (x,))
    names = [n for n, _ in crf.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in crf.parameters())

    def nll(*ps):
        return functional_call(crf, dict(zip(names, ps)), (x.detach(), tags), {"lengths": lengths, "reduction": "sum"})

    assert torch.autograd.gradcheck(nll, params)


def test_padding_never_changes_anything():
    """Extra padded steps holding garbage (NaN, inf, huge) and padded tags of -100 change no loss,
    no partition and no decoding, and get exactly zero gradient."""
    K = 4
    crf = make_crf(K, 3)
    lengths = [3, 1, 0, 2]
    parts = [emissions(1, n, K, i)[0] for i, n in enumerate(lengths)]
    tags_parts = [torch.randint(0, K, (n,), generator=torch.Generator().manual_seed(i)) for i, n in enumerate(lengths)]
    T = 6
    x = torch.full((4, T, K), float("nan"), dtype=torch.float64)
    x[0, 4:] = float("inf")
    x[1, 2:] = 1e6
    tags = torch.full((4, T), -100)
    for b, (e, y) in enumerate(zip(parts, tags_parts)):
        x[b, : len(e)], tags[b, : len(y)] = e, y
    x.requires_grad_()
    nll = crf(x, tags, lengths=lengths, reduction="none")
    nll.sum().backward()
    for b, n in enumerate(lengths):
        if n:
            alone = crf(parts[b].unsqueeze(0), tags_parts[b].unsqueeze(0), reduction="none")[0]
            torch.testing.assert_close(nll[b], alone)
            assert crf.decode(x.detach()[b : b + 1, :n])[0] == crf.decode(x.detach(), lengths=lengths)[b]
        assert x.grad[b, n:].eq(0).all() and torch.isfinite(x.grad[b, :n]).all()
    assert nll[2].item() == 0.0 and crf.decode(x.detach(), lengths=lengths)[2] == []
    log_z = crf.log_partition(x.detach(), lengths=lengths)
    assert torch.isfinite(log_z).all()


def test_batch_first_false_is_the_transposed_layout():
    crf = make_crf(3, 1)
    time_major = LinearChainCRF(3, batch_first=False).double()
    time_major.load_state_dict(crf.state_dict())
    x, tags = emissions(3, 4, 3, 1), torch.randint(0, 3, (3, 4))
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    torch.testing.assert_close(
        time_major(x.transpose(0, 1), tags.t(), mask.t(), reduction="none"), crf(x, tags, mask, reduction="none")
    )
    assert time_major.decode_topk(x.transpose(0, 1), mask.t(), 3) == crf.decode_topk(x, mask, 3)


def test_sgd_learns_a_problem_only_transitions_can_solve():
    """Token 0 is tagged 0, 1, 0, 1, ... from the start of the sentence; token 1 is always tag 2. The
    emission of token 0 cannot tell 0 from 1: the start and transition scores must learn it."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 2, (32, 7), generator=g)
    lengths = torch.randint(1, 8, (32,), generator=g)
    tags = torch.zeros_like(tokens)
    for b in range(32):
        k = 0
        for t in range(7):
            tags[b, t] = 2 if tokens[b, t] == 1 else k % 2
            k = k + 1 if tokens[b, t] == 0 else 0
    embed, crf = torch.nn.Embedding(2, 3), LinearChainCRF(3)
    opt = torch.optim.SGD([*embed.parameters(), *crf.parameters()], lr=0.5)
    losses = []
    for _ in range(200):
        loss = crf(embed(tokens), tags, lengths=lengths)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert min(losses) > 0 and losses[-1] < 0.01 * losses[0]
    decoded = crf.decode(embed(tokens), lengths=lengths)
    assert decoded == [tags[b, :n].tolist() for b, n in enumerate(lengths.tolist())]


def test_a_plain_allowed_matrix_forbids_only_transitions():
    crf = LinearChainCRF(2, constraints=[[True, False], [True, True]])  # 0 may not be followed by 1
    x = torch.tensor([[[2.0, 0.0], [0.0, 5.0], [0.0, 5.0]]])
    assert LinearChainCRF(2).decode(x) == [[0, 1, 1]] and crf.decode(x) == [[1, 1, 1]]
    assert crf.allowed_start.all() and crf.allowed_end.all()


def test_constraints_travel_in_the_state_dict():
    crf = LinearChainCRF(len(BIO), constraints=bio_constraints(BIO))
    plain = LinearChainCRF(len(BIO))
    plain.load_state_dict(crf.state_dict())
    x = torch.randn(8, 6, len(BIO))
    x[:, :, 2] += 3
    assert plain.decode(x) == crf.decode(x)
    assert "constrained=True" in repr(crf) and "constrained=False" in repr(LinearChainCRF(2))


def test_empty_time_axis_and_half_precision():
    crf = LinearChainCRF(3)
    x = torch.randn(2, 0, 3)
    assert crf(x, torch.zeros(2, 0, dtype=torch.long), reduction="none").tolist() == [0.0, 0.0]
    assert crf.decode(x) == [[], []] and crf.decode_topk(x, k=2) == [[([], 0.0)], [([], 0.0)]]
    y, tags = torch.randn(2, 5, 3), torch.randint(0, 3, (2, 5))
    half = crf(y.bfloat16(), tags)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, crf(y.bfloat16().float(), tags))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    crf = make_crf(4, 0, constraints=bio_constraints(["O", "B-A", "I-A", "B-B"]))
    x, tags = emissions(3, 5, 4, 0), torch.tensor([[1, 2, 0, 3, 0]] * 3)
    lengths = [5, 2, 0]
    gpu = crf.to("cuda")
    got = gpu(x.cuda(), tags.cuda(), lengths=torch.tensor(lengths).cuda(), reduction="none").cpu()
    torch.testing.assert_close(got, crf.cpu()(x, tags, lengths=lengths, reduction="none"))
    assert crf.to("cuda").decode_topk(x.cuda(), lengths=lengths, k=3) == crf.cpu().decode_topk(x, lengths=lengths, k=3)


# ---- errors -------------------------------------------------------------------------------------

X = torch.randn(2, 3, 4)
TAGS = torch.zeros(2, 3, dtype=torch.long)


@pytest.mark.parametrize(
    "call,error,words",
    [
        (lambda c: c(torch.randn(2, 3), TAGS), InvalidValueError, ["emissions", "(B, T, K)", "(2, 3)"]),
        (lambda c: c(torch.randn(2, 3, 5), TAGS), InvalidValueError, ["num_tags = 4", "(2, 3, 5)"]),
        (lambda c: c(torch.ones(2, 3, 4, dtype=torch.long), TAGS), InvalidTypeError, ["emissions", "float"]),
        (lambda c: c([[0.0]], TAGS), InvalidTypeError, ["emissions", "list"]),
        (lambda c: c(X, TAGS.float()), InvalidTypeError, ["tags", "integer", "float32"]),
        (lambda c: c(X, torch.zeros(2, 4, dtype=torch.long)), InvalidValueError, ["tags", "(2, 3)", "(2, 4)"]),
        (lambda c: c(X, torch.tensor([[0, 1, 2], [0, 4, 0]])), InvalidValueError, ["tags[1, 1] = 4", "[0, 4)"]),
        (lambda c: c(X, TAGS, torch.ones(2, 3)), InvalidTypeError, ["mask", "bool", "float32"]),
        (lambda c: c(X, TAGS, torch.ones(2, 2, dtype=torch.bool)), InvalidValueError, ["mask", "(2, 3)", "(2, 2)"]),
        (
            lambda c: c(X, TAGS, torch.tensor([[1, 1, 1], [1, 0, 1]], dtype=torch.bool)),
            InvalidValueError,
            ["mask row 1", "step 2", "step 1", "contiguous prefix"],
        ),
        (lambda c: c(X, TAGS, torch.ones(2, 3, dtype=torch.bool), lengths=[3, 3]), InvalidValueError, ["not both"]),
        (lambda c: c(X, TAGS, lengths=[3, 4]), InvalidValueError, ["lengths", "[0, T = 3]", "[3, 4]"]),
        (lambda c: c(X, TAGS, lengths=[3]), InvalidValueError, ["lengths", "(2,)", "(1,)"]),
        (lambda c: c(X, TAGS, lengths=[3.0, 1.0]), InvalidTypeError, ["lengths", "list"]),
        (lambda c: c(X, TAGS, reduction="average"), InvalidValueError, ["reduction", "token_mean", "average"]),
        (lambda c: c.decode_topk(X, k=0), InvalidValueError, ["k", "0"]),
        (lambda c: c.decode(X, torch.tensor([[0, 1, 1], [1, 1, 1]]).bool()), InvalidValueError, ["mask row 0"]),
    ],
)
def test_bad_inputs_name_the_argument(call, error, words):
    with pytest.raises(error) as info:
        call(LinearChainCRF(4))
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "make,error,words",
    [
        (lambda: LinearChainCRF(0), InvalidValueError, ["num_tags", "0"]),
        (lambda: LinearChainCRF(3, batch_first=1), InvalidTypeError, ["batch_first"]),
        (lambda: LinearChainCRF(3, constraints=torch.ones(3, 4).bool()), InvalidValueError, ["(3, 3)", "(3, 4)"]),
        (lambda: LinearChainCRF(3, constraints=torch.ones(3, 3)), InvalidTypeError, ["bool", "float32"]),
        (lambda: LinearChainCRF(3, constraints="BIO"), InvalidTypeError, ["constraints", "bio_constraints"]),
        (lambda: LinearChainCRF(2, constraints=[[True, False], [True]]), InvalidValueError, ["constraints"]),
        (lambda: LinearChainCRF(2, constraints=[[1, 0], [1, 1]]), InvalidTypeError, ["bool", "int64"]),
        (lambda: LinearChainCRF(4, constraints=bio_constraints(BIO)), InvalidValueError, ["(4, 4)", "(5, 5)"]),
        (lambda: bio_constraints(["O", "B-PER", "E-PER"]), InvalidValueError, ["tag_names[2] = 'E-PER'", "BIO"]),
        (lambda: bio_constraints(["O", "B-"]), InvalidValueError, ["tag_names[1] = 'B-'"]),
        (lambda: bioes_constraints(["O", "X-PER"]), InvalidValueError, ["tag_names[1] = 'X-PER'", "'S-TYPE'"]),
        (lambda: bio_constraints(["O", "O"]), InvalidValueError, ["'O' twice"]),
        (lambda: bio_constraints("O B-PER"), InvalidTypeError, ["tag_names", "list"]),
        (lambda: bio_constraints([]), InvalidValueError, ["tag_names is empty"]),
        (
            lambda: LinearChainCRF(2, constraints=TagConstraints(torch.ones(2, 2).bool(), torch.zeros(2).bool(), 0)),
            InvalidTypeError,
            ["constraints end", "(2,)"],
        ),
    ],
)
def test_bad_construction_names_the_argument(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_gold_tags_the_constraints_forbid_are_refused_with_names():
    crf = LinearChainCRF(len(BIO), constraints=bio_constraints(BIO))
    x = torch.randn(2, 3, len(BIO))
    with pytest.raises(InvalidValueError, match=r"row 1 goes from tag 0 \('O'\) at step 0 to tag 2 \('I-PER'\)"):
        crf(x, torch.tensor([[1, 2, 0], [0, 2, 0]]))
    with pytest.raises(InvalidValueError, match=r"row 0 starts with tag 4 \('I-LOC'\)"):
        crf(x, torch.tensor([[4, 0, 0], [0, 0, 0]]))
    assert crf(x, torch.tensor([[4, 0, 0], [1, 2, 2]]), lengths=[0, 3]).item() > 0  # row 0 empty: nothing to check
