"""Parallel text: TSV and JSONL pairs, gzip, every malformed line named by its number."""

import gzip
import json

import pytest

from rnnkit._checks import FileFormatError, InvalidTypeError, InvalidValueError, MissingFileError, NotAFileError
from rnnkit.data.parallel import Pairs, read_pairs, write_pairs


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_pairs_in_order_sides_stripped_blank_lines_skipped(tmp_path):
    p = write(tmp_path / "p.tsv", "hello\tbonjour\n\n  cat \t chat\r\nd\u2028e\tf\n\n")
    pairs = read_pairs(p)
    assert isinstance(pairs, Pairs)
    assert pairs.sources == ["hello", "cat", "d\u2028e"]
    assert pairs.targets == ["bonjour", "chat", "f"]
    assert pairs.source == str(p) and len(pairs) == 3
    assert list(pairs) == [("hello", "bonjour"), ("cat", "chat"), ("d\u2028e", "f")]


def test_tsv_gz_and_byte_order_mark(tmp_path):
    p = tmp_path / "p.tsv.gz"
    p.write_bytes(gzip.compress("\ufeffeins\tone\nzwei\ttwo\n".encode("utf-8")))
    pairs = read_pairs(p)
    assert pairs.sources == ["eins", "zwei"] and pairs.targets == ["one", "two"]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("a\tb\nno tab here\nc\td\n", 2, "no tab"),
        ("a\tb\nc\td\te\n", 2, "2 tabs"),
        ("a\tb\n\nc\td\n\t x\n", 4, "source (before the tab) is empty"),
        ("a\t \n", 1, "target (after the tab) is empty"),
        ("a\tb\n   \n", 2, "no tab"),  # whitespace is text, not an empty line
    ],
)
def test_tsv_bad_line_named_by_number(tmp_path, text, line, words):
    p = write(tmp_path / "bad.tsv", text)
    with pytest.raises(FileFormatError, match=f"line {line}") as info:
        read_pairs(p)
    assert words in str(info.value) and str(p) in str(info.value)


def test_jsonl_pairs_extra_fields_ignored(tmp_path):
    rows = [{"source": "3+4", "target": "7", "id": 1}, {"target": "a\nb", "source": " x "}]
    p = write(tmp_path / "p.jsonl", "".join(json.dumps(r) + "\n" for r in rows[:1]) + "\n" + json.dumps(rows[1]))
    pairs = read_pairs(p)
    assert pairs.sources == ["3+4", "x"] and pairs.targets == ["7", "a\nb"]


def test_ndjson_gz(tmp_path):
    p = tmp_path / "p.ndjson.gz"
    p.write_bytes(gzip.compress(b'{"source": "\\u00e9t\\u00e9", "target": "summer"}\n'))
    assert read_pairs(p).sources == ["été"]


@pytest.mark.parametrize(
    "line, words",
    [
        ("{not json", "not valid JSON"),
        ('["a", "b"]', "got list"),
        ('{"source": "a"}', "no 'target' field"),
        ('{"source": 3, "target": "b"}', "'source' holds int 3"),
        ('{"source": "a", "target": "  "}', "'target' is empty"),
    ],
)
def test_jsonl_bad_line_named_by_number(tmp_path, line, words):
    p = write(tmp_path / "bad.jsonl", '{"source": "a", "target": "b"}\n\n' + line + "\n")
    with pytest.raises(FileFormatError, match="line 3") as info:
        read_pairs(p)
    assert words in str(info.value)


@pytest.mark.parametrize("name", ["empty.tsv", "empty.jsonl"])
def test_empty_file_refused(tmp_path, name):
    p = write(tmp_path / name, "\n \n")
    with pytest.raises(FileFormatError, match="empty"):
        read_pairs(p)


def test_not_utf8_names_the_offset(tmp_path):
    p = tmp_path / "latin1.tsv"
    p.write_bytes("caf\u00e9\tcoffee\n".encode("latin-1"))
    with pytest.raises(FileFormatError, match="not valid UTF-8.*offset 3"):
        read_pairs(p)


def test_broken_gzip_missing_file_folder_and_suffix(tmp_path):
    bad = tmp_path / "p.tsv.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(FileFormatError, match="gzip"):
        read_pairs(bad)
    with pytest.raises(MissingFileError, match="nope.tsv"):
        read_pairs(tmp_path / "nope.tsv")
    (tmp_path / "dir.tsv").mkdir()
    with pytest.raises(NotAFileError):
        read_pairs(tmp_path / "dir.tsv")
    with pytest.raises(InvalidValueError, match=r"unsupported pairs file .*\.csv"):
        read_pairs(write(tmp_path / "p.csv", "a,b\n"))
    with pytest.raises(InvalidTypeError):
        read_pairs(3)


def test_grouped_gathers_alternative_targets(tmp_path):
    p = write(tmp_path / "g.tsv", "read\tR IY D\ntomato\tT AH M EY T OW\nread\tR EH D\nread\tR IY D\n")
    sources, refs = read_pairs(p).grouped()
    assert sources == ["read", "tomato"]
    assert refs == [["R IY D", "R EH D"], ["T AH M EY T OW"]]


def test_pairs_lengths_must_agree():
    with pytest.raises(InvalidValueError, match="2 sources but 1 targets"):
        Pairs(["a", "b"], ["c"], "here")


@pytest.mark.parametrize("name", ["out.tsv", "out.jsonl"])
def test_write_then_read_round_trip(tmp_path, name):
    pairs = Pairs(["a b", "été", "x\u2028y"], ["1", "2 3", "z"], "made here")
    path = write_pairs(pairs, tmp_path / name)
    back = read_pairs(path)
    assert back.sources == pairs.sources and back.targets == pairs.targets


def test_write_refuses_what_reading_would_change(tmp_path):
    with pytest.raises(InvalidValueError, match="tab or a line break"):
        write_pairs(Pairs(["a\tb"], ["c"], "t"), tmp_path / "o.tsv")
    with pytest.raises(InvalidValueError, match="surrounding whitespace"):
        write_pairs(Pairs([" a"], ["c"], "t"), tmp_path / "o.jsonl")
    with pytest.raises(InvalidValueError, match="empty"):
        write_pairs(Pairs([], [], "nothing"), tmp_path / "o.tsv")
    with pytest.raises(InvalidValueError, match="drop the .gz"):
        write_pairs(Pairs(["a"], ["b"], "t"), tmp_path / "o.tsv.gz")
    assert not list(tmp_path.iterdir())
