"""``rnnkit train seq2seq`` and ``rnnkit translate``: the encoder-decoder mapping.

``rnnkit evaluate DIR --pairs FILE`` (in :mod:`.language_model`) scores an encoder-decoder through
:func:`evaluate_pairs` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._checks import InvalidValueError, choice
from ..tasks.seq2seq import Seq2SeqRecipe as R
from .app import app, train_app
from .errors import user_errors_as_one_line
from .options import check_options, exclusive, existing_file, from_config, output_file, output_folder
from .report import report_after_training

PENALTIES = ("none", "avg", "gnmt")


def _echo_scores(summary: dict) -> None:
    line = (
        f"test: exact match {summary['exact_match']:.4f}, word error rate {summary['word_error_rate']:.4f}, "
        f"token error rate {summary['token_error_rate']:.4f}"
    )
    if "bleu" in summary:
        line += f", BLEU {summary['bleu']:.2f}, chrF {summary['chrf']:.2f}"
    typer.echo(line + f" ({summary['sources']} sources, beam {summary['beam']})")


@train_app.command("seq2seq")
@user_errors_as_one_line
def train_seq2seq(
    pairs: Optional[Path] = from_config(R, "pairs"),
    dataset: Optional[str] = from_config(R, "dataset"),
    test_pairs: Optional[Path] = from_config(R, "test_pairs"),
    source_level: Optional[str] = from_config(R, "source_level"),
    target_level: Optional[str] = from_config(R, "target_level"),
    out: Path = from_config(R, "out"),
    attention: str = from_config(R, "attention"),
    cell: str = from_config(R, "cell"),
    embedding_size: int = from_config(R, "embedding_size"),
    hidden_size: int = from_config(R, "hidden_size"),
    num_layers: int = from_config(R, "num_layers"),
    bidirectional_encoder: bool = from_config(
        R, "bidirectional_encoder", "--bidirectional-encoder/--unidirectional-encoder"
    ),
    input_feeding: bool = from_config(R, "input_feeding"),
    dropout: float = from_config(R, "dropout"),
    teacher_forcing: str = from_config(R, "teacher_forcing"),
    label_smoothing: float = from_config(R, "label_smoothing"),
    epochs: int = from_config(R, "epochs"),
    batch_size: int = from_config(R, "batch_size"),
    lr: float = from_config(R, "lr"),
    patience: int = from_config(R, "patience"),
    time_budget: Optional[float] = from_config(R, "time_budget"),
    beam: int = from_config(R, "beam"),
    max_length: int = from_config(R, "max_length"),
    train_size: int = from_config(R, "train_size"),
    seed: int = from_config(R, "seed"),
    threads: Optional[int] = from_config(R, "threads"),
    resume: bool = from_config(R, "resume"),
    overwrite: bool = from_config(R, "overwrite"),
) -> None:
    """Train an encoder-decoder with attention, decode the test split with beam search, score it."""
    from ..tasks.seq2seq import train_seq2seq as train

    check_options(seed=seed, threads=threads)
    exclusive(resume=resume, overwrite=overwrite)
    exclusive(pairs=pairs, dataset=dataset)
    output_folder(out)
    options = {k: v for k, v in locals().items() if k in R.__dataclass_fields__}
    options.update(
        pairs=existing_file(pairs, "pairs file") if pairs is not None else None,
        test_pairs=existing_file(test_pairs, "test file"),
        out=str(out),
    )
    summary = train(R(**options), log=typer.echo)
    sizes = summary["sizes"]
    typer.echo(
        f"trained {summary['epochs']} epochs in {summary['train_seconds']} s on {sizes['train']} pairs "
        f"({sizes['val']} validation, {sizes['test']} test)"
    )
    _echo_scores(summary)
    typer.echo(
        f"exposure bias: token accuracy {summary['teacher_forced_token_accuracy']:.4f} teacher-forced, "
        f"{summary['free_running_token_accuracy']:.4f} free-running"
    )
    typer.echo(f"model: {out}/; metrics: {out}/metrics.json; test outputs: {out}/test_predictions.tsv")
    report_after_training(out)
    typer.echo(f'next:  rnnkit translate {out} --text "..." --beam 5 --attention-plot attention.png')


@app.command()
@user_errors_as_one_line
def translate(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train seq2seq`."),
    text: Optional[str] = typer.Option(None, "--text", help="One source text."),
    input: Optional[Path] = typer.Option(None, "--input", help="A file of source texts, one per line."),
    beam: int = typer.Option(5, "--beam", help="Beam size (1: greedy)."),
    nbest: int = typer.Option(1, "--nbest", help="Print the N best outputs of each source with their scores."),
    length_penalty: str = typer.Option("avg", "--length-penalty", help="none, avg (score / len^alpha) or gnmt."),
    alpha: float = typer.Option(0.6, "--alpha", help="The length penalty's exponent."),
    min_length: int = typer.Option(0, "--min-length", help="No end of sequence before this many tokens."),
    max_length: Optional[int] = typer.Option(
        None, "--max-length", help="At most this many tokens (default: the model's)."
    ),
    no_repeat_ngram: int = typer.Option(
        0, "--no-repeat-ngram", help="Forbid repeating any n-gram of this size (0: off)."
    ),
    attention_plot: Optional[Path] = typer.Option(
        None, "--attention-plot", help="With --text: draw the attention weights (source x output) to this PNG."
    ),
) -> None:
    """Translate (transliterate, transcribe...) with a trained encoder-decoder and beam search."""
    from ..models.format import read_model
    from ..models.seq2seq.model import MODEL_TYPE, Seq2Seq
    from ..tasks.seq2seq import detokenize
    from ..tasks.seq2seq import translate as run_translate

    exclusive(text=text, input=input)
    if text is None and input is None:
        raise InvalidValueError("give --text TEXT or --input FILE: what to translate")
    for name, value in (("--beam", beam), ("--nbest", nbest)):
        if value < 1:
            raise InvalidValueError(f"{name} must be an int >= 1, got {value}")
    if nbest > beam:
        raise InvalidValueError(f"--nbest {nbest} cannot exceed --beam {beam}")
    choice("--length-penalty", length_penalty, PENALTIES)
    if min_length < 0 or (max_length is not None and max_length < 1) or no_repeat_ngram < 0:
        raise InvalidValueError("--min-length and --no-repeat-ngram must be >= 0, --max-length >= 1")
    output_file(attention_plot, "--attention-plot")
    if attention_plot is not None and text is None:
        raise InvalidValueError("--attention-plot draws one text's attention: give --text")
    model = Seq2Seq.from_folder(read_model(model_dir, expected=MODEL_TYPE))
    if attention_plot is not None and model.attention is None:
        raise InvalidValueError(
            f"the model in {model_dir} has no attention to draw (it was trained with --attention none)"
        )
    if input is not None:
        from ..data.labelled_text import read_text_file

        sources = [line for line in read_text_file(existing_file(input, "input file"), "input file").splitlines()]
        if not any(s.strip() for s in sources):
            raise InvalidValueError(f"{input} holds no text to translate")
    else:
        sources = [text]
    options = dict(length_penalty=length_penalty, alpha=alpha, min_length=min_length, no_repeat_ngram=no_repeat_ngram)
    if max_length is not None:
        options["max_length"] = max_length
    results = run_translate(model, [s for s in sources if s.strip()], beam=beam, nbest=nbest, **options)
    for hyps in results:
        for h in hyps:
            out = detokenize(model.target_vocab, h.tokens)
            typer.echo(out if nbest == 1 else f"{h.score:.4f}\t{out}")
    if attention_plot is not None:
        from ..diagnostics.attention_plot import plot_attention_map
        from ..tasks.seq2seq import encode

        best = results[0][0]
        src_tokens = [model.source_vocab.token_of(i) for i in encode(model.source_vocab, text)]
        out_tokens = [model.target_vocab.token_of(i) for i in best.tokens]  # the attention has a row per token
        if not out_tokens:
            raise InvalidValueError("the output is empty (the model ended at once): there is no attention to draw")
        plot_attention_map(src_tokens, out_tokens, best.attention, attention_plot)
        typer.echo(f"attention: {attention_plot}")


def evaluate_pairs(model_dir: Path, pairs: Path, beam: int) -> None:
    """``rnnkit evaluate DIR --pairs FILE``: exact match, WER/PER, BLEU, chrF with beam search."""
    from ..data.parallel import read_pairs
    from ..models.format import read_model
    from ..models.seq2seq.model import MODEL_TYPE, Seq2Seq
    from ..tasks.seq2seq import score_pairs

    model = Seq2Seq.from_folder(read_model(model_dir, expected=MODEL_TYPE))
    data = read_pairs(existing_file(pairs, "pairs file"))
    scores, _ = score_pairs(model, data.sources, data.targets, beam=beam)
    _echo_scores(scores)
