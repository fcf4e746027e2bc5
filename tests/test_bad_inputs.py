"""Bad input to every public layer, loss, optimizer, loader and file reader: a clear error from
deepling (TypeError/ValueError/RuntimeError/IndexError raised by deepling's own code, naming what
is wrong), never an exception escaping from NumPy or Python internals."""

import os
import traceback
from pathlib import Path

import numpy as np
import pytest

import deepling as dl
import deepling.nn as nn
from deepling import optim
from deepling.data import DataLoader, TensorDataset

SRC = str(Path(dl.__file__).resolve().parent)
CLEAR = (TypeError, ValueError, RuntimeError, IndexError, FileNotFoundError, IsADirectoryError, NotImplementedError)


def _assert_clear(fn):
    try:
        fn()
    except CLEAR as e:
        frames = traceback.extract_tb(e.__traceback__)
        last = frames[-1].filename if frames else ""
        assert os.path.realpath(last).startswith(SRC), (
            f"{type(e).__name__} escaped from {last}:{frames[-1].lineno}: {e}")
        assert str(e), f"{type(e).__name__} without a message"
        return e
    except Exception as e:  # AttributeError, KeyError, RecursionError, numpy's own errors...
        raise AssertionError(f"unclear error {type(e).__name__}: {e}\n{traceback.format_exc()}") from None
    return None


LAYERS = {
    "Linear": (lambda: nn.Linear(3, 2), (4, 3)),
    "Bilinear-free MLP": (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), (4, 3)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3), (1, 2, 8)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3), (1, 2, 6, 6)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(2, 3, 3), (1, 2, 4, 4)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (1, 2, 4, 4)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (1, 2, 4, 4)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(2), (1, 2, 4, 4)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), (4, 3)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (2, 2, 3, 3)),
    "LayerNorm": (lambda: nn.LayerNorm(3), (4, 3)),
    "GroupNorm": (lambda: nn.GroupNorm(1, 2), (2, 2, 3)),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(2), (2, 2, 3, 3)),
    "Dropout": (lambda: nn.Dropout(0.5), (4, 3)),
    "Embedding": (lambda: nn.Embedding(5, 3), None),
    "RNN": (lambda: nn.RNN(3, 2), (5, 1, 3)),
    "GRU": (lambda: nn.GRU(3, 2), (5, 1, 3)),
    "LSTM": (lambda: nn.LSTM(3, 2), (5, 1, 3)),
    "LSTMCell": (lambda: nn.LSTMCell(3, 2), (1, 3)),
    "GRUCell": (lambda: nn.GRUCell(3, 2), (1, 3)),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2), (3, 1, 4)),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0), (3, 1, 4)),
    "ReLU": (lambda: nn.ReLU(), (4, 3)),
    "Softmax": (lambda: nn.Softmax(dim=1), (4, 3)),
    "Flatten": (lambda: nn.Flatten(), (4, 3)),
}


# the axis whose size the layer fixes: features last, or channels (axis 1) for convolutions and norms
FEATURE_AXIS = {"Conv1d": 1, "Conv2d": 1, "ConvTranspose2d": 1, "BatchNorm1d": 1, "BatchNorm2d": 1, "GroupNorm": 1,
                "LSTMCell": -1, "GRUCell": -1}
NO_FIXED_SIZE = {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "InstanceNorm2d", "Dropout", "ReLU", "Softmax", "Flatten"}


def _bad_inputs(name, shape):
    yield "a list", [[1.0, 2.0, 3.0]]
    yield "a string", "x"
    yield "None", None
    if shape is not None and name not in NO_FIXED_SIZE:
        axis = FEATURE_AXIS.get(name, -1) % len(shape)
        wrong = list(shape)
        wrong[axis] += 1
        yield "a wrong feature size", dl.zeros(*wrong)
    if shape is not None and name not in ("Dropout", "ReLU", "Softmax", "Flatten", "LayerNorm", "GroupNorm"):  # any rank
        yield "too many dimensions", dl.zeros(*shape, 1, 1)


CASES = [(name, what, bad) for name, (_, shape) in LAYERS.items() for what, bad in _bad_inputs(name, shape)]


@pytest.mark.parametrize("name, what, bad", CASES, ids=[f"{n}-{w}" for n, w, _ in CASES])
def test_layers_reject_bad_input_clearly(name, what, bad):
    make, shape = LAYERS[name]
    m = make()
    call = (lambda: m(bad, bad, bad)) if name == "MultiheadAttention" else (lambda: m(bad))
    err = _assert_clear(call)
    assert err is not None, f"{name} accepted {what}"


