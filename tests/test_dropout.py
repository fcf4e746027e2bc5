"""Dropout: inverted scaling, statistics, eval identity, edge probabilities, channel masks,
reproducibility from the global seed, gradients (against torch given the same mask) and errors."""

import warnings

import numpy as np
import pytest
import torch

import deepling as dl
from oracle import check_grad, check_op

TF, DF = torch.nn.functional, dl.nn.functional


def _mask_of(fn, shape, seed=0):
    """The mask (0 or 1/(1-p)) a dropout function draws after ``manual_seed(seed)``, read from ones."""
    dl.manual_seed(seed)
    return fn(dl.ones(*shape)).array


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("shape", [(7,), (4, 5), (3, 4, 2, 3)])
def test_dropout_matches_mask_formula_and_torch_grads(p, shape):
    """y = x * m / (1 - p) with the mask we draw: values and gradients equal torch's x * mask."""
    mask = _mask_of(lambda x: DF.dropout(x, p), shape, seed=3)
    assert set(np.unique(mask)) <= {0.0, np.float32(1 / (1 - p))}

    def dl_fn(x):
        dl.manual_seed(3)
        return DF.dropout(x, p)

    check_op(lambda x: x * torch.tensor(mask), [shape], dl_fn)


def test_dropout_gradcheck():
    def f(x):
        dl.manual_seed(11)
        return DF.dropout(x, 0.4)

    check_grad(f, [(4, 6)])

    def g(x):
        dl.manual_seed(5)
        return DF.dropout2d(x, 0.5)

    check_grad(g, [(3, 4, 2, 2)])

    def a(x):
        dl.manual_seed(2)
        return DF.alpha_dropout(x, 0.3, training=True)

    check_grad(a, [(5, 4)])


def test_dropout_statistics_preserve_mean():
    dl.manual_seed(0)
    x = dl.ones(1000, 1000)
    for p in (0.2, 0.5, 0.9):
        y = DF.dropout(x, p)
        kept = y.array != 0
        assert abs(kept.mean() - (1 - p)) < 0.005
        assert abs(y.array.mean() - 1.0) < 0.02
        np.testing.assert_allclose(y.array[kept], np.float32(1 / (1 - p)))
        assert y.dtype == np.float32


def test_dropout_is_reproducible_from_the_global_seed():
    a = _mask_of(lambda x: DF.dropout(x, 0.5), (50, 40), seed=42)
    b = _mask_of(lambda x: DF.dropout(x, 0.5), (50, 40), seed=42)
    c = _mask_of(lambda x: DF.dropout(x, 0.5), (50, 40), seed=43)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_eval_is_exact_identity():
    x = dl.randn(5, 6, requires_grad=True)
    for fn in (DF.dropout, DF.dropout1d, DF.dropout2d, DF.dropout3d, DF.alpha_dropout):
        shape = {DF.dropout1d: (2, 3, 4), DF.dropout2d: (2, 3, 4, 4), DF.dropout3d: (2, 3, 2, 2, 2)}.get(fn, (5, 6))
        xi = dl.randn(*shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_array_equal(fn(xi, 0.5, training=False).array, xi.array)
    for m in (dl.nn.Dropout(0.7), dl.nn.AlphaDropout(0.3)):
        m.eval()
        y = m(x)
        np.testing.assert_array_equal(y.array, x.array)
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.array, 1)
        x.grad = None


def test_dropout_p0_and_p1():
    check_op(lambda x: TF.dropout(x, 0.0), [(4, 5)], lambda x: DF.dropout(x, 0.0))
    check_op(lambda x: TF.dropout(x, 1.0), [(4, 5)], lambda x: DF.dropout(x, 1.0))
    check_op(lambda x: TF.dropout2d(x, 1.0), [(2, 3, 2, 2)], lambda x: DF.dropout2d(x, 1.0))
    check_op(lambda x: TF.alpha_dropout(x, 1.0, True), [(4, 5)], lambda x: DF.alpha_dropout(x, 1.0, True))
    m = dl.nn.Dropout(1.0)
    assert not np.any(m(dl.randn(10, 10)).array)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        DF.dropout(dl.ones(3), p)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        dl.nn.Dropout(p)
    with pytest.raises(ValueError, match="dropout probability"):
        dl.nn.Dropout2d(p)


def test_dropout2d_zeroes_whole_channels():
    dl.manual_seed(0)
    x = dl.randn(8, 16, 5, 5) + 10.0  # no zeros in the input
    y = dl.nn.Dropout2d(0.5)(x).array
    per_map = (y == 0).reshape(8, 16, -1)
    assert np.all(per_map.all(axis=2) | ~per_map.any(axis=2))  # every map all zero or none
    dropped = per_map.all(axis=2).mean()
    assert 0.3 < dropped < 0.7
    keep = ~per_map.all(axis=2)
    np.testing.assert_allclose(y.reshape(8, 16, -1)[keep], x.array.reshape(8, 16, -1)[keep] * 2, rtol=1e-6)


