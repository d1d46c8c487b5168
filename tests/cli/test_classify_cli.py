"""`rnnkit train classify`, `train tag`, `predict`, `evaluate --data` end to end on tiny files."""

import csv
import hashlib
import json
import random

import pytest
from typer.testing import CliRunner

from rnnkit.cli import app

SMALL = ["--hidden-size", "16", "--embedding-size", "8", "--epochs", "6", "--batch-size", "16"]
POS, NEG = ["great", "love", "excellent"], ["bad", "awful", "hate"]
FILLER = ["the", "a", "product", "it", "was", "very", "this"]


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def reviews(path, n=240, seed=0, labels=("pos", "neg")):
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment"])
        for _ in range(n):
            y = rng.random() < 0.5
            words = rng.choices(FILLER, k=rng.randint(2, 8)) + [rng.choice(POS if y else NEG)]
            rng.shuffle(words)
            w.writerow([" ".join(words), labels[0] if y else labels[1]])
    return path


def conll(path, n=160, seed=0):
    rng = random.Random(seed)
    names = {"Paris": "B-LOC", "Rome": "B-LOC", "Alice": "B-PER", "Bob": "B-PER"}
    with open(path, "w") as f:
        for _ in range(n):
            for t in rng.choices(FILLER + list(names), k=rng.randint(2, 8)):
                f.write(f"{t}\t{names.get(t, 'O')}\n")
            f.write("\n")
    return path


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("cls")
    data = reviews(root / "reviews.csv")
    code, out = run(
        "train",
        "classify",
        "--data",
        data,
        "--text-col",
        "review",
        "--label-col",
        "sentiment",
        "--level",
        "word",
        "--out",
        root / "run",
        *SMALL,
    )
    assert code == 0, out
    return root / "run", data, out


def test_train_classify_learns_and_writes_its_outputs(classifier):
    run_dir, _, out = classifier
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.9 and "test: accuracy" in out
    for name in (
        "config.json",
        "model.safetensors",
        "vocab.json",
        "run.json",
        "confusion_matrix.png",
        "test_predictions.csv",
        "train_log.csv",
    ):
        assert (run_dir / name).is_file(), name


def test_predict_and_evaluate_a_classifier(classifier, tmp_path):
    run_dir, data, _ = classifier
    code, out = run("predict", run_dir, "--text", "it was awful")
    assert code == 0 and out.splitlines()[0].startswith("neg"), out
    code, out = run("predict", run_dir, "--data", data, "--out", tmp_path / "p.csv")
    assert code == 0, out
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert len(rows) == 240 and set(rows[0]) == {"text", "gold", "predicted", "p_neg", "p_pos"}
    code, out = run("evaluate", run_dir, "--data", data, "--out", tmp_path / "cm.png")
    assert code == 0 and "accuracy" in out and (tmp_path / "cm.png").is_file(), out


def test_train_tag_with_a_crf_and_predict(tmp_path):
    data = conll(tmp_path / "train.conll")
    code, out = run("train", "tag", "--data", data, "--out", tmp_path / "tg", "--hidden-size", "32", "--epochs", "10")
    assert code == 0, out
    metrics = json.loads((tmp_path / "tg" / "metrics.json").read_text())
    assert metrics["token_accuracy"] >= 0.95 and metrics["entity_f1"] >= 0.9
    assert json.loads((tmp_path / "tg" / "config.json").read_text())["config"]["scheme"] == "bio"
    code, out = run("predict", tmp_path / "tg", "--text", "Alice likes Rome")
    assert code == 0 and "Alice/B-PER" in out and "Rome/B-LOC" in out, out
    code, out = run("evaluate", tmp_path / "tg", "--data", data)
    assert code == 0 and "entity precision" in out, out


@pytest.mark.parametrize(
    "make, args, pattern",
    [
        (lambda p: reviews(p / "d.csv"), ["--text-col", "nope", "--label-col", "sentiment"], r"nope.*columns"),
        (
            lambda p: (p / "d.csv").write_text("") and p / "d.csv" or p / "d.csv",
            ["--text-col", "review", "--label-col", "sentiment"],
            r"d\.csv.*empty",
        ),
        (
            lambda p: reviews(p / "d.csv", labels=("pos", "pos")),
            ["--text-col", "review", "--label-col", "sentiment"],
            r"one class|only",
        ),
    ],
)
def test_bad_classification_data_gets_one_line(tmp_path, make, args, pattern):
    import re

    data = make(tmp_path)
    code, out = run("train", "classify", "--data", tmp_path / "d.csv", *args, "--out", tmp_path / "run")
    assert code == 2 and "Traceback" not in out and re.search(pattern, out), out
    assert not (tmp_path / "run").exists()
    del data


