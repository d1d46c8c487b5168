"""Scores of a classifier or tagger, and the confusion-matrix picture (scikit-learn computes them).

* accuracy; macro-F1 (the unweighted mean of the per-class F1, so a rare class counts as much as a
  common one); per-class precision, recall, F1 and support; the confusion matrix ``C[i, j]`` =
  examples of true class ``i`` predicted as ``j``;
* multi-label: micro and macro F1 over the labels and the exact-match (subset) accuracy.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from .._checks import MissingOptionalDependency
from ..data.atomic import atomic_write


def _sklearn_metrics():
    try:
        from sklearn import metrics
    except ImportError as err:  # pragma: no cover - an extra of rnnkit
        raise MissingOptionalDependency(
            f"classification metrics need scikit-learn: pip install 'rnnkit[classify]' ({err})"
        ) from None
    return metrics


def classification_scores(gold: Sequence[int], pred: Sequence[int], labels: Sequence[str]) -> Dict[str, object]:
    """Accuracy, macro-F1, per-class scores and the confusion matrix of class ids ``gold`` vs ``pred``."""
    m = _sklearn_metrics()
    ids = list(range(len(labels)))
    p, r, f, s = m.precision_recall_fscore_support(gold, pred, labels=ids, zero_division=0)
    return {
        "examples": len(gold),
        "accuracy": float(m.accuracy_score(gold, pred)),
        "macro_f1": float(m.f1_score(gold, pred, labels=ids, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(labels)
        },
        "confusion": m.confusion_matrix(gold, pred, labels=ids).tolist(),
    }


def multilabel_scores(gold: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> Dict[str, object]:
    """Micro/macro F1 and exact-match accuracy of 0/1 matrices ``(N, K)``."""
    m = _sklearn_metrics()
    p, r, f, s = m.precision_recall_fscore_support(gold, pred, zero_division=0)
    return {
        "examples": int(gold.shape[0]),
        "subset_accuracy": float(m.accuracy_score(gold, pred)),
        "micro_f1": float(m.f1_score(gold, pred, average="micro", zero_division=0)),
        "macro_f1": float(m.f1_score(gold, pred, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(labels)
        },
    }


def plot_confusion(confusion: List[List[int]], labels: Sequence[str], path, title: str = "") -> Path:
    """Draw the confusion matrix (rows: true class, columns: predicted; counts and row shares) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = np.asarray(confusion, dtype=float)
    share = c / np.maximum(c.sum(1, keepdims=True), 1)
    k = len(labels)
    size = min(3 + 0.45 * k, 14)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), labels=list(labels), rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j, i, f"{int(c[i, j])}", ha="center", va="center", color="white" if share[i, j] > 0.5 else "black"
                )
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class")
    ax.set_title(title or f"confusion matrix ({int(c.sum())} examples, accuracy {np.trace(c) / max(c.sum(), 1):.3f})")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    path = Path(path)
    atomic_write(path, buffer.getvalue())
    return path


def plot_attention(tokens: Sequence[str], weights: Sequence[float], path, title: str = "") -> Path:
    """Draw the attention pooling's weight of each input token (a bar per token, the token under it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = np.asarray(weights, dtype=float)
    n = len(tokens)
    fig, ax = plt.subplots(figsize=(min(2 + 0.35 * n, 24), 3.2))
    ax.bar(range(n), w, color=plt.cm.Oranges(0.3 + 0.7 * w / max(w.max(), 1e-12)))
    ax.set_xticks(range(n), labels=[t if t.strip() else repr(t) for t in tokens], rotation=90 if n > 12 else 0)
    ax.set_ylabel("attention weight")
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_title(title or "where the classifier looked (attention pooling weights)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    path = Path(path)
    atomic_write(path, buffer.getvalue())
    return path
