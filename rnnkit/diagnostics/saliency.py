"""Input saliency per token: gradient x input and integrated gradients, on the embeddings.

For a model whose tokens pass through an embedding module (``e_t = E[x_t]``, (B, T, D)) and a score
``F`` per sequence (a class logit for a classifier, a tag's logit summed over a span for a tagger,
the log-probability of an output for seq2seq -- whatever ``score_fn`` returns, shape (B,)):

* gradient x input (Shrikumar et al. 2016; Denil et al. 2014):
      a_t = sum_d  e_td * dF/de_td
* integrated gradients (Sundararajan, Taly & Yan 2017), from a baseline e' (zeros by default: the
  padding embedding), with the m-point midpoint rule:
      a_t = sum_d (e_td - e'_td) * (1/m) sum_{k=1..m} dF/de_td  at  e' + (k - 1/2)/m (e - e')
  Completeness: sum_t a_t ~ F(e) - F(e'), exactly as m grows.

How: a forward hook on the embedding module replaces its output by the point on the path, so the
rest of the model runs unchanged -- any rnnkit or torch model, every engine. The model is put in
eval mode (dropout off). On CUDA, cuDNN's fused RNN kernels refuse backward in eval mode ("cudnn
RNN backward can only be called in training mode", captum issues #328, #564, #1159); the
attributions are computed with cuDNN switched off for the call instead, which gives the same values.
On CPU the fused kernels (oneDNN) have no such limit.

Why not Captum: its ``LayerIntegratedGradients`` does the same hook-and-interpolate; the few lines
here keep diagnostics free of an optional dependency, take the score as a function of the model
(so a seq2seq decoder's teacher-forced log-probability works the same as a class logit) and handle
the cuDNN case. The tests check both methods against Captum's where it is installed.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, choice, describe, positive_int

__all__ = ["token_saliency", "SALIENCY_METHODS"]

SALIENCY_METHODS = ("grad_x_input", "integrated_gradients")


def token_saliency(
    model: nn.Module,
    embedding: nn.Module,
    score_fn: Callable[[nn.Module], Tensor],
    method: str = "integrated_gradients",
    steps: int = 32,
    baseline: Optional[Tensor] = None,
) -> Tensor:
    """Attributions ``(B, T)``, one per input token, of ``score_fn(model)`` (shape (B,) or a scalar).

    ``embedding``: the module of ``model`` whose output ``(B, T, D)`` holds the token vectors.
    ``baseline``: e' for integrated gradients, broadcastable to the embeddings (default zeros).
    """
    if not isinstance(model, nn.Module) or not isinstance(embedding, nn.Module):
        raise InvalidTypeError(
            f"model and embedding must be torch.nn.Modules, got {describe(model)}, {describe(embedding)}"
        )
    if not any(m is embedding for m in model.modules()):
        raise InvalidValueError(f"embedding ({type(embedding).__name__}) is not a module of the model")
    choice("method", method, SALIENCY_METHODS)
    steps = positive_int("steps", steps)
    alphas = [1.0] if method == "grad_x_input" else [(k + 0.5) / steps for k in range(steps)]
    state = {}

    def on_path(module, args, output):
        e = output.detach()
        base = torch.zeros_like(e) if baseline is None else baseline.to(e).expand_as(e)
        point = (base + state["alpha"] * (e - base)).requires_grad_(True)
        state.update(e=e, base=base, point=point)
        return point

    total = None
    was_training = model.training
    model.eval()
    handle = embedding.register_forward_hook(on_path)
    try:
        with _cudnn_off(), torch.enable_grad():
            for alpha in alphas:
                state["alpha"] = alpha
                score = score_fn(model)
                if not isinstance(score, Tensor) or score.dim() > 1:
                    raise InvalidTypeError(
                        f"score_fn must return a tensor of shape (B,) or a scalar, got {describe(score)}"
                    )
                if "point" not in state:
                    raise InvalidValueError("score_fn never called the embedding module: nothing to attribute to")
                (grad,) = torch.autograd.grad(score.sum(), state["point"])  # rows are independent sequences
                total = grad if total is None else total + grad
    finally:
        handle.remove()
        model.train(was_training)
    mean_grad = total / len(alphas)
    return ((state["e"] - state["base"]) * mean_grad).sum(dim=-1).detach()  # (B, T)


def _cudnn_off():
    if torch.cuda.is_available():
        return torch.backends.cudnn.flags(enabled=False)
    return contextlib.nullcontext()
