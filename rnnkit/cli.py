"""The ``rnnkit`` command: from a text file to a trained, evaluated model that writes.

    rnnkit train lm [--text FILE] --out DIR [options]   train a language model (TBPTT)
    rnnkit generate DIR --prompt TEXT --length N         sample from it, printing as it goes
    rnnkit evaluate DIR --text FILE                      loss, bits per token, perplexity

Every verb has ``--help``. Bad arguments and bad files end with one ``error:`` line and a
non-zero exit status, not a traceback.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="rnnkit: recurrent neural networks from a text file or a CSV to a trained model.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain one-line usage errors, no boxes
)
train_app = typer.Typer(help="Train a model.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(train_app, name="train")

EXIT_USAGE = 2


def friendly(fn):
    """Turn the library's errors into one ``error: ...`` line and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, OSError, UnicodeError, KeyError) as err:
            message = str(err) or type(err).__name__
            if isinstance(err, KeyError):
                message = f"missing entry {message}"
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: the last checkpoint is kept; rerun with --resume to continue", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _existing_file(path: Optional[Path], what: str) -> Optional[str]:
    if path is None:
        return None
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{what} is a folder, expected a file: {path}")
    return str(path)


@train_app.command("lm")
@friendly
def train_lm(
    text: Optional[Path] = typer.Option(None, "--text", help="UTF-8 text file to learn; default: the Python reference manual's help text (ships with Python)."),
    out: Path = typer.Option(Path("runs/lm"), "--out", help="Run folder: model, vocabulary, logs, plot, checkpoints."),
    cell: str = typer.Option("lstm", "--cell", help="lstm, gru or rnn."),
    level: str = typer.Option("char", "--level", help="Tokens: char, word or bpe."),
    hidden_size: Optional[int] = typer.Option(None, "--hidden-size", help="Hidden units per layer (default: 256, or 512 for a --time-budget of 10 minutes or more)."),
    num_layers: int = typer.Option(2, "--num-layers", help="Stacked recurrent layers."),
    embedding_size: int = typer.Option(64, "--embedding-size", help="Token embedding size."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Dropout on embeddings, between layers and before the output (default: 0.1, or 0.25 with the larger model)."),
    bptt: int = typer.Option(128, "--bptt", help="Truncated BPTT length: steps per update; the state is carried across."),
    batch_size: int = typer.Option(32, "--batch-size", help="Parallel text streams."),
    max_steps: int = typer.Option(100_000, "--max-steps", help="Stop after N updates."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Train for this many seconds (the learning rate anneals over them)."),
    lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate (Adam, cosine schedule)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same model."),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every", help="Write a checkpoint every N updates."),
    val_every: int = typer.Option(250, "--val-every", help="Validate every N updates."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly where it stopped."),
    sample_length: int = typer.Option(300, "--sample-length", help="Characters of the sample printed at the end (0: none)."),
) -> None:
    """Train a language model on a text file and print a sample of what it writes."""
    from .models.generation import stream_text
    from .models.language_model import LanguageModel
    from .tasks.language_modeling import LanguageModelRecipe, train_language_model

    recipe = LanguageModelRecipe(
        text=_existing_file(text, "text file"), out=str(out), level=level, cell=cell, embedding_size=embedding_size,
        hidden_size=hidden_size, num_layers=num_layers, dropout=dropout, bptt=bptt, batch_size=batch_size,
        lr=lr, max_steps=max_steps, time_budget=time_budget, val_every=val_every,
        checkpoint_every=checkpoint_every, seed=seed, resume=resume,
    )
    summary = train_language_model(recipe, log=lambda m: typer.echo(m))
    typer.echo(f"trained {summary['steps']} updates in {summary['train_seconds']} s "
               f"({summary['tokens_per_second']:,} tokens/s)")
    if summary["val_loss"] is not None:
        typer.echo(f"validation: {summary['val_loss']:.4f} nats/token, {summary['val_bits_per_token']:.3f} bits/token, "
                   f"perplexity {summary['val_perplexity']:.2f}")
    if sample_length > 0:
        model = LanguageModel.from_pretrained(out)
        typer.echo("--- sample ---")
        for piece in stream_text(model, "\n", sample_length, temperature=0.8, seed=seed):
            typer.echo(piece, nl=False)
        typer.echo("\n--------------")
    typer.echo(f"model: {out}/ (config.json, model.safetensors, vocab.json)")
    typer.echo(f"logs:  {out}/train_log.csv, {out}/val_log.csv" + (f"; plot: {summary['plot']}" if summary["plot"] else ""))
    typer.echo(f"next:  rnnkit generate {out} --prompt 'Some text' --length 500")


@app.command()
@friendly
def generate(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train lm`."),
    prompt: str = typer.Option("\n", "--prompt", help="Text that primes the model's state."),
    length: int = typer.Option(500, "--length", help="Tokens to generate."),
    temperature: float = typer.Option(1.0, "--temperature", help="0 = greedy; < 1 safer, > 1 more varied."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Sample only among the K most likely tokens."),
    top_p: Optional[float] = typer.Option(None, "--top-p", help="Sample only among the most likely tokens that make up probability P."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for a reproducible sample."),
) -> None:
    """Generate text, printing each piece as it is sampled (the state is carried; constant memory)."""
    from .models.generation import stream_text
    from .models.language_model import LanguageModel

    model = _load_lm(model_dir)
    typer.echo(prompt, nl=False)
    for piece in stream_text(model, prompt, length, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed):
        typer.echo(piece, nl=False)
        sys.stdout.flush()
    typer.echo()


@app.command()
@friendly
def evaluate(
    model_dir: Path = typer.Argument(..., help="A folder written by `rnnkit train lm`."),
    text: Optional[Path] = typer.Option(None, "--text", help="Text to score; default: the default corpus."),
) -> None:
    """Loss (nats per token), bits per token and perplexity of a language model on a text."""
    from .tasks.language_modeling import evaluate_language_model

    _load_lm(model_dir)  # checks the folder first, with a clear message
    result = evaluate_language_model(str(model_dir), _existing_file(text, "text file"))
    typer.echo(f"tokens: {result['tokens']:,}")
    typer.echo(f"loss: {result['loss']:.4f} nats/token")
    typer.echo(f"bits per token: {result['bits_per_token']:.4f}")
    typer.echo(f"perplexity: {result['perplexity']:.3f}")


def _load_lm(model_dir: Path):
    from .models.language_model import LanguageModel

    if not model_dir.is_dir():
        raise FileNotFoundError(f"model folder not found: {model_dir}")
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} holds no config.json: not a model folder written by `rnnkit train lm`")
    return LanguageModel.from_pretrained(model_dir)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
