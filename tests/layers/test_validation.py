"""Every bad input raises ValueError/TypeError naming what it got and what it expected."""

import functools
import re

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from rnnkit._checks import InvalidTypeError, InvalidValueError, UserError
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.layers import check_lengths


@pytest.fixture
def lstm():
    return rnnkit.LSTM(4, 5, num_layers=2, batch_first=True)


def test_wrong_number_of_dims(lstm):
    with pytest.raises(ValueError, match=r"input must have 3 dims .* got 4 dims with shape \(2, 3, 4, 1\)"):
        lstm(torch.randn(2, 3, 4, 1))
    with pytest.raises(ValueError, match=r"got 1 dims with shape \(4,\)"):
        lstm(torch.randn(4))


def test_wrong_feature_size(lstm):
    with pytest.raises(ValueError, match=r"input_size=4 features .* got shape \(2, 3, 7\)"):
        lstm(torch.randn(2, 3, 7))


def test_non_floating_dtype(lstm):
    with pytest.raises(TypeError, match=r"floating-point tensor, got dtype torch.int64"):
        lstm(torch.ones(2, 3, 4, dtype=torch.long))


def test_dtype_mismatch_with_parameters(lstm):
    with pytest.raises(
        TypeError, match=r"input dtype torch.float64 does not match the layer's parameters \(torch.float32\)"
    ):
        lstm(torch.randn(2, 3, 4, dtype=torch.float64))


def test_not_a_tensor(lstm):
    with pytest.raises(TypeError, match=r"torch.Tensor or PackedSequence, got list"):
        lstm([[1.0] * 4])


def test_empty_time(lstm):
    with pytest.raises(ValueError, match=r"no time steps: shape \(2, 0, 4\)"):
        lstm(torch.randn(2, 0, 4))


def test_state_of_wrong_shape(lstm):
    x = torch.randn(2, 3, 4)
    good = lstm.init_state(2)
    with pytest.raises(
        ValueError, match=r"state\[0\] must have shape \(2, 2, 5\) .* got a tensor of shape \(1, 2, 5\)"
    ):
        lstm(x, (torch.zeros(1, 2, 5), good[1]))
    with pytest.raises(
        ValueError, match=r"state\[1\] must have shape \(2, 2, 5\) .* got a tensor of shape \(2, 3, 5\)"
    ):
        lstm(x, (good[0], torch.zeros(2, 3, 5)))
    with pytest.raises(ValueError, match=r"state must be a tuple of 2 tensors for this layer, got a tensor"):
        lstm(x, good[0])
    gru = rnnkit.GRU(4, 5)
    with pytest.raises(ValueError, match=r"state must have shape \(1, 3, 5\) .* got a tensor of shape \(1, 3, 6\)"):
        gru(torch.randn(2, 3, 4), torch.zeros(1, 3, 6))
    with pytest.raises(TypeError, match=r"state dtype torch.float64 does not match the input dtype torch.float32"):
        gru(torch.randn(2, 3, 4), torch.zeros(1, 3, 5, dtype=torch.float64))


@pytest.mark.parametrize(
    "lengths,error,pattern",
    [
        ([], ValueError, r"lengths is empty"),
        (torch.tensor([], dtype=torch.long), ValueError, r"lengths is empty"),
        ([3, 0], ValueError, r"lengths must be positive, got \[3, 0\]"),
        ([3, -1], ValueError, r"lengths must be positive, got \[3, -1\]"),
        ([3, 4], ValueError, r"must not exceed the padded sequence length 3, got \[3, 4\]"),
        ([3], ValueError, r"lengths has 1 entries but the batch has 2 sequences"),
        ([3, 2, 1], ValueError, r"lengths has 3 entries but the batch has 2 sequences"),
        ([3.0, 2.0], TypeError, r"lengths must hold ints, got 3.0 of type float"),
        (torch.tensor([3.0, 2.0]), TypeError, r"lengths must hold integers, got dtype torch.float32"),
        (torch.tensor([[3, 2]]), ValueError, r"lengths must be 1-D .* got shape \(1, 2\)"),
        (5, TypeError, r"lengths must be a list of ints or a 1-D integer tensor, got int"),
        (np.array([3.0, 2.0]), TypeError, r"lengths must hold integers, got dtype float64"),
        (np.array([True, True]), TypeError, r"lengths must hold integers, got dtype bool"),
        (np.array([[3, 2]]), ValueError, r"lengths must be 1-D .* got shape \(1, 2\)"),
        ([np.float64(3.0), 2], TypeError, r"lengths must hold ints, got 3.0 of type float64"),
        ([True, 2], TypeError, r"lengths must hold ints, got True of type bool"),
        ([np.bool_(True), 2], TypeError, r"lengths must hold ints, got True of type bool"),
        (np.array([3, 0]), ValueError, r"lengths must be positive, got \[3, 0\]"),
    ],
)
def test_bad_lengths(lstm, lengths, error, pattern):
    with pytest.raises(error, match=pattern):
        lstm(torch.randn(2, 3, 4), lengths=lengths)


