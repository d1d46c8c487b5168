"""What the server does with one kind of model: parse a message's input, batch a step, word the output.

An endpoint sits between the protocol (:mod:`.protocol`) and the model's streaming session
(:func:`rnnkit.serving.stream`). The server asks it to

* turn a message into the elements to step (:meth:`~LanguageModelEndpoint.inputs`), refusing
  what the model cannot read with a :class:`~.protocol.ClientError`;
* run one batched step of many rows (:meth:`~LanguageModelEndpoint.batch_step`, on the model
  worker thread) and word each row's result as JSON (:meth:`~LanguageModelEndpoint.output`);
* answer one-shot ``POST /predict`` requests (:meth:`~LanguageModelEndpoint.predict`).

Served kinds: the language model (text in, the most likely next token and on request every
token's log-probability out, and generation token by token), the unidirectional classifier (the
running class probabilities of the text so far) and the unidirectional tagger (a tag per token as
it arrives). Each reads tokens through its vocabulary.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from ..._checks import InvalidTypeError, InvalidValueError, UserError, is_int
from ...models.generation import generate as generate_ids
from ...models.sampling import check_sampling_args, sample_next
from .config import MAX_GENERATE
from .protocol import NOTHING_TO_CONTINUE, UNKNOWN_TOKEN, ClientError

StepResult = Tuple[Tensor, int, float]  # (log-probs (V,), most likely next id, its probability)


class TokenEndpoint:
    """What every served kind that reads tokens shares: text (or ids) in, through the model's vocabulary."""

    kind = "model"
    can_generate = False

    def __init__(self, model) -> None:
        if getattr(model, "vocab", None) is None:
            raise InvalidValueError(
                f"this {type(model).__name__} has no vocabulary (vocab.json): the server reads text, so it serves "
                f"models of tokens (a model of real-valued inputs is streamed in Python with rnnkit.stream)"
            )
        self.model = model
        self.vocab = model.vocab
        self.vocab_size = len(model.vocab)

    def describe(self) -> Dict[str, Any]:
        return {"model_type": self.kind, "vocab_size": self.vocab_size, "level": self.vocab.level}

    def inputs(self, msg: Dict[str, Any]) -> List[int]:
        """The token ids of ``msg["input"]`` (text) or ``msg["input_ids"]``."""
        return _token_ids(self.vocab, self.vocab_size, msg)

    def predict_ids(self, msg: Dict[str, Any], allowed: set) -> List[int]:
        """The ids of a ``/predict`` body, its keys checked against ``allowed``."""
        unknown = sorted(set(msg) - allowed)
        if unknown:
            raise ClientError(f"unknown keys {unknown[:5]}; /predict takes {sorted(allowed)}")
        if ("input" in msg) == ("input_ids" in msg):
            raise ClientError("/predict takes exactly one of 'input' (text) and 'input_ids'")
        return self.inputs(msg)


class ScoresEndpoint(TokenEndpoint):
    """A model whose step gives one score per name (classes or tags): each step's result is the
    ``(K,)`` probabilities (classifier) or scores (tagger) as a list."""

    names: List[str] = []

    def batch_step(self, session, rows: List[int], ids: List[int]) -> List[List[float]]:
        y = session.step(torch.tensor(ids, dtype=torch.long), rows=rows)  # (B, K)
        return y.float().tolist()

    def _best(self, scores: List[float]) -> str:
        return self.names[max(range(len(scores)), key=scores.__getitem__)]


class ClassifierEndpoint(ScoresEndpoint):
    """A unidirectional :class:`~rnnkit.models.SequenceClassifier`: the running prediction.

    ``{"input": "it was"}`` answers ``{"output": {"label": "pos", "probs": {"neg": 0.3, "pos": 0.7}}}``:
    the class probabilities of everything this session has read so far (each label's own
    probability for a multi-label model)."""

    kind = "sequence_classifier"

    def __init__(self, model) -> None:
        super().__init__(model)
        self.names = list(model.config.labels)

    def describe(self) -> Dict[str, Any]:
        return {**super().describe(), "labels": self.names, "multi_label": self.model.config.multi_label}

    def output(self, results: List[List[float]], logprobs: bool = False) -> Dict[str, Any]:
        probs = results[-1]
        return {"label": self._best(probs), "probs": {n: round(p, 6) for n, p in zip(self.names, probs)}}

    @torch.no_grad()
    def predict(self, msg: Dict[str, Any]) -> Dict[str, Any]:
        """``{"input": text}``: the class probabilities of the whole text, in one model call."""
        ids = self.predict_ids(msg, {"input", "input_ids"})
        probs = self.model.predict_proba(torch.tensor([ids], dtype=torch.long))[0].float().tolist()
        return {"output": self.output([probs]), "tokens": len(ids)}


