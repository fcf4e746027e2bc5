"""Tensor attributes, conversions, dtype casts and repr, compared with PyTorch where both apply."""

import numpy as np
import pytest
import torch

import deepling as dl
from oracle import check_grad, check_op


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "") if isinstance(t, torch.Tensor) else t.dtype.name


@pytest.mark.parametrize(
    "data",
    [1.5, 3, True, [1.0, 2.0], [[1, 2], [3, 4]], [True, False], [], [[0.5], [1]]],
    ids=["float", "int", "bool", "floats", "ints", "bools", "empty", "mixed"],
)
def test_tensor_from_python_data_matches_torch(data):
    t, d = torch.tensor(data), dl.tensor(data)
    assert _dtype_name(d) == _dtype_name(t)
    assert d.shape == tuple(t.shape)
    np.testing.assert_array_equal(d.array, t.numpy())


def test_numpy_arrays_keep_their_dtype_as_in_torch():
    # PyTorch: a NumPy array keeps its dtype; Python floats take the default dtype (float32)
    a = np.arange(3.0)
    assert dl.tensor(a).dtype == np.float64
    assert dl.tensor([0.5, 1]).dtype == np.float32
    assert dl.Tensor(a).dtype == np.float32 == dl.Tensor([1, 2]).dtype  # the legacy constructor: default dtype
    assert dl.tensor(a, dtype=dl.float32).dtype == np.float32
    assert dl.from_numpy(a).dtype == np.float64
    assert dl.tensor(np.arange(3, dtype=np.int32)).dtype == np.int32


def test_attributes_match_torch():
    a = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    t, d = torch.tensor(a), dl.tensor(a)
    assert d.shape == tuple(t.shape) and d.size() == tuple(t.size())
    assert d.size(1) == t.size(1) and d.size(-1) == t.size(-1)
    assert d.ndim == t.ndim and d.dim() == t.dim()
    assert d.numel() == t.numel()
    assert len(d) == len(t)
    assert d.is_floating_point() and not dl.tensor([1]).is_floating_point()
    np.testing.assert_array_equal(d.mT.array, t.mT.numpy())
    np.testing.assert_array_equal(dl.tensor(a[0]).T.array, torch.tensor(a[0]).T.numpy())
    assert d.tolist() == pytest.approx(np.asarray(t.tolist()))
    assert d.device == dl.device("cpu") and str(d.device) == str(t.device)


def test_scalar_conversions():
    for m in (torch, dl):
        x = m.tensor([[2.5]])
        assert x.item() == 2.5 and float(x) == 2.5 and int(x) == 2
        assert bool(m.tensor(1)) and not bool(m.tensor(0.0))
        assert [0, 1, 2][m.tensor(2)] == 2
        with pytest.raises((RuntimeError, ValueError)):
            m.tensor([1.0, 2.0]).item()
        with pytest.raises(RuntimeError):
            bool(m.tensor([1, 2]))
        with pytest.raises(TypeError):
            len(m.tensor(1.0))


def test_iteration_yields_rows():
    d = dl.tensor([[1, 2], [3, 4], [5, 6]])
    rows = list(d)
    assert len(rows) == 3 and all(isinstance(r, dl.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[2].array, [5, 6])


def test_numpy_and_detach():
    x = dl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    with pytest.raises(RuntimeError, match="detach"):
        torch.tensor([1.0], requires_grad=True).numpy()
    n = x.detach().numpy()
    n[0] = 9.0  # shares memory, as in torch
    assert x.array[0] == 9.0
    assert isinstance(dl.ones(2).numpy(), np.ndarray)


CASTS = {
    "float": lambda x: x.float(),
    "double": lambda x: x.double(),
    "long": lambda x: x.long(),
    "int": lambda x: x.int(),
    "bool": lambda x: x.bool(),
    "half": lambda x: x.half(),
    "to_float64": lambda x: x.to(torch.float64) if isinstance(x, torch.Tensor) else x.to(dl.float64),
    "to_int64": lambda x: x.to(torch.int64) if isinstance(x, torch.Tensor) else x.to(dl.int64),
    "to_cpu": lambda x: x.to("cpu"),
    "to_dtype_kw": lambda x: x.to(dtype=torch.float64) if isinstance(x, torch.Tensor) else x.to(dtype=dl.float64),
    "type_as": lambda x: x.type_as(x.long()),
}


@pytest.mark.parametrize("name", list(CASTS))
def test_casts_match_torch(name):
    a = np.array([[-1.7, 0.0, 2.4], [0.5, -0.2, 3.0]], dtype=np.float32)
    t, d = CASTS[name](torch.tensor(a)), CASTS[name](dl.tensor(a))
    assert _dtype_name(d) == _dtype_name(t)
    np.testing.assert_array_equal(d.array, t.numpy())


@pytest.mark.parametrize("shapes", [[(3, 4)], [()]], ids=str)
def test_float_casts_are_differentiable(shapes):
    check_op(lambda x: x.double() * 2 + x.float(), shapes)
    check_op(lambda x: (x.double() * x).to(torch.float32), shapes, lambda x: (x.double() * x).to(dl.float32))
    # through float32 the central difference needs a larger step and looser tolerances
    check_grad(lambda x: x.float().double() * x, shapes, eps=1e-3, atol=1e-3, rtol=1e-2)


def test_integer_cast_cuts_the_gradient():
    x = dl.tensor([1.5, 2.5], requires_grad=True)
    assert not x.long().requires_grad
    t = torch.tensor([1.5, 2.5], requires_grad=True)
    assert not t.long().requires_grad


def test_clone_is_a_differentiable_copy():
    check_op(lambda x: x.clone() * 3, [(2, 3)])
    x = dl.ones(2)
    c = x.clone()
    c.array[0] = 5.0
    assert x.array[0] == 1.0


def test_repr_is_readable():
    r = repr(dl.tensor([1.0, 2.5]))
    assert r.startswith("tensor([") and "2.5" in r
    assert "requires_grad=True" in repr(dl.ones(2, requires_grad=True))
    assert "grad_fn=" in repr(dl.ones(2, requires_grad=True) * 2)
    assert "dtype=deepling.float64" in repr(dl.ones(2, dtype=dl.float64))
    assert "dtype" not in repr(dl.tensor([1, 2]))
    assert repr(dl.tensor(3)) == "tensor(3)"


def test_ndarray_operands_give_tensors():
    a = np.ones(3, dtype=np.float32)
    x = dl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for y in (a + x, a * x, x - a, a @ x):
        assert isinstance(y, dl.Tensor) and y.requires_grad


def test_requires_grad_flag():
    x = dl.tensor([1.0])
    assert not x.requires_grad and x.grad is None
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    assert dl.tensor([1.0], requires_grad=True).requires_grad


def test_tensor_methods_of_issue_exist():
    x = dl.ones(2, 2)
    for name in ["shape", "ndim", "numel", "size", "T", "item", "numpy", "tolist", "detach", "requires_grad",
                 "requires_grad_", "grad", "is_leaf", "backward", "retain_grad", "float", "long", "to", "dtype"]:
        assert hasattr(x, name), name
        assert hasattr(torch.ones(2, 2), name), name


def test_wrong_data_raises_type_error():
    with pytest.raises(TypeError):
        dl.tensor("abc")
    with pytest.raises(TypeError):
        dl.tensor([1.0], dtype="no-such-dtype")
