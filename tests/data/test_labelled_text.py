"""Labelled text tables: CSV, TSV, JSONL, Parquet; single- and multi-label; every bad input named."""

import gzip
import json

import pytest

from rnnkit._checks import FileFormatError, InvalidValueError, MissingFileError, NotAFileError
from rnnkit.data.labelled_text import LabelledTexts, read_labelled_text, read_text_file


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def write_jsonl(path, rows):
    return write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def test_csv_single_label_with_quoted_commas_and_newlines(tmp_path):
    p = write(tmp_path / "r.csv", 'id,review,stars\n1,"Great, really great",pos\n2,"bad\nvery bad",neg\n3,ok,pos\n')
    data = read_labelled_text(p, "review", "stars")
    assert isinstance(data, LabelledTexts)
    assert data.texts == ["Great, really great", "bad\nvery bad", "ok"]
    assert data.labels == ["pos", "neg", "pos"]
    assert data.multi_label is False and data.classes == ["neg", "pos"] and len(data) == 3
    assert data.source == str(p)


def test_tsv_reads_stray_quotes_as_text(tmp_path):
    p = write(tmp_path / "r.tsv", 'text\tlabel\nhe said "hi\tpos\n"quoted" start\tneg\n')
    data = read_labelled_text(p, "text", "label")
    assert data.texts == ['he said "hi', '"quoted" start']
    assert data.labels == ["pos", "neg"]


def test_jsonl_gz_with_integer_labels(tmp_path):
    p = tmp_path / "r.jsonl.gz"
    rows = [{"t": "好", "y": 1}, {"t": "坏", "y": 0}, {"t": "line\u2028sep", "y": 1}]
    p.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    data = read_labelled_text(p, "t", "y")
    assert data.texts == ["好", "坏", "line\u2028sep"]
    assert data.labels == ["1", "0", "1"]


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    p = tmp_path / "r.parquet"
    pq.write_table(pa.table({"text": ["a b", "c d", "e"], "label": ["x", "y", "x"]}), p)
    data = read_labelled_text(p, "text", "label")
    assert data.texts == ["a b", "c d", "e"] and data.labels == ["x", "y", "x"]


def test_multi_label_by_separator(tmp_path):
    p = write(tmp_path / "m.csv", "text,tags\nfirst,sports|politics\nsecond, music \nthird,a|a|b\n")
    data = read_labelled_text(p, "text", "tags", label_sep="|")
    assert data.multi_label is True
    assert data.labels == [["sports", "politics"], ["music"], ["a", "b"]]
    assert data.classes == ["a", "b", "music", "politics", "sports"]


def test_multi_label_by_indicator_columns(tmp_path):
    p = write(tmp_path / "m.csv", "text,toxic,insult,threat\nyou,1,0,1\nme,0,0,0\nhim,true,1,false\n")
    data = read_labelled_text(p, "text", label_cols=["toxic", "insult", "threat"])
    assert data.multi_label is True
    assert data.labels == [["toxic", "threat"], [], ["toxic", "insult"]]


def test_multi_label_lists_in_jsonl(tmp_path):
    p = write_jsonl(tmp_path / "m.jsonl", [{"text": "a", "labels": ["x", "y"]}, {"text": "b", "labels": []}])
    data = read_labelled_text(p, "text", "labels")
    assert data.multi_label is True and data.labels == [["x", "y"], []]


def test_unknown_column_lists_the_columns(tmp_path):
    p = write(tmp_path / "r.csv", "review,stars\nok,pos\nbad,neg\n")
    with pytest.raises(
        InvalidValueError, match=r"text column 'text' is not a column of .*r.csv.*\['review', 'stars'\]"
    ):
        read_labelled_text(p, "text", "stars")
    with pytest.raises(InvalidValueError, match=r"label column 'label' is not a column"):
        read_labelled_text(p, "review", "label")
    with pytest.raises(InvalidValueError, match=r"label column 'b' is not a column"):
        read_labelled_text(p, "review", label_cols=["stars", "b"])


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("e.csv", "", r"is empty \(0 bytes\)"),
        ("e.csv", "\n  \n", "is empty"),
        ("h.csv", "text,label\n", "has no rows"),
        ("e.jsonl", "\n\n ", "is empty"),
    ],
)
def test_empty_files(tmp_path, name, content, message):
    p = write(tmp_path / name, content)
    with pytest.raises(FileFormatError, match=message):
        read_labelled_text(p, "text", "label")


def test_missing_text_or_label_names_the_row(tmp_path):
    p = write(tmp_path / "r.csv", "text,label\nok,pos\n  ,neg\n")
    with pytest.raises(FileFormatError, match=r"row 2 \(line 3\): the text column 'text' is missing or blank"):
        read_labelled_text(p, "text", "label")
    p = write(tmp_path / "r.csv", 'text,label\n"two\nlines",pos\nfine,\n')
    with pytest.raises(FileFormatError, match=r"row 2 \(line 4\): the label column 'label' is missing or blank"):
        read_labelled_text(p, "text", "label")
    p = write_jsonl(tmp_path / "r.jsonl", [{"text": "a", "label": "x"}, {"text": "b"}])
    with pytest.raises(FileFormatError, match=r"row 2 \(line 2\): the label column 'label' is missing"):
        read_labelled_text(p, "text", "label")


