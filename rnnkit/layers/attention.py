"""Attention for encoder-decoders: Bahdanau (additive), Luong dot and Luong general scores.

The encoder leaves one vector per source position, the *memory* ``h_1 .. h_S`` (B, S, Hm); at each
output step the decoder's state, the *query*, scores every source position, a softmax over the real
(unpadded) positions turns the scores into weights, and the weighted sum of the memory is the
context vector handed back to the decoder.

**Bahdanau** (Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning to Align
and Translate", eq. 6 and appendix A.1.2), with the paper's names: ``s_{i-1}`` the previous decoder
state (the query), ``h_j`` the annotation of source word ``j`` (the memory)::

    e_ij     = v_a^T tanh(W_a s_{i-1} + U_a h_j)      W_a (A, Hq), U_a (A, Hm), v_a (A,): ``w_a``, ``u_a``, ``v_a``
    alpha_ij = exp(e_ij) / sum_k exp(e_ik)
    c_i      = sum_j alpha_ij h_j

``U_a h_j`` does not depend on the output step: :meth:`Attention.precompute` computes it once per
source sequence (the *keys*, (B, S, A)), as the paper's appendix advises. The attention size ``A``
(the paper's ``n'``) defaults to ``Hq``, the paper's choice ``n' = n``. No bias, as in the paper.

**Luong** (Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural Machine
Translation", section 3.1), with the paper's names: ``h_t`` the current target hidden state (the
query), ``h̄_s`` a source hidden state (the memory)::

    score(h_t, h̄_s) = h_t^T h̄_s                      "dot"      (needs Hq == Hm)
    score(h_t, h̄_s) = h_t^T W_a h̄_s                  "general"  W_a (Hq, Hm) = ``w_a.weight``
    a_t(s)           = exp(score(h_t, h̄_s)) / sum_s' exp(score(h_t, h̄_s'))
    c_t              = sum_s a_t(s) h̄_s
    h̃_t             = tanh(W_c [c_t; h_t])            the attentional hidden state: :class:`AttentionalHidden`

For "general" the query side is projected (``h_t^T W_a``, (B, Q, Hm)), which costs Q·Hq·Hm per step
instead of S·Hq·Hm; so the keys of "dot" and "general" are the memory itself. Luong's *input
feeding* concatenates ``h̃_t`` with the next step's input embedding; that wiring belongs to the
decoder, which uses :class:`AttentionalHidden` for ``h̃_t``. (Luong's "concat" score,
``v_a^T tanh(W_a [h_t; h̄_s])``, is Bahdanau's additive form and is served by ``"bahdanau"``.)

Shapes. ``query`` (B, Q, Hq): Q queries per source row (the Q hypotheses of a beam, or 1), all
reading the same memory row, which is broadcast in batched matmuls over (B, Q, S), never copied per
query; or (B, Hq), and then the outputs drop the Q dimension. ``memory`` (B, S, Hm). ``mask`` (B, S)
bool, True at a real source position (None: every position is real). Returns ``context`` (B, Q, Hm)
and ``weights`` (B, Q, S).

Masking. Padded positions get the score ``-inf`` before the softmax, so their weight is exactly 0
(``exp(-inf) == 0``), the weights of the real positions sum to 1, and padded memory and keys get
exactly zero gradient. Padded memory may hold any finite values (its weight is 0, and ``0 * x == 0``
only for finite ``x``). A row whose mask has no real position has no distribution to attend with:
it is refused with :class:`~rnnkit._checks.InvalidValueError` naming the rows (an empty source is a
data error, not something to average over silently).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, choice, describe, optional, positive_int

__all__ = ["Attention", "AttentionalHidden", "ATTENTION_KINDS"]

ATTENTION_KINDS = ("bahdanau", "dot", "general")


def _floating(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise InvalidTypeError(f"{name} must be a tensor, got {describe(value)}")
    if not value.is_floating_point():
        raise InvalidTypeError(f"{name} must be a floating-point tensor, got {describe(value)}")
    return value


class Attention(nn.Module):
    """``forward(query, memory, mask=None, keys=None) -> (context, weights)``; see the module docstring.

    Args:
        kind: ``"bahdanau"`` (additive), ``"dot"`` or ``"general"`` (Luong).
        query_size: Hq, the size of the decoder state that asks.
        memory_size: Hm, the size of the encoder outputs attended over.
        attention_size: A, the size of Bahdanau's hidden layer (default Hq); only for ``"bahdanau"``.
    """

    def __init__(self, kind: str, query_size: int, memory_size: int, attention_size: Optional[int] = None) -> None:
        super().__init__()
        self.kind = choice("kind", kind, ATTENTION_KINDS)
        self.query_size = positive_int("query_size", query_size)
        self.memory_size = positive_int("memory_size", memory_size)
        attention_size = optional(positive_int, "attention_size", attention_size)
        if kind != "bahdanau" and attention_size is not None:
            raise InvalidValueError(
                f"attention_size is the size of Bahdanau's additive layer; kind={kind!r} has none, "
                f"got attention_size={attention_size}"
            )
        if kind == "dot" and query_size != memory_size:
            raise InvalidValueError(
                f"kind='dot' scores h_t^T h_s, so query_size must equal memory_size, got query_size={query_size} "
                f"and memory_size={memory_size}; use kind='general' or 'bahdanau' for different sizes"
            )
        self.attention_size = (attention_size or query_size) if kind == "bahdanau" else None
        if kind == "bahdanau":
            self.w_a = nn.Linear(query_size, self.attention_size, bias=False)  # W_a s_{i-1}
            self.u_a = nn.Linear(memory_size, self.attention_size, bias=False)  # U_a h_j
            self.v_a = nn.Linear(self.attention_size, 1, bias=False)  # v_a^T
        elif kind == "general":
            self.w_a = nn.Linear(memory_size, query_size, bias=False)  # weight (Hq, Hm) is W_a

    def extra_repr(self) -> str:
        size = f", attention_size={self.attention_size}" if self.kind == "bahdanau" else ""
        return f"{self.kind!r}, query_size={self.query_size}, memory_size={self.memory_size}{size}"

    # ---- the memory side, once per source sequence ---------------------------------------------------

    def precompute(self, memory: Tensor) -> Tensor:
        """The keys for :meth:`forward`: ``U_a h_j`` (B, S, A) for Bahdanau, ``memory`` itself otherwise."""
        self._check_memory(memory)
        if self.kind == "bahdanau":
            self._check_dtype("memory", memory)
            return self.u_a(memory)
        return memory

    # ---- one decoder step (or Q of them) ---------------------------------------------------------------

    def forward(
        self, query: Tensor, memory: Tensor, mask: Optional[Tensor] = None, keys: Optional[Tensor] = None
    ) -> Tuple[Tensor, Tensor]:
        """``query`` (B, Q, Hq) or (B, Hq), ``memory`` (B, S, Hm), ``mask`` (B, S) bool (True = real),
        ``keys`` from :meth:`precompute` (computed here if None) -> ``context`` (B, Q, Hm), ``weights``
        (B, Q, S) (without the Q dimension for a 2-D query)."""
        B, S = self._check_memory(memory)
        query = _floating("query", query)
        if query.dim() not in (2, 3) or query.shape[0] != B or query.shape[-1] != self.query_size:
            raise InvalidValueError(
                f"query must have shape ({B}, Q, {self.query_size}) or ({B}, {self.query_size}) for a memory "
                f"of batch size {B}, got {tuple(query.shape)}"
            )
        if query.dtype != memory.dtype:
            raise InvalidTypeError(f"query and memory must have one dtype, got {query.dtype} and {memory.dtype}")
        self._check_dtype("query", query)
        if mask is not None:
            self._check_mask(mask, B, S)
        if keys is None:
            keys = self.precompute(memory)
        else:
            self._check_keys(keys, B, S, memory.dtype)

        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (B, Q, Hq)
        if self.kind == "bahdanau":
            energy = torch.tanh(keys.unsqueeze(1) + self.w_a(q).unsqueeze(2))  # (B, Q, S, A)
            scores = self.v_a(energy).squeeze(-1)  # (B, Q, S)
        elif self.kind == "dot":
            scores = torch.matmul(q, keys.transpose(1, 2))  # (B, Q, Hm) @ (B, Hm, S)
        else:
            scores = torch.matmul(torch.matmul(q, self.w_a.weight), keys.transpose(1, 2))  # (h_t^T W_a) h_s
        if mask is not None:
            scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, Q, S), exactly 0 where masked
        context = torch.matmul(weights, memory)  # (B, Q, S) @ (B, S, Hm): the memory row is shared
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    # ---- checks ---------------------------------------------------------------------------------------

    def _check_memory(self, memory: Tensor) -> Tuple[int, int]:
        memory = _floating("memory", memory)
        if memory.dim() != 3 or memory.shape[-1] != self.memory_size or memory.shape[1] == 0:
            raise InvalidValueError(
                f"memory must have shape (batch, source_length >= 1, {self.memory_size}), got {tuple(memory.shape)}"
            )
        return memory.shape[0], memory.shape[1]

    def _check_dtype(self, name: str, value: Tensor) -> None:
        if self.kind == "dot":
            return
        expected = self.w_a.weight.dtype
        if value.dtype != expected:
            raise InvalidTypeError(
                f"{name} has dtype {value.dtype} but the attention's parameters are {expected}; "
                f"convert one of them (module.to({value.dtype}) or {name}.to({expected}))"
            )

    def _check_mask(self, mask: Tensor, B: int, S: int) -> None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            raise InvalidTypeError(f"mask must be a bool tensor (True = a real source position), got {describe(mask)}")
        if tuple(mask.shape) != (B, S):
            raise InvalidValueError(
                f"mask must have shape ({B}, {S}) like the memory's (B, S), got {tuple(mask.shape)}"
            )
        empty = ~mask.any(dim=1)
        if bool(empty.any()):
            rows = empty.nonzero().flatten().tolist()
            raise InvalidValueError(
                f"mask has no real source position in rows {rows[:10]}{' ...' if len(rows) > 10 else ''}: "
                "attention needs at least one position per row"
            )

    def _check_keys(self, keys: Tensor, B: int, S: int, dtype: torch.dtype) -> None:
        keys = _floating("keys", keys)
        width = self.attention_size if self.kind == "bahdanau" else self.memory_size
        if tuple(keys.shape) != (B, S, width):
            raise InvalidValueError(
                f"keys must have shape ({B}, {S}, {width}) as returned by precompute(memory), got {tuple(keys.shape)}"
            )
        if keys.dtype != dtype:
            raise InvalidTypeError(f"keys and memory must have one dtype, got {keys.dtype} and {dtype}")


class AttentionalHidden(nn.Module):
    """Luong's attentional hidden state ``h̃_t = tanh(W_c [c_t; h_t])`` (Luong et al. 2015, eq. 5).

    ``forward(context (..., Hm), hidden (..., H)) -> (..., out_size)``; both inputs share their leading
    dimensions ((B, Hm) and (B, H), or (B, Q, Hm) and (B, Q, H)). ``W_c`` (out_size, Hm + H) is
    ``w_c.weight``, without bias as in the paper. With input feeding, ``h̃_t`` is what the decoder
    predicts from and what it concatenates to the next step's input.
    """

    def __init__(self, memory_size: int, hidden_size: int, out_size: int) -> None:
        super().__init__()
        self.memory_size = positive_int("memory_size", memory_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.out_size = positive_int("out_size", out_size)
        self.w_c = nn.Linear(memory_size + hidden_size, out_size, bias=False)

    def extra_repr(self) -> str:
        return f"memory_size={self.memory_size}, hidden_size={self.hidden_size}, out_size={self.out_size}"

    def forward(self, context: Tensor, hidden: Tensor) -> Tensor:
        context, hidden = _floating("context", context), _floating("hidden", hidden)
        if context.dim() < 1 or context.shape[-1] != self.memory_size:
            raise InvalidValueError(f"context must end in memory_size={self.memory_size}, got {tuple(context.shape)}")
        if hidden.dim() < 1 or hidden.shape[-1] != self.hidden_size:
            raise InvalidValueError(f"hidden must end in hidden_size={self.hidden_size}, got {tuple(hidden.shape)}")
        if context.shape[:-1] != hidden.shape[:-1]:
            raise InvalidValueError(
                f"context and hidden must share their leading dimensions, got {tuple(context.shape)} "
                f"and {tuple(hidden.shape)}"
            )
        if context.dtype != hidden.dtype or context.dtype != self.w_c.weight.dtype:
            raise InvalidTypeError(
                f"context, hidden and the parameters must have one dtype, got {context.dtype}, {hidden.dtype} "
                f"and {self.w_c.weight.dtype}"
            )
        return torch.tanh(self.w_c(torch.cat([context, hidden], dim=-1)))
