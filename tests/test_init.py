"""nn.init: gains and fans equal PyTorch's; each random law's sample mean/std/bounds match its
formula (fixed seed, 200k samples: tolerances are ~5 standard errors); deterministic fills equal
PyTorch's exactly; Linear's default init follows PyTorch's law."""

import math

import numpy as np
import pytest
import torch

import deepling as dl
from deepling.nn import init

N_SAMPLES = (400, 500)


@pytest.mark.parametrize("name,param", [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
                                        ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                                        ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                        ("leaky_relu", 0), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-12)


def test_calculate_gain_rejects_bad_input():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (6, 2, 5), (4, 3, 2, 2, 2), (1, 7)], ids=str)
def test_fans_match_torch_for_linear_and_conv_weights(shape):
    assert init._calculate_fan_in_and_fan_out(dl.empty(*shape)) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(dl.empty(5))


def _sample(fn, shape=N_SAMPLES, **kw):
    dl.manual_seed(0)
    t = dl.empty(*shape)
    out = fn(t, **kw)
    assert out is t and t.dtype == dl.float32
    return t.array.astype(np.float64)


def _check_uniform(x, lo, hi):
    n = x.size
    width = hi - lo
    assert x.min() >= lo and x.max() <= hi
    assert x.min() < lo + 1e-3 * width and x.max() > hi - 1e-3 * width  # the bounds are reached
    assert abs(x.mean() - (lo + hi) / 2) < 5 * width / math.sqrt(12 * n)
    assert x.std() == pytest.approx(width / math.sqrt(12), rel=0.01)


def _check_normal(x, mean, std):
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(x.size)
    assert x.std() == pytest.approx(std, rel=0.01)
    # a normal, not a uniform: ~4.6% of the mass lies beyond 2 std
    assert np.mean(np.abs(x - mean) > 2 * std) == pytest.approx(0.0455, abs=0.003)


def test_uniform_and_normal():
    _check_uniform(_sample(init.uniform_, a=-0.3, b=0.7), -0.3, 0.7)
    _check_normal(_sample(init.normal_, mean=1.5, std=0.2), 1.5, 0.2)


@pytest.mark.parametrize("shape", [(300, 400), (128, 64, 3, 3)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_laws(shape, gain):
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(dl.empty(*shape))
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    _check_uniform(_sample(init.xavier_uniform_, shape, gain=gain), -bound, bound)
    _check_normal(_sample(init.xavier_normal_, shape, gain=gain), 0.0, gain * math.sqrt(2 / (fan_in + fan_out)))


@pytest.mark.parametrize("shape", [(300, 400), (128, 64, 3, 3)], ids=str)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.1), ("tanh", 0), ("leaky_relu", math.sqrt(5))])
def test_kaiming_laws(shape, mode, nonlinearity, a):
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(dl.empty(*shape))
    fan = fan_in if mode == "fan_in" else fan_out
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    kw = {"a": a, "mode": mode, "nonlinearity": nonlinearity}
    _check_uniform(_sample(init.kaiming_uniform_, shape, **kw), -gain * math.sqrt(3 / fan), gain * math.sqrt(3 / fan))
    _check_normal(_sample(init.kaiming_normal_, shape, **kw), 0.0, gain / math.sqrt(fan))


def test_kaiming_rejects_unknown_mode():
    with pytest.raises(ValueError, match="fan_avg"):
        init.kaiming_uniform_(dl.empty(3, 4), mode="fan_avg")


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 3.0), (0.0, 0.02, -0.04, 0.04), (0.0, 1.0, 0.5, 4.0)])
def test_trunc_normal_law(mean, std, a, b):
    x = _sample(init.trunc_normal_, mean=mean, std=std, a=a, b=b)
    assert x.min() >= a and x.max() <= b
    # moments of the truncated normal: alpha, beta in std units, Z = Phi(beta) - Phi(alpha)
    al, be = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    z = cdf(be) - cdf(al)
    want_mean = mean + std * (pdf(al) - pdf(be)) / z
    want_var = std**2 * (1 + (al * pdf(al) - be * pdf(be)) / z - ((pdf(al) - pdf(be)) / z) ** 2)
    assert abs(x.mean() - want_mean) < 5 * math.sqrt(want_var / x.size)
    assert x.std() == pytest.approx(math.sqrt(want_var), rel=0.01)


def test_trunc_normal_rejects_empty_interval():
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(dl.empty(3), a=1.0, b=-1.0)


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4), (8, 2, 3, 3)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape, gain):
    w = _sample(init.orthogonal_, shape, gain=gain).reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-5)


def test_orthogonal_draws_differ_and_are_reproducible():
    a, b = _sample(init.orthogonal_, (5, 5)), _sample(init.orthogonal_, (5, 5))
    np.testing.assert_array_equal(a, b)  # same seed, same matrix
    g = dl.Generator(1)
    c = init.orthogonal_(dl.empty(5, 5), generator=g).array
    assert not np.allclose(a, c)


@pytest.mark.parametrize("fill", ["constant_", "zeros_", "ones_", "eye_"])
@pytest.mark.parametrize("shape", [(3, 5), (4, 4), (5, 2)], ids=str)
def test_deterministic_fills_equal_torch(fill, shape):
    args = (0.37,) if fill == "constant_" else ()
    t = getattr(torch.nn.init, fill)(torch.empty(*shape), *args)
    d = getattr(init, fill)(dl.empty(*shape), *args)
    np.testing.assert_array_equal(d.array, t.numpy())


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 1), ((4, 2, 3, 3), 2), ((3, 5, 1, 3, 3), 1), ((6, 2, 2, 2), 3)])
def test_dirac_equals_torch(shape, groups):
    t = torch.nn.init.dirac_(torch.empty(*shape), groups)
    d = init.dirac_(dl.empty(*shape), groups)
    np.testing.assert_array_equal(d.array, t.numpy())
    with pytest.raises(ValueError, match="dirac_"):
        init.dirac_(dl.empty(3, 3))


def test_eye_needs_a_matrix():
    with pytest.raises(ValueError, match="eye_"):
        init.eye_(dl.empty(2, 2, 2))


def test_init_does_not_record_the_graph():
    p = dl.nn.Parameter(dl.empty(3, 4))
    for fn in (init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_, init.trunc_normal_, init.zeros_):
        fn(p)
        assert p.is_leaf and p.requires_grad


def test_seeded_init_is_reproducible():
    assert np.array_equal(_sample(init.kaiming_uniform_), _sample(init.kaiming_uniform_))


def test_linear_default_init_law():
    dl.manual_seed(0)
    lin = dl.nn.Linear(400, 500)
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) and the bias law coincide
    _check_uniform(lin.weight.array.astype(np.float64), -bound, bound)
    b = lin.bias.array
    assert np.abs(b).max() <= bound and b.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)


@pytest.mark.parametrize("name", ["uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
                                  "kaiming_uniform", "kaiming_normal", "orthogonal"])
def test_deprecated_names_warn_and_work_as_torchs(name):
    shape = (3, 2, 3) if name == "dirac" else (3, 4)
    args = (0.5,) if name == "constant" else ()
    with pytest.warns(FutureWarning) as tw:
        getattr(torch.nn.init, name)(torch.empty(shape), *args)
    t = dl.empty(*shape)
    with pytest.warns(FutureWarning) as dw:
        out = getattr(dl.nn.init, name)(t, *args)
    assert str(dw[0].message) == str(tw[0].message)
    assert out is t and getattr(dl.nn.init, name).__name__ == name
