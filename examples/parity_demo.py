"""The main job until the language-model command lands: build rnnkit's layers on random data,
check them against torch.nn with the same weights, and print the comparison.

    make demo      (or: python examples/parity_demo.py)
"""

from __future__ import annotations

import time
import warnings

import torch
from torch import nn

import rnnkit


def compare(name, ours, reference, x, lengths=None):
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = x.clone().requires_grad_()
    if lengths is None:
        out_ref, _ = reference(x)
    else:
        packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out_ref, _ = reference(packed)
        out_ref, _ = nn.utils.rnn.pad_packed_sequence(out_ref, batch_first=True, total_length=x.shape[1])
    out, _ = ours(x, lengths=lengths)
    g_ref = torch.autograd.grad(out_ref.square().sum(), [x, *reference.parameters()])
    g = torch.autograd.grad(out.square().sum(), [x, *ours.parameters()])
    out_diff = (out - out_ref).abs().max().item()
    # gradients are sums over many steps: judge them relative to their size, as float32 allows
    grad_diff = max(((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item() for a, b in zip(g, g_ref))
    ok = out_diff < 1e-5 and grad_diff < 1e-5
    print(f"  {name:58} max|Δout| {out_diff:8.1e}   max rel |Δgrad| {grad_diff:8.1e}   {'ok' if ok else 'MISMATCH'}")
    return ok


def main() -> int:
    # torch's own notice that oneDNN has no projected LSTM (it then runs its generic kernel)
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
    torch.manual_seed(0)
    B, T, I, H = 8, 20, 16, 32
    x = torch.randn(B, T, I)
    lengths = [20, 3, 17, 9, 20, 1, 12, 5]
    print(f"rnnkit {rnnkit.__version__} vs torch.nn {torch.__version__}: batch {B}, {T} steps, input {I}, hidden {H}")
    cases = [
        ("RNN tanh", rnnkit.RNN, nn.RNN, {}),
        ("RNN relu", rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"}),
        ("LSTM", rnnkit.LSTM, nn.LSTM, {}),
        ("LSTM proj_size=8", rnnkit.LSTM, nn.LSTM, {"proj_size": 8}),
        ("GRU", rnnkit.GRU, nn.GRU, {}),
    ]
    all_ok = True
    for label, ours_cls, torch_cls, kw in cases:
        for engine in ("fused", "loop"):
            for ragged in (False, True):
                kwargs = dict(num_layers=2, bidirectional=True, batch_first=True, **kw)
                name = f"{label}, 2 layers, bidirectional, {engine}{', ragged' if ragged else ''}"
                all_ok &= compare(
                    name,
                    ours_cls(I, H, engine=engine, **kwargs),
                    torch_cls(I, H, **kwargs),
                    x,
                    lengths if ragged else None,
                )

    print("\nThe Elman network of the seeds: h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), y_t = W_hy h_t + b_y")
    model = rnnkit.ElmanRNN(I, H, 4, batch_first=True)
    y, h = model(x)
    print(
        f"  ElmanRNN({I}, {H}, 4): y {tuple(y.shape)}, h {tuple(h.shape)}; "
        f"W_xh {tuple(model.W_xh.shape)}, W_hh {tuple(model.W_hh.shape)}, W_hy {tuple(model.W_hy.shape)}"
    )

    print("\nA quick timing (forward+backward, LSTM 256x256, batch 32, 64 steps; see benchmarks/ for the real one):")
    xb = torch.randn(64, 32, 256, requires_grad=True)
    reference = nn.LSTM(256, 256)
    for label, layer in (
        ("torch.nn.LSTM", reference),
        ("rnnkit.LSTM auto", rnnkit.LSTM(256, 256)),
        ("rnnkit.LSTM loop", rnnkit.LSTM(256, 256, engine="loop")),
    ):
        layer(xb)[0].sum().backward()  # warm-up
        start = time.perf_counter()
        for _ in range(3):
            layer(xb)[0].sum().backward()
        print(f"  {label:18} {(time.perf_counter() - start) / 3 * 1e3:7.1f} ms")
    print("\nall layers match torch.nn" if all_ok else "\nSOME LAYERS DO NOT MATCH torch.nn")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
