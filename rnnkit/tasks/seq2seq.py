"""Recipe: sequence to sequence -- parallel text, CMUdict grapheme-to-phoneme, synthetic tasks.

Pairs (a TSV/JSONL file, ``--dataset cmudict|addition|reverse|dates``) -> train / validation /
test -> a vocabulary per side (char, word or BPE tokens; ``<pad> <unk> <s> </s>`` first) ->
:class:`~rnnkit.models.seq2seq.Seq2Seq` -> :func:`~rnnkit.tasks.sequence_fit.fit_sequences`
(teacher forcing, or scheduled sampling with one coin per token; label smoothing; best validated
epoch; early stopping) -> the test split decoded once with beam search and scored: exact match
(against any of a source's references), token accuracy, word and token error rates, BLEU and chrF
-> ``out/`` holding the model, ``run.json``, ``metrics.json``, ``test_predictions.tsv`` and logs.

The exposure-bias figures: ``metrics.json`` also holds the test split's token accuracy when the
decoder is fed the ground truth (teacher-forced) and when it feeds on its own predictions (greedy,
free running): their gap is what scheduled sampling is meant to close.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .._checks import (
    InvalidValueError,
    choice,
    in_range,
    non_negative_int,
    optional,
    positive_float,
    positive_int,
)
from ..data.atomic import atomic_write
from ..data.vocab import Vocabulary
from ..layers import CELL_HELP, CELL_NAMES
from ..models.scheduled_sampling import SamplingSchedule, TeacherForcing
from ..models.seq2seq.model import ATTENTIONS, BOS, EOS, MODEL_TYPE, SPECIALS, Seq2Seq, Seq2SeqConfig
from .classification import RUN_FILE, _help, hash_split
from .sequence_fit import FitSettings, fit_sequences, plan_sequence_run, recipe_settings

DATASETS = ("cmudict", "addition", "reverse", "dates")
LEVELS = ("char", "word", "bpe")
# per dataset: (source level, target level, train / val / test sizes for the synthetic ones)
DATASET_LEVELS = {
    "cmudict": ("char", "word"),
    "addition": ("char", "char"),
    "reverse": ("word", "word"),
    "dates": ("char", "char"),
}
SYNTHETIC_SIZES = {
    "addition": (50_000, 2_000, 2_000),
    "reverse": (50_000, 1_000, 1_000),
    "dates": (20_000, 1_000, 1_000),
}


def parse_schedule(text: str) -> SamplingSchedule:
    """``--teacher-forcing``: ``1`` (always the ground truth; a number in [0, 1] is a constant
    ratio), ``linear:K,C,MIN``, ``exponential:K``, ``inverse-sigmoid:K`` (Bengio et al. 2015)."""
    kind, _, args = str(text).partition(":")
    try:
        if not args:
            return SamplingSchedule("constant", ratio=float(kind))
        values = [float(v) for v in args.split(",")]
        if kind == "linear" and len(values) == 3:
            return SamplingSchedule("linear", k=values[0], c=values[1], eps_min=values[2])
        if kind in ("exponential", "inverse-sigmoid") and len(values) == 1:
            return SamplingSchedule(kind.replace("-", "_"), k=values[0])
    except ValueError as err:
        raise InvalidValueError(f"--teacher-forcing {text!r}: {err}") from None
    raise InvalidValueError(
        f"--teacher-forcing must be a ratio in [0, 1], linear:K,C,MIN, exponential:K or inverse-sigmoid:K; got {text!r}"
    )


@dataclass
class Seq2SeqRecipe:
    """Everything ``rnnkit train seq2seq`` does, with its defaults (each field's help is its CLI help)."""

    pairs: Optional[str] = field(default=None, metadata=_help("Parallel text: source<TAB>target per line, or JSONL."))
    dataset: Optional[str] = field(
        default=None, metadata=_help("A named task instead: cmudict, addition, reverse, dates.")
    )
    test_pairs: Optional[str] = field(default=None, metadata=_help("A separate test file (default: 10% of --pairs)."))
    source_level: Optional[str] = field(
        default=None, metadata=_help("Source tokens: char, word or bpe (default: char; a dataset's own).")
    )
    target_level: Optional[str] = field(
        default=None, metadata=_help("Target tokens: char, word or bpe (default: char; a dataset's own).")
    )
    out: str = field(default="runs/seq2seq", metadata=_help("Run folder: model, metrics, logs."))
    attention: str = field(default="bahdanau", metadata=_help("bahdanau, dot, general or none."))
    cell: str = field(default="lstm", metadata=_help(CELL_HELP))
    embedding_size: int = field(default=64, metadata=_help("Token embedding width (both sides)."))
    hidden_size: int = field(default=256, metadata=_help("Decoder width (and each encoder direction's)."))
    num_layers: int = field(default=1, metadata=_help("Encoder and decoder layers."))
    bidirectional_encoder: bool = field(default=True, metadata=_help("Read the source both ways."))
    input_feeding: bool = field(default=False, metadata=_help("Luong's input feeding."))
    dropout: float = field(default=0.1, metadata=_help("Dropout on embeddings, between layers, before the output."))
    teacher_forcing: str = field(
        default="1", metadata=_help("1 (ground truth), a ratio, linear:K,C,MIN, exponential:K or inverse-sigmoid:K.")
    )
    label_smoothing: float = field(default=0.0, metadata=_help("Label smoothing of the training loss, in [0, 1)."))
    epochs: int = field(default=30, metadata=_help("Upper bound on epochs; early stopping usually ends sooner."))
    batch_size: int = field(default=64, metadata=_help("Pairs per update."))
    lr: float = field(default=2e-3, metadata=_help("Learning rate (AdamW)."))
    patience: int = field(default=3, metadata=_help("Epochs without a better validation loss before stopping."))
    time_budget: Optional[float] = field(default=None, metadata=_help("Optional cap in seconds of training."))
    beam: int = field(default=5, metadata=_help("Beam size for scoring the test split (1: greedy)."))
    max_length: int = field(default=0, metadata=_help("Longest output (0: 2x the longest training target + 5)."))
    train_size: int = field(default=0, metadata=_help("Synthetic datasets: training pairs (0: the task's default)."))
    seed: int = field(default=0, metadata=_help("Random seed (>= 0): the same seed gives the same model."))
    threads: Optional[int] = field(default=None, metadata=_help("CPU threads (default: the free cores)."))
    resume: bool = field(default=False, metadata=_help("Continue the run in --out exactly where it stopped."))
    overwrite: bool = field(default=False, metadata=_help("Replace the run in --out once the new one has finished."))
    progress: Optional[bool] = field(default=None, metadata=_help("Progress bar; default: only on a terminal."))

    def __post_init__(self) -> None:
        if (self.pairs is None) == (self.dataset is None):
            raise InvalidValueError("give --pairs FILE or --dataset NAME (cmudict, addition, reverse, dates), one")
        if self.dataset is not None:
            choice("--dataset", self.dataset, DATASETS)
        for name in ("source_level", "target_level"):
            optional(choice, name, getattr(self, name), LEVELS)
        parse_schedule(self.teacher_forcing)
        choice("attention", self.attention, ATTENTIONS)
        choice("cell", self.cell, CELL_NAMES)
        for name in ("embedding_size", "hidden_size", "num_layers", "epochs", "batch_size", "patience", "beam"):
            positive_int(name, getattr(self, name))
        non_negative_int("max_length", self.max_length)
        non_negative_int("train_size", self.train_size)
        in_range("dropout", self.dropout, 0, 1, high_open=True)
        in_range("label_smoothing", self.label_smoothing, 0, 1, high_open=True)
        positive_float("lr", self.lr)
        optional(positive_float, "time_budget", self.time_budget)
        non_negative_int("seed", self.seed)
        optional(positive_int, "threads", self.threads)

    def levels(self) -> Tuple[str, str]:
        default = DATASET_LEVELS.get(self.dataset, ("char", "char"))
        return self.source_level or default[0], self.target_level or default[1]


# ---- data ---------------------------------------------------------------------------------------

Pairs = Tuple[List[str], List[str]]


def load_pair_splits(recipe: Seq2SeqRecipe) -> Dict[str, Pairs]:
    """``{"train"|"val"|"test": (sources, targets)}``; a source may repeat with other targets."""
    if recipe.dataset == "cmudict":
        from ..data.cmudict import cmudict_splits

        splits = cmudict_splits(seed=recipe.seed)
    elif recipe.dataset is not None:
        from ..data.synthetic import synthetic_splits

        n_train, n_val, n_test = SYNTHETIC_SIZES[recipe.dataset]
        splits = synthetic_splits(recipe.dataset, recipe.train_size or n_train, n_val, n_test, seed=recipe.seed)
    if recipe.dataset is not None:
        return {
            s: (list(getattr(splits, s).sources), list(getattr(splits, s).targets)) for s in ("train", "val", "test")
        }
    from ..data.parallel import read_pairs

    data = read_pairs(recipe.pairs)
    which = hash_split(len(data.sources))
    if recipe.test_pairs:
        which = ["val" if w != "train" else w for w in which]
    out = {
        s: ([x for x, w in zip(data.sources, which) if w == s], [y for y, w in zip(data.targets, which) if w == s])
        for s in ("train", "val", "test")
    }
    if recipe.test_pairs:
        test = read_pairs(recipe.test_pairs)
        out["test"] = (list(test.sources), list(test.targets))
    return out


def references(sources: Sequence[str], targets: Sequence[str]) -> "OrderedDict[str, List[str]]":
    """Each distinct source with every target it has (a prediction is right if it equals any)."""
    refs: "OrderedDict[str, List[str]]" = OrderedDict()
    for s, t in zip(sources, targets):
        refs.setdefault(s, []).append(t)
    return refs


def side_vocab(texts: Sequence[str], level: str) -> Vocabulary:
    return Vocabulary.from_text(
        "\n".join(texts), level=level, specials=SPECIALS, max_size=30000 if level != "bpe" else 2000
    )


def encode(vocab: Vocabulary, text: str) -> List[int]:
    ids = vocab.encode(text, unknown="replace")
    return ids or [vocab.id_of("<unk>")]


def pair_batch(src: Sequence[List[int]], tgt: Optional[Sequence[List[int]]] = None):
    """``(src (B, S), src_lengths, tgt_in (B, T), tgt_out (B, T))``; tgt_in = <s> y, tgt_out = y </s>."""
    lengths = torch.tensor([len(x) for x in src])
    x = torch.zeros(len(src), int(lengths.max()), dtype=torch.long)
    for i, row in enumerate(src):
        x[i, : len(row)] = torch.tensor(row)
    if tgt is None:
        return x, lengths, None, None
    T = max(len(y) for y in tgt) + 1
    tgt_in = torch.zeros(len(tgt), T, dtype=torch.long)
    tgt_out = torch.zeros(len(tgt), T, dtype=torch.long)
    for i, row in enumerate(tgt):
        tgt_in[i, : len(row) + 1] = torch.tensor([BOS, *row])
        tgt_out[i, : len(row) + 1] = torch.tensor([*row, EOS])
    return x, lengths, tgt_in, tgt_out


# ---- train --------------------------------------------------------------------------------------


def train_seq2seq(recipe: Seq2SeqRecipe, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train and test as ``recipe`` says; everything is checked before the run folder is touched."""
    plan = plan_sequence_run(recipe, MODEL_TYPE, log)
    splits = load_pair_splits(recipe)
    for s in ("train", "val", "test"):
        if not splits[s][0]:
            raise InvalidValueError(f"the {s} split has no pairs (too few pairs to split)")
    source_level, target_level = recipe.levels()
    src_vocab = side_vocab(splits["train"][0], source_level)
    tgt_vocab = side_vocab(splits["train"][1], target_level)
    enc = {s: [encode(src_vocab, x) for x in splits[s][0]] for s in splits}
    dec = {s: [encode(tgt_vocab, y) for y in splits[s][1]] for s in splits}
    longest = max(len(y) for y in dec["train"])
    config = Seq2SeqConfig(
        source_vocab_size=len(src_vocab),
        target_vocab_size=len(tgt_vocab),
        embedding_size=recipe.embedding_size,
        hidden_size=recipe.hidden_size,
        num_layers=recipe.num_layers,
        cell=recipe.cell,
        bidirectional_encoder=recipe.bidirectional_encoder,
        attention=recipe.attention,
        input_feeding=recipe.input_feeding,
        dropout=recipe.dropout,
        max_target_length=recipe.max_length or 2 * longest + 5,
    )
    torch.manual_seed(recipe.seed)
    model = Seq2Seq(config, src_vocab, tgt_vocab)
    schedule = parse_schedule(recipe.teacher_forcing)
    teacher = (
        None if schedule.kind == "constant" and schedule.ratio == 1 else TeacherForcing(schedule, seed=recipe.seed)
    )

    def collate(split: str, idx: List[int]):
        return pair_batch([enc[split][i] for i in idx], [dec[split][i] for i in idx])

    def loss_fn(m, batch):
        x, lengths, tgt_in, tgt_out = batch
        return m.loss(m(x, lengths, tgt_in, teacher), tgt_out, recipe.label_smoothing)

    def metrics_fn(m, batch):
        x, lengths, tgt_in, tgt_out = batch
        log_probs = m(x, lengths, tgt_in)
        real = tgt_out != 0
        right = ((log_probs.argmax(-1) == tgt_out) & real).sum().item()
        return {"loss": m.loss(log_probs, tgt_out).item(), "accuracy": right / max(int(real.sum()), 1)}

    run_settings = recipe_settings(recipe)
    settings = FitSettings(
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        patience=recipe.patience,
        seed=recipe.seed,
        threads=recipe.threads,
        time_budget=recipe.time_budget,
        progress=recipe.progress,
    )
    plan.create()
    fit = fit_sequences(
        model,
        [len(x) + len(y) for x, y in zip(enc["train"], dec["train"])],
        [len(x) + len(y) for x, y in zip(enc["val"], dec["val"])],
        collate,
        loss_fn,
        metrics_fn,
        settings,
        out_dir=str(plan.work),
        resume=plan.resuming,
        run_settings=run_settings,
        teacher_forcing=teacher,
    )
    out = plan.work
    model.save_pretrained(out)
    scores, rows = score_pairs(model, splits["test"][0], splits["test"][1], beam=recipe.beam)
    scores.update(exposure_bias(model, enc["test"], dec["test"]))
    sizes = {s: len(splits[s][0]) for s in splits}
    run = {
        "recipe": run_settings,
        "data": recipe.pairs or recipe.dataset,
        "levels": [source_level, target_level],
        "sizes": sizes,
    }
    atomic_write(out / RUN_FILE, json.dumps(run, indent=2) + "\n")
    summary = {**scores, "epochs": fit["epochs"], "train_seconds": fit["train_seconds"], "sizes": sizes}
    atomic_write(out / "metrics.json", json.dumps(summary, indent=2) + "\n")
    atomic_write(out / "test_predictions.tsv", "".join(f"{s}\t{p}\t{' | '.join(r)}\n" for s, p, r in rows))
    final = plan.commit()
    return {"out": str(final), **summary}


# ---- decode, score ------------------------------------------------------------------------------


@torch.no_grad()
def translate(
    model: Seq2Seq, sources: Sequence[str], beam: int = 5, batch_size: int = 64, nbest: int = 1, **options
) -> List[List[Any]]:
    """For each source text, the ``nbest`` hypotheses (``.tokens`` ids, ``.score``, ``.attention``)."""
    from ..models.seq2seq.decoding import beam_search, greedy_decode

    model.eval()
    ids = [encode(model.source_vocab, s) for s in sources]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: List[List[Any]] = [[] for _ in ids]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        x, lengths, _, _ = pair_batch([ids[i] for i in idx])
        if beam == 1 and nbest == 1 and not options:
            found = [[h] for h in greedy_decode(model, x, lengths)]
        else:
            found = beam_search(model, x, lengths, beam_size=beam, nbest=nbest, **options)
        for i, hyps in zip(idx, found):
            out[i] = hyps
    return out


def detokenize(vocab: Vocabulary, ids: Sequence[int]) -> str:
    return vocab.decode([i for i in ids if i >= len(SPECIALS) or i == 1])


def score_pairs(model: Seq2Seq, sources: Sequence[str], targets: Sequence[str], beam: int = 5):
    """Exact match, token accuracy, word/token error rates, BLEU and chrF of beam-search outputs
    against every reference of each distinct source; returns ``(scores, rows)``."""
    from ..diagnostics import sequence_metrics as sm

    refs = references(sources, targets)
    distinct = list(refs)
    hyps = [detokenize(model.target_vocab, h[0].tokens) for h in translate(model, distinct, beam=beam)]
    ref_lists = [refs[s] for s in distinct]
    tok = model.target_vocab.tokenize
    hyp_tokens = [tok(h) for h in hyps]
    ref_tokens = [[tok(r) for r in rs] for rs in ref_lists]
    scores: Dict[str, Any] = {
        "sources": len(distinct),
        "beam": beam,
        "exact_match": sm.exact_match(hyp_tokens, ref_tokens),
        "word_error_rate": sm.word_error_rate(hyp_tokens, ref_tokens),
        "token_error_rate": sm.token_error_rate(hyp_tokens, ref_tokens),
        "token_accuracy": sm.token_accuracy(hyp_tokens, ref_tokens),
    }
    try:
        scores["bleu"] = sm.bleu(hyps, ref_lists)
        scores["chrf"] = sm.chrf(hyps, ref_lists)
    except ImportError:  # sacrebleu is an extra; the other scores stand without it
        pass
    return scores, list(zip(distinct, hyps, ref_lists))


@torch.no_grad()
def exposure_bias(model: Seq2Seq, src: Sequence[List[int]], tgt: Sequence[List[int]], batch_size: int = 64):
    """Token accuracy on (src, tgt) when the decoder is fed the ground truth vs its own greedy output."""
    from ..models.seq2seq.decoding import greedy_decode

    model.eval()
    forced = free = total = 0
    for s in range(0, len(src), batch_size):
        x, lengths, tgt_in, tgt_out = pair_batch(src[s : s + batch_size], tgt[s : s + batch_size])
        real = tgt_out != 0
        forced += ((model(x, lengths, tgt_in).argmax(-1) == tgt_out) & real).sum().item()
        total += int(real.sum())
        for hyp, gold in zip(greedy_decode(model, x, lengths), tgt_out):
            want = gold[gold != 0].tolist()
            got = list(hyp.tokens) + [EOS]
            free += sum(int(a == b) for a, b in zip(got, want))
    return {
        "teacher_forced_token_accuracy": forced / max(total, 1),
        "free_running_token_accuracy": free / max(total, 1),
    }