class TaggerEndpoint(ScoresEndpoint):
    """A unidirectional :class:`~rnnkit.models.SequenceTagger`: one tag per token, as it arrives.

    ``{"input": "Alice likes"}`` answers ``{"output": {"tags": ["B-PER", "O"]}}``: each token's
    highest-scoring tag. A CRF tagger's joint (Viterbi) decoding needs the finished sentence: over
    the stream it answers per token, and ``POST /predict`` gives the joint decoding."""

    kind = "sequence_tagger"

    def __init__(self, model) -> None:
        super().__init__(model)
        self.names = list(model.config.tags)

    def describe(self) -> Dict[str, Any]:
        return {**super().describe(), "tags": self.names, "crf": getattr(self.model, "crf", None) is not None}

    def output(self, results: List[List[float]], logprobs: bool = False) -> Dict[str, Any]:
        return {"tags": [self._best(scores) for scores in results]}

    @torch.no_grad()
    def predict(self, msg: Dict[str, Any]) -> Dict[str, Any]:
        """``{"input": text}``: the tags of the whole text (the CRF's joint decoding when it has one)."""
        ids = self.predict_ids(msg, {"input", "input_ids"})
        tags = self.model.decode(torch.tensor([ids], dtype=torch.long))[0]
        return {"output": {"tags": [self.names[t] for t in tags]}, "tokens": len(ids)}


