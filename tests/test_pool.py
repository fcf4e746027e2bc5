"""Pooling ops and layers against PyTorch, plus float64 gradchecks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepling as dl
import deepling.nn.functional as F
from oracle import check_grad, check_op

MAX2D = [
    ((2, 3, 8, 8), {"kernel_size": 2}),
    ((2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((1, 2, 10, 9), {"kernel_size": (3, 2), "stride": (2, 1), "dilation": (2, 3)}),
    ((2, 2, 7, 8), {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
    ((1, 3, 6, 6), {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}),
    ((2, 1, 5, 11), {"kernel_size": (2, 4), "stride": (1, 3), "padding": (1, 2), "ceil_mode": True}),
]


@pytest.mark.parametrize("shape,kw", MAX2D)
def test_max_pool2d_matches_torch(shape, kw):
    check_op(lambda x: TF.max_pool2d(x, **kw), [shape], lambda x: F.max_pool2d(x, **kw))
    # The argmax indices are integers: compared exactly by the harness.
    check_op(lambda x: TF.max_pool2d(x, return_indices=True, **kw), [shape],
             lambda x: F.max_pool2d(x, return_indices=True, **kw))


@pytest.mark.parametrize("shape,kw", MAX2D[:2] + MAX2D[3:4])
def test_max_pool2d_gradcheck(shape, kw):
    check_grad(lambda x: F.max_pool2d(x, **kw), [(1,) + shape[1:]])


def test_max_pool2d_ties_send_gradient_to_first_max():
    # ReLU outputs are full of zeros: a window of equal values must pass its gradient to one cell only.
    x = np.zeros((1, 2, 4, 6), dtype=np.float32)
    x[0, 1, :2, :2] = 1.0
    check_op(lambda t: TF.max_pool2d(t, 2), [x.shape], lambda t: F.max_pool2d(t, 2), arrays=[x])
    check_op(lambda t: TF.max_pool2d(t, 3, 1, 1), [x.shape], lambda t: F.max_pool2d(t, 3, 1, 1), arrays=[x])


@pytest.mark.parametrize("kw", [{"kernel_size": 3}, {"kernel_size": 4, "stride": 2, "padding": 2, "dilation": 1},
                                {"kernel_size": 3, "stride": 2, "dilation": 2, "ceil_mode": True}])
def test_max_pool1d_matches_torch(kw):
    check_op(lambda x: TF.max_pool1d(x, **kw), [(2, 3, 13)], lambda x: F.max_pool1d(x, **kw))
    check_op(lambda x: TF.max_pool1d(x, return_indices=True, **kw), [(3, 13)],
             lambda x: F.max_pool1d(x, return_indices=True, **kw))
    check_grad(lambda x: F.max_pool1d(x, **kw), [(1, 2, 13)])


AVG2D = [
    ((2, 3, 8, 8), {"kernel_size": 2}),
    ((2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    ((1, 2, 7, 8), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True}),
    ((1, 2, 7, 8), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True,
                    "count_include_pad": False}),
    ((2, 2, 6, 5), {"kernel_size": 3, "stride": 1, "padding": 1, "divisor_override": 5}),
]


@pytest.mark.parametrize("shape,kw", AVG2D)
def test_avg_pool2d_matches_torch(shape, kw):
    check_op(lambda x: TF.avg_pool2d(x, **kw), [shape], lambda x: F.avg_pool2d(x, **kw))


@pytest.mark.parametrize("shape,kw", AVG2D[2:5])
def test_avg_pool2d_gradcheck(shape, kw):
    check_grad(lambda x: F.avg_pool2d(x, **kw), [(1,) + shape[1:]])


def test_avg_pool1d_matches_torch():
    check_op(lambda x: TF.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [(2, 3, 10)],
             lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))


@pytest.mark.parametrize("shape,size", [((2, 3, 8, 8), 1), ((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 5), (7, 2)),
                                        ((2, 6, 6), (None, 4))])
def test_adaptive_pools_match_torch(shape, size):
    check_op(lambda x: TF.adaptive_avg_pool2d(x, size), [shape], lambda x: F.adaptive_avg_pool2d(x, size))
    check_op(lambda x: TF.adaptive_max_pool2d(x, size, return_indices=True), [shape],
             lambda x: F.adaptive_max_pool2d(x, size, return_indices=True))
    small = (1,) * (len(shape) - 3) + shape[-3:]
    check_grad(lambda x: F.adaptive_avg_pool2d(x, size), [small])
    check_grad(lambda x: F.adaptive_max_pool2d(x, size), [small])


def test_adaptive_avg_pool1d_matches_torch():
    check_op(lambda x: TF.adaptive_avg_pool1d(x, 4), [(2, 3, 11)], lambda x: F.adaptive_avg_pool1d(x, 4))


@pytest.mark.parametrize("shape,kw", [((2, 3, 6, 6), {"kernel_size": 2}),
                                      ((1, 2, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1})])
def test_max_unpool2d_matches_torch(shape, kw):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _, idx = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    pooled_shape = tuple(idx.shape)
    size = shape[2:]
    idx_np = idx.numpy()
    check_op(lambda v: TF.max_unpool2d(v, idx, output_size=size, **kw), [pooled_shape],
             lambda v: F.max_unpool2d(v, dl.tensor(idx_np), output_size=size, **kw))
    if len(np.unique(idx_np[0, 0])) == idx_np[0, 0].size:
        # With overlapping windows one input can be the max of two, and only one write survives: the
        # gradient (a gather, as PyTorch's) is then not the derivative of the forward.
        check_grad(lambda v: F.max_unpool2d(v, dl.tensor(idx_np), output_size=size, **kw), [pooled_shape])


def test_pool_errors_name_op_and_shapes():
    x = dl.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="max_pool2d: pad should be at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"max_pool2d: input of shape \(1, 2, 4, 4\) is too small"):
        F.max_pool2d(x, 5)
    with pytest.raises(ValueError, match="max_unpool2d: indices"):
        F.max_unpool2d(x, dl.zeros(1, 2, 3, 3, dtype=dl.int64), 2)
    with pytest.raises(ValueError, match="max_unpool2d: found an invalid max index"):
        F.max_unpool2d(x, dl.full((1, 2, 4, 4), 99, dtype=dl.int64), 2)


def _parity(ours, theirs, shape, n_out=1):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    tx, dx = torch.tensor(x, requires_grad=True), dl.tensor(x, requires_grad=True)
    ty, dy = theirs(tx), ours(dx)
    if n_out == 2:
        np.testing.assert_array_equal(dy[1].array, ty[1].numpy())
        ty, dy = ty[0], dy[0]
    np.testing.assert_allclose(dy.array, ty.detach().numpy(), atol=1e-6)
    ty.sum().backward()
    dy.sum().backward()
    np.testing.assert_allclose(dx.grad.array, tx.grad.numpy(), atol=1e-6)
    assert repr(ours).split("(")[0] == repr(theirs).split("(")[0]


def test_pool_modules_match_torch():
    nn, tnn = dl.nn, torch.nn
    _parity(nn.MaxPool2d(3, 2, 1), tnn.MaxPool2d(3, 2, 1), (2, 3, 9, 9))
    _parity(nn.MaxPool2d(2, return_indices=True, ceil_mode=True), tnn.MaxPool2d(2, return_indices=True, ceil_mode=True),
            (1, 2, 7, 7), n_out=2)
    _parity(nn.MaxPool1d(3, 2), tnn.MaxPool1d(3, 2), (2, 3, 10))
    _parity(nn.AvgPool2d(3, 2, 1, count_include_pad=False), tnn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 9, 8))
    _parity(nn.AvgPool1d(2), tnn.AvgPool1d(2), (2, 3, 9))
    _parity(nn.AdaptiveAvgPool2d((1, 1)), tnn.AdaptiveAvgPool2d((1, 1)), (2, 3, 5, 5))
    _parity(nn.AdaptiveAvgPool2d(6), tnn.AdaptiveAvgPool2d(6), (2, 3, 13, 13))
    _parity(nn.AdaptiveAvgPool1d(3), tnn.AdaptiveAvgPool1d(3), (2, 3, 7))
    _parity(nn.AdaptiveMaxPool2d((2, 3), return_indices=True), tnn.AdaptiveMaxPool2d((2, 3), return_indices=True),
            (2, 3, 7, 8), n_out=2)


def test_max_unpool_module_inverts_pool():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    y, idx = dl.nn.MaxPool2d(2, return_indices=True)(dl.tensor(x))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    out = dl.nn.MaxUnpool2d(2)(y, idx)
    np.testing.assert_array_equal(out.array, torch.nn.MaxUnpool2d(2)(ty, tidx).numpy())