@pytest.mark.parametrize("state", [dl.zeros(1, 1, 2), [dl.zeros(1, 1, 2)], (dl.zeros(1, 1, 2),), "h"])
def test_lstm_state_must_be_a_pair(state):
    err = _assert_clear(lambda: nn.LSTM(3, 2)(dl.zeros(4, 1, 3), state))
    assert err is not None and "tuple (h_0, c_0)" in str(err)


def test_gru_state_must_be_a_tensor():
    err = _assert_clear(lambda: nn.GRU(3, 2)(dl.zeros(4, 1, 3), (dl.zeros(1, 1, 2),)))
    assert err is not None and "h_0" in str(err) or "hx" in str(err)


LOSSES = {
    "cross_entropy": lambda a, b: nn.functional.cross_entropy(a, b),
    "nll_loss": lambda a, b: nn.functional.nll_loss(a, b),
    "mse_loss": lambda a, b: nn.functional.mse_loss(a, b),
    "l1_loss": lambda a, b: nn.functional.l1_loss(a, b),
    "binary_cross_entropy": lambda a, b: nn.functional.binary_cross_entropy(a, b),
    "bce_with_logits": lambda a, b: nn.functional.binary_cross_entropy_with_logits(a, b),
    "kl_div": lambda a, b: nn.functional.kl_div(a, b, reduction="batchmean"),
    "smooth_l1_loss": lambda a, b: nn.functional.smooth_l1_loss(a, b),
}
LOSS_BAD = [
    ("lists", [[0.1, 0.9]], [1]),
    ("shape mismatch", dl.zeros(4, 3), dl.zeros(5, 3)),
    ("float class targets", dl.zeros(4, 3), dl.tensor([0.5, 1.0, 2.0, 0.0])),
    ("target out of range", dl.zeros(2, 3), dl.tensor([0, 7])),
    ("None target", dl.zeros(2, 3), None),
]


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("what, a, b", LOSS_BAD, ids=[w for w, _, _ in LOSS_BAD])
def test_losses_reject_bad_input_clearly(loss, what, a, b):
    _assert_clear(lambda: LOSSES[loss](a, b))


@pytest.mark.parametrize("opt", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
@pytest.mark.parametrize("what, params, kwargs", [
    ("no parameters", [], {}),
    ("a tensor instead of an iterable", dl.zeros(2, requires_grad=True), {}),
    ("a negative learning rate", None, {"lr": -1.0}),
    ("a string learning rate", None, {"lr": "fast"}),
    ("a non-tensor parameter", [1.0, 2.0], {}),
])
def test_optimizers_reject_bad_arguments_clearly(opt, what, params, kwargs):
    if params is None:
        params = [nn.Parameter(dl.zeros(2))]
    err = _assert_clear(lambda: getattr(optim, opt)(params, **({"lr": 0.1} | kwargs)))
    assert err is not None, f"{opt} accepted {what}"


def test_optimizer_load_state_dict_of_garbage_is_clear():
    p = nn.Parameter(dl.zeros(2))
    opt = optim.Adam([p])
    for bad in ("x", [1, 2], {"state": {}, "param_groups": "no"}, {"state": 3}):
        _assert_clear(lambda bad=bad: opt.load_state_dict(bad))


@pytest.mark.parametrize("what, make", [
    ("batch_size 0", lambda: DataLoader(TensorDataset(np.zeros((4, 2))), batch_size=0)),
    ("negative batch size", lambda: DataLoader(TensorDataset(np.zeros((4, 2))), batch_size=-1)),
    ("a non-dataset", lambda: list(DataLoader(5, batch_size=2))),
    ("mismatched tensors", lambda: TensorDataset(np.zeros((4, 2)), np.zeros(3))),
])
def test_loaders_reject_bad_arguments_clearly(what, make):
    err = _assert_clear(make)
    assert err is not None, f"accepted {what}"


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 garbage", b"\x80\x04\x95 not a pickle", b"\x00" * 100,
                                     b"{}", b"\x1f\x8b\x08 broken gzip"])
def test_file_readers_reject_garbage_clearly(tmp_path, content):
    from deepling.data.datasets.idx import read_idx

    path = tmp_path / "f.bin"
    path.write_bytes(content)
    for read in (dl.load, read_idx):
        err = _assert_clear(lambda read=read: read(path))
        assert err is not None
    for read in (dl.load, read_idx):
        _assert_clear(lambda read=read: read(tmp_path / "missing.bin"))
        _assert_clear(lambda read=read: read(tmp_path))