def test_lengths_on_another_device_or_dtype_are_accepted(lstm):
    x = torch.randn(2, 3, 4)
    a, _ = lstm(x, lengths=torch.tensor([3, 1], dtype=torch.int32))
    b, _ = lstm(x, lengths=[3, 1])
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "lengths",
    [
        np.array([3, 1]),
        np.array([3, 1], dtype=np.int32),
        np.array([3, 1], dtype=np.uint8),
        [np.int64(3), np.int32(1)],
        (3, np.int16(1)),
        np.array([1, 3])[::-1],
    ],
    ids=[
        "ndarray-int64",
        "ndarray-int32",
        "ndarray-uint8",
        "list-of-numpy-ints",
        "tuple-mixed",
        "negative-stride-view",
    ],
)
def test_numpy_lengths_are_accepted(lstm, lengths):
    x = torch.randn(2, 3, 4)
    a, ha = lstm(x, lengths=lengths)
    b, hb = lstm(x, lengths=[3, 1])
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    torch.testing.assert_close(ha, hb, atol=0, rtol=0)
    assert torch.count_nonzero(a[1, 1:]) == 0


def test_lengths_with_packed_or_unbatched(lstm):
    x = torch.randn(2, 3, 4)
    packed = pack_padded_sequence(x, [3, 2], batch_first=True)
    with pytest.raises(ValueError, match=r"lengths must be None for a PackedSequence"):
        lstm(packed, lengths=[3, 2])
    with pytest.raises(ValueError, match=r"lengths needs a batched \(3-D\) input"):
        lstm(torch.randn(3, 4), lengths=[3])


