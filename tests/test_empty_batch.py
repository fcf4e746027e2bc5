"""A batch of size 0 through every layer and loss: empty outputs of PyTorch's shapes, no warnings.

PyTorch returns empty outputs (and NaN for a mean over nothing); deepling used to crash in NumPy's
reshape for batch norm, group norm, instance norm, the recurrent layers and ConvTranspose2d.
"""

import warnings

import numpy as np
import pytest
import torch

import deepling as dl


def _layers(lib):
    nn = lib.nn
    return {
        "Linear": (lambda: nn.Linear(4, 3), (0, 4)),
        "Conv1d": (lambda: nn.Conv1d(2, 3, 3), (0, 2, 8)),
        "Conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1), (0, 2, 5, 5)),
        "ConvTranspose2d": (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), (0, 2, 4, 4)),
        "MaxPool2d": (lambda: nn.MaxPool2d(2), (0, 2, 4, 4)),
        "AvgPool2d": (lambda: nn.AvgPool2d(2), (0, 2, 4, 4)),
        "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(2), (0, 2, 5, 5)),
        "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d(2), (0, 2, 5, 5)),
        "BatchNorm1d": (lambda: nn.BatchNorm1d(4), (0, 4)),
        "BatchNorm1d_3d": (lambda: nn.BatchNorm1d(4), (0, 4, 5)),
        "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (0, 2, 3, 3)),
        "BatchNorm2d_eval": (lambda: nn.BatchNorm2d(2).eval(), (0, 2, 3, 3)),
        "BatchNorm1d_eval": (lambda: nn.BatchNorm1d(4).eval(), (0, 4)),
        "LayerNorm": (lambda: nn.LayerNorm(4), (0, 4)),
        "GroupNorm": (lambda: nn.GroupNorm(2, 4), (0, 4, 3)),
        "InstanceNorm2d": (lambda: nn.InstanceNorm2d(2), (0, 2, 3, 3)),
        "LocalResponseNorm": (lambda: nn.LocalResponseNorm(2), (0, 4, 3, 3)),
        "RMSNorm": (lambda: nn.RMSNorm(4), (0, 4)),
        "Dropout": (lambda: nn.Dropout(0.5), (0, 4)),
        "Dropout2d": (lambda: nn.Dropout2d(0.5), (0, 2, 3, 3)),
        "RNN": (lambda: nn.RNN(4, 3, batch_first=True), (0, 5, 4)),
        "GRU": (lambda: nn.GRU(4, 3, batch_first=True), (0, 5, 4)),
        "LSTM": (lambda: nn.LSTM(4, 3, batch_first=True), (0, 5, 4)),
        "LSTM_2layer_bi": (lambda: nn.LSTM(4, 3, num_layers=2, bidirectional=True), (5, 0, 4)),
        "RNNCell": (lambda: nn.RNNCell(4, 3), (0, 4)),
        "LSTMCell": (lambda: nn.LSTMCell(4, 3), (0, 4)),
        "GRUCell": (lambda: nn.GRUCell(4, 3), (0, 4)),
        "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2, batch_first=True), (0, 3, 4)),
        "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True), (0, 3, 4)),
        "Softmax": (lambda: nn.Softmax(1), (0, 4)),
        "GELU": (lambda: nn.GELU(), (0, 4)),
        "Flatten": (lambda: nn.Flatten(), (0, 2, 3)),
    }


def _shapes(obj):
    if isinstance(obj, (tuple, list)):
        return [_shapes(o) for o in obj]
    return None if obj is None else tuple(obj.shape)


def _run_layer(lib, name):
    make, shape = _layers(lib)[name]
    m = make()
    x = lib.zeros(*shape, requires_grad=True)
    y = m(x, x, x) if name == "MultiheadAttention" else m(x)
    first = y[0] if isinstance(y, tuple) else y
    first.sum().backward()
    grads = {k: _shapes(p.grad) for k, p in m.named_parameters()}
    buffers = {k: np.asarray(b.detach().numpy()).tolist() for k, b in m.named_buffers()}
    return _shapes(y), _shapes(x.grad), grads, buffers


@pytest.mark.parametrize("name", sorted(_layers(torch)))
def test_layer_on_an_empty_batch_matches_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _run_layer(dl, name)
    want = _run_layer(torch, name)
    assert got[0] == want[0], f"{name}: output shapes"
    assert got[1] == want[1], f"{name}: input gradient shape"
    assert got[2] == want[2], f"{name}: parameter gradient shapes"
    assert got[3] == want[3], f"{name}: buffers (running statistics untouched, batches counted)"


def _losses(lib):
    F = lib.nn.functional
    x, y2, cls = lib.zeros(0, 3, requires_grad=True), lib.zeros(0, 3), lib.zeros(0, dtype=lib.int64)
    return {
        "mse": lambda: F.mse_loss(x, y2), "l1": lambda: F.l1_loss(x, y2),
        "smooth_l1": lambda: F.smooth_l1_loss(x, y2), "huber": lambda: F.huber_loss(x, y2),
        "bce": lambda: F.binary_cross_entropy(x, y2), "bce_logits": lambda: F.binary_cross_entropy_with_logits(x, y2),
        "cross_entropy": lambda: F.cross_entropy(x, cls), "ce_sum": lambda: F.cross_entropy(x, cls, reduction="sum"),
        "ce_none": lambda: F.cross_entropy(x, cls, reduction="none"),
        "ce_smoothing": lambda: F.cross_entropy(x, cls, label_smoothing=0.1),
        "ce_probs": lambda: F.cross_entropy(x, y2), "nll": lambda: F.nll_loss(x, cls),
        "kl_batchmean": lambda: F.kl_div(x, y2, reduction="batchmean"), "mean": lambda: x.mean(),
        "mean_dim": lambda: x.mean(0),
    }


@pytest.mark.parametrize("name", sorted(_losses(torch)))
def test_loss_on_an_empty_batch_matches_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _losses(dl)[name]()
    want = _losses(torch)[name]()
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
