"""Decoding a :class:`~rnnkit.models.seq2seq.model.Seq2Seq`: greedy search and batched beam search.

Both run the encoder once and step the decoder for the whole batch at once (beam search: ``B * K``
hypotheses per step, the encoder output shared by the ``K`` beams of a row, never copied); there
is no Python loop over sentences. The model is used only through its decoding interface:
``encode``, ``start``, ``expand_state``, ``step``, ``reorder_state`` and ``bos_id`` / ``eos_id`` /
``pad_id``.

Definitions (one source row; ``y = y_1 .. y_n`` the output tokens, EOS not among them):

* ``log_prob(y) = sum_{t=1..n} log p(y_t | y_<t, x) + log p(EOS | y, x)``: every hypothesis is a
  complete sequence, its EOS scored. ``len(y) = n + 1`` (the tokens scored, EOS included, so never 0).
* length penalty (the ranking score): ``none``: ``log_prob``; ``avg``: ``log_prob / len^alpha``;
  ``gnmt`` (Wu et al. 2016, eq. 14): ``log_prob / ((5 + len) / 6)^alpha``.
* ``min_length <= n <= max_length``: EOS is forbidden while ``n < min_length``; after
  ``max_length`` tokens EOS is forced (at most ``max_length + 1`` decoder steps), as in fairseq.
* PAD and BOS are never generated (their log-probs are set to ``-inf``).
* ``no_repeat_ngram = m``: a token that would complete an m-gram already present in the
  hypothesis gets ``-inf``.

Beam search, one step (candidates ranked by the running ``log_prob``): the ``2K`` best of the
``K * V`` extensions of each row are taken with one ``topk`` over ``(B, K * V)``; an EOS candidate
among the first ``K`` is *finished* and moves into the row's finished list (its final score is
fixed; it is never extended again); the best ``K`` non-EOS candidates are the next live beams, and
the decoder state is reordered to them. Finished and live hypotheses are compared fairly on the
one score (OpenNMT-py #1320: a hypothesis that finished early is neither lost nor favoured).

Stopping rule: a row is done when its finished list holds ``nbest`` hypotheses and no live
hypothesis can beat the worst of them. A live hypothesis with running ``log_prob = s <= 0`` can
end with at most ``s / f(max_length + 1)`` (``f`` the penalty's denominator, nondecreasing in
``len`` for ``alpha >= 0``): its log-prob can only fall and its denominator at most grow to
``f(max_length + 1)``. For ``none`` (``f = 1``) the bound is ``s`` itself, so rows usually stop
long before ``max_length``; for ``avg`` / ``gnmt`` the bound is looser and search runs longer,
up to ``max_length`` at most. The bound is exact: stopping never changes the result compared with
running every row to ``max_length``. Decoding ends when every row is done.

With ``beam_size = 1`` and ``length_penalty = "none"`` beam search returns exactly what greedy
search returns (tokens and scores; an EOS outside the top ``K`` is not finished, as in fairseq).
With a beam at least as large as every set of candidates, beam search is exhaustive: it returns
the ``nbest`` best complete sequences (tested against enumeration on tiny vocabularies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from ..._checks import (
    InvalidTypeError,
    InvalidValueError,
    choice,
    describe,
    non_negative_float,
    non_negative_int,
    positive_int,
)

LENGTH_PENALTIES = ("none", "avg", "gnmt")
NEG_INF = float("-inf")


@dataclass
class Hypothesis:
    """One decoded output of one source row."""

    tokens: List[int]  # the output ids, no BOS and no EOS
    score: float  # the length-penalised log-prob that ranks hypotheses (== log_prob for "none" and greedy)
    log_prob: float  # sum of the log-probs of the tokens and the final EOS
    attention: Optional[Tensor] = None  # (len(tokens), source length of the row), None without attention


# ---- checks ------------------------------------------------------------------------------------


def _check_source(src: object, src_lengths: object) -> Tuple[Tensor, Tensor]:
    if not isinstance(src, Tensor) or src.dim() != 2:
        raise InvalidTypeError(f"src must be a (batch, steps) tensor of token ids, got {describe(src)}")
    lengths = torch.as_tensor(src_lengths)
    if lengths.shape != (src.shape[0],):
        raise InvalidValueError(
            f"src_lengths must hold one length per row of src ({src.shape[0]}), got {describe(lengths)}"
        )
    return src, lengths


def _check_lengths(model: Any, max_length: Optional[int], min_length: int) -> Tuple[int, int]:
    if max_length is None:
        max_length = model.config.max_target_length
    max_length = positive_int("max_length", max_length)
    min_length = non_negative_int("min_length", min_length)
    if min_length > max_length:
        raise InvalidValueError(f"min_length ({min_length}) must not exceed max_length ({max_length})")
    return max_length, min_length


# ---- pieces shared by greedy and beam search ----------------------------------------------------


def _penalty(kind: str, alpha: float, length: int) -> float:
    """The denominator ``f(len)`` of the length penalty, for ``len`` tokens scored (EOS included)."""
    if kind == "avg":
        return float(length) ** alpha
    if kind == "gnmt":
        return ((5.0 + length) / 6.0) ** alpha
    return 1.0


def _forbid(log_probs: Tensor, model: Any, step: int, min_length: int, max_length: int) -> Tensor:
    """``log_probs (..., V)`` with the tokens not allowed at output position ``step`` set to -inf."""
    eos = model.eos_id
    if step == max_length:  # the last position: only EOS
        only_eos = torch.full_like(log_probs, NEG_INF)
        only_eos[..., eos] = log_probs[..., eos]
        return only_eos
    banned = [i for i in (model.pad_id, model.bos_id) if i is not None and i != eos]
    if step < min_length:
        banned.append(eos)
    if not banned:
        return log_probs
    log_probs = log_probs.clone()
    log_probs[..., banned] = NEG_INF
    return log_probs


def _ngram_ban(history: Tensor, n: int, vocab_size: int) -> Optional[Tensor]:
    """``(R, V)`` bool: the tokens that would repeat an ``n``-gram of ``history (R, t)``; None if none can.

    The candidate n-gram is ``history[t-n+1:] + (x,)``; ``x`` is banned when an earlier window of
    ``history`` starts with the same ``n - 1`` tokens (every window for ``n = 1``).
    """
    R, t = history.shape
    if n == 0 or t < n:
        return None
    windows = history.unfold(1, n, 1)  # (R, t-n+1, n)
    prefix = history[:, t - n + 1 :]  # (R, n-1)
    match = (windows[:, :, :-1] == prefix.unsqueeze(1)).all(-1)  # (R, t-n+1)
    banned = torch.where(match, windows[:, :, -1], torch.full_like(windows[:, :, -1], vocab_size))
    ban = torch.zeros(R, vocab_size + 1, dtype=torch.bool, device=history.device)
    return ban.scatter_(1, banned, True)[:, :vocab_size]


class _eval_no_grad:
    """Run the model in eval mode without gradients, restoring its mode afterwards."""

    def __init__(self, model: Any) -> None:
        self.model, self.was_training = model, getattr(model, "training", False)
        self.no_grad = torch.no_grad()

    def __enter__(self) -> None:
        if hasattr(self.model, "eval"):
            self.model.eval()
        self.no_grad.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.no_grad.__exit__(*exc)
        if hasattr(self.model, "train"):
            self.model.train(self.was_training)


# ---- greedy -------------------------------------------------------------------------------------


def greedy_decode(
    model: Any, src: Tensor, src_lengths: Tensor, max_length: Optional[int] = None, min_length: int = 0
) -> List[Hypothesis]:
    """The most probable next token at every step, for every row at once; one hypothesis per row.

    Args:
        model: a Seq2Seq (anything with the decoding interface of the module docstring).
        src: ``(B, S)`` source ids; src_lengths: ``(B,)`` their true lengths.
        max_length: the most output tokens (EOS not counted); default ``model.config.max_target_length``.
        min_length: the fewest output tokens (EOS forbidden before).
    """
    src, src_lengths = _check_source(src, src_lengths)
    max_length, min_length = _check_lengths(model, max_length, min_length)
    B = src.shape[0]
    if B == 0:
        return []
    with _eval_no_grad(model):
        enc = model.encode(src, src_lengths)
        state = model.start(enc)
        prev = torch.full((B, 1), model.bos_id, dtype=torch.long, device=src.device)
        total: Optional[Tensor] = None  # (B,) running log-prob, in the model's dtype
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        length = torch.full((B,), max_length, dtype=torch.long, device=src.device)
        chosen: List[Tensor] = []
        weights: List[Tensor] = []
        for t in range(max_length + 1):
            log_probs, state, w = model.step(prev, state, enc)  # (B, 1, V), _, (B, 1, S)
            log_probs = _forbid(log_probs[:, 0], model, t, min_length, max_length)  # (B, V)
            best, token = log_probs.topk(1, dim=-1)  # (B, 1): the same choice as a beam of one
            if total is None:
                total = torch.zeros(B, dtype=log_probs.dtype, device=src.device)
            total = torch.where(done, total, total + best[:, 0])
            ended = ~done & (token[:, 0] == model.eos_id)
            length = torch.where(ended, torch.full_like(length, t), length)
            done = done | ended
            chosen.append(token[:, 0])
            if w is not None:
                weights.append(w[:, 0])
            if bool(done.all()):
                break
            prev = token
    tokens = torch.stack(chosen, 1).cpu()  # (B, T)
    attn = torch.stack(weights, 1).cpu() if weights else None  # (B, T, S)
    totals, lengths, src_len = total.tolist(), length.tolist(), src_lengths.tolist()
    return [
        Hypothesis(
            tokens=tokens[b, : lengths[b]].tolist(),
            score=totals[b],
            log_prob=totals[b],
            attention=None if attn is None else attn[b, : lengths[b], : int(src_len[b])],
        )
        for b in range(B)
    ]


# ---- beam search --------------------------------------------------------------------------------


def beam_search(
    model: Any,
    src: Tensor,
    src_lengths: Tensor,
    beam_size: int = 5,
    max_length: Optional[int] = None,
    min_length: int = 0,
    length_penalty: str = "none",
    alpha: float = 0.6,
    no_repeat_ngram: int = 0,
    nbest: int = 1,
) -> List[List[Hypothesis]]:
    """Batched beam search; per row the ``nbest`` best finished hypotheses, best first.

    Args:
        model, src, src_lengths, max_length, min_length: as for :func:`greedy_decode`.
        beam_size: K, the live hypotheses kept per row (>= 1).
        length_penalty: "none" | "avg" | "gnmt" (see the module docstring); alpha (>= 0) its exponent.
        no_repeat_ngram: m > 0 forbids repeating any m-gram within a hypothesis; 0 allows everything.
        nbest: how many hypotheses to return per row (1 <= nbest <= beam_size). A row gets fewer
            only if fewer complete sequences with a finite score exist.

    Shapes per step: live log-probs ``(B, K)``, candidates ``(B, K * V)``, decoder state ``B * K``
    rows ordered ``b * K + j``.
    """
    src, src_lengths = _check_source(src, src_lengths)
    max_length, min_length = _check_lengths(model, max_length, min_length)
    K = positive_int("beam_size", beam_size)
    N = positive_int("nbest", nbest)
    if N > K:
        raise InvalidValueError(f"nbest ({N}) must not exceed beam_size ({K})")
    kind = choice("length_penalty", length_penalty, LENGTH_PENALTIES)
    alpha = non_negative_float("alpha", alpha)
    ngram = non_negative_int("no_repeat_ngram", no_repeat_ngram)
    B = src.shape[0]
    if B == 0:
        return []
    with _eval_no_grad(model):
        found = _beam_loop(model, src, src_lengths, K, N, max_length, min_length, kind, alpha, ngram)
    return _hypotheses(found, src_lengths)


@dataclass
class _Finished:
    """Each row's ``N`` best finished hypotheses, sorted best first (``-inf`` score = empty slot)."""

    score: Tensor  # (B, N) penalised, float64
    log_prob: Tensor  # (B, N)
    length: Tensor  # (B, N) number of output tokens
    tokens: Tensor  # (B, N, max_length)
    attention: Optional[Tensor]  # (B, N, max_length, S)

    def merge(self, score: Tensor, log_prob: Tensor, length: Tensor, tokens: Tensor, attention: Optional[Tensor]):
        """Add candidates ``(B, C, ...)`` and keep the ``N`` best per row."""
        N = self.score.shape[1]
        self.score, keep = torch.cat([self.score, score], 1).topk(N, dim=1)  # (B, N)
        self.log_prob = torch.cat([self.log_prob, log_prob], 1).gather(1, keep)
        self.length = torch.cat([self.length, length], 1).gather(1, keep)
        T = self.tokens.shape[2]
        self.tokens = torch.cat([self.tokens, tokens], 1).gather(1, keep[..., None].expand(-1, -1, T))
        if self.attention is not None:
            S = self.attention.shape[3]
            both = torch.cat([self.attention, attention], 1)
            self.attention = both.gather(1, keep[..., None, None].expand(-1, -1, T, S))


