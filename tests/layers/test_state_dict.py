"""State dicts interchange with torch.nn, strictly, in both directions."""

import pytest
import torch

from .reference import INPUT_SIZE, KINDS, make_pair


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_both_ways(kind, num_layers, bidirectional, bias):
    ours, reference = make_pair(kind, num_layers, bidirectional, bias=bias)  # torch -> ours, strict
    assert list(ours.state_dict()) == list(reference.state_dict())
    for name, p in ours.state_dict().items():
        assert torch.equal(p, reference.state_dict()[name]), name
    # ours -> torch, strict, after changing ours
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(0.25)
    reference.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(5, 2, INPUT_SIZE)
    torch.testing.assert_close(ours(x)[0], reference(x)[0], atol=1e-5, rtol=1e-5)


def test_parameter_attributes_are_torch_names():
    ours, reference = make_pair("lstm_proj", 2, True)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]
    assert ours.weight_hr_l1_reverse.shape == reference.weight_hr_l1_reverse.shape


def test_assign_load_rebinds_cells():
    """load_state_dict(assign=True) replaces parameter objects; the layer must compute with the new ones."""
    ours, reference = make_pair("gru", 2, True, engine="loop")
    fresh = {k: v.clone() * 0.5 for k, v in reference.state_dict().items()}
    ours.load_state_dict(fresh, assign=True)
    reference.load_state_dict(fresh)
    x = torch.randn(5, 2, INPUT_SIZE)
    torch.testing.assert_close(ours(x)[0], reference(x)[0], atol=1e-5, rtol=1e-5)


def test_to_double_and_deepcopy_keep_cells_bound():
    import copy

    ours, reference = make_pair("lstm", 2, True, engine="loop")
    twin = copy.deepcopy(ours).double()
    x = torch.randn(5, 2, INPUT_SIZE, dtype=torch.float64)
    torch.testing.assert_close(twin(x)[0], reference.double()(x)[0], atol=1e-10, rtol=1e-10)
    with torch.no_grad():
        twin.weight_ih_l0.zero_()
    assert not torch.equal(ours.weight_ih_l0.double(), twin.weight_ih_l0)
