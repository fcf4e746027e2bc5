"""Transforms: plain callables applied to one sample (an image array or Tensor), composable.

Two kinds of image, as torchvision has a PIL image and a tensor: a NumPy ``uint8`` array in
PIL's layout ``(H, W)`` or ``(H, W, C)`` (what the ``deepling.vision`` data sets return), and a
Tensor ``(..., C, H, W)`` (what ``ToTensor`` makes, float32 in [0, 1]). The geometric transforms
(``RandomCrop``, ``CenterCrop``, ``RandomHorizontalFlip``, ``Resize``) accept either and return the
same kind. Random transforms draw from the global RNG (``deepling.manual_seed``) unless given a
``generator``.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Sequence

import numpy as np

from deepling.random import Generator, numpy_rng
from deepling.tensor import Tensor, default_dtype

__all__ = ["Compose", "ToTensor", "Normalize", "Flatten", "Lambda", "RandomCrop", "CenterCrop", "RandomHorizontalFlip",
           "Resize", "InterpolationMode"]


def _array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _planes(x: Any, op: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """The image as an array ``(..., H, W)`` and the function turning a result back into the input's kind.

    A Tensor is ``(..., C, H, W)`` already; an ndarray is in PIL's layout ``(H, W)`` or ``(H, W, C)``.
    """
    if isinstance(x, Tensor):
        if x.ndim < 2:
            raise ValueError(f"{op}: expected an image tensor (..., H, W) (got shape {x.shape})")
        return x.array, lambda a: Tensor._wrap(np.ascontiguousarray(a))
    a = np.asarray(x)
    if a.ndim == 2:
        return a, np.ascontiguousarray
    if a.ndim == 3:
        return a.transpose(2, 0, 1), lambda r: np.ascontiguousarray(r.transpose(1, 2, 0))
    raise ValueError(f"{op}: expected an image array (H, W) or (H, W, C) (got shape {a.shape})")


class Compose:
    """Apply ``transforms`` in order: ``Compose([f, g])(x) == g(f(x))``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """Image array ``(H, W)`` or ``(H, W, C)`` -> float32 Tensor ``(C, H, W)``; uint8 is scaled to [0, 1]."""

    def __call__(self, pic: Any) -> Tensor:
        a = _array(pic)
        if a.ndim == 2:
            a = a[None]
        elif a.ndim == 3:
            a = a.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: expected an image of shape (H, W) or (H, W, C) (got {a.shape})")
        out = a.astype(default_dtype)
        if a.dtype == np.uint8:
            out /= 255.0
        return Tensor._wrap(np.ascontiguousarray(out))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """Per channel ``(x - mean[c]) / std[c]`` on a ``(C, H, W)`` (or ``(..., C, H, W)``) Tensor."""

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=default_dtype))
        self.std = np.atleast_1d(np.asarray(std, dtype=default_dtype))
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std evaluated to zero ({self.std.tolist()}), leading to division by zero")

    def __call__(self, x: Any) -> Tensor:
        a = _array(x)
        if a.ndim < 3:
            raise ValueError(f"Normalize: expected a (C, H, W) tensor (got shape {a.shape})")
        shape = (-1, 1, 1)
        out = (a - self.mean.reshape(shape)) / self.std.reshape(shape)
        return Tensor._wrap(out.astype(a.dtype if a.dtype.kind == "f" else default_dtype, copy=False))

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """Any shape -> 1-D (e.g. a ``(1, 28, 28)`` image -> ``(784,)`` for an MLP)."""

    def __call__(self, x: Any) -> Tensor:
        return Tensor._wrap(_array(x).reshape(-1))

    def __repr__(self) -> str:
        return "Flatten()"


