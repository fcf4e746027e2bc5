"""Tensor factories: ``tensor``, ``zeros``, ``randn``, ``arange``, ... with PyTorch's signatures.

Random factories draw from the global generator (``deepling.manual_seed``) unless a
``generator`` is given. Float results are float32 unless ``dtype`` says otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.devices import resolve
from deepling.random import Generator, numpy_rng
from deepling.tensor import Tensor, as_dtype, default_dtype, shape_args, to_array

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace",
    "eye", "rand", "randn", "randint", "randperm", "zeros_like", "ones_like", "full_like",
    "empty_like", "rand_like", "randn_like", "randint_like", "normal", "bernoulli", "multinomial",
    "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor",
    "ByteTensor", "BoolTensor",
]


def _dt(dtype: Any, default: Any = default_dtype) -> np.dtype:
    return as_dtype(default if dtype is None else dtype)


def _make(array: np.ndarray, requires_grad: bool = False, device: Any = None) -> Tensor:
    resolve(device, "creating a tensor")  # the only device is the CPU: anything else raises DeviceError
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (float data becomes float32, integers int64)."""
    return _make(to_array(data, dtype), requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor sharing memory with ``data`` when it is already an ndarray of the right dtype."""
    resolve(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        return Tensor._wrap(data if dtype is None else data.astype(as_dtype(dtype), copy=False))
    return tensor(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap an ndarray, sharing its memory and keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor._wrap(array)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.zeros(shape_args(size), dtype=_dt(dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.ones(shape_args(size), dtype=_dt(dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.empty(shape_args(size), dtype=_dt(dtype)), requires_grad, device)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    if dtype is None:
        dtype = to_array(fill_value).dtype
    return _make(np.full(shape_args((size,)), fill_value, dtype=as_dtype(dtype)), requires_grad, device)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive): int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else default_dtype
    return _make(np.arange(start, end, step).astype(as_dtype(dtype)), requires_grad, device)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.linspace(start, end, steps).astype(_dt(dtype)), requires_grad, device)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.eye(n, m, dtype=_dt(dtype)), requires_grad, device)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform samples on [0, 1)."""
    dt = _dt(dtype)
    return _make(numpy_rng(generator).random(shape_args(size), dtype=np.float64 if dt == np.float64 else np.float32).astype(dt, copy=False), requires_grad, device)


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal samples."""
    dt = _dt(dtype)
    rng = numpy_rng(generator)
    out = rng.standard_normal(shape_args(size), dtype=np.float64 if dt == np.float64 else np.float32)
    return _make(out.astype(dt, copy=False), requires_grad, device)


def randint(low: int, high: Any = None, size: Any = None, generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` is allowed as in PyTorch."""
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint: missing the 'size' argument")
    if high is None:
        low, high = 0, low
    return _make(numpy_rng(generator).integers(low, high, shape_args((size,))).astype(_dt(dtype, np.int64)), device=device)


def randperm(n: int, generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    return _make(numpy_rng(generator).permutation(n).astype(_dt(dtype, np.int64)), device=device)


def normal(mean: Any, std: Any = 1.0, size: Any = None, generator: Generator | None = None) -> Tensor:
    m = mean.array if isinstance(mean, Tensor) else mean
    s = std.array if isinstance(std, Tensor) else std
    shape = np.broadcast_shapes(np.shape(m), np.shape(s)) if size is None else shape_args((size,))
    return Tensor._wrap(numpy_rng(generator).normal(m, s, shape).astype(default_dtype))


def bernoulli(p: Tensor, generator: Generator | None = None) -> Tensor:
    """0/1 samples with probabilities ``p`` (same dtype as ``p``)."""
    return Tensor._wrap((numpy_rng(generator).random(p.shape) < p.array).astype(p.dtype))


def multinomial(probs: Tensor, num_samples: int, replacement: bool = False, generator: Generator | None = None) -> Tensor:
    """Sample category indices from each row of (unnormalized) ``probs``: (C,) or (N, C)."""
    p = np.asarray(probs.array, dtype=np.float64)
    rows = p.reshape(-1, p.shape[-1])
    rng = numpy_rng(generator)
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for i, row in enumerate(rows):  # one draw per distribution (a few rows when sampling text)
        total = row.sum()
        if total <= 0 or not np.isfinite(total) or (row < 0).any():
            raise RuntimeError("multinomial: invalid probability distribution (sum of probabilities <= 0 or negative entries)")
        out[i] = rng.choice(row.size, size=num_samples, replace=replacement, p=row / total)
    return Tensor._wrap(out.reshape(p.shape[:-1] + (num_samples,)))


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.zeros(x.shape, dtype=_dt(dtype, x.dtype)), requires_grad, device)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.ones(x.shape, dtype=_dt(dtype, x.dtype)), requires_grad, device)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.full(x.shape, fill_value, dtype=_dt(dtype, x.dtype)), requires_grad, device)


def empty_like(x: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _make(np.empty(x.shape, dtype=_dt(dtype, x.dtype)), requires_grad, device)


def rand_like(x: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return rand(x.shape, dtype=_dt(dtype, x.dtype), requires_grad=requires_grad, device=device)


def randn_like(x: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return randn(x.shape, dtype=_dt(dtype, x.dtype), requires_grad=requires_grad, device=device)


def randint_like(x: Tensor, low: int, high: Any = None, dtype: Any = None, device: Any = None) -> Tensor:
    return randint(low, high, x.shape, dtype=_dt(dtype, x.dtype), device=device)


# ---------------------------------------------------------------------------- legacy tensor types
class _TensorType(type):
    """``deepling.FloatTensor`` and friends: PyTorch's legacy typed constructors.

    ``LongTensor([1, 2])`` copies data into int64, ``FloatTensor(2, 3)`` makes a zero tensor of that
    shape; ``isinstance(t, deepling.FloatTensor)`` checks the dtype and ``t.type(deepling.FloatTensor)``
    casts to it.
    """

    dtype: np.dtype

    def __call__(cls, *args: Any) -> Tensor:
        return Tensor(*args, dtype=cls.dtype)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'deepling.{cls.__name__}'>"


def _tensor_type(name: str, dtype: np.dtype) -> Any:
    return _TensorType(name, (), {"dtype": dtype, "__module__": "deepling"})


FloatTensor = _tensor_type("FloatTensor", np.dtype(np.float32))
DoubleTensor = _tensor_type("DoubleTensor", np.dtype(np.float64))
HalfTensor = _tensor_type("HalfTensor", np.dtype(np.float16))
LongTensor = _tensor_type("LongTensor", np.dtype(np.int64))
IntTensor = _tensor_type("IntTensor", np.dtype(np.int32))
ShortTensor = _tensor_type("ShortTensor", np.dtype(np.int16))
CharTensor = _tensor_type("CharTensor", np.dtype(np.int8))
ByteTensor = _tensor_type("ByteTensor", np.dtype(np.uint8))
BoolTensor = _tensor_type("BoolTensor", np.dtype(np.bool_))
TENSOR_TYPES = (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor)
