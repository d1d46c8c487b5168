"""CoNLL and JSONL tagging files; BIO/BIOES entity spans and entity-level scores (seqeval's definition)."""

import gzip
import json

import pytest

from rnnkit._checks import FileFormatError, InvalidTypeError, InvalidValueError, MissingFileError
from rnnkit.data.conll import TaggedSentences, entity_scores, read_conll, read_tagged_jsonl, spans

CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER


-DOCSTART- -X- -X- O
BRUSSELS NNP B-NP B-LOC
"""


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ---- CoNLL -------------------------------------------------------------------------------------


def test_conll_2003_sentences_docstart_and_blank_lines(tmp_path):
    data = read_conll(write(tmp_path / "train.txt", CONLL2003))
    assert isinstance(data, TaggedSentences) and len(data) == 3
    assert data.tokens == [["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert data.tags == [["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"], ["B-LOC"]]
    assert data.num_tokens == 8 and data.tag_set == ["B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER", "O"]
    chunks = read_conll(tmp_path / "train.txt", token_col=0, tag_col=2)
    assert chunks.tags[0] == ["B-NP", "B-VP", "B-NP", "I-NP", "O"]


def test_conll_tab_separated_tokens_may_hold_spaces_and_gz(tmp_path):
    p = tmp_path / "d.tsv.gz"
    p.write_bytes(gzip.compress("New York\tB-LOC\r\nis\tO\r\n\r\nhi\tO\r\n".encode()))
    data = read_conll(p, sep="\t")
    assert data.tokens == [["New York", "is"], ["hi"]] and data.tags == [["B-LOC", "O"], ["O"]]


def test_conll_wrong_number_of_columns_names_the_line(tmp_path):
    p = write(tmp_path / "bad.conll", "EU B-ORG\nrejects O\n\nGerman JJ B-MISC\n")
    with pytest.raises(FileFormatError, match=r"bad.conll' line 4 has 3 column\(s\), expected 2 as on line 1"):
        read_conll(p)


def test_conll_empty_and_token_free_files(tmp_path):
    with pytest.raises(FileFormatError, match="is empty"):
        read_conll(write(tmp_path / "e.conll", "\n \n"))
    with pytest.raises(FileFormatError, match="has no sentences"):
        read_conll(write(tmp_path / "d.conll", "-DOCSTART- O\n\n-DOCSTART- O\n"))
    with pytest.raises(MissingFileError):
        read_conll(tmp_path / "none.conll")


def test_conll_columns_out_of_range_and_empty_fields(tmp_path):
    p = write(tmp_path / "a.conll", "EU B-ORG\n")
    with pytest.raises(InvalidValueError, match=r"tag_col=2 is out of range: .* has 2 column\(s\)"):
        read_conll(p, tag_col=2)
    with pytest.raises(InvalidValueError, match="are the same column"):
        read_conll(p, token_col=1, tag_col=-1)
    with pytest.raises(InvalidTypeError, match="token_col must be a column index"):
        read_conll(p, token_col="0")
    with pytest.raises(FileFormatError, match=r"line 2: empty token"):
        read_conll(write(tmp_path / "t.conll", "EU\tB-ORG\n\tO\n"), sep="\t")


# ---- JSONL -------------------------------------------------------------------------------------


def test_tagged_jsonl(tmp_path):
    rows = [{"tokens": ["我", "爱", "北京"], "tags": ["O", "O", "B-LOC"], "id": 7}, {"tokens": ["hi"], "tags": ["O"]}]
    p = write(tmp_path / "t.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    data = read_tagged_jsonl(p)
    assert data.tokens == [["我", "爱", "北京"], ["hi"]] and data.tags == [["O", "O", "B-LOC"], ["O"]]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"tokens": ["a", "b"], "tags": ["O"]}', r"line 2: 2 tokens but 1 tags"),
        ('{"tokens": ["a"]}', r"line 2 has no 'tags' key"),
        ('{"tokens": ["a"], "tags": ["O"]', r"line 2 is not valid JSON"),
        ('{"tokens": [], "tags": []}', r"line 2: a sentence with no tokens"),
        ('{"tokens": "a b", "tags": ["O", "O"]}', r"line 2: 'tokens' must be a list of non-empty strings"),
        ('{"tokens": ["a", 3], "tags": ["O", "O"]}', r"line 2: 'tokens' must be a list"),
        ('[["a"], ["O"]]', r"line 2: expected an object"),
    ],
)
def test_tagged_jsonl_errors_name_the_line(tmp_path, line, message):
    p = write(tmp_path / "t.jsonl", '{"tokens": ["ok"], "tags": ["O"]}\n' + line + "\n")
    with pytest.raises(FileFormatError, match=message):
        read_tagged_jsonl(p)


def test_tagged_jsonl_empty(tmp_path):
    with pytest.raises(FileFormatError, match="is empty"):
        read_tagged_jsonl(write(tmp_path / "t.jsonl", ""))


# ---- spans -------------------------------------------------------------------------------------


def test_spans_seqeval_get_entities_example():
    # seqeval's README: get_entities(['B-PER', 'I-PER', 'O', 'B-LOC']) == [('PER', 0, 1), ('LOC', 3, 3)]
    assert spans(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]
    assert spans([]) == [] and spans(["O", "O"]) == []


@pytest.mark.parametrize(
    "tags, lenient, strict",
    [
        (["O", "I-PER", "I-PER", "O"], [("PER", 1, 3)], []),  # I- after O: begins a chunk / no entity
        (["I-PER"], [("PER", 0, 1)], []),
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)], [("PER", 0, 1)]),  # a change of type
        (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)], [("PER", 0, 1), ("PER", 1, 3)]),
        (["B-ORG", "I-ORG", "I-ORG"], [("ORG", 0, 3)], [("ORG", 0, 3)]),
    ],
)
def test_spans_lenient_and_strict_bio(tags, lenient, strict):
    assert spans(tags) == lenient
    assert spans(tags, strict=True) == strict


def test_spans_bioes():
    tags = ["S-PER", "B-LOC", "I-LOC", "E-LOC", "O", "B-ORG", "I-ORG", "O", "E-PER"]
    assert spans(tags, scheme="BIOES") == [("PER", 0, 1), ("LOC", 1, 4), ("ORG", 5, 7), ("PER", 8, 9)]
    # strict: B-ORG I-ORG never closed by E-ORG, and E-PER after O, are no entities
    assert spans(tags, strict=True, scheme="BIOES") == [("PER", 0, 1), ("LOC", 1, 4)]


def test_spans_refuses_tags_outside_the_scheme():
    with pytest.raises(InvalidValueError, match=r"'E-PER' is not a BIO tag.*pass scheme='BIOES'"):
        spans(["B-PER", "E-PER"])
    with pytest.raises(InvalidValueError, match=r"'PER' is not a BIO tag"):
        spans(["PER"])
    with pytest.raises(InvalidTypeError, match="got the str"):
        spans("B-PER")
    with pytest.raises(InvalidValueError, match="scheme must be one of"):
        spans(["O"], scheme="BILOU")


# ---- entity scores -----------------------------------------------------------------------------


def test_entity_scores_seqeval_readme_example():
    # seqeval's README: f1 0.50; MISC 0/0/0 support 1, PER 1/1/1 support 1; micro 0.50
    y_true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    y_pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    s = entity_scores(y_true, y_pred)
    assert (s.precision, s.recall, s.f1) == (0.5, 0.5, 0.5)
    assert s.per_type["MISC"].f1 == 0.0 and s.per_type["MISC"].support == 1
    assert s.per_type["PER"].f1 == 1.0 and s.per_type["PER"].support == 1
    assert s.macro_f1 == 0.5


def test_entity_scores_seqeval_strict_mode_example():
    # seqeval's README: default mode f1 1.00; mode="strict", scheme=IOB2: 0.00
    y_true = [["B-NP", "I-NP", "O"]]
    y_pred = [["I-NP", "I-NP", "O"]]
    assert entity_scores(y_true, y_pred).f1 == 1.0
    assert entity_scores(y_true, y_pred, strict=True).f1 == 0.0


def test_entity_scores_boundaries_and_type_must_match():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-ORG", "O"], ["B-ORG", "O"]]  # PER too short, LOC typed ORG, ORG right
    s = entity_scores(gold, pred)
    assert s.micro.correct == 1 and s.micro.predicted == 3 and s.micro.support == 3
    assert s.precision == pytest.approx(1 / 3) and s.recall == pytest.approx(1 / 3)
    assert s.per_type["ORG"].precision == 0.5 and s.per_type["ORG"].recall == 1.0
    assert s.per_type["ORG"].f1 == pytest.approx(2 / 3)
    assert s.per_type["LOC"].predicted == 0 and s.per_type["LOC"].f1 == 0.0


def test_entity_scores_nothing_predicted_is_zero_like_seqeval():
    s = entity_scores([["B-PER"]], [["O"]])
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)


def test_entity_scores_shape_errors():
    with pytest.raises(InvalidValueError, match="gold has 2 sentences but pred has 1"):
        entity_scores([["O"], ["O"]], [["O"]])
    with pytest.raises(InvalidValueError, match="sentence 0: gold has 2 tags but pred has 1"):
        entity_scores([["O", "O"]], [["O"]])
    with pytest.raises(InvalidTypeError, match=r"gold\[0\] must be a list of tags .* even for one"):
        entity_scores(["B-PER", "O"], ["B-PER", "O"])
