"""Tensor: a NumPy array plus what reverse-mode autodiff needs (``grad``, ``requires_grad``, ``_ctx``).

Operators and methods delegate to the differentiable ops in ``deepling.ops``; the graph walk lives
in ``deepling.autograd``.
"""

from __future__ import annotations

import weakref
from typing import Any, Iterator

import numpy as np

__all__ = [
    "Tensor", "float16", "float32", "float64", "bfloat16", "complex64", "complex128", "int8", "int16",
    "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool_", "default_dtype",
]

# Dtypes are NumPy dtypes (``deepling.float32 == np.float32``), except where NumPy has none.
float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
complex64 = np.dtype("complex64")
complex128 = np.dtype("complex128")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
uint16 = np.dtype("uint16")
uint32 = np.dtype("uint32")
uint64 = np.dtype("uint64")
bool_ = np.dtype("bool")
default_dtype = float32


class _NoNumpyDtype:
    """A dtype PyTorch names but NumPy cannot compute in (bfloat16): it exists, using it raises."""

    __slots__ = ("name", "itemsize", "kind")

    def __init__(self, name: str, itemsize: int, kind: str) -> None:
        self.name, self.itemsize, self.kind = name, itemsize, kind

    @property
    def is_floating_point(self) -> bool:
        return self.kind == "f"

    def __repr__(self) -> str:
        return f"deepling.{self.name}"


bfloat16 = _NoNumpyDtype("bfloat16", 2, "f")

_DTYPE_NAMES = {
    "float": float32, "float32": float32, "float64": float64, "double": float64, "half": float16,
    "float16": float16, "long": int64, "int64": int64, "int": int32, "int32": int32, "short": int16,
    "int16": int16, "int8": int8, "uint8": uint8, "uint16": uint16, "uint32": uint32, "uint64": uint64,
    "bool": bool_, "cfloat": complex64, "complex64": complex64, "cdouble": complex128,
    "complex128": complex128, "bfloat16": bfloat16,
}


def as_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype for a deepling/NumPy dtype, a PyTorch dtype name or a Python type."""
    if isinstance(dtype, str) and dtype in _DTYPE_NAMES:
        dtype = _DTYPE_NAMES[dtype]
    if isinstance(dtype, _NoNumpyDtype):
        raise TypeError(
            f"dtype {dtype!r}: deepling computes with NumPy, which has no {dtype.name} type; use float32 (or float16)"
        )
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(getattr(dtype, "dtype", None), np.dtype) and not isinstance(dtype, np.ndarray):
        return dtype.dtype  # a legacy tensor type such as deepling.FloatTensor
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's ``promote_types``: the higher category (bool < integer < float < complex) wins,
    whatever its size (int64 with float16 gives float16, unlike NumPy); within a category, the wider."""
    if a == b:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca == cb:
        return np.promote_types(a, b)
    high, low = (a, b) if ca > cb else (b, a)
    if high.kind == "c" and low == float64:
        return complex128
    return high


def _scalar_type_dtype(t: type) -> np.dtype:
    """The dtype PyTorch gives a scalar of type ``t`` inside ``tensor(data)``."""
    if issubclass(t, np.generic):
        return np.dtype(t)  # NumPy scalars keep their dtype (checked first: np.float64 is a float)
    if issubclass(t, bool):
        return bool_
    if issubclass(t, int):
        return int64
    if issubclass(t, float):
        return default_dtype
    if issubclass(t, complex):
        return complex64
    raise TypeError(f"tensor: cannot make a tensor from data of type {t.__name__}")


def _infer_dtype(data: Any) -> np.dtype | None:
    """PyTorch's dtype for ``tensor(data)``: arrays, tensors and NumPy scalars keep their dtype,
    Python floats take the default (float32), ints int64, bools bool; a sequence promotes over its
    items (None for an empty sequence)."""
    if isinstance(data, (Tensor, np.ndarray)):
        return data.dtype
    if not isinstance(data, (list, tuple)):
        return _scalar_type_dtype(type(data))
    out = None
    for t in set(map(type, data)):  # a few distinct types even for long lists
        if issubclass(t, (list, tuple, Tensor, np.ndarray)):
            for item in data:
                if type(item) is t:
                    d = _infer_dtype(item)
                    out = d if out is None else out if d is None else promote_types(out, d)
        else:
            d = _scalar_type_dtype(t)
            out = d if out is None else promote_types(out, d)
    return out


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """A new ndarray holding ``data``, with PyTorch's dtype inference (``_infer_dtype``)."""
    if isinstance(data, Tensor):
        data = data.array
    dt = as_dtype(dtype) if dtype is not None else (_infer_dtype(data) or default_dtype)
    if dt.kind in "OUSV" or (isinstance(data, np.ndarray) and data.dtype.kind in "OUSV" and dtype is None):
        raise TypeError(f"tensor: cannot make a tensor from data of dtype {dt}")
    try:
        return np.array(data, dtype=dt)
    except OverflowError:
        raise RuntimeError(f"tensor: a value in the data is out of range for {dt}") from None
    except ValueError as e:
        raise ValueError(f"tensor: the data is not a regular nested sequence of numbers ({e})") from None


