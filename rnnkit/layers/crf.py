"""Linear-chain conditional random field: the loss and the decoder on top of a tagger's per-step scores.

Lafferty, McCallum & Pereira (2001), "Conditional Random Fields: Probabilistic Models for Segmenting
and Labeling Sequence Data". The layer below (a bidirectional RNN and a linear map) gives emissions
``x_t[j]``, the score of tag ``j`` at step ``t``; the CRF adds learned scores for tag pairs, so a tag
sequence is judged as a whole. For a sequence of ``n`` steps and tags ``y = (y_0, ..., y_{n-1})``::

    s(x, y) = start[y_0] + sum_{t=0}^{n-1} x_t[y_t] + sum_{t=1}^{n-1} A[y_{t-1}, y_t] + end[y_{n-1}]
    p(y | x) = exp(s(x, y)) / Z(x),        log Z(x) = logsumexp over all K^n sequences y' of s(x, y')

``A = transitions``, ``A[i, j]`` the score of tag ``i`` followed by tag ``j``. The forward algorithm
computes ``log Z`` in O(n K^2) instead of O(K^n)::

    alpha_0[j] = start[j] + x_0[j]
    alpha_t[j] = logsumexp_i (alpha_{t-1}[i] + A[i, j]) + x_t[j]
    log Z      = logsumexp_j (alpha_{n-1}[j] + end[j])

Viterbi is the same recursion with ``max`` for ``logsumexp`` and back-pointers; k-best Viterbi keeps
the k best partial paths per (step, tag), which is exact: a path among the k best ending in tag ``j``
at step ``t`` extends a path among the k best ending in its previous tag at step ``t - 1``.

**The loss is the NEGATIVE log-likelihood.** ``forward`` returns ``-log p(y | x) = log Z(x) - s(x, y)``,
which is >= 0: minimise it. (pytorch-crf's ``CRF.forward`` returns the log-likelihood, which must be
*maximised*; its users keep minimising it by mistake: pytorch-crf issues #27, #81, #124.)

Lengths. Every batched entry point takes a ``mask`` (B, T) bool or ``lengths`` (B,): each sequence's
valid steps are a contiguous prefix ``0 .. n-1``, and ``n`` may be 0 (an empty sequence: one path of
score 0, so its loss is 0 and it decodes to ``[]``). A mask with holes (a valid step after an
invalid one) is refused: a chain over non-adjacent steps is not defined. Emissions and tags at
padded steps are never read (tags there may hold anything, e.g. -100), and padded emissions get
exactly zero gradient even when they hold NaN.

Constraints. ``constraints`` (a (K, K) bool matrix of allowed transitions, or :class:`TagConstraints`
from :func:`bio_constraints` / :func:`bioes_constraints`, which also say which tags may start and
end a sequence) give every forbidden transition, start and end the score ``IMPOSSIBLE`` in the
likelihood and ``-inf`` in decoding: forbidden paths have probability exactly 0 and are never
decoded (no ``I-PER`` after ``O``). ``IMPOSSIBLE = -1e30`` is a finite stand-in for ``-inf``: its
``exp`` underflows to exactly 0, while ``logsumexp`` over a step no allowed path reaches (and the
gradient through it) stays finite, where ``-inf`` would give NaN. A gold tag sequence that the
constraints forbid has likelihood 0; ``forward`` refuses it, naming the row and step.

Ties in decoding are broken deterministically: among paths of equal score the one that comes first
in lexicographic order of tag indices wins (the order of :func:`itertools.product`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, boolean, choice, describe, is_int, positive_int

__all__ = ["LinearChainCRF", "TagConstraints", "bio_constraints", "bioes_constraints", "IMPOSSIBLE"]

IMPOSSIBLE = -1e30  # the score of a forbidden transition/start/end in the likelihood (see the module docstring)
REDUCTIONS = ("mean", "token_mean", "sum", "none")

LengthsLike = Union[Tensor, np.ndarray, Sequence[int]]


# ---- constraints for tag schemes ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq=False: tensors have no single truth value
class TagConstraints:
    """Which tag sequences a CRF may produce. ``transitions[i, j]``: tag ``j`` may follow tag ``i``;
    ``start[j]``: a sequence may begin with ``j``; ``end[j]``: a sequence may end with ``j``."""

    transitions: Tensor  # (K, K) bool
    start: Tensor  # (K,) bool
    end: Tensor  # (K,) bool
    tag_names: Optional[Tuple[str, ...]] = None  # for error messages naming tags, not indices

    @property
    def num_tags(self) -> int:
        return int(self.transitions.shape[0])


def _parse_tags(tag_names: object, scheme: str) -> List[Tuple[str, Optional[str]]]:
    """``[(prefix, type), ...]`` for names like ``"O"``, ``"B-PER"``; refuses anything else."""
    prefixes = scheme[:-1] if scheme == "BIO" else "BIES"  # the letters that take a type
    if isinstance(tag_names, str) or not isinstance(tag_names, Sequence):
        raise InvalidTypeError(f"tag_names must be a list of {scheme} tag strings, got {describe(tag_names)}")
    if len(tag_names) == 0:
        raise InvalidValueError(f"tag_names is empty: expected the {scheme} tag names, e.g. ['O', 'B-PER', 'I-PER']")
    expected = "'O' or " + ", ".join(f"'{p}-TYPE'" for p in prefixes)
    parsed, seen = [], {}
    for index, name in enumerate(tag_names):
        if not isinstance(name, str):
            raise InvalidTypeError(f"tag_names[{index}] must be a string, got {describe(name)}")
        if name in seen:
            raise InvalidValueError(f"tag_names has {name!r} twice (at {seen[name]} and {index})")
        seen[name] = index
        prefix, dash, kind = name.partition("-")
        if name == "O":
            parsed.append(("O", None))
        elif dash and prefix in prefixes and kind:
            parsed.append((prefix, kind))
        else:
            raise InvalidValueError(f"tag_names[{index}] = {name!r} is not a {scheme} tag: expected {expected}")
    return parsed


def bio_constraints(tag_names: Sequence[str]) -> TagConstraints:
    """Allowed transitions, starts and ends of the BIO (IOB2) scheme for ``tag_names`` (index = tag id).

    ``I-X`` may follow only ``B-X`` or ``I-X`` and may not start a sequence; ``O`` and ``B-Y`` may
    follow anything; every tag may end a sequence.
    """
    tags = _parse_tags(tag_names, "BIO")
    K = len(tags)
    allowed = torch.zeros(K, K, dtype=torch.bool)
    for i, (p_prev, t_prev) in enumerate(tags):
        for j, (p_next, t_next) in enumerate(tags):
            allowed[i, j] = p_next in ("O", "B") or (p_prev in ("B", "I") and t_prev == t_next)
    start = torch.tensor([p != "I" for p, _ in tags])
    return TagConstraints(allowed, start, torch.ones(K, dtype=torch.bool), tuple(tag_names))


def bioes_constraints(tag_names: Sequence[str]) -> TagConstraints:
    """Allowed transitions, starts and ends of the BIOES (BILOU) scheme for ``tag_names``.

    Inside an entity (after ``B-X`` or ``I-X``) only ``I-X`` or ``E-X`` may follow; outside one
    (at the start, after ``O``, ``E-Y`` or ``S-Y``) only ``O``, ``B-Y`` or ``S-Y``. A sequence may
    end only outside an entity: with ``O``, ``E-X`` or ``S-X``.
    """
    tags = _parse_tags(tag_names, "BIOES")
    K = len(tags)
    opens = [p in ("B", "I") for p, _ in tags]  # an entity is open after this tag
    allowed = torch.zeros(K, K, dtype=torch.bool)
    for i, (_, t_prev) in enumerate(tags):
        for j, (p_next, t_next) in enumerate(tags):
            continues = p_next in ("I", "E")
            allowed[i, j] = (opens[i] and continues and t_prev == t_next) or (not opens[i] and not continues)
    start = torch.tensor([p in ("O", "B", "S") for p, _ in tags])
    end = torch.tensor([not o for o in opens])
    return TagConstraints(allowed, start, end, tuple(tag_names))


def _as_constraints(constraints: object, num_tags: int) -> TagConstraints:
    if constraints is None:
        full = torch.ones(num_tags, num_tags, dtype=torch.bool)
        return TagConstraints(full, full[0].clone(), full[0].clone())
    if not isinstance(constraints, TagConstraints):
        matrix = constraints
        if isinstance(matrix, (list, tuple)):
            try:
                matrix = torch.tensor(matrix) if len(matrix) else torch.zeros(0, dtype=torch.bool)
            except (TypeError, ValueError) as err:
                raise InvalidValueError(f"constraints must be a (num_tags, num_tags) bool matrix: {err}") from None
        elif isinstance(matrix, np.ndarray):
            matrix = torch.from_numpy(matrix)
        if not isinstance(matrix, Tensor):
            raise InvalidTypeError(
                "constraints must be a (num_tags, num_tags) bool matrix of allowed transitions or a TagConstraints "
                f"(bio_constraints / bioes_constraints), got {describe(constraints)}"
            )
        ones = torch.ones(num_tags, dtype=torch.bool)
        constraints = TagConstraints(matrix, ones, ones.clone())
    for name, value, shape in [
        ("constraints transitions", constraints.transitions, (num_tags, num_tags)),
        ("constraints start", constraints.start, (num_tags,)),
        ("constraints end", constraints.end, (num_tags,)),
    ]:
        if not isinstance(value, Tensor) or value.dtype != torch.bool:
            raise InvalidTypeError(f"{name} must be a bool tensor of shape {shape}, got {describe(value)}")
        if tuple(value.shape) != shape:
            raise InvalidValueError(
                f"{name} must have shape {shape} for num_tags={num_tags}, got shape {tuple(value.shape)}"
            )
    if not bool(constraints.start.any()) or not bool(constraints.end.any()):
        raise InvalidValueError("constraints allow no tag to start or no tag to end a sequence")
    names = constraints.tag_names
    if names is not None and len(names) != num_tags:
        raise InvalidValueError(f"constraints name {len(names)} tags but num_tags is {num_tags}")
    return constraints


# ---- the layer ---------------------------------------------------------------------------------


class LinearChainCRF(nn.Module):
    """A linear-chain CRF over ``num_tags`` tags (equations in the module docstring).

    Parameters: ``start_transitions`` (K), ``end_transitions`` (K), ``transitions`` (K, K) with
    ``transitions[i, j]`` the score of tag ``i`` followed by tag ``j``. Buffers (in the state dict, so
    constraints travel with the weights): ``allowed_transitions`` (K, K), ``allowed_start`` (K),
    ``allowed_end`` (K), all bool, all True without constraints.

    Shapes with ``batch_first=True`` (the default): emissions (B, T, K) float, tags (B, T) integer,
    mask (B, T) bool, lengths (B,); with ``batch_first=False`` emissions (T, B, K), tags and mask (T, B).
    Computation runs in float32 at least (float16/bfloat16 emissions are upcast) or in float64.

    ``forward`` returns the NEGATIVE log-likelihood, >= 0, a loss to minimise.
    """

    def __init__(self, num_tags: int, batch_first: bool = True, constraints: object = None) -> None:
        super().__init__()
        self.num_tags = positive_int("num_tags", num_tags)
        self.batch_first = boolean("batch_first", batch_first)
        rules = _as_constraints(constraints, self.num_tags)
        self.tag_names = rules.tag_names
        self.start_transitions = nn.Parameter(torch.empty(self.num_tags))  # (K,)
        self.end_transitions = nn.Parameter(torch.empty(self.num_tags))  # (K,)
        self.transitions = nn.Parameter(torch.empty(self.num_tags, self.num_tags))  # (K, K) from i to j
        self.register_buffer("allowed_transitions", rules.transitions.clone())
        self.register_buffer("allowed_start", rules.start.clone())
        self.register_buffer("allowed_end", rules.end.clone())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in [-0.1, 0.1], as pytorch-crf: small, so the emissions decide at first."""
        for p in (self.start_transitions, self.end_transitions, self.transitions):
            nn.init.uniform_(p, -0.1, 0.1)

    def extra_repr(self) -> str:
        constrained = not bool(self.allowed_transitions.all() and self.allowed_start.all() and self.allowed_end.all())
        return f"num_tags={self.num_tags}, batch_first={self.batch_first}, constrained={constrained}"

    # ---- public entry points ----

    def forward(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Optional[Tensor] = None,
        reduction: str = "mean",
        *,
        lengths: Optional[LengthsLike] = None,
    ) -> Tensor:
        """The NEGATIVE log-likelihood ``log Z(x) - s(x, y)`` of ``tags``: >= 0, minimise it.

        ``reduction``: ``"mean"`` over the B sequences (empty ones count, with loss 0), ``"token_mean"``
        the sum divided by the number of valid steps, ``"sum"``, or ``"none"`` for the (B,) losses.
        """
        reduction = choice("reduction", reduction, REDUCTIONS)
        x, mask, n = self._prepare(emissions, mask, lengths)
        tags = self._check_tags(tags, x.shape, mask)
        self._check_allowed(tags, mask, n)
        nll = self._log_partition(x, mask, n) - self._score(x, tags, mask, n)  # (B,)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        return nll.sum() / n.sum().clamp(min=1)

    def log_partition(
        self, emissions: Tensor, mask: Optional[Tensor] = None, *, lengths: Optional[LengthsLike] = None
    ) -> Tensor:
        """``log Z(x)`` per sequence, (B,), by the forward algorithm (0 for an empty sequence)."""
        x, mask, n = self._prepare(emissions, mask, lengths)
        return self._log_partition(x, mask, n)

    def score(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Optional[Tensor] = None,
        *,
        lengths: Optional[LengthsLike] = None,
    ) -> Tensor:
        """The unnormalised path score ``s(x, y)`` per sequence, (B,); a path the constraints forbid
        gets ``IMPOSSIBLE`` (-1e30) per forbidden transition, start or end."""
        x, mask, n = self._prepare(emissions, mask, lengths)
        return self._score(x, self._check_tags(tags, x.shape, mask), mask, n)

    def decode(
        self, emissions: Tensor, mask: Optional[Tensor] = None, *, lengths: Optional[LengthsLike] = None
    ) -> List[List[int]]:
        """The most likely tag sequence of each sequence (Viterbi): a list of B lists of tag ids,
        each as long as its sequence (``[]`` for an empty one)."""
        return [best[0][0] for best in self.decode_topk(emissions, mask, 1, lengths=lengths)]

    def decode_topk(
        self,
        emissions: Tensor,
        mask: Optional[Tensor] = None,
        k: int = 5,
        *,
        lengths: Optional[LengthsLike] = None,
    ) -> List[List[Tuple[List[int], float]]]:
        """The ``k`` best tag sequences of each sequence with their scores ``s(x, y)``, best first.

        Exact k-best Viterbi. Fewer than ``k`` come back when fewer sequences exist (``K**n``, or
        fewer under constraints); an empty sequence gives ``[([], 0.0)]``. Scores are unnormalised:
        ``score - log_partition`` is the log-probability.
        """
        k = positive_int("k", k)
        x, mask, n = self._prepare(emissions, mask, lengths)
        with torch.no_grad():
            paths, scores = self._kbest(x, mask, k)  # (B, k, T), (B, k)
        paths, scores, n = paths.cpu(), scores.cpu(), n.cpu()
        results = []
        for b in range(x.shape[0]):
            length = int(n[b])
            if length == 0:
                results.append([([], 0.0)])
                continue
            found = [(paths[b, r, :length].tolist(), float(scores[b, r])) for r in range(k) if scores[b, r] > -np.inf]
            if not found:
                raise InvalidValueError(f"the constraints allow no tag sequence of length {length} (sequence {b})")
            results.append(found)
        return results

    # ---- input checks ----

    def _prepare(self, emissions: object, mask: object, lengths: object) -> Tuple[Tensor, Tensor, Tensor]:
        """Batch-first emissions in the compute dtype with padded steps zeroed (B, T, K), the mask
        (B, T) bool and the lengths (B,) int64, all on the emissions' device."""
        if not isinstance(emissions, Tensor):
            raise InvalidTypeError(f"emissions must be a float tensor, got {describe(emissions)}")
        layout = "(B, T, K)" if self.batch_first else "(T, B, K)"
        if emissions.ndim != 3 or emissions.shape[2] != self.num_tags:
            raise InvalidValueError(
                f"emissions must have shape {layout} with K = num_tags = {self.num_tags}, "
                f"got shape {tuple(emissions.shape)}"
            )
        if not emissions.is_floating_point():
            raise InvalidTypeError(f"emissions must be a float tensor, got {describe(emissions)}")
        x = emissions if self.batch_first else emissions.transpose(0, 1)
        B, T = x.shape[0], x.shape[1]
        mask = self._as_mask(mask, lengths, B, T, x.device)
        n = mask.sum(1)  # (B,) int64
        dtype = torch.promote_types(x.dtype, self.transitions.dtype)
        if dtype in (torch.float16, torch.bfloat16):
            dtype = torch.float32
        x = x.to(dtype).masked_fill(~mask.unsqueeze(2), 0.0)  # padded steps: never read, zero gradient
        return x, mask, n

    def _as_mask(self, mask: object, lengths: object, B: int, T: int, device: torch.device) -> Tensor:
        layout = "(B, T)" if self.batch_first else "(T, B)"
        if mask is not None and lengths is not None:
            raise InvalidValueError("give mask or lengths, not both")
        if lengths is not None:
            n = _lengths_tensor(lengths).to(device)
            if tuple(n.shape) != (B,):
                raise InvalidValueError(
                    f"lengths must have shape (B,) = ({B},), one length per sequence, got shape {tuple(n.shape)}"
                )
            if bool(((n < 0) | (n > T)).any()):
                raise InvalidValueError(f"lengths must lie in [0, T = {T}], got {n.tolist()}")
            return torch.arange(T, device=device).unsqueeze(0) < n.unsqueeze(1)  # (B, T)
        if mask is None:
            return torch.ones(B, T, dtype=torch.bool, device=device)
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            raise InvalidTypeError(f"mask must be a bool tensor of shape {layout}, got {describe(mask)}")
        mask = mask.to(device) if self.batch_first else mask.to(device).transpose(0, 1)
        if tuple(mask.shape) != (B, T):
            shown = tuple(mask.shape) if self.batch_first else tuple(mask.shape[::-1])
            want = (B, T) if self.batch_first else (T, B)
            raise InvalidValueError(f"mask must have shape {layout} = {want} like the emissions, got shape {shown}")
        holes = mask[:, 1:] & ~mask[:, :-1]  # a valid step right after an invalid one
        if bool(holes.any()):
            b, t = (int(v) for v in holes.nonzero()[0])
            raise InvalidValueError(
                f"mask row {b} has a valid step {t + 1} after an invalid step {t}: each sequence's valid steps must "
                "be a contiguous prefix (a chain over non-adjacent steps is not defined)"
            )
        return mask

    def _check_tags(self, tags: object, shape: torch.Size, mask: Tensor) -> Tensor:
        """``tags`` batch-first (B, T) int64, with padded steps set to 0; refuses ids out of range at valid steps."""
        layout = "(B, T)" if self.batch_first else "(T, B)"
        if not isinstance(tags, Tensor) or tags.is_floating_point() or tags.is_complex() or tags.dtype == torch.bool:
            raise InvalidTypeError(f"tags must be an integer tensor of shape {layout}, got {describe(tags)}")
        tags = tags.to(mask.device) if self.batch_first else tags.to(mask.device).transpose(0, 1)
        if tuple(tags.shape) != tuple(shape[:2]):
            want = tuple(shape[:2]) if self.batch_first else tuple(shape[1::-1])
            shown = tuple(tags.shape) if self.batch_first else tuple(tags.shape[::-1])
            raise InvalidValueError(f"tags must have shape {layout} = {want} like the emissions, got shape {shown}")
        tags = tags.long()
        bad = mask & ((tags < 0) | (tags >= self.num_tags))
        if bool(bad.any()):
            b, t = (int(v) for v in bad.nonzero()[0])
            raise InvalidValueError(
                f"tags[{b}, {t}] = {int(tags[b, t])} (batch-first) is not a tag id in [0, {self.num_tags})"
            )
        return tags.masked_fill(~mask, 0)

    def _check_allowed(self, tags: Tensor, mask: Tensor, n: Tensor) -> None:
        """Refuse gold tags the constraints forbid: their likelihood is 0 and their loss infinite."""
        if tags.shape[1] == 0:
            return
        last = tags.gather(1, (n - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # (B,)
        nonempty = n > 0
        checks = [
            ("starts with", ~self.allowed_start[tags[:, 0]] & nonempty),
            ("ends with", ~self.allowed_end[last] & nonempty),
        ]
        for what, bad in checks:
            if bool(bad.any()):
                b = int(bad.nonzero()[0, 0])
                tag = int(tags[b, 0] if what == "starts with" else last[b])
                raise InvalidValueError(
                    f"tags row {b} {what} {self._tag_name(tag)}, which the constraints forbid (its likelihood is 0)"
                )
        bad = ~self.allowed_transitions[tags[:, :-1], tags[:, 1:]] & mask[:, 1:]  # (B, T-1)
        if bool(bad.any()):
            b, t = (int(v) for v in bad.nonzero()[0])
            raise InvalidValueError(
                f"tags row {b} goes from {self._tag_name(int(tags[b, t]))} at step {t} to "
                f"{self._tag_name(int(tags[b, t + 1]))} at step {t + 1}, a transition the constraints forbid "
                "(its likelihood is 0; IOB1 data needs converting to BIO first)"
            )

    def _tag_name(self, tag: int) -> str:
        return f"tag {tag} ({self.tag_names[tag]!r})" if self.tag_names else f"tag {tag}"

    # ---- the computations (batch-first, checked inputs) ----

    def _constrained(self, fill: float, dtype: torch.dtype) -> Tuple[Tensor, Tensor, Tensor]:
        """start (K,), transitions (K, K), end (K,) with ``fill`` where the constraints forbid."""
        start = self.start_transitions.to(dtype).masked_fill(~self.allowed_start, fill)
        trans = self.transitions.to(dtype).masked_fill(~self.allowed_transitions, fill)
        end = self.end_transitions.to(dtype).masked_fill(~self.allowed_end, fill)
        return start, trans, end

    def _log_partition(self, x: Tensor, mask: Tensor, n: Tensor) -> Tensor:
        B, T, K = x.shape
        if T == 0:
            return x.new_zeros(B)
        start, trans, end = self._constrained(IMPOSSIBLE, x.dtype)
        steps, valid = x.unbind(1), mask.unbind(1)  # T x (B, K), T x (B,)
        alpha = start + steps[0]  # (B, K)
        for x_t, m_t in zip(steps[1:], valid[1:]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + x_t  # (B, K): sum over the previous tag
            alpha = torch.where(m_t.unsqueeze(1), nxt, alpha)  # a finished sequence keeps its alpha
        log_z = torch.logsumexp(alpha + end, dim=1)  # (B,)
        return torch.where(n > 0, log_z, torch.zeros_like(log_z))

    def _score(self, x: Tensor, tags: Tensor, mask: Tensor, n: Tensor) -> Tensor:
        B, T, K = x.shape
        if T == 0:
            return x.new_zeros(B)
        start, trans, end = self._constrained(IMPOSSIBLE, x.dtype)
        total = x.gather(2, tags.unsqueeze(2)).squeeze(2).sum(1)  # (B,): padded emissions are zero
        pairs = trans[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        total = total + torch.where(mask[:, 1:], pairs, torch.zeros_like(pairs)).sum(1)
        last = tags.gather(1, (n - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # (B,)
        ends = start[tags[:, 0]] + end[last]
        return total + torch.where(n > 0, ends, torch.zeros_like(ends))

    def _kbest(self, x: Tensor, mask: Tensor, k: int) -> Tuple[Tensor, Tensor]:
        """The k best paths (B, k, T) and their scores (B, k), best first, ties to the lexicographically
        first path; a slot with no path scores -inf. Finished sequences stay put (identity back-pointers)."""
        B, T, K = x.shape
        if T == 0:
            return torch.zeros(B, k, 0, dtype=torch.long, device=x.device), x.new_full((B, k), -np.inf)
        start, trans, end = self._constrained(-np.inf, x.dtype)
        steps, valid = x.unbind(1), mask.unbind(1)
        slots = torch.arange(K * k, device=x.device).view(1, K, k)  # flat index tag * k + slot
        score = x.new_full((B, K, k), -np.inf)
        score[:, :, 0] = start + steps[0]  # (B, K, k): one path per tag so far
        rank = slots.expand(B, K, k)  # lexicographic rank of each kept path among the B row's K*k
        stay = slots.expand(B, K, k)  # the back-pointer of a finished sequence: itself
        tag_ids = torch.arange(K, device=x.device).view(1, K, 1)
        back = []
        for x_t, m_t in zip(steps[1:], valid[1:]):
            cand = (score.unsqueeze(3) + trans.view(1, K, 1, K)).reshape(B, K * k, K).transpose(1, 2)  # (B, Kj, Ki*k)
            best, parent = _top(cand, rank.reshape(B, 1, K * k), k)  # (B, K, k): flat index of the parent path
            best = best + x_t.unsqueeze(2)
            key = rank.reshape(B, 1, K * k).expand(B, K, K * k).gather(2, parent) * K + tag_ids  # (B, K, k)
            new_rank = key.reshape(B, K * k).argsort(1).argsort(1).view(B, K, k)
            keep = m_t.view(B, 1, 1)
            score = torch.where(keep, best, score)
            rank = torch.where(keep, new_rank, rank)
            back.append(torch.where(keep, parent, stay))
        final, pick = _top((score + end.view(1, K, 1)).reshape(B, 1, K * k), rank.reshape(B, 1, K * k), k)
        cur = pick.view(B, k)  # flat index of the chosen path at the last step
        paths = torch.empty(B, k, T, dtype=torch.long, device=x.device)
        for t in range(T - 1, 0, -1):
            paths[:, :, t] = cur // k
            cur = back[t - 1].reshape(B, K * k).gather(1, cur)
        paths[:, :, 0] = cur // k
        return paths, final.view(B, k)


def _top(cand: Tensor, rank: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """The ``k`` largest of ``cand`` (..., N) along the last axis, ties to the lower ``rank`` (..., N)
    (broadcast): values and indices, best first."""
    order = rank.argsort(-1).expand(cand.shape)  # candidates in lexicographic order ...
    values, index = cand.gather(-1, order).sort(dim=-1, descending=True, stable=True)  # ... then by score, stable
    return values[..., :k], order.gather(-1, index[..., :k])


def _lengths_tensor(lengths: object) -> Tensor:
    if isinstance(lengths, np.ndarray):
        if lengths.dtype.kind not in "iu":
            raise InvalidTypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
        return torch.from_numpy(lengths.astype(np.int64))
    if isinstance(lengths, Tensor):
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise InvalidTypeError(f"lengths must hold integers, got {describe(lengths)}")
        return lengths.long()
    if isinstance(lengths, (list, tuple)) and all(is_int(v) for v in lengths):
        return torch.tensor([int(v) for v in lengths], dtype=torch.long)
    raise InvalidTypeError(f"lengths must be a list of ints or a 1-D integer tensor, got {describe(lengths)}")
