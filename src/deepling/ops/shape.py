"""Shape and indexing ops: reshape, transpose/permute, squeeze, expand, repeat, cat/stack/split,
indexing (slices, None, ..., integer and boolean tensors), gather/scatter_add/index_select,
masked_fill, tril/triu, flip, one_hot.

Gradients of indexing scatter back with ``np.add.at`` so that repeated indices accumulate.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from deepling.autograd import Function, is_grad_enabled, link_view
from deepling.ops.elementwise import _promote, cast
from deepling.tensor import Tensor

__all__ = [
    "reshape", "flatten", "unflatten", "transpose", "permute", "squeeze", "unsqueeze", "expand",
    "repeat", "cat", "concat", "stack", "split", "chunk", "unbind", "getitem", "setitem",
    "gather", "scatter_add", "index_select", "masked_fill", "tril", "triu", "flip", "one_hot",
    "narrow",
]


def _axis(name: str, dim: int, ndim: int) -> int:
    if not -ndim <= dim < max(ndim, 1):
        raise IndexError(f"{name}: dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    return dim % ndim if ndim else 0


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
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _axis("flatten", start_dim, x.ndim), _axis("flatten", end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s : e + 1]),) + x.shape[e + 1 :])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    d = _axis("unflatten", dim, x.ndim)
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1 :])


class Permute(Function):
    def forward(self, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        self.inverse = tuple(np.argsort(dims))
        return np.transpose(x, dims)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.transpose(g, self.inverse)


def permute(x: Tensor, dims: Sequence[int]) -> Tensor:
    dims = tuple(_axis("permute", d, x.ndim) for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
    return Permute.apply(x, dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    if x.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    dims = list(range(x.ndim))
    a, b = _axis("transpose", dim0, x.ndim), _axis("transpose", dim1, x.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, tuple(dims))


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 dims (all of them, or those in ``dim`` that have size 1)."""
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = {_axis("squeeze", d, x.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    d = _axis("unsqueeze", dim, x.ndim + 1)
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
    return Flip.apply(x, tuple(_axis("flip", d, x.ndim) for d in dims))


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
            dt = _promote(Tensor._wrap(np.empty(1, dt)), t)
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
    axis = _axis("cat", dim, ref.ndim)
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
    return Stack.apply(*_same_dtype(tensors), axis=_axis("stack", dim, ref.ndim + 1))


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    axis = _axis("narrow", dim, x.ndim)
    return getitem(x, (slice(None),) * axis + (slice(start, start + length),))


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    axis = _axis("split", dim, x.ndim)
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
    n = x.shape[_axis("chunk", dim, x.ndim)]
    return split(x, max(1, -(-n // chunks)), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    axis = _axis("unbind", dim, x.ndim)
    return tuple(getitem(x, (slice(None),) * axis + (i,)) for i in range(x.shape[axis]))


# ---------------------------------------------------------------------------- indexing
def _convert_index(index: Any) -> tuple[Any, bool]:
    """Turn tensors/lists in an index into arrays; report whether it uses advanced indexing."""
    items = index if isinstance(index, tuple) else (index,)
    out, advanced = [], False
    for item in items:
        if isinstance(item, Tensor):
            item = item.array
        elif isinstance(item, list):
            item = np.asarray(item)
        if isinstance(item, np.ndarray):
            if item.dtype == np.bool_:
                out.extend(np.nonzero(item))  # a mask selects like its nonzero coordinates
                advanced = True
                continue
            if item.dtype.kind not in "iu":
                raise IndexError(f"index: tensors used as indices must be long, int or bool, got {item.dtype}")
            advanced = True
        out.append(item)
    return tuple(out), advanced


class GetItem(Function):
    def forward(self, x: np.ndarray, index: Any, advanced: bool) -> np.ndarray:
        self.shape, self.dtype, self.index, self.advanced = x.shape, x.dtype, index, advanced
        return x[index]

    def backward(self, g: np.ndarray) -> np.ndarray:
        gx = np.zeros(self.shape, dtype=g.dtype)
        if self.advanced:
            np.add.at(gx, self.index, g)
        else:
            gx[self.index] = g
        return gx


def getitem(x: Tensor, index: Any) -> Tensor:
    idx, advanced = _convert_index(index)
    if x.requires_grad and is_grad_enabled():
        return GetItem.apply(x, idx, advanced)
    out = x.array[idx]
    result = Tensor._wrap(out if isinstance(out, np.ndarray) else np.asarray(out))
    if not advanced and isinstance(out, np.ndarray):  # basic indexing: a view, as in PyTorch
        link_view(result, x, GetItem, (x, idx, advanced), {})
    return result


class SetItem(Function):
    """``x[index] = value`` out of place: the value's gradient is the slice of g, x's is g elsewhere."""

    def forward(self, x: np.ndarray, value: np.ndarray, index: Any) -> np.ndarray:
        self.index = index
        out = x.copy()
        out[index] = value
        return out

    def backward(self, g: np.ndarray) -> tuple:
        gx = None
        if self.needs_input_grad[0]:
            gx = g.copy()
            gx[self.index] = 0
        gv = g[self.index] if self.needs_input_grad[1] else None
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
    idx, _ = _convert_index(index)
    if not isinstance(value, Tensor):
        value = Tensor._wrap(np.asarray(value, dtype=x.dtype))
    elif value.dtype != x.dtype:
        value = cast(value, x.dtype)
    return SetItem.apply(x, value, idx)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value``: in place on the array, or through the graph when gradients flow."""
    if x._check_inplace() or (isinstance(value, Tensor) and value.requires_grad and is_grad_enabled()):
        old = x._snapshot()
        x._become(setitem_out_of_place(old, index, old if value is x else value))
        return
    idx, _ = _convert_index(index)
    x._write(value.array if isinstance(value, Tensor) else value, idx)
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


def _check_index(name: str, x: Tensor, dim: int, index: Any) -> tuple[int, np.ndarray]:
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got {idx.dtype}")
    axis = _axis(name, dim, x.ndim)
    return axis, idx


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[i][j] = x[index[i][j]][j] (for dim=0); the gradient scatter-adds back."""
    axis, idx = _check_index("gather", x, dim, index)
    if idx.ndim != x.ndim or any(s > t for d, (s, t) in enumerate(zip(idx.shape, x.shape)) if d != axis):
        raise ValueError(f"gather: index of shape {idx.shape} does not fit input of shape {x.shape} at dim {dim}")
    if idx.size and (idx.min() < -x.shape[axis] or idx.max() >= x.shape[axis]):
        raise IndexError(f"gather: index out of range for dim {dim} of size {x.shape[axis]}")
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
    if idx.ndim != x.ndim or idx.ndim != src.ndim:
        raise ValueError(f"scatter_add: index {idx.shape}, input {x.shape} and src {src.shape} need the same number of dims")
    if src.dtype != x.dtype:
        src = cast(src, x.dtype)
    return ScatterAdd.apply(x, src, idx, axis)


class IndexSelect(Function):
    def forward(self, x: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        self.shape, self.index, self.axis = x.shape, index, axis
        return np.take(x, index, axis=axis)

    def backward(self, g: np.ndarray) -> np.ndarray:
        gx = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(gx, (slice(None),) * self.axis + (self.index,), g)
        return gx


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
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
