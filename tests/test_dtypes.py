"""Dtype objects and dtype inference exactly as PyTorch's, fuzzed against torch."""

import numpy as np
import pytest
import torch

import deepling as dl

NAMES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
         "complex64", "complex128", "half", "float", "double", "short", "int", "long", "cfloat", "cdouble"]
COMPUTABLE = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_,
              np.complex64, np.complex128]


def _name(dtype) -> str:
    return str(dtype).replace("torch.", "")


@pytest.mark.parametrize("name", NAMES)
def test_dtype_names_as_torch(name):
    d, t = getattr(dl, name), getattr(torch, name)
    assert _name(t) == {"bool_": "bool"}.get(d.name, d.name) or (_name(t) == "bool" and d == np.bool_)
    assert dl.zeros(2, dtype=d).dtype == d


@pytest.mark.parametrize("a", COMPUTABLE)
@pytest.mark.parametrize("b", COMPUTABLE)
def test_promote_types_matches_torch(a, b):
    ta, tb = torch.from_numpy(np.zeros(1, a)).dtype, torch.from_numpy(np.zeros(1, b)).dtype
    assert _name(dl.promote_types(np.dtype(a), np.dtype(b))).replace("bool_", "bool") == _name(torch.promote_types(ta, tb))


def test_bfloat16_exists_and_says_it_cannot_compute():
    assert repr(dl.bfloat16) == "deepling.bfloat16" and dl.bfloat16.itemsize == 2 and dl.bfloat16.is_floating_point
    for make in (lambda: dl.zeros(2, dtype=dl.bfloat16), lambda: dl.ones(2).to(dl.bfloat16),
                 lambda: dl.tensor([1.0], dtype=dl.bfloat16), lambda: dl.nn.Linear(2, 2).to(dl.bfloat16)):
        with pytest.raises(TypeError, match="no bfloat16"):
            make()


def _scalar(rng, kind):
    """A random scalar of a random Python or NumPy type (the same value for both frameworks)."""
    v = float(np.round(rng.standard_normal() * 3, 2))
    return {
        "float": v, "int": int(v), "bool": bool(v > 0), "np.float64": np.float64(v), "np.float32": np.float32(v),
        "np.float16": np.float16(v), "np.int32": np.int32(int(v)), "np.int64": np.int64(int(v)),
        "np.int16": np.int16(int(v)), "np.uint8": np.uint8(abs(int(v))),
    }[kind]


KINDS = ["float", "int", "bool", "np.float64", "np.float32", "np.float16", "np.int32", "np.int64", "np.int16", "np.uint8"]
ARRAYS = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_]


def _data(rng, depth=0):
    """Random data for tensor(): a scalar, an array, a 0-d tensor or a (nested) list of those."""
    r = rng.random()
    if depth == 0 and r < 0.25:
        return np.asarray(rng.standard_normal(tuple(rng.integers(1, 3, size=rng.integers(1, 3)))) * 3).astype(ARRAYS[rng.integers(len(ARRAYS))])
    if depth == 0 and r < 0.4:
        return _scalar(rng, KINDS[rng.integers(len(KINDS))])
    n = int(rng.integers(1, 4))
    kinds = [KINDS[i] for i in rng.integers(len(KINDS), size=rng.integers(1, 3))]
    if depth == 0 and rng.random() < 0.3:  # a list of lists of the same length
        return [[_scalar(rng, kinds[rng.integers(len(kinds))]) for _ in range(n)] for _ in range(int(rng.integers(1, 3)))]
    return [_scalar(rng, kinds[rng.integers(len(kinds))]) for _ in range(n)]


def test_dtype_inference_fuzzed_against_torch():
    rng = np.random.default_rng(0)
    for case in range(500):
        data = _data(rng)
        want = torch.tensor(data)
        got = dl.tensor(data)
        msg = f"case {case}: {data!r}"
        assert _name(want.dtype) == got.dtype.name.replace("bool_", "bool"), msg
        np.testing.assert_array_equal(got.array, want.numpy(), err_msg=msg)


@pytest.mark.parametrize("data", [
    np.array([0.1]), [np.float64(1.0), 2.0], np.float64(1.5), [np.array(1.0), np.array(2.0)],
    [torch.zeros(0).numpy()], [[1, 2], [3, 4.5]], [], [[]], [True, False], [1, True], [1j, 2],
])
def test_dtype_inference_cases(data):
    want = torch.tensor(np.asarray(data) if isinstance(data, list) and data and isinstance(data[0], np.ndarray) else data)
    got = dl.tensor(data)
    assert _name(want.dtype) == got.dtype.name.replace("bool_", "bool")
    assert got.shape == tuple(want.shape)


def test_sequences_of_tensors_keep_their_dtype():
    assert dl.tensor([dl.tensor(1.0, dtype=dl.float64), dl.tensor(2.0, dtype=dl.float64)]).dtype == dl.float64
    assert dl.tensor([dl.tensor(1), 2.5]).dtype == dl.float32  # promote(int64, float32) as torch


def test_bad_data_is_a_clear_error():
    with pytest.raises(ValueError, match="tensor:"):
        dl.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="tensor:"):
        dl.tensor(["a"])
    with pytest.raises(RuntimeError, match="out of range"):
        dl.tensor([2**64])


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor", "HalfTensor"])
def test_legacy_tensor_types(name):
    d, t = getattr(dl, name), getattr(torch, name)
    a, b = d([1, 0, 2]), t([1, 0, 2])
    assert _name(b.dtype) == a.dtype.name.replace("bool_", "bool")
    np.testing.assert_array_equal(a.array, b.numpy())
    assert d(2, 3).shape == tuple(t(2, 3).shape) == (2, 3)
    assert isinstance(a, d) and a.type() == f"deepling.{name}" and b.type() == f"torch.{name}"
    assert dl.zeros(2, dtype=dl.float64).type(d).dtype == a.dtype


def test_legacy_tensor_constructor_as_torch():
    assert dl.Tensor([1, 2]).dtype == dl.float32 == dl.Tensor(np.array([1.0])).dtype
    assert dl.Tensor(2, 3).shape == (2, 3) and dl.Tensor().shape == (0,)
    p = dl.nn.Parameter(dl.Tensor(4, 3))
    assert p.shape == (4, 3) and p.requires_grad


def test_default_dtype_finfo_iinfo():
    assert dl.get_default_dtype() == dl.float32
    assert dl.finfo(dl.float32).eps == torch.finfo(torch.float32).eps
    assert dl.finfo().eps == torch.finfo().eps
    assert dl.iinfo(dl.int64).max == torch.iinfo(torch.int64).max


def test_legacy_constructor_rejects_mixed_arguments():
    with pytest.raises(TypeError, match="Tensor"):
        dl.Tensor([1.0, 2.0], True)
    with pytest.raises(TypeError, match="Tensor"):
        dl.Tensor(2, 3.5)
