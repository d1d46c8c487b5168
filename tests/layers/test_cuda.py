"""CUDA: our fused engine runs cuDNN, and agrees with torch.nn on the GPU. Skipped without CUDA."""

import pytest
import torch

from .reference import INPUT_SIZE, KINDS, as_tuple, initial_state, make_pair

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("engine", ["fused", "loop"])
@pytest.mark.parametrize("ragged", [False, True])
def test_cuda_parity_with_cudnn(kind, engine, ragged):
    ours, reference = make_pair(kind, 2, True, True, engine=engine)
    ours, reference = ours.cuda(), reference.cuda()
    x = torch.randn(3, 6, INPUT_SIZE, device="cuda", requires_grad=True)
    h0 = initial_state(kind, ours, 3)
    h0 = tuple(h.detach().cuda().requires_grad_() for h in as_tuple(h0))
    h0 = h0 if len(h0) > 1 else h0[0]
    lengths = torch.tensor([6, 2, 4], device="cuda") if ragged else None
    out, hn = ours(x, h0, lengths=lengths)
    if ragged:
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out_ref, hn_ref = reference(packed, h0)
        out_ref, _ = pad_packed_sequence(out_ref, batch_first=True, total_length=6)
    else:
        out_ref, hn_ref = reference(x, h0)
    torch.testing.assert_close(out, out_ref, atol=1e-4, rtol=1e-4)
    for a, b in zip(as_tuple(hn), as_tuple(hn_ref)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    g = torch.autograd.grad(out.sum(), [x, *ours.parameters()])
    g_ref = torch.autograd.grad(out_ref.sum(), [x, *reference.parameters()])
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_cuda_weights_flattened_for_cudnn():
    ours, _ = make_pair("lstm", 2, True, True)
    ours = ours.cuda()
    ptrs = sorted(p.data_ptr() for p in ours.parameters())
    storages = {p.untyped_storage().data_ptr() for p in ours.parameters()}
    assert len(storages) == 1, "after .cuda() the weights should share one cuDNN buffer"
    assert len(set(ptrs)) == len(ptrs)