def test_one_class_is_refused_for_single_label(tmp_path):
    p = write(tmp_path / "r.csv", "text,label\na,pos\nb,pos\nc,pos\n")
    with pytest.raises(FileFormatError, match=r"'label' has only one class, 'pos', in all 3 rows"):
        read_labelled_text(p, "text", "label")


def test_non_text_values(tmp_path):
    p = write_jsonl(tmp_path / "r.jsonl", [{"text": "a", "label": "x"}, {"text": 42, "label": "y"}])
    with pytest.raises(FileFormatError, match=r"row 2 \(line 2\): the text column 'text' holds int 42, expected text"):
        read_labelled_text(p, "text", "label")
    p = write_jsonl(tmp_path / "r.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": 0.5}])
    with pytest.raises(FileFormatError, match=r"row 2 .*holds float 0.5; expected a class name"):
        read_labelled_text(p, "text", "label")
    p = write(tmp_path / "m.csv", "text,a,b\nx,1,0\ny,2,0\n")
    with pytest.raises(FileFormatError, match=r"row 2 \(line 3\): the label column 'a' holds '2'; .* 0 or 1"):
        read_labelled_text(p, "text", label_cols=["a", "b"])
    p = write_jsonl(tmp_path / "m.jsonl", [{"text": "a", "labels": ["x"]}, {"text": "b", "labels": "y"}])
    with pytest.raises(FileFormatError, match=r"row 2 .* where other rows hold lists"):
        read_labelled_text(p, "text", "labels")


def test_malformed_lines_are_named(tmp_path):
    p = write(tmp_path / "r.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": \n')
    with pytest.raises(FileFormatError, match=r"r.jsonl' line 2 is not valid JSON"):
        read_labelled_text(p, "text", "label")
    p = write(tmp_path / "r.jsonl", '{"text": "a", "label": "x"}\n["b", "y"]\n')
    with pytest.raises(FileFormatError, match=r"line 2: expected a JSON object per line, got list"):
        read_labelled_text(p, "text", "label")
    p = write(tmp_path / "r.csv", "text,label\na,x\nb,c,y\n")
    with pytest.raises(FileFormatError, match=r"row 2 \(line 3\) has 3 fields, the header has 2"):
        read_labelled_text(p, "text", "label")
    p = write(tmp_path / "r.csv", "text,text\na,x\n")
    with pytest.raises(FileFormatError, match=r"header repeats the column names \['text'\]"):
        read_labelled_text(p, "text", "label")


def test_file_errors(tmp_path):
    with pytest.raises(MissingFileError, match="nope.csv"):
        read_labelled_text(tmp_path / "nope.csv", "text", "label")
    with pytest.raises(InvalidValueError, match=r"unsupported table file .*r.txt.*expected .csv"):
        read_labelled_text(write(tmp_path / "r.txt", "x"), "text", "label")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(NotAFileError, match="got the folder"):
        read_labelled_text(tmp_path / "dir.csv", "text", "label")
    bad = tmp_path / "latin.csv"
    bad.write_bytes("text,label\ncafé,x\n".encode("latin-1"))
    with pytest.raises(FileFormatError, match=r"not valid UTF-8: byte 0xe9 at offset 14"):
        read_labelled_text(bad, "text", "label")
    fake = tmp_path / "fake.csv.gz"
    fake.write_bytes(b"text,label\n")
    with pytest.raises(FileFormatError, match="not a valid gzip file"):
        read_labelled_text(fake, "text", "label")
    with pytest.raises(FileFormatError, match=r"could not be read as Parquet"):
        pytest.importorskip("pyarrow")
        read_labelled_text(write(tmp_path / "r.parquet", "not parquet"), "text", "label")


def test_argument_errors(tmp_path):
    p = write(tmp_path / "r.csv", "text,label,a\nx,y,1\nz,w,0\n")
    with pytest.raises(InvalidValueError, match="label_col .* or label_cols .* not both"):
        read_labelled_text(p, "text", "label", label_cols=["a"])
    with pytest.raises(InvalidValueError, match="neither"):
        read_labelled_text(p, "text")
    with pytest.raises(InvalidValueError, match="cannot be both the text and a label"):
        read_labelled_text(p, "text", "text")
    with pytest.raises(InvalidValueError, match="label_sep must be a non-empty string"):
        read_labelled_text(p, "text", "label", label_sep="")
    with pytest.raises(TypeError, match="text_col must be a column name"):
        read_labelled_text(p, 0, "label")


def test_read_text_file_names_its_role(tmp_path):
    p = tmp_path / "a.txt.gz"
    p.write_bytes(gzip.compress("héllo\n".encode()))
    assert read_text_file(p) == "héllo\n"
    with pytest.raises(MissingFileError, match="CoNLL file '.*x.conll' does not exist"):
        read_text_file(tmp_path / "x.conll", "CoNLL file")
