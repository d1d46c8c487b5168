"""LanguageModel: shapes, carried state, tying, conditioning, loss, save/load, input errors."""

import json
import math

import pytest
import torch

from rnnkit.data.vocab import Vocabulary
from rnnkit.models.language_model import (
    LanguageModel,
    LanguageModelConfig,
    bits_per_token,
    perplexity,
)

CELLS = ["lstm", "gru", "rnn"]


def tiny(cell="lstm", **kw):
    torch.manual_seed(0)
    cfg = dict(vocab_size=11, cell=cell, embedding_size=6, hidden_size=8, num_layers=2)
    cfg.update(kw)
    return LanguageModel(LanguageModelConfig(**cfg)).eval()


def tokens(b=3, t=7, v=11, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, v, (b, t), generator=g)


@pytest.mark.parametrize("cell", CELLS)
def test_shapes_and_state(cell):
    m = tiny(cell)
    logits, state = m(tokens())
    assert logits.shape == (3, 7, 11)
    if cell == "lstm":
        assert isinstance(state, tuple) and [s.shape for s in state] == [(2, 3, 8)] * 2
    else:
        assert state.shape == (2, 3, 8)


@pytest.mark.parametrize("cell", CELLS)
def test_one_token_at_a_time_with_carried_state_equals_the_full_sequence(cell):
    m = tiny(cell)
    x = tokens()
    full, full_state = m(x)
    state, steps = None, []
    for t in range(x.shape[1]):
        out, state = m(x[:, t : t + 1], state)
        steps.append(out)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-6)
    for a, b in zip(
        state if cell == "lstm" else (state,), full_state if cell == "lstm" else (full_state,), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_chunks_with_carried_state_equal_the_full_sequence():
    m = tiny("gru")
    x = tokens(t=12)
    full, _ = m(x)
    a, s = m(x[:, :5])
    b, _ = m(x[:, 5:], s)
    torch.testing.assert_close(torch.cat([a, b], dim=1), full, rtol=1e-5, atol=1e-6)


def test_tied_weights_share_one_matrix_and_project_when_sizes_differ():
    m = tiny(tie_weights=True, embedding_size=8)
    assert m.decoder.weight is m.embedding.weight and m.project is None
    m = tiny(tie_weights=True)  # embedding 6, hidden 8
    assert m.decoder.weight is m.embedding.weight
    assert m.project.weight.shape == (6, 8)
    assert m(tokens())[0].shape == (3, 7, 11)
    untied = tiny()
    assert m.num_parameters() < untied.num_parameters()


def test_dropout_is_active_only_in_training():
    m = tiny(dropout=0.5)
    x = tokens()
    torch.testing.assert_close(m(x)[0], m(x)[0])
    m.train()
    assert not torch.allclose(m(x)[0], m(x)[0])


def test_loss_is_cross_entropy_in_nats_and_the_conversions():
    m = tiny()
    x, y = tokens(seed=1), tokens(seed=2)
    logits, _ = m(x)
    loss = m.loss(logits, y)
    ref = -torch.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).mean()
    torch.testing.assert_close(loss, ref)
    # an untrained model is close to uniform: loss near ln V
    assert abs(loss.item() - math.log(11)) < 0.5
    assert bits_per_token(math.log(2)) == pytest.approx(1.0)
    assert perplexity(math.log(11)) == pytest.approx(11.0)


def test_loss_errors():
    logits = torch.zeros(2, 3, 5)
    with pytest.raises(ValueError, match=r"logits must be a 3-D tensor \(B, T, V\)"):
        LanguageModel.loss(torch.zeros(6, 5), torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 3\)"):
        LanguageModel.loss(logits, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="targets must be torch.long ids, got dtype torch.float32"):
        LanguageModel.loss(logits, torch.zeros(2, 3))