@pytest.mark.parametrize(
    "kwargs,error,pattern",
    [
        ({"hidden_size": 0}, ValueError, r"hidden_size must be an int >= 1, got 0"),
        ({"hidden_size": 2.5}, TypeError, r"hidden_size must be an int >= 1, got float 2.5"),
        ({"num_layers": 0}, ValueError, r"num_layers must be an int >= 1, got 0"),
        ({"dropout": 1.5}, ValueError, r"dropout must be a number in \[0, 1\], got 1.5"),
        ({"proj_size": 5}, ValueError, r"proj_size must be 0 \(no projection\) or in \[1, hidden_size=5\), got 5"),
        ({"proj_size": -1}, ValueError, r"got -1"),
        ({"engine": "cuda"}, ValueError, r"engine must be one of \['auto', .*'fused', .*'loop'.*\], got 'cuda'"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, pattern):
    args = {"input_size": 4, "hidden_size": 5, **kwargs}
    with pytest.raises(error, match=pattern):
        rnnkit.LSTM(**args)


def test_bad_nonlinearity():
    with pytest.raises(ValueError, match=r"nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        rnnkit.RNN(4, 5, nonlinearity="sigmoid")


def test_factory_must_return_a_cell():
    with pytest.raises(TypeError, match=r"cell_factory must return a rnnkit.cells.RecurrentCell, got Linear"):
        rnnkit.Recurrent(lambda i, h: torch.nn.Linear(i, h), 4, 5)


def test_cell_input_checks():
    cell = LSTMCell(4, 5)
    with pytest.raises(ValueError, match=r"input_size=4 features .* got shape \(2, 3\)"):
        cell(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"2 dims \(batch, input_size\) or 1 dim .* got 3 dims"):
        cell(torch.randn(2, 3, 4))
    with pytest.raises(TypeError, match=r"floating-point tensor, got dtype torch.int64"):
        cell(torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"state\[1\] must have shape \(2, 5\), got a tensor of shape \(2, 4\)"):
        cell(torch.randn(2, 4), (torch.zeros(2, 5), torch.zeros(2, 4)))
    with pytest.raises(ValueError, match=r"state must be a tuple of 2 tensors for LSTMCell"):
        cell(torch.randn(2, 4), torch.zeros(2, 5))


def test_state_from_autocast_is_accepted_under_autocast():
    """A state carried out of an autocast region may be bf16 while the next input is fp32."""
    gru = rnnkit.GRU(4, 5, batch_first=True)
    x = torch.randn(2, 3, 4)
    h = torch.randn(1, 2, 5).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, h2 = gru(x, h)
    assert h2.shape == (1, 2, 5)
    torch.testing.assert_close(out, gru(x, h.float())[0], atol=5e-2, rtol=5e-2)
    with pytest.raises(TypeError, match=r"state dtype torch.bfloat16 does not match the input dtype torch.float32"):
        gru(x, h)  # outside autocast a mismatch is still an error


def test_factory_must_return_a_new_cell_each_call():
    cell = rnnkit.cells.GRUCell(4, 5)
    with pytest.raises(ValueError, match=r"cell_factory returned a GRUCell that a layer already holds"):
        rnnkit.Recurrent(lambda i, h: cell, 4, 5, bidirectional=True)


# ---- constructors and helpers: every wrong argument is a UserError naming it ---------------------


@pytest.mark.parametrize(
    "make,error,pattern",
    [
        (
            lambda: rnnkit.Recurrent(42, 8, 16),
            InvalidTypeError,
            r"cell_factory \(the first argument\) must be a cell class or a factory .* got int 42",
        ),
        (lambda: rnnkit.Recurrent("lstm", 8, 16), InvalidTypeError, r"cell_factory .* got str 'lstm'"),
        (lambda: rnnkit.Recurrent(None, 8, 16), InvalidTypeError, r"cell_factory .* got NoneType None"),
        (
            lambda: rnnkit.Recurrent(lambda: None, 8, 16),
            InvalidTypeError,
            r"cannot be called as cell_factory\(input_size, hidden_size\)",
        ),
        (
            lambda: rnnkit.Recurrent(lambda i, h, k: None, 8, 16),
            InvalidTypeError,
            r"cannot be called as cell_factory\(input_size, hidden_size\): missing a required argument: 'k'",
        ),
        (lambda: rnnkit.Recurrent(LSTMCell, "8", 16), InvalidTypeError, r"input_size must be an int >= 1, got str '8'"),
        (
            lambda: rnnkit.Recurrent(LSTMCell, 8, 16.0),
            InvalidTypeError,
            r"hidden_size must be an int >= 1, got float 16.0",
        ),
        (
            lambda: rnnkit.Recurrent(LSTMCell, 8, torch.tensor(16)),
            InvalidTypeError,
            r"hidden_size must be an int >= 1, got a tensor",
        ),
        (
            lambda: rnnkit.Recurrent(LSTMCell, 8, 16, num_layers=True),
            InvalidTypeError,
            r"num_layers must be an int >= 1, got bool True",
        ),
        (
            lambda: rnnkit.Recurrent(LSTMCell, 8, 16, batch_first="yes"),
            InvalidTypeError,
            r"batch_first must be True or False, got str 'yes'",
        ),
        (
            lambda: rnnkit.Recurrent(LSTMCell, 8, 16, bidirectional=1),
            InvalidTypeError,
            r"bidirectional must be True or False, got int 1",
        ),
        (
            lambda: rnnkit.Recurrent(LSTMCell, 8, 16, dropout=None),
            InvalidTypeError,
            r"dropout must be a number in \[0, 1\], got NoneType",
        ),
        (
            lambda: rnnkit.Recurrent(LSTMCell, 8, 16, engine=None),
            InvalidTypeError,
            r"engine must be one of .* got NoneType None",
        ),
        (lambda: rnnkit.LSTM(-4, 5), InvalidValueError, r"input_size must be an int >= 1, got -4"),
        (lambda: rnnkit.LSTM(4, 5, bias="no"), InvalidTypeError, r"bias must be True or False, got str 'no'"),
        (lambda: rnnkit.LSTM(4, 5, proj_size=2.0), InvalidTypeError, r"proj_size must be an int, got float 2.0"),
        (
            lambda: rnnkit.LSTM(4, 5, dtype=torch.int64),
            InvalidValueError,
            r"dtype must be a floating-point torch.dtype .* got torch.int64",
        ),
        (
            lambda: rnnkit.LSTM(4, 5, dtype="float32"),
            InvalidTypeError,
            r"dtype must be a floating-point torch.dtype such as torch.float32, got str 'float32'",
        ),
        (lambda: rnnkit.GRU(4, 5, device="gpu"), InvalidValueError, r"device 'gpu' is not a torch device"),
        (
            lambda: rnnkit.GRU(4, 5, device=1.5),
            InvalidTypeError,
            r"device must be a torch.device, a string .* got float 1.5",
        ),
        (
            lambda: rnnkit.GRU(4, 5, batch_first=None),
            InvalidTypeError,
            r"batch_first must be True or False, got NoneType None",
        ),
        (
            lambda: rnnkit.RNN(4, 5, nonlinearity=["tanh"]),
            InvalidValueError,
            r"nonlinearity must be 'tanh' or 'relu', got \['tanh'\]",
        ),
        (
            lambda: rnnkit.RNN(4, 5, nonlinearity=None),
            InvalidValueError,
            r"nonlinearity must be 'tanh' or 'relu', got None",
        ),
        (
            lambda: rnnkit.layers.stock_layer(["lstm"], 4, 5),
            InvalidValueError,
            r"cell must be one of \['lstm', 'gru', 'rnn', 'layernorm-lstm', .*'minlstm'\], got \['lstm'\]",
        ),
        (lambda: rnnkit.layers.stock_layer("LSTM", 4, 5), InvalidValueError, r"cell must be one of .* got 'LSTM'"),
        (lambda: LSTMCell("4", 5), InvalidTypeError, r"input_size must be an int >= 1, got str '4'"),
        (lambda: LSTMCell(4, 0), InvalidValueError, r"hidden_size must be an int >= 1, got 0"),
        (lambda: LSTMCell(4, 5, bias=None), InvalidTypeError, r"bias must be True or False, got NoneType None"),
        (
            lambda: LSTMCell(4, 5, dtype=torch.bool),
            InvalidValueError,
            r"dtype must be a floating-point torch.dtype .* got torch.bool",
        ),
        (lambda: GRUCell(4, 5, bias=1), InvalidTypeError, r"bias must be True or False, got int 1"),
        (lambda: GRUCell(4, 5, device=[0]), InvalidTypeError, r"device must be a torch.device"),
        (
            lambda: ElmanCell(4, 5, nonlinearity={"tanh": 1}),
            InvalidValueError,
            r"nonlinearity must be 'tanh' or 'relu'",
        ),
        (
            lambda: ElmanCell(4, 5, dtype=torch.float64, device=-1),
            InvalidValueError,
            r"device -1 is not a torch device",
        ),
        (lambda: LSTMCell(4, 5).init_state("2"), InvalidTypeError, r"batch_size must be an int >= 1, got str '2'"),
        (lambda: LSTMCell(4, 5).init_state(-1), InvalidValueError, r"batch_size must be an int >= 1, got -1"),
        (lambda: LSTMCell(4, 5).init_state(2, dtype=torch.int32), InvalidValueError, r"dtype must be a floating-point"),
        (lambda: rnnkit.LSTM(4, 5).init_state(2.0), InvalidTypeError, r"batch_size must be an int >= 1, got float 2.0"),
        (lambda: rnnkit.GRU(4, 5).init_state(0), InvalidValueError, r"batch_size must be an int >= 1, got 0"),
        (
            lambda: rnnkit.GRU(4, 5).init_state(2, device="nowhere"),
            InvalidValueError,
            r"device 'nowhere' is not a torch device",
        ),
        (lambda: check_lengths([1, 2], "2", 3), InvalidTypeError, r"batch_size must be an int >= 1, got str '2'"),
        (
            lambda: check_lengths([1, 2], 2, None),
            InvalidTypeError,
            r"max_length must be an int >= 1, got NoneType None",
        ),
        (lambda: check_lengths([1, 2], 2, 3.5), InvalidTypeError, r"max_length must be an int >= 1, got float 3.5"),
    ],
    ids=lambda v: re.sub(r"\W+", "_", v)[:50] if isinstance(v, str) else "",
)
def test_wrong_arguments_are_user_errors_naming_them(make, error, pattern):
    with pytest.raises(error, match=pattern) as caught:
        make()
    assert isinstance(caught.value, UserError)


def test_a_cuda_device_without_one_is_named():
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(InvalidValueError, match=r"device 'cuda:0' is not available on this machine"):
        rnnkit.LSTM(4, 5, device="cuda:0")


def test_valid_devices_and_dtypes_are_accepted():
    layer = rnnkit.GRU(4, 5, device="cpu", dtype=torch.float64)
    assert layer.weight_ih_l0.dtype == torch.float64 and layer.weight_ih_l0.device.type == "cpu"
    cell = LSTMCell(4, 5, device=torch.device("cpu"), dtype=torch.float16)
    assert cell.weight_hh.dtype == torch.float16
    assert rnnkit.Recurrent(functools.partial(ElmanCell, nonlinearity="relu"), 4, 5)(torch.randn(3, 2, 4))[0].shape == (
        3,
        2,
        5,
    )
    assert LSTMCell(4, 5).init_state(np.int64(2))[0].shape == (2, 5)
