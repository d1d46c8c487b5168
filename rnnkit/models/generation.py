"""Generation from a :class:`~rnnkit.models.language_model.LanguageModel`: ids or text, all at once or streamed.

The prompt is run through the model once (priming the hidden state); then each step feeds only the
token just chosen together with the carried state, so a step costs the same at token 10 and at
token 10,000 and memory stays constant (nothing is re-run, no history grows). Because the state is
carried exactly, the logits at every step equal those of one forward pass over prompt + generated
text.

Sampling options (see :mod:`rnnkit.models.sampling`): ``temperature`` (0 = greedy), ``top_k``,
``top_p``; ``seed`` makes the sample reproducible (same seed, same model, same device -> same ids).
``suppress_ids`` are never generated (the text helpers suppress the special tokens such as
``<unk>`` by default).
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Union

import torch
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError, non_negative_int
from ..cells.base import State
from ..data.text_stream import as_id_tensor
from ..data.vocab import Vocabulary
from .language_model import LanguageModel
from .sampling import check_sampling_args, sample_next

PromptLike = Union[Tensor, Sequence[int]]


def _prompt_tensor(prompt_ids: PromptLike, vocab_size: int, device: torch.device):
    """``(tokens (B, T) on device, batched)``; a 1-D prompt becomes one row."""
    if isinstance(prompt_ids, Tensor) and prompt_ids.dim() == 2:
        if prompt_ids.shape[0] == 0 or prompt_ids.shape[1] == 0:
            raise InvalidValueError(f"prompt_ids must not be empty, got shape {tuple(prompt_ids.shape)}")
        rows = as_id_tensor(prompt_ids.reshape(-1), vocab_size, name="prompt_ids").view(prompt_ids.shape)
        return rows.to(device), True
    ids = as_id_tensor(prompt_ids, vocab_size, name="prompt_ids")
    if ids.numel() == 0:
        raise InvalidValueError(
            "prompt_ids is empty: generation needs at least one token to start from (for text, e.g. a newline)"
        )
    return ids.view(1, -1).to(device), False


def _make_generator(seed: Optional[int], generator: Optional[torch.Generator], device: torch.device):
    if seed is not None and generator is not None:
        raise InvalidValueError("pass seed or generator, not both")
    if seed is not None:
        return torch.Generator(device=device).manual_seed(non_negative_int("seed", seed))
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InvalidTypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def stream_generate(
    model: LanguageModel,
    prompt_ids: PromptLike,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    top_p: Optional[float] = None,
    seed: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
    condition: Optional[Tensor] = None,
    state: Optional[State] = None,
    suppress_ids: Sequence[int] = (),
) -> Iterator[Union[int, Tensor]]:
    """Yield ``length`` new token ids one at a time, carrying the state (constant memory).

    Every argument is checked when this is called, before the first id is asked for, so a bad
    value raises here rather than halfway through a printed sample.

    Args:
        model: a :class:`LanguageModel`; it runs in eval mode while generating (its mode is
            restored when the iterator finishes or is closed).
        prompt_ids: ``(T,)`` ids (a list or tensor) -> yields ints; ``(B, T)`` tensor -> yields
            ``(B,)`` tensors (B samples in parallel).
        length: how many tokens to generate (>= 0).
        temperature, top_k, top_p: see :func:`~rnnkit.models.sampling.sample_next`.
        seed: an int >= 0 that seeds a fresh ``torch.Generator`` (reproducible); or pass ``generator``.
        condition: ``(B, condition_size)`` for a conditioned model (sets the initial state).
        state: continue from this state instead of starting a sequence.
        suppress_ids: ids that are never generated.
    """
    if not isinstance(model, LanguageModel):
        raise InvalidTypeError(f"model must be a rnnkit LanguageModel, got {type(model).__name__}")
    non_negative_int("length", length)
    check_sampling_args(temperature, top_k, top_p)
    vocab_size = model.config.vocab_size
    device = next(model.parameters()).device
    tokens, batched = _prompt_tensor(prompt_ids, vocab_size, device)  # (B, T)
    gen = _make_generator(seed, generator, device)
    suppress_list = suppress_ids.tolist() if isinstance(suppress_ids, Tensor) else list(suppress_ids)
    suppress = (
        sorted(set(as_id_tensor(suppress_list, vocab_size, name="suppress_ids").tolist())) if suppress_list else []
    )
    if len(suppress) == vocab_size:
        raise InvalidValueError(f"suppress_ids bans all {vocab_size} ids; nothing could be generated")
    suppress_t = torch.tensor(suppress, dtype=torch.long, device=device)
    return _steps(model, tokens, batched, length, temperature, top_k, top_p, gen, condition, state, suppress_t)


@torch.no_grad()
def _steps(model, tokens, batched, length, temperature, top_k, top_p, gen, condition, state, suppress_t):
    """The generation loop of :func:`stream_generate`, its arguments already checked."""
    was_training = model.training
    model.eval()
    try:
        if length == 0:
            return
        logits, state = model(tokens, state, condition)  # prime with the whole prompt at once
        last = logits[:, -1]  # (B, V)
        for i in range(length):
            if suppress_t.numel():
                last = last.index_fill(-1, suppress_t, float("-inf"))
            nxt = sample_next(last, temperature, top_k, top_p, gen)  # (B,)
            yield nxt if batched else int(nxt)
            if i + 1 < length:
                logits, state = model(nxt.view(-1, 1), state)  # one step: only the new token
                last = logits[:, -1]
    finally:
        model.train(was_training)


def generate(
    model: LanguageModel,
    prompt_ids: PromptLike,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    top_p: Optional[float] = None,
    seed: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
    condition: Optional[Tensor] = None,
    state: Optional[State] = None,
    suppress_ids: Sequence[int] = (),
) -> Union[List[int], Tensor]:
    """The ``length`` new ids of :func:`stream_generate`, collected: a list of ints for a 1-D
    prompt, a ``(B, length)`` int64 tensor for a ``(B, T)`` prompt. The prompt is not included."""
    steps = list(
        stream_generate(
            model,
            prompt_ids,
            length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            generator=generator,
            condition=condition,
            state=state,
            suppress_ids=suppress_ids,
        )
    )
    if isinstance(prompt_ids, Tensor) and prompt_ids.dim() == 2:
        if not steps:
            return torch.empty(prompt_ids.shape[0], 0, dtype=torch.long)
        return torch.stack(steps, dim=1)  # (B, length)
    return steps


class _IncrementalDecoder:
    """Turn ids into text pieces as they arrive, continuing the text ``after``: the vocabulary's
    tokenizer decides how tokens join (see :meth:`~rnnkit.data.tokenizers.Tokenizer.continuation`:
    characters glue, words get a space unless a line or whitespace precedes them, byte-level BPE
    waits for a multi-byte character's last byte)."""

    def __init__(self, vocab: Vocabulary, after: str = "") -> None:
        self.vocab = vocab
        self.continuation = vocab.tokenizer.continuation(after)

    def push(self, i: int) -> str:
        return self.continuation.push(self.vocab.token_of(i))

    def flush(self) -> str:
        return self.continuation.flush()


def stream_text(
    model: LanguageModel,
    prompt: str,
    length: int,
    *,
    vocab: Optional[Vocabulary] = None,
    unknown: Optional[str] = None,
    suppress_specials: bool = True,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    top_p: Optional[float] = None,
    seed: Optional[int] = None,
    condition: Optional[Tensor] = None,
) -> Iterator[str]:
    """Yield the text of ``length`` generated tokens piece by piece (batch 1).

    The prompt is encoded with ``vocab`` (default: ``model.vocab``) under its unknown-token policy
    (override with ``unknown``): ``"replace"`` maps unknown characters to ``<unk>`` and warns naming
    them. With ``suppress_specials`` no special token (``<unk>``) is generated. The pieces continue
    the prompt: ``prompt + "".join(pieces)`` reads as one text (at word level the first piece starts
    with a space unless the prompt ends in whitespace).

    The arguments are checked and the prompt encoded (with its warning) when this is called, before
    the first piece is asked for.
    """
    vocab = vocab if vocab is not None else model.vocab
    if not isinstance(vocab, Vocabulary):
        raise InvalidValueError("no vocabulary: pass vocab= or use a model that holds one (model.vocab)")
    if len(vocab) != model.config.vocab_size:
        raise InvalidValueError(
            f"the vocabulary has {len(vocab)} tokens but the model's vocab_size is {model.config.vocab_size}"
        )
    if not isinstance(prompt, str) or not prompt:
        raise InvalidValueError(f"prompt must be a non-empty str (e.g. a newline), got {prompt!r}")
    ids = vocab.encode(prompt, unknown=unknown)
    if not ids:
        raise InvalidValueError(f"the prompt {prompt!r} encodes to no tokens (all unknown and skipped)")
    steps = stream_generate(
        model,
        ids,
        length,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        condition=condition,
        suppress_ids=vocab.special_ids if suppress_specials else (),
    )
    return _pieces(steps, _IncrementalDecoder(vocab, after=prompt))


def _pieces(steps: Iterator[int], decoder: _IncrementalDecoder) -> Iterator[str]:
    for i in steps:
        piece = decoder.push(i)
        if piece:
            yield piece
    tail = decoder.flush()
    if tail:
        yield tail


def generate_text(model: LanguageModel, prompt: str, length: int, **options) -> str:
    """The text of :func:`stream_text` joined: ``length`` generated tokens after ``prompt``. The
    prompt itself is not included, and ``prompt + generate_text(...)`` reads as one text. Takes the
    same keyword options."""
    return "".join(stream_text(model, prompt, length, **options))
