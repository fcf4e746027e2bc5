"""Shape and indexing ops: reshape, transpose/permute, squeeze, expand, repeat, cat/stack/split,
indexing (slices, None, ..., integer and boolean tensors), gather/scatter_add/index_select,
masked_fill, tril/triu, flip, one_hot.

Gradients of indexing scatter back with ``np.add.at`` so that repeated indices accumulate.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np

from deepling.autograd import Function, is_grad_enabled, link_view
from deepling.ops.arguments import normalize_axis, tensor_input
from deepling.ops.promotion import cast, promote
from deepling.tensor import Tensor

__all__ = [
    "reshape", "flatten", "unflatten", "transpose", "permute", "squeeze", "unsqueeze", "expand",
    "repeat", "cat", "concat", "stack", "split", "chunk", "unbind", "getitem", "setitem",
    "gather", "scatter_add", "index_select", "masked_fill", "tril", "triu", "flip", "one_hot",
    "narrow", "scatter", "take_along_dim", "roll", "topk", "sort", "argsort", "TopKResult",
]


# ---------------------------------------------------------------------------- views
class Reshape(Function):
    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g.reshape(self.shape)


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    shape = tuple(int(s) for s in shape)
    if shape == x.shape:
        return x
    try:
        return Reshape.apply(x, shape)
    except ValueError:
        raise ValueError(f"reshape: shape {shape} is invalid for input of shape {x.shape} (size {x.numel()})") from None


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    tensor_input("flatten", x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = normalize_axis("flatten", start_dim, x.ndim), normalize_axis("flatten", end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s : e + 1]),) + x.shape[e + 1 :])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    d = normalize_axis("unflatten", dim, x.ndim)
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1 :])


class Permute(Function):
    def forward(self, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        self.inverse = tuple(np.argsort(dims))
        return np.transpose(x, dims)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.transpose(g, self.inverse)


def permute(x: Tensor, dims: Sequence[int]) -> Tensor:
    dims = tuple(normalize_axis("permute", d, x.ndim) for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
    return Permute.apply(x, dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    if x.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    dims = list(range(x.ndim))
    a, b = normalize_axis("transpose", dim0, x.ndim), normalize_axis("transpose", dim1, x.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, tuple(dims))


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 dims (all of them, or those in ``dim`` that have size 1)."""
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = {normalize_axis("squeeze", d, x.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    d = normalize_axis("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


class Expand(Function):
    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g  # the engine sums over the expanded dims


def expand(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """Broadcast to ``sizes`` without copying; -1 keeps a dim's size."""
    sizes = tuple(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes {sizes} is less than the number of dims of shape {x.shape}")
    shape = tuple(x.shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(sizes))
    try:
        return Expand.apply(x, shape)
    except ValueError:
        raise ValueError(f"expand: shape {x.shape} cannot be expanded to {sizes}") from None


class Repeat(Function):
    def forward(self, x: np.ndarray, reps: tuple[int, ...]) -> np.ndarray:
        self.shape = (1,) * (len(reps) - x.ndim) + x.shape
        self.reps = reps
        return np.tile(x.reshape(self.shape), reps)

    def backward(self, g: np.ndarray) -> np.ndarray:
        split = [n for pair in zip(self.reps, self.shape) for n in pair]
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))


def repeat(x: Tensor, sizes: Sequence[int]) -> Tensor:
    sizes = tuple(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: number of repeat dims {len(sizes)} can not be smaller than the number of dims of shape {x.shape}")
    return Repeat.apply(x, sizes)


class Flip(Function):
    def forward(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        self.axes = axes
        return np.flip(x, axes)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.flip(g, self.axes)


def flip(x: Tensor, dims: Any) -> Tensor:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip.apply(x, tuple(normalize_axis("flip", d, x.ndim) for d in dims))


# ---------------------------------------------------------------------------- join / split
class Cat(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g: np.ndarray) -> tuple:
        return tuple(np.split(g, self.bounds, axis=self.axis))


def _same_dtype(tensors: Sequence[Tensor]) -> list[Tensor]:
    dt = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype != dt:
            dt = promote(Tensor._wrap(np.empty(1, dt)), t)
    return [t if t.dtype == dt else cast(t, dt) for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; the others must match."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat: expected a sequence of Tensors, got a Tensor")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: expected a sequence of Tensors, got {type(t).__name__}")
    # PyTorch skips 1-D empty tensors (the usual accumulator ``torch.tensor([])``).
    tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or list(tensors[:1])
    if not tensors:
        raise ValueError("cat: expected a non-empty list of Tensors")
    ref = tensors[0]
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated")
    axis = normalize_axis("cat", dim, ref.ndim)
    for t in tensors[1:]:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != axis):
            raise ValueError(
                f"cat: shapes {ref.shape} and {t.shape} must match except in dimension {dim}"
            )
    return Cat.apply(*_same_dtype(tensors), axis=axis)


concat = cat


class Stack(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(self, g: np.ndarray) -> tuple:
        return tuple(np.moveaxis(g, self.axis, 0))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equally shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of Tensors")
    ref = tensors[0]
    for t in tensors[1:]:
        if t.shape != ref.shape:
            raise ValueError(f"stack: expects each tensor to be equal size, but got {ref.shape} and {t.shape}")
    return Stack.apply(*_same_dtype(tensors), axis=normalize_axis("stack", dim, ref.ndim + 1))


def narrow(x: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """``length`` elements of ``dim`` from ``start``; a negative start counts from the end."""
    axis = normalize_axis("narrow", dim, x.ndim)
    n, start, length = x.shape[axis], int(start), int(length)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if length < 0:
        raise ValueError(f"narrow: length must be non-negative, got {length}")
    if start < 0:
        start += n
    if start + length > n:
        raise ValueError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of shape {x.shape}")
    return getitem(x, (slice(None),) * axis + (slice(start, start + length),))


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    axis = normalize_axis("split", dim, x.ndim)
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not sum to {n}, the size of dim {dim} of shape {x.shape}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(x, axis, start, s))
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    n = x.shape[normalize_axis("chunk", dim, x.ndim)]
    return split(x, max(1, -(-n // chunks)), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    axis = normalize_axis("unbind", dim, x.ndim)
    return tuple(getitem(x, (slice(None),) * axis + (i,)) for i in range(x.shape[axis]))


# ---------------------------------------------------------------------------- indexing
# PyTorch's rule, which differs from NumPy's: ints (and 0-d integer tensors) are basic indices,
# applied first like slices (select = slice and squeeze); only index tensors/lists and masks are
# advanced, applied afterwards to the sliced view. NumPy instead treats an int next to an index
# array as advanced too, so ``x[0, :, [1, 0]]`` would move the indexed dim first. An index is
# therefore split into a ``basic`` tuple (a NumPy view) and an ``advanced`` tuple applied to that
# view, where NumPy's and PyTorch's rules agree (None is the only sign of "no advanced index").

def _index_array(item: Any) -> np.ndarray | None:
    """The ndarray behind a tensor/list/ndarray index item, or None for a basic item."""
    if isinstance(item, Tensor):
        return item.array
    if isinstance(item, (str, bytes)):
        raise TypeError(f"index: a {type(item).__name__} is not a valid index")
    if isinstance(item, (list, tuple, range, np.ndarray)):  # a sequence inside an index is an index tensor
        arr = np.asarray(item)
        if arr.dtype == object:
            raise IndexError(f"index: a list index must hold only ints or bools, got {item!r}")
        return arr
    return None


_BASIC_TYPES = frozenset((int, slice, type(None), type(Ellipsis)))  # exact types: bool is not basic


def _split_index(index: Any, shape: tuple[int, ...]) -> tuple[tuple, tuple | None]:
    """PyTorch's index -> (basic index for NumPy, advanced index on its result or None)."""
    ndim = len(shape)
    items = index if isinstance(index, tuple) else (index,)
    if isinstance(index, range):
        items = (index,)
    if all(type(it) in _BASIC_TYPES for it in items) and not any(
        type(it) is slice and it.step is not None and it.step <= 0 for it in items
    ):
        return items, None  # the common case: NumPy's and PyTorch's rules agree on basic indices
    arrays = [_index_array(it) for it in items]
    consumed = 0  # input dims each item uses up, to size the Ellipsis
    for it, arr in zip(items, arrays):
        if arr is not None:
            consumed += arr.ndim if arr.dtype == np.bool_ else 1
        elif it is not None and it is not Ellipsis and not isinstance(it, (bool, np.bool_)):
            consumed += 1
    if consumed > ndim:
        raise IndexError(f"index: too many indices for tensor of dimension {ndim}")
    basic: list[Any] = []
    advanced: list[Any] = []  # one entry per dim of the basic result: slice(None) or index arrays
    seen_ellipsis = False
    dim = 0  # the input dim the next item indexes
    for it, arr in zip(items, arrays):
        if arr is not None and arr.ndim == 0 and arr.dtype.kind in "iu":
            basic.append(int(arr))  # a 0-d integer tensor indexes like an int
            dim += 1
        elif (arr is not None and arr.ndim == 0 and arr.dtype == np.bool_) or isinstance(it, (bool, np.bool_)):
            basic.append(None)  # a new dim of size 1, kept (True) or emptied (False)
            advanced.append(np.zeros(1 if bool(it) else 0, dtype=np.int64))
        elif arr is not None:
            if arr.dtype == np.bool_:
                if arr.shape != shape[dim : dim + arr.ndim]:
                    raise IndexError(
                        f"index: the shape of the mask {list(arr.shape)} does not match the shape "
                        f"{list(shape[dim : dim + arr.ndim])} of the indexed dims {dim}.. of a tensor of shape {shape}"
                    )
                dim += arr.ndim
                basic.extend([slice(None)] * arr.ndim)
                advanced.extend(np.nonzero(arr))  # a mask selects like its nonzero coordinates
            elif arr.dtype.kind in "iu" or arr.size == 0:
                basic.append(slice(None))
                advanced.append(arr.astype(np.int64, copy=False))
                dim += 1
            else:
                raise IndexError(f"index: tensors used as indices must be long, int, byte or bool tensors, got {arr.dtype}")
        elif it is Ellipsis:
            if seen_ellipsis:
                raise IndexError("index: an index can only have a single ellipsis ('...')")
            seen_ellipsis = True
            basic.append(Ellipsis)
            advanced.extend([slice(None)] * (ndim - consumed))
            dim += ndim - consumed
        elif it is None:
            basic.append(None)
            advanced.append(slice(None))
        elif isinstance(it, slice):
            if it.step is not None and int(it.step) <= 0:
                raise ValueError(f"index: slice step must be greater than zero, got {it.step}")
            basic.append(it)
            advanced.append(slice(None))
            dim += 1
        elif isinstance(it, (int, np.integer)):
            basic.append(int(it))
            dim += 1
        else:
            raise IndexError(
                f"index: only integers, slices, None, ..., and long or bool tensors are valid indices (got {type(it).__name__})"
            )
    if all(isinstance(a, slice) for a in advanced):
        return tuple(basic), None
    return tuple(basic), tuple(advanced)


def _apply_index(x: np.ndarray, basic: tuple, advanced: tuple | None, shape: tuple[int, ...]) -> np.ndarray:
    try:
        view = x[basic]
        return view if advanced is None else view[advanced]
    except IndexError as e:
        raise IndexError(f"index: {e} (indexing a tensor of shape {shape})") from None


class GetItem(Function):
    def forward(self, x: np.ndarray, basic: tuple, advanced: tuple | None) -> np.ndarray:
        self.shape, self.basic, self.advanced = x.shape, basic, advanced
        return _apply_index(x, basic, advanced, x.shape)

    def backward(self, g: np.ndarray) -> np.ndarray:
        gx = np.zeros(self.shape, dtype=g.dtype)
        if self.advanced is None:
            gx[self.basic] = g
        else:
            np.add.at(gx[self.basic], self.advanced, g)  # repeated indices accumulate
        return gx


def getitem(x: Tensor, index: Any) -> Tensor:
    basic, advanced = _split_index(index, x.shape)
    if x.requires_grad and is_grad_enabled():
        return GetItem.apply(x, basic, advanced)
    out = _apply_index(x.array, basic, advanced, x.shape)
    result = Tensor._wrap(out if isinstance(out, np.ndarray) else np.asarray(out))
    if advanced is None and isinstance(out, np.ndarray):  # basic indexing: a view, as in PyTorch
        link_view(result, x, GetItem, (x, basic, advanced), {})
    return result


def _assign(out: np.ndarray, basic: tuple, advanced: tuple | None, value: Any) -> None:
    try:
        if advanced is None:
            out[basic] = value
        else:
            out[basic][advanced] = value  # basic indexing gives a view: this writes into ``out``
    except IndexError as e:
        raise IndexError(f"index: {e} (indexing a tensor of shape {out.shape})") from None
    except ValueError:
        target = _apply_index(out, basic, advanced, out.shape).shape
        raise ValueError(f"setitem: a value of shape {np.shape(value)} cannot be assigned to an indexed shape {target}") from None


class SetItem(Function):
    """``x[index] = value`` out of place: the value's gradient is the slice of g, x's is g elsewhere."""

    def forward(self, x: np.ndarray, value: np.ndarray, basic: tuple, advanced: tuple | None) -> np.ndarray:
        self.basic, self.advanced, self.vshape = basic, advanced, value.shape
        out = x.copy()
        _assign(out, basic, advanced, value)
        return out

    def backward(self, g: np.ndarray) -> tuple:
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = g.copy()
            _assign(gx, self.basic, self.advanced, 0)
        if self.needs_input_grad[1]:
            gv = _apply_index(g, self.basic, self.advanced, g.shape)
            if gv.ndim < len(self.vshape):  # a value with extra leading 1-dims was squeezed to fit
                gv = gv.reshape((1,) * (len(self.vshape) - gv.ndim) + gv.shape)
        return gx, gv


class CopySlices(Function):
    """An in-place write into a view of ``base``, as a new graph node of the base (PyTorch's name).

    ``view_fn`` maps the base to the view. The base's memory already holds the written values (the
    caller wrote them through the view), so forward copies nothing. Backward: the base gets ``g``
    outside the view's region and 0 inside; the written values get ``g`` inside the region.
    """

    def forward(self, base: np.ndarray, values: np.ndarray, view_fn: Any) -> np.ndarray:
        self.view_fn = view_fn
        return base

    def _region(self, a: np.ndarray) -> np.ndarray:
        return self.view_fn(Tensor._wrap(a)).array  # the same view ops, on a NumPy array

    def backward(self, g: np.ndarray) -> tuple:
        gb = gv = None
        if self.needs_input_grad[0]:
            gb = g.copy()
            self._region(gb)[...] = 0
        if self.needs_input_grad[1]:
            gv = self._region(g).copy()
        return gb, gv


def setitem_out_of_place(x: Tensor, index: Any, value: Any) -> Tensor:
    basic, advanced = _split_index(index, x.shape)
    if not isinstance(value, Tensor):
        value = Tensor._wrap(np.asarray(value, dtype=x.dtype))
    elif value.dtype != x.dtype:
        value = cast(value, x.dtype)
    return SetItem.apply(x, value, basic, advanced)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value``: in place on the array, or through the graph when gradients flow."""
    if x._check_inplace() or (isinstance(value, Tensor) and value.requires_grad and is_grad_enabled()):
        old = x._snapshot()
        x._become(setitem_out_of_place(old, index, old if value is x else value))
        return
    basic, advanced = _split_index(index, x.shape)
    x._check_writable()
    _assign(x.array, basic, advanced, value.array if isinstance(value, Tensor) else value)
    x._bump()


class Gather(Function):
    def forward(self, x: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        self.shape, self.axis = x.shape, axis
        # PyTorch lets the index be smaller than the input in the other dims.
        x = x[tuple(slice(0, s) if d != axis else slice(None) for d, s in enumerate(index.shape))]
        self.full = _full_index(index, axis)
        return x[self.full]

    def backward(self, g: np.ndarray) -> np.ndarray:
        gx = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(gx, self.full, g)
        return gx


def _full_index(index: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    grid = list(np.ogrid[tuple(slice(0, s) for s in index.shape)])
    grid[axis] = index
    return tuple(grid)


def _check_index(name: str, x: Tensor, dim: int, index: Any, negative: bool = False) -> tuple[int, np.ndarray]:
    """The axis and the index array; every index must be in [0, size) (or [-size, size) if ``negative``)."""
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor (int64 or int32), got {idx.dtype}")
    axis = normalize_axis(name, dim, x.ndim)
    n = x.shape[axis] if x.ndim else 1
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < (-n if negative else 0) or hi >= n:
            bad = lo if lo < (-n if negative else 0) else hi
            raise IndexError(f"{name}: index {bad} is out of bounds for dimension {dim} with size {n}")
        if lo < 0:
            idx = np.where(idx < 0, idx + n, idx)
    return axis, idx


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[i][j] = x[index[i][j]][j] (for dim=0); the gradient scatter-adds back."""
    axis, idx = _check_index("gather", x, dim, index)
    if idx.ndim != x.ndim or any(s > t for d, (s, t) in enumerate(zip(idx.shape, x.shape)) if d != axis):
        raise ValueError(f"gather: index of shape {idx.shape} does not fit input of shape {x.shape} at dim {dim}")
    return Gather.apply(x, idx, axis)


class ScatterAdd(Function):
    def forward(self, x: np.ndarray, src: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        self.full = _full_index(index, axis)
        self.src_shape, self.index_shape = src.shape, index.shape
        out = x.copy()
        np.add.at(out, self.full, src[tuple(slice(0, s) for s in index.shape)])
        return out

    def backward(self, g: np.ndarray) -> tuple:
        gs = None
        if self.needs_input_grad[1]:
            gs = np.zeros(self.src_shape, dtype=g.dtype)
            gs[tuple(slice(0, s) for s in self.index_shape)] = g[self.full]
        return g, gs


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """out = x, then out[index[i][j]][j] += src[i][j] (for dim=0)."""
    axis, idx = _check_index("scatter_add", x, dim, index)
    _check_scatter_shapes("scatter_add", x, axis, idx, src)
    if src.dtype != x.dtype:
        src = cast(src, x.dtype)
    return ScatterAdd.apply(x, src, idx, axis)


def _check_scatter_shapes(name: str, x: Tensor, axis: int, idx: np.ndarray, src: Tensor | None) -> None:
    if idx.ndim != x.ndim or (src is not None and idx.ndim != src.ndim):
        got = f"input {x.shape}" + ("" if src is None else f" and src {src.shape}")
        raise ValueError(f"{name}: index {idx.shape}, {got} need the same number of dims")
    if any(i > s for d, (i, s) in enumerate(zip(idx.shape, x.shape)) if d != axis) or (
        src is not None and any(i > s for i, s in zip(idx.shape, src.shape))
    ):
        got = f"input {x.shape}" + ("" if src is None else f" / src {src.shape}")
        raise ValueError(f"{name}: index of shape {idx.shape} is larger than {got} outside dimension {axis}")


class Scatter(Function):
    """out = x, then out[index[i][j]][j] = src[i][j] (dim=0): x's gradient is g where nothing was
    written, src's is g at the written positions."""

    def forward(self, x: np.ndarray, src: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        self.full = _full_index(index, axis)
        self.src_shape, self.index_shape = src.shape, index.shape
        out = x.copy()
        out[self.full] = src[tuple(slice(0, s) for s in index.shape)]
        return out

    def backward(self, g: np.ndarray) -> tuple:
        gx = gs = None
        if self.needs_input_grad[0]:
            gx = g.copy()
            gx[self.full] = 0
        if self.needs_input_grad[1]:
            gs = np.zeros(self.src_shape, dtype=g.dtype)
            gs[tuple(slice(0, s) for s in self.index_shape)] = g[self.full]
        return gx, gs


def scatter(x: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None) -> Tensor:
    """out = x, then out[index[i][j]][j] = src[i][j] (for dim=0); ``src`` may be a scalar ``value``."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: expected src (a tensor) or value (a scalar)")
    axis, idx = _check_index("scatter", x, dim, index)
    if not isinstance(src, Tensor):
        src = Tensor._wrap(np.full(idx.shape, src, dtype=x.dtype))
    _check_scatter_shapes("scatter", x, axis, idx, src)
    if src.dtype != x.dtype:
        src = cast(src, x.dtype)
    return Scatter.apply(x, src, idx, axis)


def take_along_dim(x: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``x`` and ``indices`` broadcast except along ``dim``; picks ``x`` at ``indices`` along ``dim``,
    indices in [-size, size). With ``dim=None``: from the flattened ``x``, indices in [0, numel)."""
    if dim is None:  # PyTorch gathers from the flattened input: no negative indices here
        flat = reshape(x, (-1,))
        _, idx = _check_index("take_along_dim", flat, 0, reshape(indices, (-1,)))
        return Gather.apply(flat, idx, 0)
    axis, idx = _check_index("take_along_dim", x, dim, indices, negative=True)
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_dim: input {x.shape} and indices {idx.shape} should have the same number of dims")
    try:
        base = np.broadcast_shapes(x.shape[:axis] + (1,) + x.shape[axis + 1 :], idx.shape[:axis] + (1,) + idx.shape[axis + 1 :])
    except ValueError:
        raise ValueError(f"take_along_dim: input {x.shape} and indices {idx.shape} cannot be broadcast outside dim {dim}") from None
    x_shape = base[:axis] + (x.shape[axis],) + base[axis + 1 :]
    if x_shape != x.shape:
        x = expand(x, x_shape)
    return Gather.apply(x, np.broadcast_to(idx, base[:axis] + (idx.shape[axis],) + base[axis + 1 :]), axis)


class Roll(Function):
    def forward(self, x: np.ndarray, shifts: tuple[int, ...], axes: Any) -> np.ndarray:
        self.shifts, self.axes = shifts, axes
        return np.roll(x, shifts, axes)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.roll(g, tuple(-s for s in self.shifts), self.axes)


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements along ``dims`` cyclically (over the flattened tensor when ``dims`` is None)."""
    shifts = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: without dims, expected one shift, got {len(shifts)}")
        return reshape(Roll.apply(reshape(x, (-1,)), shifts, None), x.shape)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(dims) != len(shifts):
        raise ValueError(f"roll: shifts and dimensions must align (shifts: {len(shifts)}, dims: {len(dims)})")
    return Roll.apply(x, shifts, tuple(normalize_axis("roll", d, x.ndim) for d in dims))


class MinMaxResult(NamedTuple):
    """``(min, max)`` as returned by ``aminmax``."""

    min: Tensor
    max: Tensor


class TopKResult(NamedTuple):
    """``(values, indices)`` as returned by ``topk`` and ``sort``."""

    values: Tensor
    indices: Tensor


def _sorted_order(name: str, x: Tensor, dim: int, descending: bool) -> tuple[int, np.ndarray]:
    axis = normalize_axis(name, dim, x.ndim) if x.ndim else 0
    a = x.array if x.ndim else x.array.reshape(1)
    if a.dtype == np.bool_:
        a = a.astype(np.int8)
    # a stable sort of the negated keys keeps ties in index order for descending sorts too
    order = np.argsort(-a if descending and a.dtype.kind != "u" else a, axis=axis, kind="stable")
    if descending and a.dtype.kind == "u":
        order = np.flip(np.argsort(a, axis=axis, kind="stable"), axis)
    return axis, order


def _select(x: Tensor, axis: int, order: np.ndarray) -> TopKResult:
    if x.ndim == 0:
        return TopKResult(x, Tensor._wrap(np.zeros((), np.int64)))
    return TopKResult(Gather.apply(x, order, axis), Tensor._wrap(order.astype(np.int64, copy=False)))


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopKResult:
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices; the gradient goes
    to the selected entries. Among equal values, the lower index comes first."""
    n = x.shape[normalize_axis("topk", dim, x.ndim)] if x.ndim else 1
    if not 0 <= int(k) <= n:
        raise ValueError(f"topk: k ({k}) out of range for dimension {dim} of size {n}")
    axis, order = _sorted_order("topk", x, dim, largest)
    order = np.take(order, np.arange(int(k)), axis=axis)
    return _select(x, axis, order)


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> TopKResult:
    """Values sorted along ``dim`` and the indices they came from (a stable sort)."""
    axis, order = _sorted_order("sort", x, dim, descending)
    return _select(x, axis, order)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(x, dim, descending).indices


class IndexSelect(Function):
    def forward(self, x: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        self.shape, self.index, self.axis = x.shape, index, axis
        return np.take(x, index, axis=axis)

    def backward(self, g: np.ndarray) -> np.ndarray:
        gx = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(gx, (slice(None),) * self.axis + (self.index,), g)
        return gx


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries at ``index`` (1-D, in [0, size)) along ``dim``."""
    axis, idx = _check_index("index_select", x, dim, index)
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
    return IndexSelect.apply(x, idx.reshape(-1), axis)


class MaskedFill(Function):
    def forward(self, x: np.ndarray, mask: np.ndarray, value: Any) -> np.ndarray:
        self.mask = mask
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.where(self.mask, 0, g)


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """Fill the positions where ``mask`` (broadcastable bool) is true with ``value``."""
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, x.shape)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {m.shape} cannot be broadcast to shape {x.shape}") from None
    if np.broadcast_shapes(m.shape, x.shape) != x.shape:
        raise ValueError(f"masked_fill: mask of shape {m.shape} cannot be broadcast to shape {x.shape}")
    value = value.item() if isinstance(value, Tensor) else value
    return MaskedFill.apply(x, m, value)


class _TriMask(Function):
    def forward(self, x: np.ndarray, k: int, lower: bool) -> np.ndarray:
        self.k, self.lower = k, lower
        return np.tril(x, k) if lower else np.triu(x, k)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.tril(g, self.k) if self.lower else np.triu(g, self.k)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"tril: input must have at least 2 dimensions, got shape {x.shape}")
    return _TriMask.apply(x, diagonal, True)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"triu: input must have at least 2 dimensions, got shape {x.shape}")
    return _TriMask.apply(x, diagonal, False)


def one_hot(x: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices of any shape -> int64 one-hot vectors in a new last dim (no gradient)."""
    idx = x.array if isinstance(x, Tensor) else np.asarray(x)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got [{idx.min()}, {idx.max()}]")
    out = np.zeros(idx.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out)
