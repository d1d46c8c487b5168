"""``rnnkit train lm``, ``rnnkit generate``, ``rnnkit evaluate``: a text file to a model that writes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .._checks import InvalidValueError, MissingFileError
from ..tasks.language_modeling import LanguageModelRecipe as Recipe
from .app import app, train_app
from .errors import user_errors_as_one_line
from .options import check_options, exclusive, existing_file, from_config, given, output_folder
from .report import report_after_training

# what `train lm` passes to the recipe, in the recipe's names (out and resume are handled apart)
RECIPE_OPTIONS = (
    "text",
    "level",
    "cell",
    "embedding_size",
    "hidden_size",
    "num_layers",
    "dropout",
    "weight_drop",
    "recurrent_dropout",
    "zoneout",
    "bptt",
    "batch_size",
    "lr",
    "max_steps",
    "time_budget",
    "val_every",
    "checkpoint_every",
    "seed",
)
THREADS_HELP = (
    "CPU threads; default: the cores other programs leave free (a thread that shares its core with "
    "another program stalls the others)."
)
GENERATION_THREADS = 1  # a batch-1 step is bound by latency: one thread is fastest (docs/language_models.md)


@train_app.command("lm")
@user_errors_as_one_line
def train_lm(
    ctx: typer.Context,
    text: Optional[Path] = from_config(Recipe, "text"),
    out: Path = from_config(Recipe, "out"),
    cell: str = from_config(Recipe, "cell"),
    level: str = from_config(Recipe, "level"),
    hidden_size: int = from_config(Recipe, "hidden_size"),
    num_layers: int = from_config(Recipe, "num_layers"),
    embedding_size: int = from_config(Recipe, "embedding_size"),
    dropout: Optional[float] = from_config(Recipe, "dropout"),
    weight_drop: float = from_config(Recipe, "weight_drop"),
    recurrent_dropout: float = from_config(Recipe, "recurrent_dropout"),
    zoneout: float = from_config(Recipe, "zoneout"),
    bptt: int = from_config(Recipe, "bptt"),
    batch_size: int = from_config(Recipe, "batch_size"),
    max_steps: int = from_config(Recipe, "max_steps"),
    time_budget: Optional[float] = from_config(Recipe, "time_budget"),
    lr: Optional[float] = from_config(Recipe, "lr"),
    seed: int = from_config(Recipe, "seed"),
    checkpoint_every: int = from_config(Recipe, "checkpoint_every"),
    val_every: int = from_config(Recipe, "val_every"),
    threads: Optional[int] = from_config(Recipe, "threads"),
    resume: bool = from_config(Recipe, "resume"),
    overwrite: bool = from_config(Recipe, "overwrite"),
    sample_length: int = typer.Option(
        300, "--sample-length", help="Tokens of the sample printed at the end (0: none)."
    ),
) -> None:
    """Train a language model on a text file and print a sample of what it writes.

    The run is --max-steps updates (2,000 by default: about 2.5 minutes on a quiet 2-core CPU); the
    same command and seed give the same model, however busy the machine."""
    from ..data.tokenizers import tokenizer_type
    from ..models.generation import stream_text
    from ..tasks.language_modeling import resume_recipe, train_language_model
    from ..training.threads import ThreadGovernor

    check_options(sample_length=sample_length, threads=threads, seed=seed)
    exclusive(resume=resume, overwrite=overwrite)
    output_folder(out)
    options = {name: value for name, value in locals().items() if name in RECIPE_OPTIONS}
    options["text"] = existing_file(text, "text file")
    recipe = None
    if resume:  # the run's own settings, with only the options given now changed (or refused)
        recipe = resume_recipe(out, threads=threads, **{k: v for k, v in options.items() if given(ctx, k)})
    if recipe is None:
        recipe = Recipe(**options, out=str(out), resume=resume, overwrite=overwrite, threads=threads)
    summary = train_language_model(recipe, log=lambda m: typer.echo(m))
    tokenizer = tokenizer_type(recipe.level)
    unit = tokenizer.unit
    typer.echo(
        f"trained {summary['steps']:,} updates in {summary['train_seconds']} s "
        f"({summary['tokens_per_second']:,} tokens/s)"
    )
    if summary["val_loss"] is not None:
        per_char = (
            "" if tokenizer.tokens_are_characters else f" ({summary['val_bits_per_character']:.3f} bits/character)"
        )
        typer.echo(
            f"validation: {summary['val_loss']:.4f} nats/{unit}, {summary['val_bits_per_token']:.3f} "
            f"bits/{unit}{per_char}, perplexity {summary['val_perplexity']:.2f}"
        )
    if sample_length > 0:
        model = load_language_model(out)
        typer.echo("--- sample ---")
        with ThreadGovernor(threads or GENERATION_THREADS):
            for piece in stream_text(model, "\n", sample_length, temperature=0.8, seed=recipe.seed):
                typer.echo(piece, nl=False)
        typer.echo("\n--------------")
    typer.echo(f"model: {out}/ (config.json, model.safetensors, vocab.json, run_settings.json)")
    typer.echo(
        f"logs:  {out}/train_log.csv, {out}/val_log.csv" + (f"; plot: {summary['plot']}" if summary["plot"] else "")
    )
    report_after_training(out)
    typer.echo(f"next:  rnnkit generate {out} --prompt 'Some text' --length 500")


@app.command()
@user_errors_as_one_line
def generate(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train lm`."),
    prompt: str = typer.Option(
        "\n", "--prompt", help="Text that primes the model's state; it is printed first and the sample continues it."
    ),
    length: int = typer.Option(500, "--length", help="Tokens to generate."),
    temperature: float = typer.Option(1.0, "--temperature", help="0 = greedy; < 1 safer, > 1 more varied."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Sample only among the K most likely tokens."),
    top_p: Optional[float] = typer.Option(
        None, "--top-p", help="Sample only among the most likely tokens that make up probability P."
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (>= 0) for a reproducible sample."),
    threads: Optional[int] = typer.Option(
        None,
        "--threads",
        help="CPU threads; default: 1 (one step of one stream is bound by latency, and one thread is fastest).",
    ),
) -> None:
    """Generate text, printing each piece as it is sampled (the state is carried; constant memory).

    Symbols of the prompt that the model does not know become <unk>, with a warning."""
    from ..models.generation import stream_text
    from ..training.threads import ThreadGovernor

    check_options(length=length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, threads=threads)
    model = load_language_model(model_dir)
    pieces = stream_text(model, prompt, length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    with ThreadGovernor(threads or GENERATION_THREADS):
        typer.echo(prompt, nl=False)  # only now: every option is checked and the prompt encoded
        for piece in pieces:
            typer.echo(piece, nl=False)
            sys.stdout.flush()
    typer.echo()


@app.command()
@user_errors_as_one_line
def evaluate(
    model_dir: Path = typer.Argument(
        ..., help="A folder written by `rnnkit train lm`, `train classify` or `train tag`."
    ),
    text: Optional[Path] = typer.Option(
        None,
        "--text",
        help="Language model: text file to score; default: the validation part (last 10%) of the text the "
        "model was trained on.",
    ),
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        help="Classifier or tagger: a labelled file to score (prints the metrics, draws the confusion matrix).",
    ),
    text_col: Optional[str] = typer.Option(
        None, "--text-col", help="Classifier: the text column (default: as trained)."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Classifier: where the confusion matrix PNG goes (default: DIR/evaluation/)."
    ),
    pairs: Optional[Path] = typer.Option(
        None, "--pairs", help="Encoder-decoder: source<TAB>target pairs to score (exact match, WER, BLEU, chrF)."
    ),
    beam: int = typer.Option(5, "--beam", help="Encoder-decoder: beam size (1: greedy)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
) -> None:
    """Loss, bits per character (and per token for word/BPE models) and perplexity on a text.

    Without --text it scores the held-out validation part of the training text, as training did.
    Bits per character divide the total loss by the characters scored, so word and BPE models
    compare with character models."""
    from ..data.tokenizers import tokenizer_type
    from ..models.format import describe_type, read_model
    from ..tasks.language_modeling import evaluate_language_model
    from .classify import evaluate_sequence_model

    check_options(threads=threads)
    kinds = ("language_model", "sequence_classifier", "sequence_tagger", "seq2seq")
    kind = read_model(model_dir, expected=kinds).model_type
    if kind == "seq2seq":
        from .seq2seq import evaluate_pairs

        if pairs is None:
            raise InvalidValueError("an encoder-decoder is evaluated on pairs: give --pairs FILE")
        if beam < 1:
            raise InvalidValueError(f"--beam must be an int >= 1, got {beam}")
        return evaluate_pairs(model_dir, pairs, beam)
    if pairs is not None:
        raise InvalidValueError(
            f"--pairs is for encoder-decoders; {model_dir} holds {describe_type(kind)}, scored on "
            + ("--text FILE" if kind == "language_model" else "--data FILE")
        )
    if kind != "language_model":
        if data is None:
            raise InvalidValueError("a classifier or tagger is evaluated on a labelled file: give --data FILE")
        return evaluate_sequence_model(model_dir, data, text_col, out)
    if data is not None:
        raise InvalidValueError("--data is for classifiers and taggers; a language model scores --text FILE")
    load_language_model(model_dir)  # checks the folder first, with a clear message
    result = evaluate_language_model(str(model_dir), existing_file(text, "text file"), threads=threads)
    per_character = tokenizer_type(result["level"]).tokens_are_characters
    unit = result["unit"]
    typer.echo(f"text: {result['text']}")
    if per_character:
        typer.echo(f"characters: {result['tokens']:,}")
        typer.echo(f"loss: {result['loss']:.4f} nats/character")
        typer.echo(f"bits per character: {result['bits_per_character']:.4f}")
    else:
        typer.echo(f"{unit}s: {result['tokens']:,} ({result['characters']:,} characters)")
        typer.echo(f"loss: {result['loss']:.4f} nats/{unit}")
        typer.echo(f"bits per {unit}: {result['bits_per_token']:.4f}")
        typer.echo(f"bits per character: {result['bits_per_character']:.4f}")
    typer.echo(f"perplexity: {result['perplexity']:.3f}" + ("" if per_character else f" (per {unit})"))


def load_language_model(model_dir: Path):
    """The language model in ``model_dir``, with its vocabulary; every problem with the folder (missing,
    a file, another kind of model, a missing or unreadable file) is a user error naming it."""
    from ..models.format import read_model
    from ..models.language_model import MODEL_TYPE, VOCAB_NAME, LanguageModel

    folder = read_model(model_dir, expected=MODEL_TYPE)
    if not folder.has(VOCAB_NAME):
        raise MissingFileError(
            f"{model_dir} holds no {VOCAB_NAME}: the model's vocabulary is needed to read and write text "
            f"(a folder written by `rnnkit train lm` has one)"
        )
    return LanguageModel.from_folder(folder)