def test_forward_input_errors_name_the_value():
    m = tiny()
    with pytest.raises(ValueError, match="token id 11 is outside the vocabulary: expected 0 <= id < vocab_size=11"):
        m(torch.tensor([[1, 11, 2]]))
    with pytest.raises(ValueError, match="token id -1 is outside"):
        m(torch.tensor([[-1]]))
    with pytest.raises(TypeError, match="integer tensor.*got dtype torch.float32"):
        m(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"2-D \(B, T\).*got shape \(3,\)"):
        m(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"got shape \(1, 0\)"):
        m(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(TypeError, match="tokens must be a torch.Tensor of ids, got list"):
        m([[1, 2]])
    assert m(torch.tensor([[1, 2]], dtype=torch.int32))[0].shape == (1, 2, 11)


@pytest.mark.parametrize(
    "field, value, error, match",
    [
        ("vocab_size", 0, ValueError, "vocab_size must be an int >= 1, got 0"),
        ("vocab_size", 3.0, TypeError, "vocab_size must be an int >= 1, got float 3.0"),
        ("cell", "transformer", ValueError, "cell must be one of .* got 'transformer'"),
        ("embedding_size", -1, ValueError, "embedding_size must be an int >= 1, got -1"),
        ("hidden_size", True, TypeError, "hidden_size must be an int >= 1, got bool True"),
        ("num_layers", 0, ValueError, "num_layers must be an int >= 1, got 0"),
        ("dropout", 1.0, ValueError, r"dropout must be a number in \[0, 1\), got 1.0"),
        ("tie_weights", 1, TypeError, "tie_weights must be True or False, got int 1"),
        ("condition_size", -2, ValueError, "condition_size must be an int >= 0, got -2"),
    ],
)
def test_config_errors(field, value, error, match):
    cfg = dict(vocab_size=5)
    cfg[field] = value
    with pytest.raises(error, match=match):
        LanguageModelConfig(**cfg)


def test_config_dict_round_trip_and_unknown_fields():
    cfg = LanguageModelConfig(vocab_size=7, cell="gru", dropout=0.1, condition_size=3)
    assert LanguageModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown config fields \['layers'\]"):
        LanguageModelConfig.from_dict({"vocab_size": 7, "layers": 2})
    with pytest.raises(TypeError, match="config must be a LanguageModelConfig, got dict"):
        LanguageModel({"vocab_size": 7})


# ---- conditioning ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
def test_condition_sets_the_initial_state(cell):
    m = tiny(cell, condition_size=4)
    x = tokens(b=2)
    c = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    state = m.init_state(2, c)
    parts = state if cell == "lstm" else (state,)
    assert all(p.shape == (2, 2, 8) for p in parts)
    assert not torch.allclose(parts[0][:, 0], parts[0][:, 1])  # two conditions, two starting states
    logits, _ = m(x, condition=c)
    torch.testing.assert_close(logits, m(x, state)[0])
    swapped, _ = m(x, condition=c.flip(0))
    assert not torch.allclose(logits, swapped)


def test_condition_is_ignored_once_a_state_is_carried():
    m = tiny(condition_size=2)
    x = tokens(b=1)
    state = m.init_state(1, torch.ones(1, 2))
    a, _ = m(x, state)
    b, _ = m(x, state, condition=torch.zeros(1, 2))
    torch.testing.assert_close(a, b)


def test_condition_gets_gradients():
    m = tiny(condition_size=3).train()
    logits, _ = m(tokens(b=2), condition=torch.randn(2, 3))
    m.loss(logits, tokens(b=2, seed=5)).backward()
    assert m.condition_to_state.weight.grad.abs().sum() > 0


def test_condition_errors():
    m = tiny(condition_size=3)
    with pytest.raises(ValueError, match=r"conditioned \(condition_size=3\): pass condition of shape \(B, 3\)"):
        m(tokens())
    with pytest.raises(ValueError, match=r"condition must be a tensor of shape \(3, 3\).*got"):
        m(tokens(), condition=torch.zeros(3, 2))
    with pytest.raises(TypeError, match="condition must be a floating-point tensor, got dtype torch.int64"):
        m(tokens(), condition=torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="condition_size=0: it takes no condition"):
        tiny()(tokens(), condition=torch.zeros(3, 3))
    assert m(tokens(), state=m.init_state(3, torch.zeros(3, 3)))[0].shape == (3, 7, 11)


# ---- save / load ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw", [dict(cell="lstm"), dict(cell="gru", tie_weights=True), dict(cell="rnn", condition_size=2)]
)
def test_save_load_gives_identical_logits(tmp_path, kw):
    m = tiny(**kw)
    with torch.no_grad():  # move off the init so a silently re-initialised load would differ
        for p in m.parameters():
            p.add_(0.01 * torch.randn_like(p))
    vocab = Vocabulary([chr(ord("a") + i) for i in range(10)])
    m.save_pretrained(tmp_path / "lm", vocab=vocab)
    assert sorted(p.name for p in (tmp_path / "lm").iterdir()) == ["config.json", "model.safetensors", "vocab.json"]
    n = LanguageModel.from_pretrained(tmp_path / "lm")
    assert n.config == m.config and n.vocab == vocab and not n.training
    if m.config.tie_weights:
        assert n.decoder.weight is n.embedding.weight
    x = tokens()
    cond = {"condition": torch.randn(3, 2)} if m.config.condition_size else {}
    torch.testing.assert_close(n(x, **cond)[0], m(x, **cond)[0], rtol=0, atol=0)
    for (k, a), (_, b) in zip(m.state_dict().items(), n.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_saved_files_are_json_and_safetensors_not_pickle(tmp_path):
    m = tiny()
    m.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "language_model" and config["format_version"] == 3
    assert config["config"]["vocab_size"] == 11
    header_len = int.from_bytes((tmp_path / "model.safetensors").read_bytes()[:8], "little")
    assert json.loads((tmp_path / "model.safetensors").read_bytes()[8 : 8 + header_len])
    assert not (tmp_path / "vocab.json").exists()
    assert LanguageModel.from_pretrained(tmp_path).vocab is None


def test_model_held_vocabulary_is_saved(tmp_path):
    vocab = Vocabulary.from_text("abcdefghij")
    m = LanguageModel(LanguageModelConfig(vocab_size=len(vocab), embedding_size=4, hidden_size=4, num_layers=1), vocab)
    m.save_pretrained(tmp_path)
    assert LanguageModel.from_pretrained(tmp_path).vocab == vocab


def test_vocab_size_mismatch():
    with pytest.raises(ValueError, match="the vocabulary has 4 tokens but the model's vocab_size is 11"):
        LanguageModel(LanguageModelConfig(vocab_size=11), Vocabulary.from_text("abc"))


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LanguageModel.from_pretrained(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="holds no config.json"):
        LanguageModel.from_pretrained(tmp_path)
    m = tiny()
    m.save_pretrained(tmp_path)
    cfg_path = tmp_path / "config.json"
    good = json.loads(cfg_path.read_text())

    def with_config(**changes):
        return json.dumps({**good, "config": {**good["config"], **changes}})

    cfg_path.write_text("{")
    with pytest.raises(ValueError, match="config.json' is not valid JSON"):
        LanguageModel.from_pretrained(tmp_path)
    cfg_path.write_text(json.dumps({**good, "model_type": "gpt2"}))
    with pytest.raises(ValueError, match="holds a 'gpt2' model, expected a language model"):
        LanguageModel.from_pretrained(tmp_path)
    cfg_path.write_text(with_config(depth=3))
    with pytest.raises(ValueError, match=r"unknown config fields \['depth'\]"):
        LanguageModel.from_pretrained(tmp_path)
    cfg_path.write_text(with_config(hidden_size=9))
    with pytest.raises(ValueError, match="model.safetensors' does not match"):
        LanguageModel.from_pretrained(tmp_path)
    cfg_path.write_text(with_config(hidden_size="16"))  # a bad file, not a bad call
    with pytest.raises(ValueError, match="config.json'.*hidden_size must be an int"):
        LanguageModel.from_pretrained(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="needs a folder"):
        m.save_pretrained(tmp_path / "file")


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: b[:5], lambda b: b"\x00" * 64, lambda b: b""],
    ids=["truncated", "cut-in-header", "zeros", "empty"],
)
def test_corrupt_weights_raise_a_value_error_naming_the_file(tmp_path, damage):
    tiny().save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    with pytest.raises(
        ValueError, match=r"model.safetensors' is not a readable safetensors file \(truncated or corrupt"
    ):
        LanguageModel.from_pretrained(tmp_path)


def test_a_corrupt_vocabulary_raises_a_value_error(tmp_path):
    m = tiny()
    m.save_pretrained(tmp_path)
    (tmp_path / "vocab.json").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ValueError, match="vocab.json' is not a readable vocabulary"):
        LanguageModel.from_pretrained(tmp_path)


def test_tied_weights_load_from_either_stored_name(tmp_path):
    from safetensors.torch import save_file

    m = tiny(tie_weights=True, embedding_size=8)
    m.save_pretrained(tmp_path)
    w = {k: v.contiguous() for k, v in m.state_dict().items() if k != "embedding.weight"}  # only decoder.weight kept
    save_file(w, str(tmp_path / "model.safetensors"))
    n = LanguageModel.from_pretrained(tmp_path)
    assert n.decoder.weight is n.embedding.weight
    torch.testing.assert_close(n(tokens())[0], m(tokens())[0], rtol=0, atol=0)
