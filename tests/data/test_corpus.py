"""Corpus reading, the default corpus, the train/validation split, atomic writes."""

import pytest
import torch

from rnnkit.data.corpus import atomic_write, default_corpus, read_text, split_train_val


def test_read_text_utf8_bom_and_newlines(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("\ufeffline one\r\nline two — ok\rend".encode("utf-8"))
    assert read_text(p) == "line one\nline two — ok\nend"
    assert read_text(str(p)) == read_text(p)


def test_read_text_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt.*does not exist"):
        read_text(tmp_path / "nope.txt")


def test_read_text_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="expected a text file, got the folder"):
        read_text(tmp_path)


def test_read_text_empty_and_whitespace(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.txt.*is empty \(0 bytes\)"):
        read_text(p)
    p.write_bytes(b" \n\t\n")
    with pytest.raises(ValueError, match="only whitespace"):
        read_text(p)


def test_read_text_binary_file(tmp_path):
    p = tmp_path / "model.bin"
    p.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(ValueError, match=r"model.bin.*is not text: it contains a NUL byte at offset 4"):
        read_text(p)


def test_read_text_not_utf8(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt.*is not valid UTF-8: byte 0xe9 at offset 3"):
        read_text(p)


def test_default_corpus_is_deterministic_python_help_text():
    text = default_corpus()
    assert text == default_corpus()
    assert len(text) > 100_000
    assert "assert" in text and "lambda" in text


def test_split_train_val_last_fraction_like_nanogpt():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    train, val = split_train_val(text)
    assert len(train) == 900 and len(val) == 100 and train + val == text
    ids = torch.arange(10)
    train, val = split_train_val(ids, 0.3)
    assert train.tolist() == list(range(7)) and val.tolist() == [7, 8, 9]
    train, val = split_train_val([1, 2, 3], 0)
    assert train == [1, 2, 3] and val == []


@pytest.mark.parametrize("fraction", [-0.1, 1, 1.5, "0.1", True])
def test_split_train_val_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction must be a number in"):
        split_train_val("abcdef", fraction)


def test_split_train_val_too_short():
    with pytest.raises(ValueError, match=r"cannot split 1 items with val_fraction=0.1.*\(train 0, validation 1\)"):
        split_train_val("a", 0.1)
    assert split_train_val("abc", 0.1) == ("ab", "c")
    with pytest.raises(TypeError, match="data must be a str, list or 1-D tensor, got int"):
        split_train_val(5)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "f.json"
    atomic_write(p, "first")
    atomic_write(p, b"second")
    assert p.read_text() == "second"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.json"]
    with pytest.raises(TypeError, match="bytes or str, got int"):
        atomic_write(p, 3)
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path, "x")