class Lambda:
    """Wrap any function as a transform."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


class RandomCrop:
    """Pad by ``padding``, then cut a random ``size`` window (the CIFAR augmentation), as torchvision's.

    ``padding``: int, (left/right, top/bottom) or (left, top, right, bottom); ``pad_if_needed`` pads
    an image smaller than ``size`` up to it; ``padding_mode``: ``constant`` (with ``fill``), ``edge``,
    ``reflect`` or ``symmetric``.
    """

    _MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill: float = 0, padding_mode: str = "constant",
                 generator: Generator | None = None) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size) if len(size) == 2 else (size[0], size[0])
        p = padding or 0
        if isinstance(p, int):
            p = (p, p, p, p)
        elif len(p) == 2:
            p = (p[0], p[1], p[0], p[1])
        elif len(p) != 4:
            raise ValueError(f"RandomCrop: padding must be an int or a sequence of 2 or 4 ints (got {padding!r})")
        if padding_mode not in self._MODES:
            raise ValueError(f"RandomCrop: padding_mode should be constant, edge, reflect or symmetric (got {padding_mode!r})")
        self.padding = tuple(int(v) for v in p)
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        self.generator = generator

    def _pad(self, a: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
        pad = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
        if self.padding_mode == "constant":
            return np.pad(a, pad, constant_values=self.fill)
        return np.pad(a, pad, mode=self._MODES[self.padding_mode])

    def __call__(self, x: Any) -> Any:
        a, back = _planes(x, "RandomCrop")
        left, top, right, bottom = self.padding
        th, tw = self.size
        h, w = a.shape[-2] + top + bottom, a.shape[-1] + left + right
        if self.pad_if_needed and (h < th or w < tw) or (any(self.padding) and self.padding_mode != "constant"):
            if any(self.padding):
                a = self._pad(a, *self.padding)
            if self.pad_if_needed and (a.shape[-2] < th or a.shape[-1] < tw):
                dh, dw = max(th - a.shape[-2], 0), max(tw - a.shape[-1], 0)
                a = self._pad(a, dw, dh, dw, dh)
            left = top = 0
            h, w = a.shape[-2:]
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image {(h, w)}")
        rng = numpy_rng(self.generator)
        i, j = int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1))
        if not (top or left or bottom or right) or (i >= top and j >= left and i + th <= top + a.shape[-2]
                                                     and j + tw <= left + a.shape[-1]):
            return back(a[..., i - top : i - top + th, j - left : j - left + tw])
        # constant padding: copy the part of the window inside the image onto a filled canvas (no full pad)
        out = np.full(a.shape[:-2] + (th, tw), self.fill, dtype=a.dtype)
        r0, r1 = max(i - top, 0), min(i - top + th, a.shape[-2])
        c0, c1 = max(j - left, 0), min(j - left + tw, a.shape[-1])
        if r1 > r0 and c1 > c0:
            out[..., r0 - (i - top) : r1 - (i - top), c0 - (j - left) : c1 - (j - left)] = a[..., r0:r1, c0:c1]
        return back(out)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class CenterCrop:
    """Cut the central ``size`` window (zero-padding first when the image is smaller), as torchvision's."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size) if len(size) == 2 else (size[0], size[0])

    def __call__(self, x: Any) -> Any:
        a, back = _planes(x, "CenterCrop")
        th, tw = self.size
        h, w = a.shape[-2:]
        if th > h or tw > w:
            dh, dw = max(th - h, 0), max(tw - w, 0)
            a = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(dh // 2, (dh + 1) // 2), (dw // 2, (dw + 1) // 2)])
            h, w = a.shape[-2:]
        i, j = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return back(a[..., i : i + th, j : j + tw])

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class RandomHorizontalFlip:
    """Mirror the image left to right (its width axis) with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: Generator | None = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, x: Any) -> Any:
        a, back = _planes(x, "RandomHorizontalFlip")
        if numpy_rng(self.generator).random() < self.p:
            a = a[..., ::-1]
        return back(a)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class InterpolationMode(enum.Enum):
    """Resampling filters, by torchvision's names (deepling computes ``NEAREST`` and ``BILINEAR``)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _resize_matrix(n_in: int, n_out: int, mode: InterpolationMode, antialias: bool) -> np.ndarray:
    """The (n_out, n_in) matrix of one axis' resampling weights: ``out = W @ in`` along that axis.

    Bilinear follows ``torch.nn.functional.interpolate(mode='bilinear', align_corners=False)``: with
    ``antialias`` (and when shrinking) a triangle filter widened by the scale (PIL's and torch's
    antialiased resize), else two-tap linear interpolation at ``(i + 0.5) * scale - 0.5``.
    """
    scale = n_in / n_out
    i = np.arange(n_out)
    w = np.zeros((n_out, n_in))
    if mode is InterpolationMode.NEAREST:
        w[i, np.minimum(np.floor(i * scale).astype(np.int64), n_in - 1)] = 1.0
        return w
    if mode is InterpolationMode.NEAREST_EXACT:
        w[i, np.minimum(np.floor((i + 0.5) * scale).astype(np.int64), n_in - 1)] = 1.0
        return w
    if antialias and scale > 1.0:
        support, inv = scale, 1.0 / scale
        center = scale * (i + 0.5)
        lo = np.maximum((center - support + 0.5).astype(np.int64), 0)  # truncation toward zero, as torch's int64 cast
        hi = np.minimum((center + support + 0.5).astype(np.int64), n_in)
        j = np.arange(n_in)
        tap = np.clip(1.0 - np.abs((j[None, :] - center[:, None] + 0.5) * inv), 0.0, None)
        tap[(j[None, :] < lo[:, None]) | (j[None, :] >= hi[:, None])] = 0.0
        return tap / tap.sum(axis=1, keepdims=True)
    src = np.maximum((i + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = src - i0
    np.add.at(w, (i, i0), 1.0 - frac)
    np.add.at(w, (i, i1), frac)
    return w


class Resize:
    """Resize the image to ``size`` as torchvision does.

    ``size`` (h, w) is the output size; an int ``s`` matches the smaller edge to ``s`` keeping the
    aspect ratio (the longer edge ``int(s * long / short)``, capped by ``max_size``).
    ``interpolation``: ``BILINEAR`` (default; with ``antialias=True`` shrinking averages, as
    torchvision's default) or ``NEAREST``. uint8 images are rounded back to uint8. Two matrix
    products per image (one per axis), no per-pixel loop.
    """

    def __init__(self, size: int | Sequence[int], interpolation: InterpolationMode | str = InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = True) -> None:
        if isinstance(size, int):
            self.size: int | tuple[int, ...] = size
        elif len(size) in (1, 2):
            self.size = tuple(int(v) for v in size)
        else:
            raise ValueError(f"Resize: size should be an int or a sequence of 1 or 2 ints (got {size!r})")
        mode = InterpolationMode(interpolation) if isinstance(interpolation, str) else interpolation
        if mode not in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT, InterpolationMode.BILINEAR):
            raise ValueError(f"Resize: interpolation {mode.value!r} is not implemented in deepling "
                             "(use BILINEAR or NEAREST)")
        if max_size is not None and not (isinstance(self.size, int) or len(self.size) == 1):
            raise ValueError("Resize: max_size is only supported for a single int size (as torchvision)")
        self.interpolation, self.max_size, self.antialias = mode, max_size, antialias

    def _output_size(self, h: int, w: int) -> tuple[int, int]:
        if isinstance(self.size, tuple) and len(self.size) == 2:
            return self.size[0], self.size[1]
        s = self.size if isinstance(self.size, int) else self.size[0]
        short, long = (h, w) if h <= w else (w, h)
        new_short, new_long = s, int(s * long / short)
        if self.max_size is not None:
            if self.max_size <= s:
                raise ValueError(f"Resize: max_size = {self.max_size} must be strictly greater than the requested "
                                 f"size for the smaller edge size = {s}")
            if new_long > self.max_size:
                new_short, new_long = int(self.max_size * new_short / new_long), self.max_size
        return (new_short, new_long) if h <= w else (new_long, new_short)

    def __call__(self, x: Any) -> Any:
        a, back = _planes(x, "Resize")
        h, w = a.shape[-2:]
        oh, ow = self._output_size(h, w)
        aa = bool(self.antialias)
        wh = _resize_matrix(h, oh, self.interpolation, aa)
        ww = _resize_matrix(w, ow, self.interpolation, aa)
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(default_dtype)
        out = np.matmul(np.matmul(wh.astype(dtype), a.astype(dtype, copy=False)), ww.T.astype(dtype))
        if a.dtype == np.uint8:
            out = np.clip(np.round(out), 0, 255).astype(np.uint8)
        elif a.dtype.kind != "f":
            out = np.round(out).astype(a.dtype)
        return back(out)

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation={self.interpolation.value}, antialias={self.antialias})"