def test_a_conll_line_with_the_wrong_number_of_columns_is_named(tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("the\tO\nParis\tB-LOC\textra\n\n")
    code, out = run("train", "tag", "--data", bad, "--out", tmp_path / "run")
    assert code == 2 and "line 2" in out, out


def test_a_test_file_with_an_unseen_label_is_refused(tmp_path, classifier):
    test = reviews(tmp_path / "t.csv", n=20, labels=("pos", "mixed"))
    code, out = run(
        "train",
        "classify",
        "--data",
        classifier[1],
        "--test-data",
        test,
        "--text-col",
        "review",
        "--label-col",
        "sentiment",
        "--out",
        tmp_path / "run",
    )
    assert code == 2 and "mixed" in out and "never in training" in out, out


def test_a_classifier_run_folder_is_not_clobbered(classifier, tmp_path):
    run_dir, data, _ = classifier
    before = digest(run_dir)
    code, out = run(
        "train", "classify", "--data", data, "--text-col", "review", "--label-col", "sentiment", "--out", run_dir
    )
    assert code == 2 and "--overwrite" in out
    code, out = run("train", "tag", "--data", data, "--out", run_dir)
    assert code == 2 and "sequence classifier" in out
    assert digest(run_dir) == before


def test_multi_label_texts_with_a_separator(tmp_path):
    rng = random.Random(4)
    path = tmp_path / "topics.jsonl"
    with open(path, "w") as f:
        for _ in range(200):
            topics = [t for t in ("sport", "money") if rng.random() < 0.5] or ["other"]
            words = (
                rng.choices(FILLER, k=4)
                + (["goal"] if "sport" in topics else [])
                + (["bank"] if "money" in topics else [])
            )
            rng.shuffle(words)
            f.write(json.dumps({"text": " ".join(words), "topics": "|".join(topics)}) + "\n")
    code, out = run(
        "train",
        "classify",
        "--data",
        path,
        "--text-col",
        "text",
        "--label-col",
        "topics",
        "--label-sep",
        "|",
        "--level",
        "word",
        "--out",
        tmp_path / "run",
        "--hidden-size",
        "16",
        "--epochs",
        "15",
    )
    assert code == 0, out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["micro_f1"] >= 0.9 and "micro-F1" in out
    code, out = run("predict", tmp_path / "run", "--text", "the goal it the bank")
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()][:2] in (
        ["sport", "money"],
        ["money", "sport"],
    )


def test_series_from_a_ucr_tsv_file(tmp_path):
    """Two classes of series: a bump early or a bump late, of varying length (unequal lengths)."""
    import numpy as np

    rng = np.random.default_rng(0)
    lines = []
    for i in range(120):
        n = int(rng.integers(20, 30))
        x = rng.normal(0, 0.3, n)
        late = i % 2
        x[(n - 6 if late else 2) : (n - 2 if late else 6)] += 3
        lines.append("\t".join([str(late)] + [f"{v:.4f}" for v in x]))
    data = tmp_path / "bumps.tsv"
    data.write_text("\n".join(lines) + "\n")
    code, out = run(
        "train",
        "classify",
        "--data",
        data,
        "--out",
        tmp_path / "run",
        "--hidden-size",
        "16",
        "--epochs",
        "25",
        "--pooling",
        "last",
    )
    assert code == 0, out
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["accuracy"] >= 0.9
    code, out = run("evaluate", tmp_path / "run", "--data", data, "--out", tmp_path / "cm.png")
    assert code == 0 and (tmp_path / "cm.png").is_file(), out


def test_attention_weights_are_drawn_for_one_text(classifier, tmp_path):
    run_dir = classifier[0]
    code, out = run("predict", run_dir, "--text", "it was great", "--attention", tmp_path / "att.png")
    assert code == 0 and (tmp_path / "att.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", out
    code, out = run("predict", run_dir, "--data", tmp_path / "x.csv", "--attention", tmp_path / "a.png")
    assert code == 2 and "--text" in out


def test_a_rare_tag_outside_the_training_part_is_kept_but_a_test_file_tag_is_refused(tmp_path):
    data = conll(tmp_path / "train.conll", n=120)
    with open(data, "a") as f:  # one sentence with a tag nowhere else: it lands in one split only
        f.write("Zed\tB-ORG\nthe\tO\n\n")
    code, out = run("train", "tag", "--data", data, "--out", tmp_path / "ok", "--epochs", "1", "--hidden-size", "8")
    assert code == 0, out
    assert "B-ORG" in json.loads((tmp_path / "ok" / "config.json").read_text())["config"]["tags"]
    test = tmp_path / "test.conll"
    test.write_text("Alice\tB-PER\nsings\tB-MISC\n\n")
    code, out = run("train", "tag", "--data", data, "--test-data", test, "--out", tmp_path / "no", "--epochs", "1")
    assert code == 2 and "B-MISC" in out and "never in the training data" in out, out
