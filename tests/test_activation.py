"""Activations (functional and modules): parity with PyTorch (values, dtypes, gradients) and gradcheck."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepling as dl
import deepling.nn.functional as F
from oracle import check_grad, check_module, check_op

# name -> (torch callable, deepling callable, input range)
ACTIVATIONS = {
    "gelu": (TF.gelu, F.gelu, 4),
    "gelu_tanh": (lambda x: TF.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"), 4),
    "silu": (TF.silu, F.silu, 6),
    "elu": (TF.elu, F.elu, 4),
    "elu_alpha": (lambda x: TF.elu(x, alpha=0.5), lambda x: F.elu(x, alpha=0.5), 4),
    "selu": (TF.selu, F.selu, 4),
    "celu": (lambda x: TF.celu(x, alpha=2.0), lambda x: F.celu(x, alpha=2.0), 4),
    "leaky_relu": (TF.leaky_relu, F.leaky_relu, 3),
    "leaky_relu_0.2": (lambda x: TF.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2), 3),
    "softplus": (TF.softplus, F.softplus, 6),
    "softplus_beta": (lambda x: TF.softplus(x, beta=2.0, threshold=5.0), lambda x: F.softplus(x, beta=2.0, threshold=5.0), 6),
    "hardtanh": (TF.hardtanh, F.hardtanh, 3),
    "hardtanh_range": (lambda x: TF.hardtanh(x, -0.5, 2.0), lambda x: F.hardtanh(x, -0.5, 2.0), 3),
    "relu6": (TF.relu6, F.relu6, 9),
    "hardsigmoid": (TF.hardsigmoid, F.hardsigmoid, 5),
    "hardswish": (TF.hardswish, F.hardswish, 5),
    "mish": (TF.mish, F.mish, 5),
    "logsigmoid": (TF.logsigmoid, F.logsigmoid, 6),
    "softsign": (TF.softsign, F.softsign, 4),
    "relu": (TF.relu, F.relu, 3),
    "sigmoid": (torch.sigmoid, F.sigmoid, 6),
    "tanh": (torch.tanh, F.tanh, 3),
}
SHAPES = [(7,), (4, 5), (2, 3, 4), ()]


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_activation_matches_torch(name, shape):
    tf, df, r = ACTIVATIONS[name]
    check_op(tf, [shape], df, low=-r, high=r)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_extreme_values(name):
    tf, df, _ = ACTIVATIONS[name]
    x = np.array([-300.0, -50.0, -20.5, -1e-3, 0.0, 1e-3, 19.5, 50.0, 300.0], dtype=np.float32)
    check_op(tf, [], df, arrays=[x])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_float64(name):
    tf, df, r = ACTIVATIONS[name]
    # 1e-7: PyTorch rounds some constants (hardsigmoid's 1/6) to float32 even in float64 kernels
    check_op(tf, [(3, 4)], df, low=-r, high=r, dtype=np.float64, atol=1e-10, rtol=1e-7)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradcheck(name):
    _, df, r = ACTIVATIONS[name]
    # keep away from the kinks, where finite differences are meaningless
    x = np.random.default_rng(1).uniform(-r, r, size=(3, 5))
    for kink in (0.0, -1.0, 1.0, 6.0, -3.0, 3.0, -0.5, 2.0):
        x = np.where(np.abs(x - kink) < 1e-3, x + 0.01, x)
    check_grad(df, [], arrays=[x])


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape,dim", [((6,), 0), ((4, 5), 1), ((4, 5), 0), ((2, 3, 4), -1), ((2, 3, 4), 1), ((), 0)])
def test_softmax_family_matches_torch(fn, shape, dim):
    tf, df = getattr(TF, fn), getattr(F, fn)
    check_op(lambda x: tf(x, dim=dim), [shape], lambda x: df(x, dim=dim), low=-5, high=5)
    if shape:
        check_grad(lambda x: df(x, dim=dim), [shape])


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_stable_for_huge_logits(fn):
    tf, df = getattr(TF, fn), getattr(F, fn)
    x = np.array([[1e4, -1e4, 0.0, 9999.0], [-1e4, -1e4, -1e4, -1e4], [3e4, 1.0, 2.0, -3e4]], dtype=np.float32)
    check_op(lambda t: tf(t, dim=1), [], lambda t: df(t, dim=1), arrays=[x])
    assert np.isfinite(df(dl.tensor(x), dim=1).array).all()


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_with_masked_entries(fn):
    # attention masks fill with -inf; a fully masked row is nan in both frameworks
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    mask = np.array([[0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 1]], dtype=bool)
    tf, df = getattr(TF, fn), getattr(F, fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_op(lambda t: tf(t.masked_fill(torch.tensor(mask), float("-inf")), dim=1)[[0, 2]], [],
                 lambda t: df(t.masked_fill(dl.tensor(mask), float("-inf")), dim=1)[[0, 2]], arrays=[x])
        out = df(dl.tensor(x).masked_fill(dl.tensor(mask), float("-inf")), dim=1).array
    assert np.isnan(out[1]).all()


def test_softmax_dtype_argument_and_implicit_dim():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    check_op(lambda t: TF.softmax(t, dim=1, dtype=torch.float64), [], lambda t: F.softmax(t, dim=1, dtype=dl.float64), arrays=[x])
    with pytest.warns(UserWarning):
        got = F.softmax(dl.tensor(x))
    with pytest.warns(UserWarning):
        want = TF.softmax(torch.tensor(x))
    np.testing.assert_allclose(got.array, want.numpy(), rtol=1e-6)


def test_softmax_rejects_bad_dim():
    with pytest.raises(IndexError, match="softmax"):
        F.softmax(dl.ones(2, 3), dim=2)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="gelu"):
        F.gelu(dl.ones(2), approximate="sigmoid")


def test_erf_accuracy_against_math_erf():
    from deepling.ops.activation import erf

    x = np.concatenate([np.linspace(-7, 7, 4001), [0.0, -0.0, 1e-12, 2.5, -2.5, 6.0]])
    got = erf(dl.tensor(x, dtype=dl.float64)).array
    want = np.array([math.erf(v) for v in x])
    assert np.abs(got - want).max() < 1e-13
    got32 = erf(dl.tensor(x.astype(np.float32))).array
    assert got32.dtype == np.float32 and np.abs(got32 - want).max() < 2e-7
    assert np.isnan(erf(dl.tensor([np.nan])).array).all()
    check_op(torch.erf, [(4, 5)], erf, low=-4, high=4)
    check_grad(erf, [(3, 4)], low=-3, high=3)


def test_step_is_heaviside_without_gradient():
    x = np.array([-2.0, -1e-7, 0.0, 1e-7, 3.0], dtype=np.float32)
    for value in (0.0, 0.5, 1.0):
        check_op(lambda t, v=value: torch.heaviside(t, torch.tensor(v)), [], lambda t, v=value: F.step(t, v), arrays=[x], grad=False)
    out = F.step(dl.tensor(x, requires_grad=True))
    assert not out.requires_grad and out.dtype == dl.float32


def test_activations_keep_float32():
    x = dl.randn(3, 4)
    for name, (_, df, _) in ACTIVATIONS.items():
        assert df(x).dtype == dl.float32, name
    for fn in (F.softmax, F.log_softmax):
        assert fn(x, dim=1).dtype == dl.float32


@pytest.mark.parametrize("shape,n", [((4, 3), 3), ((2, 3, 4, 4), 3), ((5,), 1), ((2, 3, 4), 1)], ids=str)
def test_prelu_matches_torch(shape, n):
    w = np.random.default_rng(2).uniform(0.05, 0.5, n).astype(np.float32)
    check_op(TF.prelu, [shape, w], F.prelu, low=-3, high=3)
    check_grad(F.prelu, [shape, w.astype(np.float64)], low=-3, high=3)
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(dl.ones(4, 3), dl.ones(2))
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(dl.ones(6), dl.ones(6))  # a 1-D input is one channel, as in torch


def test_prelu_module_matches_torch():
    tm, dm = torch.nn.PReLU(3, init=0.1), dl.nn.PReLU(3, init=0.1)
    assert repr(dm) == repr(tm) and list(dm.state_dict()) == ["weight"]
    check_module(dm, tm, [(4, 3, 5)])


@pytest.mark.parametrize("thr,value", [(0.0, 0.0), (0.5, -2.0), (-1.0, 3.0)])
def test_threshold_matches_torch(thr, value):
    check_op(lambda x: TF.threshold(x, thr, value), [(4, 5)], lambda x: F.threshold(x, thr, value))
    check_grad(lambda x: F.threshold(x, thr, value), [(3, 4)])


@pytest.mark.parametrize("shape,dim", [((4, 6), -1), ((4, 6), 0), ((2, 4, 3), 1)])
def test_glu_matches_torch(shape, dim):
    check_op(lambda x: TF.glu(x, dim), [shape], lambda x: F.glu(x, dim))
    check_grad(lambda x: F.glu(x, dim), [shape])
    with pytest.raises(ValueError, match="glu"):
        F.glu(dl.ones(3, 5))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("shape,dim", [((4, 5), 1), ((4, 5), 0), ((2, 3, 4), -1)])
def test_normalize_matches_torch(p, shape, dim):
    check_op(lambda x: TF.normalize(x, p=p, dim=dim), [shape], lambda x: F.normalize(x, p=p, dim=dim))
    check_grad(lambda x: F.normalize(x, p=p, dim=dim), [shape])


def test_normalize_zero_vector_uses_eps():
    x = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]], dtype=np.float32)
    check_op(lambda t: TF.normalize(t), [], lambda t: F.normalize(t), arrays=[x])


INPLACE = [("relu", (), ()), ("elu", (0.7,), ()), ("leaky_relu", (0.2,), ()), ("hardtanh", (-0.5, 0.5), ()),
           ("relu6", (), ()), ("silu", (), ()), ("mish", (), ()), ("selu", (), ()), ("celu", (1.5,), ()),
           ("hardsigmoid", (), ()), ("hardswish", (), ()), ("threshold", (0.1, -1.0), ())]


@pytest.mark.parametrize("name,args,_", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_activation_overwrites_input_and_keeps_gradients(name, args, _):
    tf, df = getattr(TF, name), getattr(F, name)
    # inside the graph (x * 1 is not a leaf): same values and input gradients as torch's in-place op
    check_op(lambda x: tf(x * 1, *args, inplace=True), [(3, 5)], lambda x: df(x * 1, *args, inplace=True), low=-4, high=4)
    x = dl.randn(4, 3) * 3
    before = x.array.copy()
    out = df(x, *args, inplace=True)
    assert out is x
    np.testing.assert_allclose(x.array, df(dl.tensor(before), *args).array)
    with pytest.raises(RuntimeError, match="leaf"):
        df(dl.randn(3, requires_grad=True), *args, inplace=True)


def test_inplace_underscore_variants():
    x = np.random.default_rng(0).uniform(-2, 2, (3, 4)).astype(np.float32)
    for name, args in [("relu_", ()), ("elu_", (0.5,)), ("leaky_relu_", (0.3,)), ("hardtanh_", (-1.0, 0.5)), ("threshold_", (0.2, 9.0))]:
        t, d = torch.tensor(x), dl.tensor(x)
        getattr(TF, name)(t, *args)
        getattr(F, name)(d, *args)
        np.testing.assert_allclose(d.array, t.numpy(), rtol=1e-6, err_msg=name)


def test_inplace_module_overwrites_input():
    x = dl.tensor([[-1.0, 2.0]])
    dl.nn.ReLU(inplace=True)(x)
    np.testing.assert_array_equal(x.array, [[0.0, 2.0]])


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "hardtanh", "relu6", "hardsigmoid", "hardswish", "softplus",
                                  "logsigmoid", "sigmoid", "tanh", "gelu", "gelu_tanh"])
def test_activation_at_infinity(name):
    tf, df, _ = ACTIVATIONS[name]
    x = np.array([-np.inf, -1.0, 0.5, np.inf], dtype=np.float32)
    check_op(tf, [], df, arrays=[x])