class LanguageModelEndpoint(TokenEndpoint):
    """A :class:`~rnnkit.models.LanguageModel` with its vocabulary, served one token per step.

    ``{"input": "abc"}`` steps the three characters (tokens of the model's tokenizer) in order and
    answers ``{"output": {"next": "d", "prob": 0.41}, "step": n, "tokens": 3}`` for the last one;
    ``"logprobs": true`` adds the V log-probabilities of the next token (natural log)."""

    kind = "language_model"
    can_generate = True

    def __init__(self, model) -> None:
        super().__init__(model)
        self.special_ids = torch.tensor(self.vocab.special_ids, dtype=torch.long)

    def describe(self) -> Dict[str, Any]:
        c = self.model.config
        return {
            "model_type": self.kind,
            "cell": c.cell,
            "hidden_size": c.hidden_size,
            "num_layers": c.num_layers,
            "vocab_size": c.vocab_size,
            "level": self.vocab.level,
        }

    # ---- messages ----------------------------------------------------------------------------
    def output(self, results: List[StepResult], logprobs: bool = False) -> Dict[str, Any]:
        """The reply to a message whose tokens gave ``results`` (one per token): the last one's."""
        logp, best, prob = results[-1]
        out: Dict[str, Any] = {"next": self.vocab.token_of(best), "prob": round(prob, 6)}
        if logprobs:
            out["logprobs"] = logp.tolist()
        return out

    # ---- the batched step (model worker thread) ----------------------------------------------
    def batch_step(self, session, rows: List[int], ids: List[int]) -> List[StepResult]:
        x = torch.tensor(ids, dtype=torch.long)  # (B,)
        logits = session.step(x, rows=rows)  # (B, V)
        logp = torch.log_softmax(logits.float(), dim=-1)  # (B, V)
        best_logp, best = logp.max(dim=-1)  # (B,), (B,)
        probs = best_logp.exp().tolist()
        return [(logp[i], b, p) for i, (b, p) in enumerate(zip(best.tolist(), probs))]

    # ---- generation --------------------------------------------------------------------------
    def generation(self, msg: Dict[str, Any]) -> Tuple[int, float, Optional[int], Optional[float], Optional[int]]:
        """``(n, temperature, top_k, top_p, seed)`` of a ``generate`` message, checked."""
        n = msg["generate"]
        if not is_int(n) or not 1 <= n <= MAX_GENERATE:
            raise ClientError(f"'generate' is a number of tokens in [1, {MAX_GENERATE}], got {_short(n)}")
        temperature = msg.get("temperature", 1.0)
        top_k, top_p, seed = msg.get("top_k"), msg.get("top_p"), msg.get("seed")
        try:
            check_sampling_args(temperature, top_k, top_p)
        except (InvalidValueError, InvalidTypeError) as err:
            raise ClientError(str(err)) from None
        if seed is not None and (not is_int(seed) or seed < 0):
            raise ClientError(f"'seed' is an int >= 0, got {_short(seed)}")
        return int(n), float(temperature), top_k, top_p, seed

    def sample(self, result: Optional[StepResult], temperature, top_k, top_p, generator) -> int:
        """The next token after ``result`` (specials such as <unk> are never generated)."""
        if result is None:
            raise ClientError("nothing to continue: send some input before asking to generate", NOTHING_TO_CONTINUE)
        logp = result[0].index_fill(0, self.special_ids, float("-inf")) if len(self.special_ids) else result[0]
        return int(sample_next(logp, temperature, top_k, top_p, generator))

    def continuation(self, after: str):
        return self.vocab.tokenizer.continuation(after)

    # ---- one-shot requests (model worker thread) ---------------------------------------------
    @torch.no_grad()
    def predict(self, msg: Dict[str, Any]) -> Dict[str, Any]:
        """``{"input": text}`` (or ``input_ids``), optionally ``"generate": N`` with the sampling
        options: the output after the whole input, from a fresh state, and the generated text."""
        allowed = {"input", "input_ids", "logprobs", "generate", "temperature", "top_k", "top_p", "seed"}
        ids = self.predict_ids(msg, allowed)
        gen = self.generation(msg) if "generate" in msg else None
        logits, _ = self.model(torch.tensor([ids], dtype=torch.long))  # (1, T, V)
        logp = torch.log_softmax(logits[0, -1].float(), dim=-1)  # (V,)
        best_logp, best = logp.max(dim=-1)
        reply = {
            "output": self.output([(logp, int(best), math.exp(float(best_logp)))], msg.get("logprobs") is True),
            "tokens": len(ids),
        }
        if gen is not None:
            n, temperature, top_k, top_p, seed = gen
            new = generate_ids(
                self.model, ids, n, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                suppress_ids=self.vocab.special_ids,
            )  # fmt: skip
            cont = self.continuation(msg.get("input", ""))
            reply["generated"] = "".join(cont.push(self.vocab.token_of(i)) for i in new) + cont.flush()
        return reply


def _token_ids(vocab, vocab_size: int, msg: Dict[str, Any]) -> List[int]:
    """The token ids of ``msg["input"]`` (text) or ``msg["input_ids"]``; a ClientError for anything else."""
    if "input" in msg:
        text = msg["input"]
        if not isinstance(text, str) or not text:
            raise ClientError(f"'input' is non-empty text, got {_short(text)}")
        try:
            ids = vocab.encode(text, unknown="error")
        except UserError as err:
            raise ClientError(f"cannot read the input: {err}", UNKNOWN_TOKEN) from None
        if not ids:
            raise ClientError(f"the input {text[:40]!r} holds no token of this model", UNKNOWN_TOKEN)
        return ids
    ids = msg["input_ids"]
    if not isinstance(ids, list) or not ids or not all(is_int(i) for i in ids):
        raise ClientError(f"'input_ids' is a non-empty list of token ids (ints), got {_short(ids)}")
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise ClientError(
            f"token ids {bad[:5]} are outside the vocabulary: expected 0 <= id < {vocab_size}", UNKNOWN_TOKEN
        )
    return [int(i) for i in ids]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def endpoint_for(model):
    """The endpoint serving ``model``, or a UserError naming the kinds the server serves."""
    from ...models.classifier import SequenceClassifier
    from ...models.language_model import LanguageModel
    from ...models.tagger import SequenceTagger

    for cls, endpoint in (
        (LanguageModel, LanguageModelEndpoint),
        (SequenceClassifier, ClassifierEndpoint),
        (SequenceTagger, TaggerEndpoint),
    ):
        if isinstance(model, cls):
            return endpoint(model)
    raise InvalidTypeError(
        f"rnnkit serve serves language models, classifiers and taggers of tokens; got a {type(model).__name__}"
    )