@pytest.mark.parametrize("fn,shape,lead", [
    (DF.dropout1d, (6, 20, 7), 2), (DF.dropout1d, (20, 7), 1), (DF.dropout3d, (3, 20, 2, 3, 2), 2),
    (DF.dropout3d, (20, 2, 3, 2), 1),
])
def test_channel_dropout_masks(fn, shape, lead):
    m = _mask_of(lambda x: fn(x, 0.5), shape, seed=1)
    flat = m.reshape(shape[:lead] + (-1,))
    assert np.all(flat.min(axis=-1) == flat.max(axis=-1))
    assert 0 < (flat[..., 0] == 0).mean() < 1


def test_dropout1d_and_dropout2d_shape_rules():
    with pytest.raises(ValueError, match="dropout1d: expected 2D or 3D input"):
        DF.dropout1d(dl.ones(5), 0.5)
    with pytest.raises(ValueError, match="dropout3d: expected 4D or 5D input"):
        DF.dropout3d(dl.ones(2, 3, 4), 0.5)
    with pytest.warns(UserWarning, match="3D input"):
        y = DF.dropout2d(dl.ones(4, 10, 6), 0.5)
    flat = y.array
    assert np.all(flat.min(axis=2) == flat.max(axis=2))  # (N, C, L): whole channels
    with pytest.raises(TypeError, match="dropout: expected a floating point input"):
        DF.dropout(dl.ones(3, dtype="int64"), 0.5)


def test_alpha_dropout_keeps_mean_and_variance():
    dl.manual_seed(0)
    x = dl.randn(400, 1000)
    y = DF.alpha_dropout(x, 0.2, training=True).array
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    sat, p = 1.7580993408473766, 0.2
    a = ((1 - p) * (1 + p * sat**2)) ** -0.5
    dropped = np.isclose(y, -sat * a * (1 - p), rtol=1e-6, atol=0)
    assert abs(dropped.mean() - p) < 0.005


def test_dropout_inplace():
    dl.manual_seed(0)
    x = dl.ones(50, 50)
    y = DF.dropout(x, 0.5, inplace=True)
    assert y is x and np.any(x.array == 0) and np.any(x.array == 2)
    # on a non-leaf in the graph: gradients still flow through the earlier node
    a = dl.ones(30, 30, requires_grad=True)
    h = a * 3
    dl.manual_seed(1)
    out = DF.dropout(h, 0.5, inplace=True)
    assert out is h
    h.sum().backward()
    np.testing.assert_allclose(a.grad.array, 3 * (h.array != 0) * 2)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        DF.dropout(dl.ones(3, requires_grad=True), 0.5, inplace=True)


def test_dropout_modules_repr_and_train_flag():
    for cls, tcls in ((dl.nn.Dropout, torch.nn.Dropout), (dl.nn.Dropout1d, torch.nn.Dropout1d),
                      (dl.nn.Dropout2d, torch.nn.Dropout2d), (dl.nn.AlphaDropout, torch.nn.AlphaDropout)):
        assert repr(cls(0.3, inplace=True)) == repr(tcls(0.3, inplace=True))
        assert cls().state_dict() == {}
    net = dl.nn.Sequential(dl.nn.Linear(4, 4), dl.nn.Dropout(0.5))
    x = dl.randn(3, 4)
    net.eval()
    np.testing.assert_array_equal(net(x).array, net[0](x).array)
    net.train()
    dl.manual_seed(0)
    assert np.any(net(x).array == 0)


def test_feature_alpha_dropout():
    dl.manual_seed(0)
    x = dl.randn(200, 300, 4, 4)
    y = DF.feature_alpha_dropout(x, 0.2, training=True).array
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    sat, p = 1.7580993408473766, 0.2
    a = ((1 - p) * (1 + p * sat**2)) ** -0.5
    dropped = np.isclose(y, -sat * a * (1 - p), rtol=1e-6, atol=0).reshape(200, 300, -1)
    assert np.all(dropped.all(axis=2) | ~dropped.any(axis=2))  # whole maps
    assert abs(dropped.all(axis=2).mean() - p) < 0.01
    check_op(lambda x: TF.feature_alpha_dropout(x, 1.0, True), [(2, 3, 2)], lambda x: DF.feature_alpha_dropout(x, 1.0, True))
    np.testing.assert_array_equal(dl.nn.FeatureAlphaDropout(0.5).eval()(x).array, x.array)
    assert repr(dl.nn.FeatureAlphaDropout(0.3)) == repr(torch.nn.FeatureAlphaDropout(0.3))

    def f(x):
        dl.manual_seed(4)
        return DF.feature_alpha_dropout(x, 0.5, training=True)

    check_grad(f, [(3, 4, 2)])
