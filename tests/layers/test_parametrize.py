"""torch.nn's weight tools work on our layers as on torch.nn's: parametrizations and pruning.

Both act on the layer's named parameters (``weight_hh_l0``, ...), so the layer must read its
parameters through attribute access at forward time.
"""

import pytest
import torch
import torch.nn.utils.prune as prune
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import orthogonal, weight_norm

from .reference import INPUT_SIZE, KINDS, as_tuple, initial_state, make_pair

T, B = 5, 3
TOL = dict(atol=1e-5, rtol=1e-5)


def _assert_same_values_and_grads(ours, reference, kind, lengths=None):
    x = torch.randn(T, B, INPUT_SIZE, requires_grad=True)
    h0 = initial_state(kind, ours, B)
    if lengths is None:
        out_ref, hn_ref = reference(x, h0)
        out, hn = ours(x, h0)
    else:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        out_ref, hn_ref = reference(packed, h0)
        out_ref, _ = pad_packed_sequence(out_ref, total_length=T)
        out, hn = ours(x, h0, lengths=lengths)
    torch.testing.assert_close(out, out_ref, **TOL)
    for a, b in zip(as_tuple(hn), as_tuple(hn_ref)):
        torch.testing.assert_close(a, b, **TOL)
    names = [n for n, _ in ours.named_parameters()]
    assert names == [n for n, _ in reference.named_parameters()]
    loss = out.square().sum() + sum(t.square().sum() for t in as_tuple(hn))
    loss_ref = out_ref.square().sum() + sum(t.square().sum() for t in as_tuple(hn_ref))
    inputs = [x, *as_tuple(h0)]
    g = torch.autograd.grad(loss, inputs + list(ours.parameters()))
    g_ref = torch.autograd.grad(loss_ref, inputs + list(reference.parameters()))
    for name, a, b in zip(["x"] * len(inputs) + names, g, g_ref):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("engine", ["fused", "loop"])
def test_weight_norm_matches_torch_nn(kind, engine):
    ours, reference = make_pair(kind, 2, True, engine=engine)
    for module in (ours, reference):
        weight_norm(module, "weight_hh_l0")
        weight_norm(module, "weight_ih_l1_reverse")
        with torch.no_grad():  # move away from the identity the parametrization starts at
            module.parametrizations.weight_hh_l0.original0.mul_(1.5)
    assert list(ours.state_dict()) == list(reference.state_dict())
    _assert_same_values_and_grads(ours, reference, kind)
    _assert_same_values_and_grads(ours, reference, kind, lengths=[5, 2, 4])


@pytest.mark.parametrize("engine", ["fused", "loop"])
def test_orthogonal_parametrization_and_cached(engine):
    ours, reference = make_pair("gru", 1, False, engine=engine)
    for module in (ours, reference):
        torch.manual_seed(0)
        orthogonal(module, "weight_hh_l0")
    ours.load_state_dict(reference.state_dict(), strict=True)
    w = ours.weight_hh_l0  # (3H, H) with orthonormal columns
    torch.testing.assert_close(w.T @ w, torch.eye(w.shape[1]), **TOL)
    _assert_same_values_and_grads(ours, reference, "gru")
    with parametrize.cached():
        _assert_same_values_and_grads(ours, reference, "gru")
    # removing the parametrization leaves a plain parameter under the torch name again
    for module in (ours, reference):
        parametrize.remove_parametrizations(module, "weight_hh_l0")
    assert "weight_hh_l0" in dict(ours.named_parameters())
    _assert_same_values_and_grads(ours, reference, "gru")


@pytest.mark.parametrize("kind", ["lstm", "lstm_proj", "rnn_relu"])
@pytest.mark.parametrize("engine", ["fused", "loop"])
def test_pruning_matches_torch_nn(kind, engine):
    ours, reference = make_pair(kind, 1, True, engine=engine)
    for module in (ours, reference):
        prune.l1_unstructured(module, "weight_hh_l0", amount=0.5)
        prune.random_unstructured(module, "weight_ih_l0_reverse", amount=0.3)
    ours.weight_ih_l0_reverse_mask.copy_(reference.weight_ih_l0_reverse_mask)  # random masks: take torch's
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert torch.equal(ours.weight_hh_l0_mask, reference.weight_hh_l0_mask)
    _assert_same_values_and_grads(ours, reference, kind)
    # the mask is really applied: the pruned entries get no gradient
    out, _ = ours(torch.randn(T, B, INPUT_SIZE))
    out.sum().backward()
    assert torch.count_nonzero(ours.weight_hh_l0_orig.grad[ours.weight_hh_l0_mask == 0]) == 0
    for module in (ours, reference):
        prune.remove(module, "weight_hh_l0")
    _assert_same_values_and_grads(ours, reference, kind)