class Tensor:
    """An n-dimensional array that can record the ops applied to it and differentiate through them.

    As ``torch.Tensor``: ``Tensor(data)`` copies nested lists, scalars or arrays into the default
    dtype (float32) whatever their type, and ``Tensor(2, 3)`` makes a zero-filled tensor of that
    shape. ``deepling.tensor(data)`` infers the dtype instead. ``requires_grad=True`` makes it a
    leaf whose ``.grad`` receives gradients.
    """

    # _vc: the version counter, a one-element list shared by a tensor and every view of its memory.
    # _base/_view_fn/_view_v: for a view, the tensor owning the memory, how to recompute the view
    # from it, and the version its graph node was made at (see ``deepling.autograd``).
    __slots__ = ("array", "grad", "requires_grad", "_ctx", "_retains_grad", "_vc", "_base", "_view_fn", "_view_v",
                 "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators: ndarray + Tensor -> Tensor

    def __init__(self, data: Any = None, *sizes: int, requires_grad: bool = False, dtype: Any = None) -> None:
        dt = default_dtype if dtype is None else as_dtype(dtype)
        is_int = isinstance(data, (int, np.integer)) and not isinstance(data, (bool, np.bool_))
        if sizes and not (is_int and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes)):
            raise TypeError(f"Tensor: expected Tensor(data) or Tensor(*sizes) with int sizes, got {(data,) + sizes!r}")
        if is_int:
            self.array = np.zeros(shape_args((data,) + sizes), dtype=dt)
        else:
            self.array = to_array([] if data is None else data, dt)
        self.grad: Tensor | None = None
        self.requires_grad = False
        self._ctx = None
        self._retains_grad = False
        self._vc = [0]
        self._base = None
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
        t._vc = [0]
        t._base = None
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
    def device(self) -> _device.device:
        return _device.cpu_device

    @property
    def is_cuda(self) -> bool:
        return False

    def get_device(self) -> int:
        """-1 for a CPU tensor, as in PyTorch."""
        return -1

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

    def is_complex(self) -> bool:
        return self.array.dtype.kind == "c"

    def is_signed(self) -> bool:
        return self.array.dtype.kind in "ifc"

    def is_contiguous(self, memory_format: Any = None) -> bool:
        return bool(self.array.flags.c_contiguous)

    def is_inference(self) -> bool:
        return False

    def is_same_size(self, other: Tensor) -> bool:
        return self.shape == other.shape

    @property
    def is_cpu(self) -> bool:
        return True

    @property
    def itemsize(self) -> int:
        return self.array.itemsize

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def stride(self, dim: int | None = None) -> Any:
        """Strides in elements (NumPy's are in bytes)."""
        st = tuple(b // self.array.itemsize for b in self.array.strides)
        return st if dim is None else st[dim]

    def data_ptr(self) -> int:
        return int(self.array.__array_interface__["data"][0])

    ndimension = dim
    nelement = numel

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

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has had (shared with its views), as PyTorch's."""
        return self._vc[0]

    def detach(self) -> Tensor:
        """A tensor sharing this data (and its version counter), cut from the graph."""
        t = Tensor._wrap(self.array)
        t._vc = self._vc
        return t

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
            self._ctx._retained = weakref.ref(self)

    def register_post_accumulate_grad_hook(self, hook: Any) -> Any:
        """Call ``hook(self)`` after each backward pass has accumulated into this leaf's ``.grad``;
        ``.remove()`` on the returned handle unregisters it (DDP starts its all-reduces from here)."""
        return _autograd.register_post_accumulate_grad_hook(self, hook)

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Compute gradients of this tensor with respect to the leaves of its graph."""
        _autograd.backward(self, gradient, retain_graph)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(device, dtype)``, ``to(dtype)`` or ``to(other)``: a differentiable cast.

        Returns ``self`` when nothing changes, unless ``copy=True``. ``non_blocking`` is accepted
        and means nothing on the CPU; a device deepling does not have raises ``DeviceError``.
        """
        _, dtype, copy = _device.to_args("to", args, kwargs)
        out = self if dtype is None else _E.cast(self, as_dtype(dtype))
        return _E.clone(out) if copy and out is self else out

    def type(self, dtype: Any = None) -> Any:
        """No argument: the legacy type name (``'deepling.FloatTensor'``); else ``to(dtype)``."""
        if dtype is None:
            from deepling.creation import TENSOR_TYPES

            names = {t.dtype: t.__name__ for t in TENSOR_TYPES}
            return f"deepling.{names.get(self.array.dtype, self.array.dtype.name)}"
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

    def short(self) -> Tensor:
        return self.to(int16)

    def char(self) -> Tensor:
        return self.to(int8)

    def byte(self) -> Tensor:
        return self.to(uint8)

    def cfloat(self) -> Tensor:
        return self.to(complex64)

    def cdouble(self) -> Tensor:
        return self.to(complex128)

    def bfloat16(self) -> Tensor:
        return self.to(bfloat16)  # raises: NumPy has no bfloat16

    def cpu(self) -> Tensor:
        return self

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """Always raises ``DeviceError``: deepling has no CUDA."""
        _device.resolve("cuda" if device is None else _device.device("cuda", device) if isinstance(device, int) else device, "cuda")
        return self

    def contiguous(self) -> Tensor:
        return self

    def clone(self) -> Tensor:
        return _E.clone(self)

    def new_tensor(self, data: Any) -> Tensor:
        return Tensor(data, dtype=self.dtype)

    def new_zeros(self, *size: Any) -> Tensor:
        return Tensor._wrap(np.zeros(shape_args(size), dtype=self.dtype))

    def new_ones(self, *size: Any) -> Tensor:
        return Tensor._wrap(np.ones(shape_args(size), dtype=self.dtype))

    def new_full(self, size: Any, fill_value: Any) -> Tensor:
        return Tensor._wrap(np.full(shape_args((size,)), fill_value, dtype=self.dtype))

    def new_empty(self, *size: Any) -> Tensor:
        return Tensor._wrap(np.empty(shape_args(size), dtype=self.dtype))

    # ----------------------------------------------------------------- repr
    def __repr__(self) -> str:
        body = np.array2string(self.array, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.array.dtype not in (float32, int64, bool_) or (self.array.size == 0 and self.array.dtype != float32):
            extras.append(f"dtype=deepling.{self.array.dtype.name}")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its Python number (``f"{loss:.4f}"``), as in PyTorch."""
        if self.array.ndim == 0:
            return format(self.array.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} passed to a Tensor of shape {self.shape} (only 0-d tensors take one)")
        return repr(self)

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
        """True when the in-place op must go through the graph (self, or the tensor it is a view of,
        needs grad); raises for a leaf that requires grad, or a view of one, as PyTorch does."""
        if not _autograd.is_grad_enabled():
            return False
        if self.requires_grad and self._ctx is None and self._base is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        base = self._base
        if base is not None and base.requires_grad:
            if base._ctx is None:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
            return True
        return self.requires_grad

    def _bump(self) -> Tensor:
        """Record an in-place write into this tensor's memory (every view shares the counter)."""
        self._vc[0] += 1
        return self

    def _snapshot(self) -> Tensor:
        """A copy of this tensor's current value, carrying its graph node.

        A differentiable in-place op computes its result from the snapshot and then ``_become``s it.
        The copy keeps the old values that the op may save for its backward (``x.mul_(y)`` needs
        the old ``x`` for ``y``'s gradient) when the result is written into this memory.
        """
        if self._base is not None:
            _autograd.refresh_view(self)
        old = Tensor._wrap(self.array.copy())
        old.requires_grad = self.requires_grad
        old._ctx = self._ctx
        return old

    def _overwrite(self, array: np.ndarray) -> Tensor:
        """Replace every element (fill_, uniform_, ...): in the graph, the old value gets no gradient."""
        if self._check_inplace():
            return self._become(_S.setitem_out_of_place(self._snapshot(), Ellipsis, Tensor._wrap(array)))
        self._write(array)
        return self._bump()

    def _check_writable(self) -> None:
        if not self.array.flags.writeable:
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers to a single "
                "memory location (an expanded or broadcast tensor, or a read-only array); clone() it before "
                "writing in place"
            )

    def _write(self, values: np.ndarray, where: Any = Ellipsis) -> None:
        """Write ``values`` into this tensor's memory (which its views share)."""
        self._check_writable()
        if where is Ellipsis:
            np.copyto(self.array, values, casting="unsafe")
        else:
            self.array[where] = values

    def _become(self, result: Tensor) -> Tensor:
        """The differentiable in-place path: write ``result``'s values into this memory and take over
        its graph node. A view's base gets a new node too (PyTorch's CopySlices), so gradients
        flow through the write whichever of the base and its views is used later."""
        base = self._base
        if base is not None:
            old_base = Tensor._wrap(base.array)
            old_base.requires_grad, old_base._ctx = base.requires_grad, base._ctx
            new_base = _S.CopySlices.apply(old_base, result, self._view_fn)
        self._write(result.array)
        self._bump()
        ctx = result._ctx
        if ctx is not None and hasattr(ctx, "_out"):
            ctx._out = (self._vc, self._vc[0], ctx._out[2])  # the node's output is now this tensor
        if base is None:
            self._ctx = ctx
            self.requires_grad = result.requires_grad
            if self._retains_grad and ctx is not None:
                ctx._retained = weakref.ref(self)
        else:
            base._ctx, base.requires_grad = new_base._ctx, new_base.requires_grad
            _autograd.refresh_view(self, force=True)
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
        self._write(result)
        return self._bump()

    def _replace(self, op: Any, *args: Any, **kwargs: Any) -> Tensor:
        """In place through the out-of-place ``op(self, *args)`` (same shape): in the graph when
        gradients flow, else written into this tensor's array."""
        flows = any(isinstance(a, Tensor) and a.requires_grad for a in args) and _autograd.is_grad_enabled()
        if self._check_inplace() or flows:
            return self._become(op(self._snapshot(), *args, **kwargs))
        result = op(Tensor._wrap(self.array), *args, **kwargs).array
        np.copyto(self.array, result, casting="unsafe")
        return self

    def _reshape_(self, result: Tensor) -> Tensor:
        """An in-place shape change (``unsqueeze_``): this tensor takes over ``result``, a view of it."""
        if self._check_inplace():
            return self._become(result)
        self.array = result.array
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
        self._write(np.clip(self.array, min, max))
        return self._bump()

    clip_ = clamp_

    def copy_(self, src: Any) -> Tensor:
        value = src.array if isinstance(src, Tensor) else np.asarray(src)
        if self._check_inplace() or (isinstance(src, Tensor) and src.requires_grad and _autograd.is_grad_enabled()):
            old = self._snapshot()
            return self._become(_S.setitem_out_of_place(old, Ellipsis, old if src is self else src))
        try:
            value = np.broadcast_to(value, self.array.shape)
        except ValueError:
            raise ValueError(f"copy_: cannot copy a tensor of shape {value.shape} into shape {self.array.shape}") from None
        self._write(value)
        return self._bump()

    def fill_(self, value: Any) -> Tensor:
        value = value.item() if isinstance(value, Tensor) else value
        if self._check_inplace():
            return self._overwrite(np.full(self.array.shape, value, dtype=self.array.dtype))
        self._write(np.asarray(value))
        return self._bump()

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
        return self._overwrite(_random.numpy_rng(generator).uniform(a, b, self.array.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
        return self._overwrite(_random.numpy_rng(generator).normal(mean, std, self.array.shape))

    def bernoulli_(self, p: float = 0.5, generator: Any = None) -> Tensor:
        return self._overwrite(_random.numpy_rng(generator).random(self.array.shape) < p)

    def exponential_(self, lambd: float = 1.0, generator: Any = None) -> Tensor:
        return self._overwrite(_random.numpy_rng(generator).exponential(1.0 / lambd, self.array.shape))

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
        self._write(value, np.broadcast_to(mask.array if isinstance(mask, Tensor) else mask, self.array.shape))
        return self._bump()

    def erf(self) -> Tensor:
        from deepling.ops.activation import erf

        return erf(self)

    def logical_and(self, other: Any) -> Tensor:
        return _E.logical_and(self, other)

    def logical_or(self, other: Any) -> Tensor:
        return _E.logical_or(self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return _E.logical_xor(self, other)

    def floor_divide(self, other: Any) -> Tensor:
        return _E.floor_divide(self, other)

    def remainder(self, other: Any) -> Tensor:
        return _E.remainder(self, other)

    def clamp_min(self, min: Any) -> Tensor:
        return _E.clamp(self, min, None)

    def clamp_max(self, max: Any) -> Tensor:
        return _E.clamp(self, None, max)

    def isinf(self) -> Tensor:
        return Tensor._wrap(np.isinf(self.array))

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
        o = other.array if isinstance(other, Tensor) else other
        return Tensor._wrap(np.isclose(self.array, o, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return bool(self.isclose(other, rtol, atol, equal_nan).array.all())

    def equal(self, other: Tensor) -> bool:
        return self.shape == other.shape and bool(np.array_equal(self.array, other.array))

    def count_nonzero(self, dim: Any = None) -> Tensor:
        return Tensor._wrap(np.asarray(np.count_nonzero(self.array, axis=dim), dtype=np.int64))

    def bernoulli(self, generator: Any = None) -> Tensor:
        from deepling.creation import bernoulli

        return bernoulli(self, generator=generator)

    def multinomial(self, num_samples: int, replacement: bool = False, generator: Any = None) -> Tensor:
        from deepling.creation import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)

    def random_(self, low: int = 0, high: Any = None, *, generator: Any = None) -> Tensor:
        """Integers uniform in [low, high) (``random_(high)`` means [0, high))."""
        if high is None:
            if low == 0:
                raise ValueError("random_: deepling needs an upper bound (random_(high) or random_(low, high))")
            low, high = 0, low
        return self._overwrite(_random.numpy_rng(generator).integers(low, high, self.array.shape))

    def new(self, *args: Any) -> Tensor:
        """Legacy: ``x.new(2, 3)`` (zeros) or ``x.new(data)``, in this tensor's dtype."""
        return Tensor(*args, dtype=self.dtype)

    def pin_memory(self, device: Any = None) -> Tensor:
        return self  # no device to transfer to: nothing to pin

    def share_memory_(self) -> Tensor:
        return self  # one process's NumPy memory; nothing to move

    def is_pinned(self, device: Any = None) -> bool:
        return False

    def is_shared(self) -> bool:
        return False

    def conj(self) -> Tensor:
        if self.array.dtype.kind == "c":
            raise TypeError("conj: deepling has no differentiable complex conjugate")
        return self

    def resolve_conj(self) -> Tensor:
        return self

    def resolve_neg(self) -> Tensor:
        return self

    def is_conj(self) -> bool:
        return False

    def is_neg(self) -> bool:
        return False

    def is_nonzero(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"is_nonzero: a Tensor with {self.array.size} elements cannot be converted to a bool")
        return bool(self.array.reshape(()))

    @property
    def is_meta(self) -> bool:
        return False

    @property
    def is_sparse(self) -> bool:
        return False

    @property
    def is_mps(self) -> bool:
        return False

    # PyTorch's aliases
    sgn = sign
    absolute = abs
    negative = neg
    multiply = mul
    divide = div
    true_divide = div
    subtract = sub
    greater = gt
    greater_equal = ge
    less = lt
    less_equal = le
    not_equal = ne

    def positive(self) -> Tensor:
        return self

    def softmax(self, dim: int, dtype: Any = None) -> Tensor:
        from deepling.ops.activation import softmax

        return softmax(self if dtype is None else self.to(dtype), dim)

    def prelu(self, weight: Tensor) -> Tensor:
        from deepling.ops.activation import prelu

        return prelu(self, weight)

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
        return _S.reshape(self, shape_args(shape))

    def view(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
            return self.to(shape[0])
        return _S.reshape(self, shape_args(shape))

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
        return _S.permute(self, shape_args(dims))

    def squeeze(self, dim: Any = None) -> Tensor:
        return _S.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _S.unsqueeze(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        return _S.expand(self, shape_args(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return _S.expand(self, other.shape)

    def broadcast_to(self, shape: Any) -> Tensor:
        return _S.expand(self, tuple(shape))

    def repeat(self, *sizes: Any) -> Tensor:
        return _S.repeat(self, shape_args(sizes))

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

    def narrow(self, dim: int, start: Any, length: int) -> Tensor:
        return _S.narrow(self, dim, start, length)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return _S.roll(self, shifts, dims)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        return _S.topk(self, k, dim, largest, sorted)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return _S.sort(self, dim, descending)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return _S.argsort(self, dim, descending)

    def scatter(self, dim: int, index: Tensor, src: Any = None, *, value: Any = None) -> Tensor:
        return _S.scatter(self, dim, index, src, value=value)

    def scatter_(self, dim: int, index: Tensor, src: Any = None, *, value: Any = None) -> Tensor:
        return self._replace(_S.scatter, dim, index, src, value=value)

    def scatter_add_(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return self._replace(_S.scatter_add, dim, index, src)

    def take_along_dim(self, indices: Tensor, dim: int | None = None) -> Tensor:
        return _S.take_along_dim(self, indices, dim)

    def select(self, dim: int, index: int) -> Tensor:
        return _S.getitem(self, (slice(None),) * (dim % max(self.ndim, 1)) + (index,))

    def masked_select(self, mask: Any) -> Tensor:
        return _S.getitem(self, _S.expand(mask, self.shape) if isinstance(mask, Tensor) else mask)

    def nonzero(self, as_tuple: bool = False) -> Any:
        nz = np.nonzero(self.array)
        if as_tuple:
            return tuple(Tensor._wrap(i) for i in nz)
        return Tensor._wrap(np.stack(nz, axis=1) if nz else np.zeros((0, 0), np.int64))

    argwhere = nonzero

    def movedim(self, source: Any, destination: Any) -> Tensor:
        src = [source] if isinstance(source, int) else list(source)
        dst = [destination] if isinstance(destination, int) else list(destination)
        src, dst = [d % self.ndim for d in src], [d % self.ndim for d in dst]
        order = [d for d in range(self.ndim) if d not in src]
        for d, s in sorted(zip(dst, src)):
            order.insert(d, s)
        return _S.permute(self, order)

    moveaxis = movedim

    def tile(self, *dims: Any) -> Tensor:
        reps = shape_args(dims)
        return _S.repeat(self, (1,) * (self.ndim - len(reps)) + reps)

    def ravel(self) -> Tensor:
        return _S.reshape(self, (-1,))

    def swapdims(self, dim0: int, dim1: int) -> Tensor:
        return _S.transpose(self, dim0, dim1)

    # in-place shape changes: the tensor takes over the reshaped result
    def squeeze_(self, dim: Any = None) -> Tensor:
        return self._reshape_(_S.squeeze(self._snapshot(), dim))

    def unsqueeze_(self, dim: int) -> Tensor:
        return self._reshape_(_S.unsqueeze(self._snapshot(), dim))

    def transpose_(self, dim0: int, dim1: int) -> Tensor:
        return self._reshape_(_S.transpose(self._snapshot(), dim0, dim1))

    def swapdims_(self, dim0: int, dim1: int) -> Tensor:
        return self.transpose_(dim0, dim1)

    swapaxes_ = swapdims_

    def t_(self) -> Tensor:
        return self._reshape_(self._snapshot().t())

    def tril_(self, diagonal: int = 0) -> Tensor:
        return self._replace(_S.tril, diagonal)

    def triu_(self, diagonal: int = 0) -> Tensor:
        return self._replace(_S.triu, diagonal)


def _inplace_method(name: str) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._replace(getattr(Tensor, name), *args, **kwargs)

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In-place ``{name}``: the result is written into this tensor (cast to its dtype)."
    return method


# ``x.exp_()`` and friends: the out-of-place method, written back into the tensor (PyTorch's set).
for _name in (
    "abs", "neg", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "sign",
    "floor", "ceil", "round", "square", "reciprocal", "erf", "pow", "eq", "ne", "lt", "le", "gt", "ge",
    "logical_and", "logical_or", "logical_xor", "logical_not", "floor_divide", "remainder", "clamp_min",
    "clamp_max", "absolute", "negative", "multiply", "divide", "true_divide", "subtract", "greater",
    "greater_equal", "less", "less_equal", "not_equal", "addcmul", "addcdiv", "lerp", "addmm", "trunc", "fix",
    "frac", "log2", "log10", "tan", "sgn",
):
    if not hasattr(Tensor, _name + "_"):
        setattr(Tensor, _name + "_", _inplace_method(_name))
del _name


def shape_args(args: tuple) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))`` as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


# Imported last: the op modules import ``Tensor`` from this module.
from deepling import autograd as _autograd  # noqa: E402
from deepling import devices as _device  # noqa: E402
from deepling import random as _random  # noqa: E402
from deepling.ops import composite as _C  # noqa: E402, I001  (binds methods onto Tensor)
from deepling.ops import elementwise as _E  # noqa: E402
from deepling.ops import matmul as _M  # noqa: E402
from deepling.ops import reduce as _R  # noqa: E402
from deepling.ops import shape as _S  # noqa: E402

for _name in _C.__all__:  # addcmul, lerp, outer, index_add_, ...: written once, as functions of the input
    setattr(Tensor, _name, getattr(_C, _name))
del _name
