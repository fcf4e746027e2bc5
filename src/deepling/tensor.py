"""Tensor: a NumPy array plus what reverse-mode autodiff needs (``grad``, ``requires_grad``, ``_ctx``).

Operators and methods delegate to the differentiable ops in ``deepling.ops``; the graph walk lives
in ``deepling.autograd``.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

__all__ = ["Tensor", "float16", "float32", "float64", "int32", "int64", "uint8", "bool_", "default_dtype"]

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")
default_dtype = float32

_DTYPE_NAMES = {
    "float": float32, "float32": float32, "float64": float64, "double": float64, "half": float16,
    "float16": float16, "long": int64, "int64": int64, "int": int32, "int32": int32,
    "uint8": uint8, "bool": bool_,
}


def _as_dtype(dtype: Any) -> np.dtype:
    if isinstance(dtype, str) and dtype in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype]
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert user data to an ndarray with PyTorch's default dtypes (float32, int64, bool)."""
    if isinstance(data, Tensor):
        data = data.array
    if dtype is not None:
        return np.array(data, dtype=_as_dtype(dtype))
    arr = np.array(data)
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype != float32:
            arr = arr.astype(float32)
    elif kind in "iu":
        if arr.dtype != int64 and arr.dtype != uint8:
            arr = arr.astype(int64)
    elif kind == "b":
        pass
    elif kind == "O" or kind == "U" or kind == "S":
        raise TypeError(f"tensor: cannot make a tensor from data of type {type(data).__name__}")
    return arr


