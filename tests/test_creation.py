"""Tensor factories (shapes, dtypes, values vs PyTorch) and the global generator (manual_seed)."""

import numpy as np
import pytest
import torch

import deepling as dl


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "") if isinstance(t, torch.Tensor) else t.dtype.name


DETERMINISTIC = {
    "zeros": lambda m: m.zeros(2, 3),
    "zeros_tuple": lambda m: m.zeros((2, 3)),
    "zeros_0d": lambda m: m.zeros(()),
    "zeros_int": lambda m: m.zeros(4, dtype=m.int64),
    "ones": lambda m: m.ones(3),
    "ones_f64": lambda m: m.ones((1, 2), dtype=m.float64),
    "full_float": lambda m: m.full((2, 2), 1.5),
    "full_int": lambda m: m.full((3,), 7),
    "full_bool": lambda m: m.full((2,), True),
    "full_dtype": lambda m: m.full((2,), 3, dtype=m.float32),
    "empty_shape": lambda m: m.empty(2, 5).shape,
    "empty_dtype": lambda m: m.empty(2, dtype=m.int64).dtype,
    "arange": lambda m: m.arange(5),
    "arange_start_step": lambda m: m.arange(1, 8, 2),
    "arange_float": lambda m: m.arange(0, 1, 0.25),
    "arange_neg_step": lambda m: m.arange(5, 0, -1),
    "arange_dtype": lambda m: m.arange(4, dtype=m.float64),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "linspace_one": lambda m: m.linspace(-2, 3, 1),
    "eye": lambda m: m.eye(3),
    "eye_rect": lambda m: m.eye(2, 4),
    "eye_dtype": lambda m: m.eye(2, dtype=m.int64),
    "zeros_like": lambda m: m.zeros_like(m.tensor([[1, 2]])),
    "ones_like": lambda m: m.ones_like(m.tensor([1.0, 2.0], dtype=m.float64)),
    "full_like": lambda m: m.full_like(m.ones(2, 3), 4.0),
    "full_like_dtype": lambda m: m.full_like(m.ones(2), 4, dtype=m.int64),
    "empty_like": lambda m: m.empty_like(m.ones(2, 3, dtype=m.float64)).dtype,
    "tensor_dtype": lambda m: m.tensor([1, 2], dtype=m.float32),
    "as_tensor": lambda m: m.as_tensor([1.0, 2.0]),
    "as_tensor_dtype": lambda m: m.as_tensor([1, 2], dtype=m.float64),
}


@pytest.mark.parametrize("name", list(DETERMINISTIC))
def test_factories_match_torch(name):
    t, d = DETERMINISTIC[name](torch), DETERMINISTIC[name](dl)
    if isinstance(t, torch.Tensor):
        assert _dtype_name(d) == _dtype_name(t)
        assert d.shape == tuple(t.shape)
        np.testing.assert_allclose(d.array, t.numpy(), rtol=1e-6)
    elif isinstance(t, torch.dtype):
        assert d.name == str(t).replace("torch.", "")
    else:
        assert tuple(d) == tuple(t)


def test_factories_requires_grad():
    for x in (dl.zeros(2, requires_grad=True), dl.ones(2, requires_grad=True), dl.randn(2, requires_grad=True),
              dl.tensor([1.0], requires_grad=True), dl.full((2,), 1.0, requires_grad=True), dl.rand(2, requires_grad=True)):
        assert x.requires_grad and x.is_leaf


def test_from_numpy_and_as_tensor_share_memory():
    a = np.zeros(3, dtype=np.float32)
    f, s = dl.from_numpy(a), dl.as_tensor(a)
    a[0] = 5.0
    assert f.array[0] == 5.0 and s.array[0] == 5.0
    t = dl.tensor(a)
    a[1] = 2.0
    assert t.array[1] == 0.0  # tensor() copies
    with pytest.raises(TypeError):
        dl.from_numpy([1, 2])


RANDOM = {
    "rand": (lambda m: m.rand(3, 4), (3, 4), "float32"),
    "rand_tuple_f64": (lambda m: m.rand((2, 2), dtype=m.float64), (2, 2), "float64"),
    "randn": (lambda m: m.randn(5), (5,), "float32"),
    "randn_f64": (lambda m: m.randn(2, 3, dtype=m.float64), (2, 3), "float64"),
    "randint": (lambda m: m.randint(3, 10, (4, 2)), (4, 2), "int64"),
    "randint_high_only": (lambda m: m.randint(5, (6,)), (6,), "int64"),
    "randperm": (lambda m: m.randperm(7), (7,), "int64"),
    "rand_like": (lambda m: m.rand_like(m.ones(2, dtype=m.float64)), (2,), "float64"),
    "randn_like": (lambda m: m.randn_like(m.ones(3, 1)), (3, 1), "float32"),
    "randint_like": (lambda m: m.randint_like(m.ones(2, 2), 0, 4), (2, 2), "float32"),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_factories_shapes_and_dtypes(name):
    fn, shape, dtype = RANDOM[name]
    t, d = fn(torch), fn(dl)
    assert tuple(t.shape) == shape == d.shape
    assert _dtype_name(t) == dtype == _dtype_name(d)


def test_random_value_ranges():
    dl.manual_seed(0)
    u = dl.rand(10_000).array
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    n = dl.randn(10_000).array
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    r = dl.randint(3, 10, (10_000,)).array
    assert r.min() == 3 and r.max() == 9
    assert sorted(dl.randperm(50).tolist()) == list(range(50))
    x = dl.empty(10_000).uniform_(-2, 3).array
    assert x.min() >= -2 and x.max() < 3
    x = dl.empty(10_000).normal_(4.0, 0.5).array
    assert abs(x.mean() - 4.0) < 0.05 and abs(x.std() - 0.5) < 0.05


SEEDED = {
    "rand": lambda: dl.rand(4),
    "randn": lambda: dl.randn(2, 3),
    "randint": lambda: dl.randint(0, 100, (5,)),
    "randperm": lambda: dl.randperm(10),
    "uniform_": lambda: dl.empty(4).uniform_(),
    "normal_": lambda: dl.empty(4).normal_(),
    "nn_init_linear": lambda: dl.nn.Linear(3, 2).weight.detach(),
}


@pytest.mark.parametrize("name", list(SEEDED))
def test_manual_seed_reproducible(name):
    draw = SEEDED[name]
    dl.manual_seed(1234)
    a = draw().array.copy()
    b = draw().array.copy()
    dl.manual_seed(1234)
    np.testing.assert_array_equal(draw().array, a)
    np.testing.assert_array_equal(draw().array, b)
    dl.manual_seed(4321)
    assert not np.array_equal(draw().array, a)


def test_rng_state_round_trip_and_generators():
    dl.manual_seed(7)
    state = dl.get_rng_state()
    a = dl.randn(3).array.copy()
    dl.set_rng_state(state)
    np.testing.assert_array_equal(dl.randn(3).array, a)
    g1, g2 = dl.Generator().manual_seed(5), dl.Generator().manual_seed(5)
    dl.manual_seed(0)
    x = dl.randn(3, generator=g1).array
    dl.randn(10)  # the global generator does not disturb a private one
    np.testing.assert_array_equal(dl.randn(3, generator=g2).array, x)


def test_factory_errors():
    with pytest.raises(TypeError):
        dl.zeros(2, dtype="nonsense")
    with pytest.raises(TypeError):
        dl.tensor(object())
