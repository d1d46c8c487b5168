"""Pictures of a run report made from the saved model: a language model's sample, gradient flow
through time on held-out data, and a seq2seq model's attention map.

Gradient flow (:func:`~.gradient_flow.record_gradient_flow`, eval mode) is measured on data the run
folder itself points to, so ``rnnkit report`` can draw it long after training:

* language model: ``B = 8`` windows of ``T = min(bptt, 200)`` tokens from the start of the
  validation text (the last ``val_fraction`` of the corpus named in ``run_settings.json``, if it is
  still there and unchanged: its sha256 is checked), each run from a zero state. The loss is the
  cross-entropy of the *last* step's prediction only, so ``||dL/dh_t||`` shows how much of the
  gradient from step T reaches step t: the vanishing-gradient picture;
* tagger: the test sentences of ``test_predictions.jsonl`` (tokens, gold tags), loss the model's own;
* seq2seq: the test pairs of ``test_predictions.tsv`` (source, reference), teacher-forced loss.

The model is loaded once. A damaged weights or vocabulary file raises the loader's
:class:`~rnnkit._checks.FileFormatError` (the report names it and stops); anything else that keeps
a picture from being drawn (the corpus was moved, no test predictions) becomes the picture's
stated absence.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, List, Optional

import torch

from .report_pictures import Picture
from .report_run import RunFiles, read_jsonl, read_lines

__all__ = ["model_pictures"]

SAMPLE_LENGTH = 300  # tokens of a language model's sample (as `train lm` prints)
FLOW_BATCH = 8
FLOW_STEPS = 200
TEST_EXAMPLES = 16
FLOW_TITLE = "Gradient flow through time"


def model_pictures(run: RunFiles) -> List[Any]:
    """The pictures made from the model of ``run`` (see the module docstring)."""
    kind = run.model_type
    if kind == "language_model":
        from ..models.language_model import LanguageModel

        model = LanguageModel.from_folder(run.model)
        return [_attempt("Sample", lambda: _lm_sample(run, model)), _attempt(FLOW_TITLE, lambda: _lm_flow(run, model))]
    if kind == "sequence_tagger":
        from ..models.tagger import SequenceTagger

        model = SequenceTagger.from_folder(run.model)
        return [_attempt(FLOW_TITLE, lambda: _tagger_flow(run, model))]
    if kind == "seq2seq":
        from ..models.seq2seq.model import Seq2Seq

        model = Seq2Seq.from_folder(run.model)
        pairs = _test_pairs(run)
        return [
            _attempt("Attention map", lambda: _attention(model, pairs)),
            _attempt(FLOW_TITLE, lambda: _seq2seq_flow(model, pairs)),
        ]
    return []


class _Absent(Exception):
    """A picture cannot be made; the message says why."""


def _attempt(title: str, make: Callable[[], Any]) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return make()
    except _Absent as why:
        return Picture(title, absent=str(why))
    except Exception as err:  # a picture that fails must not cost the report (or the run)
        return Picture(title, absent=f"it could not be drawn: {type(err).__name__}: {err}")


def _flow_picture(model: torch.nn.Module, loss_fn, caption: str) -> Picture:
    from ..layers import Recurrent
    from .figures import png_bytes
    from .gradient_flow import record_gradient_flow
    from .gradient_plots import plot_gradient_flow

    with torch.enable_grad():
        flow = record_gradient_flow(model, loss_fn)
    directions = max(m.num_directions for m in model.modules() if isinstance(m, Recurrent))
    fig = plot_gradient_flow(flow, title="", directions=directions)
    return Picture(FLOW_TITLE, caption + f" (loss {flow.loss:.4g})", png=png_bytes(fig))


# ---- language model ------------------------------------------------------------------------------


def _lm_sample(run: RunFiles, model) -> Any:
    from ..models.generation import stream_text
    from .report_sections import Text

    if model.vocab is None:
        raise _Absent("the model folder holds no vocab.json")
    seed = run.part("run_settings.json", "recipe").get("seed", 0)
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0
    text = "".join(stream_text(model.eval(), "\n", SAMPLE_LENGTH, temperature=0.8, seed=seed))
    return Text(
        text, title="Sample", caption=f"{SAMPLE_LENGTH} tokens sampled from the model (temperature 0.8, seed {seed})"
    )


def _corpus(run: RunFiles) -> str:
    from ..data import default_corpus, read_text

    path = run.part("run_settings.json", "recipe").get("text")
    if path is None:
        text = default_corpus()
    else:
        if not Path(str(path)).is_file():
            raise _Absent(f"the corpus {path} is no longer there")
        text = read_text(path)
    expected = run.part("run_settings.json", "corpus").get("sha256")
    if expected and hashlib.sha256(text.encode("utf-8")).hexdigest() != expected:
        raise _Absent(f"the corpus {path or '(default)'} has changed since the run (its sha256 differs)")
    return text


def _lm_flow(run: RunFiles, model) -> Picture:
    from ..data import split_train_val

    if model.vocab is None:
        raise _Absent("the model folder holds no vocab.json")
    recipe = run.part("run_settings.json", "recipe")
    fraction = recipe.get("val_fraction", 0.1)
    _, val_text = split_train_val(_corpus(run), fraction if isinstance(fraction, float) else 0.1)
    ids = torch.tensor(model.vocab.encode(val_text, unknown="replace"), dtype=torch.long)
    bptt = recipe.get("bptt", FLOW_STEPS)
    steps = min(bptt if isinstance(bptt, int) and bptt > 1 else FLOW_STEPS, FLOW_STEPS, len(ids) - 1)
    batch = min(FLOW_BATCH, (len(ids) - 1) // max(steps, 1))
    if steps < 2 or batch < 1:
        raise _Absent("the validation text is too short for a window of two tokens")
    x = ids[: batch * steps].view(batch, steps)
    y = ids[1 : batch * steps + 1].view(batch, steps)

    def last_step_loss(m):
        logits, _ = m(x)
        return torch.nn.functional.cross_entropy(logits[:, -1], y[:, -1])

    caption = (
        f"||dL/dh_t|| of the last step's loss over {batch} windows of {steps} validation tokens: how much of "
        "the gradient from the last step reaches step t"
    )
    return _flow_picture(model, last_step_loss, caption)


# ---- tagger ------------------------------------------------------------------------------------


def _tagger_flow(run: RunFiles, model) -> Picture:
    docs = read_jsonl(run.folder / "test_predictions.jsonl", TEST_EXAMPLES)
    if not docs:
        raise _Absent("the run folder holds no test_predictions.jsonl to measure it on")
    vocab, tags = model.vocab, list(model.config.tags)
    unk = vocab.id_of("<unk>")
    sentences = [(d["tokens"], d["gold"]) for d in docs if isinstance(d, dict) and d.get("tokens")]
    if not sentences or vocab is None:
        raise _Absent("test_predictions.jsonl holds no sentence")
    lengths = torch.tensor([len(t) for t, _ in sentences])
    x = torch.zeros(len(sentences), int(lengths.max()), dtype=torch.long)
    y = torch.zeros_like(x)
    for i, (tokens, gold) in enumerate(sentences):
        x[i, : len(tokens)] = torch.tensor([vocab.id_of(t) if t in vocab else unk for t in tokens])
        y[i, : len(gold)] = torch.tensor([tags.index(g) if g in tags else 0 for g in gold])
    caption = f"||dL/dh_t|| of the tagging loss over {len(sentences)} test sentences"
    return _flow_picture(model, lambda m: m.loss(x, y, lengths), caption)


# ---- seq2seq -----------------------------------------------------------------------------------


def _test_pairs(run: RunFiles) -> Optional[List[tuple]]:
    lines = read_lines(run.folder / "test_predictions.tsv", TEST_EXAMPLES)
    if not lines:
        return None
    pairs = [(c[0], c[2]) for c in (line.split("\t") for line in lines) if len(c) >= 3 and c[0].strip()]
    return pairs or None


def _encode(vocab, text: str) -> List[int]:
    return vocab.encode(text, unknown="replace") or [vocab.id_of("<unk>")]


def _attention(model, pairs) -> Picture:
    from .attention_plot import plot_attention_map

    if model.attention is None:
        raise _Absent("the model has no attention (trained with --attention none)")
    if not pairs:
        raise _Absent("the run folder holds no test_predictions.tsv to draw it for")
    from ..models.seq2seq.decoding import greedy_decode

    source = pairs[0][0]
    src = torch.tensor([_encode(model.source_vocab, source)])
    hyp = greedy_decode(model, src, torch.tensor([src.shape[1]]))[0]
    if not hyp.tokens:
        raise _Absent(f"the model's output for {source!r} is empty: there is no attention to draw")
    src_tokens = [model.source_vocab.token_of(i) for i in src[0].tolist()]
    out_tokens = [model.target_vocab.token_of(i) for i in hyp.tokens]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "attention.png"
        plot_attention_map(src_tokens, out_tokens, hyp.attention, path)
        png = path.read_bytes()
    caption = "where each output token looked in the first test source (greedy decoding; rows sum to 1)"
    return Picture("Attention map", caption, png=png)


def _seq2seq_flow(model, pairs) -> Picture:
    if not pairs:
        raise _Absent("the run folder holds no test_predictions.tsv to measure it on")
    src_ids = [_encode(model.source_vocab, s) for s, _ in pairs]
    tgt_ids = [_encode(model.target_vocab, t) for _, t in pairs]
    lengths = torch.tensor([len(s) for s in src_ids])
    src = torch.zeros(len(pairs), int(lengths.max()), dtype=torch.long)
    T = max(len(t) for t in tgt_ids) + 1
    tgt_in = torch.full((len(pairs), T), model.pad_id, dtype=torch.long)
    tgt_out = torch.full((len(pairs), T), model.pad_id, dtype=torch.long)
    for i, (s, t) in enumerate(zip(src_ids, tgt_ids, strict=True)):
        src[i, : len(s)] = torch.tensor(s)
        tgt_in[i, : len(t) + 1] = torch.tensor([model.bos_id, *t])
        tgt_out[i, : len(t) + 1] = torch.tensor([*t, model.eos_id])
    caption = f"||dL/dh_t|| of the teacher-forced loss over {len(pairs)} test pairs (encoder steps)"
    return _flow_picture(model, lambda m: m.loss(m(src, lengths, tgt_in), tgt_out), caption)