class Tensor:
    """An n-dimensional array that can record the ops applied to it and differentiate through them.

    ``Tensor(data)`` accepts nested lists, scalars or arrays (float data becomes float32, integer
    data int64). ``requires_grad=True`` makes it a leaf whose ``.grad`` receives gradients.
    """

    __slots__ = ("array", "grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators: ndarray + Tensor -> Tensor

    def __init__(self, data: Any = None, requires_grad: bool = False, dtype: Any = None) -> None:
        self.array: np.ndarray = _to_array([] if data is None else data, dtype)
        self.grad: Tensor | None = None
        self.requires_grad = False
        self._ctx = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """Wrap an ndarray without copying or converting it (the ops' fast path)."""
        t = object.__new__(Tensor)
        t.array = array if isinstance(array, np.ndarray) else np.asarray(array)
        t.grad = None
        t.requires_grad = False
        t._ctx = None
        t._retains_grad = False
        return t

    # ----------------------------------------------------------------- attributes
    @property
    def data(self) -> Tensor:
        """This tensor's values as a Tensor over the same memory, with no history and no grad.

        As in PyTorch: writes through it (``p.data.add_(u)``) change this tensor and are not
        recorded by autograd; ``t.data = other`` swaps in ``other``'s array (shape and dtype may
        change). The NumPy array itself is ``.array``.
        """
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value: Any) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self.array = value.array

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        return self._ctx

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def size(self, dim: int | None = None) -> Any:
        return self.array.shape if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def element_size(self) -> int:
        return self.array.itemsize

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.array)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.array)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.array if dtype is None else self.array.astype(dtype, copy=False)
        return out.copy() if copy and out is self.array else out

    # ----------------------------------------------------------------- conversion
    def item(self) -> Any:
        if self.array.size != 1:
            raise RuntimeError(f"item: a Tensor with {self.array.size} elements cannot be converted to a scalar")
        return self.array.item()

    def tolist(self) -> Any:
        return self.array.tolist()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self.array

    def detach(self) -> Tensor:
        """A tensor sharing this data, cut from the graph."""
        return Tensor._wrap(self.array)

    def detach_(self) -> Tensor:
        self._ctx = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients (got {self.array.dtype})")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._ctx is not None:
            self._retains_grad = True

    def register_post_accumulate_grad_hook(self, hook: Any) -> Any:
        """Call ``hook(self)`` after each backward pass has accumulated into this leaf's ``.grad``;
        ``.remove()`` on the returned handle unregisters it (DDP starts its all-reduces from here)."""
        return _autograd.register_post_accumulate_grad_hook(self, hook)

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Compute gradients of this tensor with respect to the leaves of its graph."""
        _autograd.backward(self, gradient, retain_graph)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)`` or ``to('cpu')``: a differentiable cast (a no-op for the same dtype)."""
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and a not in _DTYPE_NAMES:
                if a.split(":")[0] != "cpu":
                    raise RuntimeError(f"to: deepling runs on the CPU only (got device {a!r})")
            else:
                dtype = a
        if dtype is None:
            return self
        return _E.cast(self, _as_dtype(dtype))

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return f"deepling.{self.array.dtype.name}"
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def half(self) -> Tensor:
        return self.to(float16)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def cpu(self) -> Tensor:
        return self

    def contiguous(self) -> Tensor:
        return self

    def clone(self) -> Tensor:
        return _E.clone(self)

    def new_tensor(self, data: Any) -> Tensor:
        return Tensor(data, dtype=self.dtype)

    def new_zeros(self, *size: Any) -> Tensor:
        return Tensor._wrap(np.zeros(_size(size), dtype=self.dtype))

    def new_ones(self, *size: Any) -> Tensor:
        return Tensor._wrap(np.ones(_size(size), dtype=self.dtype))

    def new_full(self, size: Any, fill_value: Any) -> Tensor:
        return Tensor._wrap(np.full(_size((size,)), fill_value, dtype=self.dtype))

    # ----------------------------------------------------------------- repr
    def __repr__(self) -> str:
        body = np.array2string(self.array, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.array.dtype not in (float32, int64, bool_):
            extras.append(f"dtype=deepling.{self.array.dtype.name}")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Tensor:
        return _E.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _E.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _E.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _E.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _E.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _E.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _E.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _E.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _E.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _E.pow(other, self)

    # ``a += b`` is in place, as in PyTorch (optimizers written by hand rely on it).
    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    def __matmul__(self, other: Any) -> Tensor:
        return _M.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _M.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _E.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _E.abs(self)

    def __invert__(self) -> Tensor:
        return _E.logical_not(self)

    def __and__(self, other: Any) -> Tensor:
        return _E.logical_and(self, other)

    def __or__(self, other: Any) -> Tensor:
        return _E.logical_or(self, other)

    def __xor__(self, other: Any) -> Tensor:
        return _E.logical_xor(self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _E.eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _E.ne(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _E.lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _E.le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _E.gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _E.ge(self, other)

    def __floordiv__(self, other: Any) -> Tensor:
        return _E.floor_divide(self, other)

    def __mod__(self, other: Any) -> Tensor:
        return _E.remainder(self, other)

    def __getitem__(self, index: Any) -> Tensor:
        return _S.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        _S.setitem(self, index, value)

    # ----------------------------------------------------------------- in-place ops
    def _check_inplace(self) -> bool:
        """True when the in-place op must go through the graph (self or the value needs grad)."""
        if self.requires_grad and self._ctx is None and _autograd.is_grad_enabled():
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        return self.requires_grad and _autograd.is_grad_enabled()

    def _snapshot(self) -> Tensor:
        """This tensor's current value and graph node as a separate tensor.

        A differentiable in-place op takes the snapshot as its input and then ``_become``s the
        result; using ``self`` itself would make the new node its own parent (a cycle that drops
        the gradient of everything computed before).
        """
        old = Tensor._wrap(self.array)
        old.requires_grad = self.requires_grad
        old._ctx = self._ctx
        return old

    def _overwrite(self, array: np.ndarray) -> Tensor:
        """Replace every element (fill_, uniform_, ...): in the graph, the old value gets no gradient."""
        if self._check_inplace():
            return self._become(_S.setitem_out_of_place(self._snapshot(), Ellipsis, Tensor._wrap(array)))
        self.array[...] = array
        return self

    def _become(self, result: Tensor) -> Tensor:
        """Take over ``result``'s value and graph node (the differentiable in-place path)."""
        self.array = result.array
        self._ctx = result._ctx
        self.requires_grad = result.requires_grad
        return self

    def _inplace(self, op: Any, other: Any) -> Tensor:
        value = other.array if isinstance(other, Tensor) else other
        if self._check_inplace() or (isinstance(other, Tensor) and other.requires_grad and _autograd.is_grad_enabled()):
            old = self._snapshot()
            return self._become(op(old, old if other is self else other))
        result = op(Tensor._wrap(self.array), Tensor._wrap(np.asarray(value))).array
        if not np.can_cast(result.dtype, self.array.dtype, casting="same_kind"):
            raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type {self.array.dtype}")
        if result.shape != self.array.shape:
            raise RuntimeError(
                f"output with shape {self.array.shape} doesn't match the broadcast shape {result.shape}"
            )
        np.copyto(self.array, result, casting="unsafe")
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._inplace(_E.add, other if alpha == 1 else other * alpha)

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._inplace(_E.sub, other if alpha == 1 else other * alpha)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace(_E.mul, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace(_E.div, other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        if self._check_inplace():
            return self._become(_E.clamp(self._snapshot(), min, max))
        np.clip(self.array, min, max, out=self.array)
        return self

    clip_ = clamp_

    def copy_(self, src: Any) -> Tensor:
        value = src.array if isinstance(src, Tensor) else np.asarray(src)
        if self._check_inplace() or (isinstance(src, Tensor) and src.requires_grad and _autograd.is_grad_enabled()):
            old = self._snapshot()
            return self._become(_S.setitem_out_of_place(old, Ellipsis, old if src is self else src))
        try:
            np.copyto(self.array, np.broadcast_to(value, self.array.shape), casting="unsafe")
        except ValueError:
            raise ValueError(f"copy_: cannot copy a tensor of shape {value.shape} into shape {self.array.shape}") from None
        return self

    def fill_(self, value: Any) -> Tensor:
        value = value.item() if isinstance(value, Tensor) else value
        if self._check_inplace():
            return self._overwrite(np.full(self.array.shape, value, dtype=self.array.dtype))
        self.array.fill(value)
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
        return self._overwrite(_random._rng(generator).uniform(a, b, self.array.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
        return self._overwrite(_random._rng(generator).normal(mean, std, self.array.shape))

    def bernoulli_(self, p: float = 0.5, generator: Any = None) -> Tensor:
        return self._overwrite(_random._rng(generator).random(self.array.shape) < p)

    def exponential_(self, lambd: float = 1.0, generator: Any = None) -> Tensor:
        return self._overwrite(_random._rng(generator).exponential(1.0 / lambd, self.array.shape))

    # ----------------------------------------------------------------- elementwise
    def add(self, other: Any, alpha: Any = 1) -> Tensor:
        return _E.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other: Any, alpha: Any = 1) -> Tensor:
        return _E.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Tensor:
        return _E.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return _E.div(self, other)

    def pow(self, exponent: Any) -> Tensor:
        return _E.pow(self, exponent)

    def neg(self) -> Tensor:
        return _E.neg(self)

    def abs(self) -> Tensor:
        return _E.abs(self)

    def exp(self) -> Tensor:
        return _E.exp(self)

    def log(self) -> Tensor:
        return _E.log(self)

    def log1p(self) -> Tensor:
        return _E.log1p(self)

    def sqrt(self) -> Tensor:
        return _E.sqrt(self)

    def rsqrt(self) -> Tensor:
        return _E.rsqrt(self)

    def sin(self) -> Tensor:
        return _E.sin(self)

    def cos(self) -> Tensor:
        return _E.cos(self)

    def tanh(self) -> Tensor:
        return _E.tanh(self)

    def sigmoid(self) -> Tensor:
        return _E.sigmoid(self)

    def relu(self) -> Tensor:
        return _E.relu(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        return _E.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return _E.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _E.minimum(self, other)

    def sign(self) -> Tensor:
        return _E.sign(self)

    def floor(self) -> Tensor:
        return _E.floor(self)

    def ceil(self) -> Tensor:
        return _E.ceil(self)

    def round(self) -> Tensor:
        return _E.round(self)

    def square(self) -> Tensor:
        return _E.mul(self, self)

    def reciprocal(self) -> Tensor:
        return _E.div(1.0, self)

    def eq(self, other: Any) -> Tensor:
        return _E.eq(self, other)

    def ne(self, other: Any) -> Tensor:
        return _E.ne(self, other)

    def lt(self, other: Any) -> Tensor:
        return _E.lt(self, other)

    def le(self, other: Any) -> Tensor:
        return _E.le(self, other)

    def gt(self, other: Any) -> Tensor:
        return _E.gt(self, other)

    def ge(self, other: Any) -> Tensor:
        return _E.ge(self, other)

    def isnan(self) -> Tensor:
        return Tensor._wrap(np.isnan(self.array))

    def isfinite(self) -> Tensor:
        return Tensor._wrap(np.isfinite(self.array))

    def logical_not(self) -> Tensor:
        return _E.logical_not(self)

    def where(self, condition: Any, other: Any) -> Tensor:
        return _E.where(condition, self, other)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return _S.masked_fill(self, mask, value)

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        if self._check_inplace():
            return self._become(_S.masked_fill(self._snapshot(), mask, value))
        self.array[np.broadcast_to(mask.array if isinstance(mask, Tensor) else mask, self.array.shape)] = value
        return self

    def softmax(self, dim: int, dtype: Any = None) -> Tensor:
        from deepling.ops.activation import softmax

        return softmax(self if dtype is None else self.to(dtype), dim)

    def log_softmax(self, dim: int, dtype: Any = None) -> Tensor:
        from deepling.ops.activation import log_softmax

        return log_softmax(self if dtype is None else self.to(dtype), dim)

    # ----------------------------------------------------------------- reductions
    def sum(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        return _R.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        return _R.mean(self, dim, keepdim, dtype=dtype)

    def var(self, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> Tensor:
        return _R.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> Tensor:
        return _R.std(self, dim, unbiased, keepdim, correction=correction)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        return _R.max(self, dim, keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        return _R.min(self, dim, keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _R.amax(self, dim, keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _R.amin(self, dim, keepdim)

    def argmax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _R.argmax(self, dim, keepdim)

    def argmin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _R.argmin(self, dim, keepdim)

    def logsumexp(self, dim: Any, keepdim: bool = False) -> Tensor:
        return _R.logsumexp(self, dim, keepdim)

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        return _R.norm(self, p, dim, keepdim)

    def prod(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        return _R.prod(self, dim, keepdim, dtype=dtype)

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return Tensor._wrap(np.asarray(np.all(self.array, axis=dim, keepdims=keepdim)))

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return Tensor._wrap(np.asarray(np.any(self.array, axis=dim, keepdims=keepdim)))

    # ----------------------------------------------------------------- linear algebra
    def matmul(self, other: Any) -> Tensor:
        return _M.matmul(self, other)

    def mm(self, other: Any) -> Tensor:
        return _M.mm(self, other)

    def bmm(self, other: Any) -> Tensor:
        return _M.bmm(self, other)

    def dot(self, other: Any) -> Tensor:
        return _M.dot(self, other)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        return _S.reshape(self, _size(shape))

    def view(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
            return self.to(shape[0])
        return _S.reshape(self, _size(shape))

    def view_as(self, other: Tensor) -> Tensor:
        return _S.reshape(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _S.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _S.flatten(self, start_dim, end_dim)

    def unflatten(self, dim: int, sizes: Any) -> Tensor:
        return _S.unflatten(self, dim, sizes)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _S.transpose(self, dim0, dim1)

    def swapaxes(self, dim0: int, dim1: int) -> Tensor:
        return _S.transpose(self, dim0, dim1)

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.T

    def permute(self, *dims: Any) -> Tensor:
        return _S.permute(self, _size(dims))

    def squeeze(self, dim: Any = None) -> Tensor:
        return _S.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _S.unsqueeze(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        return _S.expand(self, _size(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return _S.expand(self, other.shape)

    def broadcast_to(self, shape: Any) -> Tensor:
        return _S.expand(self, tuple(shape))

    def repeat(self, *sizes: Any) -> Tensor:
        return _S.repeat(self, _size(sizes))

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return _S.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _S.chunk(self, chunks, dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        return _S.unbind(self, dim)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        return _S.gather(self, dim, index)

    def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return _S.scatter_add(self, dim, index, src)

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        return _S.index_select(self, dim, index)

    def tril(self, diagonal: int = 0) -> Tensor:
        return _S.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return _S.triu(self, diagonal)

    def flip(self, dims: Any) -> Tensor:
        return _S.flip(self, dims)


def _size(args: tuple) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))`` as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


# Imported last: the op modules import ``Tensor`` from this module.
from deepling import autograd as _autograd  # noqa: E402
from deepling import random as _random  # noqa: E402
from deepling.ops import elementwise as _E  # noqa: E402
from deepling.ops import matmul as _M  # noqa: E402
from deepling.ops import reduce as _R  # noqa: E402
from deepling.ops import shape as _S  # noqa: E402