def _beam_loop(model, src, src_lengths, K, N, max_length, min_length, kind, alpha, ngram) -> _Finished:
    """The search itself, arguments checked; returns the finished lists."""
    device, B = src.device, src.shape[0]
    rows = torch.arange(B, device=device)
    enc = model.encode(src, src_lengths)  # once; shared by the K beams of a row
    state = model.expand_state(model.start(enc), K)  # B * K rows, b * K + j
    prev = torch.full((B, K), model.bos_id, dtype=torch.long, device=device)
    tokens = torch.empty(B, K, 0, dtype=torch.long, device=device)  # (B, K, t) live histories
    attn: Optional[Tensor] = None  # (B, K, t, S)
    live: Optional[Tensor] = None  # (B, K) running log-probs
    fin: Optional[_Finished] = None
    best_possible = _penalty(kind, alpha, max_length + 1)  # f(max_length + 1)
    for t in range(max_length + 1):
        log_probs, state, w = model.step(prev, state, enc)  # (B, K, V), _, (B, K, S) or None
        V = log_probs.shape[-1]
        if live is None:  # first step: the K beams are copies; only beam 0 may expand
            live = torch.full((B, K), NEG_INF, dtype=log_probs.dtype, device=device)
            live[:, 0] = 0.0
            S = w.shape[-1] if w is not None else 0
            fin = _Finished(
                score=torch.full((B, N), NEG_INF, dtype=torch.float64, device=device),
                log_prob=torch.full((B, N), NEG_INF, dtype=log_probs.dtype, device=device),
                length=torch.zeros(B, N, dtype=torch.long, device=device),
                tokens=torch.full((B, N, max_length), model.pad_id, dtype=torch.long, device=device),
                attention=None if w is None else torch.zeros(B, N, max_length, S, dtype=w.dtype, device=device),
            )
            attn = None if w is None else w.new_zeros(B, K, 0, S)
        log_probs = _forbid(log_probs, model, t, min_length, max_length)
        ban = _ngram_ban(tokens.reshape(B * K, t), ngram, V) if t < max_length else None
        if ban is not None:
            log_probs = log_probs.masked_fill(ban.view(B, K, V), NEG_INF)

        cand = (live.unsqueeze(-1) + log_probs).view(B, K * V)
        top, index = cand.topk(min(2 * K, K * V), dim=1)  # (B, C) best first
        beam, token = index // V, index % V  # which live beam, which token
        if w is not None:
            w_cand = w.gather(1, beam[..., None].expand(-1, -1, w.shape[-1]))  # (B, C, S)

        # EOS among the first K candidates: finished, scored once and for all.
        eos = (token[:, :K] == model.eos_id) & (top[:, :K] > NEG_INF)  # (B, K)
        if bool(eos.any()):
            fin_lp = top[:, :K]
            score = (fin_lp.double() / _penalty(kind, alpha, t + 1)).masked_fill(~eos, NEG_INF)
            hist = tokens.gather(1, beam[:, :K, None].expand(-1, -1, t))  # (B, K, t)
            padded = torch.full((B, K, max_length), model.pad_id, dtype=torch.long, device=device)
            padded[:, :, :t] = hist
            fin_attn = None
            if attn is not None:
                S = attn.shape[-1]
                fin_attn = attn.new_zeros(B, K, max_length, S)
                fin_attn[:, :, :t] = attn.gather(1, beam[:, :K, None, None].expand(-1, -1, t, S))
            fin.merge(score, fin_lp, torch.full_like(beam[:, :K], t), padded, fin_attn)

        # The K best non-EOS candidates live on.
        live, pick = top.masked_fill(token == model.eos_id, NEG_INF).topk(K, dim=1)  # (B, K)
        from_beam, prev = beam.gather(1, pick), token.gather(1, pick)  # (B, K)
        state = model.reorder_state(state, (rows[:, None] * K + from_beam).view(-1))
        tokens = torch.cat([tokens.gather(1, from_beam[..., None].expand(-1, -1, t)), prev[..., None]], 2)
        if attn is not None:
            S = attn.shape[-1]
            attn = torch.cat(
                [
                    attn.gather(1, from_beam[..., None, None].expand(-1, -1, t, S)),
                    w_cand.gather(1, pick[..., None].expand(-1, -1, S)).unsqueeze(2),
                ],
                2,
            )

        # Stopping rule (module docstring): the best score any live hypothesis could still reach.
        bound = live.max(dim=1).values.double() / best_possible  # (B,)
        row_done = fin.score[:, -1] >= bound
        if bool(row_done.all()):
            break
        live = live.masked_fill(row_done[:, None], NEG_INF)  # a done row's beams produce nothing more
    return fin


def _hypotheses(fin: _Finished, src_lengths: Tensor) -> List[List[Hypothesis]]:
    """The finished lists as Python objects (on the CPU), empty slots dropped."""
    score, log_prob, length = fin.score.tolist(), fin.log_prob.tolist(), fin.length.tolist()
    tokens = fin.tokens.cpu()
    attn = fin.attention.cpu() if fin.attention is not None else None
    src_len = src_lengths.tolist()
    out: List[List[Hypothesis]] = []
    for b in range(len(score)):
        out.append(
            [
                Hypothesis(
                    tokens=tokens[b, i, : length[b][i]].tolist(),
                    score=score[b][i],
                    log_prob=log_prob[b][i],
                    attention=None if attn is None else attn[b, i, : length[b][i], : int(src_len[b])],
                )
                for i in range(len(score[b]))
                if score[b][i] > NEG_INF
            ]
        )
    return out
